"""The GL context: a glfw window (keys, fullscreen on a chosen monitor, vsync) or a headless
EGL context, and the framebuffer the finished picture is shown in.

``GLContext(width=, height=, headless="auto")`` opens a window when a display is there and
glfw works, else EGL (and logs why); ``headless=True`` forces EGL; ``False`` forces a window
(:class:`~live.errors.RenderError` if impossible). Key presses come out of
:meth:`GLContext.poll_events` as names: ``fullscreen``, ``hud``, ``tap``, ``bank:N``, ``quit``.
"""
from __future__ import annotations

import logging
import os

from live.errors import RenderError

log = logging.getLogger("live.render")

SOFTWARE_RASTERISERS = ("llvmpipe", "softpipe", "swiftshader", "swrast")


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _want_headless(headless: str | bool) -> bool | None:
    """True/False as asked; None for "auto"."""
    if isinstance(headless, bool):
        return headless
    text = str(headless).lower()
    if text == "auto":
        return None
    return text in ("yes", "true", "1")


class GLContext:
    """A moderngl context in a window or headless; owns the window, its keys and the screen."""

    _KEYS = None

    def __init__(self, *, width: int, height: int, headless: str | bool = "auto", fullscreen: bool = False,
                 monitor: int = 0, vsync: bool = True, title: str = "latent-live"):
        import moderngl  # lazy: heavy, and only the renderer needs it

        self._moderngl = moderngl
        self.window = None
        self._glfw = None
        self._events: list[str] = []
        self._fullscreen = False
        self._windowed_geom = (100, 100, int(width), int(height))
        self.monitor = int(monitor)
        self.message = ""
        want = _want_headless(headless)
        if want is None and not has_display():
            log.info("no display (DISPLAY/WAYLAND_DISPLAY unset): rendering headless with EGL")
            want = True
        if not want:
            try:
                self._open_window(int(width), int(height), title=title, vsync=vsync)
            except RenderError as exc:
                if want is False:
                    raise
                log.warning("%s; rendering headless with EGL instead", exc)
        if self.window is None:
            try:
                self.ctx = moderngl.create_standalone_context(backend="egl", require=330)
            except Exception as exc:  # noqa: BLE001
                raise RenderError(f"cannot create a headless EGL context ({exc}); install Mesa EGL "
                                  "(libegl1 libgl1-mesa-dri) or run with a display") from None
            self.headless = True
            self.size = (int(width), int(height))
            log.info("headless EGL renderer %dx%d on %s", *self.size, self.ctx.info.get("GL_RENDERER", "?"))
        else:
            self.headless = False
            self.size = tuple(self._glfw.get_framebuffer_size(self.window))
        self.renderer_name = str(self.ctx.info.get("GL_RENDERER", ""))
        self.software = any(k in self.renderer_name.lower() for k in SOFTWARE_RASTERISERS)
        self.screen = None
        self._make_screen()
        if fullscreen:
            self.set_fullscreen(True)

    # -- window ---------------------------------------------------------------------------
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

    def _on_key(self, window, key, scancode, action, mods) -> None:
        glfw = self._glfw
        if action != glfw.PRESS:
            return
        if GLContext._KEYS is None:
            keys = {glfw.KEY_F: "fullscreen", glfw.KEY_H: "hud", glfw.KEY_SPACE: "tap", glfw.KEY_ESCAPE: "quit",
                    glfw.KEY_M: "learn"}
            for n in range(1, 10):
                keys[getattr(glfw, f"KEY_{n}")] = f"bank:{n}"
            # looks: arrows step through the library, F1..F12 pick looks 0..11 (on the bar line)
            keys[glfw.KEY_RIGHT] = "look:next"
            keys[glfw.KEY_LEFT] = "look:prev"
            for n in range(1, 13):
                keys[getattr(glfw, f"KEY_F{n}")] = f"look:{n - 1}"
            GLContext._KEYS = keys
        name = GLContext._KEYS.get(key)
        if name:
            self._events.append(name)

    def _make_screen(self) -> None:
        """The framebuffer the picture is shown in: the window's, or an offscreen one."""
        if self.window is not None:
            self.screen = self.ctx.screen
        else:
            if self.screen is not None:
                self.screen.release()
            self.screen = self.ctx.simple_framebuffer(self.size, components=4)

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
        """Fullscreen on the chosen monitor (the show calls this on the 'fullscreen' key)."""
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

    def poll_resize(self) -> tuple[int, int] | None:
        """A window's new framebuffer size when it changed (screen remade), else None."""
        if self.window is None:
            return None
        size = tuple(self._glfw.get_framebuffer_size(self.window))
        if size != self.size and size[0] > 0 and size[1] > 0:
            self.size = size
            self._make_screen()
            return size
        return None

    @property
    def minimised(self) -> bool:
        if self.window is None:
            return False
        w, h = self._glfw.get_framebuffer_size(self.window)
        return w == 0 or h == 0

    def swap(self) -> None:
        if self.window is not None:
            self._glfw.swap_buffers(self.window)

    def close(self) -> None:
        """Destroy the window (or release the headless context). Safe to call twice."""
        if self.window is not None:
            self._glfw.destroy_window(self.window)
            self._glfw.terminate()
            self.window = None
        elif getattr(self, "ctx", None) is not None:
            try:
                self.ctx.release()
            except Exception:  # noqa: BLE001
                pass
        self.ctx = None
