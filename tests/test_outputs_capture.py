"""Frame sinks: one readback per drawn frame reaches every sink; a slow sink drops and counts
its own frames, a failing one fails alone; the others get every frame, right side up."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from gl_fixtures import NEUTRAL, features, frame, make_renderer  # noqa: F401 - fixture
from live.outputs import FrameSink, SinkStats, ThreadedSink


class Keeper(ThreadedSink):
    """Keeps a copy of every frame it is handed (rows top-down) with its time."""

    def __init__(self, w, h, **kw):
        super().__init__("keeper", width=w, height=h, slots=64, **kw)
        self.got = []

    def _consume(self, pixels, time_s):
        self.got.append((time_s, pixels.copy()))


class Stuck(ThreadedSink):
    """Its worker waits until released: every frame after its slots are full is dropped."""

    def __init__(self, w, h):
        super().__init__("stuck", width=w, height=h, slots=2)
        self.release = threading.Event()

    def _consume(self, pixels, time_s):
        self.release.wait(10)


class Broken(ThreadedSink):
    def __init__(self, w, h):
        super().__init__("broken", width=w, height=h, slots=2)

    def _consume(self, pixels, time_s):
        raise OSError("device unplugged")


class Raising:
    """Not even the contract: offer raises on the GL thread. The capture must survive it."""

    name, width, height = "raising", 160, 90

    def offer(self, pixels, *, time_s, bottom_up=False):
        raise RuntimeError("bug in a sink")

    def stats(self):
        return SinkStats(self.name)

    def close(self):
        pass


def test_every_sink_gets_its_frames_and_a_bad_one_fails_alone(make_renderer):
    r = make_renderer()
    pic = np.zeros((64, 64, 3), np.uint8)
    pic[:32] = (0, 0, 255)                          # top half blue: orientation check
    r.set_frame(frame(pic, 1), now_s=0.0)
    keep, stuck, broken = Keeper(160, 90), Stuck(160, 90), Broken(160, 90)
    assert all(isinstance(s, FrameSink) for s in (keep, stuck, broken, Raising()))
    for s in (keep, stuck, broken, Raising()):
        r.add_sink(s)
    n = 20
    for i in range(n):
        r.draw(features(), NEUTRAL, time_s=i / 30)
    r.flush_capture()
    stuck.release.set()
    for s in (keep, stuck, broken):
        s.close()
    assert r.capture.errors == n                    # the raising sink, counted each frame
    ks = keep.stats()
    assert (ks.offered, ks.sent, ks.dropped, ks.last_error) == (n, n, 0, None)
    assert [t for t, _ in keep.got] == pytest.approx([i / 30 for i in range(n)])
    img = keep.got[-1][1].astype(int)
    assert img[10, 80, 2] > 150 and img[80, 80, 2] < 80        # blue on top: rows are top-down
    st = stuck.stats()
    assert st.offered == n and st.dropped >= n - 3 and st.sent + st.dropped == n
    bs = broken.stats()
    assert bs.offered == n and bs.sent == 0 and bs.dropped == n and "device unplugged" in bs.last_error


def test_a_sink_of_another_size_is_refused(make_renderer):
    from live.errors import RenderError

    r = make_renderer()
    k = Keeper(64, 64)
    try:
        with pytest.raises(RenderError, match="64x64"):
            r.add_sink(k)
    finally:
        k.close()


def test_no_sink_no_readback(make_renderer):
    r = make_renderer()
    r.draw(features(), NEUTRAL, time_s=0.0)
    assert r.capture._pbos == []
    k = Keeper(160, 90)
    r.add_sink(k)
    r.draw(features(), NEUTRAL, time_s=0.1)
    r.remove_sink(k)                                 # hands over the pending frame
    assert r.capture._pbos == [] and r.capture.sinks == []
    k.close()
    assert len(k.got) == 1
