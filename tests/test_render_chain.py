"""Small headless renders (160x90) read back and checked against known answers."""
import os
import shutil
import time

import numpy as np

from gl_fixtures import NEUTRAL, features, frame, luminance, make_renderer  # noqa: F401 - fixture
from live.render.shaderlib import BUNDLED_DIR


def grey(value=128, size=64):
    return np.full((size, size, 3), value, dtype=np.uint8)


def test_flash_on_onset_raises_mean_luminance(make_renderer):
    r = make_renderer()
    r.set_frame(frame(grey(100), 1), now_s=0.0)
    ctl = dict(NEUTRAL, **{"fx.flash": 1.0})
    r.draw(features(t=1.0), ctl, time_s=1.0)
    calm = luminance(r.read_pixels())
    r.draw(features(t=1.0, onset=1.0, onset_count=1, last_onset_t=1.0), ctl, time_s=1.0 + 1 / 60)
    flash = luminance(r.read_pixels())
    r.draw(features(t=1.5, onset=0.0, onset_count=1, last_onset_t=1.0), ctl, time_s=1.5)
    later = luminance(r.read_pixels())
    assert flash > calm + 30
    assert abs(later - calm) < 3           # decayed after half a second


def _right_edge(img, threshold=0.5):
    row = img[img.shape[0] // 2, :, 0].astype(float)
    bright = np.nonzero(row > threshold * row.max())[0]
    return int(bright.max())


def test_feedback_zoom_with_bass_moves_an_edge_outward(make_renderer):
    pic = np.zeros((64, 64, 3), np.uint8)
    pic[16:48, 16:48] = 255       # a white square; cover-fit to 160x90 puts its right edge at x=119
    ctl = dict(NEUTRAL, **{"fx.zoom": 1.0, "fx.feedback": 1.0})
    edges = {}
    for bass in (0.0, 1.0):
        r = make_renderer()
        r.set_frame(frame(pic, 1), now_s=0.0)
        for i in range(20):
            r.draw(features(t=i / 30, bass=bass, bass_att=1.0 if bass else 0.0), ctl, time_s=i / 30)
        edges[bass] = _right_edge(r.read_pixels())
    assert 118 <= edges[0.0] <= 121                           # no bass: the edge stays put
    assert edges[1.0] >= edges[0.0] + 3                       # bass: the trail grows outwards


def test_blackout_gives_black_and_fade_dims(make_renderer):
    r = make_renderer()
    r.set_frame(frame(grey(200), 1), now_s=0.0)
    r.draw(features(), dict(NEUTRAL), time_s=0.0)
    full = luminance(r.read_pixels())
    r.draw(features(), dict(NEUTRAL, fade=0.5), time_s=0.02)
    half = luminance(r.read_pixels())
    r.draw(features(), dict(NEUTRAL, blackout=1.0), time_s=0.04)
    assert r.read_pixels().max() == 0
    assert abs(half - full / 2) < 3


def test_crossfade_mixes_previous_and_current_over_the_measured_interval(make_renderer):
    r = make_renderer()
    red, blue = np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    blue[..., 2] = 255
    for i in range(8):                                       # a steady 2 fps generator, red
        r.set_frame(frame(red, i), now_s=i * 0.5)
    r.set_frame(frame(blue, 8), now_s=4.0)
    r.set_frame(frame(blue, 8), now_s=4.1)                   # same index again: ignored
    r.draw(features(), NEUTRAL, time_s=4.0 + 0.25)           # half way
    mid = r.read_pixels()[45, 80].astype(int)
    r.draw(features(), NEUTRAL, time_s=4.0 + 0.6)            # past the interval
    end = r.read_pixels()[45, 80].astype(int)
    assert 100 <= mid[0] <= 155 and 100 <= mid[2] <= 155, mid
    assert end[0] <= 3 and end[2] >= 250, end
    assert abs(r.gen_fps - 2.0) < 0.05


def test_fused_default_chain_looks_like_one_pass_per_effect(make_renderer):
    """trails+finish draw the same effects as source,feedback,color,flash,output."""
    from live.render.renderer import CLASSIC_CHAIN, DEFAULT_CHAIN

    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    pic = (np.stack([xx, yy, 1.0 - xx * yy], -1) * 255).astype(np.uint8)
    ctl = {"fx.sparkle": 0.0, "fx.kaleido": 0.3}                 # every other effect at its default
    chroma = np.zeros(12, np.float32)
    chroma[4] = 1.0
    imgs = {}
    for chain in (DEFAULT_CHAIN, CLASSIC_CHAIN):
        r = make_renderer(chain=chain)
        r.set_frame(frame(pic, 1), now_s=0.0)
        for i in range(12):
            t = i / 30
            r.draw(features(t=t, bass=0.8, bass_att=1.4, mid=0.5, mid_att=1.2, rms=0.3, chroma=chroma,
                            centroid_hz=2500.0, onset=1.0, onset_count=1, last_onset_t=0.3), ctl, time_s=t)
        imgs[chain] = r.read_pixels().astype(int)
    fused, classic = imgs[DEFAULT_CHAIN], imgs[CLASSIC_CHAIN]
    assert luminance(classic) > 20 and classic.std() > 20        # a real picture, not a flat field
    assert np.abs(fused - classic).mean() < 4.0
    assert np.percentile(np.abs(fused - classic), 99) < 30


def test_feedback_history_starts_from_the_picture_not_black(make_renderer):
    for chain in (("trails", "finish"), ("source", "feedback", "color", "flash", "output")):
        r = make_renderer(chain=chain)
        r.set_frame(frame(grey(160), 1), now_s=0.0)
        r.draw(features(), dict(NEUTRAL, **{"fx.feedback": 1.0}), time_s=0.0)
        first = luminance(r.read_pixels())
        r2 = make_renderer(chain=chain)
        r2.set_frame(frame(grey(160), 1), now_s=0.0)
        r2.draw(features(), NEUTRAL, time_s=0.0)
        assert abs(first - luminance(r2.read_pixels())) < 2, chain


def reload_until_settled(r, timeout_s=60.0):
    """Poll hot reload until no changed pass is still being proved off screen (see live.render.probe)."""
    import time

    msgs, t_end = [], time.monotonic() + timeout_s
    while True:
        r._last_reload_check = 0.0
        msgs += r.check_reload()
        if not r.chain.probing or time.monotonic() > t_end:
            return msgs
        time.sleep(0.05)


def test_broken_shader_keeps_last_good_output_and_fixing_recovers(make_renderer, tmp_path):
    from live.render.renderer import CLASSIC_CHAIN

    for p in BUNDLED_DIR.glob("*.glsl"):
        shutil.copy(p, tmp_path / p.name)
    r = make_renderer(shader_dirs=[str(tmp_path)], chain=CLASSIC_CHAIN)
    pic = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    r.set_frame(frame(pic, 1), now_s=0.0)
    f = features(bass=0.5, mid=0.5)
    r.draw(f, NEUTRAL, time_s=0.0)
    good = r.read_pixels()
    color = tmp_path / "color.glsl"
    text = color.read_text()
    color.write_text(text.replace("vec3 c = texture(u_source, v_uv).rgb;", "vec3 c = texture(u_source, v_uv).rgb +;"))
    msgs = reload_until_settled(r)
    r.draw(f, NEUTRAL, time_s=0.0)
    assert np.array_equal(r.read_pixels(), good)               # last good program still on screen
    assert r.last_error and "color.glsl" in r.last_error
    assert any("keeping the last good color" in m for m in msgs)
    # fix it with a visible change: invert the colours
    color.write_text(text.replace("f_color = vec4(c, 1.0);", "f_color = vec4(1.0 - c, 1.0);"))
    reload_until_settled(r)
    r.draw(f, NEUTRAL, time_s=0.0)
    fixed = r.read_pixels()
    assert r.last_error is None
    assert luminance(fixed) > 0 and not np.array_equal(fixed, good)
    assert abs(int(fixed[45, 80, 1]) - (255 - int(good[45, 80, 1]))) <= 40   # inverted (vignette/contrast aside)


def test_user_shader_folder_overrides_by_name_and_missing_shader_is_clear(make_renderer, tmp_path):
    (tmp_path / "finish.glsl").write_text(            # the last pass of the default chain
        "#version 330\nuniform sampler2D u_source;\n//--- fragment\nin vec2 v_uv; out vec4 f_color;\n"
        "void main(){ f_color = vec4(0.0, 1.0, 0.0, 1.0); }\n")
    r = make_renderer(shader_dirs=[str(tmp_path)])
    r.set_frame(frame(grey(), 1), now_s=0.0)
    r.draw(features(), NEUTRAL, time_s=0.0)
    px = r.read_pixels()
    assert px[..., 1].min() == 255 and px[..., 0].max() == 0
    from live.render.renderer import RenderError
    import pytest
    with pytest.raises(RenderError, match="nosuchpass"):
        make_renderer(chain=("source", "nosuchpass"))


def test_hud_draws_text_and_shows_the_error(make_renderer):
    from live.render.hud import HudInfo

    r = make_renderer(width=640, height=360, hud=True)
    r.set_frame(frame(grey(0), 1), now_s=0.0)
    r.draw(features(bpm=128.0, beat_phase=0.05, bass=0.8), NEUTRAL, time_s=0.0, hud=HudInfo(bank="techno", entry="3"))
    with_hud = r.read_pixels(hud=True)
    without = r.read_pixels()
    assert without.max() == 0                                # recording/readback without HUD stays clean
    top_left = with_hud[:60, :300]
    assert (top_left.max(axis=2) > 200).sum() > 200          # white text pixels
    r.last_error = "color.glsl: 0:12(3): error: syntax error"
    r.draw(features(), NEUTRAL, time_s=0.1)
    img = r.read_pixels(hud=True)
    red = (img[..., 0] > 200) & (img[..., 1] < 120)
    assert red.sum() > 100                                   # the error line is drawn in red


def test_font_covers_the_hud_characters():
    from live.render.font import atlas, glyph

    for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/-%()<>":
        assert glyph(ch).any(), ch
    assert not glyph(" ").any()
    assert atlas().shape == (48, 128)
