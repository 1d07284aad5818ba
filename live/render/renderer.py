"""The renderer: the shader chain drawn from the newest generator picture, features and controls.

Runs on the main thread. ``set_frame`` hands it the newest generator picture (uploaded only
when ``Frame.index`` changes; the previous one stays for the cross-fade), ``draw`` renders
the whole chain. Its parts live in rooms of their own: the GL context, window and keys
(:mod:`live.render.context`), the generator's picture and its cross-fade
(:mod:`live.render.picture`), the uniforms as a pure function of features, controls and time
(:mod:`live.render.uniforms`), the capture that hands every drawn frame to the frame sinks
(:mod:`live.render.capture`) and the HUD (:mod:`live.render.hud`, fed a :class:`RenderStats`
value). Nothing here waits for the generator, the audio or a sink.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Mapping, Sequence

import numpy as np

from live.errors import RenderError
from live.render.capture import Capture
from live.render.context import GLContext, has_display  # noqa: F401 - has_display re-exported
from live.render.hud import RenderStats
from live.render.picture import GenPicture
from live.render.shaderlib import ShaderError, search_dirs
from live.render.uniforms import CONTROL_DEFAULTS, UniformState, control_uniform, uniform_values  # noqa: F401 - re-exported
from live.types import SILENT_FRAME, FeatureFrame, Frame

log = logging.getLogger("live.render")

# the default chain is the five effects of the design fused into two passes (same look, far
# fewer full-screen passes on a software rasteriser); the five single-effect files stay for
# users' own chains: CLASSIC_CHAIN draws the same effects one pass each
DEFAULT_CHAIN = ("trails", "finish")
CLASSIC_CHAIN = ("source", "feedback", "color", "flash", "output")
SOFTWARE_INTERNAL_SCALE = 0.4   # auto internal_scale on Mesa llvmpipe and other software rasterisers


class Renderer:
    """Draw the audio-reactive chain to a window or a headless framebuffer.

    ``headless``: "auto" opens a window when a display is there and glfw works, else EGL
    (and logs why); True forces EGL; False forces a window (RenderError if impossible).
    ``internal_scale`` renders every pass but the last at that fraction of the output size
    (the last pass upscales); 1.0 = full resolution; None/0 = auto: 0.4 on a software
    rasteriser, 1.0 on a GPU. On Mesa llvmpipe a full-resolution pass is the floor of the
    frame cost (even a plain texture copy to 1280x720 costs ~10-20 ms of CPU on a loaded
    two-core machine), so the default chain has exactly one: trails (generator picture +
    feedback) at 0.4, finish (colour, flash, sparkle, kaleidoscope, vignette, fade) at full size.
    A 256-pixel generator frame cover-fitted to 16:9 has 144 rows: 0.4 of 720 rows is 288,
    already twice the generator's detail.
    """

    def __init__(self, *, width: int = 1280, height: int = 720, headless: str | bool = "auto",
                 fullscreen: bool = False, monitor: int = 0, vsync: bool = True,
                 shader_dirs: Sequence[str] = (), chain: Sequence[str] = DEFAULT_CHAIN,
                 hud: bool = True, internal_scale: float | None = None, title: str = "latent-live",
                 shader_budget_ms: float = 0.0, wall: str = "", tile: int = 0, overlap: int = 0):
        # a video wall tile (live.render.wall): WallError (a RenderError) when it cannot work
        self.tile = None
        if wall:
            from live.render.wall import make_tile

            self.tile = make_tile(wall, tile, width=width, height=height, overlap=overlap)

        self.context = GLContext(width=width, height=height, headless=headless, fullscreen=fullscreen,
                                 monitor=monitor, vsync=vsync, title=title)
        self.ctx = self.context.ctx
        self.headless = self.context.headless
        self.software = self.context.software
        self.last_error: str | None = None
        if not internal_scale:
            internal_scale = SOFTWARE_INTERNAL_SCALE if self.software else 1.0
            if self.software:
                log.info("software rasteriser (%s): effect passes at %.2f of the output size",
                         self.context.renderer_name, internal_scale)
        self.internal_scale = float(min(max(internal_scale, 0.1), 1.0))

        from live.render.chain import Chain

        try:
            self.chain = Chain(self.ctx, list(chain), search_dirs(shader_dirs), size=self.size,
                               internal_scale=self.internal_scale, budget_ms=shader_budget_ms, tile=self.tile)
        except ShaderError as exc:
            self.context.close()
            self.ctx = None
            raise RenderError(str(exc)) from None
        self.picture = GenPicture(self.ctx)     # the generator's frames, for the cross-fade
        # per-frame state
        self._values: dict = {}
        self._uniforms = UniformState()
        self._draw_times: deque = deque(maxlen=240)
        self._last_draw_wall: float | None = None
        self._last_reload_check = 0.0
        self.hud_visible = bool(hud)
        self._hud = None
        self._hud_pending = None
        self._hud_shown_last = False
        self.capture = Capture(self.ctx)
        self._edge_blend = None
        if self.tile is not None:      # fade the overlaps with the neighbouring tiles
            from live.render.wall import EdgeBlend

            self._edge_blend = EdgeBlend(self.ctx, self.tile)
        self.looks = None       # a LookStage when the assembly put one where the chain was

    # -- window (see live.render.context) -------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """Output size (width, height) in pixels: the framebuffer size of the window."""
        return self.context.size

    @property
    def window(self):
        return self.context.window

    @property
    def should_close(self) -> bool:
        return self.context.should_close

    @property
    def fullscreen(self) -> bool:
        return self.context.fullscreen

    @property
    def message(self) -> str:
        return self.context.message

    @message.setter
    def message(self, text: str) -> None:
        self.context.message = text

    def poll_events(self) -> list[str]:
        """Process window events; return key events as names: fullscreen, hud, tap, bank:N, quit."""
        return self.context.poll_events()

    def set_fullscreen(self, on: bool) -> None:
        self.context.set_fullscreen(on)

    def toggle_fullscreen(self) -> None:
        self.context.set_fullscreen(not self.context.fullscreen)

    # -- pictures -------------------------------------------------------------------------
    def set_frame(self, frame: Frame, *, now_s: float) -> None:
        """Take the newest generator frame (see :class:`live.render.picture.GenPicture`).

        ``now_s`` is on the same clock as ``draw(time_s=...)``: the cross-fade from the
        previous picture to this one runs over the measured interval between generator frames.
        ``frame.pixels``: (H, W, 3) uint8, or float16 in 0..1.
        """
        problem = self.picture.set(frame, now_s=now_s)
        if problem:
            self._set_error(problem)

    @property
    def gen_fps(self) -> float:
        """Generator frames per second as seen by the renderer (from frame arrivals)."""
        return self.picture.fps

    def check_reload(self) -> list[str]:
        """Recompile shaders whose files changed (throttled to 4 checks/s). Returns messages."""
        now = time.monotonic()
        if now - self._last_reload_check < 0.25:
            return []
        self._last_reload_check = now
        msgs = self.chain.check_reload()
        self.last_error = self.chain.last_error
        if msgs:
            self.message = msgs[-1]
        return msgs

    def _set_error(self, message: str) -> None:
        log.error(message)
        self.last_error = message

    def draw(self, features: FeatureFrame | None, controls: Mapping[str, float], *, time_s: float,
             hud=None) -> None:
        """Render the chain to the screen (window) or the headless framebuffer.

        ``hud``: a :class:`live.render.hud.HudInfo` with what the renderer cannot know itself
        (bank, entry, latency, message); the HUD is drawn when ``hud_visible``.
        """
        wall = time.perf_counter()
        if self._last_draw_wall is not None:
            self._draw_times.append(wall - self._last_draw_wall)
        self._last_draw_wall = wall
        ctx = self.context
        if ctx.window is not None:
            resized = ctx.poll_resize()
            if resized is not None:
                self.chain.resize(resized)
            if ctx.minimised:
                return
        feats = features or SILENT_FRAME
        pic = self.picture
        self._uniforms, _ = uniform_values(self._uniforms, feats, controls or {}, time_s=time_s,
                                           gen_mix=pic.mix(time_s), gen_size=pic.size, out=self._values)
        self.chain.draw(self._values, pic.textures[0], pic.textures[1])
        out = self.chain.output_fbo
        if self._edge_blend is not None:
            self._edge_blend.apply(out)
        self.capture.capture(out, self.size, time_s)
        show_hud = self.hud_visible
        if ctx.window is not None:
            self.ctx.copy_framebuffer(ctx.screen, out)
            if show_hud:
                self._draw_hud(feats, hud)
            ctx.swap()
            self._hud_pending = None
        else:
            # headless: nobody looks at a screen, so the overlay is composed only when it is
            # read (read_pixels(hud=True)): no full-resolution copy and no HUD draw per frame
            self._hud_pending = (feats, hud) if show_hud else None
        self._hud_shown_last = show_hud

    def finish(self) -> None:
        """Wait until the GPU has finished (glFinish): for benchmarks."""
        self.ctx.finish()

    def compose_hud(self) -> bool:
        """Headless: draw the last frame with the HUD over it into the screen framebuffer now
        (``read_pixels(hud=True)`` calls this). False when the HUD was hidden at that frame."""
        if self.context.window is not None:
            return bool(self._hud_shown_last)
        pending = self._hud_pending
        if pending is None:
            return False
        self._hud_pending = None
        self.ctx.copy_framebuffer(self.context.screen, self.chain.output_fbo)
        self._draw_hud(*pending)
        return self.hud_visible

    def read_pixels(self, *, hud: bool = False) -> np.ndarray:
        """The last drawn picture, (H, W, 3) uint8, top row first. ``hud=True`` includes the overlay."""
        if hud and self.context.window is None and self._hud_pending is not None:
            self.compose_hud()
        fbo = self.context.screen if (hud and self._hud_shown_last) else self.chain.output_fbo
        w, h = fbo.size if fbo is not self.ctx.screen else self.size
        data = fbo.read(viewport=(0, 0, w, h), components=3, alignment=1)
        return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)[::-1].copy()

    # -- stats and HUD --------------------------------------------------------------------
    def frame_stats(self) -> tuple[float, float, float]:
        """(fps, frame time p50 ms, p99 ms) over the last few seconds of draws."""
        if len(self._draw_times) < 2:
            return 0.0, 0.0, 0.0
        arr = np.fromiter(self._draw_times, dtype=np.float64)
        p50, p99 = np.percentile(arr, [50, 99])
        return 1.0 / max(float(arr.mean()), 1e-9), 1000.0 * float(p50), 1000.0 * float(p99)

    def stats(self) -> RenderStats:
        """The renderer's figures as one value (what the HUD shows)."""
        fps, p50, p99 = self.frame_stats()
        return RenderStats(fps=fps, frame_p50_ms=p50, frame_p99_ms=p99, gen_fps=self.gen_fps,
                           last_error=self.last_error, message=self.message)

    def _draw_hud(self, features: FeatureFrame, info) -> None:
        try:
            if self._hud is None:
                from live.render.hud import HudDrawer

                self._hud = HudDrawer(self.ctx)
            self._hud.draw(self.context.screen, self.size, stats=self.stats(), features=features, info=info)
        except Exception as exc:  # noqa: BLE001 - a HUD bug must never take the picture down
            self.hud_visible = False
            self._set_error(f"HUD disabled after an error: {type(exc).__name__}: {exc}")

    # -- frame sinks (see live.render.capture) --------------------------------------------
    def add_sink(self, sink) -> None:
        """Hand every drawn output frame (without HUD) to ``sink`` (a :class:`live.outputs.FrameSink`),
        read back asynchronously, one frame late. A sink must take the output size."""
        w, h = self.size
        if (sink.width, sink.height) != (w, h):
            raise RenderError(f"output {getattr(sink, 'name', 'sink')} is {sink.width}x{sink.height} "
                              f"but the picture is {w}x{h}")
        self.capture.add(sink)

    def remove_sink(self, sink) -> None:
        """Hand ``sink`` the last pending frame and detach it (does not close it)."""
        self.capture.remove(sink)

    def flush_capture(self) -> None:
        """Hand the frame still being read back to the sinks (end of a render or show)."""
        self.capture.flush()

    def start_recording(self, recorder) -> None:
        """Older name of :meth:`add_sink` for the recorder."""
        self.add_sink(recorder)

    def stop_recording(self) -> None:
        """Hand over the last pending frame and detach every sink (does not close them)."""
        self.capture.release()

    # -- shutdown -------------------------------------------------------------------------
    def close(self) -> None:
        """Release GL objects and the window/context. Safe to call twice."""
        if getattr(self, "ctx", None) is None:
            return
        self.capture.release()
        if self._hud is not None:
            self._hud.release()
        self.chain.release()
        if self._edge_blend is not None:
            self._edge_blend.release()
        self.picture.release()
        self.context.close()
        self.ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
