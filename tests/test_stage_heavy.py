"""Issue 14 items 8-9 (and the analyze parts of 10): heavy inputs cost bounded memory and time.

- ``analyze`` streams: peak memory does not grow with the file's length (a 2-minute and a
  12-minute file, RSS of each run measured in its own process), ``--json`` is written as it
  goes and atomically, and the summary names the file's own sample rate.
- The bank loader checks sizes and headers before reading: a 400 MB bank.toml (sparse, no
  disk used) and a 2 GB safetensors whose header does not fit are refused at once.
- Bank-building checkpoints cost the same per entry at the end as at the start.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from live.testing.sync_videos import click_track, write_wav

ROOT = Path(__file__).resolve().parents[1]

_MEASURE = """
import resource, sys
from live.cli import main
rc = main(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


def _analyze(*args, cwd):
    r = subprocess.run([sys.executable, "-c", _MEASURE, "analyze", *map(str, args)], cwd=cwd, capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    rss = int(r.stderr.split("MAXRSS_KB")[-1].split()[0]) if "MAXRSS_KB" in r.stderr else -1
    return r, rss


def _long_wav(path, minutes, rate=8000):
    x, _ = click_track(duration_s=4.0, sample_rate_hz=rate)
    write_wav(path, np.tile(x, int(minutes * 15)), sample_rate_hz=rate)


def test_analyze_streams_with_memory_that_does_not_grow_with_the_length(tmp_path):
    short, long_ = tmp_path / "short.wav", tmp_path / "long.wav"
    _long_wav(short, 2)
    _long_wav(long_, 12)
    # hop 2048 at 8 kHz keeps the run short; the 12-minute file alone is 23 MB as float32 samples
    sets = ["--sample-rate", "8000", "--set", "features.hop_size=2048"]
    r_short, rss_short = _analyze(short, *sets, "--json", tmp_path / "s.json", cwd=tmp_path)
    r_long, rss_long = _analyze(long_, *sets, "--json", tmp_path / "l.json", cwd=tmp_path)
    assert r_short.returncode == 0 and r_long.returncode == 0, r_long.stderr
    assert "720.00 s" in r_long.stdout
    assert rss_long - rss_short < 25_000, (rss_short, rss_long)      # KB; before: +150 MB
    doc = json.loads((tmp_path / "l.json").read_text())
    assert len(doc["frames"]) == 2813 and doc["duration_s"] == pytest.approx(720.0)
    assert 110.0 < doc["bpm"] < 130.0 and len(doc["beats"]) > 1200     # coarse hops: a rough tempo


def test_streamed_analysis_matches_the_in_memory_one(tmp_path):
    from live.audio import decode_audio
    from live.features import analyze_array, analyze_file

    path = tmp_path / "a.wav"
    x, _ = click_track(duration_s=12.0, sample_rate_hz=22050)
    write_wav(path, x, sample_rate_hz=22050)
    mem = analyze_array(decode_audio(path, sample_rate_hz=22050), sample_rate_hz=22050)
    seen = []
    streamed = analyze_file(path, sample_rate_hz=22050, keep_frames=False, on_frame=seen.append)
    assert streamed.frames == [] and streamed.frame_count == len(mem.frames) == len(seen)
    assert streamed.beats == mem.beats and streamed.onsets == mem.onsets
    assert streamed.bpm == mem.bpm and streamed.duration_s == mem.duration_s
    np.testing.assert_allclose(streamed.mean_chroma(), mem.mean_chroma(), rtol=1e-5)
    assert [f.t for f in seen] == [f.t for f in mem.frames]


def test_analyze_names_the_files_own_sample_rate(tmp_path):
    path = tmp_path / "a48.wav"
    x, _ = click_track(duration_s=3.0, sample_rate_hz=48000)
    write_wav(path, x, sample_rate_hz=48000)
    r, _ = _analyze(path, cwd=tmp_path)
    assert r.returncode == 0 and "48000 Hz 1 ch, analysed at 44100 Hz" in r.stdout, r.stdout


def test_analyze_json_onto_a_full_disk_leaves_no_file(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        path = tmp_path / "a.wav"
        x, _ = click_track(duration_s=10.0, sample_rate_hz=22050)
        write_wav(path, x, sample_rate_hz=22050)
        r, _ = _analyze(path, "--json", small / "out.json", cwd=tmp_path)
        assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert list(small.iterdir()) == []                  # no empty, partial or temporary file
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


# -- bank loader ---------------------------------------------------------------------------------

def _bank(tmp_path, name="b", count=3):
    from live.gen.bank import LatentBank, save_bank

    bank = LatentBank(name=name, backend="embedded", latents=np.zeros((count, 4, 8, 8), np.float32))
    return save_bank(bank, tmp_path / name)


def _refused_fast(folder, match):
    from live.gen.bank import BankError, load_bank

    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(BankError, match=match):
            load_bank(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0
    assert peak < 20 * 2**20, peak


def test_a_huge_bank_toml_is_refused_before_it_is_read(tmp_path):
    folder = _bank(tmp_path)
    with open(folder / "bank.toml", "r+b") as fh:      # sparse: 400 MB that take no disk
        fh.truncate(400 * 2**20)
    _refused_fast(folder, r"bank.toml: 400 MB is far larger than a bank's description")


def test_a_huge_or_inconsistent_safetensors_is_refused_from_its_header(tmp_path):
    folder = _bank(tmp_path)
    st = folder / "bank.safetensors"
    good = st.read_bytes()
    n = int.from_bytes(good[:8], "little")
    with open(st, "r+b") as fh:                         # 2 GB of data after the tensors (sparse)
        fh.truncate(2 * 2**30)
    _refused_fast(folder, "bytes after the last tensor")
    # a header that promises a 1 TB tensor
    header = json.loads(good[8:8 + n])
    header["latents"]["shape"] = [3, 4, 8, 8 * 2**30]
    raw = json.dumps(header).encode()
    st.write_bytes(len(raw).to_bytes(8, "little") + raw + good[8 + n:])
    _refused_fast(folder, "does not fit the file")
    # a header length far past the file
    st.write_bytes((2**40).to_bytes(8, "little") + good[8:])
    _refused_fast(folder, "its header claims")
    # consistent file, but bank.toml disagrees on the count: refused before reading tensors
    other = _bank(tmp_path, "other", count=5)
    st.write_bytes((other / "bank.safetensors").read_bytes())
    _refused_fast(folder, "5 latents but bank.toml says count = 3")


# -- bank building checkpoints -------------------------------------------------------------------

def test_bank_checkpoints_cost_the_same_per_entry_at_the_end_as_at_the_start(tmp_path, monkeypatch):
    import live.banks.builder as builder
    from live.banks.embedded import EmbeddedEntrySource

    written = []
    real = builder.atomic_write_bytes

    def spy(path, data):
        if builder.PARTIAL_NAME in str(path):
            written.append(len(data))
        return real(path, data)

    monkeypatch.setattr(builder, "atomic_write_bytes", spy)
    n, every = 240, 8
    bank = builder.build_bank(EmbeddedEntrySource(list(range(n)), size=32), out_dir=tmp_path / "b",
                              checkpoint_every=every, progress=False, sheet=False)
    assert bank.count == n and len(written) == n // every
    assert max(written) < 1.2 * min(written)           # before: the last checkpoint held all 240 entries
    assert not (tmp_path / "b" / builder.PARTIAL_NAME).exists()
