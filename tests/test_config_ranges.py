"""Issue 14 item 7: out-of-range settings are refused when the config is loaded, naming the
key, the value and the valid range; each range lives once, next to its setting."""
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from live.config import (
    BACKENDS, Config, ConfigError, Ref, build_config, check_config, load_config, range_of, spec_of,
)

ROOT = Path(__file__).resolve().parents[1]


def _refused(overrides, data=None):
    with pytest.raises(ConfigError) as info:
        build_config(data or {}, overrides)
    return str(info.value)


@pytest.mark.parametrize("override, key, valid", [
    ("render.fps=0", "render.fps", "1..1000"),
    ("features.bpm_min=-5", "features.bpm_min", "30..300"),
    ("features.bpm_min=nan", "features.bpm_min", "finite"),
    ("features.bpm_max=50", "features.bpm_max", "above features.bpm_min (60)"),
    ("features.hop_size=0", "features.hop_size", "power of two in 32..8192"),
    ("features.hop_size=7", "features.hop_size", "power of two in 32..8192"),
    ("features.hop_size=768", "features.hop_size", "power of two"),
    ("features.onset_method=superflux", "features.onset_method", "hfc"),
    ("features.onset_picker=slow", "features.onset_picker", "fast, aubio"),
    ("render.record_preset=warp", "render.record_preset", "ultrafast"),
    ("gen.backend=dalle", "gen.backend", "embedded, vae, lcm"),
    ("audio.sample_rate_hz=1", "audio.sample_rate_hz", "8000..192000"),
    ("render.width=0", "render.width", "16..8192"),
    ("render.width=100000", "render.width", "16..8192"),
    ("osc.port=70000", "osc.port", "1..65535"),
    ("osc.port=-1", "osc.port", "1..65535"),
    ('osc.targets=["127.0.0.1:0"]', "osc.targets", "1..65535"),
    ("motion.beats_per_change=0", "motion.beats_per_change", "1..64"),
    ("features.beats_per_bar=0", "features.beats_per_bar", "1..16"),
    ("features.bass_hz=[250, 20]", "features.bass_hz", "low < high"),
    ("features.treble_hz=[23000, 30000]", "features.treble_hz", "audio.sample_rate_hz/2 (22050)"),
    ("features.treble_hz=[4000, inf]", "features.treble_hz", "finite"),
    ("render.internal_scale=1.5", "render.internal_scale", "(0, 1], or 0 (auto)"),
    ("render.internal_scale=-0.1", "render.internal_scale", "(0, 1]"),
    ("gen.timeout_s=0", "gen.timeout_s", "(0, 600]"),
    ("gen.timeout_s=-1", "gen.timeout_s", "(0, 600]"),
    ("gen.banks=[]", "gen.banks", "at least 1 item"),
    ("render.record=nowhere/at/all/x.mp4", "render.record", "does not exist"),
    ("render.record=x.avi", "render.record", ".mp4"),
    ("gen.device=tpu", "gen.device", "cuda:N"),
    ("audio.latency=soon", "audio.latency", "'low', 'high'"),
])
def test_out_of_range_is_refused_naming_key_value_and_range(override, key, valid):
    text = _refused([override])
    value = override.split("=", 1)[1]
    assert text.startswith(key), text
    assert valid in text, text
    assert "valid" in text or "extension" in text or "folder" in text
    # the value is named (as written or as read: 0 -> 0.0, [] -> [])
    shown = re.sub(r"[\[\]\s\"']", "", value).split(",")[0]
    assert shown.rstrip("0").rstrip(".") in re.sub(r"[\[\]\s\"']", "", text), text


def test_toml_values_are_checked_too(tmp_path):
    show = tmp_path / "show.toml"
    show.write_text("[render]\nfps = 0\n[gen]\nbackend = 'dalle'\n")
    with pytest.raises(ConfigError) as info:
        load_config(show)
    text = str(info.value)
    assert "2 settings are invalid" in text and "render.fps = 0.0" in text and "gen.backend = 'dalle'" in text


def test_boundaries_and_special_values_are_accepted():
    cfg = build_config({}, ["osc.port=0", "osc.port=65535", "render.internal_scale=0", "render.internal_scale=1",
                            "features.hop_size=32", "features.bpm_min=100", "features.bpm_max=101",
                            "features.treble_hz=[22049, 30000]", "gen.device=cuda:1", "audio.latency=0.02"])
    assert cfg.osc.port == 65535 and cfg.render.internal_scale == 1.0
    assert cfg.features.bpm_max == 101.0


def test_booleans_are_really_booleans():
    assert "expected bool" in _refused([], {"render": {"hud": 1}})
    assert "expected bool" in _refused([], {"render": {"hud": 2.0}})
    assert "expected true/false" in _refused([], {"render": {"hud": "maybe"}})
    assert "expected true/false" in _refused(["render.hud=maybe"])
    assert build_config({}, ["render.hud=off"]).render.hud is False


def test_a_bad_referenced_setting_is_one_error_not_a_cascade():
    text = _refused(["audio.sample_rate_hz=1"])
    assert "settings are invalid" not in text and "bass_hz" not in text


def test_a_band_above_the_nyquist_of_a_lower_rate_is_refused():
    text = _refused(["audio.sample_rate_hz=8000"])       # treble starts at 4000 Hz = Nyquist: empty band
    assert "features.treble_hz" in text and "(4000)" in text
    # a band that only reaches past Nyquist is clipped there by the analyzer, not refused
    assert build_config({}, ["audio.sample_rate_hz=22050"]).features.treble_hz == (4000.0, 16000.0)


def test_every_setting_default_is_in_its_own_range():
    check_config(Config())
    for section in dataclasses.fields(Config):
        if section.name in ("controls", "presets"):
            continue
        for f in dataclasses.fields(section.type if not isinstance(section.type, str) else
                                    type(getattr(Config(), section.name))):
            spec = f.metadata.get("spec")
            if spec is not None:
                assert spec.describe(), f"{section.name}.{f.name} has an empty range text"


def test_backend_choices_are_the_registry():
    from live.gen.registry import backend_names
    assert tuple(BACKENDS) == tuple(backend_names())


def test_onset_methods_are_the_ones_aubio_accepts():
    aubio = pytest.importorskip("aubio")
    for m in spec_of("features.onset_method").choices:
        aubio.onset(m, 2048, 512, 44100)


def test_osc_parameter_table_ranges_come_from_the_config():
    from live.control.params import PARAMS
    twins = [p for p in PARAMS if p.config]
    assert {p.name for p in twins} >= {"beats_per_change", "pulse", "gen.steps", "gen.feedback", "hud"}
    for p in twins:
        section, key = p.config.split(".")
        assert p.default == getattr(getattr(Config(), section), key)
        if p.type in ("int", "float"):
            assert (p.lo, p.hi) == range_of(p.config), p.name


def test_ref_bounds_follow_the_referenced_setting():
    spec = spec_of("features.bpm_max")
    assert isinstance(spec.lo, Ref)
    assert spec.problem(150.0, build_config({}, ["features.bpm_min=100"])) is None
    assert spec.problem(90.0, build_config({}, ["features.bpm_min=100"])) is not None


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "live", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_cli_refuses_before_the_show(tmp_path):
    r = _cli("run", "--headless", "--duration", "1", "--set", "render.fps=0", "--no-playback", cwd=tmp_path)
    assert r.returncode == 2 and "render.fps = 0.0 is out of range; valid: 1..1000" in r.stderr, r.stderr
    assert "running" not in r.stderr and "Traceback" not in r.stderr
    r = _cli("run", "--headless", "--duration", "1", "--record", str(tmp_path / "no" / "x.mp4"), cwd=tmp_path)
    assert r.returncode == 2 and "--record" in r.stderr and "does not exist" in r.stderr, r.stderr
    r = _cli("run", "--headless", "--duration", "1", "--record", str(tmp_path / "x.gif"), cwd=tmp_path)
    assert r.returncode == 2 and "'.gif'" in r.stderr, r.stderr
    r = _cli("render", str(tmp_path / "a.wav"), "-o", str(tmp_path / "x.webm"), cwd=tmp_path)
    assert r.returncode == 2 and "-o" in r.stderr and ".webm" in r.stderr, r.stderr
    r = _cli("render", str(tmp_path / "a.wav"), "-o", str(tmp_path / "x.mp4"), "--fps", "0", cwd=tmp_path)
    assert r.returncode == 2 and "--fps 0.0" in r.stderr, r.stderr
