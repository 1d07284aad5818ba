"""Spherical linear interpolation between latents of any shape.

``slerp(a, b, t)`` walks the great circle from ``a`` to ``b`` (keeping the norm of
Gaussian latents, so the picture does not wash out half way between two entries), with
a fall-back to straight linear interpolation when the two are nearly parallel, where the
great-circle formula divides by ``sin(theta) ~ 0``.

With ``out=`` it allocates nothing: the result is written into ``out`` (same shape as
``a``, float32 or float64) and the computation uses only scalar reductions, so it is
safe to call every frame from the generator thread.
"""
from __future__ import annotations

import math

import numpy as np

PARALLEL_DOT = 0.9995
"""Above this |cos(theta)| between the normalised inputs, slerp falls back to lerp."""


def slerp(a: np.ndarray, b: np.ndarray, t: float, *, out: np.ndarray | None = None) -> np.ndarray:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1).

    Parameters
    ----------
    a, b : ndarray, any shape (the same for both), float
        The endpoints, e.g. ``(64,)`` for the embedded generator or ``(4, 64, 64)`` for a
        VAE latent. They are treated as flat vectors.
    t : float
        Position; values outside [0, 1] are clamped (a show never extrapolates).
        NaN counts as 0.
    out : ndarray, optional
        Preallocated destination with ``a``'s shape. When given nothing is allocated per
        call. ``out`` may be ``a`` or ``b`` itself only when t is 0 or 1 respectively.

    Returns
    -------
    ndarray
        ``out`` if given, else a new array with ``a``'s shape and dtype (float32 for
        integer input).

    Notes
    -----
    Standard formula: with ``theta = arccos(<a,b> / (|a||b|))``,
    ``slerp = sin((1-t) theta)/sin(theta) * a + sin(t theta)/sin(theta) * b``.
    When ``|cos(theta)| > 0.9995`` (nearly parallel) it returns ``(1-t) a + t b``.
    Anti-parallel inputs (cos near -1) also take the lerp path; the midpoint is then
    near zero, which is the honest answer for an undefined great circle.
    """
    if a.shape != b.shape:
        raise ValueError(f"slerp: shapes differ: {a.shape} vs {b.shape}")
    t = float(t)
    if not (t > 0.0):  # also catches NaN
        t = 0.0
    elif t > 1.0:
        t = 1.0
    if out is None:
        dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float32
        out = np.empty(a.shape, dtype=dtype)
    elif out.shape != a.shape:
        raise ValueError(f"slerp: out has shape {out.shape}, expected {a.shape}")

    af = a.reshape(-1)
    bf = b.reshape(-1)
    # np.dot on 1-D float arrays returns a scalar and allocates no array.
    na = math.sqrt(float(np.dot(af, af)))
    nb = math.sqrt(float(np.dot(bf, bf)))
    if na == 0.0 or nb == 0.0:
        cos = 1.0  # undefined direction: plain lerp
    else:
        cos = float(np.dot(af, bf)) / (na * nb)
    if not math.isfinite(cos) or abs(cos) > PARALLEL_DOT:
        wa, wb = 1.0 - t, t
    else:
        cos = min(1.0, max(-1.0, cos))
        theta = math.acos(cos)
        s = math.sin(theta)
        wa = math.sin((1.0 - t) * theta) / s
        wb = math.sin(t * theta) / s

    if out is b:
        # keep b intact until it has been read: out = wb*b + wa*a
        np.multiply(b, wb, out=out, casting="unsafe")
        _axpy(out, a, wa)
        return out
    np.multiply(a, wa, out=out, casting="unsafe")
    _axpy(out, b, wb)
    return out


def _axpy(out: np.ndarray, x: np.ndarray, w: float) -> np.ndarray:
    """out += w * x without a temporary array.

    Computed as ``out = (out / w + x) * w`` with three in-place ufuncs. Weights below
    1e-12 are skipped: the other slerp weight is then ~1 and the contribution lies
    below float32 precision anyway.
    """
    if abs(w) < 1e-12:
        return out
    np.divide(out, w, out=out)
    np.add(out, x, out=out, casting="unsafe")
    np.multiply(out, w, out=out)
    return out
