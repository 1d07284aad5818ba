"""Known-answer tests of the score metrics on plain arrays (no video, no analyzer)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from live.sync_score import (
    MotionTrack,
    ScoreError,
    beat_alignment_score,
    describe_offset,
    estimate_offset,
    onset_envelope_at_frames,
    pearson,
    pick_visual_events,
    read_beats_file,
    score_signals,
)

FPS = 30.0


def test_bas_known_values():
    beats = np.arange(1.0, 10.0, 0.5)
    assert beat_alignment_score(beats, beats, tau_s=0.05) == pytest.approx(1.0)
    # every event exactly tau late: exp(-1/2) per beat
    assert beat_alignment_score(beats, beats + 0.05, tau_s=0.05) == pytest.approx(math.exp(-0.5))
    # half of the beats have an event, the others are a quarter beat away (0.125 s = 2.5 tau)
    events = beats[::2]
    expected = (1.0 + math.exp(-(0.5 ** 2) / (2 * 0.05 ** 2))) / 2
    assert beat_alignment_score(beats, events, tau_s=0.05) == pytest.approx(expected, abs=1e-9)
    # a wider tau forgives more
    assert beat_alignment_score(beats, beats + 0.05, tau_s=0.1) == pytest.approx(math.exp(-0.125))
    assert beat_alignment_score(beats, [], tau_s=0.05) == 0.0
    assert math.isnan(beat_alignment_score([], beats, tau_s=0.05))
    assert beat_alignment_score([2.0], [2.01], tau_s=0.05) == pytest.approx(math.exp(-0.02))


def _flash_motion(n: int, frames, *, decay: float = 0.5, noise: float = 0.002, seed: int = 0):
    """Motion signal of a picture flashing at ``frames`` and decaying (like score_synth)."""
    level = np.zeros(n)
    for f in frames:
        k = np.arange(n - f)
        level[f:] = np.maximum(level[f:], decay ** k)
    motion = np.abs(np.diff(level, prepend=level[0])) * 0.7
    motion += np.random.default_rng(seed).uniform(0, noise, n)
    motion[0] = 0.0
    return motion


def test_visual_events_on_flashes_with_codec_noise():
    flashes = list(range(15, 300, 15))
    motion = _flash_motion(300, flashes)
    events = pick_visual_events(motion, fps=FPS)
    assert events.tolist() == flashes          # the decay steps are not events


def test_visual_events_ignore_steady_motion_and_respect_spacing():
    rng = np.random.default_rng(1)
    steady = 0.05 + rng.normal(0, 0.0005, 300)  # a steady pan: no events
    steady[0] = 0
    assert pick_visual_events(steady, fps=FPS).size == 0
    m = np.zeros(100)
    m[[20, 21, 50, 52]] = [0.5, 0.5, 0.4, 0.6]  # plateau: first wins; 2 frames apart: larger wins
    assert pick_visual_events(m, fps=FPS).tolist() == [20, 52]


def test_envelope_aligns_hop_centres_to_frames():
    hop_s = 512 / 44100
    hop_t = np.arange(1, 1000) * hop_s                # hop end times
    onset = np.zeros(hop_t.size)
    click_s = 2.0                                     # frame 60 shows t = 2.0
    onset[np.searchsorted(hop_t, click_s)] = 1.0      # first hop ending after the click
    frame_t = np.arange(300) / FPS
    env = onset_envelope_at_frames(hop_t, onset, frame_t, fps=FPS)
    assert int(np.argmax(env)) == 60
    assert env[60] == 1.0 and env[59] == 0.0 and env[61] == 0.0
    # a frame rate above the hop rate interpolates instead of leaving holes
    fast_t = np.arange(2000) / 240.0
    fast = onset_envelope_at_frames(hop_t, np.ones(hop_t.size), fast_t[10:1000], fps=240.0)
    assert np.all(fast > 0.9)


@pytest.mark.parametrize("lag_frames", [0.0, 3.0, -3.0, 2.4, -7.6])
def test_offset_recovers_known_lag_with_subframe_resolution(lag_frames):
    rng = np.random.default_rng(4)
    n = 600
    times = np.sort(rng.choice(np.arange(20, n - 20), size=40, replace=False)).astype(float)
    i = np.arange(n)[:, None]
    audio = np.exp(-((i - times) ** 2) / (2 * 1.2 ** 2)).sum(axis=1)
    motion = np.exp(-((i - times - lag_frames) ** 2) / (2 * 1.2 ** 2)).sum(axis=1)
    est = estimate_offset(audio, motion, fps=FPS)
    assert est.offset_s * FPS == pytest.approx(lag_frames, abs=0.25)
    assert est.confidence > 0.7
    assert not est.at_limit


def test_offset_periodic_ties_prefer_the_small_lag_and_list_the_other():
    n = 450
    beats = np.arange(15, n - 15, 15)                  # 120 BPM at 30 fps: a period of 15 frames
    audio = np.zeros(n)
    audio[beats] = 1.0
    motion = np.zeros(n)
    motion[beats - 3] = 1.0                            # picture 100 ms early
    est = estimate_offset(audio, motion, fps=FPS)
    assert est.offset_s == pytest.approx(-0.1, abs=1e-3)
    assert any(abs(a - 0.4) < 1e-6 for a in est.alternatives_s)   # one beat later fits too


def test_offset_of_unrelated_signals_has_low_confidence():
    rng = np.random.default_rng(7)
    est = estimate_offset(rng.random(600), rng.random(600), fps=FPS)
    assert est.confidence < 0.25
    assert abs(est.peak_correlation) < 0.25


def test_pearson_edge_cases():
    assert pearson(np.ones(10), np.arange(10)) == 0.0
    assert pearson(np.arange(10), np.arange(10) * 3 + 1) == pytest.approx(1.0)
    assert pearson(np.arange(10), -np.arange(10)) == pytest.approx(-1.0)


def test_score_signals_only_counts_beats_the_picture_can_show():
    n = 300
    t = np.arange(n) / FPS
    flashes = list(range(15, n, 15))
    track = MotionTrack(times_s=t, motion=_flash_motion(n, flashes), fps=FPS, width=64,
                        height=36, has_audio=True)
    hop_t = np.arange(1, int(10.0 * 44100 / 512)) * 512 / 44100
    onset = np.zeros(hop_t.size)
    for f in flashes:
        onset[np.searchsorted(hop_t, f / FPS)] = 1.0
    beats = [0.0] + [f / FPS for f in flashes] + [20.0]   # 0 s and 20 s cannot be shown
    r = score_signals(track, hop_t, onset, beats)
    assert r.n_beats == len(flashes)
    assert r.bas == pytest.approx(1.0)
    assert r.n_visual_events == len(flashes)
    assert abs(r.offset_ms) < 1000 / FPS / 2
    assert r.correlation > 0.8


def test_describe_offset_states_the_side():
    assert describe_offset(100.0, frame_ms=33.3).startswith("picture late by 100 ms")
    assert describe_offset(-100.0, frame_ms=33.3).startswith("picture early by 100 ms")
    assert "within half a frame" in describe_offset(-5.0, frame_ms=33.3)


def test_read_beats_file_formats_and_errors(tmp_path):
    p = tmp_path / "beats.txt"
    p.write_text("# beats\n0.5\t0.5\tbeat 1\n\n1.0 2\n1.5,x\n")
    assert read_beats_file(p).tolist() == [0.5, 1.0, 1.5]
    csv = tmp_path / "beats.csv"
    csv.write_text("time,label\n2.0,1\n1.0,2\n")
    assert read_beats_file(csv).tolist() == [1.0, 2.0]
    bad = tmp_path / "bad.txt"
    bad.write_text("0.5\nabc\n")
    with pytest.raises(ScoreError, match="line 2"):
        read_beats_file(bad)
    neg = tmp_path / "neg.txt"
    neg.write_text("-1\n")
    with pytest.raises(ScoreError, match=">= 0"):
        read_beats_file(neg)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(ScoreError, match="no beat times"):
        read_beats_file(empty)
    with pytest.raises(ScoreError, match="not found"):
        read_beats_file(tmp_path / "missing.txt")


def test_envelope_places_values_at_the_analysis_window_centre():
    # a spectral descriptor of the window [t - win, t) peaks when a click sits mid-window,
    # i.e. win/2 after the click: placing it at t - win/2 puts it back on the click's frame
    hop_s, win_s = 512 / 44100, 2048 / 44100
    hop_t = np.arange(1, 1000) * hop_s
    onset = np.zeros(hop_t.size)
    onset[np.searchsorted(hop_t, 2.0 + win_s / 2)] = 1.0
    frame_t = np.arange(300) / FPS
    env = onset_envelope_at_frames(hop_t, onset, frame_t, fps=FPS, window_s=win_s)
    assert int(np.argmax(env)) == 60
    late = onset_envelope_at_frames(hop_t, onset, frame_t, fps=FPS)   # hop centre: a frame late
    assert int(np.argmax(late)) == 61
