"""Following a leader: its feature stream becomes this node's sound, on its clock.

:class:`FollowState` is the pure part (no sockets, no threads, every time passed in):

- **one clock for every node**: each node shows the leader's audio time
  ``T = local - offset - delay``. ``offset`` is the smallest ``arrival - t`` seen over the
  last few seconds (the queueing-free path, as NTP's minimum filter); ``delay`` is a fixed
  presentation delay (default 35 ms, three hops) that every node, the leader's own screen
  included, applies, so a beat-locked flash is scheduled for the same instant everywhere
  whatever the network jitter below ``delay``.
- **loss**: frames are kept by audio time; the frame shown at ``T`` is interpolated between
  the received frames around ``T`` (levels, chroma, centroid linearly; onsets and beats are
  taken from the later frame once their own time has passed, so an event in a lost hop is
  still shown at its time). Beyond the newest frame (a burst lost, or the leader gone)
  levels hold and decay towards rest, and beats continue on the last tempo grid (or on the
  Link grid, once the clock room offers one) with the counter running on.
- **late join**: every message is absolute (counters, beat time, bar phase), so the first
  frame received puts a follower on the leader's beat and bar; controls follow within one
  second (the leader repeats them every second).
- **leader gone**: nothing for ``lost_after_s``: :attr:`status` says so; the beat goes on
  from the grid; the worker switches to the node's own input if it has one.

:class:`FollowWorker` runs it: a receiver thread (UDP, multicast group or unicast with a
subscription) and a ticker that publishes the frame for *now* to a :class:`Latest`, with the
same ``features`` / ``clock_anchor`` / ``finished`` / ``error`` that the show reads from its
analysis thread, so the show draws from it unchanged.
"""
from __future__ import annotations

import logging
import math
import platform
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from live.net.protocol import (Controls, Features, Header, Hello, ProtocolError, Walk, decode, encode_hello,
                               is_multicast, parse_address, seq_after)
from live.types import SILENT_FRAME, FeatureFrame, GenControl, Latest

log = logging.getLogger("live.net")

DEFAULT_DELAY_S = 0.035
OFFSET_WINDOW_S = 4.0
LOST_AFTER_S = 1.0
HOLD_DECAY_S = 0.5            # levels relax towards rest this fast once the stream has stopped
# controls that stay each node's own: the HUD, and what only feeds the leader's analyzer
LOCAL_CONTROLS = frozenset({"hud", "bpm", "tap", "preset"})


@dataclass
class FollowStats:
    received: int = 0        # messages accepted
    lost: int = 0            # gaps in the sequence numbers
    late: int = 0            # frames that arrived after the instant they were for
    duplicates: int = 0      # repeated or out-of-order (older) messages dropped
    bad: int = 0             # datagrams that were not lead/follow messages
    sessions: int = 0        # leaders followed (a restarted leader is a new session)
    foreign: int = 0         # messages of another leader while ours was heard (dropped)
    predicted_beats: int = 0 # beats shown from the grid because their frame had not come

    @property
    def loss_pct(self) -> float:
        total = self.received + self.lost
        return 100.0 * self.lost / total if total else 0.0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["loss_pct"] = round(self.loss_pct, 2)
        return d


class _SlidingMin:
    """Minimum of (time, value) samples over the last ``window`` seconds (monotonic deque)."""

    def __init__(self, window: float):
        self.window = window
        self._q: deque = deque()

    def add(self, t: float, v: float) -> None:
        q = self._q
        while q and q[-1][1] >= v:
            q.pop()
        q.append((t, v))
        while q[0][0] < t - self.window and len(q) > 1:
            q.popleft()

    def value(self) -> Optional[float]:
        return self._q[0][1] if self._q else None

    def clear(self) -> None:
        self._q.clear()


def _lerp(a: float, b: float, w: float) -> float:
    return a + (b - a) * w


class FollowState:
    """The follower's picture of the leader (pure; see the module docstring).

    ``receive(message, local_s)`` takes a decoded message and the local monotonic time of its
    arrival; ``frame_at(local_s)`` is the FeatureFrame to show at ``local_s``.
    """

    def __init__(self, *, delay_s: float = DEFAULT_DELAY_S, lost_after_s: float = LOST_AFTER_S,
                 offset_window_s: float = OFFSET_WINDOW_S, keep: int = 256):
        if not 0.0 <= delay_s <= 1.0:
            raise ValueError(f"net delay must be 0..1000 ms, got {delay_s * 1e3:g} ms")
        self.delay_s = float(delay_s)
        self.lost_after_s = float(lost_after_s)
        self.stats = FollowStats()
        self._offset = _SlidingMin(offset_window_s)
        self._frames: deque = deque(maxlen=keep)      # FeatureFrame, increasing t
        self._walk: deque = deque(maxlen=64)          # GenControl, increasing t
        self.controls: Optional[Controls] = None      # the newest controls message
        self.session: Optional[int] = None
        self._seq: Optional[int] = None
        self._last_arrival: Optional[float] = None
        self._beat_out = 0                            # beat counter as shown (never goes back)
        self._beat_t_out = -1.0
        self._onset_out = 0

    # ------------------------------------------------------------------ input
    def receive(self, msg, local_s: float) -> bool:
        """Take one message; False when it was dropped (old, duplicate, not for us)."""
        if isinstance(msg, Hello):
            return False
        h = msg.header
        if h.session != self.session:
            if self.session is not None and self.connected(local_s):
                # another leader on the same address, or a stray datagram of an old one: the
                # leader we follow keeps us while it is heard; only a silent one is replaced
                self.stats.foreign += 1
                return False
            self._new_session(h.session)
        elif self._seq is not None:
            step = seq_after(self._seq, h.seq)
            if step <= 0:
                self.stats.duplicates += 1
                return False
            self.stats.lost += step - 1
        self._seq = h.seq
        self._last_arrival = local_s
        self.stats.received += 1
        if isinstance(msg, Features):
            f = msg.frame
            self._offset.add(local_s, local_s - f.t)
            if self._frames and f.t <= self._frames[-1].t:
                return True                            # same time again (cannot happen with seq order)
            self._frames.append(f)
            if f.t < self.leader_time(local_s):
                self.stats.late += 1
        elif isinstance(msg, Walk):
            if not self._walk or msg.control.t >= self._walk[-1].t:
                self._walk.append(msg.control)
        elif isinstance(msg, Controls):
            self.controls = msg
        return True

    def _new_session(self, session: int) -> None:
        self.session = session
        self.stats.sessions += 1
        self._seq = None
        self._offset.clear()
        self._frames.clear()
        self._walk.clear()
        self.controls = None
        self._beat_t_out = -1.0

    # ------------------------------------------------------------------ clock
    @property
    def offset_s(self) -> Optional[float]:
        """local - leader audio time, minimum over the window (None before the first frame)."""
        return self._offset.value()

    def leader_time(self, local_s: float) -> float:
        """The leader's audio time this node shows at ``local_s`` (0 before the first frame)."""
        off = self._offset.value()
        return 0.0 if off is None else local_s - off - self.delay_s

    def connected(self, local_s: float) -> bool:
        return self._last_arrival is not None and local_s - self._last_arrival <= self.lost_after_s

    def mode(self, local_s: float) -> str:
        """"waiting" (nothing heard yet), "following" or "lost"."""
        if self._last_arrival is None:
            return "waiting"
        return "following" if self.connected(local_s) else "lost"

    def status(self, local_s: float) -> str:
        """One line for the HUD and the log."""
        if self._last_arrival is None:
            return "waiting for the leader"
        if self.connected(local_s):
            return "following"
        return f"leader lost {local_s - self._last_arrival:.1f} s ago: beat from its last tempo"

    # ------------------------------------------------------------------ output
    def frame_at(self, local_s: float) -> FeatureFrame:
        """The features to show at ``local_s`` (module docstring: interpolation, hold, grid)."""
        if not self._frames:
            return SILENT_FRAME
        T = self.leader_time(local_s)
        frames = self._frames
        # newest frame at or before T (frames are few hundred at most; scan from the end)
        j = len(frames) - 1
        while j >= 0 and frames[j].t > T:
            j -= 1
        if j < 0:
            a, b = frames[0], None                     # T before everything we kept: show the oldest
            f = replace(a, t=T) if T > 0 else a
        elif j + 1 < len(frames):
            a, b = frames[j], frames[j + 1]
            f = self._between(a, b, T)
        else:
            a, b = frames[j], None
            f = self._beyond(a, T)
        return self._monotonic(f, T)

    def _between(self, a: FeatureFrame, b: FeatureFrame, T: float) -> FeatureFrame:
        w = (T - a.t) / (b.t - a.t) if b.t > a.t else 1.0
        w = min(max(w, 0.0), 1.0)
        ev = {}
        # events in (a, T] that the later frame knows of: show them at their own time
        if b.onset_count != a.onset_count and 0 <= b.last_onset_t <= T:
            ev.update(onset=b.onset, onset_count=b.onset_count, last_onset_t=b.last_onset_t)
        if b.beat_count != a.beat_count and 0 <= b.last_beat_t <= T:
            ev.update(beat_count=b.beat_count, last_beat_t=b.last_beat_t, bpm=b.bpm,
                      bpm_confidence=b.bpm_confidence, beats_per_bar=b.beats_per_bar)
        f = replace(
            a, t=T, rms=_lerp(a.rms, b.rms, w), loudness_db=_lerp(a.loudness_db, b.loudness_db, w),
            bass=_lerp(a.bass, b.bass, w), mid=_lerp(a.mid, b.mid, w), treble=_lerp(a.treble, b.treble, w),
            bass_att=_lerp(a.bass_att, b.bass_att, w), mid_att=_lerp(a.mid_att, b.mid_att, w),
            treble_att=_lerp(a.treble_att, b.treble_att, w), centroid_hz=_lerp(a.centroid_hz, b.centroid_hz, w),
            chroma=(a.chroma + (b.chroma - a.chroma) * np.float32(w)).astype(np.float32),
            hop_index=a.hop_index if w < 0.5 else b.hop_index, **ev)
        return self._phases(f, a, T)

    def _beyond(self, a: FeatureFrame, T: float) -> FeatureFrame:
        """Past the newest frame: hold the levels (relaxing once the stream is late) and run
        the beat on the grid."""
        gap = T - a.t
        k = math.exp(-max(gap - 0.1, 0.0) / HOLD_DECAY_S)   # a lost hop or two: plain hold
        f = replace(a, t=T, rms=a.rms * k, bass=a.bass * k, mid=a.mid * k, treble=a.treble * k,
                    bass_att=1.0 + (a.bass_att - 1.0) * k, mid_att=1.0 + (a.mid_att - 1.0) * k,
                    treble_att=1.0 + (a.treble_att - 1.0) * k, onset=a.onset * k)
        if a.bpm > 0 and a.last_beat_t >= 0:
            period = 60.0 / a.bpm
            k_beats = int(math.floor((T - a.last_beat_t) / period + 1e-9))
            if k_beats > 0:
                f = replace(f, beat_count=a.beat_count + k_beats, last_beat_t=a.last_beat_t + k_beats * period)
        return self._phases(f, a, T)

    @staticmethod
    def _bar_from(a: FeatureFrame, beats_on: int, phase: float) -> float:
        bpb = max(int(a.beats_per_bar), 1)
        in_bar = int(round(a.bar_phase * bpb - a.beat_phase)) % bpb
        return ((in_bar + beats_on) % bpb + phase) / bpb

    def _phases(self, f: FeatureFrame, a: FeatureFrame, T: float) -> FeatureFrame:
        """Beat and bar phase at ``T`` from the beat time and tempo (rather than the hop's)."""
        if f.bpm <= 0 or f.last_beat_t < 0:
            return f
        period = 60.0 / f.bpm
        phase = min(max((T - f.last_beat_t) / period, 0.0), 0.999999)
        return replace(f, beat_phase=phase, bar_phase=self._bar_from(a, f.beat_count - a.beat_count, phase))

    def _monotonic(self, f: FeatureFrame, T: float) -> FeatureFrame:
        """Counters never go back within a session: a beat shown from the grid stays shown when the
        leader's own frame for it comes a little later."""
        if f.beat_count > self._beat_out:
            if self._frames and f.beat_count > self._frames[-1].beat_count:
                self.stats.predicted_beats += f.beat_count - max(self._beat_out, self._frames[-1].beat_count)
            self._beat_out = f.beat_count
            self._beat_t_out = f.last_beat_t
        elif f.beat_count < self._beat_out:
            if self._beat_out - f.beat_count > 64 or self.stats.sessions > 1 and T < self._beat_t_out - 60.0:
                self._beat_out = f.beat_count            # a new leader counts from its own start
            else:
                f = replace(f, beat_count=self._beat_out,
                            last_beat_t=max(f.last_beat_t, self._beat_t_out) if f.last_beat_t >= 0 else self._beat_t_out)
        return f

    def walk_at(self, local_s: float) -> Optional[GenControl]:
        """The leader's newest walk step for the time shown at ``local_s`` (None before any)."""
        if not self._walk:
            return None
        T = self.leader_time(local_s)
        for c in reversed(self._walk):
            if c.t <= T:
                return c
        return self._walk[0]


# ----------------------------------------------------------------------------------------------
# sockets


# Kernel receive timestamps: the instant a datagram reached this host, whatever this process's
# threads were doing then (a loaded machine wakes the receiver late; the clock must not care).
# SO_TIMESTAMPNS is 35 on Linux (asm-generic, x86, arm, mips, powerpc); Python does not name it.
_SO_TIMESTAMPNS = 35 if sys.platform.startswith("linux") and platform.machine() not in ("sparc64", "parisc") else None


def enable_kernel_timestamps(sock: socket.socket) -> bool:
    if _SO_TIMESTAMPNS is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        return True
    except OSError:
        return False


def recv_stamped(sock: socket.socket, clock: Callable[[], float], stamped: bool) -> tuple[bytes, float]:
    """One datagram and its arrival time on ``clock`` (the kernel's stamp when there is one)."""
    if not stamped:
        data = sock.recv(65536)
        return data, clock()
    data, anc, _, _ = sock.recvmsg(65536, 64)
    now = clock()
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
            sec, nsec = struct.unpack("qq", payload[:16])
            arrived_wall = sec + nsec * 1e-9
            # wall -> this clock: both read now; the stamp is never later than now
            return data, min(now - (time.time() - arrived_wall), now)
    return data, now


def open_follow_socket(address: str, *, rcvbuf: int = 1 << 20) -> tuple[socket.socket, Optional[tuple]]:
    """A UDP socket for ``--follow ADDRESS``: a multicast group is joined on its port; any other
    address is the leader, and the socket is an ephemeral unicast port that subscribes to it.
    Returns (socket, leader address to send hellos to or None)."""
    host, port = parse_address(address)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if is_multicast(host):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind(("", port))
            mreq = struct.pack("4s4s", socket.inet_aton(host), socket.inet_aton("0.0.0.0"))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot join multicast group {host}:{port} ({exc}); is there a network "
                          "with a multicast route? follow the leader by its address instead (--follow HOST:PORT)") from None
        return sock, None
    try:
        leader = (socket.gethostbyname(host), port)
        sock.bind(("", 0))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot follow {address}: {exc}") from None
    return sock, leader


class FollowWorker:
    """The network follower as the show's feature source (module docstring).

    ``features``: :class:`Latest` the show draws from; ``clock_anchor``: (monotonic, leader
    time) for extrapolating between ticks; ``control_store``: mirror the leader's controls into
    it (optional); ``fallback``: an object with ``features`` (:class:`Latest`) and
    ``clock_anchor`` (the node's own analysis) used while the leader is gone.
    """

    def __init__(self, address: Optional[str], *, features: Optional[Latest] = None, delay_s: float = DEFAULT_DELAY_S,
                 lost_after_s: float = LOST_AFTER_S, control_store=None, fallback=None,
                 tick_s: float = 0.004, stop: Optional[threading.Event] = None,
                 clock: Callable[[], float] = time.monotonic, drop: Optional[Callable[[bytes], bool]] = None,
                 beat: Optional[Callable[[FeatureFrame], FeatureFrame]] = None):
        self.address = address
        self.features: Latest = features if features is not None else Latest(SILENT_FRAME)
        self.state = FollowState(delay_s=delay_s, lost_after_s=lost_after_s)
        self.control_store = control_store
        self.fallback = fallback
        self.tick_s = float(tick_s)
        self.stop_event = stop or threading.Event()
        self.clock = clock
        self.drop = drop                      # tests and benches: simulate loss before decoding
        # the node's own clock (live.clock: Link, MIDI clock) applied to every frame published,
        # on the tick thread; None = the stream's beat as it is
        self.beat = beat
        self.finished = threading.Event()     # never set by the network: a follower waits for its leader
        self.error: Optional[BaseException] = None
        self.clock_anchor: tuple[float, float] = (clock(), 0.0)
        self.using_fallback = False
        self._own_seen = None
        self.walk: Latest = Latest(None)
        self._lock = threading.Lock()
        self._counts_seen: Optional[dict] = None
        self._controls_seq: Optional[int] = None
        self._threads = [threading.Thread(target=self._tick, name="follow-tick", daemon=True)]
        self.sock = self.leader = None
        self._local_seq = 0
        if address is not None:
            self.sock, self.leader = open_follow_socket(address)
            self.sock.settimeout(0.2)
            self._stamped = clock is time.monotonic and enable_kernel_timestamps(self.sock)
            self._threads.append(threading.Thread(target=self._receive, name="follow-rx", daemon=True))

    def host_of(self, t: float) -> float:
        """The instant (Link's host clock, :func:`live.clock.tempo.host_now`) at which this node
        shows the leader's audio time ``t``: a Link beat read there lands on the screen with the
        room's Link beat."""
        from live.clock.tempo import host_now

        off = self.state.offset_s
        if off is None:
            return host_now()
        return host_now() - time.monotonic() + t + off + self.state.delay_s

    def _with_beat(self, frame: FeatureFrame) -> FeatureFrame:
        if self.beat is None:
            return frame
        try:
            return self.beat(frame)
        except Exception as exc:  # noqa: BLE001 - a failing clock leaves the stream's beat
            log.warning("follower clock: %s", exc)
            return frame

    def feed(self, frame: FeatureFrame) -> None:
        """The leader's own screen: its analysis frames go through the same clock and delay as
        its followers' (``address=None``; call from the analysis thread)."""
        self._local_seq += 1
        with self._lock:
            self.state.receive(Features(Header(0, self._local_seq, frame.t), frame), self.clock())

    @property
    def stats(self) -> FollowStats:
        return self.state.stats

    def status(self) -> str:
        """One line for the HUD and the log (lock-free: the GL thread calls it)."""
        s = self.state.status(self.clock())
        if self.beat is not None and s.endswith("beat from its last tempo"):
            s = s.replace("its last tempo", "this node's clock (Link / MIDI clock when live)")
        return s + ("; showing this node's own input" if self.using_fallback else "")

    def mode(self) -> str:
        """"waiting", "following", "lost" or "own input" (lock-free)."""
        if self.using_fallback:
            return "own input"
        return self.state.mode(self.clock())

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def is_alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def join(self, timeout: Optional[float] = None) -> None:
        for t in self._threads:
            t.join(timeout)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(1.0)
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass

    # -- threads ----------------------------------------------------------------------------
    def _receive(self) -> None:
        next_hello = 0.0
        try:
            while not self.stop_event.is_set():
                now = self.clock()
                if self.leader is not None and now >= next_hello:
                    try:
                        self.sock.sendto(encode_hello(self.sock.getsockname()[1]), self.leader)
                    except OSError as exc:       # the leader's host unreachable: keep trying
                        log.debug("hello to %s: %s", self.leader, exc)
                    next_hello = now + 1.0
                try:
                    data, arrived = recv_stamped(self.sock, self.clock, self._stamped)
                except socket.timeout:
                    continue
                except OSError:
                    if self.stop_event.is_set():
                        return
                    raise
                if self.drop is not None and self.drop(data):
                    continue
                try:
                    msg = decode(data)
                except ProtocolError:
                    self.state.stats.bad += 1
                    continue
                with self._lock:
                    self.state.receive(msg, arrived)
                    controls = self.state.controls
                if isinstance(msg, Controls) and controls is msg:
                    self._apply_controls(msg)
        except BaseException as exc:  # noqa: BLE001 - keep the show on screen; report
            self.error = exc
            log.exception("follower receive thread stopped")

    def _apply_controls(self, msg: Controls) -> None:
        """Mirror the leader's controls: values that differ are set (one publication), and each
        press the leader counted since the last message is replayed (a trigger fires, a value
        such as bank.select is set again). Presses from before this node joined are history."""
        store = self.control_store
        if store is None:
            return
        from live.control.params import TRIGGERS

        try:
            known = dict(store.state.values)
            changed = {k: v for k, v in msg.values.items()
                       if k not in LOCAL_CONTROLS and k in known and known[k] != v}
            if changed:
                store.update(changed)
            if self._counts_seen is None or self._controls_seq != msg.header.session:
                self._counts_seen = dict(msg.counts)
                self._controls_seq = msg.header.session
                return
            for name, n in msg.counts.items():
                if name in LOCAL_CONTROLS:
                    continue
                presses = min(max(n - self._counts_seen.get(name, 0), 0), 16)
                self._counts_seen[name] = max(n, self._counts_seen.get(name, 0))
                if name in TRIGGERS:
                    for _ in range(presses):
                        store.trigger(name)
                elif name in msg.values:
                    for _ in range(presses - (1 if name in changed else 0)):
                        store.set(name, msg.values[name])
        except Exception as exc:  # noqa: BLE001 - a control this node does not know must not stop it
            log.warning("leader's controls not applied: %s", exc)

    def _tick(self) -> None:
        try:
            while not self.stop_event.is_set():
                now = self.clock()
                with self._lock:
                    connected = self.state.connected(now)
                    frame = self.state.frame_at(now)
                    walk = self.state.walk_at(now)
                    waiting = self.state._last_arrival is None
                fb = self.fallback
                if fb is not None and not connected:
                    if not self.using_fallback:
                        self._own_seen = None            # show its newest frame at once
                        log.warning("leader %s %s: taking over with this node's own sound input", self.address,
                                    "not heard" if waiting else "lost")
                        self.using_fallback = True
                    own = fb.features.get()
                    if own is not None and own is not self._own_seen:
                        self._own_seen = own
                        self.clock_anchor = fb.clock_anchor
                        self.features.publish(self._with_beat(own))
                else:
                    if self.using_fallback:
                        log.warning("leader %s is back: following it again", self.address)
                        self.using_fallback = False
                    self.clock_anchor = (now, frame.t)
                    self.features.publish(self._with_beat(frame))
                    if walk is not None and walk is not self.walk.get():
                        self.walk.publish(walk)
                time.sleep(self.tick_s)
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
            log.exception("follower tick thread stopped")
