"""Video wall geometry: ``--wall COLSxROWS --tile N [--overlap PX]`` (pure, no GL here but
:class:`EdgeBlend`, which draws on a given context).

The wall is one picture, the *canvas*; every tile is a window onto it. Tiles are numbered
row by row from the top left (0 .. cols*rows-1), all the same size (each node's output
size), and neighbours share ``overlap`` pixels for projector edge blending::

    canvas width  = cols * tile_w - (cols - 1) * overlap
    canvas height = rows * tile_h - (rows - 1) * overlap
    tile (c, r) starts at x = c * (tile_w - overlap), y = r * (tile_h - overlap)  (pixels, top down)

Every node renders the same canvas from the same features, walk and seed: the effect passes
run over the whole canvas (at ``internal_scale`` of the canvas size), and only the last pass
is drawn for the tile's rectangle, with ``u_view`` mapping its pixels to canvas coordinates
and ``u_resolution`` set to the canvas size, so a pixel on a border is computed from the same
numbers on both nodes. In the overlap each projector fades out with a ramp whose light adds
up to one (``gamma`` undoes the projector's transfer curve: the sum is taken in linear light).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from live.errors import RenderError

MAX_TILES = 64


class WallError(RenderError, ValueError):
    """A wall setting that cannot work: one line naming the setting and what to give."""


@dataclass(frozen=True)
class Tile:
    """One tile of a wall (all sizes in pixels; ``x``, ``y`` of its top-left corner in the canvas)."""

    cols: int
    rows: int
    index: int
    tile_w: int
    tile_h: int
    overlap: int = 0

    @property
    def col(self) -> int:
        return self.index % self.cols

    @property
    def row(self) -> int:
        return self.index // self.cols

    @property
    def canvas(self) -> tuple[int, int]:
        return (self.cols * self.tile_w - (self.cols - 1) * self.overlap,
                self.rows * self.tile_h - (self.rows - 1) * self.overlap)

    @property
    def x(self) -> int:
        return self.col * (self.tile_w - self.overlap)

    @property
    def y(self) -> int:
        return self.row * (self.tile_h - self.overlap)

    @property
    def view(self) -> tuple[float, float, float, float]:
        """``u_view``: (u0, v0, du, dv) of this tile in canvas texture coordinates (GL: v up)."""
        cw, ch = self.canvas
        return (self.x / cw, 1.0 - (self.y + self.tile_h) / ch, self.tile_w / cw, self.tile_h / ch)

    @property
    def blend_px(self) -> tuple[int, int, int, int]:
        """Overlap ramp widths at (left, right, top, bottom): ``overlap`` where a neighbour is, else 0."""
        o = self.overlap
        return (o if self.col > 0 else 0, o if self.col < self.cols - 1 else 0,
                o if self.row > 0 else 0, o if self.row < self.rows - 1 else 0)

    def describe(self) -> str:
        cw, ch = self.canvas
        return (f"tile {self.index} (column {self.col + 1}, row {self.row + 1}) of a {self.cols}x{self.rows} wall: "
                f"{self.tile_w}x{self.tile_h} at {self.x},{self.y} of a {cw}x{ch} canvas, overlap {self.overlap} px")


def parse_wall(spec: str) -> tuple[int, int]:
    """``"COLSxROWS"`` -> (cols, rows); WallError otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", spec or "")
    if not m:
        raise WallError(f"--wall {spec!r} must be COLSxROWS, e.g. --wall 3x1 for three projectors side by side")
    cols, rows = int(m.group(1)), int(m.group(2))
    if cols < 1 or rows < 1 or cols * rows > MAX_TILES:
        raise WallError(f"--wall {spec}: 1 to {MAX_TILES} tiles, at least one column and one row")
    return cols, rows


def make_tile(wall: str, tile: int, *, width: int, height: int, overlap: int = 0) -> Tile:
    """The tile of ``--wall wall --tile tile`` for an output of ``width`` x ``height`` (WallError if
    it cannot work)."""
    cols, rows = parse_wall(wall)
    n = cols * rows
    if not 0 <= int(tile) < n:
        raise WallError(f"--tile {tile} does not exist on a {cols}x{rows} wall: tiles are 0..{n - 1}, "
                        "numbered row by row from the top left")
    if width <= 0 or height <= 0:
        raise WallError(f"the output size must be positive, got {width}x{height}")
    limit = min(width if cols > 1 else 10 ** 9, height if rows > 1 else 10 ** 9)
    if overlap < 0 or (n > 1 and overlap * 2 > limit):
        raise WallError(f"--overlap {overlap} px must be 0..{limit // 2 if n > 1 else 0} (half a tile at most)")
    return Tile(cols=cols, rows=rows, index=int(tile), tile_w=int(width), tile_h=int(height),
                overlap=int(overlap) if n > 1 else 0)


def ramp(x: np.ndarray, gamma: float = 2.2) -> np.ndarray:
    """Blend weight (output value, 0..1) at position ``x`` in 0..1 across an overlap, 0 = the
    outer edge of this tile. The light of two projectors, ``w(x)^gamma + w(1-x)^gamma``, is 1."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    s = x * x * (3.0 - 2.0 * x)                     # smoothstep: s(x) + s(1-x) = 1
    return s ** (1.0 / gamma)


def blend_mask(tile: Tile, gamma: float = 2.2) -> np.ndarray:
    """(tile_h, tile_w) weights for every pixel of the tile (rows top down), as :class:`EdgeBlend`
    draws them: the product of the ramps of every side with a neighbour."""
    w, h = tile.tile_w, tile.tile_h
    left, right, top, bottom = tile.blend_px
    xs = np.arange(w) + 0.5
    ys = np.arange(h) + 0.5
    wx = np.ones(w)
    wy = np.ones(h)
    if left:
        wx *= np.where(xs < left, ramp(xs / left, gamma), 1.0)
    if right:
        wx *= np.where(xs > w - right, ramp((w - xs) / right, gamma), 1.0)
    if top:
        wy *= np.where(ys < top, ramp(ys / top, gamma), 1.0)
    if bottom:
        wy *= np.where(ys > h - bottom, ramp((h - ys) / bottom, gamma), 1.0)
    return np.outer(wy, wx)


_BLEND_VS = """
#version 330
out vec2 v_px;
uniform vec2 u_size;
void main() {
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    v_px = (p * 0.5 + 0.5) * u_size;
    gl_Position = vec4(p, 0.0, 1.0);
}
"""
_BLEND_FS = """
#version 330
in vec2 v_px;                   // pixel position, y up
out vec4 f_color;
uniform vec2 u_size;
uniform vec4 u_edges;           // ramp widths in px: left, right, top, bottom
uniform float u_gamma;
float ramp(float d, float width) {
    if (width <= 0.0 || d >= width) return 1.0;
    float x = clamp(d / width, 0.0, 1.0);
    return pow(x * x * (3.0 - 2.0 * x), 1.0 / u_gamma);
}
void main() {
    float y_down = u_size.y - v_px.y;
    float w = ramp(v_px.x, u_edges.x) * ramp(u_size.x - v_px.x, u_edges.y)
            * ramp(y_down, u_edges.z) * ramp(u_size.y - y_down, u_edges.w);
    f_color = vec4(w, w, w, 1.0);
}
"""


class EdgeBlend:
    """Multiplies the tile's finished picture by its blend mask (one draw with blending
    ``dst * src``); nothing is drawn when the tile has no overlap."""

    def __init__(self, ctx, tile: Tile, gamma: float = 2.2):
        self.ctx = ctx
        self.tile = tile
        self.active = any(tile.blend_px)
        self.program = self.vao = None
        if self.active:
            self.program = ctx.program(vertex_shader=_BLEND_VS, fragment_shader=_BLEND_FS)
            self.program["u_size"].value = (float(tile.tile_w), float(tile.tile_h))
            self.program["u_edges"].value = tuple(float(x) for x in tile.blend_px)
            self.program["u_gamma"].value = float(gamma)
            self.vao = ctx.vertex_array(self.program, [])

    def apply(self, fbo) -> None:
        if not self.active:
            return
        ctx = self.ctx
        fbo.use()
        ctx.enable(ctx.BLEND)
        ctx.blend_func = ctx.DST_COLOR, ctx.ZERO
        self.vao.render(mode=ctx.TRIANGLES, vertices=3)
        ctx.blend_func = ctx.SRC_ALPHA, ctx.ONE_MINUS_SRC_ALPHA
        ctx.disable(ctx.BLEND)

    def release(self) -> None:
        for obj in (self.vao, self.program):
            if obj is not None:
                obj.release()
