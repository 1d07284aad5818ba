"""NDI out: the show as a network video source for media servers (Resolume, OBS, TouchDesigner,
vMix, another latent-live).

Built on cyndilib (optional extra ``latent-live[ndi]``; its wheel bundles the NDI runtime, which
is under the NDI SDK licence, see README). A :class:`~live.outputs.base.ThreadedSink`: the GL
thread's ``offer`` copies into a free slot or drops and counts; the worker converts to RGBX,
scales to the NDI size when it differs (nearest neighbour, index tables built once), and sends.
NDI compresses and transmits inside ``send`` with the interpreter lock released, so a slow
network or a receiver that stops reading costs this worker, never the show.

Each frame carries metadata ``<latent_live n="FRAME" t="SHOW_TIME_S" host="MONOTONIC_S"/>``
(frame number, show clock, send time) so a receiver can check order and measure latency.

Frame rate: ``fps`` > 0 sends at most that many frames a second (frames offered in between are
skipped before the copy, counted in ``skipped``, not as drops); 0 sends every frame drawn.
"""
from __future__ import annotations

import time
from fractions import Fraction
from typing import Optional

import numpy as np

from live.outputs.base import ThreadedSink

INSTALL_HINT = ("NDI output needs the optional extra (cyndilib, which bundles the NDI runtime): "
                "pip install 'latent-live[ndi]'")


def _cyndilib():
    try:
        from cyndilib.sender import Sender
        from cyndilib.video_frame import VideoSendFrame
        from cyndilib.wrapper.ndi_structs import FourCC
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    return Sender, VideoSendFrame, FourCC


class NdiSink(ThreadedSink):
    """Publish frames as the NDI source ``ndi_name`` (seen as ``HOST (ndi_name)``).

    ``width``/``height``: the frames offered (the capture size); ``out_size``: what NDI
    receivers get (None = the same); ``fps``: rate limit (0 = every frame).
    """

    def __init__(self, ndi_name: str, *, width: int, height: int,
                 out_size: Optional[tuple[int, int]] = None, fps: float = 0.0, slots: int = 3,
                 groups: str = ""):
        if not ndi_name or not ndi_name.strip():
            raise ValueError("NDI source name is empty; give one, e.g. --ndi latent-live")
        Sender, VideoSendFrame, FourCC = _cyndilib()
        ow, oh = out_size if out_size and out_size[0] and out_size[1] else (width, height)
        self.out_width, self.out_height = int(ow), int(oh)
        self.fps = float(fps)
        self.ndi_name = ndi_name.strip()
        rate = Fraction(self.fps).limit_denominator(1001) if self.fps > 0 else Fraction(60, 1)
        try:
            self._sender = Sender(self.ndi_name, ndi_groups=groups, clock_video=False, clock_audio=False)
            vf = VideoSendFrame()
            vf.set_resolution(self.out_width, self.out_height)
            vf.set_frame_rate(rate)
            vf.set_fourcc(FourCC.RGBX)
            self._sender.set_video_frame(vf)
            self._sender.open()
        except Exception as exc:  # noqa: BLE001 - the runtime's errors, named for the operator
            raise RuntimeError(f"NDI source {self.ndi_name!r} could not start: {type(exc).__name__}: {exc}") from exc
        self._vf = vf
        self._rgbx = np.full((self.out_height, self.out_width, 4), 255, dtype=np.uint8)
        if (self.out_width, self.out_height) != (int(width), int(height)):
            self._rows = (np.arange(self.out_height) * int(height)) // self.out_height
            self._cols = (np.arange(self.out_width) * int(width)) // self.out_width
        else:
            self._rows = self._cols = None
        self._min_dt = 1.0 / self.fps if self.fps > 0 else 0.0
        self._next_t: Optional[float] = None
        self.skipped = 0
        self.frames = 0
        self.send_ms: list[float] = []          # worker time per frame (convert + compress + send)
        super().__init__("ndi", width=width, height=height, slots=slots)

    @property
    def source_name(self) -> str:
        """The full name receivers list (``HOST (name)``)."""
        try:
            return str(self._sender.source.name)
        except Exception:  # noqa: BLE001
            return self.ndi_name

    def connections(self) -> int:
        """Receivers connected now."""
        try:
            return int(self._sender.get_num_connections(0.0))
        except Exception:  # noqa: BLE001
            return 0

    # -- GL thread ---------------------------------------------------------------------
    def offer(self, pixels: np.ndarray, *, time_s: float, bottom_up: bool = False) -> bool:
        if self._min_dt:
            if self._next_t is not None and time_s < self._next_t - 1e-4:
                self.skipped += 1
                return False
            # the next slot on the rate grid (a late frame does not push the grid back)
            base = time_s if self._next_t is None or time_s - self._next_t > self._min_dt else self._next_t
            self._next_t = base + self._min_dt
        return super().offer(pixels, time_s=time_s, bottom_up=bottom_up)

    # -- worker thread -----------------------------------------------------------------
    def _consume(self, pixels: np.ndarray, time_s: float) -> None:
        t0 = time.perf_counter()
        if self._rows is None:
            self._rgbx[..., :3] = pixels
        else:
            self._rgbx[..., :3] = pixels[self._rows[:, None], self._cols[None, :]]
        self._vf.set_metadata(f'<latent_live n="{self.frames}" t="{time_s:.6f}" '
                              f'host="{time.monotonic():.6f}"/>'.encode())
        if not self._sender.write_video(self._rgbx.reshape(-1)):
            raise RuntimeError("the NDI sender is not running")
        self.frames += 1
        if len(self.send_ms) < 100_000:
            self.send_ms.append((time.perf_counter() - t0) * 1e3)

    def _finish(self) -> None:
        self._sender.close()
