"""The generator's picture on the GPU: the newest frame and the one before it, for the
cross-fade the shaders draw (``u_gen_a`` -> ``u_gen_b`` by ``u_gen_mix``).

A frame is uploaded only when its ``Frame.index`` changes (the GL thread draws at display rate,
the generator runs slower); the two textures swap roles instead of copying. The cross-fade lasts
one generator interval, measured from the arrival times (smoothed), on the clock the caller
draws with (the audio clock), so the fade and the effects run on one time.
"""
from __future__ import annotations

from collections import deque
from typing import Optional

import numpy as np

from live.render.uniforms import gen_mix
from live.types import Frame


class GenPicture:
    """Two generator textures (1x1 black until the first frame) and the cross-fade timing."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.textures = [self._texture((1, 1), "f1"), self._texture((1, 1), "f1")]   # previous, newest
        self.size = (1, 1)
        self._dtype = "f1"
        self.index: Optional[int] = None
        self._arrival = -1.0
        self._interval = 1.0 / 15.0
        self._intervals: deque = deque(maxlen=32)

    def _texture(self, size, dtype):
        tex = self.ctx.texture(size, 3, dtype=dtype, alignment=1)
        tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
        tex.repeat_x = tex.repeat_y = False
        if size == (1, 1):
            tex.write(bytes(3 if dtype == "f1" else 6))
        return tex

    def set(self, frame: Frame, *, now_s: float) -> Optional[str]:
        """Take ``frame`` (uploaded only when its index changed) arriving at ``now_s``.
        ``frame.pixels``: (H, W, 3) uint8, or float16 in 0..1 (other floats are converted).
        Returns a message when the frame cannot be used (it is skipped), else None."""
        if frame is None or frame.index == self.index:
            return None
        pixels = frame.pixels
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            return f"generator frame has shape {pixels.shape}; expected (H, W, 3)"
        dtype = "f2" if pixels.dtype == np.float16 else "f1"
        if pixels.dtype not in (np.uint8, np.float16):
            pixels = np.clip(pixels, 0.0, 1.0).astype(np.float16)
            dtype = "f2"
        size = (int(pixels.shape[1]), int(pixels.shape[0]))
        first = self.index is None
        if size != self.size or dtype != self._dtype:
            for t in self.textures:
                t.release()
            self.textures = [self._texture(size, dtype), self._texture(size, dtype)]
            self.size, self._dtype = size, dtype
            first = True
        data = pixels if pixels.flags.c_contiguous else np.ascontiguousarray(pixels)
        if first:
            self.textures[0].write(data)
            self.textures[1].write(data)
        else:
            self.textures.reverse()            # the newest becomes the previous
            self.textures[1].write(data)
        if self._arrival >= 0:
            interval = now_s - self._arrival
            if 0.0 < interval < 5.0:
                self._interval = 0.7 * self._interval + 0.3 * min(max(interval, 1.0 / 240.0), 2.0)
                self._intervals.append(interval)
        self._arrival = now_s
        self.index = frame.index
        return None

    def mix(self, time_s: float) -> float:
        """Cross-fade position at ``time_s`` (1.0 before the first frame)."""
        return gen_mix(time_s, self._arrival, self._interval, have_frame=self.index is not None)

    @property
    def fps(self) -> float:
        """Generator frames per second as seen here (median of the arrival intervals)."""
        if not self._intervals:
            return 0.0
        return 1.0 / max(float(np.median(self._intervals)), 1e-6)

    def release(self) -> None:
        for t in self.textures:
            t.release()
        self.textures = []
