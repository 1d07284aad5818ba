"""Audio files: :func:`decode_audio` and :class:`FileSource` (rehearsal with a track, offline work).

Decoding uses PyAV (FFmpeg): WAV, FLAC, OGG/Vorbis, Opus, MP3, AAC/M4A and whatever else
FFmpeg reads. The file is decoded *fully into memory up front* and resampled to the
analysis rate with ``av.AudioResampler`` (a 10-minute track at 44.1 kHz mono is ~106 MB of
float32), so a damaged file fails before the show starts, not in the middle of it.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from live.audio.base import AudioFileError, sleep_until
from live.audio.memory import MemorySource

log = logging.getLogger(__name__)

STALL_S = 0.5   # an output stream that plays nothing for this long is treated as lost


def _fail(path: Path, what: str) -> AudioFileError:
    return AudioFileError(f"{path}: {what}")


def decode_audio(path: str | os.PathLike, *, sample_rate_hz: int, mono: bool = True) -> np.ndarray:
    """Decode an audio file and resample it to ``sample_rate_hz``.

    Returns float32 in [-1, 1]: shape ``(n,)`` when ``mono`` (channel mean), else
    ``(n, channels)``. Raises :class:`AudioFileError` (one line naming the file and the
    problem) for a missing, empty, damaged or non-audio file. For long files that need not
    be in memory at once, iterate :func:`iter_audio` instead.
    """
    blocks = list(iter_audio(path, sample_rate_hz=sample_rate_hz, mono=mono))
    return np.concatenate(blocks, axis=0)


def open_audio_info(path: str | os.PathLike) -> tuple[int, int, float]:
    """``(sample rate, channels, duration s or 0)`` of the file's first audio stream, as stored
    (before any resampling); :class:`AudioFileError` when it cannot be read."""
    import av

    p = _check_path(Path(path))
    try:
        with av.open(str(p), mode="r") as c:
            if not c.streams.audio:
                raise _fail(p, "has no audio stream")
            s = c.streams.audio[0]
            dur = float(s.duration * s.time_base) if s.duration and s.time_base else (
                c.duration / 1e6 if c.duration else 0.0)
            return int(s.rate or s.codec_context.sample_rate or 0), int(s.channels or 0), dur
    except av.error.FFmpegError as exc:
        raise _fail(p, f"not a readable audio file ({_ffmpeg_reason(exc)})") from None


def _check_path(p: Path) -> Path:
    if not p.exists():
        raise _fail(p, "file not found")
    if p.is_dir():
        raise _fail(p, "is a folder, not an audio file")
    if not p.is_file():
        raise _fail(p, "is not a regular file")
    if p.stat().st_size == 0:
        raise _fail(p, "file is empty (0 bytes)")
    return p


def iter_audio(path: str | os.PathLike, *, sample_rate_hz: int, mono: bool = True):
    """Decode ``path`` block by block (a few thousand samples each), resampled to
    ``sample_rate_hz``: float32 in [-1, 1], ``(n,)`` blocks when ``mono`` else ``(n, channels)``.
    Memory stays bounded whatever the file's length. Same errors as :func:`decode_audio`
    (raised before the first block, or at the end for a file with no samples)."""
    import av  # lazy: PyAV loads FFmpeg

    p = Path(path)
    sample_rate_hz = int(sample_rate_hz)
    if sample_rate_hz <= 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    _check_path(p)
    try:
        container = av.open(str(p), mode="r")
    except av.error.FFmpegError as exc:
        raise _fail(p, f"not a readable audio file ({_ffmpeg_reason(exc)})") from None
    except OSError as exc:
        raise _fail(p, f"cannot open ({exc.strerror or exc})") from None

    def clean(plane: np.ndarray) -> np.ndarray:
        if mono:
            y = plane.mean(axis=0, dtype=np.float64).astype(np.float32) if plane.shape[0] > 1 \
                else plane[0].astype(np.float32)
        else:
            y = np.ascontiguousarray(plane.T, dtype=np.float32)    # (n, channels)
        np.nan_to_num(y, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        np.clip(y, -1.0, 1.0, out=y)                          # resampling can overshoot on clipped input
        return y

    total = 0
    try:
        if not container.streams.audio:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
            raise _fail(p, f"has no audio stream (contains {kinds})")
        stream = container.streams.audio[0]
        layout = stream.layout.name if stream.layout is not None and stream.channels else None
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate_hz)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    y = clean(out.to_ndarray())
                    total += y.shape[0]
                    yield y
            for out in resampler.resample(None):
                y = clean(out.to_ndarray())
                total += y.shape[0]
                yield y
        except av.error.FFmpegError as exc:
            if not total:
                raise _fail(p, f"cannot decode audio ({_ffmpeg_reason(exc)})") from None
            log.warning("%s: decoding stopped early (%s); using the %d frames before the damage",
                        p, _ffmpeg_reason(exc), total)
    finally:
        container.close()
    if total == 0:
        raise _fail(p, "contains no audio samples")


def _ffmpeg_reason(exc: Exception) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return str(msg).split(":")[0].strip() or type(exc).__name__


class FileSource(MemorySource):
    """Plays an audio file hop by hop.

    * ``realtime=True, playback=True``: plays through the default output device when there
      is one; the output callback is the clock (hop ``k`` is released when it has been
      handed to the device, minus the stream's reported output latency), so what the VJ
      hears and what the analyzer sees stay in step. Playback is mono on all channels.
    * ``realtime=True`` with no output device (or ``playback=False``, or the output stream
      dies): paced by ``time.perf_counter`` (its own clock).
    * ``realtime=False``: as fast as the reader asks, for offline work.

    ``loop=True`` restarts at the end forever. Decoding happens in the constructor, so a
    bad file raises :class:`AudioFileError` at once.
    """

    def __init__(self, path: str | os.PathLike, *, sample_rate_hz: int = 44100, hop_size: int = 512,
                 realtime: bool = True, playback: bool = True, loop: bool = False):
        samples = decode_audio(path, sample_rate_hz=sample_rate_hz, mono=True)
        super().__init__(samples, sample_rate_hz=sample_rate_hz, hop_size=hop_size,
                         realtime=realtime, loop=loop)
        self.path = Path(path)
        self.playback = bool(playback) and self.realtime
        self.clock = "fast" if not self.realtime else "system"   # "fast" | "system" | "output"
        self._stream: Any = None
        self._played = 0            # frames handed to the output device (callback-owned)
        self._xruns = 0             # output underflows (callback-owned)
        self._latency_frames = 0

    @property
    def overflows(self) -> int:
        return self._xruns

    # ------------------------------------------------------------------ output clock
    def _callback(self, outdata, frames, time_info, status) -> None:
        """PortAudio output callback: copy the next block of the track. Copies only."""
        if status.output_underflow:
            self._xruns += 1
        pos, n, x = self._played, self._n, self._x
        if self.loop:
            filled, p = 0, pos % n
            while filled < frames:
                m = min(frames - filled, n - p)
                np.copyto(outdata[filled:filled + m], x[p:p + m, None])
                filled += m
                p = 0
        else:
            m = max(0, min(frames, n - pos))
            if m:
                np.copyto(outdata[:m], x[pos:pos + m, None])
            if m < frames:
                outdata[m:].fill(0.0)
        self._played = pos + frames

    def start(self) -> None:
        if self._started:
            return
        if self.playback and self._stream is None:
            self._open_output()
        super().start()

    def _open_output(self) -> None:
        try:
            from live.audio.devices import default_output_device, import_sounddevice
            sd = import_sounddevice()
            out = default_output_device(sd=sd)
            if out is None:
                log.info("no output device: %s runs on the system clock (silent)", self.path.name)
                return
            channels = max(1, min(2, out.max_output_channels))
            # Start the output clock where the reader is (start after a stop, or a late start).
            self._played = self.hops_read * self.hop_size
            stream = sd.OutputStream(samplerate=self.sample_rate_hz, channels=channels, dtype="float32",
                                     device=out.index, callback=self._callback)
            self._latency_frames = int(round(float(stream.latency) * self.sample_rate_hz))
            stream.start()
        except Exception as exc:  # never fail a rehearsal because of the speakers
            log.warning("cannot play %s through the output device (%s); running on the system clock",
                        self.path.name, exc)
            return
        self._stream = stream
        self.clock = "output"
        log.info("playing %s through '%s' (output latency %.0f ms)", self.path.name, out.name,
                 1000.0 * self._latency_frames / self.sample_rate_hz)

    def _wait_for_hop(self, k: int, timeout_s: float) -> None:
        if self.clock != "output":
            super()._wait_for_hop(k, timeout_s)
            return
        need = (k + 1) * self.hop_size
        if not self.loop:
            need = min(need, self._n)
        need += self._latency_frames
        last_played, last_change = self._played, time.perf_counter()
        while self._played < need:
            now = time.perf_counter()
            if self._played != last_played:
                last_played, last_change = self._played, now
            elif now - last_change > STALL_S:
                self._fall_back_to_system_clock(k)
                super()._wait_for_hop(k, timeout_s)
                return
            # Sleep about as long as the missing frames take to play (at most 5 ms).
            sleep_until(now + min(0.005, max(0.0005, (need - self._played) / self.sample_rate_hz)))

    def _fall_back_to_system_clock(self, k: int) -> None:
        log.warning("the output device stopped playing %s; continuing on the system clock", self.path.name)
        self._close_stream()
        self.clock = "system"
        self._t0 = time.perf_counter() - k * self.hop_size / self.sample_rate_hz

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # pragma: no cover - a dead device may refuse to close cleanly
                pass

    def stop(self) -> None:
        self._close_stream()
        if self.realtime:
            self.clock = "system"
        super().stop()

    def __repr__(self) -> str:
        return (f"FileSource({str(self.path)!r}, sample_rate_hz={self.sample_rate_hz}, hop_size={self.hop_size}, "
                f"realtime={self.realtime}, clock={self.clock!r}, loop={self.loop})")
