"""Tap tempo: four taps set BPM and phase.

Pure: it takes tap times (any clock, seconds) and has no clock of its own, so the same
object serves the control layer (wall-clock taps from ``/live/tap`` or the keyboard) and
tests. The live app forwards each tap to the analyzer (``Analyzer.tap(t_s=...)``), which
owns the tempo used for the show; this class gives the control layer and the HUD the same
answer.

Rules: intervals are measured between consecutive taps of one sequence; a pause longer
than ``reset_gap_s`` (2 s) starts a new sequence. Once ``min_taps`` (4) taps are in, the
BPM is 60 / median interval over the last ``max_taps`` taps, after rejecting intervals more
than ``outlier_ratio`` (25 %) away from the median. The phase anchor is fitted to the kept
taps (least squares on the beat grid), so one early or late tap does not shift the beat.
The tempo holds until :meth:`release`.
"""
from __future__ import annotations

import math
from statistics import median


class TapTempo:
    """Tap tempo from tap times.

    >>> tt = TapTempo()
    >>> for t in (0.0, 0.5, 1.0, 1.5):
    ...     bpm = tt.tap(t_s=t)
    >>> round(bpm, 1)
    120.0
    """

    def __init__(self, *, min_taps: int = 4, max_taps: int = 8, reset_gap_s: float = 2.0,
                 outlier_ratio: float = 0.25, bpm_min: float = 30.0, bpm_max: float = 300.0):
        if min_taps < 2:
            raise ValueError("min_taps must be at least 2")
        self.min_taps = min_taps
        self.max_taps = max(max_taps, min_taps)
        self.reset_gap_s = reset_gap_s
        self.outlier_ratio = outlier_ratio
        self.bpm_min = bpm_min
        self.bpm_max = bpm_max
        self._taps: list[float] = []
        self.bpm: float = 0.0          # 0 while no tempo is set
        self.anchor_s: float = -1.0    # time of a beat (fitted), -1 while no tempo is set

    @property
    def active(self) -> bool:
        """True once a tempo has been tapped (until released)."""
        return self.bpm > 0

    @property
    def taps_in_sequence(self) -> int:
        return len(self._taps)

    def tap(self, *, t_s: float) -> float:
        """Register a tap at time ``t_s``; returns the tapped BPM (0 until enough taps)."""
        if self._taps and (t_s - self._taps[-1] > self.reset_gap_s or t_s <= self._taps[-1]):
            self._taps.clear()          # a pause (or a clock going back) starts a new sequence
        self._taps.append(float(t_s))
        del self._taps[:-self.max_taps]
        if len(self._taps) >= self.min_taps:
            self._estimate()
        return self.bpm

    def _estimate(self) -> None:
        taps = self._taps
        intervals = [b - a for a, b in zip(taps, taps[1:])]
        med = median(intervals)
        kept = [iv for iv in intervals if abs(iv - med) <= self.outlier_ratio * med]
        if len(kept) < max(2, (len(intervals) + 1) // 2):   # most intervals must agree
            return
        period = median(kept)
        bpm = 60.0 / period
        if not (self.bpm_min <= bpm <= self.bpm_max):
            return
        # beat index of each tap on the grid (rounded), then the anchor that fits all taps best
        t0 = taps[-1]
        ks = [round((t - t0) / period) for t in taps]
        offsets = [t - k * period for t, k in zip(taps, ks)]
        good = [o for o in offsets if abs(o - t0) <= self.outlier_ratio * period]
        self.anchor_s = sum(good) / len(good) if good else t0
        self.bpm = bpm

    def beat_phase(self, *, t_s: float) -> float:
        """Position 0..1 within the tapped beat at time ``t_s`` (0 when no tempo is set)."""
        if not self.active:
            return 0.0
        x = (t_s - self.anchor_s) * self.bpm / 60.0
        return x - math.floor(x)

    def release(self) -> None:
        """Forget the tapped tempo (back to the beat tracker)."""
        self._taps.clear()
        self.bpm = 0.0
        self.anchor_s = -1.0
