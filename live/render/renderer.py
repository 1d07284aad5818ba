"""The renderer: a GL context (glfw window or headless EGL), the shader chain, HUD, capture.

Runs on the main thread. ``set_frame`` hands it the newest generator picture (uploaded
only when ``Frame.index`` changes), ``draw`` renders the whole chain with the newest
FeatureFrame and control values. Nothing here waits for the generator or the audio.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections import deque
from typing import Mapping, Sequence

import numpy as np

from live.render.shaderlib import ShaderError, search_dirs
from live.types import SILENT_FRAME, FeatureFrame, Frame

log = logging.getLogger("live.render")

# the default chain is the five effects of the design fused into two passes (same look, far
# fewer full-screen passes on a software rasteriser); the five single-effect files stay for
# users' own chains: CLASSIC_CHAIN draws the same effects one pass each
DEFAULT_CHAIN = ("trails", "finish")
CLASSIC_CHAIN = ("source", "feedback", "color", "flash", "output")
SOFTWARE_INTERNAL_SCALE = 0.4   # auto internal_scale on Mesa llvmpipe and other software rasterisers

# control name -> default; the uniform is "u_" + name with "." -> "_" (see shaders/README.md)
CONTROL_DEFAULTS: dict[str, float] = {
    "intensity": 1.0, "fx.zoom": 0.5, "fx.rotate": 0.5, "fx.drift": 0.5, "fx.feedback": 0.6,
    "fx.hue": 0.5, "fx.saturation": 0.5, "fx.contrast": 0.5, "fx.flash": 0.6, "fx.sparkle": 0.4,
    "fx.kaleido": 0.0, "fade": 1.0, "blackout": 0.0,
}

_ANGLES = np.arange(12) * (2.0 * np.pi / 12.0)
_CHROMA_DIRS = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)  # (12, 2)


class RenderError(Exception):
    """The renderer cannot start (no GL context, missing shader): one line for the user."""


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def control_uniform(name: str) -> str:
    return "u_" + name.replace(".", "_")


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
                 hud: bool = True, internal_scale: float | None = None, title: str = "latent-live"):
        import moderngl  # lazy: heavy, and only the renderer needs it

        self._moderngl = moderngl
        self.window = None
        self._glfw = None
        self._events: list[str] = []
        self._fullscreen = False
        self._windowed_geom = (100, 100, int(width), int(height))
        self.monitor = int(monitor)
        self.last_error: str | None = None
        self.message: str = ""
        want_headless = headless if isinstance(headless, bool) else str(headless).lower() in ("yes", "true", "1")
        if str(headless).lower() == "auto":
            want_headless = None
        if want_headless is None and not has_display():
            log.info("no display (DISPLAY/WAYLAND_DISPLAY unset): rendering headless with EGL")
            want_headless = True
        if not want_headless:
            try:
                self._open_window(int(width), int(height), title=title, vsync=vsync)
            except RenderError as exc:
                if want_headless is False:
                    raise
                log.warning("%s; rendering headless with EGL instead", exc)
        if self.window is None:
            try:
                self.ctx = moderngl.create_standalone_context(backend="egl", require=330)
            except Exception as exc:  # noqa: BLE001
                raise RenderError(f"cannot create a headless EGL context ({exc}); install Mesa EGL "
                                  "(libegl1 libgl1-mesa-dri) or run with a display") from None
            self.headless = True
            self._size = (int(width), int(height))
            log.info("headless EGL renderer %dx%d on %s", *self._size, self.ctx.info.get("GL_RENDERER", "?"))
        else:
            self.headless = False
            self._size = self._glfw.get_framebuffer_size(self.window)

        from live.render.chain import Chain

        renderer_name = str(self.ctx.info.get("GL_RENDERER", ""))
        self.software = any(k in renderer_name.lower() for k in ("llvmpipe", "softpipe", "swiftshader", "swrast"))
        if not internal_scale:
            internal_scale = SOFTWARE_INTERNAL_SCALE if self.software else 1.0
            if self.software:
                log.info("software rasteriser (%s): effect passes at %.2f of the output size",
                         renderer_name, internal_scale)
        self.internal_scale = float(min(max(internal_scale, 0.1), 1.0))

        try:
            self.chain = Chain(self.ctx, list(chain), search_dirs(shader_dirs), size=self._size,
                               internal_scale=self.internal_scale)
        except ShaderError as exc:
            self._close_context()
            raise RenderError(str(exc)) from None
        self._screen_fbo = None
        self._make_screen()
        # generator textures (1x1 black until the first frame)
        self._gen_tex = [self._new_gen_texture((1, 1), "f1"), self._new_gen_texture((1, 1), "f1")]
        self._gen_size = (1, 1)
        self._gen_dtype = "f1"
        self._gen_index: int | None = None
        self._gen_arrival = -1.0
        self._gen_interval = 1.0 / 15.0
        self._gen_times: deque = deque(maxlen=32)
        # per-frame state
        self._values: dict = {}
        self._frame_no = 0
        self._last_time: float | None = None
        self._onset_count = -1
        self._onset_latch = 0.0
        self._centroid_s = 0.0
        self._chroma_vec = np.zeros(2)
        self._draw_times: deque = deque(maxlen=240)
        self._last_draw_wall: float | None = None
        self._last_reload_check = 0.0
        self.hud_visible = bool(hud)
        self._hud = None
        self._recorder = None
        self._pbos: list = []
        self._pbo_pending = None
        self._hud_pending = None
        self._hud_shown_last = False

    # -- contexts -------------------------------------------------------------------------
    def _open_window(self, width: int, height: int, *, title: str, vsync: bool) -> None:
        try:
            import glfw
        except ImportError as exc:
            raise RenderError(f"glfw is not importable ({exc})") from None
        if not glfw.init():
            raise RenderError("glfw could not initialise (no usable display)")
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        glfw.window_hint(glfw.RESIZABLE, True)
        window = glfw.create_window(width, height, title, None, None)
        if not window:
            glfw.terminate()
            raise RenderError("glfw could not open an OpenGL 3.3 window")
        glfw.make_context_current(window)
        glfw.swap_interval(1 if vsync else 0)
        self._glfw = glfw
        self.window = window
        try:
            self.ctx = self._moderngl.create_context(require=330)
        except Exception as exc:  # noqa: BLE001
            glfw.destroy_window(window)
            glfw.terminate()
            self.window = None
            raise RenderError(f"no OpenGL 3.3 context in the window ({exc})") from None
        glfw.set_key_callback(window, self._on_key)
        log.info("window %dx%d on %s (vsync %s)", width, height, self.ctx.info.get("GL_RENDERER", "?"),
                 "on" if vsync else "off")

    _KEYS = None

    def _on_key(self, window, key, scancode, action, mods) -> None:
        glfw = self._glfw
        if action != glfw.PRESS:
            return
        if Renderer._KEYS is None:
            keys = {glfw.KEY_F: "fullscreen", glfw.KEY_H: "hud", glfw.KEY_SPACE: "tap", glfw.KEY_ESCAPE: "quit"}
            for n in range(1, 10):
                keys[getattr(glfw, f"KEY_{n}")] = f"bank:{n}"
            Renderer._KEYS = keys
        name = Renderer._KEYS.get(key)
        if name:
            self._events.append(name)

    def _make_screen(self) -> None:
        if self.window is not None:
            self._screen_fbo = self.ctx.screen
        else:
            if self._screen_fbo is not None:
                self._screen_fbo.release()
            self._screen_fbo = self.ctx.simple_framebuffer(self._size, components=4)

    def _new_gen_texture(self, size, dtype):
        tex = self.ctx.texture(size, 3, dtype=dtype, alignment=1)
        tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
        tex.repeat_x = tex.repeat_y = False
        if size == (1, 1):
            tex.write(bytes(3 if dtype == "f1" else 6))
        return tex

    # -- public API -----------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """Output size (width, height) in pixels: the framebuffer size of the window."""
        return self._size

    @property
    def should_close(self) -> bool:
        return self.window is not None and bool(self._glfw.window_should_close(self.window))

    @property
    def fullscreen(self) -> bool:
        return self._fullscreen

    def poll_events(self) -> list[str]:
        """Process window events; return key events as names: fullscreen, hud, tap, bank:N, quit."""
        if self.window is not None:
            self._glfw.poll_events()
            if self._glfw.window_should_close(self.window) and "quit" not in self._events:
                self._events.append("quit")
        events, self._events = self._events, []
        return events

    def set_fullscreen(self, on: bool) -> None:
        """Fullscreen on the chosen monitor (the control layer calls this on the 'fullscreen' event)."""
        if self.window is None or bool(on) == self._fullscreen:
            return
        glfw = self._glfw
        if on:
            monitors = glfw.get_monitors() or []
            if not monitors:
                self.message = "no monitor for fullscreen"
                return
            mon = monitors[min(self.monitor, len(monitors) - 1)]
            if self.monitor >= len(monitors):
                self.message = f"monitor {self.monitor} not found; using {len(monitors) - 1}"
            x, y = glfw.get_window_pos(self.window)
            w, h = glfw.get_window_size(self.window)
            self._windowed_geom = (x, y, w, h)
            mode = glfw.get_video_mode(mon)
            glfw.set_window_monitor(self.window, mon, 0, 0, mode.size.width, mode.size.height, mode.refresh_rate)
        else:
            x, y, w, h = self._windowed_geom
            glfw.set_window_monitor(self.window, None, x, y, w, h, 0)
        self._fullscreen = bool(on)

    def toggle_fullscreen(self) -> None:
        self.set_fullscreen(not self._fullscreen)

    def set_frame(self, frame: Frame, *, now_s: float) -> None:
        """Take the newest generator frame. Uploads only when ``frame.index`` changed.

        ``now_s`` is on the same clock as ``draw(time_s=...)``: the cross-fade from the
        previous picture to this one runs over the measured interval between generator frames.
        ``frame.pixels``: (H, W, 3) uint8, or float16 in 0..1.
        """
        if frame is None or frame.index == self._gen_index:
            return
        pixels = frame.pixels
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            self._set_error(f"generator frame has shape {pixels.shape}; expected (H, W, 3)")
            return
        dtype = "f2" if pixels.dtype == np.float16 else "f1"
        if pixels.dtype not in (np.uint8, np.float16):
            pixels = np.clip(pixels, 0.0, 1.0).astype(np.float16)
            dtype = "f2"
        size = (int(pixels.shape[1]), int(pixels.shape[0]))
        first = self._gen_index is None
        if size != self._gen_size or dtype != self._gen_dtype:
            for t in self._gen_tex:
                t.release()
            self._gen_tex = [self._new_gen_texture(size, dtype), self._new_gen_texture(size, dtype)]
            self._gen_size, self._gen_dtype = size, dtype
            first = True
        data = pixels if pixels.flags.c_contiguous else np.ascontiguousarray(pixels)
        if first:
            self._gen_tex[0].write(data)
            self._gen_tex[1].write(data)
        else:
            self._gen_tex.reverse()            # current becomes previous
            self._gen_tex[1].write(data)
        if self._gen_arrival >= 0:
            interval = now_s - self._gen_arrival
            if 0.0 < interval < 5.0:
                self._gen_interval = 0.7 * self._gen_interval + 0.3 * min(max(interval, 1.0 / 240.0), 2.0)
                self._gen_times.append(interval)
        self._gen_arrival = now_s
        self._gen_index = frame.index

    @property
    def gen_fps(self) -> float:
        """Generator frames per second as seen by the renderer (from frame arrivals)."""
        if not self._gen_times:
            return 0.0
        return 1.0 / max(float(np.median(self._gen_times)), 1e-6)

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

    def _update_values(self, f: FeatureFrame, controls: Mapping[str, float], time_s: float) -> None:
        v = self._values
        dt = 1.0 / 60.0 if self._last_time is None else min(max(time_s - self._last_time, 0.0), 0.25)
        self._last_time = time_s
        v["u_time"] = float(time_s)
        v["u_dt"] = float(dt)
        v["u_frame"] = self._frame_no
        v["u_rms"] = f.rms
        v["u_bass"], v["u_mid"], v["u_treble"] = f.bass, f.mid, f.treble
        v["u_bass_att"], v["u_mid_att"], v["u_treble_att"] = f.bass_att, f.mid_att, f.treble_att
        if f.onset_count != self._onset_count:
            if self._onset_count >= 0 or f.onset_count > 0:
                self._onset_latch = f.onset if f.onset > 0 else 0.8
            self._onset_count = f.onset_count
        elif f.onset > self._onset_latch:
            self._onset_latch = f.onset
        v["u_onset"] = float(self._onset_latch)
        v["u_onset_count"] = float(f.onset_count)
        v["u_since_onset"] = float(max(f.t - f.last_onset_t, 0.0)) if f.last_onset_t >= 0 else 1000.0
        v["u_bpm"] = f.bpm
        v["u_bpm_confidence"] = f.bpm_confidence
        v["u_beat_phase"], v["u_bar_phase"] = f.beat_phase, f.bar_phase
        v["u_beat_count"] = float(f.beat_count)
        chroma = np.asarray(f.chroma, dtype=np.float64)
        v["u_chroma"] = tuple(float(x) for x in chroma) if chroma.shape == (12,) else (0.0,) * 12
        total = float(chroma.sum()) if chroma.shape == (12,) else 0.0
        target = (chroma @ _CHROMA_DIRS) / total if total > 1e-9 else np.zeros(2)
        a = 1.0 - math.exp(-dt / 0.3)
        self._chroma_vec += a * (target - self._chroma_vec)
        v["u_chroma_vec"] = (float(self._chroma_vec[0]), float(self._chroma_vec[1]))
        v["u_dominant"] = float(f.dominant_pitch_class)
        v["u_centroid"] = f.centroid_hz
        cn = 0.0 if f.centroid_hz <= 100.0 else min(math.log(f.centroid_hz / 100.0) / math.log(100.0), 1.0)
        self._centroid_s += (1.0 - math.exp(-dt / 0.25)) * (cn - self._centroid_s)
        v["u_centroid_norm"] = self._centroid_s
        for name, default in CONTROL_DEFAULTS.items():
            val = controls.get(name, default)
            try:
                val = float(val)
            except (TypeError, ValueError):
                val = default
            v[control_uniform(name)] = val if math.isfinite(val) else default
        if self._gen_index is None:
            mix = 1.0
        else:
            mix = (time_s - self._gen_arrival) / max(self._gen_interval, 1e-3)
            mix = min(max(mix, 0.0), 1.0)
        v["u_gen_mix"] = mix
        v["u_gen_size"] = (float(self._gen_size[0]), float(self._gen_size[1]))

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
        if self.window is not None:
            size = tuple(self._glfw.get_framebuffer_size(self.window))
            if size != self._size and size[0] > 0 and size[1] > 0:
                self._size = size
                self.chain.resize(size)
                self._make_screen()
            if size[0] == 0 or size[1] == 0:       # minimised
                return
        self._update_values(features or SILENT_FRAME, controls or {}, time_s)
        self.chain.draw(self._values, self._gen_tex[0], self._gen_tex[1])
        out = self.chain.output_fbo
        if self._recorder is not None:
            self._capture(out, time_s)
        show_hud = self.hud_visible
        if self.window is not None:
            self.ctx.copy_framebuffer(self._screen_fbo, out)
            if show_hud:
                self._draw_hud(features or SILENT_FRAME, hud)
            self._glfw.swap_buffers(self.window)
            self._hud_pending = None
        else:
            # headless: nobody looks at a screen, so the overlay is composed only when it is
            # read (read_pixels(hud=True)): no full-resolution copy and no HUD draw per frame
            self._hud_pending = (features or SILENT_FRAME, hud) if show_hud else None
        self._frame_no += 1
        self._hud_shown_last = show_hud

    def finish(self) -> None:
        """Wait until the GPU has finished (glFinish): for benchmarks."""
        self.ctx.finish()

    def compose_hud(self) -> bool:
        """Headless: draw the last frame with the HUD over it into the screen framebuffer now
        (``read_pixels(hud=True)`` calls this). False when the HUD was hidden at that frame."""
        if self.window is not None:
            return bool(getattr(self, "_hud_shown_last", False))
        pending = self._hud_pending
        if pending is None:
            return False
        self._hud_pending = None
        self.ctx.copy_framebuffer(self._screen_fbo, self.chain.output_fbo)
        self._draw_hud(*pending)
        return self.hud_visible

    def read_pixels(self, *, hud: bool = False) -> np.ndarray:
        """The last drawn picture, (H, W, 3) uint8, top row first. ``hud=True`` includes the overlay."""
        if hud and self.window is None and self._hud_pending is not None:
            self.compose_hud()
        fbo = self._screen_fbo if (hud and getattr(self, "_hud_shown_last", False)) else self.chain.output_fbo
        w, h = fbo.size if fbo is not self.ctx.screen else self._size
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

    def _draw_hud(self, features: FeatureFrame, info) -> None:
        try:
            if self._hud is None:
                from live.render.hud import HudDrawer

                self._hud = HudDrawer(self.ctx)
            self._hud.draw(self._screen_fbo, self._size, renderer=self, features=features, info=info)
        except Exception as exc:  # noqa: BLE001 - a HUD bug must never take the picture down
            self.hud_visible = False
            self._set_error(f"HUD disabled after an error: {type(exc).__name__}: {exc}")

    # -- recording ------------------------------------------------------------------------
    def start_recording(self, recorder) -> None:
        """Send every drawn output frame (without HUD) to ``recorder`` (a :class:`Recorder`).

        Readback is asynchronous: the frame is read into a pixel buffer and handed over one
        frame later; the recorder encodes on its own thread and drops rather than block
        (unless it was made with ``block=True``)."""
        w, h = self._size
        if (recorder.width, recorder.height) != (w, h):
            raise RenderError(f"recorder is {recorder.width}x{recorder.height} but the output is {w}x{h}")
        self.stop_recording()
        self._pbos = [self.ctx.buffer(reserve=w * h * 3) for _ in range(2)]
        self._pbo_index = 0
        self._pbo_pending = None
        self._recorder = recorder

    def stop_recording(self) -> None:
        """Hand over the last pending frame and detach the recorder (does not close it)."""
        if self._recorder is not None and self._pbo_pending is not None:
            self._flush_pending()
        self._recorder = None
        for b in self._pbos:
            b.release()
        self._pbos = []
        self._pbo_pending = None

    def _capture(self, fbo, time_s: float) -> None:
        w, h = self._size
        rec = self._recorder
        if (rec.width, rec.height) != (w, h):
            rec.note_dropped(f"output resized to {w}x{h}; recording stays {rec.width}x{rec.height}")
            return
        buf = self._pbos[self._pbo_index]
        fbo.read_into(buf, viewport=(0, 0, w, h), components=3, alignment=1)
        if self._pbo_pending is not None:
            self._flush_pending()
        self._pbo_pending = (buf, time_s)
        self._pbo_index ^= 1

    def _flush_pending(self) -> None:
        buf, t = self._pbo_pending
        self._pbo_pending = None
        slot = self._recorder.acquire()
        if slot is None:
            return
        buf.read_into(slot)
        self._recorder.commit(slot, time_s=t, bottom_up=True)

    # -- shutdown -------------------------------------------------------------------------
    def _close_context(self) -> None:
        if self.window is not None:
            self._glfw.destroy_window(self.window)
            self._glfw.terminate()
            self.window = None
        else:
            try:
                self.ctx.release()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        """Release GL objects and the window/context. Safe to call twice."""
        if getattr(self, "ctx", None) is None:
            return
        self.stop_recording()
        if self._hud is not None:
            self._hud.release()
        self.chain.release()
        for t in self._gen_tex:
            t.release()
        self._close_context()
        self.ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
