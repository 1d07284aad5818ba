"""Look switching as a VJ does it, as pure state: no GL, no clock of its own.

A request (by name or number) waits for the next bar line, then the new look fades in over
``fade_beats`` beats (at the current tempo; half a second a beat while no tempo is known).
With ``auto_bars`` > 0 the look changes by itself every that many bars (like projectM's
preset duration), picking at random among the looks not shown recently. A look that could
not be built (does not compile, too slow) is marked bad: requests for it are refused with
the reason and it is never picked again; the current look stays.

The owner calls :meth:`LookSwitcher.update` once per drawn frame with the frame's time and
bar phase and reads ``current``, ``incoming`` and ``mix``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class SwitchState:
    current: str
    incoming: str | None      # the look fading in (None: no fade running)
    mix: float                # 0..1 position of the fade
    pending: str | None       # requested, waiting for the bar line


class LookSwitcher:
    def __init__(self, names: Sequence[str], current: str, *, fade_beats: float = 1.0, auto_bars: int = 0,
                 no_repeat: int = 3, seed: int | None = None):
        if not names:
            raise ValueError("no looks to switch between")
        self.names = list(names)
        if current not in self.names:
            raise ValueError(f"unknown look {current!r}; known: {', '.join(self.names)}")
        self.current = current
        self.incoming: str | None = None
        self.pending: str | None = None
        self.mix = 0.0
        self.fade_beats = float(fade_beats)
        self.auto_bars = int(auto_bars)
        self.no_repeat = int(no_repeat)
        self.bad: dict[str, str] = {}
        self.preparing: set[str] = set()   # not ready to be shown yet (being proved): a request waits
        self.recent: list[str] = [current]
        self.messages: list[str] = []
        self._rng = random.Random(seed)
        self._last_bar_phase: float | None = None
        self._bars_since_change = 0
        self._fade_start = 0.0
        self._fade_len = 0.0

    # -- requests -----------------------------------------------------------------------
    def resolve(self, target: str | int) -> str:
        """A look name from a name or a number (index in the list); ValueError naming the valid ones."""
        if isinstance(target, int) or (isinstance(target, str) and target.strip().isdigit()):
            i = int(target)
            if not 0 <= i < len(self.names):
                raise ValueError(f"no look number {i}; there are {len(self.names)} (0..{len(self.names) - 1})")
            return self.names[i]
        name = str(target).strip()
        if name not in self.names:
            raise ValueError(f"unknown look {name!r}; known: {', '.join(self.names)}")
        return name

    def request(self, target: str | int) -> str:
        """Ask for a look (name or number): it lands on the next bar line. Returns a message."""
        try:
            name = self.resolve(target)
        except ValueError as exc:
            return self._say(str(exc))
        if name in self.bad:
            return self._say(f"look {name} is skipped: {self.bad[name]}; staying on {self.current}")
        if name == (self.incoming or self.current) and self.pending is None:
            return f"look {name} is already on"
        self.pending = name
        return f"look {name} on the next bar line"

    def step(self, delta: int) -> str:
        """Request the next (+1) or previous (-1) look in the list, skipping bad ones."""
        base = self.pending or self.incoming or self.current
        i = self.names.index(base)
        for k in range(1, len(self.names) + 1):
            name = self.names[(i + delta * k) % len(self.names)]
            if name not in self.bad:
                return self.request(name)
        return self._say("no other look can be shown")

    def mark_bad(self, name: str, why: str) -> None:
        """A look that cannot be shown: never picked again; a pending/incoming request for it is dropped."""
        self.bad[name] = why
        self.preparing.discard(name)
        if self.pending == name:
            self.pending = None
        if self.incoming == name:
            self.incoming, self.mix = None, 0.0
        self._say(f"look {name} skipped: {why}; staying on {self.current}")

    def hold(self, name: str) -> None:
        """``name`` was to fade in but is not ready yet (its passes are being proved): it waits
        again, for the first bar line after it is ready; the current look stays."""
        if self.incoming == name:
            self.incoming, self.mix = None, 0.0
            self.pending = name
            self.preparing.add(name)

    def _say(self, msg: str) -> str:
        self.messages.append(msg)
        del self.messages[:-20]
        return msg

    def pick_auto(self) -> str | None:
        """A random look that is not bad and not among the last ``no_repeat`` shown."""
        avoid = set(self.recent[-self.no_repeat:]) if self.no_repeat > 0 else {self.current}
        avoid.add(self.current)
        pool = [n for n in self.names if n not in self.bad and n not in avoid]
        if not pool:
            pool = [n for n in self.names if n not in self.bad and n != self.current]
        return self._rng.choice(pool) if pool else None

    # -- per frame ----------------------------------------------------------------------
    def update(self, t: float, *, bar_phase: float, bpm: float) -> SwitchState:
        """Advance to time ``t`` (s). A bar line is where ``bar_phase`` wraps; with no tempo
        (bpm <= 0) a request lands at once."""
        bar_line = self._last_bar_phase is not None and bar_phase < self._last_bar_phase - 0.5
        self._last_bar_phase = bar_phase
        if bar_line:
            self._bars_since_change += 1
            if self.auto_bars > 0 and self.pending is None and self.incoming is None \
                    and self._bars_since_change >= self.auto_bars:
                self.pending = self.pick_auto()
        if self.pending is not None and self.incoming is None and self.pending not in self.preparing \
                and (bar_line or bpm <= 0):
            self._start_fade(self.pending, t, bpm)
            self.pending = None
        if self.incoming is not None:
            self.mix = 1.0 if self._fade_len <= 0 else min(max((t - self._fade_start) / self._fade_len, 0.0), 1.0)
            if self.mix >= 1.0:
                self.current, self.incoming, self.mix = self.incoming, None, 0.0
        return SwitchState(self.current, self.incoming, self.mix, self.pending)

    def _start_fade(self, name: str, t: float, bpm: float) -> None:
        beat_s = 60.0 / bpm if bpm > 0 else 0.5
        self.incoming = name
        self._fade_start = t
        self._fade_len = max(self.fade_beats, 0.0) * beat_s
        self.mix = 0.0
        self._bars_since_change = 0
        self.recent.append(name)
        del self.recent[:-16]

    @property
    def state(self) -> SwitchState:
        return SwitchState(self.current, self.incoming, self.mix, self.pending)
