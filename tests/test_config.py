import pytest

from live.config import Config, ConfigError, build_config, load_config


def test_defaults_are_sane():
    cfg = Config()
    assert cfg.audio.sample_rate_hz == 44100
    assert cfg.features.hop_size == 512
    assert cfg.gen.backend == "embedded"
    assert cfg.osc.host == "127.0.0.1"


def test_toml_and_overrides(tmp_path):
    p = tmp_path / "show.toml"
    p.write_text('[audio]\ndevice = "Scarlett"\n[features]\nbpm_min = 90\n[presets.chill]\nintensity = 0.4\n')
    cfg = load_config(p, ["features.bpm_max=180", "render.fullscreen=yes", "gen.banks=a,b", "features.bass_hz=[30, 200]"])
    assert cfg.audio.device == "Scarlett"
    assert cfg.features.bpm_min == 90.0 and isinstance(cfg.features.bpm_min, float)
    assert cfg.features.bpm_max == 180.0
    assert cfg.render.fullscreen is True
    assert cfg.gen.banks == ("a", "b")
    assert cfg.features.bass_hz == (30.0, 200.0)
    assert cfg.presets["chill"]["intensity"] == 0.4


@pytest.mark.parametrize(
    "data, overrides, message",
    [
        ({"audoi": {}}, [], "unknown section [audoi]"),
        ({"audio": {"devcie": "x"}}, [], "unknown setting audio.devcie"),
        ({"audio": {"sample_rate_hz": "fast"}}, [], "audio.sample_rate_hz: expected int"),
        ({}, ["render.fullscreen=maybe"], "expected true/false"),
        ({}, ["nodot"], "section.key=value"),
    ],
)
def test_errors_name_the_problem(data, overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_config(data, overrides)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[audio\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
