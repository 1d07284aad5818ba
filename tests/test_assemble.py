"""One assembly: every gen and render setting reaches the generator and the renderer the same
way from ``latent-live run`` (live.app.Show) and ``latent-live render`` (live.offline.render).

The settings are enumerated from the dataclass fields, so a setting added later fails here
until it is either passed on by live.assemble or named with the place that uses it.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from live import assemble
from live.config import Config, GenConfig, RenderConfig, build_config
from live.errors import RenderError, ShowError

SR = 22050


class Captured(Exception):
    """Raised by the recording factories: the path got as far as building the part."""


def _vary(value):
    """A value of the same type as ``value`` and different from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 2                       # even stays even (video sizes)
    if isinstance(value, float):
        return value + 0.25
    if isinstance(value, str):
        return f"{value}-varied"
    if isinstance(value, tuple):
        return (*value, "varied")
    raise TypeError(f"no variation for {type(value).__name__}; teach _vary this type")


def _varied(section, skip=()):
    return dataclasses.replace(section, **{f.name: _vary(getattr(section, f.name))
                                           for f in dataclasses.fields(section) if f.name not in skip})


def _base_cfg() -> Config:
    return build_config({"osc": {"enabled": False}, "audio": {"sample_rate_hz": SR},
                         "render": {"width": 96, "height": 64, "headless": "yes", "hud": False}})


def _clicks(seconds=1.0) -> np.ndarray:
    x = np.zeros(int(seconds * SR), np.float32)
    for t in np.arange(0.0, seconds, 0.5):
        x[int(t * SR):int(t * SR) + 200] += 0.8
    return x


@pytest.fixture
def wav(tmp_path):
    from live.testing.sync_videos import write_wav

    path = tmp_path / "clicks.wav"
    write_wav(path, _clicks(), sample_rate_hz=SR)
    return path


def _live(cfg, **factories):
    from live.app import Show
    from live.audio import ArraySource

    show = Show(cfg, source=ArraySource(_clicks(), sample_rate_hz=SR), **factories)
    try:
        with pytest.raises((Captured, ShowError, RenderError)):
            show.start()
    finally:
        show.stop()


def _offline(cfg, wav, tmp_path, **factories):
    from live.offline.render import render_file

    with pytest.raises((Captured, RenderError)):
        render_file(wav, tmp_path / "out.mp4", cfg=cfg, fps=12, progress=False, **factories)


def test_every_setting_is_accounted_for():
    gen = {f.name for f in dataclasses.fields(GenConfig)}
    assert set(assemble.GEN_OPTIONS) | set(assemble.GEN_USED_ELSEWHERE) == gen
    assert not set(assemble.GEN_OPTIONS) & set(assemble.GEN_USED_ELSEWHERE)
    render = {f.name for f in dataclasses.fields(RenderConfig)}
    assert set(assemble.RENDER_OPTIONS) | set(assemble.RENDER_USED_ELSEWHERE) == render
    assert not set(assemble.RENDER_OPTIONS) & set(assemble.RENDER_USED_ELSEWHERE)


@pytest.mark.parametrize("backend", ["embedded", "vae", "lcm"])
def test_every_gen_setting_reaches_the_generator_alike_on_both_paths(backend, wav, tmp_path):
    # every gen setting changed at once; the factory records what the generator is built with
    gen = dataclasses.replace(_varied(GenConfig(), skip=("backend", "steps", "feedback")), backend=backend,
                              steps=3, feedback=0.25)       # controls: inside their ranges
    cfg = dataclasses.replace(_base_cfg(), gen=gen)
    calls = {"live": [], "offline": []}

    def factory(into):
        def make(name, **options):
            into.append((name, options))
            raise Captured(name)
        return make

    _live(cfg, generator_factory=factory(calls["live"]))
    _offline(cfg, wav, tmp_path, generator_factory=factory(calls["offline"]))
    assert calls["live"] and calls["offline"]
    assert calls["live"][0] == calls["offline"][0]
    name, options = calls["live"][0]
    assert name == backend
    expected = {k: getattr(gen, k) for k, only in assemble.GEN_OPTIONS.items() if only is None or backend in only}
    assert options == expected
    for k, only in assemble.GEN_OPTIONS.items():      # each option reaches the backends that take it
        assert (k in options) == (only is None or backend in only), k


def test_every_render_setting_reaches_the_renderer_alike_on_both_paths(wav, tmp_path):
    base = _base_cfg()
    render = _varied(base.render)
    cfg = dataclasses.replace(base, render=render)
    calls = {"live": [], "offline": []}

    def factory(into):
        def make(**options):
            into.append(options)
            raise Captured("renderer")
        return make

    _live(cfg, renderer_factory=factory(calls["live"]))
    _offline(cfg, wav, tmp_path, renderer_factory=factory(calls["offline"]))
    live, offline = calls["live"][0], calls["offline"][0]
    assert set(live) == set(offline) == set(assemble.RENDER_OPTIONS)
    for k in assemble.RENDER_OPTIONS:
        assert live[k] == getattr(render, k), k
        if k in assemble.OFFLINE_RENDER_FIXED:
            assert offline[k] == assemble.OFFLINE_RENDER_FIXED[k], k
        else:
            assert offline[k] == live[k], k


def test_auto_internal_scale_is_none_for_the_renderer():
    assert assemble.renderer_options(RenderConfig(internal_scale=0.0))["internal_scale"] is None
    assert assemble.renderer_options(RenderConfig(internal_scale=0.5))["internal_scale"] == 0.5


def test_the_live_recording_takes_the_record_settings(tmp_path):
    pytest.importorskip("av")
    r = RenderConfig(fps=60.0, record_fps=24.0, record_preset="superfast")
    sinks = assemble.make_sinks(r, size=(64, 48), record=str(tmp_path / "live.mp4"))
    try:
        (rec,) = sinks
        assert (rec.name, rec.width, rec.height, rec.fps, rec.block) == ("recorder", 64, 48, 24.0, False)
        assert rec._vstream.options.get("preset") == "superfast" or rec.codec != "libx264"
    finally:
        for s in sinks:
            s.close()
    assert assemble.make_sinks(r, size=(64, 48)) == []                 # no record path: no sink
    cfg_path = dataclasses.replace(r, record=str(tmp_path / "cfg.mp4"))
    sinks = assemble.make_sinks(cfg_path, size=(64, 48))
    try:
        assert [s.path.name for s in sinks] == ["cfg.mp4"]
    finally:
        for s in sinks:
            s.close()


def test_banks_that_do_not_fit_are_noted_and_the_default_serves_the_embedded_generator():
    from live.gen import get_generator
    from live.gen.bank import LatentBank
    from live.telemetry import Telemetry

    gen = get_generator("embedded", size=32)
    gen.load()
    try:
        other = LatentBank(name="vae-bank", backend="vae", model_id="m", model_hash="h",
                           latents=np.zeros((2, 4, 8, 8), np.float32))
        tel = Telemetry()
        fitting = assemble.fit_banks(gen, {"vae-bank": other}, tel)
        assert "vae-bank" not in fitting
        notes = [m for _, m in tel.messages]
        assert any("vae-bank" in m and "does not fit" in m for m in notes), notes
        if fitting:                                   # the bundled bank is there (checkout / wheel)
            assert any("bundled bank" in m for m in notes)
            assert all(assemble.bank_fits(gen, b) for b in fitting.values())
    finally:
        gen.close()
