"""NDI out: our sink and a separate receiver process in a private network namespace, the
source found by extra_ips (no avahi). The namespace is `unshare -n` with only `lo` up (via
live.testing.netns): NDI multicast never reaches the real network."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from live.testing import netns

pytest.importorskip("cyndilib", reason="cyndilib not installed (optional extra: latent-live[ndi])")

COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (128, 128, 128)]


def test_picture(w, h):
    img = np.zeros((h, w, 3), np.uint8)
    for i, c in enumerate(COLOURS):
        qy, qx = divmod(i, 2)
        img[qy * h // 2:(qy + 1) * h // 2, qx * w // 2:(qx + 1) * w // 2] = c
    return img


test_picture.__test__ = False


def _receiver(name, frames, tmp_path, **kw):
    out = tmp_path / f"recv_{os.getpid()}_{time.monotonic_ns()}.json"
    args = [sys.executable, "-m", "live.testing.ndirecv", "--source", name, "--frames", str(frames),
            "--out", str(out), "--timeout", "30"]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return subprocess.Popen(args), out


def _wait_connected(sink, timeout_s=15.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if sink.connections() > 0:
            return True
        time.sleep(0.02)
    return False


def test_known_picture_arrives_in_order(request, tmp_path):
    if netns.delegate(request):
        return
    from live.outputs.ndi import NdiSink
    name = f"ll-test-{os.getpid()}"
    sink = NdiSink(name, width=320, height=180, out_size=(160, 90))
    proc, out = _receiver(name, 40, tmp_path)
    try:
        assert _wait_connected(sink), "no receiver connected"
        img = test_picture(320, 180)
        for i in range(40):
            assert sink.offer(img, time_s=i / 30.0)
            time.sleep(1 / 30)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sink.close()
    r = json.loads(out.read_text())
    frames = r["frames"]
    ns = [int(f["meta"].split('n="')[1].split('"')[0]) for f in frames]
    assert ns == list(range(40)), ns                     # every frame, in order
    st = sink.stats()
    assert st.sent == 40 and st.dropped == 0 and st.last_error is None
    for f in frames:
        assert (f["w"], f["h"]) == (160, 90)
        got = np.array(f["patches"])
        assert np.abs(got - np.array(COLOURS)).max() < 12, got   # NDI is lossy (SpeedHQ, 4:2:2)


def test_stalled_receiver_does_not_slow_the_sender(request, tmp_path):
    if netns.delegate(request):
        return
    from live.outputs.ndi import NdiSink
    name = f"ll-stall-{os.getpid()}"
    sink = NdiSink(name, width=640, height=360)
    proc, out = _receiver(name, 1000, tmp_path, stall_after=5, stall_s=3.0, idle_s=1.5)
    try:
        assert _wait_connected(sink)
        img = test_picture(640, 360)
        offer_ms = []
        t0 = time.monotonic()
        for i in range(90):                              # 3 s at 30 fps, the receiver asleep for most
            a = time.perf_counter()
            sink.offer(img, time_s=i / 30.0)
            offer_ms.append((time.perf_counter() - a) * 1e3)
            time.sleep(max(0.0, t0 + (i + 1) / 30 - time.monotonic()))
        elapsed = time.monotonic() - t0
        time.sleep(0.3)
        st = sink.stats()
        assert elapsed < 3.5, f"offering 90 frames took {elapsed:.2f} s"
        assert st.sent >= 85 and st.last_error is None, st        # the worker kept sending
        assert np.percentile(sink.send_ms, 50) < 50.0
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sink.close()
    r = json.loads(out.read_text())
    assert len(r["frames"]) >= 5                          # it did read before it stalled


def test_missing_name_and_offer_contract():
    from live.outputs.ndi import NdiSink
    with pytest.raises(ValueError, match="NDI source name is empty"):
        NdiSink(" ", width=64, height=36)
