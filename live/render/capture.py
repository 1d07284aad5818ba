"""Capture: one asynchronous readback per drawn frame, handed to every frame sink.

The finished picture (without the HUD) is read into one of two pixel-buffer objects; the
read completes on the GPU while the next frame is drawn, and only then is the buffer copied
into a staging array and offered to each sink (:class:`live.outputs.FrameSink`). A frame thus
reaches the sinks one drawn frame late, with its own time. Each sink copies what it takes or
drops and counts the frame itself; a sink that raises is counted and reported here once and
never stops the capture or the other sinks. Nothing is read back while there is no sink, or
while every sink says (``wants_frame()``, optional) that it takes no frame now.
"""
from __future__ import annotations

import logging
from typing import Optional

import numpy as np

log = logging.getLogger("live.render")


class Capture:
    """Readback of the output framebuffer for a list of sinks (GL thread only)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sinks: list = []
        self._size: Optional[tuple[int, int]] = None
        self._pbos: list = []
        self._index = 0
        self._pending: Optional[tuple] = None       # (pbo, time_s) read but not handed out
        self._staging: Optional[np.ndarray] = None
        self.errors = 0                              # sink exceptions caught here
        self._error_noted: set = set()

    def add(self, sink) -> None:
        if sink not in self.sinks:
            self.sinks.append(sink)

    def remove(self, sink) -> None:
        """Detach ``sink`` (after handing it the pending frame); does not close it."""
        if sink in self.sinks:
            self.flush()
            self.sinks.remove(sink)
        if not self.sinks:
            self._release()

    def _alloc(self, size: tuple[int, int]) -> None:
        self._release()
        w, h = size
        self._pbos = [self.ctx.buffer(reserve=w * h * 3) for _ in range(2)]
        self._staging = np.empty((h, w, 3), dtype=np.uint8)
        self._size = size
        self._index = 0

    def _release(self) -> None:
        for b in self._pbos:
            b.release()
        self._pbos = []
        self._pending = None
        self._staging = None
        self._size = None

    def capture(self, fbo, size: tuple[int, int], time_s: float) -> None:
        """Start reading ``fbo`` (``size`` = (w, h)) for the frame at ``time_s``; hand the
        previous frame to the sinks."""
        if not self.sinks:
            return
        # a sink may say it wants no frame now (the preview, between its few frames a second):
        # with none wanting one, nothing is read back
        if not any(getattr(s, "wants_frame", None) is None or s.wants_frame() for s in self.sinks):
            self.flush()
            return
        if size != self._size:
            self.flush()
            self._alloc(size)
        buf = self._pbos[self._index]
        fbo.read_into(buf, viewport=(0, 0, size[0], size[1]), components=3, alignment=1)
        if self._pending is not None:
            self.flush()
        self._pending = (buf, time_s)
        self._index ^= 1

    def flush(self) -> None:
        """Hand the frame still in a pixel buffer to the sinks (at the end of a render)."""
        if self._pending is None:
            return
        buf, t = self._pending
        self._pending = None
        buf.read_into(self._staging)
        for sink in self.sinks:
            try:
                sink.offer(self._staging, time_s=t, bottom_up=True)
            except Exception as exc:  # noqa: BLE001 - a sink fails alone, never the show
                self.errors += 1
                name = getattr(sink, "name", type(sink).__name__)
                if name not in self._error_noted:
                    self._error_noted.add(name)
                    log.error("output %s raised %s: %s (its frames are dropped)", name, type(exc).__name__, exc)

    def release(self) -> None:
        """Flush and free the pixel buffers; the sinks stay attached but get nothing more."""
        self.flush()
        self._release()
        self.sinks = []
