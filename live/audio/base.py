"""The common interface of every sound source, and the errors of the audio room.

A source hands out the sound one *hop* at a time: ``read_hop()`` returns a ``(hop_size,)``
float32 mono array in [-1, 1] (valid until the next call; copy it to keep it), or ``None``
at the end of a file/array that does not loop. ``time_s`` is the audio clock: the end time
of the last hop returned, ``hops * hop_size / sample_rate_hz``.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np


class AudioError(Exception):
    """Base class of the audio room's errors. The message is one line meant for the user."""


class AudioFileError(AudioError):
    """A file is missing, empty, damaged or has no audio stream."""


class AudioDeviceError(AudioError):
    """A sound device is missing, busy, or PortAudio is not installed."""


class AudioSource:
    """Base class: hop-by-hop mono audio on an audio clock. Also a context manager."""

    sample_rate_hz: int
    hop_size: int
    realtime: bool = False

    def __init__(self, *, sample_rate_hz: int, hop_size: int, realtime: bool):
        sample_rate_hz = int(sample_rate_hz)
        hop_size = int(hop_size)
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
        if hop_size <= 0:
            raise ValueError(f"hop_size must be positive, got {hop_size}")
        self.sample_rate_hz = sample_rate_hz
        self.hop_size = hop_size
        self.realtime = bool(realtime)
        self.hops_read = 0          # hops returned so far (silence hops of a lost device included)
        self.finished = False
        self._started = False
        self._hop = np.zeros(hop_size, dtype=np.float32)  # the buffer read_hop hands out

    # ------------------------------------------------------------------ interface
    @property
    def time_s(self) -> float:
        """Audio clock (s): end time of the last hop returned."""
        return self.hops_read * self.hop_size / self.sample_rate_hz

    @property
    def overflows(self) -> int:
        """Blocks lost or glitched (input overflow / output underflow / ring full)."""
        return 0

    def start(self) -> None:
        self._started = True

    def read_hop(self, *, timeout_s: float = 1.0) -> Optional[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:
        self._started = False

    def close(self) -> None:
        self.stop()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        """Iterate hops until the end of the stream (each hop is a fresh copy)."""
        while True:
            hop = self.read_hop()
            if hop is None:
                return
            yield hop.copy()


def sleep_until(deadline: float) -> None:
    """Sleep until ``time.perf_counter()`` reaches ``deadline`` (short final spin)."""
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return
        time.sleep(left - 0.0005 if left > 0.002 else left / 2 if left > 0.0002 else 0)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(n,) or (n, channels) -> (n,) float32 mono (channel mean), clipped to [-1, 1]."""
    x = np.asarray(samples)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float64) if x.shape[1] > 1 else x[:, 0]
    elif x.ndim != 1:
        raise ValueError(f"samples must be (n,) or (n, channels), got shape {x.shape}")
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    out = np.array(x, dtype=np.float32, copy=True)
    np.nan_to_num(out, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(out, -1.0, 1.0, out=out)
    return out
