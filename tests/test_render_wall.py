"""Video wall: tile geometry (pure) and tiles that line up with the one-canvas picture (EGL)."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gl_fixtures import features, frame, make_renderer  # noqa: E402,F401 - fixture

from live.render.wall import Tile, WallError, blend_mask, make_tile, parse_wall, ramp  # noqa: E402


def test_tile_geometry_of_a_three_by_two_wall_with_overlap():
    t = make_tile("3x2", 4, width=100, height=60, overlap=10)
    assert (t.col, t.row) == (1, 1)
    assert t.canvas == (280, 110)                 # 3*100 - 2*10, 2*60 - 10
    assert (t.x, t.y) == (90, 50)
    assert t.view == pytest.approx((90 / 280, 0.0, 100 / 280, 60 / 110))
    assert t.blend_px == (10, 10, 10, 0)          # neighbours left, right and above
    corner = make_tile("3x2", 0, width=100, height=60, overlap=10)
    assert corner.blend_px == (0, 10, 0, 10)
    assert corner.view == pytest.approx((0.0, 50 / 110, 100 / 280, 60 / 110))
    # tiles cover the canvas exactly: the last tile ends on the canvas edge
    last = make_tile("3x2", 5, width=100, height=60, overlap=10)
    assert last.x + last.tile_w == last.canvas[0] and last.y + last.tile_h == last.canvas[1]
    assert make_tile("1x1", 0, width=64, height=32, overlap=5).overlap == 0


@pytest.mark.parametrize("wall, tile, overlap, msg", [
    ("3", 0, 0, "COLSxROWS"), ("0x2", 0, 0, "at least one"), ("2x2", 4, 0, "tiles are 0..3"),
    ("2x1", 0, 60, "half a tile"), ("9x9", 0, 0, "1 to 64 tiles"),
])
def test_bad_wall_settings_say_what_to_give(wall, tile, overlap, msg):
    with pytest.raises(WallError, match=msg):
        make_tile(wall, tile, width=100, height=60, overlap=overlap)


def test_overlap_light_adds_up_to_one():
    x = np.linspace(0, 1, 101)
    for gamma in (1.0, 2.2):
        assert np.allclose(ramp(x, gamma) ** gamma + ramp(1 - x, gamma) ** gamma, 1.0)
    a = make_tile("2x1", 0, width=40, height=8, overlap=8)
    b = make_tile("2x1", 1, width=40, height=8, overlap=8)
    ma, mb = blend_mask(a), blend_mask(b)
    # canvas columns 32..39 are a's last 8 and b's first 8 columns
    light = ma[:, 32:] ** 2.2 + mb[:, :8] ** 2.2
    assert np.allclose(light, 1.0) and np.all(ma[:, :32] == 1.0) and np.all(mb[:, 8:] == 1.0)
    assert parse_wall(" 4X1 ") == (4, 1)


# ---------------------------------------------------------------------------------------- GL
FX = {"fx.zoom": 0.8, "fx.rotate": 0.6, "fx.drift": 0.5, "fx.feedback": 0.8, "fx.kaleido": 0.3,
      "fx.flash": 1.0, "fx.sparkle": 1.0, "fx.hue": 0.5, "intensity": 1.0}


def _render(make, tile: Tile | None, size, gen, frames=6):
    wall = dict(wall=f"{tile.cols}x{tile.rows}", tile=tile.index, overlap=tile.overlap) if tile else {}
    r = make(width=size[0], height=size[1], internal_scale=0.5, **wall)
    assert (r.tile is None) == (tile is None) and (tile is None or r.tile == tile)
    r.set_frame(frame(gen, 1), now_s=-1.0)
    f = features(t=1.0, bass=0.7, bass_att=1.4, treble=0.6, treble_att=1.3, onset=0.9, onset_count=3,
                 last_onset_t=0.98, bpm=120.0, beat_phase=0.1, beat_count=2, last_beat_t=0.95, centroid_hz=2000.0)
    for i in range(frames):
        r.draw(f, FX, time_s=1.0 + i / 60.0)
    return r.read_pixels()


@pytest.mark.gl
@pytest.mark.parametrize("wall, overlap", [("2x1", 0), ("2x2", 6)])
def test_tiles_line_up_with_the_one_canvas_picture(make_renderer, wall, overlap):
    rng = np.random.default_rng(3)
    gen = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    t0 = make_tile(wall, 0, width=64, height=40, overlap=overlap)
    canvas = _render(make_renderer, None, t0.canvas, gen)
    tiles = []
    for i in range(t0.cols * t0.rows):
        t = make_tile(wall, i, width=64, height=40, overlap=overlap)
        img = _render(make_renderer, t, (t.tile_w, t.tile_h), gen).astype(np.float64)
        crop = canvas[t.y:t.y + t.tile_h, t.x:t.x + t.tile_w].astype(np.float64)
        expect = crop * blend_mask(t)[:, :, None]
        # the same numbers on every node: a tile is its window of the canvas (rounding aside)
        assert np.abs(img - expect).max() <= 2.0, f"tile {i}: max diff {np.abs(img - expect).max()}"
        tiles.append((t, img))
    # across a border: the pixels on both sides continue the canvas (no seam)
    if overlap == 0:
        (a, ia), (b, ib) = tiles[0], tiles[1]
        seam = np.abs(ia[:, -1] - canvas[:, a.tile_w - 1]).max(), np.abs(ib[:, 0] - canvas[:, a.tile_w]).max()
        assert max(seam) <= 2.0
        assert canvas.std() > 10                    # a real picture, not a flat field
