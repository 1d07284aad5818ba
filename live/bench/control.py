"""``latent-live bench control``: how fast a hand on a fader reaches the picture.

The show runs headless on a looping music file with the web surface and a MIDI controller (a
virtual port on a private JACK server, :mod:`live.testing.jackmidi`). Four phases, one run:

A. no page open: the display frame time (baseline);
B. a page open in another process, as the real page behaves: a WebSocket taking meters and
   state, the preview polled 4 times a second: frame time again, and the meter rate that page saw;
C. that page toggles ``blackout`` over its WebSocket (what a fader move sends): each toggle is
   timed from the send to the end of the first drawn frame whose pixels show it (a 16x16 patch
   read back from the output; black = every value <= 2);
D. the same through MIDI: CC 20 on the virtual port, mapped to ``blackout``.

The frame is "drawn" when the GL work of the frame is finished (glFinish); a window adds the
wait for its display refresh, which a headless run cannot measure.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Optional, Sequence

from live.bench.show import (BUDGET_MS, DEFAULT_TRACK, WARMUP_FRAMES, FrameLog, _config, _file_source, _load, _pct,
                             _start_show)

# the page, as its own process (a browser is one): meters + state over the WebSocket, the
# preview at 4 Hz; then `toggles` blackout toggles `interval` s apart. Prints one JSON line.
_PAGE = r'''
import asyncio, json, sys, time
import aiohttp
url, page_s, toggles, interval = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
async def main():
    out = {"meters": 0, "sent": [], "previews": 0}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url + "api/ws") as ws:
            t0 = time.monotonic()
            async def reader():
                async for m in ws:
                    if m.type == aiohttp.WSMsgType.TEXT and '"meters"' in m.data[:20] and t0 <= time.monotonic() < t0 + page_s:
                        out["meters"] += 1
            async def preview():
                while True:
                    async with http.get(url + "api/preview.jpg") as r:
                        await r.read()
                        out["previews"] += r.status == 200
                    await asyncio.sleep(0.25)
            tasks = [asyncio.ensure_future(reader()), asyncio.ensure_future(preview())]
            await asyncio.sleep(page_s)
            out["page_s"] = time.monotonic() - t0
            out["t_page"] = [t0, t0 + page_s]
            for i in range(toggles):
                v = (i + 1) % 2
                await asyncio.sleep(interval)
                out["sent"].append([time.monotonic(), v])
                await ws.send_str(json.dumps({"type": "control", "name": "blackout", "value": v}))
            await asyncio.sleep(interval)
            if toggles % 2:
                await ws.send_str(json.dumps({"type": "control", "name": "blackout", "value": 0}))
            for t in tasks:
                t.cancel()
    print(json.dumps(out), flush=True)
asyncio.run(main())
'''


class BlackWatch:
    """On the GL thread after each frame: is the picture black? (only while ``active``)."""

    def __init__(self, patch: int = 16):
        self.patch = patch
        self.active = False
        self.flips: list[tuple[float, bool]] = []      # (frame done, black)
        self.black: Optional[bool] = None

    def __call__(self, show, now: float, done: float) -> None:
        if not self.active:
            self.black = None
            return
        fbo = show.renderer.chain.output_fbo
        w, h = fbo.size
        p = self.patch
        data = fbo.read(viewport=(w // 2 - p // 2, h // 2 - p // 2, p, p), components=3, alignment=1)
        black = max(data) <= 2
        if black != self.black:
            self.flips.append((done, black))
            self.black = black


def _latencies(sent: Sequence[tuple[float, int]], flips: Sequence[tuple[float, bool]]) -> list[float]:
    """For each send (time, value): ms to the first later flip to that state, before the next send."""
    out = []
    for i, (t, v) in enumerate(sent):
        t_next = sent[i + 1][0] if i + 1 < len(sent) else float("inf")
        hit = next((f for f, black in flips if f >= t and black == bool(v) and f < t_next), None)
        if hit is not None:
            out.append((hit - t) * 1e3)
    return out


def bench_control(*, audio_path: str = "", seconds: float = 15.0, width: int = 1280, height: int = 720,
                  sets: Sequence[str] = (), toggles: int = 30, interval_s: float = 0.3) -> dict:
    from live.app import Show
    from live.testing.jackmidi import JackServer, unavailable_reason

    jack_reason = unavailable_reason()
    jack = JackServer().start() if not jack_reason else None
    try:
        extra = ["web.port=0", "web.preview_fps=4"]
        box = None
        if jack is not None:
            box = jack.virtual_output("benchctl")
            extra += ["midi.input=benchctl", "midi.api=jack", "midi.output=-",
                      'midi.map=[{control = "blackout", type = "cc", number = 20, channel = 1}]']
        cfg = _config(width, height, sets, extra=extra)
        src = _file_source(audio_path or str(DEFAULT_TRACK), cfg)
        warm_s = 4.0
        total = warm_s + 2 * seconds + 2 * (toggles + 2) * interval_s + 15.0
        watch = BlackWatch()
        flog = FrameLog(int(total * cfg.render.fps * 1.5) + 200, then=watch)
        show = Show(cfg, source=src, duration_s=total, on_frame=flog)
        load0 = _load()
        _start_show(show)
        result: dict = {}
        marks: dict = {}

        def drive() -> None:
            try:
                time.sleep(warm_s)
                marks["a"] = (time.monotonic(), time.monotonic() + seconds)
                time.sleep(seconds)
                page = subprocess.run([sys.executable, "-c", _PAGE, show.surface.url, str(seconds), str(toggles),
                                       str(interval_s)], capture_output=True, text=True,
                                      timeout=seconds + toggles * interval_s + 60,
                                      env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
                if page.returncode != 0:
                    result["page_error"] = page.stderr.strip()[-500:]
                    return
                got = json.loads(page.stdout.strip().splitlines()[-1])
                marks["b"] = tuple(got["t_page"])
                result["meter_hz"] = round(got["meters"] / got["page_s"], 1)
                result["previews_seen"] = got["previews"]
                result["web_sent"] = [tuple(x) for x in got["sent"]]
                if box is not None and show.midi is not None and show.midi.status()["connected"]:
                    import mido
                    time.sleep(0.5)
                    sent = []
                    for i in range(toggles):
                        v = (i + 1) % 2
                        time.sleep(interval_s)
                        sent.append((time.monotonic(), v))
                        box.send(mido.Message("control_change", channel=0, control=20, value=127 * v))
                    time.sleep(interval_s)
                    box.send(mido.Message("control_change", channel=0, control=20, value=0))
                    result["midi_sent"] = sent
            finally:
                show.stop_event.set()

        # watch the pixels from the page's toggles on (after phase B)
        def arm() -> None:
            while "b" not in marks and not show.stop_event.is_set():
                if "a" in marks and time.monotonic() > marks["a"][1] + seconds + 0.5:
                    break
                time.sleep(0.05)
            watch.active = True

        threading.Thread(target=drive, name="bench-control", daemon=True).start()
        threading.Thread(target=arm, name="bench-arm", daemon=True).start()
        gl = show.renderer.ctx.info.get("GL_RENDERER", "?")
        res = show.run()
    finally:
        if jack is not None:
            jack.stop()
    if "page_error" in result:
        from live.errors import UserError
        raise UserError(f"the page client failed: {result['page_error']}")

    def frames(key):
        t0, t1 = marks.get(key, (0.0, 0.0))
        return flog.window(t0, t1)

    a, b = frames("a"), frames("b")
    web = _latencies(result.get("web_sent", []), watch.flips)
    midi = _latencies(result.get("midi_sent", []), watch.flips)
    fps = cfg.render.fps
    out = {
        "bench": "control", "size": f"{width}x{height}", "renderer": gl, "target_fps": fps,
        "web_to_frame_ms_p50": _pct(web, 50), "web_to_frame_ms_p90": _pct(web, 90),
        "web_toggles_seen": f"{len(web)}/{len(result.get('web_sent', []))}",
        "midi_to_frame_ms_p50": _pct(midi, 50) if midi else None,
        "midi_to_frame_ms_p90": _pct(midi, 90) if midi else None,
        "midi_toggles_seen": f"{len(midi)}/{len(result.get('midi_sent', []))}" if box is not None
        else f"no MIDI: {jack_reason}",
        "goal_ms": round(1e3 / fps + 20.0, 1),
        "meter_hz": result.get("meter_hz", 0.0), "previews_seen": result.get("previews_seen", 0),
        "frame_ms_p50_no_page": _pct(a, 50), "frame_ms_p99_no_page": _pct(a, 99),
        "frame_ms_p50_page": _pct(b, 50), "frame_ms_p99_page": _pct(b, 99),
        "frames_no_page": int(a.size), "frames_page": int(b.size), "budget_ms": BUDGET_MS,
        "late_frames": res.late_frames, "fallbacks": res.fallbacks,
        "web": show.surface.stats.as_dict() if show.surface is not None else {},
        "load_1min_start": load0, "load_1min_end": _load(), "warmup_frames": WARMUP_FRAMES,
    }
    return out


def run_control(args) -> int:
    from live.bench.show import _parse_size

    w, h = _parse_size(args.size)
    r = bench_control(audio_path=args.audio, seconds=args.seconds, width=w, height=h, sets=args.set,
                      toggles=args.toggles)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"control latency at {r['size']} ({r['renderer']}), target {r['target_fps']:g} fps, "
          f"goal < {r['goal_ms']} ms:")
    print(f"  web fader -> frame   p50 {r['web_to_frame_ms_p50']} ms  p90 {r['web_to_frame_ms_p90']} ms "
          f"({r['web_toggles_seen']} toggles seen)")
    if r["midi_to_frame_ms_p50"] is not None:
        print(f"  MIDI CC -> frame     p50 {r['midi_to_frame_ms_p50']} ms  p90 {r['midi_to_frame_ms_p90']} ms "
              f"({r['midi_toggles_seen']})")
    else:
        print(f"  MIDI: {r['midi_toggles_seen']}")
    print(f"  meters seen by the page: {r['meter_hz']} Hz; previews fetched: {r['previews_seen']}")
    print(f"  frame time without page p50 {r['frame_ms_p50_no_page']} / p99 {r['frame_ms_p99_no_page']} ms; "
          f"with page + preview p50 {r['frame_ms_p50_page']} / p99 {r['frame_ms_p99_page']} ms")
    print(f"  load {r['load_1min_start']} -> {r['load_1min_end']}")
    return 0


def register_bench(sub) -> None:
    p = sub.add_parser("control", help="web fader / MIDI CC -> drawn frame latency, meter rate, page cost",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=15.0, help="length of the no-page and page phases (default 15)")
    p.add_argument("--toggles", type=int, default=30, help="blackout toggles per path (default 30)")
    p.add_argument("--audio", default="", metavar="FILE", help=f"music file (default {DEFAULT_TRACK.name})")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], help="override a show setting")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_control)
