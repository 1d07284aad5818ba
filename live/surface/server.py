"""The operator's control surface: a web page and an HTTP/WebSocket API (aiohttp).

One aiohttp server in one daemon thread with its own event loop. Handlers validate and
assign into the :class:`~live.control.state.ControlStore` (like the OSC dispatcher) and
return; the show's threads never wait for the web. The page (``static/``) is plain HTML,
CSS and JavaScript served from the package, built at load time from ``GET /api/params``
(the parameter table); it uses only the API below.

API (JSON bodies; errors are ``{"error": "..."}`` with status 400/401/403/404/409/413):

- ``GET  /api/params``            the parameter table, grouped
- ``GET  /api/state``             controls, presets, banks, tempo, meters, telemetry, MIDI
- ``POST /api/control``           ``{"name": "fade", "value": 0.5}`` (a trigger: value omitted or 1)
- ``POST /api/preset/save``       ``{"name": "chill"}``; ``/recall``, ``/delete`` likewise
- ``POST /api/tap``               tap tempo now
- ``POST /api/midi/learn``        ``{"control": "fx.hue"}`` arms MIDI learn (null disarms)
- ``POST /api/midi/unmap``        ``{"control": "fx.hue"}``
- ``GET  /api/banks``             banks with entry counts; ``GET /api/banks/B/thumb/E.jpg``
- ``GET  /api/preview.jpg``       the newest preview frame (204 before the first)
- ``GET  /api/ws``                WebSocket: ``meters`` messages at ``meter_hz``, ``state`` on
                                  every change; accepts ``{"type": "control", "name", "value"}``

Security: bound to 127.0.0.1 by default. A client from another address must present the
token (``?token=`` once, then a cookie; or ``Authorization: Bearer``); without it the request
is refused (401) and counted. A local request must name a local host (no DNS rebinding);
a POST or WebSocket whose ``Origin`` is another site is refused (403). Bodies over 16 KiB,
WebSocket messages over 4 KiB, malformed JSON and messages beyond ``max_messages_hz`` per
connection are dropped and counted; none of it reaches the show.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from aiohttp import web

from live.control.params import BY_NAME, GROUPS, ControlError, get_param

log = logging.getLogger("live.surface")

STATIC = Path(__file__).with_name("static")
MAX_BODY = 16 * 1024
MAX_WS_MSG = 4096
COOKIE = "ll_token"


@dataclass
class SurfaceStats:
    requests: int = 0        # HTTP requests and WebSocket connections
    refused: int = 0         # no or wrong token (remote clients)
    forbidden: int = 0       # cross-site Origin or a non-local Host from this machine
    malformed: int = 0       # bad JSON, wrong fields, too large
    rejected: int = 0        # valid JSON the controls refused (unknown name, wrong type)
    flood_dropped: int = 0   # messages over the per-connection rate
    controls_set: int = 0    # control changes applied
    ws_clients: int = 0      # connected now
    ws_sent: int = 0         # messages pushed to pages

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class SurfaceSources:
    """What the show lends the surface (all callables are cheap reads, called on the web thread).

    ``features()``: newest FeatureFrame; ``telemetry()``: dict of HUD figures;
    ``banks()``: ``[{"name", "count", "path"}]``; ``playing()``: ``{"bank", "entry_a",
    "entry_b", "alpha"}``; ``save_presets(presets) -> str``: persist them (returns "" or why
    not); ``preview``: a PreviewSink or None; ``midi``: a MidiController or None.
    """

    store: Any
    features: Callable[[], Any] = lambda: None
    telemetry: Callable[[], dict] = dict
    banks: Callable[[], list] = list
    playing: Callable[[], dict] = dict
    save_presets: Optional[Callable[[dict], str]] = None
    preview: Any = None
    midi: Any = None
    sheets: dict = field(default_factory=dict)   # bank index -> list of JPEG thumbnails (lazy)


def _is_loopback(addr: Optional[str]) -> bool:
    if not addr:
        return False
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


def _host_is_local(host_header: str) -> bool:
    host = urlsplit("//" + host_header).hostname or ""
    return host in ("localhost", "") or _is_loopback(host)


class _Bucket:
    """Token bucket: ``rate`` messages a second, bursts of ``rate / 4`` (at least 10)."""

    def __init__(self, rate: float):
        self.rate = float(rate)
        self.cap = max(10.0, self.rate / 4)
        self.level = self.cap
        self.t = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.level = min(self.cap, self.level + (now - self.t) * self.rate)
        self.t = now
        if self.level >= 1.0:
            self.level -= 1.0
            return True
        return False


def meters(f) -> dict:
    """The meter values of a FeatureFrame (what the page draws 20+ times a second)."""
    if f is None:
        return {}
    bpb = max(int(getattr(f, "beats_per_bar", 4) or 4), 1)
    return {"t": round(f.t, 4), "rms": round(f.rms, 4), "loudness_db": round(max(f.loudness_db, -120.0), 1),
            "bass": round(f.bass, 4), "mid": round(f.mid, 4), "treble": round(f.treble, 4),
            "bass_att": round(f.bass_att, 3), "mid_att": round(f.mid_att, 3),
            "treble_att": round(f.treble_att, 3), "onset": round(f.onset, 4), "onset_count": f.onset_count,
            "bpm": round(f.bpm, 2), "bpm_confidence": round(f.bpm_confidence, 3),
            "tempo_source": f.tempo_source, "beat_count": f.beat_count, "beat_phase": round(f.beat_phase, 3),
            "bar_phase": round(f.bar_phase, 3), "beats_per_bar": bpb,
            "beat_in_bar": int(f.bar_phase * bpb) % bpb}


def param_table() -> dict:
    """The parameter table as the page builds itself from it."""
    def one(p):
        return {"name": p.name, "type": p.type, "default": p.default, "lo": p.lo, "hi": p.hi,
                "doc": p.doc, "address": p.address, "preset": p.preset}
    return {"groups": [{"name": g, "params": [one(BY_NAME[n]) for n in names]} for g, names in GROUPS]}


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Surface:
    """The web server. ``Surface(sources, host=, port=, ...).start()``; ``url`` / ``token_url``."""

    def __init__(self, sources: SurfaceSources, *, host: str = "127.0.0.1", port: int = 8765,
                 token: str = "", meter_hz: float = 30.0, max_clients: int = 16,
                 max_messages_hz: float = 200.0):
        self.src = sources
        self.store = sources.store
        self.host = host
        self.want_port = int(port)
        self.port = 0
        self.token = token or secrets.token_urlsafe(16)
        self.meter_hz = float(meter_hz)
        self.max_clients = int(max_clients)
        self.max_messages_hz = float(max_messages_hz)
        self.stats = SurfaceStats()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._start_error: Optional[BaseException] = None
        self._runner = None
        self._sockets: set = set()
        self._buckets: dict[str, _Bucket] = {}
        self._state_version = -1
        self._state_cache: Optional[dict] = None
        self.presets_message = ""

    # ------------------------------------------------------------------ lifecycle
    @property
    def remote(self) -> bool:
        """True when clients of other machines can reach the server (the token is needed)."""
        return not (self.host in ("localhost",) or _is_loopback(self.host))

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def token_url(self) -> str:
        """The URL a phone opens (remote access): this machine's address and the token."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            try:
                host = socket.gethostbyname(socket.gethostname())
            except OSError:
                host = "THIS-MACHINE"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/?token={self.token}"

    def start(self, timeout_s: float = 10.0) -> "Surface":
        self._thread = threading.Thread(target=self._run, name="web", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("the web server did not start in time")
        if self._start_error is not None:
            err = self._start_error
            if isinstance(err, OSError):
                raise OSError(err.errno, f"web surface cannot listen on {self.host}:{self.want_port}: "
                              f"{err.strerror or err}; choose another port with --web-port") from None
            raise err
        return self

    def close(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None and self._thread.is_alive():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                fut.result(timeout=5)
            except Exception:  # noqa: BLE001 - shutting down
                pass
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._start_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._guard])
        r = app.router
        r.add_get("/", self._index)
        r.add_get("/static/{name}", self._static)
        r.add_get("/api/params", self._params)
        r.add_get("/api/state", self._state)
        r.add_post("/api/control", self._control)
        r.add_post("/api/preset/{action}", self._preset)
        r.add_post("/api/tap", self._tap)
        r.add_post("/api/midi/learn", self._learn)
        r.add_post("/api/midi/unmap", self._unmap)
        r.add_get("/api/banks", self._banks)
        r.add_get("/api/banks/{bank}/thumb/{entry}", self._thumb)
        r.add_get("/api/preview.jpg", self._preview)
        r.add_get("/api/ws", self._ws)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.want_port, reuse_address=True)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._pusher = asyncio.get_running_loop().create_task(self._push_loop())

    async def _shutdown(self) -> None:
        self._pusher.cancel()
        for ws in list(self._sockets):
            try:
                await ws.close()
            except Exception:  # noqa: BLE001
                pass
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ security
    def _token_ok(self, request) -> bool:
        given = (request.query.get("token") or request.cookies.get(COOKIE)
                 or request.headers.get("Authorization", "").removeprefix("Bearer ").strip())
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request, handler):
        self.stats.requests += 1
        local = _is_loopback(request.remote)
        if local:
            if not _host_is_local(request.host) and not self._host_is_ours(request.host):
                self.stats.forbidden += 1
                return web.json_response({"error": f"Host {request.host!r} is not this machine"}, status=403)
        elif not self._token_ok(request):
            self.stats.refused += 1
            return web.json_response({"error": "this show needs its token: open the URL printed at start "
                                      "(…/?token=…)"}, status=401)
        origin = request.headers.get("Origin")
        if origin and (request.method != "GET" or request.path == "/api/ws"):
            o = urlsplit(origin)
            if o.netloc != request.host:
                self.stats.forbidden += 1
                return web.json_response({"error": f"cross-site request from {origin} refused"}, status=403)
        if request.method == "POST" and not local:
            bucket = self._buckets.setdefault(request.remote or "?", _Bucket(self.max_messages_hz))
            if len(self._buckets) > 4096:
                self._buckets.clear()
            if not bucket.take():
                self.stats.flood_dropped += 1
                return web.json_response({"error": "too many requests"}, status=429)
        try:
            resp = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            self.stats.malformed += 1
            return web.json_response({"error": f"body over {MAX_BODY} bytes"}, status=413)
        if not local and request.query.get("token") and self._token_ok(request):
            resp.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return resp

    def _host_is_ours(self, host_header: str) -> bool:
        host = urlsplit("//" + host_header).hostname or ""
        return host == self.host

    # ------------------------------------------------------------------ helpers
    async def _body(self, request) -> dict:
        try:
            data = await request.json(loads=json.loads)
        except web.HTTPRequestEntityTooLarge:
            raise
        except (ValueError, UnicodeDecodeError):
            self.stats.malformed += 1
            raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be JSON"}),
                                     content_type="application/json")
        if not isinstance(data, dict):
            self.stats.malformed += 1
            raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                     content_type="application/json")
        return data

    @staticmethod
    def _error(status: int, text: str):
        return web.json_response({"error": text}, status=status)

    def apply_control(self, name: Any, value: Any = None) -> dict:
        """Validate and assign one control (from POST /api/control or a WebSocket message).
        Returns ``{"name", "value", "clamped"}``; ControlError when refused."""
        if not isinstance(name, str):
            raise ControlError("name must be a string")
        p = get_param(name)
        if isinstance(value, str) and p.type != "str":
            raise ControlError(f"{name} expects a number, got a string")
        if isinstance(value, (list, dict)):
            raise ControlError(f"{name} expects a single value")
        clamped = self.store.set(name, value)
        self.stats.controls_set += 1
        return {"name": name, "value": _json_value(self.store.state.values.get(name)), "clamped": bool(clamped)}

    def state(self) -> dict:
        """Everything the page shows (GET /api/state; pushed as ``state`` on change)."""
        s = self.store.state
        midi = self.src.midi
        return {
            "version": s.version,
            "controls": {k: _json_value(v) for k, v in s.values.items()},
            "counts": dict(s.counts),
            "preset": s.preset,
            "presets": self.store.all_presets(),
            "presets_message": self.presets_message,
            "tap_bpm": round(s.tap_bpm, 2),
            "banks": self._bank_list(),
            "playing": self.src.playing(),
            "midi": midi.status() if midi is not None else None,
            "preview": self.src.preview is not None,
            "remote": self.remote,
        }

    def _bank_list(self) -> list:
        return [{"index": i, "name": b.get("name", ""), "count": int(b.get("count", 0)),
                 "sheet": bool(b.get("path")) and (Path(b["path"]) / "contact_sheet.png").is_file()}
                for i, b in enumerate(self.src.banks())]

    # ------------------------------------------------------------------ pages
    async def _index(self, request):
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def _static(self, request):
        name = request.match_info["name"]
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    async def _params(self, request):
        return web.json_response(param_table())

    async def _state(self, request):
        out = self.state()
        out["meters"] = meters(self.src.features())
        out["telemetry"] = self._telemetry()
        return web.json_response(out)

    def _telemetry(self) -> dict:
        try:
            t = dict(self.src.telemetry())
        except Exception as exc:  # noqa: BLE001 - a telemetry bug must not break the page
            t = {"error": str(exc)}
        t["web"] = self.stats.as_dict()
        if self.src.preview is not None:
            st = self.src.preview.stats()
            t["preview"] = {"sent": st.sent, "dropped": st.dropped, "skipped": self.src.preview.skipped,
                            "encode_ms": round(self.src.preview.encode_ms, 2)}
        return t

    async def _control(self, request):
        body = await self._body(request)
        try:
            return web.json_response({"ok": True, **self.apply_control(body.get("name"), body.get("value"))})
        except ControlError as exc:
            self.stats.rejected += 1
            return self._error(400, str(exc))

    async def _tap(self, request):
        bpm = self.store.tap()
        return web.json_response({"ok": True, "tap_bpm": round(bpm, 2)})

    async def _preset(self, request):
        action = request.match_info["action"]
        body = await self._body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            self.stats.malformed += 1
            return self._error(400, "a preset needs a name (1-64 characters)")
        name = name.strip()
        try:
            if action == "save":
                self.store.save_preset(name)
            elif action == "recall":
                self.store.recall(name)
                return web.json_response({"ok": True, "preset": name})
            elif action == "delete":
                self.store.delete_preset(name)
            else:
                return self._error(404, f"unknown preset action {action!r}: save, recall or delete")
        except ControlError as exc:
            self.stats.rejected += 1
            return self._error(400, str(exc))
        persisted, message = False, "no show file: presets last until the show ends (run with --config SHOW.toml)"
        if self.src.save_presets is not None:
            loop = asyncio.get_running_loop()
            message = await loop.run_in_executor(None, self.src.save_presets, self.store.all_presets())
            persisted = not message
        self.presets_message = message
        self._state_version = -1          # push the new list
        return web.json_response({"ok": True, "preset": name, "presets": list(self.store.all_presets()),
                                  "persisted": persisted, "message": message})

    async def _learn(self, request):
        body = await self._body(request)
        midi = self.src.midi
        if midi is None:
            return self._error(409, "no MIDI controller: set [midi] input in the show file or run with --midi NAME")
        control = body.get("control")
        try:
            midi.learn(control if control is None else str(control))
        except ControlError as exc:
            self.stats.rejected += 1
            return self._error(400, str(exc))
        return web.json_response({"ok": True, "armed": midi.armed})

    async def _unmap(self, request):
        body = await self._body(request)
        midi = self.src.midi
        if midi is None:
            return self._error(409, "no MIDI controller")
        n = midi.unmap(str(body.get("control", "")))
        return web.json_response({"ok": True, "removed": n})

    async def _banks(self, request):
        return web.json_response({"banks": self._bank_list(), "playing": self.src.playing()})

    async def _thumb(self, request):
        try:
            b = int(request.match_info["bank"])
            e = int(request.match_info["entry"].removesuffix(".jpg"))
        except ValueError:
            raise web.HTTPNotFound()
        thumbs = self.src.sheets.get(b)
        if thumbs is None:
            banks = self.src.banks()
            if not 0 <= b < len(banks):
                raise web.HTTPNotFound()
            loop = asyncio.get_running_loop()
            thumbs = await loop.run_in_executor(None, contact_sheet_thumbs, banks[b].get("path"),
                                                int(banks[b].get("count", 0)))
            self.src.sheets[b] = thumbs
        if not 0 <= e < len(thumbs):
            raise web.HTTPNotFound()
        return web.Response(body=thumbs[e], content_type="image/jpeg",
                            headers={"Cache-Control": "max-age=3600"})

    async def _preview(self, request):
        pv = self.src.preview
        if pv is None:
            return self._error(404, "the preview is off ([web] preview_fps = 0)")
        pv.touch()
        got = pv.jpeg.get()
        if got is None:
            return web.Response(status=204, headers={"Cache-Control": "no-store"})
        n, t, data = got
        return web.Response(body=data, content_type="image/jpeg",
                            headers={"Cache-Control": "no-store", "X-Frame": str(n)})

    # ------------------------------------------------------------------ WebSocket
    async def _ws(self, request):
        from aiohttp import WSMsgType
        if len(self._sockets) >= self.max_clients:
            return self._error(503, f"{self.max_clients} pages are open already ([web] max_clients)")
        ws = web.WebSocketResponse(max_msg_size=MAX_WS_MSG, heartbeat=20.0)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.stats.ws_clients = len(self._sockets)
        bucket = _Bucket(self.max_messages_hz)
        try:
            await ws.send_str(json.dumps({"type": "state", **self.state()}))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.ERROR:
                        self.stats.malformed += 1
                        break
                    self.stats.malformed += 1
                    continue
                if not bucket.take():
                    self.stats.flood_dropped += 1
                    continue
                self._ws_message(ws, msg.data)
        finally:
            self._sockets.discard(ws)
            self.stats.ws_clients = len(self._sockets)
        return ws

    def _ws_message(self, ws, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            self.stats.malformed += 1
            return
        if not isinstance(data, dict) or data.get("type") != "control":
            self.stats.malformed += 1
            return
        try:
            self.apply_control(data.get("name"), data.get("value"))
        except ControlError as exc:
            self.stats.rejected += 1
            asyncio.ensure_future(self._send(ws, {"type": "error", "error": str(exc)}))

    async def _send(self, ws, obj: dict) -> None:
        try:
            await ws.send_str(json.dumps(obj))
            self.stats.ws_sent += 1
        except Exception:  # noqa: BLE001 - a page that went away
            pass

    async def _push_loop(self) -> None:
        """Meters (and telemetry once a second) to every page at ``meter_hz``; the state on change."""
        period = 1.0 / self.meter_hz
        last_tel = 0.0
        next_t = time.monotonic()
        while True:
            next_t += period
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
            if time.monotonic() - next_t > 1.0:
                next_t = time.monotonic()
            if not self._sockets:
                continue
            try:
                msgs = [json.dumps({"type": "meters", **meters(self.src.features())})]
                now = time.monotonic()
                if now - last_tel >= 1.0:
                    last_tel = now
                    msgs.append(json.dumps({"type": "telemetry", **self._telemetry()}))
                version = self.store.version
                midi = self.src.midi
                if midi is not None:
                    version = (version, midi.armed, id(midi.last_learn), midi.status()["connected"])
                if version != self._state_version:
                    self._state_version = version
                    msgs.append(json.dumps({"type": "state", **self.state()}))
            except Exception:  # noqa: BLE001 - never let the push loop die
                log.exception("web push failed")
                continue
            for ws in list(self._sockets):
                for m in msgs:
                    if ws.closed:
                        break
                    try:
                        await ws.send_str(m)
                        self.stats.ws_sent += 1
                    except Exception:  # noqa: BLE001
                        break


def contact_sheet_thumbs(path: Optional[str], count: int, quality: int = 80) -> list[bytes]:
    """JPEG thumbnails of each entry cut out of a bank's ``contact_sheet.png`` (the bank
    builder's grid: tiles of ``thumb`` px, 4 px apart, a 16 px label under each). The grid is
    found from the sheet's size and the entry count; [] when there is no sheet."""
    import io

    from PIL import Image

    if not path or count <= 0:
        return []
    sheet_path = Path(path) / "contact_sheet.png"
    if not sheet_path.is_file():
        return []
    img = Image.open(sheet_path).convert("RGB")
    pad, text_h = 4, 16
    for cols in range(1, count + 1):
        thumb = (img.width - pad) / cols - pad
        rows = math.ceil(count / cols)
        if thumb >= 4 and thumb.is_integer() and rows * (thumb + text_h + pad) + pad == img.height:
            break
    else:
        return []
    t = int(thumb)
    out = []
    for i in range(count):
        r, c = divmod(i, cols)
        x, y = pad + c * (t + pad), pad + r * (t + text_h + pad)
        buf = io.BytesIO()
        img.crop((x, y, x + t, y + t)).save(buf, format="JPEG", quality=quality)
        out.append(buf.getvalue())
    return out


__all__ = ["Surface", "SurfaceSources", "SurfaceStats", "param_table", "meters", "contact_sheet_thumbs"]
