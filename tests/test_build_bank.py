"""Bank building: selection, resumable checkpoints, skipped entries, contact sheet, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.cli import main as cli_main
from live.gen import load_bank
from live.banks.builder import (PARTIAL_NAME, BankEntry, BuildError, EntrySource, SkipEntry, build_bank,
                            colourfulness, parse_seeds, select_diverse)
from live.banks.embedded import EmbeddedEntrySource
from live.gen.embedded import latent_from_seed

REPO = Path(__file__).resolve().parents[1]


class CountingSource:
    """Embedded entries at a small size, counting how often each key is made."""

    def __init__(self, n: int, *, skip: tuple[str, ...] = (), model_hash: str | None = None):
        self.inner = EmbeddedEntrySource(list(range(n)), size=32)
        for attr in ("backend", "model_id", "model_hash", "latent_shape", "dtype", "scaling_factor"):
            setattr(self, attr, getattr(self.inner, attr))
        if model_hash is not None:
            self.model_hash = model_hash
        self.skip = set(skip)
        self.made: list[str] = []

    def keys(self):
        return self.inner.keys()

    def make(self, key):
        self.made.append(key)
        if key in self.skip:
            raise SkipEntry("unreadable")
        return self.inner.make(key)

    def preview(self, entry):
        return self.inner.preview(entry)


class Interrupt(Exception):
    pass


def test_parse_seeds():
    assert parse_seeds("0-3,7, 9-10,3") == [0, 1, 2, 3, 7, 9, 10]
    assert parse_seeds("5") == [5]
    for bad in ("", "a-b", "5-2", "-3"):
        with pytest.raises(BuildError):
            parse_seeds(bad)


def test_colourfulness_known_values():
    grey = np.full((8, 8, 3), 128, np.uint8)
    assert colourfulness(grey) == pytest.approx(0.0)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5 everywhere: no spread, M = 0.3 * sqrt(255^2 + 127.5^2)
    assert colourfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5), rel=1e-5)


def test_select_diverse_picks_one_per_cluster_and_prefers_vivid():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]], float)
    feats = np.concatenate([c + 0.1 * rng.standard_normal((5, 2)) for c in centres])
    vivid = np.full(15, 50.0)
    vivid[7] = 80.0  # most colourful: chosen first
    chosen = select_diverse(feats, vivid, 3)
    assert chosen[0] == 7
    assert sorted(i // 5 for i in chosen) == [0, 1, 2]
    # a grey cluster loses against a vivid one at equal distance
    vivid2 = np.full(15, 50.0)
    vivid2[10:] = 5.0
    chosen2 = select_diverse(feats, vivid2, 2)
    assert all(i < 10 for i in chosen2)
    assert select_diverse(feats, vivid, 99) == list(range(15))


def test_source_satisfies_protocol():
    assert isinstance(EmbeddedEntrySource([1], size=32), EntrySource)


def test_build_writes_bank_and_contact_sheet(tmp_path):
    src = CountingSource(12)
    bank = build_bank(src, out_dir=tmp_path / "b", keep=4, progress=False)
    back = load_bank(tmp_path / "b")
    assert back.count == 4 and back.backend == "embedded"
    seeds = [e["seed"] for e in back.labels]
    assert len(set(seeds)) == 4
    for s, lat in zip(seeds, back.latents):
        np.testing.assert_array_equal(lat, latent_from_seed(s))
    assert (tmp_path / "b" / "contact_sheet.png").is_file()
    assert not (tmp_path / "b" / PARTIAL_NAME).exists()
    assert bank.count == 4


def test_interrupted_build_resumes_without_losing_entries(tmp_path):
    out = tmp_path / "b"
    src = CountingSource(10)

    def stop_after_5(done, key):
        if done == 5:
            raise Interrupt()

    with pytest.raises(Interrupt):
        build_bank(src, out_dir=out, keep=None, checkpoint_every=3, progress=False, on_entry=stop_after_5)
    assert (out / PARTIAL_NAME).is_dir() and not (out / "bank.toml").exists()
    assert len(src.made) == 5

    src2 = CountingSource(10)
    bank = build_bank(src2, out_dir=out, keep=None, checkpoint_every=3, progress=False)
    # only the 5 unfinished entries were computed again; all 10 are in the bank
    assert src2.made == [f"seed:{i}" for i in range(5, 10)]
    assert bank.count == 10
    assert sorted(e["seed"] for e in bank.labels) == list(range(10))
    assert not (out / PARTIAL_NAME).exists()

    fresh = build_bank(CountingSource(10), out_dir=tmp_path / "c", keep=None, progress=False)
    np.testing.assert_array_equal(np.sort(bank.latents, axis=0), np.sort(fresh.latents, axis=0))


def test_checkpoint_of_other_model_is_ignored(tmp_path):
    out = tmp_path / "b"
    with pytest.raises(Interrupt):
        build_bank(CountingSource(6, model_hash="other"), out_dir=out, checkpoint_every=1, progress=False,
                   on_entry=lambda done, key: (_ for _ in ()).throw(Interrupt()) if done == 3 else None)
    src = CountingSource(6)
    build_bank(src, out_dir=out, progress=False)
    assert len(src.made) == 6  # started afresh


def test_skipped_entries_are_left_out(tmp_path, capsys):
    src = CountingSource(5, skip=("seed:2",))
    bank = build_bank(src, out_dir=tmp_path, progress=False)
    assert bank.count == 4 and 2 not in [e["seed"] for e in bank.labels]
    assert "skipping seed:2" in capsys.readouterr().err


def test_cli_build_info_and_errors(tmp_path, capsys):
    out = tmp_path / "mine"
    rc = cli_main(["bank", "build", "--backend", "embedded", "--seeds", "0-7", "--keep", "3", "--size", "32",
                   "--out", str(out), "--no-progress"])
    assert rc == 0
    assert load_bank(out).count == 3
    capsys.readouterr()
    assert cli_main(["bank", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "embedded" in text and "3 x (32,)" in text
    assert cli_main(["bank", "info", str(tmp_path / "nope")]) == 2
    assert "bank folder not found" in capsys.readouterr().err
    assert cli_main(["bank", "build", "--seeds", "x", "--out", str(out)]) == 2
    assert cli_main(["bank", "build", "--backend", "gan", "--out", str(out)]) == 2


def test_tools_script_builds(tmp_path):
    out = tmp_path / "t"
    res = subprocess.run([sys.executable, str(REPO / "tools" / "build_bank.py"), "--seeds", "0-3", "--keep", "2",
                          "--size", "32", "--out", str(out), "--no-progress"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert load_bank(out).count == 2


def test_bench_gen_json(capsys):
    assert cli_main(["bench", "gen", "--backend", "embedded", "--size", "64", "--frames", "3", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["backend"] == "embedded" and figures["size"] == 64 and figures["output"] == [64, 64, 3]
    assert figures["median_ms"] > 0 and figures["p99_ms"] >= figures["median_ms"] and figures["load_ms"] > 0
