"""Synthetic test signals with known content (tempo, onsets) for tests and benchmarks."""
from __future__ import annotations

import numpy as np


def synth_mix(*, seconds: float, sample_rate_hz: int = 44100, bpm: float = 128.0, seed: int = 0) -> np.ndarray:
    """A dense dance-music-like mix: kick, clap, hats, bass line, chord pad, noise floor.

    Returns ``(n,)`` float32 in [-1, 1].
    """
    sr = sample_rate_hz
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    beat = 60.0 / bpm
    x = 0.01 * rng.standard_normal(n)
    k = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * k + 3.0 * (1 - np.exp(-k / 0.03)))) * np.exp(-k / 0.12)  # pitch drop
    clap = rng.standard_normal(k.size) * np.exp(-k / 0.04) * 0.5
    hat = rng.standard_normal(int(0.05 * sr)) * np.exp(-np.arange(int(0.05 * sr)) / (0.01 * sr)) * 0.25
    hat = np.diff(hat, prepend=0.0)
    for i, bt in enumerate(np.arange(0.0, seconds, beat)):
        s = int(bt * sr)
        for snd, off in ((kick, 0.0), (hat, beat / 2)):
            j = s + int(off * sr)
            m = min(snd.size, n - j)
            if m > 0:
                x[j:j + m] += snd[:m]
        if i % 2 == 1:
            m = min(clap.size, n - s)
            x[s:s + m] += clap[:m]
    roots = (55.0, 55.0 * 2 ** (3 / 12), 55.0 * 2 ** (8 / 12), 55.0 * 2 ** (10 / 12))
    bar = 4 * beat
    root = np.array(roots)[(t // bar).astype(int) % 4]
    x += 0.3 * np.sin(2 * np.pi * root * t) * (0.6 + 0.4 * np.cos(2 * np.pi * t / beat))
    for ratio in (4.0, 5.04, 6.0):
        x += 0.06 * np.sin(2 * np.pi * root * ratio * t)
    x /= max(1e-9, np.abs(x).max()) / 0.9
    return x.astype(np.float32)
