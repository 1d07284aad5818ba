"""MIDI controllers in and out (mido + python-rtmidi), with learn and LED feedback.

Any control of the parameter table can be played from a MIDI controller:

- ``cc``: a 7-bit control change (a fader or knob), 0..127 over the mapping's range;
- ``cc14``: a 14-bit pair (MSB on controller N < 32, LSB on N + 32), 0..16383;
- ``bend``: the pitch-bend wheel, 14 bits;
- ``note``: a pad or key as a button: ``toggle`` (press flips it), ``momentary`` (on while
  held) or, for a trigger (``bank.next``, ``tap``...), fires on press. A note on a ``str``
  control sets the mapping's ``value`` (a pad that recalls preset "chill").

The range of a mapping is settable (``range = [lo, hi]``, reversed for an upside-down
fader); buttons on numeric controls switch between the two ends. Channels are written 1..16
as printed on controllers; 0 means any channel.

In the show file::

    [midi]
    input = "APC"            # index or a part of the name ("" = no controller)
    output = ""              # feedback port; "" = the output named like the input
    api = "auto"             # auto | alsa | jack
    beat_note = 82           # a pad that blinks on the beat (-1 = none)
    [[midi.map]]
    control = "fade"
    type = "cc"
    number = 7
    channel = 1
    range = [0.0, 1.0]

**Learn**: :meth:`MidiController.learn` arms a control; the next fader move or pad press
makes the mapping (a 14-bit pair is recognised when both halves arrive within 60 ms), and a
mapping that takes over a message another control used is reported as a conflict.

**Feedback**: note mappings on bool controls light the pad while the control is on (set
from anywhere: MIDI, OSC, the web page, a preset); ``beat_note`` lights a pad on every
beat (``downbeat_velocity`` on the bar line) for ``blink_s``: the controller is a second
beat light.

One daemon thread owns the ports: it takes messages queued by the MIDI backend, maps them
and assigns into the :class:`ControlStore` (validate and assign only, like the OSC
dispatcher), sends feedback, and once a second looks for a device that is missing or was
unplugged; a missing device is a message in :meth:`status`, never a stopped show.
"""
from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from live.control.params import BY_NAME, ControlError, Param, get_param
from live.control.state import ControlStore

log = logging.getLogger("live.midi")

KINDS = ("cc", "cc14", "note", "bend")
MODES = ("toggle", "momentary")
LEARN_PAIR_S = 0.06          # a 14-bit pair's LSB follows its MSB within this time
RESCAN_S = 1.0               # how often a missing or unplugged device is looked for
POLL_S = 0.002               # input poll period while a port is open (adds <= 2 ms, ~1 ms mean)


class MidiError(ValueError):
    """A MIDI mapping or setting is wrong (one-line message naming it)."""


# ------------------------------------------------------------------ mappings
@dataclass(frozen=True, slots=True)
class MidiMapping:
    """One control played by one MIDI message kind.

    ``channel``: 1..16, 0 = any. ``number``: controller (cc; 0..31 for cc14) or note;
    unused for bend. ``lo``/``hi``: the range (None = the control's own range).
    ``mode``: for notes, "toggle" or "momentary" (triggers fire on press either way).
    ``value``: what a note sets on a ``str`` control.
    """

    control: str
    kind: str
    number: int = 0
    channel: int = 0
    lo: Optional[float] = None
    hi: Optional[float] = None
    mode: str = "toggle"
    value: str = ""

    @property
    def param(self) -> Param:
        return BY_NAME[self.control]

    @property
    def span(self) -> tuple[float, float]:
        p = self.param
        if p.type in ("float", "int"):
            lo = p.lo if self.lo is None else self.lo
            hi = p.hi if self.hi is None else self.hi
            return float(lo), float(hi)
        return 0.0, 1.0

    def keys(self) -> tuple[tuple[str, int, int], ...]:
        """The (kind, channel, number) message keys this mapping listens to."""
        if self.kind == "cc14":
            return (("cc", self.channel, self.number), ("cc", self.channel, self.number + 32))
        if self.kind == "bend":
            return (("bend", self.channel, 0),)
        return ((self.kind, self.channel, self.number),)

    def describe(self) -> str:
        ch = f"ch{self.channel}" if self.channel else "any channel"
        what = {"cc": f"CC {self.number}", "cc14": f"CC {self.number}/{self.number + 32} (14-bit)",
                "note": f"note {self.number} ({self.mode})", "bend": "pitch bend"}[self.kind]
        return f"{what} {ch} -> {self.control}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"control": self.control, "type": self.kind}
        if self.kind != "bend":
            d["number"] = self.number
        d["channel"] = self.channel
        if self.lo is not None or self.hi is not None:
            lo, hi = self.span
            d["range"] = [lo, hi]
        if self.kind == "note":
            d["mode"] = self.mode
        if self.value:
            d["value"] = self.value
        return d


def parse_mapping(entry: Mapping[str, Any], where: str = "[[midi.map]]") -> MidiMapping:
    """A :class:`MidiMapping` from a show-file table; :class:`MidiError` naming the problem."""
    if not isinstance(entry, Mapping):
        raise MidiError(f"{where}: each mapping must be a table (control, type, number, channel)")
    known = {"control", "type", "number", "channel", "range", "mode", "value"}
    extra = sorted(set(entry) - known)
    if extra:
        raise MidiError(f"{where}: unknown key(s) {', '.join(extra)}; valid: {', '.join(sorted(known))}")
    name = entry.get("control")
    try:
        param = get_param(str(name))
    except ControlError as exc:
        raise MidiError(f"{where}: {exc}") from None
    where = f"{where} {param.name}"
    kind = entry.get("type", "cc")
    if kind not in KINDS:
        raise MidiError(f"{where}: type {kind!r} is not one of {', '.join(KINDS)}")
    number = entry.get("number", 0)
    top = 31 if kind == "cc14" else 127
    if kind != "bend" and (not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= top):
        raise MidiError(f"{where}: number = {number!r} must be an integer 0..{top}"
                        + (" (the MSB controller of a 14-bit pair)" if kind == "cc14" else ""))
    channel = entry.get("channel", 0)
    if not isinstance(channel, int) or isinstance(channel, bool) or not 0 <= channel <= 16:
        raise MidiError(f"{where}: channel = {channel!r} must be 1..16 (0 = any channel)")
    lo = hi = None
    if "range" in entry:
        rng = entry["range"]
        if param.type not in ("float", "int"):
            raise MidiError(f"{where}: range only applies to number controls ({param.name} is {param.type})")
        if (not isinstance(rng, Sequence) or len(rng) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in rng)):
            raise MidiError(f"{where}: range = {rng!r} must be [lo, hi] (two numbers)")
        lo, hi = float(rng[0]), float(rng[1])
        for x in (lo, hi):
            if not param.lo <= x <= param.hi:
                raise MidiError(f"{where}: range {rng!r} leaves {param.name}'s range {param.range_text}")
    mode = entry.get("mode", "momentary" if param.type == "trigger" else "toggle")
    if mode not in MODES:
        raise MidiError(f"{where}: mode {mode!r} is not one of {', '.join(MODES)}")
    value = entry.get("value", "")
    if param.type == "str":
        if kind != "note" or not isinstance(value, str) or not value:
            raise MidiError(f"{where}: a text control is played by a note with value = \"...\" "
                            "(the preset to recall)")
    elif value:
        raise MidiError(f"{where}: value only applies to text controls")
    return MidiMapping(param.name, kind, 0 if kind == "bend" else int(number), int(channel), lo, hi,
                       str(mode), str(value))


class MidiMap:
    """The mappings of a show, looked up by incoming message. Not thread-safe by itself: the
    MIDI thread owns it (:class:`MidiController` swaps it under its lock)."""

    def __init__(self, mappings: Iterable[MidiMapping] = ()):
        self._list: list[MidiMapping] = []
        for m in mappings:
            self.add(m)

    def __iter__(self):
        return iter(list(self._list))

    def __len__(self) -> int:
        return len(self._list)

    def add(self, mapping: MidiMapping) -> list[MidiMapping]:
        """Add ``mapping``; mappings that listened to the same message are removed and returned
        (the conflicts). A control keeps one mapping per kind of message."""
        new_keys = set(mapping.keys())
        conflicts = [m for m in self._list if new_keys & set(m.keys())]
        self._list = [m for m in self._list
                      if m not in conflicts and not (m.control == mapping.control and m.kind == mapping.kind)]
        self._list.append(mapping)
        return conflicts

    def remove(self, control: str) -> int:
        before = len(self._list)
        self._list = [m for m in self._list if m.control != control]
        return before - len(self._list)

    def matching(self, kind: str, channel: int, number: int) -> list[MidiMapping]:
        """Mappings for a message (``channel`` 1..16)."""
        return [m for m in self._list
                if any(k == kind and n == number and c in (0, channel) for k, c, n in m.keys())]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [m.to_dict() for m in self._list]


def mappings_toml(mappings: Iterable[MidiMapping]) -> str:
    """``[[midi.map]]`` tables for the show file."""
    chunks = []
    for m in mappings:
        lines = ["[[midi.map]]"]
        for k, v in m.to_dict().items():
            if isinstance(v, str):
                text = '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            elif isinstance(v, list):
                text = "[" + ", ".join(repr(float(x)) for x in v) + "]"
            else:
                text = repr(v)
            lines.append(f"{k} = {text}")
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks) + ("\n" if chunks else "")


# ------------------------------------------------------------------ settings
@dataclass(frozen=True)
class MidiSettings:
    """What the MIDI thread runs with: the ``[midi]`` section (see :class:`live.config.MidiConfig`
    for each setting and its range) with its mappings checked."""

    input: str = ""
    output: str = ""
    api: str = "auto"
    beat_note: int = -1
    beat_channel: int = 1
    beat_velocity: int = 127
    downbeat_velocity: int = 127
    blink_s: float = 0.1
    mappings: tuple[MidiMapping, ...] = ()


def settings_from_config(midi) -> MidiSettings:
    """:class:`MidiSettings` from the config's ``[midi]`` section (:class:`live.config.MidiConfig`,
    whose ranges are checked when the config loads); the mappings are checked here
    (:class:`MidiError` naming the mapping)."""
    mappings = tuple(parse_mapping(m, where=f"[[midi.map]] #{i + 1}") for i, m in enumerate(midi.map))
    return MidiSettings(input=str(midi.input), output=str(midi.output), api=str(midi.api),
                        beat_note=int(midi.beat_note), beat_channel=int(midi.beat_channel),
                        beat_velocity=int(midi.beat_velocity), downbeat_velocity=int(midi.downbeat_velocity),
                        blink_s=float(midi.blink_s), mappings=tuple(MidiMap(mappings)))


def parse_settings(section: Mapping[str, Any]) -> MidiSettings:
    """:class:`MidiSettings` from a ``[midi]`` table (ConfigError / MidiError if wrong)."""
    from live.config import build_config
    return settings_from_config(build_config({"midi": dict(section or {})}).midi)


# ------------------------------------------------------------------ devices
# Ports are polled, never given a Python callback: on JACK, python-rtmidi would run that
# callback in JACK's process thread, which then waits for the interpreter lock while another
# thread (holding it) opens or closes a JACK client: a deadlock. Polled ports avoid it.

def _rt_api(api: str):
    """The python-rtmidi API for ``auto`` | ``alsa`` | ``jack`` (``[midi] api``)."""
    import rtmidi
    apis = {"auto": rtmidi.API_UNSPECIFIED, "": rtmidi.API_UNSPECIFIED, "alsa": rtmidi.API_LINUX_ALSA,
            "jack": rtmidi.API_UNIX_JACK}
    try:
        return apis[str(api).lower()]
    except KeyError:
        raise MidiError(f"unknown MIDI API {api!r}; one of: auto, alsa, jack") from None


class _Port:
    """An open input or output, polled (see above). ``poll()`` -> mido.Message or None."""

    def __init__(self, api: str, name: str, output: bool):
        import mido
        import rtmidi
        self.name = name
        self._mido = mido
        rt = rtmidi.MidiOut(_rt_api(api), "latent-live") if output else rtmidi.MidiIn(_rt_api(api), "latent-live")
        try:
            names = rt.get_ports()
            if name not in names:
                raise MidiError(f"MIDI port {name!r} is gone")
            rt.open_port(names.index(name), "feedback" if output else "control")
            if not output:
                rt.ignore_types(sysex=True, timing=True, active_sense=True)
        except BaseException:
            rt.delete()
            raise
        self._rt = rt

    def poll(self):
        while True:
            got = self._rt.get_message()
            if got is None:
                return None
            try:
                return self._mido.Message.from_bytes(got[0])
            except ValueError:
                continue        # not a channel message we know

    def send(self, msg) -> None:
        self._rt.send_message(msg.bytes())

    def close(self) -> None:
        if self._rt is not None:
            try:
                self._rt.close_port()
            finally:
                self._rt.delete()
                self._rt = None


class _Lister:
    """Lists the ports; keeps its two clients open (no client churn once a second)."""

    def __init__(self, api: str):
        self.api = api
        self._in = self._out = None

    def names(self) -> tuple[list[str], list[str]]:
        import rtmidi
        if self._in is None:
            self._in = rtmidi.MidiIn(_rt_api(self.api), "latent-live-scan")
            self._out = rtmidi.MidiOut(_rt_api(self.api), "latent-live-scan")
        return list(self._in.get_ports()), list(self._out.get_ports())

    def close(self) -> None:
        for rt in (self._in, self._out):
            if rt is not None:
                rt.delete()
        self._in = self._out = None


def list_ports(api: str = "auto") -> tuple[list[str], list[str]]:
    """(input names, output names) the MIDI API sees; MidiError with the cause otherwise."""
    lister = _Lister(api)
    try:
        return lister.names()
    except MidiError:
        raise
    except Exception as exc:  # backend missing, JACK not running, no ALSA sequencer...
        raise MidiError(f"cannot list MIDI ports (api {api}): {exc}") from None
    finally:
        lister.close()


def find_port(spec: str, names: Sequence[str]) -> Optional[str]:
    """The port ``spec`` names: an index into ``names`` or a case-insensitive part of a name
    (an exact name wins). None when nothing matches."""
    spec = str(spec).strip()
    if not spec:
        return None
    if spec.isdigit():
        i = int(spec)
        return names[i] if i < len(names) else None
    if spec in names:
        return spec
    low = spec.lower()
    hits = [n for n in names if low in n.lower()]
    return hits[0] if hits else None


# ------------------------------------------------------------------ the controller
@dataclass
class MidiStats:
    messages: int = 0       # MIDI messages received
    applied: int = 0        # that changed a control
    unmapped: int = 0       # no mapping for them
    rejected: int = 0       # the control refused the value
    feedback: int = 0       # messages sent out
    reconnects: int = 0     # times the input was opened again after it went away
    errors: int = 0         # unexpected errors (bug guard; the thread goes on)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class LearnResult:
    control: str
    mapping: str
    conflicts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"control": self.control, "mapping": self.mapping, "conflicts": list(self.conflicts)}


class MidiController:
    """The MIDI thread: input mapped into the store, feedback out, learn, replug.

    ``beat``: a callable returning the newest object with ``beat_count`` (and optionally
    ``downbeat_count``), e.g. the newest Beat or FeatureFrame; None = no beat pad.
    ``on_change``: called (in the MIDI thread) after the mappings change by learn or
    :meth:`set_mappings` (the show marks its file for saving).
    """

    def __init__(self, store: ControlStore, settings: MidiSettings = MidiSettings(), *,
                 beat: Optional[Callable[[], Any]] = None,
                 on_change: Optional[Callable[[], None]] = None,
                 clock: Callable[[], float] = time.perf_counter, rescan_s: float = RESCAN_S):
        self.store = store
        self.rescan_s = float(rescan_s)
        self.settings = settings
        self._beat = beat
        self._on_change = on_change
        self._clock = clock
        self._map = MidiMap(settings.mappings)
        self._lock = threading.Lock()
        self._queue: "queue.SimpleQueue[tuple[float, Any]]" = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lister: Optional[_Lister] = None
        self.stats = MidiStats()
        self._in = None
        self._out = None
        self.input_name = ""
        self.output_name = ""
        self.message = "" if settings.input else "no MIDI input set ([midi] input or --midi)"
        self._next_scan = 0.0
        self._was_open = False          # the input was open once: a later absence is an unplug
        self._lsb: dict[tuple[int, int], int] = {}
        self._msb: dict[tuple[int, int], int] = {}
        self._cc_last: dict[tuple[int, int], int] = {}
        self._armed: Optional[str] = None
        self._armed_at = 0.0
        self._learn_first: Optional[tuple[float, Any]] = None
        self._learn_pair: Optional[Any] = None
        self.last_learn: Optional[LearnResult] = None
        self._led: dict[tuple[int, int], int] = {}
        self._seen_version = -1
        self._beat_count: Optional[int] = None
        self._downbeat_count: Optional[int] = None
        self._beat_off_at = 0.0
        self.last_applied_t = 0.0   # perf_counter time the last mapped message arrived (bench)

    # -------------------------------------------------------------- public
    def start(self) -> "MidiController":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="midi", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None
        self._close_ports()
        if self._lister is not None:
            self._lister.close()
            self._lister = None

    def __enter__(self) -> "MidiController":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def mappings(self) -> list[MidiMapping]:
        with self._lock:
            return list(self._map)

    def set_mappings(self, mappings: Iterable[MidiMapping]) -> None:
        with self._lock:
            self._map = MidiMap(mappings)
        self._changed()

    def unmap(self, control: str) -> int:
        with self._lock:
            n = self._map.remove(control)
        if n:
            self._changed()
        return n

    def learn(self, control: Optional[str]) -> None:
        """Arm ``control``: the next fader move or pad press maps it. None disarms."""
        if control is not None:
            p = get_param(control)
            if p.type == "str" and p.name != "preset":
                raise ControlError(f"{control} cannot be learned")
            if p.name == "preset":
                raise ControlError("presets are recalled by a note with value = \"NAME\" in [[midi.map]]")
        with self._lock:
            self._armed = control
            self._armed_at = self._clock()
            self._learn_first = None
            self._learn_pair = None

    @property
    def armed(self) -> Optional[str]:
        return self._armed

    def status(self) -> dict[str, Any]:
        """What the page and the HUD show: ports, the message when something is missing,
        learn state, counters."""
        return {"input": self.input_name, "output": self.output_name, "wanted_input": self.settings.input,
                "connected": self._in is not None, "message": self.message, "armed": self._armed,
                "last_learn": self.last_learn.as_dict() if self.last_learn else None,
                "mappings": [m.to_dict() for m in self.mappings], "stats": self.stats.as_dict()}

    def feed(self, msg: Any, t: Optional[float] = None) -> None:
        """Queue a message as if it came from the input (the web page's learn, tests)."""
        self._queue.put((self._clock() if t is None else t, msg))

    # -------------------------------------------------------------- ports
    def _close_ports(self) -> None:
        for attr in ("_in", "_out"):
            port = getattr(self, attr)
            setattr(self, attr, None)
            if port is not None:
                try:
                    port.close()
                except Exception:
                    pass
        self.input_name = self.output_name = ""

    def _scan(self) -> None:
        """Open the input/output when present; close them when they went away."""
        s = self.settings
        if not s.input:
            return
        try:
            if self._lister is None:
                self._lister = _Lister(s.api)
            inputs, outputs = self._lister.names()
        except Exception as exc:
            if self._lister is not None:
                try:
                    self._lister.close()
                except Exception:
                    pass
                self._lister = None
            self._set_message(f"cannot list MIDI ports (api {s.api}): {exc}; "
                              "the show goes on without MIDI, retrying"
                              + ("; without an ALSA sequencer use [midi] api = \"jack\"" if s.api == "auto" else ""))
            return
        def missing() -> str:
            what = "unplugged" if self._was_open else "not found"
            return (f"MIDI input {s.input!r} {what}; inputs: {', '.join(inputs) if inputs else 'none'}; "
                    "waiting for it (see 'latent-live midi list')")

        if self._in is not None and self.input_name not in inputs:
            self._set_message(missing())
            self._close_ports()
        if self._in is None:
            name = find_port(s.input, inputs)
            if name is None:
                self._set_message(missing())
                return
            try:
                self._in = _Port(s.api, name, output=False)
            except Exception as exc:
                self._set_message(f"cannot open MIDI input {name!r}: {exc}; retrying")
                self._in = None
                return
            if self._was_open:
                self.stats.reconnects += 1
            self._was_open = True
            self.input_name = name
            self._led.clear()
            self._seen_version = -1
            self._set_message("")
            log.info("MIDI input: %s", name)
        if self._out is None and s.output != "-":
            spec = s.output or _device_part(self.input_name)
            name = find_port(spec, outputs)
            if name is not None:
                try:
                    self._out = _Port(s.api, name, output=True)
                    self.output_name = name
                    self._led.clear()
                    self._seen_version = -1
                    log.info("MIDI feedback output: %s", name)
                except Exception as exc:
                    log.warning("cannot open MIDI output %r: %s", name, exc)
        elif self._out is not None and self.output_name not in outputs:
            try:
                self._out.close()
            except Exception:
                pass
            self._out = None
            self.output_name = ""

    def _set_message(self, text: str) -> None:
        if text and text != self.message:
            log.warning("%s", text)
        self.message = text

    # -------------------------------------------------------------- thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                now = self._clock()
                if now >= self._next_scan:
                    self._next_scan = now + self.rescan_s
                    self._scan()
                # ports are polled (see _Port): every POLL_S while a port is open
                wait = POLL_S if self._in is not None else 0.1
                try:
                    t, msg = self._queue.get(timeout=wait)
                    self._handle(t, msg)
                    while True:   # drain what queued meanwhile
                        t, msg = self._queue.get_nowait()
                        self._handle(t, msg)
                except queue.Empty:
                    pass
                if self._in is not None:
                    try:
                        while (msg := self._in.poll()) is not None:
                            self._handle(self._clock(), msg)
                    except MidiError:
                        pass
                self._finish_learn()
                self._feedback()
            except Exception:  # a bug must never stop MIDI for the rest of the show
                self.stats.errors += 1
                log.exception("MIDI thread error (going on)")
                time.sleep(0.05)
        self._close_ports()

    # -------------------------------------------------------------- input
    @staticmethod
    def _key(msg) -> Optional[tuple[str, int, int, int]]:
        """(kind, channel 1..16, number, value) for the messages we map; value -1 = note off."""
        t = msg.type
        if t == "control_change":
            return "cc", msg.channel + 1, msg.control, msg.value
        if t == "note_on":
            return "note", msg.channel + 1, msg.note, msg.velocity if msg.velocity > 0 else -1
        if t == "note_off":
            return "note", msg.channel + 1, msg.note, -1
        if t == "pitchwheel":
            return "bend", msg.channel + 1, 0, msg.pitch + 8192
        return None

    def _handle(self, t: float, msg) -> None:
        key = self._key(msg)
        if key is None:
            return
        self.stats.messages += 1
        kind, ch, num, val = key
        if kind == "cc":
            if num < 32:
                self._msb[(ch, num)] = val
            elif num < 64:
                self._lsb[(ch, num - 32)] = val
        if self._armed is not None:
            self._learn_message(t, key)
            if self._armed is not None:
                return          # still deciding (14-bit pair window)
        with self._lock:
            maps = self._map.matching(kind, ch, num)
        if not maps:
            self.stats.unmapped += 1
            return
        for m in maps:
            self._apply(m, kind, ch, num, val, t)

    def _apply(self, m: MidiMapping, kind: str, ch: int, num: int, val: int, t: float) -> None:
        p = m.param
        lo, hi = m.span
        state = self.store.state
        try:
            if kind == "note":
                pressed = val > 0
                if p.type == "trigger":
                    if pressed:
                        self.store.trigger(p.name)
                    else:
                        return
                elif p.type == "str":
                    if not pressed:
                        return
                    self.store.set(p.name, m.value)
                elif m.mode == "toggle":
                    if not pressed:
                        return
                    cur = state.values[p.name]
                    if p.type == "bool":
                        self.store.set(p.name, not cur)
                    else:
                        self.store.set(p.name, lo if abs(cur - hi) < abs(cur - lo) else hi)
                else:   # momentary
                    on = hi if p.type != "bool" else 1
                    off = lo if p.type != "bool" else 0
                    self.store.set(p.name, on if pressed else off)
            else:
                if m.kind == "cc14":
                    msb = self._msb.get((ch, m.number), 0)
                    lsb = self._lsb.get((ch, m.number), 0) if num == m.number + 32 else 0
                    if num == m.number:
                        self._lsb[(ch, m.number)] = 0     # a new MSB starts a new value
                    x = ((msb << 7) | lsb) / 16383.0
                elif m.kind == "bend":
                    x = val / 16383.0
                else:
                    x = val / 127.0
                if p.type == "trigger":   # a CC button: fire on press (rising through the middle)
                    last = self._cc_last.get((ch, num), 0)
                    self._cc_last[(ch, num)] = val
                    if val >= 64 > last:
                        self.store.trigger(p.name)
                    else:
                        return
                elif p.type == "bool":
                    self.store.set(p.name, x >= 0.5)
                else:
                    v = lo + (hi - lo) * x
                    self.store.set(p.name, v)
        except ControlError as exc:
            self.stats.rejected += 1
            log.debug("MIDI %s: %s", m.describe(), exc)
            return
        self.stats.applied += 1
        self.last_applied_t = t

    # -------------------------------------------------------------- learn
    def _learn_message(self, t: float, key) -> None:
        kind, ch, num, val = key
        if kind == "note" and val < 0:
            return                  # a release teaches nothing
        if self._learn_first is None:
            self._learn_first = (t, key)
            if not (kind == "cc" and num < 64):
                self._finish_learn(force=True)
            return
        _, (k0, c0, n0, _v0) = self._learn_first
        if kind == "cc" and k0 == "cc" and c0 == ch and {n0, num} == {min(n0, num), min(n0, num) + 32} \
                and min(n0, num) < 32:
            self._learn_pair = min(n0, num)
            self._finish_learn(force=True)

    def _finish_learn(self, force: bool = False) -> None:
        first = self._learn_first
        if self._armed is None or first is None:
            return
        t0, (kind, ch, num, _val) = first
        if not force and self._clock() - t0 < LEARN_PAIR_S:
            return
        control = self._armed
        p = get_param(control)
        if self._learn_pair is not None:
            mapping = MidiMapping(control, "cc14", self._learn_pair, ch)
        elif kind == "note":
            mode = "toggle" if p.type in ("bool",) else "momentary"
            mapping = MidiMapping(control, "note", num, ch, mode=mode)
        elif kind == "bend":
            mapping = MidiMapping(control, "bend", 0, ch)
        else:
            mapping = MidiMapping(control, "cc", num, ch)
        with self._lock:
            conflicts = self._map.add(mapping)
            self._armed = None
            self._learn_first = None
            self._learn_pair = None
        result = LearnResult(control, mapping.describe(),
                             [f"{c.describe()} was replaced" for c in conflicts if c.control != control])
        log.info("MIDI learn: %s%s", mapping.describe(),
                 ("; conflict: " + "; ".join(result.conflicts)) if result.conflicts else "")
        self._changed()               # saved into the show file before it is reported
        self.last_learn = result

    def _changed(self) -> None:
        self._seen_version = -1
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:
                log.exception("MIDI mapping change callback failed")

    # -------------------------------------------------------------- feedback
    def _send(self, msg) -> None:
        try:
            self._out.send(msg)
            self.stats.feedback += 1
        except Exception as exc:
            log.debug("MIDI feedback send failed: %s", exc)

    def _feedback(self) -> None:
        if self._out is None:
            return
        import mido
        s = self.settings
        if self._beat is not None and s.beat_note >= 0:
            now = self._clock()
            b = self._beat()
            count = getattr(b, "beat_count", None) if b is not None else None
            if count is not None:
                if self._beat_count is not None and count != self._beat_count:
                    down = getattr(b, "downbeat_count", None)
                    if down is not None:
                        is_down = down != self._downbeat_count
                        self._downbeat_count = down
                    else:   # a FeatureFrame: the beat that starts the bar
                        bpb = max(int(getattr(b, "beats_per_bar", 4) or 4), 1)
                        is_down = round(float(getattr(b, "bar_phase", 0.5)) * bpb) % bpb == 0
                    vel = s.downbeat_velocity if is_down else s.beat_velocity
                    self._send(mido.Message("note_on", channel=s.beat_channel - 1, note=s.beat_note,
                                            velocity=vel))
                    self._beat_off_at = now + s.blink_s
                elif self._beat_count is None:
                    self._downbeat_count = getattr(b, "downbeat_count", None)
                self._beat_count = count
            if self._beat_off_at and now >= self._beat_off_at:
                self._beat_off_at = 0.0
                self._send(mido.Message("note_on", channel=s.beat_channel - 1, note=s.beat_note, velocity=0))
        state = self.store.state
        if state.version == self._seen_version:
            return
        self._seen_version = state.version
        with self._lock:
            maps = [m for m in self._map if m.kind == "note" and m.param.type == "bool"]
        for m in maps:
            on = 127 if state.values[m.control] else 0
            ch = max(1, m.channel)
            if self._led.get((ch, m.number)) != on:
                self._led[(ch, m.number)] = on
                self._send(mido.Message("note_on", channel=ch - 1, note=m.number, velocity=on))


def learn_key(midi: Optional[MidiController], store: ControlStore) -> str:
    """The window's learn key (``m``): arm learn for the control moved last (on the page, by OSC,
    a preset key...), or disarm when armed. Returns the line the HUD shows."""
    if midi is None:
        return "MIDI learn: no MIDI controller ([midi] input or --midi)"
    if midi.armed is not None:
        name = midi.armed
        midi.learn(None)
        return f"MIDI learn of {name} cancelled"
    name = store.state.last
    if not name or name in ("preset",):
        return "MIDI learn: move a control first (page, OSC), then press m and move a fader or press a pad"
    try:
        midi.learn(name)
    except ControlError as exc:
        return f"MIDI learn: {exc}"
    return f"MIDI learn: {name} - move a fader or press a pad (m again cancels)"


def _device_part(port_name: str) -> str:
    """The device part of a port name ("APC40 mkII:APC40 mkII MIDI 1 20:0" -> "APC40 mkII"),
    used to find the output of the same device."""
    return port_name.split(":")[0].strip() if port_name else ""


__all__ = ["MidiMapping", "MidiMap", "MidiSettings", "MidiController", "MidiError", "parse_mapping",
           "parse_settings", "settings_from_config", "learn_key", "mappings_toml", "list_ports", "find_port", "LearnResult"]
