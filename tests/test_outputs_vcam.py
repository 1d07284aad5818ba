"""Virtual camera (v4l2loopback): a clear message without a device; frames through one where it exists."""
import numpy as np
import pytest

pytest.importorskip("pyvirtualcam", reason="pyvirtualcam not installed (optional extra: latent-live[vcam])")

from live.outputs.vcam import VirtualCameraSink, loopback_devices, unavailable_reason  # noqa: E402


def test_no_device_names_modprobe():
    if loopback_devices():
        pytest.skip("a v4l2loopback device exists here")
    with pytest.raises(RuntimeError, match="modprobe v4l2loopback"):
        VirtualCameraSink("auto", width=64, height=36)
    with pytest.raises(RuntimeError, match="modprobe v4l2loopback"):
        VirtualCameraSink("/dev/video-nonexistent", width=64, height=36)
    assert "modprobe v4l2loopback" in unavailable_reason()


def test_frames_reach_the_device():
    why = unavailable_reason()
    if why:
        pytest.skip(why)
    sink = VirtualCameraSink("auto", width=64, height=36, fps=30)
    try:
        for i in range(10):
            sink.offer(np.full((36, 64, 3), i * 20, np.uint8), time_s=i / 30)
    finally:
        sink.close()
    st = sink.stats()
    assert st.last_error is None and st.sent + st.dropped == 10 and st.sent >= 1
