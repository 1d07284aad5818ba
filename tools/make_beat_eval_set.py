#!/usr/bin/env python3
"""Compose, render and annotate a synthetic beat-tracking evaluation set.

Every piece is composed here from a seed (drums, bass, chords, melody with General MIDI
instruments, humanised velocities and a few ms of timing jitter), written as a type-1 MIDI
file with a real tempo map, rendered with the ``fluidsynth`` command and a Debian GM soundfont,
and annotated with ground-truth beats computed from that tempo map (not from the jittered notes).

What "beat" means here (the tactus a listener taps, as in common beat-annotated data sets):
  * 4/4 and 3/4: every quarter note (a waltz has 3 beats per bar);
  * 6/8: every dotted quarter (2 beats per bar), the same convention as
    ``pretty_midi.PrettyMIDI.get_beats`` for compound meters;
  * swing moves off-beat eighths/sixteenths late but never the beats themselves;
  * tempo ramps are written as a tempo event every quarter note, so beat times are exact.

Output folder: ``NAME.mid``, ``NAME.wav`` (44.1 kHz 16-bit stereo, peak -1 dBFS, trimmed to
--seconds), ``NAME.beats.txt`` (one beat per line: ``time_s  position_in_bar`` with 1 = downbeat,
the common "time beatnum" layout; mir_eval.io.load_events reads the first column) and
``manifest.json`` (name, style, bpm, bpm_end, meter, beat_unit, swing, drums, notes, files).

    python tools/make_beat_eval_set.py --out DIR [--n 16] [--seed 0] [--seconds 30] [--only house,waltz] [--room]

The set is deterministic for given arguments (same seed -> same MIDI; the audio depends only on
the fluidsynth build and soundfont).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1          # bump when composition or rendering changes (invalidates caches)
TPB = 480                      # MIDI ticks per quarter note
SAMPLE_RATE_HZ = 44100
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)

# General MIDI programs (0-based) and drum keys (channel 10)
P = dict(piano=0, epiano=4, clav=7, vibes=11, organ=16, accordion=21, nylon=24, clean_gtr=27,
         od_gtr=29, dist_gtr=30, ac_bass=32, finger_bass=33, slap_bass=36, synth_bass1=38,
         synth_bass2=39, strings=48, slow_strings=49, choir=52, brass=61, tuba=58, flute=73,
         saw_lead=81, pad_warm=89, pad_poly=90, pad_halo=94)
KICK, SIDESTICK, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
LOW_TOM, CRASH, RIDE, RIDE_BELL, TAMB, COWBELL, SHAKER = 45, 49, 51, 53, 54, 56, 70

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


class SetupError(RuntimeError):
    """fluidsynth or the soundfont is missing."""


def find_soundfont() -> str | None:
    env = os.environ.get("LATENT_LIVE_SOUNDFONT")
    for cand in ((env,) if env else ()) + SOUNDFONT_CANDIDATES:
        if cand and os.path.isfile(cand):
            return cand
    return None


def find_fluidsynth() -> str | None:
    return shutil.which("fluidsynth")


# ----------------------------------------------------------------------------- tempo map
@dataclass
class TempoMap:
    """Piecewise-constant tempo in quarter notes: ``points`` = [(start_q, qpm), ...] sorted."""
    points: list[tuple[float, float]]

    @staticmethod
    def constant(qpm: float) -> "TempoMap":
        return TempoMap([(0.0, float(qpm))])

    @staticmethod
    def ramp(qpm_a: float, qpm_b: float, *, start_q: float, end_q: float, step_q: float = 1.0) -> "TempoMap":
        pts = [(0.0, float(qpm_a))]
        n = max(1, int(round((end_q - start_q) / step_q)))
        for i in range(1, n + 1):
            pts.append((start_q + i * step_q - step_q, qpm_a + (qpm_b - qpm_a) * i / n))
        # first ramp step starts at start_q; dedupe equal starts (keep last)
        out: dict[float, float] = {}
        for q, t in pts:
            out[round(q, 6)] = t
        return TempoMap(sorted(out.items()))

    @staticmethod
    def step(qpm_a: float, qpm_b: float, *, at_q: float) -> "TempoMap":
        return TempoMap([(0.0, float(qpm_a)), (float(at_q), float(qpm_b))])

    def qpm_at(self, q: float) -> float:
        cur = self.points[0][1]
        for start, qpm in self.points:
            if start <= q + 1e-9:
                cur = qpm
            else:
                break
        return cur

    def time_of(self, q: float) -> float:
        """Seconds at quarter-note position q (q >= 0)."""
        t = 0.0
        pts = self.points
        for i, (start, qpm) in enumerate(pts):
            end = pts[i + 1][0] if i + 1 < len(pts) else math.inf
            if q <= end:
                return t + (q - start) * 60.0 / qpm
            t += (end - start) * 60.0 / qpm
        return t

    def q_of(self, t_s: float) -> float:
        """Inverse of time_of."""
        t = 0.0
        pts = self.points
        for i, (start, qpm) in enumerate(pts):
            end = pts[i + 1][0] if i + 1 < len(pts) else math.inf
            seg = (end - start) * 60.0 / qpm
            if t_s <= t + seg:
                return start + (t_s - t) * qpm / 60.0
            t += seg
        return pts[-1][0]


# ----------------------------------------------------------------------------- composer
@dataclass
class Track:
    name: str
    program: int
    is_drum: bool
    notes: list[tuple[float, float, int, int]] = field(default_factory=list)  # (q, dur_q, pitch, vel)


class Composer:
    """Collects notes in quarter-note units with swing, velocity humanising and timing jitter."""

    def __init__(self, rng: np.random.Generator, tempo: TempoMap, *, meter=(4, 4), swing: float = 0.5,
                 swing_unit_q: float = 0.5, jitter_ms: float = 4.0, drum_jitter_ms: float = 2.5):
        self.rng = rng
        self.tempo = tempo
        self.meter = meter
        self.swing = swing
        self.swing_unit_q = swing_unit_q
        self.jitter_ms = jitter_ms
        self.drum_jitter_ms = drum_jitter_ms
        self.tracks: dict[str, Track] = {}

    @property
    def bar_q(self) -> float:
        return self.meter[0] * 4.0 / self.meter[1]

    def track(self, name: str, program: int = 0, *, drum: bool = False) -> Track:
        if name not in self.tracks:
            self.tracks[name] = Track(name, program, drum)
        return self.tracks[name]

    def _swung(self, q: float) -> float:
        if abs(self.swing - 0.5) < 1e-9:
            return q
        u = self.swing_unit_q
        k = q / u
        if abs(k - round(k)) < 1e-6 and int(round(k)) % 2 == 1:
            pair = math.floor(q / (2 * u)) * 2 * u
            return pair + 2 * u * self.swing
        return q

    def note(self, name: str, q: float, dur_q: float, pitch: int, vel: float, *, program: int = 0,
             drum: bool = False, vel_sd: float = 7.0) -> None:
        tr = self.track(name, program, drum=drum)
        q = self._swung(q)
        jit_ms = self.drum_jitter_ms if drum else self.jitter_ms
        jit_s = float(np.clip(self.rng.normal(0.0, jit_ms), -2.5 * jit_ms, 2.5 * jit_ms)) / 1000.0
        q_j = max(0.0, q + jit_s * self.tempo.qpm_at(q) / 60.0)
        v = int(np.clip(round(vel + self.rng.normal(0.0, vel_sd)), 1, 127))
        tr.notes.append((q_j, max(dur_q, 0.05), int(pitch), v))

    def drum(self, q: float, key: int, vel: float, *, vel_sd: float = 6.0) -> None:
        self.note("drums", q, 0.2, key, vel, drum=True, vel_sd=vel_sd)

    def chord(self, name: str, q: float, dur_q: float, pitches, vel: float, *, program: int,
              strum_q: float = 0.0) -> None:
        for i, p in enumerate(pitches):
            self.note(name, q + i * strum_q, dur_q, p, vel, program=program)


class Harmony:
    """A key and a chord progression in scale degrees."""

    PROGS_MAJOR = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (0, 3, 0, 4), (5, 3, 0, 4))
    PROGS_MINOR = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2))

    def __init__(self, rng: np.random.Generator, *, minor: bool | None = None):
        self.root = 48 + int(rng.integers(0, 12))          # C3..B3
        self.minor = bool(rng.integers(0, 2)) if minor is None else minor
        self.scale = MINOR if self.minor else MAJOR
        progs = self.PROGS_MINOR if self.minor else self.PROGS_MAJOR
        self.prog = progs[int(rng.integers(0, len(progs)))]

    def degree_pitch(self, degree: int, octave: int = 0) -> int:
        o, d = divmod(degree, 7)
        return self.root + 12 * (o + octave) + self.scale[d]

    def triad(self, bar: int, octave: int = 1) -> list[int]:
        d = self.prog[bar % len(self.prog)]
        return [self.degree_pitch(d + k, octave) for k in (0, 2, 4)]

    def bass(self, bar: int, octave: int = -1) -> int:
        return self.degree_pitch(self.prog[bar % len(self.prog)], octave)

    def fifth(self, bar: int, octave: int = -1) -> int:
        return self.degree_pitch(self.prog[bar % len(self.prog)] + 4, octave)


def melody(c: Composer, h: Harmony, rng, nbars: int, *, program: int, vel: float = 80, octave: int = 2,
           density: float = 0.6, unit_q: float = 0.5, name: str = "melody") -> None:
    deg = 0
    for bar in range(nbars):
        q0 = bar * c.bar_q
        steps = int(round(c.bar_q / unit_q))
        for s in range(steps):
            if rng.random() > density:
                continue
            deg = int(np.clip(deg + rng.choice([-2, -1, -1, 0, 1, 1, 2]), -3, 9))
            dur = unit_q * (2 if rng.random() < 0.3 else 1)
            c.note(name, q0 + s * unit_q, dur * 0.95, h.degree_pitch(deg, octave), vel, program=program)


# ----------------------------------------------------------------------------- styles
# Each style: fn(c_args) -> builds into a Composer. Signature: (rng, bpm, seconds) -> (Composer, info)
def _bars_for(tempo: TempoMap, bar_q: float, seconds: float) -> int:
    return int(math.ceil(tempo.q_of(seconds + 1.0) / bar_q)) + 1


def style_house(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm)
    h = Harmony(rng, minor=True)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        for b in range(4):
            c.drum(q0 + b, KICK, 112)
            c.drum(q0 + b + 0.5, OPEN_HAT, 70)
            for s in (0.25, 0.75):
                c.drum(q0 + b + s, HAT, 45)
        c.drum(q0 + 1, CLAP, 95)
        c.drum(q0 + 3, CLAP, 95)
        for b in range(4):
            c.note("bass", q0 + b + 0.5, 0.4, h.bass(bar), 100, program=P["synth_bass1"])
        c.chord("pad", q0, 3.9, h.triad(bar), 55, program=P["pad_warm"])
        if bar % 2:
            c.chord("stab", q0 + 2.75, 0.3, h.triad(bar, 1), 75, program=P["epiano"])
    return c, dict(notes="four-on-the-floor kick, off-beat open hat and bass, clap on 2 and 4, pad")


def style_techno(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm)
    h = Harmony(rng, minor=True)
    n = _bars_for(tm, 4, seconds)
    acid = [int(rng.integers(0, 2)) for _ in range(16)]
    for bar in range(n):
        q0 = bar * 4.0
        for b in range(4):
            c.drum(q0 + b, KICK, 118)
            c.drum(q0 + b + 0.5, RIDE, 55)
        for s in range(16):
            c.drum(q0 + s * 0.25, HAT, 60 if s % 2 else 40)
        if bar % 4 == 3:
            c.drum(q0 + 3.5, CLAP, 80)
        for s in range(16):
            if acid[s]:
                c.note("acid", q0 + s * 0.25, 0.2, h.bass(0, 0) + (12 if s % 5 == 0 else 0), 90,
                       program=P["synth_bass2"])
    return c, dict(notes="four-on-the-floor, 16th hats, off-beat ride, 16th acid line, no chords")


def style_dnb(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm, jitter_ms=3)
    h = Harmony(rng, minor=True)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        c.drum(q0, KICK, 115)
        c.drum(q0 + 2.5, KICK, 105)
        c.drum(q0 + 1, SNARE, 112)
        c.drum(q0 + 3, SNARE, 112)
        if bar % 2:
            c.drum(q0 + 3.75, SNARE, 50)
            c.drum(q0 + 1.75, KICK, 90)
        for e in range(8):
            c.drum(q0 + e * 0.5, HAT, 70 if e % 2 == 0 else 50)
        c.note("reese", q0, 3.8, h.bass(bar, -1), 100, program=P["synth_bass2"])
        c.chord("pad", q0, 3.9, h.triad(bar), 45, program=P["pad_halo"])
    return c, dict(notes="two-step break: kick 1 and 3&, snare 2 and 4, reese bass; beats at the fast tempo")


def style_hiphop(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    swing = 0.62
    c = Composer(rng, tm, swing=swing, swing_unit_q=0.25)
    h = Harmony(rng, minor=True)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        c.drum(q0, KICK, 115)
        c.drum(q0 + 0.75, KICK, 85)
        c.drum(q0 + 2.5, KICK, 105)
        if bar % 2:
            c.drum(q0 + 2.25, KICK, 80)
        c.drum(q0 + 1, SNARE, 110)
        c.drum(q0 + 3, SNARE, 110)
        for s in range(16):
            if s % 2 == 0 or rng.random() < 0.5:
                c.drum(q0 + s * 0.25, HAT, 75 if s % 4 == 0 else 50)
        c.note("bass", q0, 0.7, h.bass(bar), 100, program=P["finger_bass"])
        c.note("bass", q0 + 0.75, 0.4, h.bass(bar), 85, program=P["finger_bass"])
        c.note("bass", q0 + 2.5, 1.0, h.fifth(bar), 95, program=P["finger_bass"])
        c.chord("keys", q0 + 0.25, 1.5, h.triad(bar), 60, program=P["epiano"])
        c.chord("keys", q0 + 2.75, 1.0, h.triad(bar), 55, program=P["epiano"])
    return c, dict(swing=swing, notes="boom-bap, swung 16ths (ratio 0.62), syncopated kick, Rhodes")


def style_rock(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm)
    h = Harmony(rng, minor=False)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        c.drum(q0, KICK, 115)
        c.drum(q0 + 2, KICK, 110)
        c.drum(q0 + 2.5, KICK, 95)
        c.drum(q0 + 1, SNARE, 115)
        c.drum(q0 + 3, SNARE, 115)
        if bar % 4 == 0:
            c.drum(q0, CRASH, 100)
        for e in range(8):
            c.drum(q0 + e * 0.5, HAT, 80 if e % 2 == 0 else 60)
        root = h.bass(bar, -1)
        for e in range(8):
            c.note("bass", q0 + e * 0.5, 0.45, root, 95, program=P["finger_bass"])
            c.chord("guitar", q0 + e * 0.5, 0.45, [root + 24, root + 31], 85, program=P["dist_gtr"])
    melody(c, h, rng, n, program=P["od_gtr"], vel=70, density=0.35, unit_q=1.0)
    return c, dict(notes="kick 1/3, snare 2/4, 8th hats, distorted power chords in 8ths")


def style_waltz(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm, meter=(3, 4))
    h = Harmony(rng, minor=False)
    n = _bars_for(tm, 3, seconds)
    for bar in range(n):
        q0 = bar * 3.0
        bass = h.bass(bar // 2, -1) if bar % 2 == 0 else h.fifth(bar // 2, -2)
        c.note("bass", q0, 0.9, bass, 100, program=P["tuba"])
        for b in (1, 2):
            c.chord("accordion", q0 + b, 0.5, h.triad(bar // 2), 70, program=P["accordion"])
        c.drum(q0, KICK, 80)
        c.drum(q0 + 1, SIDESTICK, 55)
        c.drum(q0 + 2, SIDESTICK, 50)
        c.drum(q0, PEDAL_HAT, 40)
    melody(c, h, rng, n, program=P["strings"], vel=75, density=0.7, unit_q=1.0)
    return c, dict(notes="3/4 oom-pah-pah (tuba on 1, accordion on 2 and 3), soft kick on 1; beat = quarter")


def style_six_eight(rng, bpm, seconds):
    # bpm = dotted-quarter beats per minute; tempo map in quarters: qpm = bpm * 1.5
    tm = TempoMap.constant(bpm * 1.5)
    c = Composer(rng, tm, meter=(6, 8))
    h = Harmony(rng, minor=None)
    n = _bars_for(tm, 3, seconds)
    for bar in range(n):
        q0 = bar * 3.0
        c.drum(q0, KICK, 105)
        c.drum(q0 + 1.5, SNARE, 100)
        if bar % 2:
            c.drum(q0 + 2.5, KICK, 80)
        for e in range(6):
            c.drum(q0 + e * 0.5, HAT, 70 if e % 3 == 0 else 50)
        tri = h.triad(bar)
        arp = [tri[0], tri[1], tri[2], tri[0] + 12, tri[2], tri[1]]
        for e in range(6):
            c.note("piano", q0 + e * 0.5, 0.6, arp[e], 70 if e % 3 == 0 else 58, program=P["piano"])
        c.note("bass", q0, 1.4, h.bass(bar), 95, program=P["ac_bass"])
        c.note("bass", q0 + 1.5, 1.4, h.fifth(bar), 85, program=P["ac_bass"])
    melody(c, h, rng, n, program=P["flute"], vel=70, density=0.5, unit_q=0.5)
    return c, dict(beat_unit="dotted quarter",
                   notes="6/8 ballad, piano arpeggio in 8ths; beat = dotted quarter (2 per bar), bpm counts those")


def style_ballad(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm, jitter_ms=6)
    h = Harmony(rng, minor=False)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        c.drum(q0, KICK, 90)
        c.drum(q0 + 2.5, KICK, 70)
        c.drum(q0 + 1, SIDESTICK, 75)
        c.drum(q0 + 3, SIDESTICK, 75)
        for e in range(8):
            c.drum(q0 + e * 0.5, HAT, 45 if e % 2 == 0 else 35)
        tri = h.triad(bar, 0)
        arp = [tri[0] - 12, tri[0], tri[1], tri[2], tri[0] + 12, tri[2], tri[1], tri[0]]
        for e in range(8):
            c.note("piano", q0 + e * 0.5, 0.9, arp[e], 62, program=P["piano"])
        c.chord("strings", q0, 3.9, h.triad(bar, 1), 45, program=P["slow_strings"])
        c.note("bass", q0, 1.9, h.bass(bar), 80, program=P["ac_bass"])
        c.note("bass", q0 + 2, 1.9, h.fifth(bar), 75, program=P["ac_bass"])
    melody(c, h, rng, n, program=P["flute"], vel=70, density=0.4, unit_q=1.0)
    return c, dict(notes="slow ballad: side-stick on 2 and 4, soft hats, piano arpeggios, strings")


def _pop_bar(c: Composer, h: Harmony, bar: int, q0: float):
    c.drum(q0, KICK, 112)
    c.drum(q0 + 1.5, KICK, 90)
    c.drum(q0 + 2, KICK, 108)
    c.drum(q0 + 1, SNARE, 110)
    c.drum(q0 + 3, SNARE, 110)
    for e in range(8):
        c.drum(q0 + e * 0.5, HAT, 72 if e % 2 == 0 else 55)
    if bar % 4 == 0:
        c.drum(q0, CRASH, 95)
    c.note("bass", q0, 1.4, h.bass(bar), 95, program=P["finger_bass"])
    c.note("bass", q0 + 1.5, 0.4, h.bass(bar), 80, program=P["finger_bass"])
    c.note("bass", q0 + 2, 1.9, h.fifth(bar), 90, program=P["finger_bass"])
    for b in range(4):
        c.chord("guitar", q0 + b, 0.8, h.triad(bar), 62, program=P["clean_gtr"], strum_q=0.02)


def style_pop_ramp(rng, bpm, seconds, bpm_end=None):
    bpm_end = bpm_end or bpm * 1.3
    # ramp over the middle of the piece: constant 4 s, ramp, constant tail
    probe = TempoMap.constant(bpm)
    start_q = round(probe.q_of(4.0))
    end_q = start_q + round(((seconds - 8.0) * (bpm + bpm_end) / 2.0) / 60.0)
    tm = TempoMap.ramp(bpm, bpm_end, start_q=start_q, end_q=end_q)
    c = Composer(rng, tm)
    h = Harmony(rng, minor=False)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        _pop_bar(c, h, bar, bar * 4.0)
    melody(c, h, rng, n, program=P["brass"], vel=72, density=0.4, unit_q=1.0)
    return c, dict(bpm_end=bpm_end, tempo=tm,
                   notes=f"pop beat, tempo ramps {bpm:.0f}->{bpm_end:.0f} BPM (a tempo event every beat)")


def style_step(rng, bpm, seconds, bpm_end=None):
    bpm_end = bpm_end or bpm * 1.25
    probe = TempoMap.constant(bpm)
    at_q = 4.0 * round(probe.q_of(seconds / 2.0) / 4.0)
    tm = TempoMap.step(bpm, bpm_end, at_q=at_q)
    c = Composer(rng, tm)
    h = Harmony(rng, minor=True)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        for b in range(4):
            c.drum(q0 + b, KICK, 110)
            c.drum(q0 + b + 0.5, OPEN_HAT, 65)
        c.drum(q0 + 1, SNARE, 100)
        c.drum(q0 + 3, SNARE, 100)
        for e in range(8):
            c.note("bass", q0 + e * 0.5, 0.4, h.bass(bar) + (12 if e % 2 else 0), 95, program=P["synth_bass1"])
        c.chord("strings", q0, 3.9, h.triad(bar), 55, program=P["strings"])
    return c, dict(bpm_end=bpm_end, tempo=tm,
                   notes=f"disco beat, tempo steps {bpm:.0f}->{bpm_end:.0f} BPM at a bar line mid-piece")


def style_reggae(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    swing = 0.56
    c = Composer(rng, tm, swing=swing, swing_unit_q=0.5, jitter_ms=5)
    h = Harmony(rng, minor=None)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        c.drum(q0 + 2, KICK, 105)             # one drop: kick + rim only on beat 3
        c.drum(q0 + 2, SIDESTICK, 95)
        for e in range(8):
            c.drum(q0 + e * 0.5, HAT, 55 if e % 2 == 0 else 40)
        for b in (1, 3):
            c.chord("skank", q0 + b, 0.25, h.triad(bar), 80, program=P["clean_gtr"])
            c.chord("organ", q0 + b + 0.5, 0.2, h.triad(bar), 50, program=P["organ"])
        c.note("bass", q0 + 0.5, 0.9, h.bass(bar), 100, program=P["finger_bass"])
        c.note("bass", q0 + 1.5, 0.4, h.fifth(bar), 85, program=P["finger_bass"])
        c.note("bass", q0 + 3.5, 0.4, h.bass(bar) + 12, 80, program=P["finger_bass"])
    return c, dict(swing=swing, notes="one-drop: kick only on beat 3, off-beat skank, syncopated bass (sparse)")


def style_funk(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm)
    h = Harmony(rng, minor=True)
    n = _bars_for(tm, 4, seconds)
    kick_pat = (0, 0.75, 1.5, 2.25, 2.75)
    bass_pat = [(0, 12), (0.75, 0), (1.25, 7), (1.5, 0), (2.25, 10), (2.75, 0), (3.5, 12)]
    for bar in range(n):
        q0 = bar * 4.0
        for k in kick_pat:
            c.drum(q0 + k, KICK, 105 if k == 0 else 88)
        c.drum(q0 + 1, SNARE, 110)
        c.drum(q0 + 3, SNARE, 110)
        for g in (0.5, 1.75, 2.5, 3.25):
            c.drum(q0 + g, SNARE, 35)
        for s in range(16):
            c.drum(q0 + s * 0.25, HAT, 65 if s % 2 == 0 else 45)
        for off, iv in bass_pat:
            c.note("bass", q0 + off, 0.2, h.bass(0) + iv, 100, program=P["slap_bass"])
        for off in (0.25, 1.25, 2.5, 3.75):
            c.chord("clav", q0 + off, 0.15, h.triad(bar % 2 and 3 or 0), 80, program=P["clav"])
    return c, dict(notes="syncopated funk: 16th kick pattern, ghost notes, slap bass, clav on off-16ths")


def style_piano(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm, jitter_ms=8)
    h = Harmony(rng, minor=False)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        tri = h.triad(bar, 0)
        alberti = [tri[0], tri[2], tri[1], tri[2]] * 2
        for e in range(8):
            c.note("piano_l", q0 + e * 0.5, 0.45, alberti[e], 58 if e % 2 else 66, program=P["piano"])
    melody(c, h, rng, n, program=P["piano"], vel=78, density=0.55, unit_q=0.5, name="piano_r")
    return c, dict(drums=False, notes="solo piano, Alberti bass in 8ths + melody, no drums, rubato-free")


def style_pad_arp(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm, jitter_ms=2)
    h = Harmony(rng, minor=True)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        tri = h.triad(bar, 1)
        seq = [tri[0], tri[1], tri[2], tri[1] + 12]
        for s in range(16):
            c.note("arp", q0 + s * 0.25, 0.2, seq[s % 4], 80 if s % 4 == 0 else 55, program=P["saw_lead"],
                   vel_sd=4)
        c.chord("pad", q0, 3.95, h.triad(bar, 0), 60, program=P["pad_poly"])
        c.note("bass", q0, 3.9, h.bass(bar), 80, program=P["synth_bass2"])
    return c, dict(drums=False, notes="no drums: pad, sustained bass, 16th saw arpeggio accented on beats")


def style_jazz(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    swing = 0.66
    c = Composer(rng, tm, swing=swing, swing_unit_q=0.5, jitter_ms=6)
    h = Harmony(rng, minor=False)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        for b in range(4):
            c.drum(q0 + b, RIDE, 80 if b % 2 else 70)
        c.drum(q0 + 1.5, RIDE, 60)
        c.drum(q0 + 3.5, RIDE, 60)
        c.drum(q0 + 1, PEDAL_HAT, 70)
        c.drum(q0 + 3, PEDAL_HAT, 70)
        if rng.random() < 0.3:
            c.drum(q0 + 3.5, SNARE, 50)
        walk = [h.bass(bar), h.degree_pitch(h.prog[bar % 4] + 2, -1), h.fifth(bar), h.bass(bar + 1) + 1]
        for b in range(4):
            c.note("bass", q0 + b, 0.9, walk[b], 90, program=P["ac_bass"])
        for off in (0.5, 2.5) if bar % 2 else (1.5,):
            c.chord("comp", q0 + off, 0.4, h.triad(bar, 1), 62, program=P["piano"])
    return c, dict(swing=swing, notes="jazz swing: ride 'ding ding-a', hi-hat on 2 and 4, walking bass")


def style_punk(rng, bpm, seconds):
    tm = TempoMap.constant(bpm)
    c = Composer(rng, tm, jitter_ms=5, drum_jitter_ms=4)
    h = Harmony(rng, minor=False)
    n = _bars_for(tm, 4, seconds)
    for bar in range(n):
        q0 = bar * 4.0
        for b in range(4):
            c.drum(q0 + b, KICK if b % 2 == 0 else SNARE, 115)
            c.drum(q0 + b, CRASH if (b == 0 and bar % 2 == 0) else HAT, 85)
        c.drum(q0 + 2.5, KICK, 95)
        root = h.bass(bar, -1)
        for e in range(8):
            c.note("bass", q0 + e * 0.5, 0.45, root, 100, program=P["finger_bass"])
            c.chord("guitar", q0 + e * 0.5, 0.45, [root + 24, root + 31, root + 36], 95, program=P["dist_gtr"])
    return c, dict(notes="fast punk: kick/snare alternating on the beats, 8th power chords")


# name, style, (bpm_lo, bpm_hi) in beats per minute, meter
PIECES = (
    ("house", style_house, (122, 128), (4, 4)),
    ("hiphop_swing", style_hiphop, (84, 94), (4, 4)),
    ("waltz", style_waltz, (132, 168), (3, 4)),
    ("dnb", style_dnb, (170, 176), (4, 4)),
    ("pop_ramp", style_pop_ramp, (96, 104), (4, 4)),
    ("piano_solo", style_piano, (88, 108), (4, 4)),
    ("rock", style_rock, (104, 136), (4, 4)),
    ("techno", style_techno, (128, 136), (4, 4)),
    ("six_eight", style_six_eight, (58, 72), (6, 8)),
    ("ballad", style_ballad, (60, 70), (4, 4)),
    ("tempo_step", style_step, (100, 108), (4, 4)),
    ("reggae_onedrop", style_reggae, (72, 80), (4, 4)),
    ("funk_synco", style_funk, (96, 108), (4, 4)),
    ("pad_arp_nodrums", style_pad_arp, (120, 138), (4, 4)),
    ("jazz_swing", style_jazz, (150, 200), (4, 4)),
    ("punk", style_punk, (180, 200), (4, 4)),
)
STYLE_BY_NAME = {p[0]: p for p in PIECES}
QUICK = ("house", "hiphop_swing", "waltz", "dnb", "pop_ramp", "piano_solo")


@dataclass
class Piece:
    name: str
    style: str
    bpm: float
    bpm_end: float
    meter: tuple[int, int]
    beat_unit_q: float
    tempo: TempoMap
    composer: Composer
    info: dict
    seed: int


def compose_piece(style: str, *, bpm: float | None = None, seconds: float = 30.0, seed: int = 0,
                  name: str | None = None, drums_only: bool = False) -> Piece:
    """Compose one piece of a named style. bpm = beats per minute (dotted quarters for 6/8)."""
    if style not in STYLE_BY_NAME:
        raise ValueError(f"unknown style {style!r}; choose from {', '.join(STYLE_BY_NAME)}")
    _, fn, (lo, hi), meter = STYLE_BY_NAME[style]
    rng = np.random.default_rng([seed, zlib_crc(style)])
    if bpm is None:
        bpm = float(round(rng.uniform(lo, hi)))
    c, info = fn(rng, float(bpm), float(seconds))
    if drums_only:
        c.tracks = {k: v for k, v in c.tracks.items() if v.is_drum}
    beat_unit_q = 1.5 if meter[1] == 8 and meter[0] % 3 == 0 else 4.0 / meter[1]
    tempo = info.pop("tempo", c.tempo)
    bpm_end = float(info.pop("bpm_end", bpm))
    return Piece(name or style, style, float(bpm), bpm_end, meter, beat_unit_q, tempo, c, info, seed)


def zlib_crc(s: str) -> int:
    import zlib
    return zlib.crc32(s.encode())


def ground_truth_beats(piece: Piece, seconds: float) -> list[tuple[float, int]]:
    """(time_s, position in bar 1..N) for every beat before `seconds`, from the tempo map."""
    per_bar = int(round(piece.composer.bar_q / piece.beat_unit_q))
    out = []
    k = 0
    while True:
        t = piece.tempo.time_of(k * piece.beat_unit_q)
        if t >= seconds - 1e-9:
            break
        out.append((t, k % per_bar + 1))
        k += 1
    return out


def write_midi(piece: Piece, path: Path, *, seconds: float) -> None:
    import mido
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name=piece.name, time=0))
    num, den = piece.meter
    meta.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    last = 0
    for q, qpm in piece.tempo.points:
        tick = int(round(q * TPB))
        meta.append(mido.MetaMessage("set_tempo", tempo=int(round(60_000_000 / qpm)), time=tick - last))
        last = tick
    mid.tracks.append(meta)
    end_q = piece.tempo.q_of(seconds + 0.5)
    chan = 0
    for tr in piece.composer.tracks.values():
        if tr.is_drum:
            ch = 9
        else:
            ch = chan if chan < 9 else chan + 1
            chan += 1
        mt = mido.MidiTrack()
        mt.append(mido.MetaMessage("track_name", name=tr.name, time=0))
        events = []
        if not tr.is_drum or tr.program:      # a drum track with a program picks a GM drum kit
            events.append((0, 0, mido.Message("program_change", channel=ch, program=tr.program)))
        for q, dur, pitch, vel in tr.notes:
            if q >= end_q:
                continue
            on = int(round(q * TPB))
            off = max(on + 1, int(round(min(q + dur, end_q + 1.0) * TPB)))
            events.append((on, 2, mido.Message("note_on", channel=ch, note=pitch, velocity=vel)))
            events.append((off, 1, mido.Message("note_off", channel=ch, note=pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        last = 0
        for tick, _, msg in events:
            mt.append(msg.copy(time=tick - last))
            last = tick
        mid.tracks.append(mt)
    mid.save(str(path))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(samples (n, channels) float32 in [-1, 1], sample_rate_hz) for 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as w:
        sr, ch, sw, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        raw = w.readframes(n)
    if sw != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * sw}-bit")
    x = np.frombuffer(raw, dtype="<i2").reshape(-1, ch).astype(np.float32) / 32768.0
    return x, sr


def write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    x = np.atleast_2d(x.T).T
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def degrade_room(x: np.ndarray, sr: int, *, seed: int) -> np.ndarray:
    """A mic in a club: band-limited PA (60 Hz-9 kHz), 0.9 s reverb tail, pink noise at 20 dB SNR,
    soft clipping. x (n, channels) float32 -> same shape. The direct sound keeps its timing, so the
    ground truth does not move."""
    from scipy.signal import butter, fftconvolve, lfilter, sosfilt
    rng = np.random.default_rng(seed)
    y = sosfilt(butter(2, [60, 9000], "band", fs=sr, output="sos"), x, axis=0)
    n_ir = int(0.9 * sr)
    t = np.arange(n_ir) / sr
    ir = rng.standard_normal((n_ir, y.shape[1])) * np.exp(-6.9 * t / 0.9)[:, None]
    ir[: int(0.015 * sr)] = 0.0                                  # 15 ms pre-delay
    ir /= np.sqrt(np.sum(ir ** 2, axis=0, keepdims=True))
    wet = np.stack([fftconvolve(y[:, c], ir[:, c])[: len(y)] for c in range(y.shape[1])], axis=1)
    y = y + 0.5 * wet
    pink = lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],      # 1/f filter
                   [1.0, -2.494956002, 2.017265875, -0.522189400], rng.standard_normal(y.shape), axis=0)
    pink *= np.sqrt(np.mean(y ** 2) / np.mean(pink ** 2)) * 10 ** (-20.0 / 20.0)
    y = y + pink
    y /= np.max(np.abs(y)) or 1.0
    return (np.tanh(2.0 * y) / np.tanh(2.0)).astype(np.float32)


def render(midi_path: Path, wav_path: Path, *, seconds: float, soundfont: str, fluidsynth: str,
           sample_rate_hz: int = SAMPLE_RATE_HZ, room_seed: int | None = None) -> None:
    raw = wav_path.with_suffix(".raw.wav")
    cmd = [fluidsynth, "-ni", "-q", "-g", "0.5", "-F", str(raw), "-T", "wav", "-O", "s16",
           "-r", str(sample_rate_hz), soundfont, str(midi_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not raw.exists():
        raise RuntimeError(f"fluidsynth failed on {midi_path.name}: {proc.stderr.strip()[-300:]}")
    x, sr = read_wav(raw)
    raw.unlink()
    n = int(round(seconds * sr))
    if x.shape[0] < n:
        x = np.concatenate([x, np.zeros((n - x.shape[0], x.shape[1]), np.float32)])
    x = x[:n].copy()
    if room_seed is not None:
        x = degrade_room(x, sr, seed=room_seed)
    fade = min(n, int(0.05 * sr))
    x[n - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    peak = float(np.max(np.abs(x))) or 1.0
    x *= 10 ** (-1.0 / 20.0) / peak
    write_wav(wav_path, x, sr)


def plan(*, n: int, seed: int, only: list[str] | None = None) -> list[tuple[str, str, int]]:
    """[(piece_name, style, piece_seed)]: the first n of the style list, cycling with new seeds."""
    styles = only or [p[0] for p in PIECES]
    out = []
    for i in range(n if not only else len(styles)):
        style = styles[i % len(styles)]
        rnd = i // len(styles)
        name = style if rnd == 0 else f"{style}_{rnd + 1}"
        out.append((name, style, seed * 1000 + rnd))
    return out


def make_set(out_dir, *, n: int = 16, seed: int = 0, seconds: float = 30.0, only: list[str] | None = None,
             bpm: float | None = None, drums_only: bool = False, room: bool = False, workers: int = 2,
             soundfont: str | None = None, log=print) -> dict:
    """Compose + render + annotate a set into out_dir; returns the manifest dict.

    Raises SetupError when fluidsynth or a GM soundfont is missing.
    """
    fs, sf = find_fluidsynth(), soundfont or find_soundfont()
    if soundfont and not os.path.isfile(soundfont):
        raise SetupError(f"soundfont {soundfont} not found")
    if not fs:
        raise SetupError("fluidsynth not found: install it (apt-get install fluidsynth)")
    if not sf:
        raise SetupError("no GM soundfont found: apt-get install fluid-soundfont-gm "
                         "(or set LATENT_LIVE_SOUNDFONT=/path/to.sf2)")
    if only:
        bad = [s for s in only if s not in STYLE_BY_NAME]
        if bad:
            raise ValueError(f"unknown style(s) {', '.join(bad)}; choose from {', '.join(STYLE_BY_NAME)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    entries = []
    jobs = []
    for name, style, pseed in plan(n=n, seed=seed, only=only):
        piece = compose_piece(style, bpm=bpm, seconds=seconds, seed=pseed, name=name, drums_only=drums_only)
        mid, wav, beats_p = out / f"{name}.mid", out / f"{name}.wav", out / f"{name}.beats.txt"
        write_midi(piece, mid, seconds=seconds)
        gt = ground_truth_beats(piece, seconds)
        beats_p.write_text("".join(f"{t:.6f}\t{pos}\n" for t, pos in gt))
        info = dict(piece.info)
        entries.append(dict(
            name=name, style=style, seed=pseed, bpm=piece.bpm, bpm_end=piece.bpm_end,
            meter=f"{piece.meter[0]}/{piece.meter[1]}",
            beat_unit=info.pop("beat_unit", "quarter"), swing=float(info.pop("swing", 0.5)),
            drums=bool(info.pop("drums", True)) and True, notes=info.pop("notes", ""),
            wav=wav.name, midi=mid.name, beats=beats_p.name, n_beats=len(gt), seconds=seconds))
        jobs.append((mid, wav, pseed))
    with ThreadPoolExecutor(max(1, workers)) as ex:
        list(ex.map(lambda j: render(j[0], j[1], seconds=seconds, soundfont=sf, fluidsynth=fs,
                                     room_seed=j[2] if room else None), jobs))
    manifest = dict(generator_version=GENERATOR_VERSION, seed=seed, n=len(entries), seconds=seconds, room=room,
                    sample_rate_hz=SAMPLE_RATE_HZ, soundfont=sf,
                    beat_definition="4/4, 3/4: quarter notes; 6/8: dotted quarters; from the MIDI tempo map",
                    pieces=entries)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    log(f"wrote {len(entries)} pieces x {seconds:g} s to {out} in {time.perf_counter() - t0:.1f} s")
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--n", type=int, default=len(PIECES), help=f"number of pieces (default {len(PIECES)}; "
                    "more cycles through the styles with new seeds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--only", default="", help="comma-separated styles: " + ",".join(STYLE_BY_NAME))
    ap.add_argument("--quick", action="store_true", help="only the quick subset: " + ",".join(QUICK))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--soundfont", default=None, help="render with this .sf2/.sf3 (default: FluidR3 GM)")
    ap.add_argument("--room", action="store_true", help="degrade like a mic in a club: band-limit, "
                    "reverb, pink noise at 20 dB SNR, soft clip (ground truth unchanged)")
    a = ap.parse_args(argv)
    only = [s for s in a.only.split(",") if s] or (list(QUICK) if a.quick else None)
    try:
        make_set(a.out, n=a.n, seed=a.seed, seconds=a.seconds, only=only, room=a.room, workers=a.workers,
                 soundfont=a.soundfont)
    except (SetupError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
