"""Sanity tests of the beat-tracker evaluation set and its scoring harness (tools/)."""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
sys.path.insert(0, str(TOOLS))
mk = importlib.import_module("make_beat_eval_set")
be = importlib.import_module("beat_eval")

needs_render = pytest.mark.skipif(
    not (mk.find_fluidsynth() and mk.find_soundfont()),
    reason="fluidsynth or a GM soundfont is missing (apt-get install fluidsynth fluid-soundfont-gm)")


def _kick_onsets_s(wav: Path, beats: np.ndarray) -> np.ndarray:
    """Onset time of the low-band (<120 Hz) energy rise nearest each expected beat: (n,) seconds."""
    from scipy.signal import butter, sosfiltfilt
    x, sr = mk.read_wav(wav)
    lo = sosfiltfilt(butter(4, 120, "low", fs=sr, output="sos"), x.mean(axis=1))
    w = int(0.002 * sr)
    env = np.sqrt(np.convolve(lo ** 2, np.ones(w) / w, "same"))
    out = []
    for b in beats:
        i0, i1 = max(int((b - 0.04) * sr), 0), int((b + 0.06) * sr)
        peak = i0 + int(np.argmax(env[i0:i1]))
        lo_i = i0 + int(np.argmin(env[i0:peak + 1]))
        thr = env[lo_i] + 0.3 * (env[peak] - env[lo_i])
        out.append((lo_i + int(np.argmax(env[lo_i:peak + 1] > thr))) / sr)
    return np.array(out)


@pytest.fixture(scope="module")
def house_120(tmp_path_factory):
    """8 s of the house style at 120 BPM, rendered with drums only (so the kick can be located)."""
    d = tmp_path_factory.mktemp("beatset")
    mk.make_set(d, only=["house"], bpm=120, seconds=8.0, drums_only=True, log=lambda s: None)
    return d


@needs_render
def test_house_ground_truth_is_every_half_second_and_matches_rendered_kicks(house_120):
    man = json.loads((house_120 / "manifest.json").read_text())
    (p,) = man["pieces"]
    assert p["meter"] == "4/4" and p["bpm"] == 120.0
    rows = np.loadtxt(house_120 / p["beats"])
    beats, pos = rows[:, 0], rows[:, 1].astype(int)
    np.testing.assert_allclose(beats, np.arange(16) * 0.5, atol=1e-6)     # 120 BPM for 8 s
    assert list(pos[:5]) == [1, 2, 3, 4, 1]
    # the audio, not the MIDI: each kick of the rendered WAV starts within 20 ms of its beat
    onsets = _kick_onsets_s(house_120 / p["wav"], beats)
    err_ms = (onsets - beats) * 1000.0
    assert np.all(np.abs(err_ms) < 20.0), np.round(err_ms, 1)
    x, sr = mk.read_wav(house_120 / p["wav"])
    assert sr == 44100 and x.shape[0] == 8 * 44100 and 0.8 < np.abs(x).max() <= 0.9


@pytest.mark.parametrize("style,bpm,expect_period_s", [
    ("waltz", 150, 0.4),          # 3/4: beat = quarter
    ("six_eight", 60, 1.0),       # 6/8: beat = dotted quarter, bpm counts dotted quarters
])
def test_meter_beat_definition_matches_pretty_midi(tmp_path, style, bpm, expect_period_s):
    import pretty_midi
    piece = mk.compose_piece(style, bpm=bpm, seconds=8.0, seed=1)
    gt = np.array([t for t, _ in mk.ground_truth_beats(piece, 8.0)])
    np.testing.assert_allclose(np.diff(gt), expect_period_s, atol=1e-6)
    mid = tmp_path / "x.mid"
    mk.write_midi(piece, mid, seconds=8.0)
    pm_beats = pretty_midi.PrettyMIDI(str(mid)).get_beats()
    np.testing.assert_allclose(pm_beats[:len(gt)], gt, atol=1e-4)


def test_tempo_step_and_ramp_ground_truth_follow_the_midi_tempo_map(tmp_path):
    import pretty_midi
    for style in ("tempo_step", "pop_ramp"):
        piece = mk.compose_piece(style, bpm=100, seconds=20.0, seed=0)
        gt = np.array([t for t, _ in mk.ground_truth_beats(piece, 20.0)])
        mid = tmp_path / f"{style}.mid"
        mk.write_midi(piece, mid, seconds=20.0)
        pm_beats = pretty_midi.PrettyMIDI(str(mid)).get_beats()
        np.testing.assert_allclose(pm_beats[:len(gt)], gt, atol=1e-4)
        ibi = np.diff(gt)
        assert ibi[0] == pytest.approx(0.6) and ibi[-1] < 0.5          # 100 BPM, ends faster


def test_scoring_perfect_shifted_double_and_latency():
    ref = np.arange(0, 30, 0.5)
    perfect = be.score(ref, [(t, t + 0.0116) for t in ref])
    assert perfect["f"] == pytest.approx(1.0) and perfect["cmlt"] == pytest.approx(1.0)
    assert perfect["offset_mean_ms"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["latency_mean_ms"] == pytest.approx(11.6, abs=1e-6)
    assert perfect["diag"] == "ok" and perfect["lock_s"] == 0.0
    # a tracker that finds the beat only from 3.0 s on locks there
    late_start = be.score(ref, np.concatenate([[0.3, 1.1, 2.2], ref[ref >= 3.0]]))
    assert late_start["lock_s"] == pytest.approx(3.0)
    shifted = be.score(ref, ref + 0.2)
    assert shifted["f"] < 0.5 and np.isnan(shifted["lock_s"])
    late = be.score(ref, ref + 0.03)
    assert late["f"] == pytest.approx(1.0) and late["offset_median_ms"] == pytest.approx(30.0, abs=1e-6)
    double = be.score(ref, np.arange(0, 30, 0.25))
    assert double["diag"] == "x2" and double["amlt"] > 0.95 and double["cmlt"] < 0.1
    offbeat = be.score(ref, ref + 0.25)
    assert offbeat["diag"] == "offbeat" and offbeat["f"] == 0.0
    empty = be.score(ref, [])
    assert empty["f"] == 0.0 and empty["diag"] == "none"


@needs_render
def test_harness_scores_plain_aubio_on_the_rendered_piece(house_120):
    results, pieces = be.evaluate(house_120, ["aubio"])
    r = results["aubio"]["house"]
    assert r["n_ref"] == 6 and r["n_est"] >= 3          # 8 s minus the 5 s trim
    assert 0.0 <= r["latency_mean_ms"] < 1000.0 * 1024 / 44100   # reported within ~a hop of the beat
