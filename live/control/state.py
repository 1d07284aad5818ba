"""Control state: the live values of every parameter, published as immutable snapshots.

Writers (the OSC thread, keyboard events from the main thread, preset recalls) call
:class:`ControlStore` methods; each call publishes a new immutable :class:`ControlState`
("latest wins"). Only writers take a lock; readers (generator thread, GL thread) just read
``store.state`` and never block.

Events travel as counters, like beats in a FeatureFrame: ``state.counts[name]`` counts how
many times each parameter was set or fired (``bank.next``, ``entry.next``, ``tap``,
``bank.select``, ``bpm``, ``preset``...), so a reader that polls slowly never loses a
press: it compares the count with the last one it saw.

Presets (scenes) are named sets of control values, from the show file's
``[presets.NAME]`` tables, checked against the parameter table when loaded, recalled live
with ``/live/preset NAME``.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

from live.control.params import (
    BY_NAME, PARAMS, RENDERER_KEYS, TRIGGERS, VALUE_PARAMS, ControlError, defaults, get_param,
    validate_values,
)
from live.control.tap import TapTempo
from live.types import Latest

TAP_HISTORY = 8
# a saved "look" leaves these alone (a preset may still set them when written by hand)
_NOT_SAVED = frozenset({"bank.select", "bpm", "hud", "freeze", "blackout"})

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ControlState:
    """One immutable snapshot of the live controls.

    ``values``: name -> current value for every non-trigger parameter (read-only mapping).
    ``counts``: name -> how many times that parameter was set or fired since start.
    ``tap_times``: monotonic wall-clock times (``time.monotonic()``, s) of the latest taps,
    oldest first, at most 8; the app converts them to audio time for ``Analyzer.tap``.
    ``tap_bpm``: tempo from those taps, 0 while none (or after release).
    ``preset``: name of the last preset recalled ("" if none). ``version``: publication number.
    """

    values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType(defaults()))
    counts: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    tap_times: tuple[float, ...] = ()
    tap_bpm: float = 0.0
    preset: str = ""
    version: int = 0
    last: str = ""                 # the control set or fired most recently (MIDI learn by key)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def count(self, name: str) -> int:
        """How many times ``name`` was set or fired."""
        return self.counts.get(name, 0)

    # the counters the app and the motion mapper compare
    @property
    def bank_select(self) -> int:
        return int(self.values["bank.select"])

    @property
    def bank_select_count(self) -> int:
        return self.counts.get("bank.select", 0)

    @property
    def bank_next_count(self) -> int:
        return self.counts.get("bank.next", 0)

    @property
    def bank_prev_count(self) -> int:
        return self.counts.get("bank.prev", 0)

    @property
    def entry_next_count(self) -> int:
        return self.counts.get("entry.next", 0)

    @property
    def entry_prev_count(self) -> int:
        return self.counts.get("entry.prev", 0)

    @property
    def tap_count(self) -> int:
        return self.counts.get("tap", 0)

    @property
    def bpm_count(self) -> int:
        return self.counts.get("bpm", 0)

    @property
    def preset_count(self) -> int:
        return self.counts.get("preset", 0)


def renderer_controls(state: ControlState) -> dict[str, float]:
    """The renderer's ``controls`` mapping (contract keys: intensity, fx.*, fade, blackout)."""
    v = state.values
    return {k: float(v[k]) for k in RENDERER_KEYS}


def initial_values(config=None) -> dict[str, Any]:
    """Start values: table defaults, seeded from the config sections that have a live twin
    (``[motion] beats_per_change, pulse_amount, chroma_select``, ``[gen] steps, feedback``,
    ``[render] hud``), then ``[controls]`` from the show file (checked; errors name the key).
    """
    values = defaults()
    if config is None:
        return values
    seeded = {}
    for p in PARAMS:
        if p.config:
            section, key = p.config.split(".")
            seeded[p.name] = getattr(getattr(config, section), key)
    values.update(validate_values(seeded, where="config", strict_range=False))
    values.update(validate_values(dict(config.controls), where="[controls]"))
    return values


def validate_presets(presets: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Check ``[presets.NAME]`` tables against the parameter table; returns coerced copies."""
    out: dict[str, dict[str, Any]] = {}
    for name, values in presets.items():
        if not isinstance(values, Mapping):
            raise ControlError(f"[presets.{name}] must be a table of control = value")
        out[str(name)] = validate_values(values, where=f"preset {name!r}")
    return out


def presets_toml(presets: Mapping[str, Mapping[str, Any]]) -> str:
    """``[presets.NAME]`` TOML text for saving presets into a show file."""
    chunks = []
    for name, values in presets.items():
        key = name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)
        lines = [f"[presets.{key}]"]
        for k, v in values.items():
            if isinstance(v, bool):
                text = "true" if v else "false"
            elif isinstance(v, str):
                text = json.dumps(v)
            else:
                text = repr(v)
            lines.append(f"{k} = {text}")
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks) + ("\n" if chunks else "")


class ControlStore:
    """The writer side of the control state. Thread-safe writers, lock-free readers.

    ``store.state`` (or ``store.get()``) is the newest :class:`ControlState`;
    ``store.latest`` is the underlying :class:`live.types.Latest` (``version``,
    ``wait_newer``). Every writer validates with the parameter table and raises
    :class:`ControlError` for an unknown name or a wrong type; out-of-range numbers are
    clamped (the return value says so).
    """

    def __init__(self, initial: Optional[Mapping[str, Any]] = None, *,
                 presets: Optional[Mapping[str, Mapping[str, Any]]] = None,
                 clock: Callable[[], float] = time.monotonic):
        values = defaults()
        if initial:
            values.update(validate_values(initial, where="controls", strict_range=False))
        self._presets = validate_presets(presets or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._tap = TapTempo()
        self.latest: Latest[ControlState] = Latest(ControlState(values=MappingProxyType(values)))

    @classmethod
    def from_config(cls, config) -> "ControlStore":
        """A store with the show file's start values and presets (ControlError if wrong)."""
        return cls(initial_values(config), presets=config.presets)

    # ---------------------------------------------------------------- readers
    @property
    def state(self) -> ControlState:
        return self.latest.get()

    def get(self) -> ControlState:
        return self.latest.get()

    @property
    def version(self) -> int:
        return self.latest.version

    @property
    def presets(self) -> tuple[str, ...]:
        """Preset names, in the order they were defined."""
        return tuple(self._presets)

    def preset_values(self, name: str) -> dict[str, Any]:
        if name not in self._presets:
            raise ControlError(self._unknown_preset(name))
        return dict(self._presets[name])

    # ---------------------------------------------------------------- writers
    def _publish(self, old: ControlState, values: dict | None, bumped: list[str], **changes) -> None:
        counts = dict(old.counts)
        for name in bumped:
            counts[name] = counts.get(name, 0) + 1
        new = ControlState(
            values=MappingProxyType(values) if values is not None else old.values,
            counts=MappingProxyType(counts),
            tap_times=changes.get("tap_times", old.tap_times),
            tap_bpm=changes.get("tap_bpm", old.tap_bpm),
            preset=changes.get("preset", old.preset),
            last=changes.get("last", bumped[-1] if len(bumped) == 1 else old.last),
            version=old.version + 1,
        )
        self.latest.publish(new)

    def _assign(self, values: dict, name: str, value: Any, changes: dict) -> None:
        values[name] = value
        if name == "bpm" and value == 0:
            self._tap.release()
            changes["tap_bpm"] = 0.0

    def set(self, name: str, value: Any) -> bool:
        """Set one control (a trigger fires when ``value`` > 0); returns True if clamped.

        ``set("preset", name)`` recalls a preset; ``set("tap", 1)`` taps now.
        """
        p = get_param(name)
        v, clamped = p.coerce(value)
        if p.type == "trigger":
            if v:
                self.trigger(name)
            return False
        if name == "preset":
            self.recall(v)
            return False
        with self._lock:
            old = self.latest.get()
            values = dict(old.values)
            changes: dict = {}
            self._assign(values, name, v, changes)
            self._publish(old, values, [name], **changes)
        return clamped

    def update(self, values: Mapping[str, Any]) -> None:
        """Set several controls at once (one publication). Out-of-range values are clamped."""
        checked = validate_values(values, where="controls", strict_range=False)
        checked.pop("preset", None)
        with self._lock:
            old = self.latest.get()
            new_values = dict(old.values)
            changes: dict = {}
            for k, v in checked.items():
                self._assign(new_values, k, v, changes)
            self._publish(old, new_values, list(checked), **changes)

    def trigger(self, name: str, *, t_s: Optional[float] = None) -> None:
        """Fire a trigger (``bank.next``, ``entry.prev``, ``tap``...). ``t_s``: tap time
        (``time.monotonic()`` clock), default now."""
        if name not in TRIGGERS:
            raise ControlError(f"{name!r} is not a trigger; triggers: {', '.join(TRIGGERS)}")
        if name == "tap":
            self.tap(t_s=t_s)
            return
        with self._lock:
            old = self.latest.get()
            self._publish(old, None, [name])

    def tap(self, *, t_s: Optional[float] = None) -> float:
        """Register a tap at ``t_s`` (monotonic clock, default now); returns the tapped BPM (0 until 4 taps)."""
        t = self._clock() if t_s is None else float(t_s)
        with self._lock:
            old = self.latest.get()
            bpm = self._tap.tap(t_s=t)
            taps = (old.tap_times + (t,))[-TAP_HISTORY:]
            self._publish(old, None, ["tap"], tap_times=taps, tap_bpm=bpm)
        return bpm

    def release_tap(self) -> None:
        """Back to the beat tracker: same as ``/live/bpm 0``."""
        self.set("bpm", 0.0)

    def recall(self, name: str) -> None:
        """Recall preset ``name`` (one publication); ControlError naming the presets if unknown."""
        if name not in self._presets:
            raise ControlError(self._unknown_preset(name))
        preset = self._presets[name]
        with self._lock:
            old = self.latest.get()
            values = dict(old.values)
            changes: dict = {"preset": name}
            for k, v in preset.items():
                self._assign(values, k, v, changes)
            values["preset"] = name
            self._publish(old, values, ["preset", *preset], **changes)

    def save_preset(self, name: str, names: Optional[tuple[str, ...]] = None) -> dict[str, Any]:
        """Store the current values (all preset-able controls, or ``names``) as preset ``name``.

        Returns the saved values; :func:`presets_toml` writes them for a show file.
        """
        if not name:
            raise ControlError("a preset needs a name")
        state = self.latest.get()
        keys = names or tuple(p.name for p in VALUE_PARAMS if p.preset and p.name not in _NOT_SAVED)
        values = validate_values({k: state.values[k] for k in keys}, where=f"preset {name!r}")
        with self._lock:
            self._presets[name] = values
        return dict(values)

    def delete_preset(self, name: str) -> None:
        """Forget preset ``name``; ControlError naming the presets if unknown."""
        with self._lock:
            if name not in self._presets:
                raise ControlError(self._unknown_preset(name))
            del self._presets[name]

    def all_presets(self) -> dict[str, dict[str, Any]]:
        """Every preset (name -> values), in order: what the show file's ``[presets.*]`` holds."""
        with self._lock:
            return {k: dict(v) for k, v in self._presets.items()}

    def apply_key(self, event: str) -> bool:
        """Handle a renderer key event: "tap", "hud" (toggle), "bank:1".."bank:9" (banks 0-8),
        "look:next", "look:prev", "look:N" (look number N).

        Returns False for events the control layer does not own ("fullscreen", "quit").
        """
        if event == "tap":
            self.tap()
        elif event == "hud":
            self.set("hud", not self.latest.get().values["hud"])
        elif event.startswith("bank:") and event[5:].isdigit() and int(event[5:]) >= 1:
            self.set("bank.select", int(event[5:]) - 1)
        elif event in ("look:next", "look:prev"):
            self.trigger(event.replace(":", "."))
        elif event.startswith("look:") and event[5:].isdigit():
            self.set("look.select", int(event[5:]))
        else:
            return False
        return True

    def _unknown_preset(self, name: str) -> str:
        names = ", ".join(self._presets) if self._presets else "none defined (add [presets.NAME] to the show file)"
        return f"unknown preset {name!r}; presets: {names}"


__all__ = ["ControlState", "ControlStore", "ControlError", "renderer_controls", "initial_values",
           "validate_presets", "presets_toml", "PARAMS", "BY_NAME"]
