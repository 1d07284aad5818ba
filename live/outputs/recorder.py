"""Record the output to an H.264 video with PyAV without stalling the render loop: the first
frame sink (:class:`live.outputs.FrameSink`: ``offer``, ``stats``, ``close``).

The render thread only copies a frame into a free slot of a small pool (``offer``, or
``acquire`` / ``commit``); an encoder thread converts and encodes. When every slot is
busy the frame is dropped and counted (``dropped``) instead of blocking, unless the
recorder was made with ``block=True`` (offline render: nothing is dropped).

A recording is playable up to the last second written whatever ends the process (SIGKILL,
a power cut, a full disk): an MP4/MOV is written *fragmented* (an empty ``moov`` first, then a
self-contained fragment about every second, each flushed to the file as it is written), a
Matroska file in one-second clusters; ``close()`` finishes the last fragment.

The source audio (``audio_path``, any format PyAV decodes: WAV, FLAC, MP3, OGG, M4A...) is
decoded, resampled to 48 kHz stereo, cleaned (NaN and infinite samples become silence, the
rest is clipped to [-1, 1]) and muxed *while* recording, in step with the video, starting at
``audio_start_s`` (default: the time of the first frame) and, with ``audio_loop``, starting the
file again at its end. The audio file is opened and its first samples decoded in the
constructor, so an unreadable file is a :class:`RecorderError` before a long render starts.

A write error (the disk is full) stops the recording, not the show: ``error`` says why and
how much was kept, later frames are dropped, and ``close()`` never raises.
"""
from __future__ import annotations

import errno
import logging
import os
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

AUDIO_RATE = 48000
AUDIO_CHUNK = 1024          # AAC frame size


class AudioFeed:
    """Decodes the source audio progressively: 48 kHz stereo float32, non-finite samples
    cleaned, the file started again at its end when ``loop``. ``read(n)`` gives the next ``n``
    samples (fewer at the end of a file that does not loop)."""

    def __init__(self, path: Path, *, loop: bool = False):
        self.path = path
        self.loop = loop
        self.cleaned = 0             # non-finite samples replaced by silence
        self.passes = 0              # times the file was started (loop)
        self._buf: list[np.ndarray] = []
        self._buffered = 0
        self._eof = False
        self._src = None
        self._open()
        self._pull(1)
        if self._buffered == 0:
            raise RecorderError(f"{path}: no audio could be decoded from it")

    def _open(self) -> None:
        import av

        try:
            self._src = av.open(str(self.path))
        except Exception as exc:  # noqa: BLE001
            raise RecorderError(f"cannot read audio {self.path}: {exc}") from None
        if not self._src.streams.audio:
            self._src.close()
            raise RecorderError(f"{self.path} has no audio stream")
        self._frames = self._src.decode(audio=0)
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        self._pass_samples = 0
        self.passes += 1

    def _add(self, frames) -> None:
        for f in frames:
            a = np.asarray(f.to_ndarray(), dtype=np.float32).reshape(2, -1)
            bad = ~np.isfinite(a)
            if bad.any():
                self.cleaned += int(bad.sum())
                a = np.where(bad, np.float32(0.0), a)
            np.clip(a, -1.0, 1.0, out=a)
            self._buf.append(a)
            self._buffered += a.shape[1]
            self._pass_samples += a.shape[1]

    def _pull(self, need: int) -> None:
        while self._buffered < need and not self._eof:
            try:
                frame = next(self._frames)
            except StopIteration:
                frame = None
            except Exception as exc:  # noqa: BLE001 - corrupt data mid-file: end this pass
                log.warning("recording: audio %s: %s; ending its audio here", self.path.name, exc)
                frame = None
            if frame is None:
                try:
                    self._add(self._resampler.resample(None))
                except Exception:  # noqa: BLE001
                    pass
                self._src.close()
                if self.loop and self._pass_samples > 0:
                    self._open()
                    continue
                self._eof = True
                break
            frame.pts = None           # MP3/OGG frames do not start at 0: the resampler must not care
            self._add(self._resampler.resample(frame))

    def read(self, n: int) -> np.ndarray:
        self._pull(n)
        if not self._buf:
            return np.zeros((2, 0), np.float32)
        data = self._buf[0] if len(self._buf) == 1 else np.concatenate(self._buf, axis=1)
        out, rest = data[:, :n], data[:, n:]
        self._buf = [rest] if rest.shape[1] else []
        self._buffered = rest.shape[1]
        return out

    def skip(self, n: int) -> None:
        while n > 0:
            got = self.read(min(n, 1 << 16)).shape[1]
            if got == 0:
                return
            n -= got

    def close(self) -> None:
        if self._src is not None:
            self._src.close()


def _describe_write_error(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC:
        return "the disk is full (no space left on device)"
    if code == errno.EFBIG:
        return "the file is too large for this file system or limit"
    if code == errno.EIO:
        return "an input/output error on the disk"
    return f"{type(exc).__name__}: {exc}"


class Recorder:
    """``Recorder(path, width=, height=, fps=)``: frames are (height, width, 3) uint8 RGB.
    A :class:`~live.outputs.FrameSink` named ``recorder``.

    ``block=False`` (live): a full queue drops the frame. ``block=True`` (offline): waits.
    ``queue_frames`` bounds memory: that many frames may wait for the encoder.
    """

    def __init__(self, path, *, width: int, height: int, fps: float, audio_path=None,
                 audio_start_s: float | None = None, block: bool = False, queue_frames: int = 8,
                 crf: int = 20, preset: str | None = None, audio_loop: bool = False):
        import av

        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        if self.width % 2 or self.height % 2:
            raise RecorderError(f"H.264 needs an even size, got {self.width}x{self.height}")
        self.fps = float(fps)
        self.block = bool(block)
        self.audio_path = Path(audio_path) if audio_path else None
        self.audio_start_s = None if audio_start_s is None else max(float(audio_start_s), 0.0)
        if self.audio_path is not None and not self.audio_path.is_file():
            raise RecorderError(f"audio file not found: {self.audio_path}" if not self.audio_path.exists()
                                else f"audio {self.audio_path} is not a file")
        if not self.path.parent.exists():
            raise RecorderError(f"folder does not exist: {self.path.parent}")
        self.codec = pick_codec()
        self._audio = AudioFeed(self.audio_path, loop=audio_loop) if self.audio_path is not None else None
        suffix = self.path.suffix.lower()
        if suffix == ".mkv":
            opts = {"cluster_time_limit": "1000"}
        else:   # fragmented MP4/MOV: playable up to the last fragment whatever ends the process
            opts = {"movflags": "empty_moov+default_base_moof+frag_keyframe", "frag_duration": "1000000"}
        opts["flush_packets"] = "1"     # each packet reaches the file at once, not a 32 KB buffer later
        opts["avoid_negative_ts"] = "make_non_negative"   # AAC priming must not shift the video after frame 0
        try:
            self._container = av.open(str(self.path), mode="w", container_options=opts)
        except Exception as exc:  # noqa: BLE001
            if self._audio is not None:
                self._audio.close()
            raise RecorderError(f"cannot write {self.path}: {exc}") from None
        self._rate = Fraction(self.fps).limit_denominator(1001)
        vs = self._container.add_stream(self.codec, rate=self._rate)
        vs.width, vs.height, vs.pix_fmt = self.width, self.height, "yuv420p"
        vs.time_base = Fraction(1, 1) / self._rate
        vs.codec_context.gop_size = max(1, int(round(self.fps)))   # a keyframe (and fragment) a second
        # no B-frames: a fragmented MP4 has no edit list to hide their decode delay, so the video
        # would start a frame or two late against the audio (ultrafast, the live preset, has none)
        vs.codec_context.max_b_frames = 0
        if self.codec == "libx264":
            vs.options = {"crf": str(crf), "preset": preset or ("veryfast" if not block else "medium")}
        else:
            vs.bit_rate = 8_000_000
        self._vstream = vs
        self._astream = None
        if self._audio is not None:
            self._astream = self._container.add_stream("aac", rate=AUDIO_RATE)
            self._astream.layout = "stereo"
        self._good_size = 0            # file size after the last write that went through
        self._audio_done = 0           # samples encoded
        self._audio_started = False
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

    @property
    def written_s(self) -> float:
        """Seconds of video encoded so far."""
        return self.frames_written / self.fps if self.fps else 0.0

    @property
    def audio_cleaned(self) -> int:
        """Non-finite audio samples replaced by silence."""
        return self._audio.cleaned if self._audio is not None else 0

    # -- encoder thread -------------------------------------------------------------------
    def _mux(self, packet) -> None:
        self._container.mux(packet)
        try:                               # the file ends on a whole fragment here
            self._good_size = os.path.getsize(self.path)
        except OSError:
            pass

    def _truncate_to_good(self) -> None:
        """Cut a half-written fragment off the end (a write that failed part way), so what
        was written before plays to its end in any player."""
        try:
            if os.path.getsize(self.path) > self._good_size > 0:
                os.truncate(self.path, self._good_size)
        except OSError:
            pass

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = (f"recording stopped: {_describe_write_error(exc)}; the first {self.written_s:.1f} s "
                           f"are kept in {self.path}")
            log.error(self._error)
        self._truncate_to_good()

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
                        self._mux(packet)
                    self.frames_written += 1
                    self._mux_audio_until((pts + 1) / self.fps)
            except Exception as exc:  # noqa: BLE001 - report, never kill the show
                self._fail(exc)
            finally:
                self._free.put(slot)

    def _mux_audio_until(self, t_s: float) -> None:
        """Encode the source audio up to ``t_s`` seconds of the video (whole AAC frames)."""
        import av

        if self._audio is None:
            return
        if not self._audio_started:
            self._audio_started = True
            start = self.audio_start_s if self.audio_start_s is not None else (self._t0 or 0.0)
            self._audio.skip(int(round(start * AUDIO_RATE)))
        total = int(round(t_s * AUDIO_RATE))
        while self._audio_done + AUDIO_CHUNK <= total:
            chunk = self._audio.read(AUDIO_CHUNK)
            if chunk.shape[1] < AUDIO_CHUNK:       # the file ended (no loop): the rest is silent video
                if chunk.shape[1] == 0:
                    return
                chunk = np.pad(chunk, ((0, 0), (0, AUDIO_CHUNK - chunk.shape[1])))
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_RATE
            frame.pts = self._audio_done
            self._audio_done += AUDIO_CHUNK
            for packet in self._astream.encode(frame):
                self._mux(packet)

    # -- finish ---------------------------------------------------------------------------
    def close(self) -> None:
        """Finish encoding, the audio up to the video's end, the file. Safe to call twice;
        never raises (an error is in ``error``)."""
        if self._closed:
            return
        self._closed = True
        self._todo.put(None)
        self._thread.join()
        if self._error is None:
            try:
                for packet in self._vstream.encode(None):
                    self._mux(packet)
                if self._astream is not None:
                    self._mux_audio_until((self._last_pts + 1) / self.fps)
                    for packet in self._astream.encode(None):
                        self._mux(packet)
            except Exception as exc:  # noqa: BLE001
                self._fail(exc)
        try:
            self._container.close()
        except Exception as exc:  # noqa: BLE001 - the trailer did not fit: the fragments stay playable
            self._fail(exc)
        if self._error is not None:
            self._truncate_to_good()
        if self._audio is not None:
            self._audio.close()
            if self._audio.cleaned:
                log.warning("recording %s: %d non-finite audio samples in %s replaced by silence",
                            self.path, self._audio.cleaned, self.audio_path)
        if self.dropped:
            log.info("recording %s: %d frames written, %d dropped", self.path, self.frames_written, self.dropped)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
