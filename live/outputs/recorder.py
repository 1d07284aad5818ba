"""Record the output to an H.264 MP4 with PyAV without stalling the render loop: the first
frame sink (:class:`live.outputs.FrameSink`: ``offer``, ``stats``, ``close``).

The render thread only copies a frame into a free slot of a small pool (``offer``, or
``acquire`` / ``commit``); an encoder thread converts and encodes. When every slot is
busy the frame is dropped and counted (``dropped``) instead of blocking, unless the
recorder was made with ``block=True`` (offline render: nothing is dropped). ``close()``
drains the queue, then muxes the source audio (from ``audio_path``, starting at
``audio_start_s``) trimmed to the video's length.
"""
from __future__ import annotations

import logging
import queue
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from live.outputs.base import SinkStats

log = logging.getLogger("live.outputs")


class RecorderError(Exception):
    """The recording cannot start (bad path, no encoder, unreadable audio): one line."""


def pick_codec() -> str:
    """libx264 if this PyAV build has it, else openh264, else MPEG-4 part 2."""
    import av

    for name in ("libx264", "libopenh264", "h264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # noqa: BLE001 - codec missing in this build
            continue
    raise RecorderError("this PyAV build has no H.264 or MPEG-4 encoder")


class Recorder:
    """``Recorder(path, width=, height=, fps=)``: frames are (height, width, 3) uint8 RGB.
    A :class:`~live.outputs.FrameSink` named ``recorder``.

    ``block=False`` (live): a full queue drops the frame. ``block=True`` (offline): waits.
    ``queue_frames`` bounds memory: that many frames may wait for the encoder.
    """

    def __init__(self, path, *, width: int, height: int, fps: float, audio_path=None,
                 audio_start_s: float = 0.0, block: bool = False, queue_frames: int = 8,
                 crf: int = 20, preset: str | None = None):
        import av

        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        if self.width % 2 or self.height % 2:
            raise RecorderError(f"H.264 needs an even size, got {self.width}x{self.height}")
        self.fps = float(fps)
        self.block = bool(block)
        self.audio_path = Path(audio_path) if audio_path else None
        self.audio_start_s = max(float(audio_start_s), 0.0)
        if self.audio_path is not None and not self.audio_path.is_file():
            raise RecorderError(f"audio file not found: {self.audio_path}")
        if not self.path.parent.exists():
            raise RecorderError(f"folder does not exist: {self.path.parent}")
        self.codec = pick_codec()
        try:
            self._container = av.open(str(self.path), mode="w")
        except Exception as exc:  # noqa: BLE001
            raise RecorderError(f"cannot write {self.path}: {exc}") from None
        self._rate = Fraction(self.fps).limit_denominator(1001)
        vs = self._container.add_stream(self.codec, rate=self._rate)
        vs.width, vs.height, vs.pix_fmt = self.width, self.height, "yuv420p"
        vs.time_base = Fraction(1, 1) / self._rate
        if self.codec == "libx264":
            vs.options = {"crf": str(crf), "preset": preset or ("veryfast" if not block else "medium")}
        else:
            vs.bit_rate = 8_000_000
        self._vstream = vs
        self._astream = None
        if self.audio_path is not None:
            self._astream = self._container.add_stream("aac", rate=48000)
            self._astream.layout = "stereo"
        self.frames_written = 0
        self.dropped = 0
        self.offered = 0
        self._last_pts = -1
        self._t0: float | None = None
        self._free: queue.Queue = queue.Queue()
        for _ in range(max(int(queue_frames), 1)):
            self._free.put(np.empty((self.height, self.width, 3), dtype=np.uint8))
        self._todo: queue.Queue = queue.Queue()
        self._error: str | None = None
        self._drop_note: str | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._encode_loop, name="recorder", daemon=True)
        self._thread.start()

    name = "recorder"

    # -- producer side (render thread) ----------------------------------------------------
    def offer(self, pixels: np.ndarray, *, time_s: float, bottom_up: bool = False) -> bool:
        """The frame-sink entry: copy one frame in without blocking (unless ``block``);
        False when it was dropped (counted in ``dropped``)."""
        self.offered += 1
        return self.submit(pixels, time_s=time_s, bottom_up=bottom_up)

    def stats(self) -> SinkStats:
        return SinkStats(self.name, self.offered, self.frames_written, self.dropped, self._error)

    def acquire(self) -> np.ndarray | None:
        """A free (height, width, 3) uint8 slot to fill, or None (frame dropped, counted)."""
        if self._closed or self._error:
            self.dropped += 1
            return None
        try:
            return self._free.get(block=self.block, timeout=30.0 if self.block else None)
        except queue.Empty:
            self.dropped += 1
            return None

    def commit(self, slot: np.ndarray, *, time_s: float | None = None, bottom_up: bool = False) -> None:
        """Queue a filled slot. ``time_s`` places it on the timeline (live: a late frame keeps
        sync); None = the next frame. ``bottom_up``: rows are in GL order (flipped here)."""
        if time_s is None:
            pts = self._last_pts + 1
        else:
            if self._t0 is None:
                self._t0 = float(time_s)
            pts = int(round((float(time_s) - self._t0) * self.fps))
        if pts <= self._last_pts:            # two frames in one recording frame: keep the first
            self._free.put(slot)
            return
        self._last_pts = pts
        self._todo.put((slot, pts, bottom_up))

    def submit(self, pixels: np.ndarray, *, time_s: float | None = None, bottom_up: bool = False) -> bool:
        """Copy one (height, width, 3) uint8 frame in; False if it was dropped."""
        if pixels.shape != (self.height, self.width, 3):
            self.note_dropped(f"frame {pixels.shape} does not match the recording {self.height}x{self.width}x3")
            return False
        slot = self.acquire()
        if slot is None:
            return False
        np.copyto(slot, pixels, casting="unsafe")
        self.commit(slot, time_s=time_s, bottom_up=bottom_up)
        return True

    def note_dropped(self, why: str) -> None:
        self.dropped += 1
        if why != self._drop_note:
            self._drop_note = why
            log.warning("recording: %s (frame dropped)", why)

    @property
    def error(self) -> str | None:
        return self._error

    # -- encoder thread -------------------------------------------------------------------
    def _encode_loop(self) -> None:
        import av

        while True:
            item = self._todo.get()
            if item is None:
                break
            slot, pts, bottom_up = item
            try:
                if self._error is None:
                    img = slot[::-1] if bottom_up else slot
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                    frame.pts = pts
                    for packet in self._vstream.encode(frame):
                        self._container.mux(packet)
                    self.frames_written += 1
            except Exception as exc:  # noqa: BLE001 - report, never kill the show
                self._error = f"recording stopped: {type(exc).__name__}: {exc}"
                log.error(self._error)
            finally:
                self._free.put(slot)

    # -- finish ---------------------------------------------------------------------------
    def close(self) -> None:
        """Finish encoding, mux the audio, write the file. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._todo.put(None)
        self._thread.join()
        try:
            for packet in self._vstream.encode(None):
                self._container.mux(packet)
            if self._astream is not None:
                self._mux_audio()
        except Exception as exc:  # noqa: BLE001
            self._error = self._error or f"recording finish failed: {exc}"
            log.error(self._error)
        finally:
            self._container.close()
        if self.dropped:
            log.info("recording %s: %d frames written, %d dropped", self.path, self.frames_written, self.dropped)

    def _mux_audio(self) -> None:
        import av

        duration_s = (self._last_pts + 1) / self.fps
        astream = self._astream
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
        fifo = av.AudioFifo()
        total = int(round(duration_s * 48000))
        skip = int(round(self.audio_start_s * 48000))
        done = 0
        try:
            src = av.open(str(self.audio_path))
        except Exception as exc:  # noqa: BLE001
            raise RecorderError(f"cannot read audio {self.audio_path}: {exc}") from None
        with src:
            if not src.streams.audio:
                raise RecorderError(f"{self.audio_path} has no audio stream")
            for frame in src.decode(audio=0):
                for rf in resampler.resample(frame):
                    fifo.write(rf)
                while fifo.samples >= 1024 and done < total:
                    chunk = fifo.read(1024)
                    n = chunk.samples
                    if skip >= n:
                        skip -= n
                        continue
                    if skip:
                        arr = chunk.to_ndarray()[:, skip:]
                        skip = 0
                        chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format="fltp", layout="stereo")
                        chunk.sample_rate = 48000
                    chunk.pts = done
                    done += chunk.samples
                    for packet in astream.encode(chunk):
                        self._container.mux(packet)
                if done >= total:
                    break
        for packet in astream.encode(None):
            self._container.mux(packet)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
