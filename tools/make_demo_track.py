#!/usr/bin/env python3
"""Synthesize the bundled demo track: a short, deterministic 4/4 beat with known beat times.

    python tools/make_demo_track.py --out demo/demo_beat.wav --beats-out demo/demo_beat.beats.txt

Kick on every beat, snare on 2 and 4, closed hats on eighths with an open hat on the
offbeat of beat 4, an eighth-note bass line following the chords, and a soft detuned pad
playing Am - F - C - G (one chord per bar). Everything comes from numpy and a fixed seed,
so the same arguments give the same bytes. Written as 16-bit stereo WAV with the stdlib
``wave`` module; the beats file has one beat time in seconds per line (mir_eval's format),
the first beat at 0.0 s.
"""
from __future__ import annotations

import argparse
import sys
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE_HZ = 44100

# (root MIDI note of the bass, chord tones as MIDI notes), one chord per bar: Am F C G
PROGRESSION = (
    (45, (57, 60, 64, 67)),   # A2 | A3 C4 E4 G4  (Am7)
    (41, (57, 60, 65, 69)),   # F2 | A3 C4 F4 A4  (F)
    (48, (55, 60, 64, 67)),   # C3 | G3 C4 E4 G4  (C)
    (43, (55, 59, 62, 67)),   # G2 | G3 B3 D4 G4  (G)
)
BASS_PATTERN = (0, 0, 12, 0, 0, 7, 12, 0)   # semitones above the root, one per eighth note


def midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def lowpass(x: np.ndarray, cutoff_hz: float, *, order: int = 2, sr: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Zero-phase Butterworth-shaped low-pass in the frequency domain (fine for synthesis)."""
    n = len(x)
    nfft = 1 << max(0, (n - 1).bit_length())          # power of two: fast FFT at any note length
    spec = np.fft.rfft(x, nfft)
    f = np.fft.rfftfreq(nfft, 1.0 / sr)
    spec *= 1.0 / np.sqrt(1.0 + (f / cutoff_hz) ** (2 * order))
    return np.fft.irfft(spec, nfft)[:n]


def highpass(x: np.ndarray, cutoff_hz: float, *, order: int = 2, sr: int = SAMPLE_RATE_HZ) -> np.ndarray:
    return x - lowpass(x, cutoff_hz, order=order, sr=sr)


def saw(freq_hz: float, n: int, *, phase: float = 0.0, sr: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Band-limited sawtooth (harmonics below 8 kHz) read from a one-period wavetable."""
    size = 4096
    k = np.arange(1, max(2, min(40, int(8000.0 // freq_hz))) + 1)
    theta = 2 * np.pi * np.arange(size) / size
    table = (np.sin(np.outer(theta, k) + k * phase) / k).sum(axis=1) * (2.0 / np.pi)
    pos = (np.arange(n) * (freq_hz * size / sr)) % size
    i = pos.astype(np.int64)
    frac = pos - i
    return table[i] * (1.0 - frac) + table[(i + 1) % size] * frac


def kick(sr: int = SAMPLE_RATE_HZ) -> np.ndarray:
    n = int(0.45 * sr)
    t = np.arange(n) / sr
    freq = 45.0 + 105.0 * np.exp(-t / 0.035)             # 150 Hz -> 45 Hz sweep
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = np.sin(phase) * np.exp(-t / 0.16)
    click = np.exp(-t / 0.002) * 0.6
    return np.tanh(1.6 * (body + click)) * 0.95


def snare(rng: np.random.Generator, sr: int = SAMPLE_RATE_HZ) -> np.ndarray:
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    noise = highpass(rng.standard_normal(n), 1500.0) * np.exp(-t / 0.07)
    body = np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.05)
    return 0.35 * noise / np.max(np.abs(noise)) + 0.45 * body


def hat(rng: np.random.Generator, *, decay_s: float, sr: int = SAMPLE_RATE_HZ) -> np.ndarray:
    n = int((decay_s * 6) * sr)
    t = np.arange(n) / sr
    noise = highpass(rng.standard_normal(n), 7000.0, order=4)
    return 0.25 * noise / np.max(np.abs(noise)) * np.exp(-t / decay_s)


def bass_note(note: int, length_s: float, sr: int = SAMPLE_RATE_HZ) -> np.ndarray:
    n = int(length_s * sr)
    t = np.arange(n) / sr
    x = lowpass(saw(midi_hz(note), n), 600.0) + 0.5 * np.sin(2 * np.pi * midi_hz(note) * t)
    env = np.minimum(1.0, t / 0.004) * np.exp(-t / 0.25) * np.minimum(1.0, (length_s - t) / 0.01)
    return 0.5 * x * env


def pad_chord(notes, length_s: float, sr: int = SAMPLE_RATE_HZ) -> tuple[np.ndarray, np.ndarray]:
    """A soft detuned saw pad for one bar, (left, right)."""
    n = int(length_s * sr)
    t = np.arange(n) / sr
    left = np.zeros(n)
    right = np.zeros(n)
    for i, note in enumerate(notes):
        f = midi_hz(note)
        left += saw(f * 0.997, n, phase=0.3 * i)
        right += saw(f * 1.003, n, phase=0.7 * i)
    env = np.minimum(1.0, t / 0.25) * np.minimum(1.0, (length_s - t) / 0.3)
    scale = 0.08 / len(notes) * 4
    return lowpass(left, 1800.0) * env * scale, lowpass(right, 1800.0) * env * scale


def synthesize(*, bpm: float = 128.0, seconds: float = 30.0, seed: int = 7,
               sr: int = SAMPLE_RATE_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Return (stereo (n, 2) float in [-1, 1], beat times in s)."""
    if not 40.0 <= bpm <= 250.0:
        raise ValueError(f"bpm must be within 40..250, got {bpm}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    beat_s = 60.0 / bpm
    n_beats = int(np.floor(seconds / beat_s - 1e-9)) + 1
    beats = np.arange(n_beats) * beat_s
    mix = np.zeros((n + sr, 2))                          # one second of tail room, cut at the end

    def add(sig: np.ndarray, t_s: float, *, pan: float = 0.0) -> None:
        start = int(round(t_s * sr))
        if start >= n:
            return
        m = min(len(sig), mix.shape[0] - start)
        mix[start:start + m, 0] += sig[:m] * (1.0 - pan) if pan > 0 else sig[:m]
        mix[start:start + m, 1] += sig[:m] * (1.0 + pan) if pan < 0 else sig[:m]

    k, sn = kick(sr), snare(rng, sr)
    closed, open_ = hat(rng, decay_s=0.012, sr=sr), hat(rng, decay_s=0.06, sr=sr)
    bar_s = 4 * beat_s
    for i, t in enumerate(beats):
        add(k, t)
        if i % 4 in (1, 3):
            add(sn, t)
        add(closed * 0.6, t, pan=0.3)
        add((open_ if i % 4 == 3 else closed), t + beat_s / 2, pan=0.3)
    n_bars = int(np.ceil(seconds / bar_s))
    for b in range(n_bars):
        root, chord = PROGRESSION[b % len(PROGRESSION)]
        t_bar = b * bar_s
        left, right = pad_chord(chord, bar_s, sr)
        start = int(round(t_bar * sr))
        m = min(len(left), mix.shape[0] - start)
        mix[start:start + m, 0] += left[:m]
        mix[start:start + m, 1] += right[:m]
        for e, step in enumerate(BASS_PATTERN):
            add(bass_note(root + step, beat_s / 2 * 0.9, sr), t_bar + e * beat_s / 2)
    out = mix[:n]
    fade = min(n, int(0.05 * sr))
    out[n - fade:] *= np.linspace(1.0, 0.0, fade)[:, None]
    out *= 10 ** (-1.0 / 20) / max(1e-9, np.max(np.abs(out)))   # peak at -1 dBFS
    return out, beats


def write_wav(path: Path, stereo: np.ndarray, *, sr: int = SAMPLE_RATE_HZ) -> None:
    pcm = np.clip(np.round(stereo * 32767.0), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(stereo.shape[1])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Synthesize the demo beat (WAV) and its true beat times.")
    ap.add_argument("--out", default="demo/demo_beat.wav", help="output WAV (default: %(default)s)")
    ap.add_argument("--beats-out", default=None,
                    help="beat times, one per line in s (default: next to --out as NAME.beats.txt)")
    ap.add_argument("--bpm", type=float, default=128.0, help="tempo (default: %(default)s)")
    ap.add_argument("--seconds", type=float, default=30.0, help="length (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=7, help="noise seed (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        stereo, beats = synthesize(bpm=args.bpm, seconds=args.seconds, seed=args.seed)
    except ValueError as exc:
        print(f"make_demo_track: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    write_wav(out, stereo)
    beats_out = Path(args.beats_out) if args.beats_out else out.with_suffix(".beats.txt")
    beats_out.parent.mkdir(parents=True, exist_ok=True)
    beats_out.write_text("".join(f"{t:.6f}\n" for t in beats))
    print(f"wrote {out} ({args.seconds:g} s at {args.bpm:g} BPM, {len(beats)} beats) and {beats_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
