"""The value types that travel between the rooms of latent-live.

Every value here is immutable and timestamped with the *audio clock*: seconds since the
stream started, derived from the sample counter, never from wall time. Events (onsets,
beats) travel as monotonically increasing counters plus the time of the last one, so a
reader that skips frames never loses an event: it compares counters.

Hand-off between threads is "latest wins": a producer publishes by rebinding one
reference to a new object of these types (see :class:`Latest`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Generic, Optional, TypeVar

import numpy as np

PITCH_CLASSES: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
"""Chroma bin names. Bin 0 is C, bin 9 is A (440 Hz reference)."""


def _frozen_array(values, *, dtype=np.float32, shape=None) -> np.ndarray:
    arr = np.array(values, dtype=dtype, copy=True)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"expected shape {shape}, got {arr.shape}")
    arr.flags.writeable = False
    return arr


_ZERO_CHROMA = _frozen_array(np.zeros(12), shape=(12,))


@dataclass(frozen=True, slots=True)
class FeatureFrame:
    """Audio features of one analysis hop, published by the analyzer.

    ``t`` is the audio time (s) at the *end* of the hop that produced this frame, which is
    the earliest moment the information could be known (causal).

    Levels come twice, as in projectM/MilkDrop: ``bass`` is the raw band level in 0..1
    and ``bass_att`` the self-normalised level that hovers around 1.0 against its own
    running average, so quiet and loud rooms drive the visuals alike.
    """

    t: float = 0.0                 # audio clock, s, end of hop
    hop_index: int = 0             # number of hops analysed before this one
    rms: float = 0.0               # linear RMS of the hop, 0..1
    loudness_db: float = -120.0    # RMS in dBFS
    bass: float = 0.0              # raw band levels, 0..1
    mid: float = 0.0
    treble: float = 0.0
    bass_att: float = 1.0          # self-normalised band levels, ~1.0 on average
    mid_att: float = 1.0
    treble_att: float = 1.0
    onset: float = 0.0             # onset strength of this hop, 0..1 (normalised)
    onset_count: int = 0           # monotonic count of detected onsets
    last_onset_t: float = -1.0     # audio time of the latest onset, -1 if none yet
    bpm: float = 0.0               # current tempo, 0 when unknown
    bpm_confidence: float = 0.0    # 0..1
    tempo_source: str = "none"     # tracker | tap | manual | link | midi | none (the show clock's, live.clock)
    beat_count: int = 0            # monotonic count of beats
    last_beat_t: float = -1.0      # audio time of the latest beat, -1 if none yet
    beat_phase: float = 0.0        # 0..1 position within the current beat
    bar_phase: float = 0.0         # 0..1 position within the current bar
    beats_per_bar: int = 4
    beat_in_bar: int = 0           # position of the latest beat in its bar, 1 = downbeat, 0 = none yet
    chroma: np.ndarray = field(default_factory=lambda: _ZERO_CHROMA)  # (12,) float32, max-normalised, bin 0 = C
    centroid_hz: float = 0.0       # spectral centroid, Hz

    @property
    def dominant_pitch_class(self) -> int:
        """Index (0 = C .. 11 = B) of the strongest chroma bin, -1 in silence."""
        if not np.any(self.chroma > 0):
            return -1
        return int(np.argmax(self.chroma))

    def to_dict(self) -> dict:
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["chroma"] = [round(float(x), 5) for x in self.chroma]
        return d


SILENT_FRAME = FeatureFrame()

SKIPPED_ONSET_STRENGTH = 0.8
"""Strength a reader gives a new onset when the hop it reads reports (almost) none: the onset
was counted in a hop the reader skipped, and detected onsets are strong."""


def new_onset_strength(f: FeatureFrame) -> float:
    """The strength a reader (motion, the renderer) gives an onset it sees for the first time
    in ``f`` (its ``onset_count`` moved): this hop's strength, or SKIPPED_ONSET_STRENGTH when
    that is 0.05 or less. One rule for every reader."""
    return min(float(f.onset), 1.0) if f.onset > 0.05 else SKIPPED_ONSET_STRENGTH


@dataclass(frozen=True, slots=True)
class Beat:
    """Where the beat and the bar are, published by ``live.clock`` (one per analysis hop).

    ``position`` is the clock's own continuous beat count (beats since it started; an integer
    is a beat). It never jumps: when the tempo source changes, the clock glides onto the new
    source's phase. ``beat_count`` and ``downbeat_count`` only grow. ``next_beat_t`` is the
    audio time of the next beat on the current grid, for scheduling; :meth:`ahead` gives the
    state a little later on the same grid (what the eye should see once the picture arrives).
    """

    t: float = 0.0                 # audio clock, s: the time this state is for
    bpm: float = 0.0               # 0 while no tempo has ever been known
    confidence: float = 0.0        # 0..1 (the source's own; 0 while free-running)
    source: str = "none"           # manual | tap | link | midi | tracker | none (free-running)
    beat_count: int = 0            # monotonic count of beats
    last_beat_t: float = -1.0      # audio time of the latest beat, -1 if none yet
    beat_phase: float = 0.0        # 0..1 position within the current beat
    bar_phase: float = 0.0         # 0..1 position within the current bar
    beats_per_bar: int = 4
    downbeat_count: int = 0        # monotonic count of bar starts
    next_beat_t: float = -1.0      # audio time of the next beat, -1 while no tempo
    playing: bool = True           # False while the source's transport is stopped (phase held)
    position: float = 0.0          # continuous beat position (beat_count + beat_phase on this grid)
    bar_offset: float = 0.0        # positions p with (p - bar_offset) % beats_per_bar == 0 are downbeats

    def ahead(self, dt_s: float) -> "Beat":
        """The state ``dt_s`` seconds later on this grid (same tempo), counters included.

        Beat-locked effects read ``beat.ahead(eye_delay)`` so that a flash drawn now reaches
        the eye on the beat rather than one pipeline-latency after it.
        """
        if dt_s == 0.0 or self.bpm <= 0.0 or not self.playing:
            return self if dt_s == 0.0 else _replace(self, t=self.t + dt_s)
        spb = 60.0 / self.bpm
        pos = self.position + dt_s / spb
        t = self.t + dt_s
        return beat_at_position(t, pos, bpm=self.bpm, confidence=self.confidence, source=self.source,
                                beats_per_bar=self.beats_per_bar, bar_offset=self.bar_offset,
                                playing=True, beat_count=self.beat_count,
                                downbeat_count=self.downbeat_count)


def _replace(obj, **changes):
    import dataclasses
    return dataclasses.replace(obj, **changes)


def beat_at_position(t: float, position: float, *, bpm: float, confidence: float, source: str,
                     beats_per_bar: int, bar_offset: float, playing: bool, beat_count: int = 0,
                     downbeat_count: int = 0) -> Beat:
    """A :class:`Beat` for grid ``position`` at audio time ``t`` (counters never go back)."""
    import math
    bpb = max(int(beats_per_bar), 1)
    fl = math.floor(position)
    phase = position - fl
    bars = (position - bar_offset) / bpb
    bar_fl = math.floor(bars)
    if bpm > 0.0:
        spb = 60.0 / bpm
        last_beat_t = t - phase * spb
        next_beat_t = t + (1.0 - phase) * spb
    else:
        last_beat_t = next_beat_t = -1.0
    return Beat(t=t, bpm=bpm, confidence=confidence, source=source,
                beat_count=max(int(beat_count), int(fl)), last_beat_t=last_beat_t if fl >= 0 else -1.0,
                beat_phase=phase, bar_phase=bars - bar_fl, beats_per_bar=bpb,
                downbeat_count=max(int(downbeat_count), int(bar_fl)), next_beat_t=next_beat_t,
                playing=playing, position=position, bar_offset=bar_offset)


@dataclass(frozen=True, slots=True)
class GenControl:
    """Where in latent space the generator should be, produced by ``live.motion``.

    The generator holds the bank; the control names entries by index. The latent to
    render is ``slerp(bank[entry_a], bank[entry_b], alpha)`` pushed by ``pulse`` along the
    bank's precomputed random direction number ``pulse_dir``.
    """

    bank: str = "default"
    entry_a: int = 0
    entry_b: int = 0
    alpha: float = 0.0             # slerp position 0..1 from a to b
    pulse: float = 0.0             # onset push amount, 0..1
    pulse_dir: int = 0             # which precomputed random direction to push along
    steps: int = 1                 # sampler steps (lcm)
    seed: int = 0
    feedback: float = 0.0          # lcm image-feedback blend 0..1
    t: float = 0.0                 # audio time this control was computed for, s


@dataclass(frozen=True, slots=True)
class Frame:
    """One generated picture. ``pixels`` is H x W x 3, uint8 (or float16 in 0..1), read-only."""

    pixels: np.ndarray
    control: GenControl
    gen_ms: float = 0.0            # time the generator spent on it, ms
    index: int = 0                 # generator frame counter

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


T = TypeVar("T")


class Latest(Generic[T]):
    """Latest-wins hand-off of immutable values between threads.

    ``publish`` rebinds one reference (atomic under the GIL); ``get`` reads it without a
    lock. ``version`` counts publications so a reader can tell whether anything is new.
    ``wait_newer`` lets a consumer that *may* block (never the GL thread) sleep until a
    newer value arrives.
    """

    __slots__ = ("_value", "_version", "_cond")

    def __init__(self, value: Optional[T] = None):
        self._value = value
        self._version = 0
        self._cond = threading.Condition(threading.Lock())

    def publish(self, value: T) -> None:
        self._value = value
        self._version += 1
        if self._cond.acquire(blocking=False):
            try:
                self._cond.notify_all()
            finally:
                self._cond.release()

    def get(self) -> Optional[T]:
        return self._value

    @property
    def version(self) -> int:
        return self._version

    def wait_newer(self, version: int, timeout_s: float) -> bool:
        """Block until ``self.version > version`` or the timeout passes; True if newer."""
        with self._cond:
            return self._cond.wait_for(lambda: self._version > version, timeout=timeout_s)
