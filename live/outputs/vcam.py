"""Virtual camera on Linux (v4l2loopback): OBS, browsers and video calls see the show as a webcam.

Uses pyvirtualcam (optional extra ``latent-live[vcam]``) on a v4l2loopback device, which the
kernel module provides::

    sudo modprobe v4l2loopback devices=1 video_nr=10 card_label="latent-live" exclusive_caps=1

A :class:`~live.outputs.base.ThreadedSink`: frames are copied on the GL thread and written to
the device by the worker; a device that stops taking frames costs the worker, never the show.
"""
from __future__ import annotations

import glob
from typing import Optional

import numpy as np

from live.outputs.base import ThreadedSink

INSTALL_HINT = "the virtual camera needs the optional extra (pyvirtualcam): pip install 'latent-live[vcam]'"
MODPROBE_HINT = ("no v4l2loopback device: load the kernel module first, e.g. "
                 "'sudo modprobe v4l2loopback devices=1 exclusive_caps=1' (Debian: apt install "
                 "v4l2loopback-dkms), then pass its /dev/videoN or 'auto'")


def loopback_devices() -> list[str]:
    """The v4l2loopback devices on this machine (virtual video4linux devices in sysfs)."""
    import os
    out = []
    for dev in sorted(glob.glob("/dev/video*")):
        sys_path = os.path.realpath(f"/sys/class/video4linux/{os.path.basename(dev)}")
        if "/virtual/" in sys_path:
            out.append(dev)
    return out


def unavailable_reason(device: str = "auto") -> str:
    """Why a virtual camera cannot be opened here ("" when it can)."""
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    if device in ("", "auto"):
        return "" if loopback_devices() else MODPROBE_HINT
    import os
    return "" if os.path.exists(device) else f"{device} does not exist; {MODPROBE_HINT}"


class VirtualCameraSink(ThreadedSink):
    """Frames to a v4l2loopback device (``device`` = /dev/videoN or "auto")."""

    def __init__(self, device: str = "auto", *, width: int, height: int, fps: float = 30.0,
                 slots: int = 2):
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise RuntimeError(INSTALL_HINT) from exc
        dev: Optional[str] = None if device in ("", "auto") else device
        try:
            self._cam = pyvirtualcam.Camera(int(width), int(height), float(fps),
                                            fmt=pyvirtualcam.PixelFormat.RGB, device=dev,
                                            backend="v4l2loopback")
        except RuntimeError as exc:
            raise RuntimeError(f"virtual camera {device!r}: {exc} -- {MODPROBE_HINT}") from exc
        self.device = self._cam.device
        super().__init__("vcam", width=width, height=height, slots=slots)

    def _consume(self, pixels: np.ndarray, time_s: float) -> None:
        self._cam.send(pixels)

    def _finish(self) -> None:
        self._cam.close()
