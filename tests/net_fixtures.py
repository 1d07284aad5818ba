"""Helpers for the lead/follow tests: a synthetic leader stream with a known beat grid, and a
runner that puts a command inside a private network namespace (loopback only)."""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pytest

from live.types import FeatureFrame

HOP_S = 512 / 44100.0
BPM = 120.0
FIRST_BEAT_S = 0.25


def leader_frame(k: int, *, bpm: float = BPM, first_beat_s: float = FIRST_BEAT_S, bpb: int = 4) -> FeatureFrame:
    """Hop ``k`` of a leader whose tracker beats at ``first_beat_s + n * 60 / bpm`` exactly, with
    an onset on every beat and a bass level that is a known function of time (0.5 + 0.4 sin)."""
    t = (k + 1) * HOP_S
    period = 60.0 / bpm
    n = int(math.floor((t - first_beat_s) / period + 1e-9)) + 1 if t >= first_beat_s else 0
    last = first_beat_s + (n - 1) * period if n > 0 else -1.0
    phase = (t - last) / period if n > 0 else 0.0
    bar = (((n - 1) % bpb) + phase) / bpb if n > 0 else 0.0
    bass = 0.5 + 0.4 * math.sin(2 * math.pi * 0.7 * t)
    return FeatureFrame(t=t, hop_index=k, rms=0.3, bass=bass, mid=0.2, treble=0.1, bass_att=1.0 + bass - 0.5,
                        onset=0.9 if n else 0.0, onset_count=n, last_onset_t=last, bpm=bpm if n else 0.0,
                        bpm_confidence=0.8 if n else 0.0, tempo_source="tracker" if n else "none",
                        beat_count=n, last_beat_t=last, beat_phase=phase, bar_phase=bar, beats_per_bar=bpb,
                        chroma=np.eye(12, dtype=np.float32)[n % 12], centroid_hz=1000.0)


def beat_time(n: int, *, bpm: float = BPM, first_beat_s: float = FIRST_BEAT_S) -> float:
    """Audio time of beat number ``n`` (1 = first)."""
    return first_beat_s + (n - 1) * 60.0 / bpm


def netns_available() -> str:
    """'' when a private network namespace can be made here, else why not."""
    from live.testing import netns

    return netns.unavailable_reason()


def run_in_netns(script: str, *args: str, timeout: float = 120.0) -> dict:
    """Run ``python script args...`` inside a fresh network namespace (:mod:`live.testing.netns`:
    lo up, multicast routed to lo) and return the JSON object it prints on its last line."""
    from live.testing import netns

    why = netns.unavailable_reason()
    if why:
        pytest.skip(why)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.pathsep + \
        env.get("PYTHONPATH", "")
    r = netns.run([sys.executable, script, *args], timeout_s=timeout, env=env)
    if r.returncode != 0:
        raise AssertionError(f"netns run failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.startswith("{")]
    assert lines, f"no JSON result:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return json.loads(lines[-1])
