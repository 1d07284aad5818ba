"""GL test fixtures, as moderngl's own tests do: a standalone EGL context (Mesa llvmpipe
here), the GL error state checked before and after every test, a skip with the reason
when no EGL context can be made."""
from __future__ import annotations

import functools

import pytest

from live.render.uniforms import CONTROL_DEFAULTS
from live.types import FeatureFrame, Frame, GenControl

# every effect off: the chain passes the generator picture through (tests switch on one at a time);
# the other controls (intensity, fade, blackout) at their defaults from the parameter table
NEUTRAL = {**CONTROL_DEFAULTS, **{k: 0.0 for k in CONTROL_DEFAULTS if k.startswith("fx.")}, "fx.saturation": 0.5}


@functools.lru_cache(maxsize=1)
def egl_unavailable_reason() -> str | None:
    try:
        import moderngl
    except ImportError as exc:
        return f"moderngl not importable: {exc}"
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:  # noqa: BLE001
        return f"no EGL OpenGL 3.3 context (install Mesa EGL: libegl1 libgl1-mesa-dri): {exc}"
    ctx.release()
    return None


@pytest.fixture
def gl_ctx():
    """A standalone EGL context; asserts GL_NO_ERROR before and after the test."""
    reason = egl_unavailable_reason()
    if reason:
        pytest.skip(reason)
    import moderngl

    ctx = moderngl.create_standalone_context(backend="egl", require=330)
    assert ctx.error == "GL_NO_ERROR"
    yield ctx
    assert ctx.error == "GL_NO_ERROR"
    ctx.release()


@pytest.fixture
def make_renderer():
    """Factory for headless Renderers; checks each one's GL error state and closes it."""
    reason = egl_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from live.render.renderer import Renderer

    made = []

    def make(**kwargs):
        kwargs.setdefault("width", 160)
        kwargs.setdefault("height", 90)
        kwargs.setdefault("headless", True)
        kwargs.setdefault("hud", False)
        kwargs.setdefault("internal_scale", 1.0)
        r = Renderer(**kwargs)
        assert r.ctx.error == "GL_NO_ERROR"
        made.append(r)
        return r

    yield make
    for r in made:
        if r.ctx is not None:
            r.ctx.__enter__()        # make it current: with several renderers, another may be
            assert r.ctx.error == "GL_NO_ERROR"
            r.close()


def frame(pixels, index: int) -> Frame:
    return Frame(pixels=pixels, control=GenControl(), index=index)


def features(**kw) -> FeatureFrame:
    return FeatureFrame(**kw)


def luminance(img) -> float:
    return float((img[..., 0] * 0.2126 + img[..., 1] * 0.7152 + img[..., 2] * 0.0722).mean())
