"""`latent-live analyze`: the --beats interface external tools score, JSON output, bad files."""
from __future__ import annotations

import json
import re
import wave

import numpy as np

from live.cli import main

SR = 44100


def write_click_wav(path, *, bpm=120.0, seconds=10.0):
    x = np.zeros(int(seconds * SR), np.float32)
    n = np.arange(int(0.02 * SR))
    click = 0.8 * np.exp(-n / (0.003 * SR)) * np.sin(2 * np.pi * 1500 * n / SR)
    for t in np.arange(0.25, seconds - 0.05, 60.0 / bpm):
        i = int(t * SR)
        x[i:i + click.size] += click[: x.size - i]
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def test_beats_prints_beat_report_time_and_position_in_bar(tmp_path, capsys):
    wav = tmp_path / "clicks.wav"
    write_click_wav(wav)
    assert main(["analyze", str(wav), "--beats"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 12
    pat = re.compile(r"^\d+\.\d{3,} \d+\.\d{3,} [1-9]$")
    pairs = []
    for line in lines:
        assert pat.match(line), line
        b, r, k = line.split()
        b, r = float(b), float(r)
        assert 0.0 <= r - b <= 512 / SR + 1e-3
        pairs.append(b)
    late = np.array([b for b in pairs if b > 4.0])
    assert np.allclose(np.diff(late), 0.5, atol=0.012)


def test_summary_and_json(tmp_path, capsys):
    wav = tmp_path / "clicks.wav"
    write_click_wav(wav, seconds=8.0)
    out = tmp_path / "f.json"
    assert main(["analyze", str(wav), "--json", str(out), "--set", "features.bpm_min=100"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"tempo +(119\.\d|120\.\d) BPM", text) and "beats" in text and "onsets" in text
    doc = json.loads(out.read_text())
    assert len(doc["frames"]) == int(np.ceil(8.0 * SR / 512))
    assert doc["frames"][-1]["bpm"] > 0 and len(doc["frames"][0]["chroma"]) == 12
    assert doc["beats"] and doc["onsets"]


def test_bad_files_exit_2_with_one_line(tmp_path, capsys):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 20)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    for path in (garbage, empty, tmp_path / "missing.flac"):
        assert main(["analyze", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "error" in err[0] and path.name in err[0]
    assert main(["analyze", str(garbage), "--set", "features.nope=1"]) == 2
    assert "features.nope" in capsys.readouterr().err
