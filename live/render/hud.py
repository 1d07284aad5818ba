"""The HUD: a toggleable text overlay drawn with the bundled 5x7 bitmap font.

:class:`HudInfo` carries what only the caller knows (bank, entry, latency, a message);
:class:`RenderStats` the renderer's own figures (fps, frame time p50/p99, generator fps, last
shader error), handed over as a value; the audio features give the BPM with a beat light,
band meters and the onset light.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.render import font
from live.types import PITCH_CLASSES


@dataclass(frozen=True)
class HudInfo:
    """What the HUD shows beyond the renderer's own figures. All optional."""

    bank: str = ""                      # active bank name
    entry: str = ""                     # active entry, e.g. "3 -> 4 (0.42)"
    latency_ms: float | None = None     # sound-in to light-out estimate, when known
    gen_fps: float | None = None        # overrides the renderer's own measurement
    gen_ms: float | None = None         # generator time per frame
    message: str = ""                   # last status message (preset recalled, device lost...)
    lines: tuple = ()                   # extra lines of text


@dataclass(frozen=True)
class RenderStats:
    """The renderer's own figures, as the HUD shows them."""

    fps: float = 0.0                    # drawn frames per second
    frame_p50_ms: float = 0.0           # interval between draws, median
    frame_p99_ms: float = 0.0
    gen_fps: float = 0.0                # generator frames per second as the renderer sees them
    last_error: str | None = None       # last shader / frame error
    message: str = ""                   # last renderer message (shader reloaded, monitor...)


_VS = """
#version 330
uniform vec2 u_screen;
in vec2 in_pos; in vec2 in_uv; in vec4 in_color;
out vec2 v_uv; out vec4 v_color;
void main() {
    v_uv = in_uv; v_color = in_color;
    vec2 p = in_pos / u_screen * 2.0 - 1.0;
    gl_Position = vec4(p.x, -p.y, 0.0, 1.0);
}
"""
_FS = """
#version 330
uniform sampler2D u_font;
in vec2 v_uv; in vec4 v_color;
out vec4 f_color;
void main() {
    float a = texture(u_font, v_uv).r * v_color.a;
    f_color = vec4(v_color.rgb, a);
}
"""

WHITE = (1.0, 1.0, 1.0, 1.0)
DIM = (0.65, 0.7, 0.75, 1.0)
RED = (1.0, 0.35, 0.3, 1.0)
YELLOW = (1.0, 0.85, 0.3, 1.0)
GREEN = (0.35, 1.0, 0.45, 1.0)
BG = (0.0, 0.0, 0.0, 0.6)
MAX_QUADS = 6000


class HudDrawer:
    """Draws the overlay into a framebuffer with alpha blending. Made lazily by the renderer."""

    def __init__(self, ctx):
        self.ctx = ctx
        img = font.atlas()
        self.atlas_size = (img.shape[1], img.shape[0])
        self.tex = ctx.texture(self.atlas_size, 1, data=np.ascontiguousarray(img[::-1]).tobytes(), alignment=1)
        self.tex.filter = (ctx.NEAREST, ctx.NEAREST)
        self.prog = ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        self.prog["u_font"].value = 7
        self.vbo = ctx.buffer(reserve=MAX_QUADS * 6 * 8 * 4)
        self.vao = ctx.vertex_array(self.prog, [(self.vbo, "2f 2f 4f", "in_pos", "in_uv", "in_color")])
        self._verts = np.zeros((MAX_QUADS * 6, 8), dtype=np.float32)
        self._n = 0
        # glyph cell uv corners, (96, 4): u0, v0, u1, v1 (v measured from the bottom of the flipped atlas)
        w, h = self.atlas_size
        idx = np.arange(96)
        x0 = (idx % 16) * font.CELL
        y0 = (idx // 16) * font.CELL
        self._uv = np.stack([x0 / w, 1.0 - y0 / h, (x0 + font.GLYPH_W) / w, 1.0 - (y0 + font.GLYPH_H) / h], 1)
        solid = 127 - 32
        sx, sy = (solid % 16) * font.CELL + 4, (solid // 16) * font.CELL + 4
        self._solid_uv = (sx / w, 1.0 - sy / h)

    # -- geometry -------------------------------------------------------------------------
    def _quads(self, x0, y0, x1, y1, u0, v0, u1, v1, color) -> None:
        n = len(x0)
        if self._n + n * 6 > len(self._verts):
            n = (len(self._verts) - self._n) // 6
            if n <= 0:
                return
        v = self._verts[self._n:self._n + n * 6].reshape(n, 6, 8)
        xs = np.stack([x0, x1, x1, x0, x1, x0], 1)[:n]
        ys = np.stack([y0, y0, y1, y0, y1, y1], 1)[:n]
        us = np.stack([u0, u1, u1, u0, u1, u0], 1)[:n]
        vs = np.stack([v0, v0, v1, v0, v1, v1], 1)[:n]
        v[:, :, 0], v[:, :, 1], v[:, :, 2], v[:, :, 3] = xs, ys, us, vs
        v[:, :, 4:8] = color
        self._n += n * 6

    def rect(self, x, y, w, h, color) -> None:
        u, vv = self._solid_uv
        a = np.array
        self._quads(a([x]), a([y]), a([x + w]), a([y + h]), a([u]), a([vv]), a([u]), a([vv]), color)

    def text(self, x, y, s: str, color, scale: int) -> float:
        """Draw ``s`` with its top-left corner at (x, y) in pixels; returns the x after it."""
        if not s:
            return x
        codes = np.frombuffer(s.upper().encode("ascii", "replace"), dtype=np.uint8).astype(np.int64)
        codes = np.clip(codes, 32, 126) - 32
        adv = (font.GLYPH_W + 1) * scale
        x0 = x + np.arange(len(codes)) * adv
        y0 = np.full(len(codes), float(y))
        uv = self._uv[codes]
        self._quads(x0, y0, x0 + font.GLYPH_W * scale, y0 + font.GLYPH_H * scale,
                    uv[:, 0], uv[:, 1], uv[:, 2], uv[:, 3], color)
        return x + len(codes) * adv

    def meter(self, x, y, w, h, level: float, color, marker: float | None = None) -> None:
        self.rect(x, y, w, h, (0.2, 0.2, 0.2, 0.9))
        self.rect(x, y, w * min(max(level, 0.0), 1.0), h, color)
        if marker is not None:
            mx = x + w * min(max(marker, 0.0), 1.0)
            self.rect(mx - 1, y - 1, 2, h + 2, WHITE)

    # -- the overlay ----------------------------------------------------------------------
    def draw(self, fbo, size, *, stats: RenderStats, features, info: HudInfo | None) -> None:
        info = info or HudInfo()
        width, height = size
        s = max(1, min(4, height // 300))
        lh = (font.GLYPH_H + 4) * s
        cw = (font.GLYPH_W + 1) * s
        self._n = 0
        x0, y = 8 * s, 8 * s
        lines_w = 52 * cw
        fps, p50, p99 = stats.fps, stats.frame_p50_ms, stats.frame_p99_ms
        gen_fps = info.gen_fps if info.gen_fps is not None else stats.gen_fps
        f = features
        rows = 5 + bool(info.bank or info.entry) + len(info.lines) + bool(stats.last_error) + bool(info.message or stats.message)
        self.rect(x0 - 4 * s, y - 4 * s, lines_w + 8 * s, rows * lh + 6 * s, BG)
        self.text(x0, y, f"FPS {fps:5.1f}  FRAME {p50:5.1f}/{p99:5.1f} MS P50/P99", WHITE, s)
        y += lh
        gen = f"GEN {gen_fps:4.1f} FPS" + (f"  {info.gen_ms:5.1f} MS" if info.gen_ms is not None else "")
        lat = f"  LATENCY {info.latency_ms:4.0f} MS" if info.latency_ms is not None else ""
        self.text(x0, y, gen + lat, WHITE, s)
        y += lh
        # BPM + beat light + bar position
        bpm = f"BPM {f.bpm:5.1f}" if f.bpm > 0 else "BPM   ---"
        x = self.text(x0, y, f"{bpm} {f.tempo_source.upper():7s}", WHITE, s)
        on_beat = f.bpm > 0 and f.beat_phase < 0.15
        self.rect(x + cw, y, 6 * s, 7 * s, GREEN if on_beat else (0.15, 0.3, 0.15, 1.0))
        bar_i = int(f.bar_phase * max(f.beats_per_bar, 1)) if f.bpm > 0 else -1
        for i in range(max(min(f.beats_per_bar, 8), 1)):
            self.rect(x + cw + (9 + 5 * i) * s, y + 2 * s, 3 * s, 3 * s, YELLOW if i == bar_i else (0.3, 0.3, 0.3, 1.0))
        since = f.t - f.last_onset_t if f.last_onset_t >= 0 else 99.0
        ox = x + cw + (11 + 5 * 8) * s
        ox = self.text(ox, y, "ONSET", DIM, s)
        self.rect(ox + cw, y, 6 * s, 7 * s, RED if since < 0.12 else (0.3, 0.12, 0.1, 1.0))
        y += lh
        # band meters (raw level bar, self-normalised level as the white marker, 1.0 = middle)
        mx = x0
        for label, raw, att, col in (("B", f.bass, f.bass_att, (1.0, 0.45, 0.3, 1.0)),
                                     ("M", f.mid, f.mid_att, (0.4, 1.0, 0.5, 1.0)),
                                     ("T", f.treble, f.treble_att, (0.4, 0.6, 1.0, 1.0))):
            mx = self.text(mx, y, label, DIM, s) + s * 2
            self.meter(mx, y, 12 * cw, 7 * s, raw, col, marker=att / 2.0)
            mx += 12 * cw + 2 * cw
        self.text(mx, y, f"RMS {f.rms:4.2f}", DIM, s)
        y += lh
        dom = f.dominant_pitch_class
        self.text(x0, y, f"KEY {PITCH_CLASSES[dom] if dom >= 0 else '-':2s}  CENTROID {f.centroid_hz:6.0f} HZ", DIM, s)
        y += lh
        if info.bank or info.entry:
            self.text(x0, y, f"BANK {info.bank}  ENTRY {info.entry}"[:52], WHITE, s)
            y += lh
        for line in info.lines:
            self.text(x0, y, str(line)[:52], DIM, s)
            y += lh
        msg = info.message or stats.message
        if msg:
            self.text(x0, y, msg[:52], YELLOW, s)
            y += lh
        if stats.last_error:
            # the error can be long: wrap it under the box, as many lines as fit
            err = "ERROR " + stats.last_error
            per = max(10, (width - 2 * x0) // cw)
            chunks = [err[i:i + per] for i in range(0, min(len(err), per * 6), per)]
            self.rect(x0 - 4 * s, y - 2 * s, min(len(err), per) * cw + 8 * s, len(chunks) * lh + 4 * s, BG)
            for c in chunks:
                self.text(x0, y, c, RED, s)
                y += lh
        if self._n == 0:
            return
        fbo.use()
        self.vbo.write(self._verts[:self._n].tobytes())
        self.prog["u_screen"].value = (float(width), float(height))
        self.tex.use(location=7)
        self.ctx.enable(self.ctx.BLEND)
        self.ctx.blend_func = self.ctx.SRC_ALPHA, self.ctx.ONE_MINUS_SRC_ALPHA
        self.vao.render(vertices=self._n)
        self.ctx.disable(self.ctx.BLEND)

    def release(self) -> None:
        for obj in (self.vao, self.vbo, self.prog, self.tex):
            obj.release()
