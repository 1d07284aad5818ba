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
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A setting is unknown or has a value of the wrong type."""


@dataclass(frozen=True)
class AudioConfig:
    device: str = ""                 # input device index or name substring; "" = system default
    sample_rate_hz: int = 44100      # analysis rate; files are resampled to it
    block_size: int = 512            # sound card block (frames)
    channels: int = 0                # 0 = mono downmix of all input channels, else 1-based channel
    ring_seconds: float = 4.0        # ring buffer capacity
    playback: bool = True            # file source: play through the default output if there is one
    loop: bool = False               # file source: loop at the end (rehearsal, soak)
    reopen_interval_s: float = 3.0   # a lost device is reopened this often
    latency: str = "low"             # PortAudio input latency: low | high | seconds


@dataclass(frozen=True)
class FeaturesConfig:
    hop_size: int = 512              # samples per analysis hop
    win_size: int = 2048             # phase vocoder window (samples)
    bass_hz: tuple = (20.0, 250.0)
    mid_hz: tuple = (250.0, 4000.0)
    treble_hz: tuple = (4000.0, 16000.0)
    rise_s: float = 0.01             # smoothing time constant when a level rises
    decay_s: float = 0.25            # ... and when it falls
    norm_window_s: float = 8.0       # running average for the self-normalised (``_att``) levels
    onset_method: str = "hfc"
    onset_threshold: float = 0.3
    onset_min_interval_s: float = 0.06
    onset_silence_db: float = -60.0
    onset_picker: str = "fast"       # fast: causal rising edge of aubio's detection function (~1 hop);
                                     # aubio: aubio's peak picker (peak-accurate, ~30 ms later)
    bpm_min: float = 60.0            # tempo range the tracker considers (hard limits)
    bpm_max: float = 200.0
    tempo_prior_bpm: float = 120.0   # metrical level where the evidence is ambiguous: log-normal
    tempo_prior_octaves: float = 1.4  # prior over tempo (centre, std in octaves; 0 = flat), Ellis 2007
    beats_per_bar: int = 4
    tap_timeout_s: float = 0.0       # 0 = a tap tempo holds until released
    tempo_window_s: float = 6.0      # onset-envelope history the tempo tracker looks at
    beat_min_confidence: float = 0.1  # below this tracker confidence no beats are emitted


@dataclass(frozen=True)
class MotionConfig:
    beats_per_change: int = 4        # reach the next bank entry every N beats
    onset_accel: float = 0.15        # delta in alpha = ease(progress) + delta * onset
    pulse_amount: float = 0.35       # onset push along a random latent direction
    pulse_decay_s: float = 0.35
    energy_speed: float = 0.5        # how much loudness speeds the walk up (0 = not at all)
    drop_hold_beats: int = 8         # after a build-up and a drop, hold the entry this long
    chroma_select: bool = False      # dominant pitch class chooses among 12 entries
    idle_bpm: float = 120.0          # tempo used for walking when no beat is known
    energy_tau_s: float = 2.0        # smoothing of the energy that sets the walk speed
    chroma_tau_s: float = 1.0        # smoothing of the chroma that picks entries (chroma_select)
    buildup_bars: int = 3            # bars of rising level that arm a drop
    buildup_rise: float = 1.3        # ... rising by at least this factor over those bars
    drop_bass_att: float = 1.5       # a drop: an onset with bass_att at least this, while armed


@dataclass(frozen=True)
class GenConfig:
    backend: str = "embedded"        # embedded | vae | lcm
    model: str = ""                  # local model folder or weight file (vae / lcm)
    banks: tuple = ("latent_banks/default",)
    size: int = 256                  # generator output (square), upscaled by the renderer
    device: str = "auto"             # auto | cpu | cuda
    dtype: str = "auto"              # auto | float32 | float16
    steps: int = 2                   # lcm sampler steps (1-4)
    feedback: float = 0.0            # lcm image feedback 0..1
    timeout_s: float = 2.0           # a render slower than this counts as a stall -> fallback
    seed: int = 0
    runtime: str = "auto"            # vae: auto | onnx | torch
    lora: str = ""                   # lcm: LCM-LoRA weight file for an SD1.5-family model
    vae: str = ""                    # lcm: decode with this VAE (e.g. a TAESD folder) instead of the model's
    guidance_scale: float = 8.5      # lcm: guidance embedded in the distilled model
    pulse_strength: float = 0.5      # onset push, as a fraction of the bank's mean latent norm
    max_fps: float = 30.0            # generator frames per second at most (the renderer cross-fades)


@dataclass(frozen=True)
class RenderConfig:
    width: int = 1280
    height: int = 720
    fullscreen: bool = False
    monitor: int = 0
    vsync: bool = True
    headless: str = "auto"           # auto | yes | no
    fps: float = 60.0                # headless / target rate
    shader_dirs: tuple = ()          # extra folders searched before the bundled shaders/
    chain: tuple = ("trails", "finish")  # the five effects fused; ("source", "feedback", "color", "flash", "output") = one pass each
    hud: bool = True
    record: str = ""                 # output .mp4, "" = none
    record_fps: float = 30.0         # frame rate of the recording (the display may run faster)
    record_preset: str = "ultrafast" # x264 preset while live: the cheapest, so the show keeps its CPU
    internal_scale: float = 0.0      # effect passes at this fraction of the output size; 0 = auto (0.4 on llvmpipe)


@dataclass(frozen=True)
class OscConfig:
    host: str = "127.0.0.1"
    port: int = 9000
    allow: tuple = ()                # addresses allowed to send when listening on the network
    targets: tuple = ()              # "host:port" for OSC out
    enabled: bool = True
    recv_buffer_bytes: int = 4194304 # socket receive buffer (the OS may cap it)
    bands_hz: float = 30.0           # OSC out: /live/bands rate limit


@dataclass(frozen=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    gen: GenConfig = field(default_factory=GenConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    osc: OscConfig = field(default_factory=OscConfig)
    controls: Mapping[str, Any] = field(default_factory=dict)   # initial control values by name
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> control values


_FREE_SECTIONS = ("controls", "presets")


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
    return cfg


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
