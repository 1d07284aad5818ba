"""The lead/follow stream on the wire: OSC 1.0 messages over UDP, one message per datagram.

OSC is what lighting desks, TouchDesigner, Resolume and the rest of the field already speak,
so any OSC tool can listen to a leader (``oscdump 9100``) and the project needs no new
dependency: python-osc builds and parses the messages. Every message is self-contained
(absolute counters and times, never deltas), so a lost datagram loses nothing that the next
one does not carry again.

Messages (``session`` identifies one run of a leader, ``seq`` counts that leader's messages
of every kind, so a follower sees loss and a restarted leader):

``/ll/f`` one FeatureFrame, every analysis hop (~152 bytes)::

    i session, i seq, d t, i hop_index, f rms, f loudness_db,
    f bass, f mid, f treble, f bass_att, f mid_att, f treble_att,
    f onset, i onset_count, d last_onset_t,
    f bpm, f bpm_confidence, i tempo_source, i beat_count, d last_beat_t,
    f beat_phase, f bar_phase, i beats_per_bar, b chroma (12 bytes, 0..255), f centroid_hz

``/ll/g`` the leader's walk (one GenControl per generator step), so every tile of a wall
renders the same latent::

    i session, i seq, d t, s bank, i entry_a, i entry_b, d alpha, d pulse, i pulse_dir,
    i steps, i seed, d feedback      (doubles: every tile renders exactly the leader's latent)

``/ll/c`` the leader's controls, sent on every change and once a second::

    i session, i seq, d t, then pairs: s name, value (d | i | s), and for each trigger
    s "#name", i count (how many times it fired since the leader started)

``/ll/hello`` a unicast follower's subscription (``i port``), repeated every second; the
leader sends to a subscriber until it has been silent for ``SUBSCRIPTION_S``.

Times are the leader's **audio clock** (seconds since its stream started, from the sample
counter) as 64-bit doubles: a two-hour set still resolves a sample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Union

import numpy as np
from pythonosc.osc_message import OscMessage, ParseError
from pythonosc.osc_message_builder import OscMessageBuilder

from live.types import FeatureFrame, GenControl

FEATURES = "/ll/f"
WALK = "/ll/g"
CONTROLS = "/ll/c"
HELLO = "/ll/hello"
SUBSCRIPTION_S = 5.0
DEFAULT_PORT = 9100
DEFAULT_GROUP = "239.255.76.76"      # organisation-local multicast scope (RFC 2365)

TEMPO_SOURCES = ("none", "tracker", "tap", "manual", "link", "midi", "leader")
_SOURCE_CODE = {name: i for i, name in enumerate(TEMPO_SOURCES)}


class ProtocolError(ValueError):
    """A datagram is not a lead/follow message this version understands."""


@dataclass(frozen=True, slots=True)
class Header:
    session: int
    seq: int
    t: float


@dataclass(frozen=True, slots=True)
class Features:
    header: Header
    frame: FeatureFrame


@dataclass(frozen=True, slots=True)
class Walk:
    header: Header
    control: GenControl


@dataclass(frozen=True, slots=True)
class Controls:
    header: Header
    values: dict            # name -> value
    counts: dict            # trigger name -> times fired


@dataclass(frozen=True, slots=True)
class Hello:
    port: int


Message = Union[Features, Walk, Controls, Hello]


def _i32(x: int) -> int:
    """Counters wrap into OSC's signed 32 bits (a session id is random, a seq may run for days)."""
    x = int(x) & 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def _finite(x: float, default: float = 0.0) -> float:
    x = float(x)
    return x if math.isfinite(x) else default


def encode_features(frame: FeatureFrame, *, session: int, seq: int) -> bytes:
    b = OscMessageBuilder(address=FEATURES)
    f, i, d = "f", "i", "d"
    chroma = np.clip(np.nan_to_num(np.asarray(frame.chroma, dtype=np.float64)), 0.0, 1.0)
    if chroma.shape != (12,):
        chroma = np.zeros(12)
    for value, tag in (
        (_i32(session), i), (_i32(seq), i), (_finite(frame.t), d), (_i32(frame.hop_index), i),
        (_finite(frame.rms), f), (_finite(frame.loudness_db, -120.0), f),
        (_finite(frame.bass), f), (_finite(frame.mid), f), (_finite(frame.treble), f),
        (_finite(frame.bass_att, 1.0), f), (_finite(frame.mid_att, 1.0), f), (_finite(frame.treble_att, 1.0), f),
        (_finite(frame.onset), f), (_i32(frame.onset_count), i), (_finite(frame.last_onset_t, -1.0), d),
        (_finite(frame.bpm), f), (_finite(frame.bpm_confidence), f),
        (_SOURCE_CODE.get(frame.tempo_source, 0), i), (_i32(frame.beat_count), i),
        (_finite(frame.last_beat_t, -1.0), d), (_finite(frame.beat_phase), f), (_finite(frame.bar_phase), f),
        (int(frame.beats_per_bar), i), (bytes(np.round(chroma * 255.0).astype(np.uint8)), "b"),
        (_finite(frame.centroid_hz), f),
    ):
        b.add_arg(value, tag)
    return b.build().dgram


def encode_walk(ctl: GenControl, *, session: int, seq: int) -> bytes:
    b = OscMessageBuilder(address=WALK)
    for value, tag in ((_i32(session), "i"), (_i32(seq), "i"), (_finite(ctl.t), "d"), (str(ctl.bank), "s"),
                       (int(ctl.entry_a), "i"), (int(ctl.entry_b), "i"), (_finite(ctl.alpha), "d"),
                       (_finite(ctl.pulse), "d"), (int(ctl.pulse_dir), "i"), (int(ctl.steps), "i"),
                       (_i32(ctl.seed), "i"), (_finite(ctl.feedback), "d")):
        b.add_arg(value, tag)
    return b.build().dgram


def encode_controls(values: Mapping[str, Any], counts: Mapping[str, int], *, session: int, seq: int,
                    t: float) -> bytes:
    """``values``: name -> float/int/bool/str; ``counts``: trigger name -> times fired."""
    b = OscMessageBuilder(address=CONTROLS)
    b.add_arg(_i32(session), "i")
    b.add_arg(_i32(seq), "i")
    b.add_arg(_finite(t), "d")
    for name, v in values.items():
        b.add_arg(str(name), "s")
        if isinstance(v, bool):
            b.add_arg(int(v), "i")
        elif isinstance(v, int):
            b.add_arg(_i32(v), "i")
        elif isinstance(v, str):
            b.add_arg(v, "s")
        else:
            b.add_arg(_finite(v), "d")       # doubles: every node holds exactly the leader's value
    for name, n in counts.items():
        b.add_arg("#" + str(name), "s")
        b.add_arg(_i32(n), "i")
    return b.build().dgram


def encode_hello(port: int) -> bytes:
    b = OscMessageBuilder(address=HELLO)
    b.add_arg(int(port), "i")
    return b.build().dgram


def _header(args) -> Header:
    return Header(session=int(args[0]), seq=int(args[1]), t=float(args[2]))


def decode(dgram: bytes) -> Message:
    """One datagram -> a message; :class:`ProtocolError` for anything else (never another error)."""
    try:
        msg = OscMessage(dgram)
        address, args = msg.address, msg.params
    except (ParseError, IndexError, ValueError, TypeError) as exc:
        raise ProtocolError(f"not an OSC message: {exc}") from None
    try:
        if address == FEATURES:
            if len(args) != 25:
                raise ProtocolError(f"{FEATURES} with {len(args)} arguments (25 expected)")
            h = _header(args)
            chroma = np.frombuffer(bytes(args[23]), dtype=np.uint8)
            if chroma.size != 12:
                raise ProtocolError(f"{FEATURES}: chroma of {chroma.size} bytes (12 expected)")
            src = int(args[17])
            frame = FeatureFrame(
                t=h.t, hop_index=int(args[3]), rms=float(args[4]), loudness_db=float(args[5]),
                bass=float(args[6]), mid=float(args[7]), treble=float(args[8]),
                bass_att=float(args[9]), mid_att=float(args[10]), treble_att=float(args[11]),
                onset=float(args[12]), onset_count=int(args[13]), last_onset_t=float(args[14]),
                bpm=float(args[15]), bpm_confidence=float(args[16]),
                tempo_source=TEMPO_SOURCES[src] if 0 <= src < len(TEMPO_SOURCES) else "none",
                beat_count=int(args[18]), last_beat_t=float(args[19]), beat_phase=float(args[20]),
                bar_phase=float(args[21]), beats_per_bar=max(int(args[22]), 1),
                chroma=chroma.astype(np.float32) / 255.0, centroid_hz=float(args[24]))
            return Features(h, frame)
        if address == WALK:
            if len(args) != 12:
                raise ProtocolError(f"{WALK} with {len(args)} arguments (12 expected)")
            h = _header(args)
            return Walk(h, GenControl(bank=str(args[3]), entry_a=int(args[4]), entry_b=int(args[5]),
                                      alpha=float(args[6]), pulse=float(args[7]), pulse_dir=int(args[8]),
                                      steps=int(args[9]), seed=int(args[10]), feedback=float(args[11]), t=h.t))
        if address == CONTROLS:
            if len(args) < 3 or (len(args) - 3) % 2:
                raise ProtocolError(f"{CONTROLS} needs session, seq, t and name/value pairs")
            h = _header(args)
            values, counts = {}, {}
            for k in range(3, len(args), 2):
                name, v = args[k], args[k + 1]
                if not isinstance(name, str):
                    raise ProtocolError(f"{CONTROLS}: argument {k} should be a name, got {v!r}")
                if name.startswith("#"):
                    counts[name[1:]] = int(v)
                else:
                    values[name] = v
            return Controls(h, values, counts)
        if address == HELLO:
            port = int(args[0]) if args else 0
            if not 0 < port < 65536:
                raise ProtocolError(f"{HELLO} with port {port}")
            return Hello(port)
    except ProtocolError:
        raise
    except (IndexError, ValueError, TypeError) as exc:
        raise ProtocolError(f"{address}: malformed arguments ({exc})") from None
    raise ProtocolError(f"unknown address {address!r}")


def parse_address(text: str, *, default_port: int = DEFAULT_PORT, any_port: bool = False) -> tuple[str, int]:
    """``"host:port"``, ``"host"`` or ``":port"`` (the default group) -> (host, port); ValueError
    with a one-line message. ``any_port``: port 0 (any free one) is allowed."""
    s = (text or "").strip()
    host, sep, port = s.rpartition(":")
    if not sep:
        host, port = s, str(default_port)
    if not host:
        host = DEFAULT_GROUP
    if not port.isdigit() or not (0 if any_port else 1) <= int(port) < 65536:
        raise ValueError(f"network address {text!r} must be host:port (e.g. {DEFAULT_GROUP}:{DEFAULT_PORT} "
                         "or 192.168.1.20:9100)")
    return host, int(port)


def is_multicast(host: str) -> bool:
    try:
        first = int(host.split(".")[0])
    except ValueError:
        return False
    return 224 <= first <= 239 and host.count(".") == 3


def seq_after(a: int, b: int) -> int:
    """How many steps ``b`` is after ``a`` on the wrapping 32-bit counter (negative: before)."""
    d = (int(b) - int(a)) & 0xFFFFFFFF
    return d - (1 << 32) if d >= 1 << 31 else d

