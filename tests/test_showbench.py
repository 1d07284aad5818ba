"""The whole-loop benchmarks run end to end and report sane figures (speed itself is not asserted:
the benches print it); their helpers give known answers; a desk's out-of-range tempo cannot stop
the show (found by the soak)."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from live.bench.show import DEFAULT_TRACK, _first_flash_delays, osc_packets

pytestmark = pytest.mark.skipif(not DEFAULT_TRACK.is_file(), reason=f"{DEFAULT_TRACK} missing (tools/make_demo_track.py)")


def _cli_json(capsys, *argv) -> dict:
    from live.cli import main

    capsys.readouterr()
    rc = main(list(argv))
    out = capsys.readouterr().out
    return rc, json.loads(out[out.index("{"):])


def test_bench_frame_json_has_sane_figures(capsys):
    rc, r = _cli_json(capsys, "bench", "frame", "--seconds", "2", "--size", "160x90", "--json")
    assert rc == 0
    assert r["bench"] == "frame" and r["size"] == "160x90" and r["hud"] is True
    assert r["frames"] >= 1 and r["seconds"] >= 2.0
    assert 0.0 < r["frame_ms_p50"] <= r["frame_ms_p99"] <= r["frame_ms_max"]
    assert 0 <= r["late_frames"] <= r["frames"]
    assert r["gen_fps"] > 0.0 and r["gen_ms_p50"] > 0.0
    assert 0.0 < r["analysis_ms_p50"] <= r["analysis_ms_p99"]
    assert r["hop_ms"] == pytest.approx(1000 * 512 / 44100, abs=0.01)
    assert r["audio_overflows"] == 0 and r["gen_errors"] == 0
    assert "MainThread" in r["cpu_pct_by_thread"]
    assert r["within_budget"] == (r["frame_ms_p99"] < 40.0)


def test_bench_soak_tiny_runs_clean_under_random_osc(capsys):
    rc, r = _cli_json(capsys, "bench", "soak", "--minutes", "0.05", "--size", "160x90", "--json")
    assert r["errors"] == [] and r["ok_no_exception"]
    assert r["frames"] >= 1 and r["rss_mb_end"] > 0
    osc = r["osc"]
    assert osc["packets"] > 0 and osc["applied"] > 0
    assert osc["rejected"] + osc["unknown"] + osc["malformed"] > 0   # invalid ones arrived and were refused
    assert osc["errors"] == 0
    assert rc == (0 if r["passed"] else 1)


def test_flash_delay_known_answer():
    frames = np.arange(0.0, 3.0, 1 / 60)
    bright = np.full(frames.size, 20.0)
    clicks = np.array([1.0, 2.0, 2.5])
    bright[(frames >= 1.05) & (frames < 1.2)] = 120.0        # click 1 shows 50 ms later
    bright[(frames >= 2.02) & (frames < 2.1)] = 60.0         # click 2: a weaker flash, ~20 ms
    d = _first_flash_delays(clicks, frames, bright)           # click 3: no flash at all
    first_after = lambda t: frames[frames >= t][0]           # noqa: E731
    assert d[0] == pytest.approx(first_after(1.05) - 1.0)
    assert d[1] == pytest.approx(first_after(2.02) - 2.0)
    assert np.isnan(d[2])


def test_osc_packets_mix_valid_and_invalid():
    from pythonosc.osc_message import OscMessage

    from live.control.params import PARAMS

    rng = random.Random(1)
    addresses = {p.address for p in PARAMS}
    known = garbage = 0
    for _ in range(400):
        dgram = osc_packets(rng, list(PARAMS))
        try:
            msg = OscMessage(dgram)
        except Exception:  # noqa: BLE001 - garbage and truncated packets
            garbage += 1
            continue
        known += msg.address in addresses
    assert known > 250 and garbage > 5


def test_out_of_range_bpm_from_osc_does_not_stop_the_analysis():
    from live.app import Show
    from live.audio import ArraySource
    from live.config import load_config

    cfg = load_config(None, ["render.width=64", "render.height=64", "render.headless=yes", "osc.enabled=false"])
    sr = 44100
    clicks = np.zeros(sr * 6, np.float32)
    clicks[:: sr // 2] = 0.9                                   # 120 BPM
    seen = {}

    def on_frame(show, now):
        if "set" not in seen:
            seen["set"] = show.store.set("bpm", 10.0)          # the OSC range allows 0..300
            seen["t"] = show.features.get().t

    show = Show(cfg, source=ArraySource(clicks, sample_rate_hz=sr, realtime=True), duration_s=1.8, on_frame=on_frame)
    result = show.run()
    assert show.analysis.error is None
    assert result.seconds >= 1.7                              # ran to its duration, not stopped early
    last = show.features.get()
    assert last.t > seen["t"] + 0.2                           # the analysis went on after the bad value
    assert last.tempo_source == "manual"
    assert last.bpm == pytest.approx(20.0)                    # clamped to the analyzer's lowest manual tempo
