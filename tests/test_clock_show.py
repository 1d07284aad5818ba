"""The show's clock: control requests queued and applied on the analysis thread, the tracker
as a source, the beat moved to the eye, and the show's analysis thread publishing it."""
import threading

import numpy as np
import pytest

from live.clock.show import ShowClock, with_beat
from live.clock.tempo import Reading
from live.config import build_config
from live.types import FeatureFrame, Latest


def tracker_frame(t, bpm=120.0, offset=0.0, conf=0.8):
    x = t * bpm / 60.0 - offset
    return FeatureFrame(t=t, bpm=bpm, bpm_confidence=conf, beat_phase=x % 1.0, bar_phase=(x % 4.0) / 4.0)


def test_manual_tap_and_release():
    clk = ShowClock.from_config(build_config({}))
    assert clk.link is None and clk.midi is None
    b = clk.update(tracker_frame(0.0))
    assert b.source == "tracker" and b.bpm == 120.0
    clk.set_bpm(100.0)
    assert clk.update(tracker_frame(0.01)).source == "manual"      # applied on the next update
    clk.set_bpm(None)
    for t in (1.0, 1.6, 2.2, 2.8):                                 # 100 BPM taps
        clk.tap(t)
    b = clk.update(tracker_frame(2.8))
    assert b.source == "tap" and b.bpm == pytest.approx(100.0)
    clk.set_bpm(0)                                                 # 0 releases tap too
    assert clk.update(tracker_frame(2.81)).source == "tracker"
    clk.set_precedence(["bogus"])                                  # noted, never fatal
    assert clk.update(tracker_frame(2.82)).source == "tracker" and "bogus" in clk.last_error


def test_failing_source_goes_silent():
    class Broken:
        def reading(self, t):
            raise OSError("port vanished")

        def close(self):
            pass

    clk = ShowClock(precedence=("midi", "tracker"), midi=Broken())
    assert clk.update(tracker_frame(0.0)).source == "tracker"
    assert clk.errors == 1 and "port vanished" in clk.last_error


def test_for_eye_and_with_beat():
    cfg = build_config({}, ["clock.audio_latency_ms=20", "clock.render_latency_ms=80"])
    clk = ShowClock.from_config(cfg)
    assert clk.eye_delay_s == pytest.approx(0.1)
    b = clk.update(tracker_frame(10.0, offset=0.0))                # on a downbeat at t = 10
    eye = clk.for_eye(b, now_audio_s=10.15)                        # drawn at 10.15, seen at 10.25
    assert eye.beat_phase == pytest.approx(0.5) and eye.t == pytest.approx(10.25)
    f = with_beat(FeatureFrame(t=10.0, onset_count=3), eye)
    assert (f.beat_phase, f.tempo_source, f.onset_count, f.bpm) == (pytest.approx(0.5), "tracker", 3, 120.0)
    lead = ShowClock.from_config(build_config({}, ["clock.render_latency_ms=80", "clock.trim_ms=-30"]))
    assert lead.eye_delay_s == pytest.approx(0.05)                 # a tracker that leads: trimmed back
    off = ShowClock.from_config(build_config({}, ["clock.render_latency_ms=80", "clock.compensate=false"]))
    assert off.for_eye(b) is b and off.eye_delay_s == 0.0


def test_analysis_worker_publishes_the_clock_beat():
    from live.app import AnalysisWorker
    from live.telemetry import Telemetry

    class Hops:
        def __init__(self, n):
            self.n = n

        def read_hop(self, timeout_s):
            if self.n == 0:
                return None
            self.n -= 1
            return np.zeros(512, np.float32)

    class FakeAnalyzer:
        t = 0.0

        def process(self, hop):
            self.t += 0.01
            return tracker_frame(self.t)

    clk = ShowClock(precedence=("manual", "tracker"))
    clk.set_bpm(90.0)
    feats = Latest(None)
    w = AnalysisWorker(Hops(5), FakeAnalyzer(), feats, Telemetry(), stop=threading.Event(), clock=clk)
    w.run()
    f = feats.get()
    assert f.tempo_source == "manual" and f.bpm == 90.0 and clk.latest.get().t == pytest.approx(0.05)
