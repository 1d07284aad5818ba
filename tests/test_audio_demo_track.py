"""tools/make_demo_track.py: deterministic, musical, with true beat times the analyzer finds."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

from live.audio import FileSource, decode_audio

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "make_demo_track.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("make_demo_track", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make(tmp_path, name, *args):
    out = tmp_path / f"{name}.wav"
    res = subprocess.run([sys.executable, str(TOOL), "--out", str(out), *args],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return out, out.with_suffix(".beats.txt")


def test_demo_track_is_deterministic_with_true_beats():
    tool = load_tool()
    x, beats = tool.synthesize(bpm=128.0, seconds=6.0)
    x2, beats2 = tool.synthesize(bpm=128.0, seconds=6.0)
    assert np.array_equal(x, x2) and np.array_equal(beats, beats2)
    assert x.shape == (6 * 44100, 2)
    assert beats[0] == 0.0 and np.allclose(np.diff(beats), 60 / 128, atol=1e-9)
    assert len(beats) == 13  # 0 .. 5.625 s
    assert abs(np.max(np.abs(x)) - 10 ** (-1 / 20)) < 1e-9   # peak normalised to -1 dBFS
    mono = x.mean(axis=1)
    # Kicks land on the beats: low-band energy right after each beat beats the energy between beats.
    lo = np.convolve(mono, np.ones(64) / 64, mode="same") ** 2
    for t in beats[1:-1]:
        i = int(t * 44100)
        assert lo[i:i + 2205].mean() > 3 * lo[i - 8000 - 2205:i - 8000].mean()
    # Musical content besides the drums: a bass line and the pad put energy at A (110 Hz / 220 Hz).
    spec = np.abs(np.fft.rfft(mono[: 4 * 44100 * 60 // 128 * 1]))
    freqs = np.fft.rfftfreq(len(mono[: 4 * 44100 * 60 // 128]), 1 / 44100)
    assert spec[np.argmin(np.abs(freqs - 110.0))] > 5 * np.median(spec)


def test_demo_track_gives_its_tempo_through_the_analyzer(tmp_path):
    from live.features import analyze_source

    wav, beats_txt = make(tmp_path, "demo", "--bpm", "128", "--seconds", "10")
    assert abs(len(decode_audio(wav, sample_rate_hz=44100)) / 44100 - 10.0) < 1e-3
    with FileSource(wav, realtime=False) as src:
        result = analyze_source(src)
    assert abs(result.bpm - 128.0) < 2.0
    true = np.loadtxt(beats_txt)
    est = np.array([b for b, _ in result.beats if b > 4.0])   # after the tracker has settled
    err = np.array([np.min(np.abs(true - b)) for b in est])
    assert len(est) >= 8 and np.median(err) < 0.03


def test_bad_arguments_fail_cleanly(tmp_path):
    res = subprocess.run([sys.executable, str(TOOL), "--out", str(tmp_path / "x.wav"), "--bpm", "500"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "bpm" in res.stderr and "Traceback" not in res.stderr
