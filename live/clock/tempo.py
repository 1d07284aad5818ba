"""One precedence of tempo sources, and a beat grid that never jumps when the source changes.

Every source answers, for an audio time ``t``, with a :class:`Reading` (tempo, and where it
thinks the beat and the bar are at ``t``) or ``None`` while it is silent. :class:`TempoClock`
takes the first live source in its precedence (default ``manual > tap > link > midi >
tracker``) and keeps its own continuous beat position:

* **Following**: while the active source's phase and ours agree within ``snap_beats`` the
  clock takes the source's phase as it is (a Link session or a MIDI clock is the authority).
* **Hand-over**: when the source changes (the DJ's laptop leaves the Link session, the MIDI
  clock stops arriving, a tap is released) the new source's phase usually differs. The clock
  does not jump: it glides onto the new phase, running at most ``glide`` (25 %) faster or
  slower than the tempo until the phases agree, then follows again. The position never goes
  backwards, so counters never repeat a beat. A bar that disagrees by whole beats is relabelled
  once the phase agrees (the beat phase does not move).
* **Start / stop**: a source whose transport is stopped (MIDI Stop, Link start/stop sync) holds
  the beat phase; on start the grid is placed on the source's position at once (the music
  starts on that beat), counters carrying on upward.
* **Silence everywhere**: the clock free-runs at the last tempo with source ``"none"``.

Pure: no threads, no clocks of its own; the analysis thread calls :meth:`TempoClock.update`
once per hop with the audio time. Tests drive it with known answers.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from live.config import TEMPO_SOURCES
from live.types import Beat, FeatureFrame, beat_at_position


def host_now() -> float:
    """The host clock the DJ's clocks are timed on, in seconds: Ableton Link's own clock
    (``CLOCK_MONOTONIC_RAW`` on Linux), also used to time MIDI clock pulses."""
    clk = getattr(time, "CLOCK_MONOTONIC_RAW", None)
    return time.clock_gettime(clk) if clk is not None else time.monotonic()


@dataclass(frozen=True, slots=True)
class Reading:
    """What one tempo source says about audio time ``t`` (the time passed to ``update``).

    ``phase`` is the position within the beat (0..1) or None when the source knows only the
    tempo (a manual BPM, a MIDI clock that never saw Start or a song position); ``bar_beat``
    is the position within the bar in beats (0..beats_per_bar) or None when it does not know
    the bar.
    """

    bpm: float
    phase: Optional[float] = None
    bar_beat: Optional[float] = None
    confidence: float = 1.0
    playing: bool = True


def _wrap(x: float, period: float = 1.0) -> float:
    """``x`` wrapped into [-period/2, period/2)."""
    return (x + 0.5 * period) % period - 0.5 * period


def check_precedence(order: Sequence[str]) -> tuple[str, ...]:
    """The precedence as a tuple; ValueError naming the problem for unknown or repeated names."""
    order = tuple(str(x).strip().lower() for x in order)
    bad = [x for x in order if x not in TEMPO_SOURCES]
    if bad:
        raise ValueError(f"unknown tempo source {bad[0]!r} in the precedence; "
                         f"valid: {', '.join(TEMPO_SOURCES)}")
    if len(set(order)) != len(order):
        raise ValueError(f"tempo precedence {', '.join(order)} names a source twice")
    if not order:
        raise ValueError("tempo precedence is empty; name at least one of " + ", ".join(TEMPO_SOURCES))
    return order


class TempoClock:
    """Readings from the tempo sources in, one :class:`~live.types.Beat` per update out."""

    def __init__(self, *, precedence: Sequence[str] = TEMPO_SOURCES, beats_per_bar: int = 4,
                 snap_beats: float = 0.03, glide: float = 0.25):
        if not (0.0 < glide < 1.0):
            raise ValueError(f"glide must be between 0 and 1 (exclusive), got {glide}")
        self.precedence = check_precedence(precedence)
        self.beats_per_bar = max(int(beats_per_bar), 1)
        self.snap_beats = float(snap_beats)
        self.glide = float(glide)
        self._t: Optional[float] = None
        self._pos = 0.0
        self._bar_offset = 0.0
        self._bpm = 0.0
        self._playing = True
        self._started = False          # a phase has been taken from some source
        self._active = "none"
        self._gliding = False
        self._beat = Beat(beats_per_bar=self.beats_per_bar)

    @property
    def beat(self) -> Beat:
        """The latest state (also returned by :meth:`update`)."""
        return self._beat

    @property
    def gliding(self) -> bool:
        """True while the grid is still catching up with a new source's phase."""
        return self._gliding

    def set_precedence(self, order: Sequence[str]) -> None:
        self.precedence = check_precedence(order)

    def update(self, t: float, readings: Mapping[str, Optional[Reading]]) -> Beat:
        """Advance to audio time ``t`` with the sources' readings for ``t``; returns the new Beat."""
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        bpb = self.beats_per_bar
        # the interval just gone ran at the tempo in force during it
        if self._playing and self._bpm > 0.0:
            self._pos += dt * self._bpm / 60.0
        name, r = "none", None
        for cand in self.precedence:
            rr = readings.get(cand)
            if rr is not None and rr.bpm > 0.0 and math.isfinite(rr.bpm):
                name, r = cand, rr
                break
        confidence = 0.0
        if r is None:                                   # everyone silent: free-run at the last tempo
            self._gliding = False
            self._playing = True
        else:
            if name != self._active and self._active != "none":
                self._gliding = True                    # hand-over: glide, never jump
            confidence = float(r.confidence)
            if not r.playing:
                self._playing = False                   # hold the phase until the source starts
            elif r.phase is not None:
                phase = float(r.phase) % 1.0
                if not self._playing or not self._started:
                    self._start_at(phase, r.bar_beat)   # the music starts on this beat
                else:
                    e = _wrap(phase - (self._pos - math.floor(self._pos)))
                    lim = self.glide * dt * float(r.bpm) / 60.0
                    if not self._gliding and abs(e) <= self.snap_beats:
                        self._pos += e                  # following: the source is the authority
                    else:                               # gliding: at most `glide` faster or slower
                        self._pos += min(max(e, -lim), lim)
                        self._gliding = abs(e) > lim
                    if not self._gliding and r.bar_beat is not None:
                        cur = (self._pos - self._bar_offset) % bpb
                        k = round(_wrap(float(r.bar_beat) - cur, bpb))
                        if k:
                            self._bar_offset = (self._bar_offset - k) % bpb
            else:                                       # tempo only: keep our phase
                self._playing = True
                self._gliding = False
            self._bpm = float(r.bpm)
        if r is not None or self._active != "none":
            self._active = name if r is not None else "none"
        self._beat = beat_at_position(t, self._pos, bpm=self._bpm, confidence=confidence,
                                      source=name, beats_per_bar=bpb, bar_offset=self._bar_offset,
                                      playing=self._playing, beat_count=self._beat.beat_count,
                                      downbeat_count=self._beat.downbeat_count)
        return self._beat

    def _start_at(self, phase: float, bar_beat: Optional[float]) -> None:
        """Place the grid on ``phase`` at the smallest position not behind the current one."""
        base = math.floor(self._pos) + phase
        if base < self._pos:
            base += 1.0
        self._pos = base
        if bar_beat is not None:
            self._bar_offset = (base - float(bar_beat)) % self.beats_per_bar
        self._playing = True
        self._started = True
        self._gliding = False


# --- the sources that live in the show's own process ------------------------------------------

class ManualTempo:
    """A BPM typed in (OSC ``/live/bpm``, the web page, a key): tempo only, until released.

    :meth:`align` marks a beat (a tap while a manual BPM is set), which gives a phase too.
    """

    def __init__(self) -> None:
        self.bpm = 0.0
        self._anchor: Optional[float] = None

    def set(self, bpm: Optional[float]) -> None:
        """Set the tempo; ``None`` or 0 releases it."""
        self.bpm = float(bpm) if bpm and bpm > 0 else 0.0
        if not self.bpm:
            self._anchor = None

    def align(self, t_s: float) -> None:
        self._anchor = float(t_s)

    def reading(self, t: float) -> Optional[Reading]:
        if self.bpm <= 0.0:
            return None
        if self._anchor is None:
            return Reading(self.bpm)
        x = (t - self._anchor) * self.bpm / 60.0
        return Reading(self.bpm, phase=x - math.floor(x))


class TapSource:
    """Tap tempo (:class:`live.control.tap.TapTempo`) as a tempo source: tempo and phase."""

    def __init__(self, tap=None, *, timeout_s: float = 0.0):
        if tap is None:
            from live.control.tap import TapTempo   # the control room's tap rules, one truth
            tap = TapTempo()
        self.tap = tap
        self.timeout_s = float(timeout_s)     # 0 = a tapped tempo holds until released
        self._last_tap = -math.inf

    def add(self, t_s: float) -> float:
        self._last_tap = float(t_s)
        return self.tap.tap(t_s=t_s)

    def release(self) -> None:
        self.tap.release()

    def reading(self, t: float) -> Optional[Reading]:
        if not self.tap.active:
            return None
        if self.timeout_s > 0.0 and t - self._last_tap > self.timeout_s:
            return None
        return Reading(self.tap.bpm, phase=self.tap.beat_phase(t_s=t))


def tracker_reading(frame: FeatureFrame, *, min_confidence: float = 0.0) -> Optional[Reading]:
    """The analyzer's own beat tracker as a source (silent while it has no tempo)."""
    if frame.bpm <= 0.0 or frame.bpm_confidence < min_confidence:
        return None
    bpb = max(int(frame.beats_per_bar), 1)
    return Reading(frame.bpm, phase=frame.beat_phase, bar_beat=(frame.bar_phase % 1.0) * bpb,
                   confidence=frame.bpm_confidence)
