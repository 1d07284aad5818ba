"""A preallocated single-producer/single-consumer ring buffer for audio frames.

The producer is the sound card callback (a real-time thread): :meth:`RingBuffer.write`
allocates no buffers, takes no locks and logs nothing; it copies the block into slices
of one preallocated ``(capacity_frames, channels)`` float32 array with ``np.copyto``.
The consumer (the analysis thread) calls :meth:`RingBuffer.read_into`.

Both sides keep their own monotonically increasing counter (``frames written`` /
``frames read``); each side only ever writes its own counter and only reads the other,
so no lock is needed (integer rebinding is atomic under the GIL, and each counter is
advanced only *after* the data it covers has been copied).

Overflow policy: **drop newest**. When the reader is too slow and the ring is full, the
part of a block that does not fit is dropped and counted (``overflows`` blocks,
``dropped_frames`` frames). Overwriting the oldest data instead would mean the writer
moving the reader's counter, which a lock-free SPSC ring cannot do safely. A reader that
notices an overflow can snap back to low latency with :meth:`discard`.
"""
from __future__ import annotations

import numpy as np


class RingBuffer:
    """Lock-free SPSC ring of float32 audio frames, shape ``(capacity_frames, channels)``."""

    __slots__ = ("_buf", "capacity_frames", "channels", "_written", "_read", "overflows", "dropped_frames")

    def __init__(self, capacity_frames: int, channels: int = 1):
        if capacity_frames <= 0 or channels <= 0:
            raise ValueError(f"ring needs capacity_frames > 0 and channels > 0, got {capacity_frames}, {channels}")
        self.capacity_frames = int(capacity_frames)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity_frames, self.channels), dtype=np.float32)
        self._written = 0          # total frames ever written (producer-owned)
        self._read = 0             # total frames ever read or discarded (consumer-owned)
        self.overflows = 0         # blocks that did not fit completely (producer-owned)
        self.dropped_frames = 0    # frames dropped because the ring was full (producer-owned)

    # ---------------------------------------------------------------- producer side
    def write(self, block: np.ndarray) -> int:
        """Copy ``block`` (frames, channels) float32 into the ring; returns frames written.

        Real-time safe: no buffer allocation, no locks, no logging. Frames that do not
        fit (reader too slow) are dropped and counted.
        """
        n = block.shape[0]
        free = self.capacity_frames - (self._written - self._read)
        if n > free:
            self.overflows += 1
            self.dropped_frames += n - free
            n = free
            if n <= 0:
                return 0
        cap = self.capacity_frames
        start = self._written % cap
        first = cap - start
        if n <= first:
            np.copyto(self._buf[start:start + n], block[:n])
        else:
            np.copyto(self._buf[start:], block[:first])
            np.copyto(self._buf[:n - first], block[first:n])
        self._written += n
        return n

    # ---------------------------------------------------------------- consumer side
    @property
    def available(self) -> int:
        """Frames written and not yet read."""
        return self._written - self._read

    @property
    def frames_written(self) -> int:
        return self._written

    @property
    def frames_read(self) -> int:
        return self._read

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` of the oldest unread frames into ``out`` (frames, channels).

        Returns the number of frames copied (``min(len(out), available)``); the rest of
        ``out`` is left untouched.
        """
        n = min(out.shape[0], self._written - self._read)
        if n <= 0:
            return 0
        cap = self.capacity_frames
        start = self._read % cap
        first = cap - start
        if n <= first:
            np.copyto(out[:n], self._buf[start:start + n])
        else:
            np.copyto(out[:first], self._buf[start:])
            np.copyto(out[first:n], self._buf[:n - first])
        self._read += n
        return n

    def discard(self, frames: int) -> int:
        """Skip up to ``frames`` of the oldest unread frames (reader side); returns frames skipped."""
        n = max(0, min(int(frames), self._written - self._read))
        self._read += n
        return n

    def reset(self) -> None:
        """Forget unread frames (counters stay monotonic). Call only while no producer runs."""
        self._read = self._written
