"""live.render: GL context (glfw window or headless EGL), the shader chain, HUD, recording.

Importing this package is light; moderngl/glfw/av are imported when a Renderer or
Recorder is made.
"""
from __future__ import annotations

__all__ = ["Renderer", "RenderError", "HudInfo", "Recorder", "RecorderError", "ShaderError", "CONTROL_DEFAULTS"]


def __getattr__(name):
    if name in ("Renderer", "RenderError", "CONTROL_DEFAULTS"):
        from live.render import renderer
        return getattr(renderer, name)
    if name == "HudInfo":
        from live.render.hud import HudInfo
        return HudInfo
    if name in ("Recorder", "RecorderError"):   # moved to live.outputs (a frame sink)
        from live.outputs import recorder
        return getattr(recorder, name)
    if name == "ShaderError":
        from live.render.shaderlib import ShaderError
        return ShaderError
    raise AttributeError(name)
