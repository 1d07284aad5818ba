"""The frame-sink contract.

The GL thread captures each drawn frame once (asynchronous readback) and offers it to every
sink with :meth:`FrameSink.offer`. A sink must return at once: it copies the pixels into a
slot of its own (or drops the frame and counts it) and does its slow work (encoding, network,
device writes) on a thread of its own. A sink that fails records ``last_error`` and drops
every later frame; it never raises into the GL thread and never slows the other sinks.

Frames are ``(height, width, 3)`` uint8 RGB, rows top-down unless ``bottom_up`` is set (GL
order), timestamped with ``time_s`` on the show's clock (audio clock, seconds).
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Optional, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger("live.outputs")


@dataclass(frozen=True, slots=True)
class SinkStats:
    """What a sink did so far: frames ``offered``, ``sent`` (done), ``dropped`` and the last error."""

    name: str
    offered: int = 0
    sent: int = 0
    dropped: int = 0
    last_error: Optional[str] = None


@runtime_checkable
class FrameSink(Protocol):
    name: str
    width: int          # the size the sink takes; the capture scales nothing, a mismatch drops
    height: int

    def offer(self, pixels: np.ndarray, *, time_s: float, bottom_up: bool = False) -> bool:
        """Copy one frame in without blocking; False when it was dropped (counted)."""

    def stats(self) -> SinkStats: ...

    def close(self) -> None:
        """Finish (drain, finalise files, release devices). Safe to call twice."""


class ThreadedSink:
    """A sink with a bounded pool of frame slots and one worker thread.

    Subclasses implement :meth:`_consume` (runs on the worker thread with a filled slot,
    rows top-down) and optionally :meth:`_finish` (on close, worker thread done). The GL
    thread's :meth:`offer` copies into a free slot or drops; it never waits (``block=False``).
    An offline render may pass ``block=True`` so nothing is dropped.
    """

    def __init__(self, name: str, *, width: int, height: int, slots: int = 3, block: bool = False):
        self.name = name
        self.width, self.height = int(width), int(height)
        self.block = bool(block)
        self._free: queue.Queue = queue.Queue()
        for _ in range(max(int(slots), 1)):
            self._free.put(np.empty((self.height, self.width, 3), dtype=np.uint8))
        self._todo: queue.Queue = queue.Queue()
        self._offered = self._sent = self._dropped = 0
        self._error: Optional[str] = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"sink-{name}", daemon=True)
        self._thread.start()

    # -- GL thread ---------------------------------------------------------------------
    def offer(self, pixels: np.ndarray, *, time_s: float, bottom_up: bool = False) -> bool:
        self._offered += 1
        if self._closed or self._error is not None or pixels.shape != (self.height, self.width, 3):
            self._dropped += 1
            return False
        try:
            slot = self._free.get(block=self.block, timeout=30.0 if self.block else None)
        except queue.Empty:
            self._dropped += 1
            return False
        np.copyto(slot, pixels[::-1] if bottom_up else pixels, casting="unsafe")
        self._todo.put((slot, float(time_s)))
        return True

    def stats(self) -> SinkStats:
        return SinkStats(self.name, self._offered, self._sent, self._dropped, self._error)

    @property
    def error(self) -> Optional[str]:
        return self._error

    # -- worker thread -----------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            item = self._todo.get()
            if item is None:
                return
            slot, t = item
            try:
                if self._error is None:
                    self._consume(slot, t)
                    self._sent += 1
                else:
                    self._dropped += 1
            except Exception as exc:  # noqa: BLE001 - a sink fails alone, never the show
                self._error = f"{self.name}: {type(exc).__name__}: {exc}"
                self._dropped += 1
                log.error("output %s", self._error)
            finally:
                self._free.put(slot)

    def _consume(self, pixels: np.ndarray, time_s: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _finish(self) -> None:
        """Called once on close after the worker drained its queue."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._todo.put(None)
        self._thread.join()
        try:
            self._finish()
        except Exception as exc:  # noqa: BLE001
            self._error = self._error or f"{self.name}: finish failed: {type(exc).__name__}: {exc}"
            log.error("output %s", self._error)
