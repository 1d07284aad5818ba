"""Every setting of latent-live, as frozen dataclasses, loaded from TOML plus ``--set a.b=v``.

Standard library only. A show file is a TOML document whose tables are the sections below::

    [audio]
    device = "Scarlett"
    [features]
    bpm_min = 90
    [presets.chill]
    intensity = 0.4

``load_config(path, overrides=["features.bpm_min=100"])`` returns a :class:`Config`.
Unknown sections or keys are errors that name the key and list the valid ones, so a typo
in a show file is caught before the show, not during it.
"""
from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A setting is unknown, has a value of the wrong type, or is out of its range."""


# --------------------------------------------------------------------------------------------
# Ranges: each one lives once, next to its setting, as ``setting(default, ...)``.
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    """A bound taken from another setting: ``Ref("audio.sample_rate_hz", 0.5)`` = Nyquist."""

    key: str
    scale: float = 1.0

    def value(self, cfg: "Config") -> float:
        section, name = self.key.split(".")
        return float(getattr(getattr(cfg, section), name)) * self.scale

    def text(self, cfg: "Config") -> str:
        what = self.key if self.scale == 1.0 else f"{self.key}/{1 / self.scale:g}" if self.scale < 1 \
            else f"{self.key}*{self.scale:g}"
        return f"{what} ({_num(self.value(cfg))})"


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Spec:
    """What values a setting accepts. Numbers (and each number of a numeric list) lie in
    ``lo..hi`` (a bound is excluded with ``lo_open``/``hi_open``; either may be a :class:`Ref`
    to another setting); ``off`` is one extra value with a special meaning ("0 = auto");
    ``choices`` lists the valid words; ``pow2`` asks for a power of two; ``pair`` for a
    ``(low, high)`` list with low < high (``lo``/``hi`` bound the low edge; the consumer clips the
    high edge at ``hi``); ``min_len`` for a list's length; ``check`` is a
    function returning what is wrong with a value (or None); ``means`` says what ``off`` means.
    Floats must be finite everywhere.
    """

    lo: float | Ref | None = None
    hi: float | Ref | None = None
    lo_open: bool = False
    hi_open: bool = False
    off: Any = None
    means: str = ""
    choices: tuple = ()
    pow2: bool = False
    pair: bool = False
    min_len: int = 0
    check: Callable[[Any], str | None] | None = None
    expect: str = ""               # how ``check`` describes the valid values

    def bound(self, which: str, cfg: "Config") -> float | None:
        b = self.lo if which == "lo" else self.hi
        return b.value(cfg) if isinstance(b, Ref) else b

    def describe(self, cfg: "Config | None" = None) -> str:
        """The valid values in words, e.g. ``a power of two in 32..8192`` or ``(0, 1], or 0 (auto)``."""
        cfg = cfg if cfg is not None else Config()
        parts = []
        if self.choices:
            parts.append("one of: " + ", ".join(map(str, self.choices)))
        if self.lo is not None or self.hi is not None:
            lo = self.lo.text(cfg) if isinstance(self.lo, Ref) else (None if self.lo is None else _num(self.lo))
            hi = self.hi.text(cfg) if isinstance(self.hi, Ref) else (None if self.hi is None else _num(self.hi))
            words = isinstance(self.lo, Ref) or isinstance(self.hi, Ref)
            if lo is not None and hi is not None and words:
                rng = (f"{'above' if self.lo_open else 'at least'} {lo} and "
                       f"{'below' if self.hi_open else 'at most'} {hi}")
            elif lo is not None and hi is not None and not (self.lo_open or self.hi_open):
                rng = f"{lo}..{hi}"
            elif lo is not None and hi is not None:
                rng = f"{'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
            elif lo is not None:
                rng = f"{'above' if self.lo_open else 'at least'} {lo}"
            else:
                rng = f"{'below' if self.hi_open else 'at most'} {hi}"
            if self.pow2:
                rng = f"a power of two in {rng}"
            if self.pair:   # the bounds hold for the low edge; the high edge is clipped to hi
                rng = (f"a [low, high] pair with {lo or '-inf'} <= low {'<' if self.hi_open else '<='} "
                       f"{hi or 'inf'} and low < high (high is clipped to {hi or 'inf'})")
            parts.append(rng)
        if self.min_len and not self.pair:
            parts.append(f"at least {self.min_len} item{'s' if self.min_len > 1 else ''}")
        if self.expect:
            parts.append(self.expect)
        text = "; ".join(parts)
        if self.off is not None:
            text += f", or {_num(self.off)}{f' ({self.means})' if self.means else ''}"
        return text

    def problem(self, value: Any, cfg: "Config", bad: frozenset = frozenset()) -> str | None:
        """What is wrong with ``value`` (one phrase), None when it is valid. A bound that refers
        to a setting in ``bad`` (itself invalid) is not checked."""
        if self.off is not None and value == self.off and type(value) is type(self.off):
            return None
        items = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple):
            if len(value) < self.min_len:
                return "is empty" if not value else f"has {len(value)} items"
            if self.pair and (len(value) != 2 or not value[0] < value[1]):
                return "is not a [low, high] pair with low < high"
        for i, v in enumerate(items):
            if self.pair and i == 1:
                if isinstance(v, float) and not math.isfinite(v):
                    return "is not a finite number"
                continue
            if isinstance(v, float) and not math.isfinite(v):
                return "is not a finite number"
            if self.choices and v not in self.choices:
                return "is not a valid choice"
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                lo, hi = (None if isinstance(b, Ref) and b.key in bad else self.bound(w, cfg)
                          for w, b in (("lo", self.lo), ("hi", self.hi)))
                if lo is not None and (v < lo or (self.lo_open and v == lo)):
                    return "is out of range"
                if hi is not None and (v > hi or (self.hi_open and v == hi)):
                    return "is out of range"
                if self.pow2 and (int(v) != v or int(v) & (int(v) - 1)):
                    return "is not a power of two"
            if self.check is not None:
                why = self.check(v)
                if why:
                    return why
        return None


def setting(default: Any, **spec: Any) -> Any:
    """A dataclass field with its valid values next to it: ``port: int = setting(9000, lo=1, hi=65535)``."""
    return field(default=default, metadata={"spec": Spec(**spec)})


def spec_of(key: str) -> Spec:
    """The :class:`Spec` of ``"section.name"`` (an empty Spec when the setting has none)."""
    section, name = key.split(".")
    for f in fields(_SECTIONS[section]):
        if f.name == name:
            return f.metadata.get("spec", Spec())
    raise KeyError(key)


def range_of(key: str) -> tuple[float, float]:
    """``(lo, hi)`` of a numeric setting with fixed bounds (for tables that mirror a setting)."""
    s = spec_of(key)
    if not isinstance(s.lo, (int, float)) or not isinstance(s.hi, (int, float)):
        raise KeyError(f"{key} has no fixed numeric range")
    return s.lo, s.hi


def default_of(key: str) -> Any:
    section, name = key.split(".")
    return getattr(_SECTIONS[section](), name)


def check_value(key: str, value: Any, what: str = "") -> Any:
    """Check one value against the range of setting ``key`` (for command-line flags that stand
    for a setting); :class:`ConfigError` naming ``what`` (default: the key) otherwise."""
    spec = spec_of(key)
    why = spec.problem(value, Config())
    if why:
        raise ConfigError(f"{what or key} {value!r} {why}; valid: {spec.describe()}")
    return value


def check_config(cfg: "Config") -> "Config":
    """Check every setting against its range; :class:`ConfigError` names each bad key, its value
    and the valid values. Returns ``cfg`` so it can wrap a constructor."""
    problems: list[str] = []
    bad: set[str] = set()
    for refs_pass in (False, True):       # settings others refer to first, so one bad value is one error
        for sf in fields(cfg):
            if sf.name in _FREE_SECTIONS:
                continue
            section = getattr(cfg, sf.name)
            for f in fields(section):
                spec = f.metadata.get("spec")
                key, value = f"{sf.name}.{f.name}", getattr(section, f.name)
                has_ref = spec is not None and (isinstance(spec.lo, Ref) or isinstance(spec.hi, Ref))
                if has_ref != refs_pass:
                    continue
                if spec is None:
                    if isinstance(value, float) and not math.isfinite(value):
                        problems.append(f"{key} = {value!r} is not a finite number")
                        bad.add(key)
                    continue
                why = spec.problem(value, cfg, frozenset(bad))
                if why:
                    bad.add(key)
                    shown = list(value) if isinstance(value, tuple) else value
                    problems.append(f"{key} = {shown!r} {why}; valid: {spec.describe(cfg)}")
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else
                          f"{len(problems)} settings are invalid:\n  " + "\n  ".join(problems))
    return cfg


# --- checks for the settings that are not plain numbers or words ------------------------------

ONSET_METHODS = ("default", "energy", "hfc", "complex", "phase", "wphase", "specdiff", "kl", "mkl", "specflux")
"""aubio's onset detection functions."""
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow", "placebo")
BACKENDS = ("embedded", "vae", "lcm")
"""Generator backends by name (``live.gen.registry`` imports them; a test keeps both equal)."""
RECORD_EXTENSIONS = (".mp4", ".mkv", ".mov")
"""Containers the recorder writes (H.264 + AAC)."""


def record_path_problem(path: str) -> str | None:
    """What is wrong with an output video path (extension, folder), None when it can be written."""
    if not path:
        return None
    p = Path(path).expanduser()
    if p.suffix.lower() not in RECORD_EXTENSIONS:
        return (f"has the extension {p.suffix or '(none)'!r}; the recorder writes "
                f"{', '.join(RECORD_EXTENSIONS)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        return f"is in a folder that does not exist ({parent}); create it first"
    if p.is_dir():
        return "is a folder, not a file name"
    return None


def check_record_path(path: str, what: str = "--record") -> None:
    """:class:`ConfigError` when ``path`` cannot be a recording (before the show starts)."""
    why = record_path_problem(str(path))
    if why:
        raise ConfigError(f"{what} {path!r} {why}")


def _latency_problem(v: str) -> str | None:
    if v in ("low", "high"):
        return None
    try:
        s = float(v)
    except ValueError:
        return "is not 'low', 'high' or a number of seconds"
    return None if 0 < s <= 2 else "is out of range"


def _device_problem(v: str) -> str | None:
    if v in ("auto", "cpu", "cuda") or (v.startswith("cuda:") and v[5:].isdigit()):
        return None
    return "is not a known device"


def _target_problem(v: str) -> str | None:
    host, sep, port = str(v).rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        return "is not host:port with a port in 1..65535"
    return None


def _look_name_problem(v: Any) -> str | None:
    # the name's form only: which looks exist depends on render.shader_dirs (checked when drawn)
    return None if re.fullmatch(r"|[0-9]{1,3}|[a-z][a-z0-9_]{0,31}", str(v)) else "is not a look name"


def _nonempty(v: Any) -> str | None:
    return None if str(v).strip() else "has an empty item"


@dataclass(frozen=True)
class AudioConfig:
    device: str = ""                 # input device index or name substring; "" = system default
    sample_rate_hz: int = setting(44100, lo=8000, hi=192000)   # analysis rate; files are resampled to it
    block_size: int = setting(512, lo=16, hi=16384)            # sound card block (frames)
    channels: int = setting(0, lo=0, hi=64)  # 0 = mono downmix of all input channels, else 1-based channel
    ring_seconds: float = setting(4.0, lo=0.5, hi=600.0)       # ring buffer capacity
    playback: bool = True            # file source: play through the default output if there is one
    loop: bool = False               # file source: loop at the end (rehearsal, soak)
    reopen_interval_s: float = setting(3.0, lo=0.1, hi=3600.0)  # a lost device is reopened this often
    latency: str = setting("low", check=_latency_problem,      # PortAudio input latency: low | high | seconds
                           expect="'low', 'high' or seconds in (0, 2]")


def _wall_problem(v: str) -> str | None:
    if not v:
        return None
    parts = str(v).lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) >= 1 for p in parts) \
            or int(parts[0]) * int(parts[1]) > 64:
        return "is not COLSxROWS with 1 to 64 tiles"
    return None


def _net_address_problem(v: str) -> str | None:
    if not v:
        return None
    host, sep, port = str(v).rpartition(":")
    if sep and (not port.isdigit() or not 0 <= int(port) <= 65535):
        return "is not host:port"
    return None


_NYQUIST = Ref("audio.sample_rate_hz", 0.5)


@dataclass(frozen=True)
class FeaturesConfig:
    hop_size: int = setting(512, lo=32, hi=8192, pow2=True)    # samples per analysis hop (aubio: a power of two)
    win_size: int = setting(2048, lo=64, hi=32768)  # phase vocoder window (samples; rounded up to a power of two >= hop)
    bass_hz: tuple = setting((20.0, 250.0), lo=0.0, hi=_NYQUIST, hi_open=True, pair=True, min_len=2)
    mid_hz: tuple = setting((250.0, 4000.0), lo=0.0, hi=_NYQUIST, hi_open=True, pair=True, min_len=2)
    treble_hz: tuple = setting((4000.0, 16000.0), lo=0.0, hi=_NYQUIST, hi_open=True, pair=True, min_len=2)
    rise_s: float = setting(0.01, lo=0.0, hi=10.0)     # smoothing time constant when a level rises
    decay_s: float = setting(0.25, lo=0.0, hi=10.0)    # ... and when it falls
    norm_window_s: float = setting(8.0, lo=0.1, hi=600.0)  # running average for the self-normalised (``_att``) levels
    onset_method: str = setting("hfc", choices=ONSET_METHODS)
    onset_threshold: float = setting(0.3, lo=0.0, hi=10.0)
    onset_min_interval_s: float = setting(0.06, lo=0.0, hi=10.0)
    onset_silence_db: float = setting(-60.0, lo=-140.0, hi=0.0)
    onset_picker: str = setting("fast", choices=("fast", "aubio"))
                                     # fast: causal rising edge of aubio's detection function (~1 hop);
                                     # aubio: aubio's peak picker (peak-accurate, ~30 ms later)
    bpm_min: float = setting(60.0, lo=30.0, hi=300.0)   # tempo range the tracker considers (hard limits)
    bpm_max: float = setting(200.0, lo=Ref("features.bpm_min"), lo_open=True, hi=400.0)
    tempo_prior_bpm: float = setting(120.0, lo=20.0, hi=400.0)  # metrical level where the evidence is ambiguous: log-normal
    tempo_prior_octaves: float = setting(1.4, lo=0.0, hi=4.0)  # prior over tempo (centre, std in octaves; 0 = flat), Ellis 2007
    beats_per_bar: int = setting(4, lo=1, hi=16)
    tap_timeout_s: float = setting(0.0, lo=0.0, hi=3600.0)  # 0 = a tap tempo holds until released
    tempo_window_s: float = setting(6.0, lo=2.0, hi=30.0)   # onset-envelope history the tempo tracker looks at
    beat_min_confidence: float = setting(0.1, lo=0.0, hi=1.0)  # below this tracker confidence no beats are emitted
    tracker: str = setting("dsp", choices=("dsp", "neural"))
                                     # dsp: onset-envelope comb + flywheel; neural: learned beat/downbeat
                                     # activation (live/features/neural.py) + a tracking stage (beat_stage)
    beat_model: str = ""             # neural tracker's model folder ("" = the bundled beat_tcn)
    beat_stage: str = setting("filter", choices=("filter", "flywheel"))
                                     # neural tracker's tracking stage: filter (bar-pointer forward filter)
                                     # | flywheel (the DSP tracker's comb + flywheel fed with the activation)


@dataclass(frozen=True)
class MotionConfig:
    beats_per_change: int = setting(4, lo=1, hi=64)   # reach the next bank entry every N beats
    onset_accel: float = setting(0.15, lo=0.0, hi=1.0)  # delta in alpha = ease(progress) + delta * onset
    pulse_amount: float = setting(0.35, lo=0.0, hi=1.0)  # onset push along a random latent direction
    pulse_decay_s: float = setting(0.35, lo=0.01, hi=10.0)
    energy_speed: float = setting(0.5, lo=0.0, hi=4.0)  # how much loudness speeds the walk up (0 = not at all)
    drop_hold_beats: int = setting(8, lo=0, hi=256)     # after a build-up and a drop, hold the entry this long
    chroma_select: bool = False      # dominant pitch class chooses among 12 entries
    idle_bpm: float = setting(120.0, lo=20.0, hi=400.0)  # tempo used for walking when no beat is known
    energy_tau_s: float = setting(2.0, lo=0.01, hi=60.0)  # smoothing of the energy that sets the walk speed
    chroma_tau_s: float = setting(1.0, lo=0.01, hi=60.0)  # smoothing of the chroma that picks entries (chroma_select)
    buildup_bars: int = setting(3, lo=1, hi=64)          # bars of rising level that arm a drop
    buildup_rise: float = setting(1.3, lo=1.0, hi=10.0)  # ... rising by at least this factor over those bars
    drop_bass_att: float = setting(1.5, lo=0.0, hi=10.0)  # a drop: an onset with bass_att at least this, while armed


@dataclass(frozen=True)
class GenConfig:
    backend: str = setting("embedded", choices=BACKENDS)  # embedded | vae | lcm
    model: str = ""                  # local model folder or weight file (vae / lcm)
    banks: tuple = setting(("latent_banks/default",), min_len=1, check=_nonempty, expect="bank folders")
    size: int = setting(256, lo=16, hi=2048)  # generator output (square), upscaled by the renderer
    device: str = setting("auto", check=_device_problem, expect="auto, cpu, cuda or cuda:N")
    dtype: str = setting("auto", choices=("auto", "float32", "float16", "int8"))  # int8: vae on a CPU
    steps: int = setting(2, lo=1, hi=8)  # lcm sampler steps
    feedback: float = setting(0.0, lo=0.0, hi=1.0)  # lcm image feedback
    timeout_s: float = setting(2.0, lo=0.0, lo_open=True, hi=600.0)  # a render slower than this counts as a stall -> fallback
    seed: int = setting(0, lo=0, hi=2**63 - 1)
    runtime: str = setting("auto", choices=("auto", "onnx", "torch"))  # vae runtime
    lora: str = ""                   # lcm: LCM-LoRA weight file for an SD1.5-family model
    vae: str = ""                    # lcm: decode with this VAE (e.g. a TAESD folder) instead of the model's
    guidance_scale: float = setting(8.5, lo=0.0, hi=50.0)  # lcm: guidance embedded in the distilled model
    pulse_strength: float = setting(0.5, lo=0.0, hi=4.0)  # onset push, as a fraction of the bank's mean latent norm
    max_fps: float = setting(30.0, lo=0.0, lo_open=True, hi=240.0)  # generator frames per second at most (the renderer cross-fades)
    process: str = setting("auto", choices=("auto", "yes", "no"))  # backend in its own process; auto = vae on a CPU
    threads: int = setting(0, lo=0, hi=64)  # vae: onnxruntime CPU threads (0 = its default: every core)


@dataclass(frozen=True)
class RenderConfig:
    width: int = setting(1280, lo=16, hi=8192)
    height: int = setting(720, lo=16, hi=8192)
    fullscreen: bool = False
    monitor: int = setting(0, lo=0, hi=64)
    vsync: bool = True
    headless: str = setting("auto", choices=("auto", "yes", "no"))
    fps: float = setting(60.0, lo=1.0, hi=1000.0)   # headless / target rate
    shader_dirs: tuple = setting((), check=_nonempty, expect="folder names")  # extra folders searched before the bundled shaders/
    chain: tuple = setting(("trails", "finish"), min_len=1, check=_nonempty, expect="shader names")  # used when look = "" (below)
                                     # the five effects fused; ("source", "feedback", "color", "flash", "output") = one pass each
    hud: bool = True
    record: str = setting("", check=record_path_problem,  # output video, "" = none
                          expect=f"a file name ending in {', '.join(RECORD_EXTENSIONS)} in an existing folder")
    record_fps: float = setting(30.0, lo=1.0, hi=240.0)  # frame rate of the recording (the display may run faster)
    record_preset: str = setting("ultrafast", choices=X264_PRESETS)
                                     # x264 preset while live: the cheapest, so the show keeps its CPU
    internal_scale: float = setting(0.0, lo=0.0, lo_open=True, hi=1.0, off=0.0, means="auto")
                                     # effect passes at this fraction of the output size; 0 = auto (0.4 on llvmpipe)
    shader_budget_ms: float = setting(0.0, lo=0.1, hi=10000.0, off=0.0,
                                      means="auto: 4/60 s, or 20 plain copies on a software rasteriser; offline 2 s")
                                     # a user's pass slower than this per frame (timed off screen) is refused
    wall: str = setting("", check=_wall_problem, expect="COLSxROWS such as 3x1, or empty")
                                     # video wall: this node draws one tile of a COLSxROWS canvas ("" = no wall)
    tile: int = setting(0, lo=0, hi=63)      # which tile, row by row from the top left
    overlap: int = setting(0, lo=0, hi=4096)  # pixels shared with each neighbour (projector edge blend)
    look: str = setting("classic", check=_look_name_problem,
                        expect="a look's name or number ('latent-live looks'), or \"\" for the chain")
                                     # the look to start with (switch live: /live/look/*, arrows, F1-F12);
                                     # "" = the `chain` above, without the look library


@dataclass(frozen=True)
class OscConfig:
    host: str = setting("127.0.0.1", check=lambda v: None if v.strip() else "is empty", expect="an address")
    port: int = setting(9000, lo=1, hi=65535, off=0, means="OSC in off")
    allow: tuple = setting((), check=_nonempty, expect="sender addresses")  # addresses allowed to send when listening on the network
    targets: tuple = setting((), check=_target_problem, expect="host:port items")  # OSC out
    enabled: bool = True
    recv_buffer_bytes: int = setting(4194304, lo=4096, hi=1 << 30)  # socket receive buffer (the OS may cap it)
    bands_hz: float = setting(30.0, lo=0.0, lo_open=True, hi=1000.0)  # OSC out: /live/bands rate limit


TEMPO_SOURCES = ("manual", "tap", "link", "midi", "tracker")
"""The tempo sources (``live.clock``), in the default precedence: the first one live wins."""
MIDI_APIS = ("auto", "alsa", "jack")


def _tempo_source_problem(v: Any) -> str | None:
    return None if v in TEMPO_SOURCES else f"is not a tempo source ({', '.join(TEMPO_SOURCES)})"


@dataclass(frozen=True)
class ClockConfig:
    precedence: tuple = setting(TEMPO_SOURCES, min_len=1, check=_tempo_source_problem,
                                expect="tempo source names, each once")  # first live source wins
    glide: float = setting(0.25, lo=0.05, hi=0.9)   # hand-over: the beat runs at most this much fast/slow until phases agree
    link: bool = False               # join an Ableton Link session (optional extra latent-live[link], GPL)
    link_lead: bool = False          # push our tempo and phase (tracker / tap / manual) into the session
    link_start_stop: bool = False    # follow the session's start/stop (hold the beat while stopped)
    midi_clock: str = ""             # MIDI input (name or part of it) sending MIDI clock; "" = off
    midi_api: str = setting("auto", choices=MIDI_APIS)  # python-rtmidi API (jack where there is no ALSA sequencer)
    midi_timeout_s: float = setting(0.5, lo=0.05, hi=10.0)  # no clock pulse this long: MIDI clock is silent
    audio_latency_ms: float = setting(0.0, lo=0.0, hi=2000.0)   # sound in the room -> analyzer (input buffering)
    render_latency_ms: float = setting(0.0, lo=0.0, hi=2000.0)  # frame drawn -> light at the eye (GPU, display, projector, LED processor)
    trim_ms: float = setting(0.0, lo=-500.0, hi=500.0)  # fine trim at the eye: + shows beat-locked effects earlier, - later
    compensate: bool = True          # beat-locked effects read the beat that will be true when the picture is seen


@dataclass(frozen=True)
class OutputsConfig:
    ndi: str = ""                    # NDI source name to publish the picture under; "" = off (--ndi NAME)
    ndi_width: int = setting(0, lo=16, hi=8192, off=0, means="the render size")
    ndi_height: int = setting(0, lo=16, hi=8192, off=0, means="the render size")
    ndi_fps: float = setting(0.0, lo=1.0, hi=240.0, off=0.0, means="every frame drawn")
    v4l2: str = ""                   # v4l2loopback device for a virtual camera (/dev/videoN, or "auto"); "" = off
    v4l2_fps: float = setting(30.0, lo=1.0, hi=240.0)


@dataclass(frozen=True)
class MidiConfig:
    input: str = ""                  # controller: index or a part of its name ('latent-live midi list'); "" = none
    output: str = ""                 # feedback (LEDs): "" = the output named like the input, "-" = none
    api: str = setting("auto", choices=MIDI_APIS)  # python-rtmidi API (jack where there is no ALSA sequencer)
    beat_note: int = setting(-1, lo=-1, hi=127, off=-1, means="no beat pad")  # a pad lit on every beat
    beat_channel: int = setting(1, lo=1, hi=16)
    beat_velocity: int = setting(127, lo=1, hi=127)      # the beat pad's colour/brightness
    downbeat_velocity: int = setting(127, lo=1, hi=127)  # ... on the bar line
    blink_s: float = setting(0.1, lo=0.01, hi=2.0)       # how long the beat pad stays lit
    map: tuple = ()                  # [[midi.map]] tables: control, type (cc|cc14|note|bend), number,
                                     # channel (1-16, 0 = any), range, mode; checked by live.control.midi


def _host_problem(v: str) -> str | None:
    return None if v.strip() else "is empty"


@dataclass(frozen=True)
class WebConfig:
    enabled: bool = True             # the control surface and HTTP API ('run --no-web' turns it off)
    host: str = setting("127.0.0.1", check=_host_problem, expect="an address")
                                     # 0.0.0.0 serves phones on the network (a token is then required)
    port: int = setting(8765, lo=0, hi=65535)  # 0 = a free port chosen at start (printed)
    token: str = ""                  # token for remote access; "" = a new random one each start
    meter_hz: float = setting(30.0, lo=1.0, hi=120.0)    # meters and state pushed to the page
    preview_fps: float = setting(4.0, lo=0.0, hi=30.0, off=0.0, means="no preview")
    preview_width: int = setting(320, lo=32, hi=1920)    # preview JPEG width (height keeps the aspect)
    preview_quality: int = setting(70, lo=10, hi=95)     # JPEG quality
    max_clients: int = setting(16, lo=1, hi=1000)        # WebSocket connections at once
    max_messages_hz: float = setting(200.0, lo=1.0, hi=10000.0)  # per connection; more are dropped


@dataclass(frozen=True)
class NetConfig:
    lead: str = setting("", check=_net_address_problem, expect="GROUP:PORT (multicast) or HOST:PORT, or empty")
                                     # publish features, walk and controls there ("" = do not lead);
                                     # 239.255.76.76:9100 multicast, 0.0.0.0:9100 unicast subscriptions
    follow: str = setting("", check=_net_address_problem, expect="GROUP:PORT or LEADERHOST:PORT, or empty")
                                     # render from a leader's stream instead of this node's sound
    delay_ms: float = setting(35.0, lo=0.0, hi=1000.0)  # presentation delay every node (leader too) applies:
                                     # beats show at the same instant on all screens; covers network jitter
    lost_after_s: float = setting(1.0, lo=0.1, hi=60.0)  # silence after which the leader counts as gone


@dataclass(frozen=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    gen: GenConfig = field(default_factory=GenConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    osc: OscConfig = field(default_factory=OscConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    web: WebConfig = field(default_factory=WebConfig)
    net: NetConfig = field(default_factory=NetConfig)
    controls: Mapping[str, Any] = field(default_factory=dict)   # initial control values by name
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> control values


_FREE_SECTIONS = ("controls", "presets")
_SECTIONS = {"audio": AudioConfig, "features": FeaturesConfig, "motion": MotionConfig,
             "gen": GenConfig, "render": RenderConfig, "osc": OscConfig, "clock": ClockConfig,
             "outputs": OutputsConfig, "midi": MidiConfig, "web": WebConfig, "net": NetConfig}


def _coerce(value: Any, default: Any, where: str) -> Any:
    """Convert ``value`` (from TOML or a ``--set`` string) to the type of ``default``."""
    kind = type(default)
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if kind is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        if kind is tuple:
            if text.startswith("["):
                try:
                    value = tomllib.loads(f"v = {text}")["v"]
                except tomllib.TOMLDecodeError as exc:
                    raise ConfigError(f"{where}: cannot read list {value!r}: {exc}") from None
            else:
                value = [p.strip() for p in text.split(",") if p.strip()]
        else:
            try:
                return kind(text)
            except ValueError:
                raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None
    if kind is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]
        if default and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in default):
            try:
                return tuple(float(x) for x in value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: expected a list of numbers, got {value!r}") from None
        return tuple(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _apply_section(section_obj: Any, values: Mapping[str, Any], section: str) -> Any:
    valid = {f.name: f for f in fields(section_obj)}
    changes = {}
    for key, value in values.items():
        if key not in valid:
            raise ConfigError(
                f"unknown setting {section}.{key}; valid keys in [{section}]: {', '.join(sorted(valid))}"
            )
        changes[key] = _coerce(value, getattr(section_obj, key), f"{section}.{key}")
    return dataclasses.replace(section_obj, **changes)


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".") if p.strip()]
    if len(parts) < 2:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    return parts, raw


def build_config(data: Mapping[str, Any], overrides: Sequence[str] = ()) -> Config:
    """Build a :class:`Config` from a parsed TOML mapping plus ``a.b=v`` overrides."""
    cfg = Config()
    sections = {f.name for f in fields(Config)}
    updates: dict[str, Any] = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"unknown section [{name}]; valid sections: {', '.join(sorted(sections))}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"[{name}] must be a table")
        if name in _FREE_SECTIONS:
            updates[name] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in values.items()}
        else:
            updates[name] = _apply_section(getattr(cfg, name), values, name)
    cfg = dataclasses.replace(cfg, **updates)
    for text in overrides:
        parts, raw = _parse_override(text)
        section = parts[0]
        if section in _FREE_SECTIONS:
            merged = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in getattr(cfg, section).items()}
            target = merged
            for p in parts[1:-1]:
                target = target.setdefault(p, {})
            target[parts[-1]] = _toml_scalar(raw)
            cfg = dataclasses.replace(cfg, **{section: merged})
            continue
        if section not in sections or len(parts) != 2:
            raise ConfigError(f"--set {text!r}: unknown setting; sections: {', '.join(sorted(sections))}")
        cfg = dataclasses.replace(cfg, **{section: _apply_section(getattr(cfg, section), {parts[1]: raw}, section)})
    return check_config(cfg)


def _toml_scalar(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read a TOML show file (or none) and apply ``--set`` overrides."""
    data: Mapping[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return build_config(data, overrides)
