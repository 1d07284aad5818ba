"""OSC in and out (python-osc).

In: :func:`build_dispatcher` maps every address of the parameter table to a handler that
only validates and assigns into a :class:`ControlStore` (it knows no sockets).
:class:`OscServer` runs python-osc's ``BlockingOSCUDPServer`` in ONE daemon thread (no
thread per packet), with a large socket receive buffer, an allow list of sender
addresses, and counters instead of exceptions: a malformed packet or bundle element, an
unknown address or a wrong type is counted (unknown addresses and rejected values are logged
once each, and all logging caused by the network is rate-limited) and the thread goes on.
Packets are decoded and address patterns matched by :mod:`live.control.oscwire`, in time
bounded by the datagram's size (python-osc's regular-expression matcher backtracks for
seconds on a pattern like ``/live/*****************!``).

Out: :class:`OscOut` sends the pulse of the show to lighting desks and other visuals:
``/live/beat i`` on every beat (beat count), ``/live/onset f`` on every onset (strength),
``/live/bpm f`` when the tempo changes, ``/live/bands fff`` (bass, mid, treble, raw 0..1)
at most ``bands_hz`` times a second, and ``/live/status`` with telemetry values.
"""
from __future__ import annotations

import logging
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from pythonosc import osc_server
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder

from live.control.oscwire import RateLimitedLog, is_pattern, match_addresses, parse_packet
from live.control.params import PARAMS, ControlError, Param
from live.control.state import ControlStore
from live.types import FeatureFrame

log = logging.getLogger("live.osc")

MAX_LOGGED = 256          # distinct unknown addresses / bad values remembered for "log once"


@dataclass
class OscStats:
    """Counters of the OSC input (written by the OSC thread only; read anywhere)."""

    packets: int = 0       # datagrams received (including dropped and malformed)
    messages: int = 0      # OSC messages handled (inside packets and bundles)
    applied: int = 0       # messages that changed the control state
    rejected: int = 0      # wrong type / wrong argument count / unknown preset
    clamped: int = 0       # accepted but clamped into range
    unknown: int = 0       # messages to addresses not in the parameter table
    dropped: int = 0       # packets from senders not on the allow list
    malformed: int = 0     # packets that are not OSC
    bad_elements: int = 0  # malformed elements inside bundles (empty, truncated, undecodable)
    errors: int = 0        # unexpected handler errors (bug guard; never stops the thread)
    slowest_ms: float = 0.0  # the longest time one datagram kept the OSC thread busy

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _LogOnce() -> RateLimitedLog:
    """Each key logged once, and every line from the network rate-limited."""
    return RateLimitedLog(log, max_keys=MAX_LOGGED)


class _TableDispatcher(Dispatcher):
    """A Dispatcher whose address patterns are matched by the bounded matcher of
    :mod:`live.control.oscwire` against the mapped addresses (never by a regular expression)."""

    def handlers_for_address(self, address_pattern: str):
        if is_pattern(address_pattern):
            addrs = match_addresses(address_pattern, list(self._map))
        else:
            addrs = [address_pattern] if address_pattern in self._map else []
        for a in addrs:
            yield from self._map[a]
        if not addrs and self._default_handler:
            yield self._default_handler


def _make_handler(store: ControlStore, param: Param, stats: OscStats, log_once: _LogOnce):
    name = param.name

    def handler(address: str, *args: Any) -> None:
        if param.type == "trigger":
            if len(args) > 1:
                stats.rejected += 1
                log_once(f"{address}#args", "OSC %s: expected no argument or one number, got %d; ignored",
                         address, len(args))
                return
            value = args[0] if args else None
        else:
            if len(args) != 1:
                stats.rejected += 1
                log_once(f"{address}#args", "OSC %s: expected one %s argument, got %d; ignored",
                         address, param.osc_tag, len(args))
                return
            value = args[0]
        if isinstance(value, float) and math.isfinite(value):
            value = float(f"{value:.7g}")   # OSC 'f' is float32: 0.9 arrives as 0.89999998
        try:
            clamped = store.set(name, value)
        except ControlError as exc:
            stats.rejected += 1
            log_once(f"{address}#{type(value).__name__}", "OSC %s: %s; ignored", address, exc)
            return
        stats.applied += 1
        if clamped:
            stats.clamped += 1

    return handler


def build_dispatcher(store: ControlStore, *, stats: Optional[OscStats] = None) -> Dispatcher:
    """A python-osc Dispatcher with one handler per parameter, plus a default handler that
    counts (and logs once) unknown addresses. Timed bundles are handled at once
    (``strict_timing=False``), never slept on."""
    stats = stats if stats is not None else OscStats()
    log_once = _LogOnce()
    disp = _TableDispatcher(strict_timing=False)
    for p in PARAMS:
        disp.map(p.address, _make_handler(store, p, stats, log_once))

    def unknown(address: str, *args: Any) -> None:
        stats.unknown += 1
        log_once(address, "OSC: unknown address %s (see 'latent-live run --list-params'); ignored", address)

    disp.set_default_handler(unknown)
    disp.stats = stats          # type: ignore[attr-defined]
    disp.log_once = log_once    # type: ignore[attr-defined]
    return disp


class _Server(osc_server.BlockingOSCUDPServer):
    """BlockingOSCUDPServer that counts instead of crashing, with an allow list."""

    max_packet_size = 65507

    def __init__(self, address, dispatcher: Dispatcher, *, allow: frozenset, stats: OscStats,
                 recv_buffer_bytes: int):
        self._allow = allow
        self._stats = stats
        self._recv_buffer_bytes = recv_buffer_bytes
        self._exact = {p.address: next(iter(dispatcher.handlers_for_address(p.address))) for p in PARAMS}
        self._log_once = dispatcher.log_once  # type: ignore[attr-defined]
        super().__init__(address, dispatcher)

    def server_bind(self) -> None:
        if self._recv_buffer_bytes:
            try:
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._recv_buffer_bytes)
            except OSError:  # pragma: no cover - platform refuses; keep the default
                pass
        super().server_bind()

    def verify_request(self, request, client_address) -> bool:
        self._t0 = time.perf_counter()
        self._stats.packets += 1
        if self._allow and client_address[0] not in self._allow:
            self._stats.dropped += 1
            self._log_once(f"drop:{client_address[0]}",
                           "OSC: packets from %s dropped (not in --osc-allow)", client_address[0])
            return False
        return True

    def finish_request(self, request, client_address) -> None:
        try:
            self._handle(request[0], client_address)
        finally:
            ms = 1e3 * (time.perf_counter() - getattr(self, "_t0", time.perf_counter()))
            if ms > self._stats.slowest_ms:
                self._stats.slowest_ms = ms

    def _handle(self, data: bytes, client_address) -> None:
        try:
            messages, bad, ok = parse_packet(data)
        except Exception:  # noqa: BLE001 - a decoder bug must not stop the input
            messages, bad, ok = [], 0, False
        if bad:
            self._stats.bad_elements += bad
            self._log_once(None, "OSC: %d malformed bundle elements from %s ignored (counted)", bad,
                           client_address[0])
        if not ok or (bad and not messages):
            self._stats.malformed += 1
            return
        disp = self.dispatcher
        for msg in messages:
            self._stats.messages += 1
            addr = msg.address
            handler = self._exact.get(addr)
            try:
                if handler is not None:
                    handler.invoke(client_address, msg)
                else:   # unknown (default handler) or an OSC address pattern such as /live/fx/*
                    for h in disp.handlers_for_address(addr):
                        h.invoke(client_address, msg)
            except Exception:   # a bug in a handler must not stop the show
                self._stats.errors += 1
                self._log_once(None, "OSC handler for %s failed", addr, level=logging.ERROR, exc_info=True)

    def handle_error(self, request, client_address) -> None:  # pragma: no cover - guard
        self._stats.errors += 1
        self._log_once(None, "OSC: error handling a packet from %s", client_address, level=logging.ERROR,
                       exc_info=True)


def _resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        raise ControlError(f"OSC: cannot resolve host {host!r}") from None


class OscServer:
    """OSC input: one daemon thread receiving UDP into a :class:`ControlStore`.

    ``host`` "127.0.0.1" listens on this machine only; "0.0.0.0" listens on the network,
    and then ``allow`` (host names or IPs) lists the senders whose packets are handled
    (others are dropped and counted; empty = everyone). ``port=0`` picks a free port
    (see ``.port``). Raises :class:`ControlError` with a one-line message when the port
    cannot be opened. ``stats`` holds the counters; ``close()`` stops the thread.
    """

    def __init__(self, store: ControlStore, *, host: str = "127.0.0.1", port: int = 9000,
                 allow: Iterable[str] = (), recv_buffer_bytes: int = 4 << 20, start: bool = True):
        self.store = store
        self.stats = OscStats()
        self.dispatcher = build_dispatcher(store, stats=self.stats)
        allowed = frozenset(_resolve(a.strip()) for a in allow if a.strip())
        if host not in ("127.0.0.1", "localhost", "::1") and not allowed:
            log.warning("OSC listening on %s without --osc-allow: any sender on the network can steer the show",
                        host)
        try:
            self._server = _Server((host, int(port)), self.dispatcher, allow=allowed, stats=self.stats,
                                   recv_buffer_bytes=recv_buffer_bytes)
        except OSError as exc:
            raise ControlError(f"cannot listen for OSC on {host}:{port}: {exc.strerror or exc}; "
                               f"pick another port with --osc-port") from None
        self.host = host
        self.port = int(self._server.server_address[1])
        self.allow = allowed
        self.recv_buffer_bytes = self._server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self._thread: Optional[threading.Thread] = None
        if start:
            self.start()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._serve, name="osc-in", daemon=True)
        self._thread.start()
        log.info("OSC listening on %s:%d", self.host, self.port)

    def _serve(self) -> None:
        while True:
            try:
                self._server.serve_forever(poll_interval=0.2)
                return
            except Exception:  # pragma: no cover - guard: keep listening
                self.stats.errors += 1
                log.exception("OSC server loop error; continuing")

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=2.0)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "OscServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def parse_target(text: str) -> tuple[str, int]:
    """"host:port" -> (ip, port); ControlError with a one-line message otherwise."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not (0 < int(port) < 65536):
        raise ControlError(f"OSC target {text!r} must be host:port, e.g. 192.168.1.20:7000")
    return _resolve(host), int(port)


def _msg(address: str, *args: Any) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        if isinstance(a, str):
            b.add_arg(a, "s")
        elif isinstance(a, int) and not isinstance(a, bool):
            b.add_arg(a, "i")
        else:
            b.add_arg(float(a), "f")
    return b.build().dgram


class OscOut:
    """OSC output to one or more ``"host:port"`` targets over one non-blocking UDP socket.

    Call :meth:`send_features` with the newest FeatureFrame as often as you like (e.g. every
    display frame): beats and onsets are found by comparing counters with the last call, so
    none is lost when frames are skipped (at most ``max_burst`` beats are caught up at once).
    Network errors are counted in ``errors``, never raised.
    """

    def __init__(self, targets: Sequence[str], *, bands_hz: float = 30.0, max_burst: int = 8):
        self.targets = [parse_target(t) for t in targets]
        self.bands_interval_s = 1.0 / bands_hz if bands_hz > 0 else 0.0
        self.max_burst = max_burst
        self.sent = 0
        self.errors = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._beat: Optional[int] = None
        self._onset: Optional[int] = None
        self._bpm = -1.0
        self._source = ""
        self._bands_t = -1e9

    def _send(self, dgram: bytes) -> None:
        for target in self.targets:
            try:
                self._sock.sendto(dgram, target)
                self.sent += 1
            except OSError:
                self.errors += 1

    def send_features(self, frame: FeatureFrame) -> None:
        """Send what is new in ``frame`` since the last call: ``/live/beat i`` once per beat
        counted, ``/live/onset f`` on a new onset, ``/live/bpm f`` when the tempo moved by
        0.05 or more, ``/live/tempo_source s`` when another tempo source takes over, ``/live/bands fff`` when ``1/bands_hz`` of audio time has passed."""
        if not self.targets:
            return
        if self._beat is None or frame.beat_count < self._beat:   # first call, or the analyzer restarted
            self._beat = frame.beat_count
        first = max(self._beat + 1, frame.beat_count - self.max_burst + 1)
        for n in range(first, frame.beat_count + 1):
            self._send(_msg("/live/beat", int(n)))
        self._beat = frame.beat_count
        if self._onset is None or frame.onset_count < self._onset:
            self._onset = frame.onset_count
        if frame.onset_count > self._onset:
            self._send(_msg("/live/onset", max(float(frame.onset), 0.0)))
            self._onset = frame.onset_count
        if abs(frame.bpm - self._bpm) >= 0.05:
            self._send(_msg("/live/bpm", float(frame.bpm)))
            self._bpm = frame.bpm
        if frame.tempo_source != self._source:      # who sets the tempo: tracker, tap, link, midi ...
            self._send(_msg("/live/tempo_source", str(frame.tempo_source)))
            self._source = frame.tempo_source
        if frame.t - self._bands_t >= self.bands_interval_s - 1e-6 or frame.t < self._bands_t:
            self._send(_msg("/live/bands", float(frame.bass), float(frame.mid), float(frame.treble)))
            self._bands_t = frame.t

    def send_status(self, values: Mapping[str, float]) -> None:
        """``/live/status`` with alternating name, value arguments (s f s f ...),
        e.g. ``{"fps": 60.0, "frame_p99_ms": 21.3, "dropped": 0, "overflows": 0}``."""
        if not self.targets:
            return
        args: list[Any] = []
        for k, v in values.items():
            args += [str(k), float(v)]
        self._send(_msg("/live/status", *args))

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "OscOut":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
