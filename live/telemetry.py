"""Timings and counters of a running show: per-stage rolling times, frames, errors, notes.

Each field is written by one thread only (the stage it measures) and read by the HUD, the
status messages and the benchmarks. Shared by the live show, the offline render and the
assembly (bank notes)."""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("live.app")


class RollingTimes:
    """Fixed-size ring of durations (ms) with percentiles; no allocation per ``add``."""

    def __init__(self, size: int = 600):
        self._buf = np.zeros(size, dtype=np.float64)
        self._n = 0

    def add(self, ms: float) -> None:
        self._buf[self._n % self._buf.size] = ms
        self._n += 1

    @property
    def count(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        return self._buf[: min(self._n, self._buf.size)]

    def percentile(self, q: float) -> float:
        v = self.values()
        return float(np.percentile(v, q)) if v.size else 0.0


@dataclass
class Telemetry:
    """Per-stage timings and counters of a running show (written by their own thread only)."""

    frame_ms: RollingTimes = field(default_factory=RollingTimes)
    analysis_ms: RollingTimes = field(default_factory=lambda: RollingTimes(2000))
    gen_ms: RollingTimes = field(default_factory=lambda: RollingTimes(200))
    gen_frame_times: deque = field(default_factory=lambda: deque(maxlen=60))
    frames_drawn: int = 0
    late_frames: int = 0          # display frames over the 40 ms budget
    gen_frames: int = 0
    gen_errors: int = 0
    fallbacks: int = 0
    bank_errors: int = 0
    messages: deque = field(default_factory=lambda: deque(maxlen=8))

    def gen_fps(self) -> float:
        ts = self.gen_frame_times
        if len(ts) < 2 or ts[-1] <= ts[0]:
            return 0.0
        return (len(ts) - 1) / (ts[-1] - ts[0])

    def note(self, text: str) -> None:
        """A message for the HUD and the log."""
        self.messages.append((time.monotonic(), text))
        log.warning(text)
