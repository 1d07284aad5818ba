"""live.render: GL context (glfw window or headless EGL), uniforms, the shader chain, HUD,
capture for the frame sinks.

Importing this package is light; moderngl/glfw are imported when a Renderer is made.
"""
from __future__ import annotations

__all__ = ["Renderer", "RenderError", "HudInfo", "RenderStats", "ShaderError", "CONTROL_DEFAULTS"]


def __getattr__(name):
    if name == "Renderer":
        from live.render.renderer import Renderer
        return Renderer
    if name == "RenderError":
        from live.errors import RenderError
        return RenderError
    if name == "CONTROL_DEFAULTS":
        from live.render.uniforms import CONTROL_DEFAULTS
        return CONTROL_DEFAULTS
    if name in ("HudInfo", "RenderStats"):
        from live.render import hud
        return getattr(hud, name)
    if name == "ShaderError":
        from live.render.shaderlib import ShaderError
        return ShaderError
    raise AttributeError(name)
