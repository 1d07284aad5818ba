"""The look library: catalog files, #include, switching on the bar line, every look on GL."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from live.control.params import BY_NAME
from live.looks.catalog import DEFAULT_LOOK, LookError, discover, load_look
from live.looks.switcher import LookSwitcher
from live.render.shaderlib import ShaderError, expand_includes, search_dirs
from live.types import SILENT_FRAME, Frame
from tests.gl_fixtures import egl_unavailable_reason, gl_ctx, make_renderer  # noqa: F401


def test_library_has_at_least_twelve_named_looks_with_the_default_among_them():
    looks = discover()
    names = [lk.name for lk in looks]
    assert len(names) >= 12 and len(set(names)) == len(names)
    assert names[0] == DEFAULT_LOOK                      # number 0 is the default
    assert len({lk.passes for lk in looks}) == len(looks)  # every look is its own chain


def test_every_look_parameter_is_in_the_parameter_table_with_its_range():
    for lk in discover():
        for p in lk.params:
            param = BY_NAME[lk.control(p.key)]
            assert (param.lo, param.hi, param.default) == (p.lo, p.hi, p.default)
            assert param.address == f"/live/look/{lk.name}/{p.key}"
    for name in ("look.select", "look.name", "look.next", "look.prev", "look.fade_beats", "look.auto_bars"):
        assert name in BY_NAME


def test_a_copied_look_keeps_its_uniform_names_and_user_folders_win(tmp_path):
    bundled = {lk.name: lk for lk in discover()}["tunnel"]
    (tmp_path / "looks").mkdir()
    text = bundled.path.read_text().replace("default = 0.4", "default = 0.9")
    (tmp_path / "looks" / "tunnel.toml").write_text(text)
    (tmp_path / "looks" / "mytunnel.toml").write_text(text)
    looks = {lk.name: lk for lk in discover([tmp_path])}
    assert looks["tunnel"].path.parent == tmp_path / "looks"
    assert looks["mytunnel"].uniforms()["u_look_speed"] == pytest.approx(0.9)
    # controls by name; out of range clamps; junk falls back to the default
    assert looks["mytunnel"].uniforms({"look.mytunnel.speed": 5.0})["u_look_speed"] == 1.0
    assert looks["mytunnel"].uniforms({"look.mytunnel.speed": "x"})["u_look_speed"] == pytest.approx(0.9)


@pytest.mark.parametrize("body, words", [
    ("passes = []", "passes must be a non-empty list"),
    ('passes = ["a"]\ncolour = 1', "unknown key(s) colour"),
    ('passes = ["a"]\n[params.x]\ndefault = 2.0\nrange = [0.0, 1.0]', "default inside the range"),
    ('passes = ["a"', "not valid TOML"),
])
def test_a_broken_look_file_names_the_file_and_the_problem(tmp_path, body, words):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(LookError) as err:
        load_look(f)
    assert words in str(err.value) and "bad.toml" in str(err.value)
    errors: list = []
    (tmp_path / "looks").mkdir()
    f.rename(tmp_path / "looks" / "bad.toml")
    assert "bad" not in [lk.name for lk in discover([tmp_path], errors=errors)]
    assert errors and "bad.toml" in errors[0]


def test_include_pastes_once_and_names_a_missing_file(tmp_path):
    (tmp_path / "lib.glsl").write_text("float one() { return 1.0; }")
    (tmp_path / "a.glsl").write_text('#include "lib.glsl"\n#include "lib.glsl"\nvoid main() {}')
    out = expand_includes((tmp_path / "a.glsl").read_text(), tmp_path / "a.glsl", [])
    assert out.count("float one()") == 1 and "already included" in out
    with pytest.raises(ShaderError, match='#include "nope.glsl" not found'):
        expand_includes('#include "nope.glsl"', tmp_path / "a.glsl", [tmp_path])


# -- switching -----------------------------------------------------------------------------
def _run(sw, t0, t1, *, bpm=120.0, fps=100.0, beats_per_bar=4):
    """Advance the switcher from t0 to t1 with a steady beat grid; return the states."""
    out = []
    for i in range(int(round((t1 - t0) * fps))):
        t = t0 + i / fps
        bar_phase = (t * bpm / 60.0 / beats_per_bar) % 1.0
        out.append((t, sw.update(t, bar_phase=bar_phase, bpm=bpm)))
    return out


def test_a_request_lands_on_the_next_bar_line_and_fades_over_the_set_beats():
    sw = LookSwitcher(["a", "b", "c"], "a", fade_beats=2.0)
    _run(sw, 0.0, 0.5)                    # 120 BPM, 4/4: bars every 2 s
    assert "next bar line" in sw.request("b")
    states = _run(sw, 0.5, 4.0)
    start = next(t for t, s in states if s.incoming == "b")
    assert start == pytest.approx(2.0, abs=0.011)                 # the bar line
    done = next(t for t, s in states if s.current == "b")
    assert done - start == pytest.approx(1.0, abs=0.02)          # 2 beats at 120 BPM
    mids = [s.mix for t, s in states if s.incoming == "b"]
    assert mids == sorted(mids) and 0.4 < mids[len(mids) // 2] < 0.6
    assert sw.request(1) == "look b is already on"
    assert "no look number 7" in sw.request(7) and "unknown look 'zz'" in sw.request("zz")


def test_without_a_tempo_a_request_lands_at_once():
    sw = LookSwitcher(["a", "b"], "a", fade_beats=0.0)
    sw.request("b")
    assert sw.update(0.0, bar_phase=0.0, bpm=0.0).current == "b"


def test_auto_change_every_n_bars_never_repeats_the_last_three():
    names = [f"l{i}" for i in range(6)]
    sw = LookSwitcher(names, "l0", fade_beats=0.0, auto_bars=1, seed=3)
    shown = [s.current for _, s in _run(sw, 0.0, 2.0 * 40)]
    changes = [shown[0]] + [b for a, b in zip(shown, shown[1:]) if a != b]
    assert len(changes) >= 35                                     # one a bar
    for i in range(3, len(changes)):
        assert changes[i] not in changes[i - 3:i]
    assert set(changes) == set(names)


def test_a_bad_look_is_skipped_and_the_current_stays():
    sw = LookSwitcher(["a", "b", "c"], "a", fade_beats=0.0)
    sw.request("b")
    sw.mark_bad("b", "does not compile")
    assert sw.pending is None and sw.current == "a"
    assert "skipped: does not compile" in sw.request("b")
    assert sw.step(+1) == "look c on the next bar line"


# -- on GL ---------------------------------------------------------------------------------
def _gen_frame():
    y, x = np.mgrid[0:36, 0:64] / 10.0
    img = np.stack([np.sin(x + y), np.sin(2 * x - y + 1), np.cos(x * y * 0.3)], -1) * 0.5 + 0.5
    return Frame(pixels=(img * 255).astype(np.uint8), control=None, gen_ms=0.0, index=1)


def _features(t, *, beat):
    return dataclasses.replace(SILENT_FRAME, t=t, bass=0.8 if beat else 0.1, mid=0.4, treble=0.5, bass_att=1.5 if beat else 0.8,
                               mid_att=1.0, treble_att=1.0, rms=0.3, onset=0.9, onset_count=1,
                               last_onset_t=t if beat else t - 0.5, bpm=120.0,
                               beat_phase=0.0 if beat else 0.5, bar_phase=0.0 if beat else 0.125, centroid_hz=2000.0)


def test_every_look_compiles_draws_and_answers_the_beat(make_renderer):
    from live.looks.stage import LookStage

    r = make_renderer(width=96, height=54)
    r.set_frame(_gen_frame(), now_s=-1.0)
    for lk in discover():
        r.chain.release()
        r.chain = LookStage(r.ctx, [lk], search_dirs(()), size=r.size, internal_scale=r.internal_scale,
                            start=lk.name)
        for i in range(4):
            r.draw(_features(i / 30, beat=False), {}, time_s=i / 30)
        off = r.read_pixels().astype(float)
        r.draw(_features(4 / 30, beat=True), {}, time_s=4 / 30)
        on = r.read_pixels().astype(float)
        assert r.ctx.error == "GL_NO_ERROR", lk.name
        assert 0.03 < off.mean() / 255 < 0.9, lk.name
        assert np.abs(on - off).mean() > 2.0, f"{lk.name} does not answer the beat"


def test_the_stage_cross_fades_and_skips_a_look_that_does_not_compile(make_renderer, tmp_path):
    from live.control import ControlStore
    from live.looks.stage import LookStage

    (tmp_path / "looks").mkdir()
    (tmp_path / "looks" / "broken.toml").write_text('passes = ["trails", "looks/broken"]')
    (tmp_path / "looks" / "broken.glsl").write_text("void main() { f_color = nonsense; }")
    looks = discover([tmp_path])
    r = make_renderer(width=64, height=36)
    r.set_frame(_gen_frame(), now_s=-1.0)
    r.chain.release()
    stage = r.chain = LookStage(r.ctx, looks, search_dirs([tmp_path]), size=r.size, start="classic")
    store = ControlStore()
    stage.follow(store.state)
    store.set("look.name", "broken")
    stage.follow(store.state)
    r.draw(_features(0.0, beat=False), {}, time_s=0.0)
    assert stage.current == "classic" and "broken" in stage.errors and "skipped" in stage.message
    # a real look: requested, lands (no tempo: at once), fades over one beat of 0.5 s
    store.set("look.fade_beats", 1.0)
    store.set("look.name", "mosaic")
    stage.follow(store.state)
    f = dataclasses.replace(_features(0.1, beat=False), bpm=0.0)
    r.draw(f, {}, time_s=0.1)
    assert stage.switcher.incoming == "mosaic"
    r.draw(f, {}, time_s=0.35)
    assert 0.3 < stage.switcher.mix < 0.7 and stage.output_fbo is stage._mix_fbo
    r.draw(f, {}, time_s=0.7)
    assert stage.current == "mosaic" and set(stage.chains) == {"mosaic"}


# -- picture figures -----------------------------------------------------------------------
def _grating(period_px, w=64, h=32):
    n = np.arange(w)
    row = 0.5 + 0.25 * np.cos(2 * np.pi * (n + 0.5) / period_px)     # a DCT-II basis when 2W/period is whole
    return np.repeat(np.repeat(row[None, :, None], h, 0), 3, 2)


def test_detail_share_known_answers():
    from live.looks.measure import detail_share

    assert detail_share(_grating(8)) == pytest.approx(0.25 ** 2 / 2 / (0.25 + 0.25 ** 2 / 2), rel=1e-9)
    assert detail_share(_grating(32)) == pytest.approx(0.0, abs=1e-12)
    assert detail_share(np.full((20, 30, 3), 128, np.uint8)) == pytest.approx(0.0, abs=1e-12)
    assert detail_share(np.zeros((20, 30, 3), np.uint8)) == 0.0
    # the same picture, 2x larger (features twice the pixels) has less fine detail
    rng = np.random.default_rng(0)
    small = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
    assert detail_share(small.repeat(4, 0).repeat(4, 1)) < detail_share(small)


def test_exposure_counts_washed_out_and_black_frames():
    from live.looks.measure import exposure

    frames = [np.full((4, 4, 3), v, np.uint8) for v in (255, 250, 128, 2, 100)]
    e = exposure(frames)
    assert e.frames == 5 and e.bright == pytest.approx(0.4) and e.dark == pytest.approx(0.2)
    assert e.clipped == pytest.approx(0.2) and e.bad == pytest.approx(0.6)


# -- render --look and the contact sheet ---------------------------------------------------
@pytest.fixture(scope="module")
def click_wav(tmp_path_factory):
    from live.testing.sync_videos import click_track, write_wav

    tmp = tmp_path_factory.mktemp("looks")
    x, _ = click_track(duration_s=4.0, first_click_s=0.5)
    wav = tmp / "click.wav"
    write_wav(wav, x, sample_rate_hz=44100)
    return wav


def test_render_look_by_name_and_number_and_a_clear_error(click_wav, tmp_path, capsys):
    if egl_unavailable_reason():
        pytest.skip(egl_unavailable_reason())
    from live.cli import main
    from live.looks.sheet import render_look_clip

    base = [str(click_wav), "--size", "64x36", "--end", "1.0", "--fps", "10", "--quiet", "--set", "gen.size=32"]
    assert main(["render", *base, "-o", str(tmp_path / "a.mp4"), "--look", "mosaic"]) == 0
    assert main(["render", *base, "-o", str(tmp_path / "c.mp4"), "--look", "nope"]) == 2
    assert "unknown look 'nope'; known: classic" in capsys.readouterr().err
    number = [lk.name for lk in discover()].index("mosaic")
    _, by_name = render_look_clip("mosaic", click_wav, size=(64, 36), start_s=0.0, end_s=0.5, sets=["gen.size=32"])
    _, by_number = render_look_clip(str(number), click_wav, size=(64, 36), start_s=0.0, end_s=0.5, sets=["gen.size=32"])
    _, classic = render_look_clip("classic", click_wav, size=(64, 36), start_s=0.0, end_s=0.5, sets=["gen.size=32"])
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(by_name, by_number))
    assert np.abs(by_name[-1][1].astype(float) - classic[-1][1]).mean() > 3.0


def test_contact_sheet_has_a_row_per_look_with_two_frames(click_wav, tmp_path):
    if egl_unavailable_reason():
        pytest.skip(egl_unavailable_reason())
    from PIL import Image

    from live.looks.sheet import contact_sheet

    looks = [lk for lk in discover() if lk.name in ("classic", "halftone")]
    out = contact_sheet(tmp_path / "sheet.png", looks=looks, audio=click_wav, size=(64, 36), start_s=0.5,
                        span_s=2.5)
    img = np.asarray(Image.open(out).convert("RGB")).astype(float)
    assert img.shape == (24 + 2 * 40, 150 + 2 * 64 + 12, 3)
    on, off = img[20:56, 150:214], img[20:56, 222:286]
    assert on.mean() > 10 and off.mean() > 10 and np.abs(on - off).mean() > 1.0   # the beat shows


def test_keys_request_looks_through_the_parameter_table():
    from live.control import ControlStore

    store = ControlStore()
    assert store.apply_key("look:next") and store.state.count("look.next") == 1
    assert store.apply_key("look:prev") and store.state.count("look.prev") == 1
    assert store.apply_key("look:4") and store.state["look.select"] == 4


@pytest.mark.parametrize("look", ["classic", "tunnel"])
def test_stacked_flashes_compress_highlights_instead_of_clipping(make_renderer, look):
    from live.looks.stage import install_look
    from tests.gl_fixtures import NEUTRAL

    r = make_renderer(width=128, height=72)
    install_look(r, look)
    ramp = np.repeat(np.linspace(60, 230, 64)[None, :, None], 36, 0).repeat(3, 2).astype(np.uint8)
    r.set_frame(Frame(pixels=ramp, control=None, gen_ms=0.0, index=1), now_s=-1.0)
    f = dataclasses.replace(_features(1.0, beat=True), onset=1.0, last_onset_t=1.0)
    ctl = dict(NEUTRAL, intensity=2.0, **{"fx.flash": 1.0})
    r.draw(f, ctl, time_s=1.0)
    row = r.read_pixels()[36, 8:120].astype(int).mean(axis=1)
    assert row.max() < 255                        # no flat white
    # the ramp is still there: brighter than its mirror image across the (symmetric) vignette
    assert all(row[-1 - x] > row[x] for x in range(0, 40, 4)), row


def test_a_look_parameter_reaches_its_pass_as_a_renderer_control(make_renderer):
    from live.control import ControlStore, renderer_controls
    from live.looks.stage import install_look

    r = make_renderer(width=320, height=180)      # tiles of 3 vs 8 pixels
    install_look(r, "mosaic")
    r.set_frame(_gen_frame(), now_s=-1.0)
    store = ControlStore()
    pics = []
    for tile in (0.0, 1.0):
        store.set("look.mosaic.tile", tile)
        ctl = renderer_controls(store.state)
        assert ctl["look.mosaic.tile"] == tile
        r.draw(_features(0.5, beat=False), ctl, time_s=0.5)
        pics.append(r.read_pixels().astype(float))
    assert np.abs(pics[0] - pics[1]).mean() > 3.0


def test_a_user_look_is_proved_off_screen_and_an_endless_one_never_freezes_the_show(make_renderer, tmp_path):
    """A user's look is compiled, then proved in the probe's own process while the current look
    stays on screen: the frame that asked for it does not wait for the probe, and a pass that
    never returns is refused with the reason while the show keeps drawing."""
    import time

    from live.control import ControlStore
    from live.looks.stage import LookStage

    (tmp_path / "looks").mkdir()
    (tmp_path / "looks" / "forever.toml").write_text('passes = ["trails", "looks/forever"]')
    from live.testing.shaders import ENDLESS_PASS as ENDLESS

    (tmp_path / "looks" / "forever.glsl").write_text(ENDLESS)
    looks = discover([tmp_path])
    r = make_renderer(width=64, height=36)
    r.set_frame(_gen_frame(), now_s=-1.0)
    r.chain.release()
    # on llvmpipe the loop is cut after 65535 turns (36 ms a frame at this size): a budget of
    # 5 ms refuses it there; on a GPU it never returns and the probe's deadline refuses it
    stage = r.chain = LookStage(r.ctx, looks, search_dirs([tmp_path]), size=r.size, start="classic",
                                budget_ms=5.0)
    store = ControlStore()
    stage.follow(store.state)
    store.set("look.name", "forever")
    stage.follow(store.state)
    f = dataclasses.replace(_features(0.0, beat=False), bpm=0.0)      # no tempo: would land at once
    r.draw(f, {}, time_s=0.0)
    chain, fut = stage._proving["forever"]
    assert not fut.done()                        # the frame was drawn without waiting for the probe
    assert stage.current == "classic" and stage.switcher.incoming is None
    t_end = time.monotonic() + 60.0
    frames = 1
    while "forever" not in stage.errors and time.monotonic() < t_end:
        r.draw(f, {}, time_s=0.01 * frames)
        frames += 1
        time.sleep(0.02)
    assert "forever" in stage.errors, "the endless pass was never refused"
    assert "refused" in stage.errors["forever"] and stage.current == "classic"
    assert frames > 5 and "forever" not in stage.chains and not stage._proving
    assert r.ctx.error == "GL_NO_ERROR"
    assert r.read_pixels().mean() > 3             # the current look is still on screen
    stage.release()


def test_a_good_user_look_lands_once_it_has_proved_itself(make_renderer, tmp_path):
    """A copied and renamed look (a user's pass) waits off screen for its probe, then lands."""
    import shutil
    import time

    from live.control import ControlStore
    from live.render.shaderlib import bundled_dir
    from live.looks.stage import LookStage

    (tmp_path / "looks").mkdir()
    (tmp_path / "looks" / "mine.toml").write_text('passes = ["trails", "looks/mine"]')
    shutil.copy(bundled_dir() / "looks" / "mosaic.glsl", tmp_path / "looks" / "mine.glsl")
    looks = discover([tmp_path])
    r = make_renderer(width=64, height=36)
    r.set_frame(_gen_frame(), now_s=-1.0)
    r.chain.release()
    stage = r.chain = LookStage(r.ctx, looks, search_dirs([tmp_path]), size=r.size, start="classic")
    store = ControlStore()
    stage.follow(store.state)
    store.set("look.fade_beats", 0.0)
    store.set("look.name", "mine")
    stage.follow(store.state)
    f = dataclasses.replace(_features(0.0, beat=False), bpm=0.0)
    t_end = time.monotonic() + 60.0
    frames = 0
    while stage.current != "mine" and time.monotonic() < t_end:
        r.draw(f, {}, time_s=0.01 * frames)
        frames += 1
        time.sleep(0.02)
    assert stage.current == "mine" and not stage.errors and not stage._proving
    assert r.ctx.error == "GL_NO_ERROR"
    stage.release()
