"""The parameter table: every live control of latent-live, in one place.

Each :class:`Param` has a name, a type, a range, a default, an OSC address and a one-line
doc. This table is the single source for the OSC dispatcher (``live.control.osc``), the
README's address list (:func:`markdown_table`), ``latent-live run --list-params``
(:func:`listing`), presets and the ``[controls]`` section of a show file.

Types:

- ``float``: OSC ``f`` (ints accepted); out-of-range values are clamped; NaN rejected.
- ``int``: OSC ``i`` (floats accepted and rounded); clamped.
- ``bool``: OSC ``i`` 0/1 (also ``T``/``F``, and floats: >= 0.5 is on).
- ``str``: OSC ``s``.
- ``trigger``: no argument, or a number: > 0 fires (a desk button's press), 0 is ignored
  (its release). Each firing increments a counter in the control state.

Standard library only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from live import config as _config

TYPES = ("float", "int", "bool", "str", "trigger")
_OSC_TAGS = {"float": "f", "int": "i", "bool": "i", "str": "s", "trigger": ""}


class ControlError(ValueError):
    """A control name, preset or value is unknown or of the wrong type (one-line message)."""


@dataclass(frozen=True, slots=True)
class Param:
    """One live control.

    ``lo``/``hi`` bound float and int values (None for bool, str, trigger). ``renderer``
    marks the values handed to the renderer as ``controls`` (uniform ``u_`` + name with
    '.' -> '_'); ``preset`` marks values a preset may hold. ``config`` names the show-file
    setting this control is the live twin of (it seeds the start value; its range and default
    come from that setting, so the two never disagree).
    """

    name: str
    type: str
    default: Any
    address: str
    doc: str
    lo: float | None = None
    hi: float | None = None
    renderer: bool = False
    preset: bool = True
    config: str = ""

    @property
    def osc_tag(self) -> str:
        """OSC type tag of the argument ("f", "i", "s" or "" for none)."""
        return _OSC_TAGS[self.type]

    @property
    def range_text(self) -> str:
        if self.type == "bool":
            return "0/1"
        if self.lo is None:
            return ""
        if self.type == "int":
            return f"{int(self.lo)}..{int(self.hi)}"
        return f"{self.lo:g}..{self.hi:g}"

    @property
    def default_text(self) -> str:
        if self.type == "trigger":
            return ""
        if self.type == "bool":
            return str(int(self.default))
        if self.type == "str":
            return repr(self.default) if self.default else '""'
        return f"{self.default:g}"

    def coerce(self, value: Any) -> tuple[Any, bool]:
        """Validate ``value`` for this parameter: ``(value, clamped)``.

        Numbers are converted between int/float/bool as described in the module doc and
        clamped to the range (``clamped`` says whether that happened). Raises
        :class:`ControlError` for a value of the wrong type (a string for a number, NaN, a
        number for a string...). Triggers return ``(True, False)`` when they fire and
        ``(False, False)`` for a release (0).
        """
        kind = self.type
        if kind == "str":
            if not isinstance(value, str):
                raise ControlError(f"{self.name} expects a string, got {type(value).__name__} {value!r}")
            return value, False
        if value is None and kind == "trigger":
            return True, False
        if isinstance(value, bool):
            number = 1.0 if value else 0.0
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            raise ControlError(f"{self.name} expects a number, got {type(value).__name__} {value!r}")
        if math.isnan(number):
            raise ControlError(f"{self.name} expects a number, got NaN")
        if kind == "trigger":
            return number > 0, False
        if kind == "bool":
            return number >= 0.5, False
        clamped = False
        if number < self.lo:
            number, clamped = float(self.lo), True
        elif number > self.hi:
            number, clamped = float(self.hi), True
        if kind == "int":
            return int(round(number)), clamped
        return number, clamped


def _twin(name: str, kind: str, address: str, doc: str, config_key: str) -> Param:
    """A control that is the live twin of a show-file setting: default and range from the config."""
    lo = hi = None
    if kind in ("int", "float"):
        lo, hi = _config.range_of(config_key)
    return Param(name, kind, _config.default_of(config_key), address, doc, lo, hi, config=config_key)


def _fx(name: str, default: float, doc: str) -> Param:
    return Param(f"fx.{name}", "float", default, f"/live/fx/{name}", doc, 0.0, 1.0, renderer=True)


PARAMS: tuple[Param, ...] = (
    # banks and entries
    Param("bank.select", "int", 0, "/live/bank/select",
          "switch to bank N (0-based; keys 1-9 = banks 0-8), on the next bar line", 0, 255),
    Param("bank.next", "trigger", None, "/live/bank/next", "switch to the next bank on the next bar line",
          preset=False),
    Param("bank.prev", "trigger", None, "/live/bank/prev", "switch to the previous bank on the next bar line",
          preset=False),
    Param("entry.next", "trigger", None, "/live/entry/next", "cut to the next bank entry now", preset=False),
    Param("entry.prev", "trigger", None, "/live/entry/prev", "cut to the previous bank entry now",
          preset=False),
    Param("entry.select", "int", 0, "/live/entry/select",
          "cut to entry N of the current bank now (0-based; the walk goes on from there)", 0, 4095,
          preset=False),
    # motion
    _twin("beats_per_change", "int", "/live/beats_per_change",
          "beats to walk from one bank entry to the next", "motion.beats_per_change"),
    Param("speed", "float", 1.0, "/live/speed", "walk speed multiplier (0 stops the walk, pulses go on)",
          0.0, 4.0),
    _twin("pulse", "float", "/live/pulse", "onset push along a random latent direction", "motion.pulse_amount"),
    _twin("chroma_select", "bool", "/live/chroma_select",
          "the dominant pitch class picks the entry (12 entries = 12 keys)", "motion.chroma_select"),
    Param("freeze", "bool", False, "/live/freeze", "hold the picture (walk, pulses, bank changes wait)"),
    # generator
    _twin("gen.steps", "int", "/live/gen/steps", "sampler steps (lcm backend)", "gen.steps"),
    _twin("gen.feedback", "float", "/live/gen/feedback", "image feedback blend (lcm backend)", "gen.feedback"),
    # renderer
    Param("intensity", "float", 1.0, "/live/intensity", "master amount of all audio effects", 0.0, 2.0,
          renderer=True),
    _fx("zoom", 0.5, "beat zoom amount"),
    _fx("rotate", 0.5, "rotation amount"),
    _fx("drift", 0.5, "slow drift / warp amount"),
    _fx("feedback", 0.6, "video feedback trail length"),
    _fx("hue", 0.5, "hue shift with the music"),
    _fx("saturation", 0.5, "saturation boost"),
    _fx("contrast", 0.5, "contrast"),
    _fx("flash", 0.6, "onset flash brightness"),
    _fx("sparkle", 0.4, "treble sparkle amount"),
    _fx("kaleido", 0.0, "kaleidoscope mix"),
    _fx("detail", 0.5, "fine structure at the output resolution: contour lines of the picture, more with the treble"),
    Param("fade", "float", 1.0, "/live/fade", "master level (0 = black, smooth)", 0.0, 1.0, renderer=True),
    Param("blackout", "bool", False, "/live/blackout", "black screen at once (1) / back (0)", renderer=True),
    _twin("hud", "bool", "/live/hud", "show the on-screen telemetry", "render.hud"),
    # tempo
    Param("tap", "trigger", None, "/live/tap", "tap tempo: four taps set BPM and phase", preset=False),
    Param("bpm", "float", 0.0, "/live/bpm", "manual tempo; 0 = follow the beat tracker (releases tap)",
          0.0, 300.0),
    # scenes
    Param("preset", "str", "", "/live/preset", "recall a preset (scene) by name", preset=False),
    # looks (shader chains of shaders/looks/; see `latent-live looks`)
    Param("look.select", "int", 0, "/live/look/select",
          "switch to look number N (`latent-live looks` lists them), on the next bar line", 0, 255),
    Param("look.name", "str", "", "/live/look/name", "switch to the look called NAME, on the next bar line"),
    Param("look.next", "trigger", None, "/live/look/next", "next look, on the next bar line", preset=False),
    Param("look.prev", "trigger", None, "/live/look/prev", "previous look, on the next bar line", preset=False),
    Param("look.fade_beats", "float", 1.0, "/live/look/fade_beats",
          "cross-fade length of a look change, in beats (0 = cut)", 0.0, 16.0),
    Param("look.auto_bars", "int", 0, "/live/look/auto_bars",
          "change look by itself every N bars, never repeating the last three (0 = off)", 0, 256),
)

def _look_params() -> tuple[Param, ...]:
    # every bundled look's own parameters, read from its shaders/looks/NAME.toml (the one truth)
    from live.looks.catalog import bundled_params

    return tuple(Param(f"look.{look}.{p.key}", "float", p.default, f"/live/look/{look}/{p.key}",
                       f"look {look}: {p.doc}", p.lo, p.hi, renderer=True) for look, p in bundled_params())


PARAMS = PARAMS + _look_params()

# how the control surface groups the table (every control in exactly one group; a test checks)
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("master", ("fade", "blackout", "intensity", "hud")),
    ("effects", tuple(p.name for p in PARAMS if p.name.startswith("fx."))),
    ("motion", ("beats_per_change", "speed", "pulse", "chroma_select", "freeze")),
    ("banks", ("bank.select", "bank.next", "bank.prev", "entry.next", "entry.prev", "entry.select")),
    ("tempo", ("tap", "bpm")),
    ("generator", ("gen.steps", "gen.feedback")),
    ("scenes", ("preset",)),
    ("looks", tuple(p.name for p in PARAMS if p.name.startswith("look."))),
)

BY_NAME: Mapping[str, Param] = {p.name: p for p in PARAMS}
BY_ADDRESS: Mapping[str, Param] = {p.address: p for p in PARAMS}
RENDERER_KEYS: tuple[str, ...] = tuple(p.name for p in PARAMS if p.renderer)
VALUE_PARAMS: tuple[Param, ...] = tuple(p for p in PARAMS if p.type != "trigger")
TRIGGERS: tuple[str, ...] = tuple(p.name for p in PARAMS if p.type == "trigger")

assert len(BY_NAME) == len(PARAMS) and len(BY_ADDRESS) == len(PARAMS)


def group_of(name: str) -> str:
    """The control-surface group of a control ("banks", "effects"...)."""
    for group, names in GROUPS:
        if name in names:
            return group
    raise ControlError(f"control {name!r} is in no group of live.control.params.GROUPS")


def get_param(name: str) -> Param:
    """The parameter called ``name``; :class:`ControlError` naming the valid ones otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ControlError(f"unknown control {name!r}; valid controls: {', '.join(BY_NAME)}") from None


def defaults() -> dict[str, Any]:
    """Default value of every non-trigger parameter, by name."""
    return {p.name: p.default for p in VALUE_PARAMS}


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"fx": {"hue": 0.9}}`` -> ``{"fx.hue": 0.9}``: TOML reads ``fx.hue = 0.9`` as a nested table."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, prefix=key + "."))
        else:
            out[key] = v
    return out


def validate_values(values: Mapping[str, Any], *, where: str = "controls",
                    strict_range: bool = True) -> dict[str, Any]:
    """Check a name -> value mapping (``[controls]``, ``[presets.X]``) against the table.

    Unknown names, triggers and wrong types raise :class:`ControlError` naming ``where``
    and the valid names. With ``strict_range`` a value outside its range is an error too
    (a show file should be right before the show); otherwise it is clamped.
    Returns the coerced values.
    """
    out: dict[str, Any] = {}
    for name, value in flatten(values).items():
        p = BY_NAME.get(name)
        if p is None or p.type == "trigger" or (where.startswith("preset") and not p.preset):
            valid = [q.name for q in VALUE_PARAMS if q.preset or not where.startswith("preset")]
            raise ControlError(f"{where}: unknown control {name!r}; valid: {', '.join(valid)}")
        try:
            v, clamped = p.coerce(value)
        except ControlError as exc:
            raise ControlError(f"{where}: {exc}") from None
        if clamped and strict_range:
            raise ControlError(f"{where}: {name} = {value!r} is outside {p.range_text}")
        out[name] = v
    return out


def markdown_table(params: Iterable[Param] = PARAMS) -> str:
    """The OSC address list as a Markdown table (for the README)."""
    lines = ["| OSC address | arg | range | default | control | what it does |",
             "|---|---|---|---|---|---|"]
    for p in params:
        lines.append(f"| `{p.address}` | {p.osc_tag or '-'} | {p.range_text} | {p.default_text} "
                     f"| `{p.name}` | {p.doc} |")
    return "\n".join(lines)


def listing(params: Iterable[Param] = PARAMS) -> str:
    """A plain-text listing for ``latent-live run --list-params``."""
    params = list(params)
    wa = max(len(p.address) for p in params)
    wn = max(len(p.name) for p in params)
    lines = [f"{'OSC address':<{wa}}  arg  {'control':<{wn}}  {'range':<9} {'default':<7} what it does"]
    for p in params:
        lines.append(f"{p.address:<{wa}}  {p.osc_tag or '-':<3}  {p.name:<{wn}}  {p.range_text:<9} "
                     f"{p.default_text:<7} {p.doc}")
    return "\n".join(lines)
