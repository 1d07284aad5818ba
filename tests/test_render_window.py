"""The window path (glfw) under a private Xvfb server: open, draw, read back, keys map to events."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import numpy as np
from live.render.renderer import Renderer
from live.types import FeatureFrame, Frame, GenControl
r = Renderer(width=160, height=90, headless=False, hud=True)
assert not r.headless, "expected a window"
pic = np.full((64, 64, 3), 180, np.uint8)
r.set_frame(Frame(pixels=pic, control=GenControl(), index=1), now_s=0.0)
for i in range(3):
    r.draw(FeatureFrame(bass=0.5), {}, time_s=i / 60)
img = r.read_pixels()
w = r.context
w._on_key(r.window, w._glfw.KEY_2, 0, w._glfw.PRESS, 0)
w._on_key(r.window, w._glfw.KEY_F, 0, w._glfw.PRESS, 0)
events = r.poll_events()
print("MEAN", float(img.mean()), "SIZE", img.shape, "EVENTS", ",".join(events), "ERR", r.ctx.error)
r.close()
"""


def _free_display() -> int:
    for n in range(90, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    pytest.skip("no free X display number")


def test_window_under_xvfb():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb not installed (apt-get install xvfb)")
    n = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "320x240x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            if xvfb.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"Xvfb :{n} did not start")
            time.sleep(0.05)
        env = dict(os.environ, DISPLAY=f":{n}")
        env.pop("WAYLAND_DISPLAY", None)
        proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out = proc.stdout.split()
        mean = float(out[out.index("MEAN") + 1])
        assert mean > 100                                      # the picture (grey 180), not black
        assert out[out.index("EVENTS") + 1] == "bank:2,fullscreen"
        assert out[out.index("ERR") + 1] == "GL_NO_ERROR"
    finally:
        xvfb.terminate()
        try:
            xvfb.wait(timeout=5)
        except subprocess.TimeoutExpired:
            xvfb.kill()
