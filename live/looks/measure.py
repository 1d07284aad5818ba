"""Picture figures for the looks: fine detail and exposure, from rendered frames.

``detail_share(rgb)``: the share of the picture's luminance energy in features smaller than
``cutoff_px`` (16) pixels, measured at the resolution the frame has (1920x1080 for the
figures). Exactly:

1. luminance ``L = 0.2126 R + 0.7152 G + 0.0722 B`` of the stored (sRGB-coded) values, 0..1;
2. ``C = DCT-II(L)`` over both axes, orthonormal (so ``sum(C**2) == sum(L**2)``); the
   cosine transform mirrors the picture at its borders, so a border is not a false edge;
3. coefficient ``(ky, kx)`` has spatial frequency ``f = sqrt((kx / 2W)**2 + (ky / 2H)**2)``
   cycles per pixel; "smaller than 16 px" = a period shorter than 16 px = ``f > 1/16``;
4. ``detail = sum(C**2 where f > 1/16) / sum(C**2)``: the energy of the whole picture,
   the mean (DC) included, so a dark frame is not a detailed one.

A sine grating of period 8 px around grey 0.5 with amplitude 0.25 gives
``0.25**2/2 / (0.5**2 + 0.25**2/2) = 0.111``; with period 32 px it gives 0.

``exposure(frames)``: mean luminance per frame and the share of frames washed out (mean
> 0.85) or black (mean < 0.03).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])
BRIGHT, DARK = 0.85, 0.03


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W) luminance 0..1 of an (H, W, 3) uint8 picture (or float 0..1)."""
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] < 3:
        raise ValueError(f"expected an (H, W, 3) picture, got shape {a.shape}")
    x = a[..., :3].astype(np.float64)
    if a.dtype == np.uint8:
        x /= 255.0
    return x @ LUMA


def detail_share(rgb: np.ndarray, *, cutoff_px: float = 16.0) -> float:
    """Share of luminance energy in features smaller than ``cutoff_px`` pixels (see the module doc)."""
    from scipy.fft import dctn

    L = luminance(rgb)
    h, w = L.shape
    c = dctn(L, type=2, norm="ortho", workers=1)
    fy = np.arange(h)[:, None] / (2.0 * h)
    fx = np.arange(w)[None, :] / (2.0 * w)
    e = c * c
    total = float(e.sum())
    if total <= 0.0:
        return 0.0
    high = (fx * fx + fy * fy) > (1.0 / cutoff_px) ** 2
    return float(e[high].sum() / total)


@dataclass(frozen=True)
class Exposure:
    frames: int
    mean: float          # mean of the frames' mean luminance
    bright: float        # share of frames with mean luminance > 0.85
    dark: float          # share of frames with mean luminance < 0.03
    clipped: float       # mean share of pixels at full white (all channels 255)

    @property
    def bad(self) -> float:
        return self.bright + self.dark


def exposure(frames: Iterable[np.ndarray]) -> Exposure:
    means, clip = [], []
    for f in frames:
        means.append(float(luminance(f).mean()))
        a = np.asarray(f)
        clip.append(float(np.all(a >= (255 if a.dtype == np.uint8 else 1.0), axis=-1).mean()))
    if not means:
        return Exposure(0, 0.0, 0.0, 0.0, 0.0)
    m = np.array(means)
    return Exposure(len(m), float(m.mean()), float((m > BRIGHT).mean()), float((m < DARK).mean()),
                    float(np.mean(clip)))
