"""Sources whose whole signal is in memory: :class:`ArraySource` (tests, offline work) and the
base of :class:`live.audio.FileSource`.

Pacing: ``realtime=False`` hands out hops as fast as they are asked for; ``realtime=True``
releases hop ``k`` when ``time.perf_counter()`` reaches ``start + (k + 1) * hop / rate``
(its own clock). A consumer that falls behind gets the late hops at once and catches up.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np

from live.audio.base import AudioSource, sleep_until, to_mono


class MemorySource(AudioSource):
    """Hop-by-hop reader over a mono float32 signal held in memory."""

    def __init__(self, samples: np.ndarray, *, sample_rate_hz: int, hop_size: int = 512,
                 realtime: bool = False, loop: bool = False):
        super().__init__(sample_rate_hz=sample_rate_hz, hop_size=hop_size, realtime=realtime)
        self._x = to_mono(samples)                  # (n,) float32
        self._n = int(self._x.shape[0])
        self.loop = bool(loop) and self._n > 0
        self._t0: Optional[float] = None            # perf_counter time of audio time 0 (own clock)

    @property
    def duration_s(self) -> float:
        """Length of the signal (one pass), s."""
        return self._n / self.sample_rate_hz

    def start(self) -> None:
        if self._started:
            return
        super().start()
        # Anchor the own clock so that already-read hops count as played.
        self._t0 = time.perf_counter() - self.time_s

    def _wait_for_hop(self, k: int, timeout_s: float) -> None:
        """Block until hop ``k`` may be released (own clock). Overridden by FileSource playback."""
        if self.realtime:
            sleep_until(self._t0 + (k + 1) * self.hop_size / self.sample_rate_hz)

    def _copy_hop(self, first: int) -> None:
        """Copy frames [first, first + hop) of the (looped or zero-padded) signal into the hop buffer."""
        hop, n, out = self.hop_size, self._n, self._hop
        if not self.loop:
            m = max(0, min(hop, n - first))
            if m:
                np.copyto(out[:m], self._x[first:first + m])
            if m < hop:
                out[m:] = 0.0
            return
        pos, filled = first % n, 0
        while filled < hop:
            m = min(hop - filled, n - pos)
            np.copyto(out[filled:filled + m], self._x[pos:pos + m])
            filled += m
            pos = 0

    def read_hop(self, *, timeout_s: float = 1.0) -> Optional[np.ndarray]:
        """Next hop, ``(hop_size,)`` float32 (reused buffer), or None at the end (no loop).

        The last partial hop of a signal is zero-padded to a full hop.
        """
        if self.finished:
            return None
        if not self._started:
            self.start()
        k = self.hops_read
        first = k * self.hop_size
        if not self.loop and first >= self._n:
            self.finished = True
            return None
        self._wait_for_hop(k, timeout_s)
        self._copy_hop(first)
        self.hops_read = k + 1
        return self._hop

    def stop(self) -> None:
        super().stop()


class ArraySource(MemorySource):
    """A source over a numpy array, for tests and offline analysis.

    ``samples``: (n,) or (n, channels) float (or integer PCM); channels are averaged to mono
    and values clipped to [-1, 1]. ``realtime=True`` paces hops on the system clock.
    """

    def __init__(self, samples: np.ndarray, *, sample_rate_hz: int, hop_size: int = 512,
                 realtime: bool = False, loop: bool = False):
        super().__init__(samples, sample_rate_hz=sample_rate_hz, hop_size=hop_size,
                         realtime=realtime, loop=loop)

    def __repr__(self) -> str:
        return (f"ArraySource({self._n} samples, sample_rate_hz={self.sample_rate_hz}, "
                f"hop_size={self.hop_size}, realtime={self.realtime})")
