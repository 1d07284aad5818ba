"""The preview sink: a small JPEG of the output a few times a second, for the control page.

A :class:`~live.outputs.base.ThreadedSink`: the GL thread's ``offer`` returns at once, and
only ``fps`` times a second does it even copy a frame (the other offers are skipped before
any copy, counted in ``skipped``); scaling and JPEG encoding run on the sink's own thread.
Nobody watching (no :meth:`touch` for ``idle_s``) = no copies, no encoding.
"""
from __future__ import annotations

import io
import time
from typing import Optional

import numpy as np

from live.outputs.base import ThreadedSink
from live.types import Latest


class PreviewSink(ThreadedSink):
    def __init__(self, *, width: int, height: int, fps: float = 4.0, out_width: int = 320,
                 quality: int = 70, idle_s: float = 5.0):
        super().__init__("preview", width=width, height=height, slots=2)
        self.interval_s = 1.0 / max(float(fps), 0.01)
        self.out_width = max(16, min(int(out_width), int(width)))
        self.out_height = max(2, round(self.out_width * int(height) / int(width)))
        self.quality = int(quality)
        self.idle_s = float(idle_s)
        self.skipped = 0
        self.encode_ms = 0.0
        self.jpeg: Latest[Optional[tuple[int, float, bytes]]] = Latest(None)   # (n, time_s, bytes)
        self._next = 0.0
        self._watched_until = 0.0
        self._n = 0

    def touch(self) -> None:
        """Someone is looking (the page asked for a preview): keep encoding for ``idle_s``."""
        self._watched_until = time.monotonic() + self.idle_s

    def wants_frame(self) -> bool:
        """Whether the next frame would be taken (the capture skips its readback otherwise)."""
        now = time.monotonic()
        return self._next <= now <= self._watched_until

    def offer(self, pixels: np.ndarray, *, time_s: float, bottom_up: bool = False) -> bool:
        now = time.monotonic()
        if now < self._next or now > self._watched_until:
            self.skipped += 1
            return False
        self._next = now + self.interval_s
        return super().offer(pixels, time_s=time_s, bottom_up=bottom_up)

    def _consume(self, pixels: np.ndarray, time_s: float) -> None:
        from PIL import Image
        t0 = time.perf_counter()
        img = Image.fromarray(pixels)
        if img.width != self.out_width:
            img = img.resize((self.out_width, self.out_height), Image.BILINEAR, reducing_gap=2.0)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=self.quality)
        self._n += 1
        self.jpeg.publish((self._n, float(time_s), buf.getvalue()))
        self.encode_ms = (time.perf_counter() - t0) * 1e3
