#!/usr/bin/env python3
"""Compose, render, augment and annotate the training data of the neural beat/downbeat tracker.

Everything is made here, from seeds: no recorded audio and no MIDI from anywhere else.

* **Composition.** Two kinds of piece. (a) The styles of the evaluation set
  (``tools/make_beat_eval_set.py``: house, swung hip-hop, waltz, drum & bass, ramps, 6/8, reggae,
  funk, jazz, punk, ...) composed with *training* seeds (``100000 + i``, never the evaluation
  seeds 0..99) at tempi drawn from a range 15 % wider than the evaluation set's. (b) Randomised
  pieces (:func:`compose_random`): meters 4/4, 3/4, 6/8, 5/4, 7/4, 2/4; 50-200 BPM; straight,
  swung or shuffled; tempo constant, ramped (accelerando / ritardando), stepped or drifting;
  random drum patterns (four-on-the-floor, backbeat, half-time, breakbeat-like, sparse), fills
  before section changes, breaks without drums, drops (a silent beat then a crash on the one),
  intros without drums and whole pieces without drums; random General MIDI instruments and
  drum kits, chords played sustained, on the beat, off the beat or arpeggiated.
* **Rendering** with FluidSynth and one of several Debian General MIDI soundfonts per piece
  (``TRAIN_SOUNDFONTS``: FluidR3, TimGM6mb, the csound GM bank, OPL3 FM). MuseScore General is kept
  out of training: the never-tuned-on evaluation set is rendered with it.
* **Augmentation** (random per piece): playback speed 0.94-1.06 (pitch and tempo together; the
  labels follow), EQ (high-pass, low-pass, a boosted or cut band), compression, saturation, room
  reverb (0.2-2.5 s), the evaluation tool's club-microphone simulation, pink or white noise at
  5-40 dB SNR, and a level between -35 and -1 dBFS peak.
* **Labels** come from the MIDI tempo map, never from the (jittered) notes: beat and downbeat
  times. The beat is the tactus: quarter notes in x/4, dotted quarters in 6/8.

Output: one ``NAME.npz`` per piece with ``mel`` (hops, 40) float16, the analyzer's own log-mel
spectrum per 512-sample hop at 44.1 kHz (the exact front end of :class:`live.features.Analyzer`),
``beats`` and ``downbeats`` (seconds), plus ``manifest.json``.

    nice -n 10 python tools/make_beat_train_set.py --out .cache/beat_train --n 480 --seconds 30 --workers 2
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
import make_beat_eval_set as mk  # noqa: E402
from make_beat_eval_set import (CLAP, CRASH, HAT, KICK, LOW_TOM, OPEN_HAT, PEDAL_HAT, RIDE,  # noqa: E402
                                SHAKER, SIDESTICK, SNARE, TAMB, COWBELL, Composer, Harmony, Piece, TempoMap)

TRAIN_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",       # fluid-soundfont-gm
    "/usr/share/sounds/sf2/TimGM6mb.sf2",         # timgm6mb-soundfont
    "/usr/share/sounds/sf2/sf_GMbank.sf2",        # csound-soundfont
    "/usr/share/sounds/sf2/OPL-3_FM_128M.sf2",    # opl3-soundfont
)
HELDOUT_SOUNDFONT = "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"   # musescore-general-soundfont-small
TRAIN_SEED_BASE = 100000
SR = 44100
HOP = 512
HIGH_TOM, MID_TOM, FLOOR_TOM = 50, 47, 41
DRUM_KITS = (0, 0, 0, 8, 16, 24, 25, 32, 40)     # GM2 kits: standard, room, power, electronic, TR-808, jazz, brush

BASS_PROGS = (32, 33, 34, 35, 36, 38, 39, 43)
CHORD_PROGS = (0, 1, 2, 4, 5, 6, 7, 16, 17, 18, 19, 21, 24, 25, 26, 27, 29, 30, 46, 48, 49, 50, 52, 61, 62,
               88, 89, 90, 91, 94, 95)
LEAD_PROGS = (0, 8, 11, 12, 13, 40, 56, 64, 65, 66, 68, 71, 73, 74, 80, 81, 82, 84, 87, 105, 108)
METERS = (((4, 4), 0.5), ((3, 4), 0.14), ((6, 8), 0.1), ((5, 4), 0.08), ((7, 4), 0.06), ((2, 4), 0.05),
          ((12, 8), 0.07))


# ----------------------------------------------------------------------------- random composer
def _tempo_map(rng, qpm: float, seconds: float) -> tuple[TempoMap, str]:
    kind = rng.choice(["const", "ramp", "step", "drift", "rit"], p=[0.55, 0.14, 0.1, 0.11, 0.1])
    probe = TempoMap.constant(qpm)
    total_q = probe.q_of(seconds + 2.0) * 1.4
    if kind == "const":
        return TempoMap.constant(qpm), "constant"
    if kind == "ramp":
        f = float(rng.uniform(0.75, 1.35))
        s = float(round(probe.q_of(rng.uniform(2.0, seconds * 0.4))))
        e = s + max(4.0, float(round(probe.q_of(rng.uniform(5.0, seconds * 0.6)))))
        return TempoMap.ramp(qpm, qpm * f, start_q=s, end_q=e), f"ramp x{f:.2f}"
    if kind == "step":
        f = float(rng.choice([0.8, 0.85, 0.9, 1.1, 1.15, 1.2, 1.25, 0.75, 1.33]))
        at = 4.0 * round(probe.q_of(rng.uniform(seconds * 0.25, seconds * 0.7)) / 4.0)
        return TempoMap.step(qpm, qpm * f, at_q=max(4.0, at)), f"step x{f:.2f}"
    if kind == "drift":      # slow wandering tempo (a live band), one tempo event per quarter
        amp = float(rng.uniform(0.02, 0.07))
        per = float(rng.uniform(8.0, 30.0))
        pts = [(float(q), qpm * (1.0 + amp * math.sin(2 * math.pi * q / per + rng.uniform(0, 6.28) * (q == 0))))
               for q in range(int(total_q))]
        return TempoMap(pts), f"drift {amp:.2f}"
    # ritardando over the last part
    f = float(rng.uniform(0.6, 0.85))
    s = float(round(probe.q_of(seconds * rng.uniform(0.6, 0.8))))
    return TempoMap.ramp(qpm, qpm * f, start_q=s, end_q=s + float(round(probe.q_of(seconds * 0.25)))), f"rit x{f:.2f}"


def compose_random(rng: np.random.Generator, *, seconds: float, name: str, seed: int) -> Piece:
    """A randomised piece: meter, tempo curve, groove, sections, instruments all drawn from rng."""
    meters, pm = zip(*METERS)
    meter = meters[int(rng.choice(len(meters), p=np.array(pm) / sum(pm)))]
    compound = meter[1] == 8 and meter[0] % 3 == 0
    beat_q = 1.5 if compound else 4.0 / meter[1]
    bpb = meter[0] // 3 if compound else meter[0]
    bpm = float(np.exp(rng.uniform(np.log(42 if compound else 55), np.log(110 if compound else 200))))
    qpm = bpm * beat_q
    tm, tempo_note = _tempo_map(rng, qpm, seconds)
    swing = 0.5
    swing_unit = 0.5
    if not compound and rng.random() < 0.3:
        swing = float(rng.uniform(0.56, 0.69))
        swing_unit = 0.25 if (bpm < 110 and rng.random() < 0.6) else 0.5
    c = Composer(rng, tm, meter=meter, swing=swing, swing_unit_q=swing_unit,
                 jitter_ms=float(rng.uniform(1.0, 9.0)), drum_jitter_ms=float(rng.uniform(0.5, 6.0)))
    h = Harmony(rng)
    bar_q = c.bar_q
    nbars = int(math.ceil(tm.q_of(seconds + 1.0) / bar_q)) + 1
    sub = 3 if compound else (2 if rng.random() < 0.5 else 4)     # subdivisions per beat for patterns
    step_q = beat_q / sub
    steps = bpb * sub

    # ---- drum pattern (one groove + a variant)
    drums = rng.random() > 0.12
    feel = rng.choice(["floor", "backbeat", "half", "break", "sparse", "latin"], p=[0.2, 0.35, 0.1, 0.15, 0.1, 0.1])
    kick = np.zeros(steps)
    snare = np.zeros(steps)
    kick[0] = 1.0
    backbeats = [b for b in range(bpb) if b % 2 == 1] if bpb % 2 == 0 else \
        ([1, 2] if bpb == 3 and rng.random() < 0.5 else ([2] if bpb == 3 else [b for b in (1, 3, 5) if b < bpb]))
    if feel == "floor":
        kick[::sub] = 1.0
        snare[[b * sub for b in backbeats]] = 0.9
    elif feel == "backbeat":
        snare[[b * sub for b in backbeats]] = 1.0
        for s in range(1, steps):
            if s not in snare.nonzero()[0] and rng.random() < (0.3 if s % sub == 0 else 0.12):
                kick[s] = 0.8
    elif feel == "half":
        snare[(bpb // 2) * sub] = 1.0
        for s in range(1, steps):
            if rng.random() < 0.12:
                kick[s] = 0.75
    elif feel == "break":
        snare[[b * sub for b in backbeats]] = 1.0
        for s in range(1, steps):
            if rng.random() < 0.22:
                kick[s] = 0.85
            elif rng.random() < 0.1:
                snare[s] = 0.4
    elif feel == "sparse":
        if rng.random() < 0.5 and bpb > 2:
            snare[(bpb // 2) * sub] = 0.7
    else:   # latin-ish: clave-like kicks, rim clicks
        for s in range(1, steps):
            if rng.random() < 0.25:
                kick[s] = 0.7
        snare[[b * sub for b in backbeats]] = 0.6
    if rng.random() < 0.15:
        kick[0] = 0.0           # the one is not always kicked
    hat_every = int(rng.choice([1, 1, 2, sub])) if sub > 1 else 1
    hat_key = int(rng.choice([HAT, HAT, HAT, RIDE, SHAKER, PEDAL_HAT, OPEN_HAT, TAMB]))
    snare_key = int(rng.choice([SNARE, SNARE, CLAP, SIDESTICK]))
    kit = int(rng.choice(DRUM_KITS))
    crash_every = int(rng.choice([4, 8, 8, 16]))
    cowbell = rng.random() < 0.1
    vel_scale = float(rng.uniform(0.7, 1.0))

    # ---- sections: break bars (no drums), fills, drops, intro without drums
    intro = int(rng.choice([0, 0, 0, 1, 2, 4])) if drums else 0
    breaks = set()
    fills = set()
    drops = set()
    for b0 in range(intro, nbars, 8):
        r = rng.random()
        if r < 0.2:
            n = int(rng.integers(1, 5))
            breaks.update(range(b0 + 4, min(nbars, b0 + 4 + n)))
        if rng.random() < 0.45:
            fills.add(b0 + 7)
        if rng.random() < 0.15:
            drops.add(b0 + 8)

    def groove_bar(bar: int, q0: float) -> None:
        if bar in drops:
            c.drum(q0, CRASH, 110 * vel_scale)
        for s in range(steps):
            q = q0 + s * step_q
            if bar in fills and s >= steps // 2:
                if rng.random() < 0.85:
                    c.drum(q, int(rng.choice([SNARE, HIGH_TOM, MID_TOM, LOW_TOM, FLOOR_TOM])),
                           (70 + 40 * s / steps) * vel_scale)
                if s == steps // 2 and kick[s]:
                    c.drum(q, KICK, 100 * vel_scale)
                continue
            if kick[s]:
                c.drum(q, KICK, (85 + 30 * kick[s]) * vel_scale)
            if snare[s]:
                c.drum(q, snare_key, (60 + 50 * snare[s]) * vel_scale)
            if s % hat_every == 0:
                acc = 75 if s % sub == 0 else 52
                c.drum(q, hat_key, acc * vel_scale)
            if cowbell and s % sub == 0:
                c.drum(q, COWBELL, 60 * vel_scale)
        if bar % crash_every == 0 and bar not in drops:
            c.drum(q0, CRASH, 90 * vel_scale)

    # ---- harmony parts
    bass_prog = int(rng.choice(BASS_PROGS))
    chord_prog = int(rng.choice(CHORD_PROGS))
    lead_prog = int(rng.choice(LEAD_PROGS))
    chord_mode = rng.choice(["sustain", "beats", "offbeats", "arp", "stabs"])
    bass_mode = rng.choice(["root1", "beats", "eighths", "synco", "walk"])
    has_lead = rng.random() < 0.6
    for bar in range(nbars):
        q0 = bar * bar_q
        in_drop_gap = (bar + 1) in drops
        if drums and bar >= intro and bar not in breaks:
            groove_bar(bar, q0)
        tri = h.triad(bar)
        last_beat_gap = (bpb - 1) * beat_q if in_drop_gap else bar_q    # a drop: silence on the last beat
        if bass_mode == "root1":
            c.note("bass", q0, min(bar_q, last_beat_gap) * 0.9, h.bass(bar), 100, program=bass_prog)
        elif bass_mode == "beats":
            for b in range(bpb):
                if b * beat_q < last_beat_gap:
                    c.note("bass", q0 + b * beat_q, beat_q * 0.8, h.bass(bar) if b % 2 == 0 else h.fifth(bar), 95,
                           program=bass_prog)
        elif bass_mode == "eighths":
            for s in range(int(bar_q / 0.5)):
                if s * 0.5 < last_beat_gap:
                    c.note("bass", q0 + s * 0.5, 0.45, h.bass(bar) + (12 if rng.random() < 0.2 else 0),
                           100 if (s * 0.5) % beat_q == 0 else 82, program=bass_prog)
        elif bass_mode == "synco":
            c.note("bass", q0, 0.7, h.bass(bar), 105, program=bass_prog)
            for s in range(1, steps):
                if s * step_q < last_beat_gap and rng.random() < 0.2:
                    c.note("bass", q0 + s * step_q, step_q * 0.9, h.bass(bar) + int(rng.choice([0, 7, 12, 10])),
                           85, program=bass_prog)
        else:
            for b in range(bpb):
                if b * beat_q < last_beat_gap:
                    c.note("bass", q0 + b * beat_q, beat_q * 0.9, h.degree_pitch(h.prog[bar % len(h.prog)] + b, -1),
                           90, program=bass_prog)
        if chord_mode == "sustain":
            c.chord("chords", q0, min(bar_q, last_beat_gap) * 0.97, tri, 58, program=chord_prog)
        elif chord_mode == "beats":
            for b in range(bpb):
                if b * beat_q < last_beat_gap:
                    c.chord("chords", q0 + b * beat_q, beat_q * 0.7, tri, 70 if b == 0 else 60, program=chord_prog,
                            strum_q=0.015)
        elif chord_mode == "offbeats":
            for b in range(bpb):
                if b * beat_q + beat_q / 2 < last_beat_gap:
                    c.chord("chords", q0 + b * beat_q + beat_q / 2, beat_q * 0.3, tri, 66, program=chord_prog)
        elif chord_mode == "arp":
            seq = [tri[0], tri[1], tri[2], tri[1] + 12, tri[2], tri[1]]
            for s in range(steps):
                if s * step_q < last_beat_gap:
                    c.note("chords", q0 + s * step_q, step_q * 1.5, seq[s % len(seq)],
                           72 if s % sub == 0 else 55, program=chord_prog)
        else:
            for s in range(steps):
                if s * step_q < last_beat_gap and rng.random() < 0.25:
                    c.chord("chords", q0 + s * step_q, step_q * 0.8, tri, 70, program=chord_prog)
    if has_lead:
        mk.melody(c, h, rng, nbars, program=lead_prog, vel=float(rng.uniform(60, 85)),
                  density=float(rng.uniform(0.3, 0.7)), unit_q=float(rng.choice([0.5, 1.0, 0.25])))
    if "drums" in c.tracks:
        c.tracks["drums"].program = kit
    info = dict(notes=f"random {feel}, tempo {tempo_note}, swing {swing:.2f}, drums={drums}")
    c_tempo = tm
    return Piece(name, "random", bpm, bpm, meter, beat_q, c_tempo, c, info, seed)


def labels_for(piece: Piece, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    gt = mk.ground_truth_beats(piece, seconds)
    beats = np.array([t for t, _ in gt], dtype=np.float64)
    downs = np.array([t for t, pos in gt if pos == 1], dtype=np.float64)
    return beats, downs


# ----------------------------------------------------------------------------- augmentation
def _pink(rng, n):
    from scipy.signal import lfilter
    return lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                   [1.0, -2.494956002, 2.017265875, -0.522189400], rng.standard_normal(n))


def augment(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float, list[str]]:
    """x mono float -> (y, speed, what). speed > 1 plays faster (labels divide by it)."""
    from scipy.signal import butter, fftconvolve, resample_poly, sosfilt
    what = []
    speed = 1.0
    if rng.random() < 0.4:
        up = int(rng.integers(94, 107))
        if up != 100:
            x = resample_poly(x, 100, up)     # fewer samples at the same rate: faster by up/100
            speed = up / 100.0
            what.append(f"speed {speed:.2f}")
    y = x.astype(np.float64)
    if rng.random() < 0.3:
        y = sosfilt(butter(2, float(rng.uniform(25, 250)), "highpass", fs=SR, output="sos"), y)
        what.append("hp")
    if rng.random() < 0.35:
        y = sosfilt(butter(2, float(rng.uniform(2500, 15000)), "lowpass", fs=SR, output="sos"), y)
        what.append("lp")
    if rng.random() < 0.35:
        lo = float(np.exp(rng.uniform(np.log(60), np.log(6000))))
        band = sosfilt(butter(2, [lo, min(lo * 2.0, 20000.0)], "bandpass", fs=SR, output="sos"), y)
        y = y + float(rng.uniform(-0.7, 1.5)) * band
        what.append("eq")
    if rng.random() < 0.35:        # feed-forward compressor on a smoothed envelope
        from scipy.signal import lfilter
        a = math.exp(-1.0 / (SR * float(rng.uniform(0.02, 0.2))))
        env = np.sqrt(lfilter([1 - a], [1, -a], y * y) + 1e-12)
        thr = float(np.percentile(env, rng.uniform(40, 80)))
        ratio = float(rng.uniform(2, 8))
        gain = np.where(env > thr, (env / thr) ** (1.0 / ratio - 1.0), 1.0)
        y = y * gain
        what.append("comp")
    if rng.random() < 0.45:
        rt = float(rng.uniform(0.2, 2.5))
        n_ir = int(rt * SR)
        t = np.arange(n_ir) / SR
        ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t / rt)
        ir[: int(rng.uniform(0.003, 0.03) * SR)] = 0.0
        ir /= np.sqrt(np.sum(ir ** 2))
        wet = fftconvolve(y, ir)[: len(y)]
        y = y + float(rng.uniform(0.15, 0.8)) * wet * (np.std(y) / (np.std(wet) + 1e-12))
        what.append(f"reverb {rt:.1f}")
    if rng.random() < 0.12:
        y = mk.degrade_room(y[:, None].astype(np.float32), SR, seed=int(rng.integers(1 << 30)))[:, 0].astype(np.float64)
        what.append("club")
    if rng.random() < 0.4:
        snr = float(rng.uniform(5, 40))
        nz = _pink(rng, len(y)) if rng.random() < 0.6 else rng.standard_normal(len(y))
        nz *= np.sqrt(np.mean(y ** 2) / (np.mean(nz ** 2) + 1e-20)) * 10 ** (-snr / 20.0)
        y = y + nz
        what.append(f"noise {snr:.0f}dB")
    pk = float(np.max(np.abs(y))) or 1.0
    y = y / pk
    if rng.random() < 0.2:
        d = float(rng.uniform(1.5, 4.0))
        y = np.tanh(d * y) / math.tanh(d)
        what.append("sat")
    level_db = float(rng.uniform(-35, -1))
    y = y * 10 ** (level_db / 20.0)
    what.append(f"{level_db:.0f}dBFS")
    return y.astype(np.float32), speed, what


# ----------------------------------------------------------------------------- features
def logmel_frames(x: np.ndarray, sr: int = SR) -> np.ndarray:
    """(hops, 40) float32: the analyzer's log-mel spectrum for each 512-sample hop of mono x."""
    from live.features.analyzer import Analyzer
    an = Analyzer(sample_rate_hz=sr)
    hop = an.hop_size
    n = len(x) // hop
    out = np.zeros((n, an._mel_m.shape[0]), dtype=np.float32)
    buf = np.zeros(hop, dtype=np.float32)
    for i in range(n):
        buf[:] = x[i * hop:(i + 1) * hop]
        np.clip(buf, -1.0, 1.0, out=buf)
        y = an._hp(buf)
        spec = an._pvoc(y)
        np.log1p(an._mel_m @ spec.norm, out=out[i])
    return out


# ----------------------------------------------------------------------------- one piece
def render_mono(midi: Path, soundfont: str, seconds: float) -> np.ndarray:
    with tempfile.TemporaryDirectory() as td:
        raw = Path(td) / "r.wav"
        cmd = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-F", str(raw), "-T", "wav", "-O", "s16",
               "-r", str(SR), soundfont, str(midi)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0 or not raw.exists():
            raise RuntimeError(f"fluidsynth failed on {midi.name} with {soundfont}: {p.stderr.strip()[-300:]}")
        x, _ = mk.read_wav(raw)
    x = x.mean(axis=1)
    n = int(round(seconds * SR))
    if len(x) < n:
        x = np.concatenate([x, np.zeros(n - len(x), np.float32)])
    return x[:n]


def make_one(task: dict) -> dict:
    i, out, seconds, sfs = task["i"], Path(task["out"]), task["seconds"], task["soundfonts"]
    seed = TRAIN_SEED_BASE + i
    rng = np.random.default_rng([seed, 7])
    name = f"t{i:05d}"
    if rng.random() < 0.35:
        style = mk.PIECES[int(rng.integers(len(mk.PIECES)))]
        lo, hi = style[2]
        bpm = float(round(rng.uniform(lo * 0.85, hi * 1.15)))
        piece = mk.compose_piece(style[0], bpm=bpm, seconds=seconds, seed=seed, name=name)
    else:
        piece = compose_random(rng, seconds=seconds, name=name, seed=seed)
    sf = sfs[int(rng.integers(len(sfs)))]
    with tempfile.TemporaryDirectory() as td:
        mid = Path(td) / f"{name}.mid"
        mk.write_midi(piece, mid, seconds=seconds)
        x = render_mono(mid, sf, seconds)
    beats, downs = labels_for(piece, seconds)
    if float(np.max(np.abs(x))) < 1e-4:
        return dict(name=name, error="silent render")
    y, speed, what = augment(x, rng)
    beats, downs = beats / speed, downs / speed
    mel = logmel_frames(y)
    np.savez_compressed(out / f"{name}.npz", mel=mel.astype(np.float16), beats=beats, downbeats=downs)
    return dict(name=name, style=piece.style, meter=f"{piece.meter[0]}/{piece.meter[1]}", bpm=piece.bpm,
                soundfont=Path(sf).name, aug=what, notes=piece.info.get("notes", ""), hops=int(mel.shape[0]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=480)
    ap.add_argument("--start", type=int, default=0, help="first piece index (to extend a set)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    sfs = [s for s in TRAIN_SOUNDFONTS if os.path.isfile(s)]
    if len(sfs) < 2:
        print(f"error: need at least two of the training soundfonts {TRAIN_SOUNDFONTS} "
              f"(apt-get install fluid-soundfont-gm timgm6mb-soundfont csound-soundfont opl3-soundfont)",
              file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [dict(i=i, out=str(out), seconds=a.seconds, soundfonts=sfs) for i in range(a.start, a.start + a.n)
             if not (out / f"t{i:05d}.npz").exists()]
    t0 = time.perf_counter()
    man_p = out / "manifest.json"
    entries = json.loads(man_p.read_text())["pieces"] if man_p.exists() else []
    done = 0
    with ProcessPoolExecutor(max(1, a.workers)) as ex:
        for r in ex.map(make_one, tasks):
            entries.append(r)
            done += 1
            if done % 20 == 0:
                print(f"{done}/{len(tasks)} pieces, {time.perf_counter() - t0:.0f} s", flush=True)
                man_p.write_text(json.dumps(dict(seconds=a.seconds, soundfonts=sfs, pieces=entries), indent=1))
    man_p.write_text(json.dumps(dict(seconds=a.seconds, soundfonts=sfs, pieces=entries), indent=1))
    print(f"wrote {done} pieces to {out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
