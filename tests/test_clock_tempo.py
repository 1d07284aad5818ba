"""Tempo precedence and hand-over (live.clock.tempo): known answers, no threads, no clocks."""
import math

import numpy as np
import pytest

from live.clock.tempo import (ManualTempo, Reading, TapSource, TempoClock, check_precedence,
                              tracker_reading)
from live.types import Beat, FeatureFrame

HOP = 0.01


def grid(bpm, t, offset_beats=0.0, bpb=4):
    """A source whose beat 0 (a downbeat) is at t = offset_beats beats."""
    x = t * bpm / 60.0 - offset_beats
    return Reading(bpm, phase=x % 1.0, bar_beat=x % bpb)


def circ(a, b):
    return abs((a - b + 0.5) % 1.0 - 0.5)


def test_follows_one_source_exactly():
    clk = TempoClock()
    counts = []
    for i in range(301):
        t = i * HOP
        b = clk.update(t, {"tracker": grid(120.0, t, offset_beats=0.25)})
        counts.append(b.beat_count)
        assert b.source == "tracker" and b.bpm == 120.0
        assert circ(b.beat_phase, (t * 2.0 - 0.25) % 1.0) < 1e-9
        assert circ(b.bar_phase, ((t * 2.0 - 0.25) % 4.0) / 4.0) < 1e-9
    # beats at t = 0.125, 0.625, ... : 6 beats in 3 s, one count each
    assert counts[-1] - counts[0] == 6
    assert np.all(np.diff(counts) >= 0)
    assert b.next_beat_t == pytest.approx(3.125, abs=1e-9)
    assert b.last_beat_t == pytest.approx(2.625, abs=1e-9)


def test_precedence_default_and_settable():
    clk = TempoClock()
    r = {"tracker": grid(128.0, 0.0), "manual": Reading(100.0), "midi": grid(126.0, 0.0)}
    assert clk.update(0.0, r).source == "manual"
    assert clk.update(0.01, {"tracker": grid(128.0, 0.01), "midi": grid(126.0, 0.01)}).source == "midi"
    clk.set_precedence(["tracker", "midi"])
    b = clk.update(0.02, r)
    assert b.source == "tracker" and b.bpm == 128.0
    with pytest.raises(ValueError, match="unknown tempo source 'abelton'"):
        check_precedence(["manual", "abelton"])
    with pytest.raises(ValueError, match="twice"):
        check_precedence(["tap", "tap"])


def test_silent_source_hands_over_without_a_jump():
    """Link at phase 0 goes silent at t=5; the tracker hears the same tempo 0.3 beat later."""
    clk = TempoClock(glide=0.25)
    pos, handed, locked_t = [], None, None
    for i in range(1001):
        t = i * HOP
        link = grid(120.0, t) if t < 5.0 else None
        b = clk.update(t, {"link": link, "tracker": grid(120.0, t, offset_beats=0.3)})
        pos.append(b.position)
        if t >= 5.0 and handed is None:
            handed = b
        if t >= 5.0 and locked_t is None and circ(b.beat_phase, (t * 2.0 - 0.3) % 1.0) < 0.03:
            locked_t = t
    adv = np.diff(pos) / (HOP * 2.0)          # beats advanced per step / nominal
    assert adv.min() >= 0.75 - 1e-9 and adv.max() <= 1.25 + 1e-9   # never a jump, never backwards
    assert handed.source == "tracker"
    # 0.3 beat to catch up at most 25 % faster or slower: 0.3 / 0.25 = 1.2 beats = 0.6 s
    assert 5.5 <= locked_t <= 5.7
    assert circ(b.beat_phase, (10.0 * 2.0 - 0.3) % 1.0) < 1e-9        # then follows exactly
    assert not clk.gliding


def test_bar_relabelled_once_phase_agrees():
    clk = TempoClock()
    for i in range(200):
        t = i * HOP
        clk.update(t, {"midi": grid(120.0, t)})
    for i in range(200, 600):
        t = i * HOP
        b = clk.update(t, {"tracker": grid(120.0, t, offset_beats=2.0)})   # same beats, bar 2 beats off
    x = (t * 2.0 - 2.0) % 4.0
    assert circ(b.bar_phase, x / 4.0) < 1e-9
    assert circ(b.beat_phase, x % 1.0) < 1e-9


def test_stop_holds_phase_start_places_the_downbeat():
    clk = TempoClock()
    for i in range(100):
        b = clk.update(i * HOP, {"midi": grid(120.0, i * HOP)})
    count = b.beat_count
    stopped = Reading(120.0, phase=0.0, bar_beat=0.0, playing=False)
    held = clk.update(1.0, {"midi": stopped}).beat_phase    # it played until the stop: 2 beats
    assert held == pytest.approx(0.0, abs=1e-9)
    for i in range(101, 150):
        b = clk.update(i * HOP, {"midi": stopped})
        assert not b.playing and b.beat_phase == pytest.approx(held)
    b = clk.update(1.5, {"midi": Reading(120.0, phase=0.0, bar_beat=0.0, playing=True)})
    assert b.playing and b.beat_phase == 0.0 and b.bar_phase == 0.0
    assert b.beat_count > count and b.next_beat_t == pytest.approx(2.0)


def test_silence_free_runs_at_the_last_tempo():
    clk = TempoClock()
    clk.update(0.0, {"tracker": grid(100.0, 0.0)})
    b = clk.update(3.0, {})
    assert b.source == "none" and b.bpm == 100.0 and b.confidence == 0.0
    assert b.position == pytest.approx(5.0)


def test_tempo_only_source_keeps_our_phase():
    clk = TempoClock()
    clk.update(0.0, {"tracker": grid(120.0, 0.0, offset_beats=0.5)})
    m = ManualTempo()
    m.set(90.0)
    b = clk.update(0.2, {"manual": m.reading(0.2), "tracker": grid(120.0, 0.2, offset_beats=0.5)})
    assert b.source == "manual" and b.bpm == 90.0
    assert b.beat_phase == pytest.approx(0.5 + 0.4)        # advanced at 120 until now, no jump
    m.align(1.0)                                           # a tap marks a beat under manual BPM
    assert m.reading(1.0 + 60.0 / 90.0 * 2.25).phase == pytest.approx(0.25)
    m.set(0)
    assert m.reading(2.0) is None


def test_tap_source_tempo_and_phase():
    tap = TapSource()
    for t in (10.0, 10.5, 11.0, 11.5):
        tap.add(t)
    r = tap.reading(12.25)
    assert r.bpm == pytest.approx(120.0) and r.phase == pytest.approx(0.5)
    tap.release()
    assert tap.reading(13.0) is None
    timed = TapSource(timeout_s=5.0)
    for t in (0.0, 0.5, 1.0, 1.5):
        timed.add(t)
    assert timed.reading(6.0) is not None and timed.reading(7.0) is None


def test_tracker_reading_from_feature_frame():
    f = FeatureFrame(t=1.0, bpm=128.0, bpm_confidence=0.7, beat_phase=0.25, bar_phase=0.5)
    r = tracker_reading(f)
    assert (r.bpm, r.phase, r.bar_beat, r.confidence) == (128.0, 0.25, 2.0, 0.7)
    assert tracker_reading(FeatureFrame()) is None
    assert tracker_reading(f, min_confidence=0.8) is None


def test_beat_ahead_on_the_grid():
    b = Beat(t=10.0, bpm=120.0, beat_count=3, beat_phase=0.9, position=3.9, bar_phase=0.975,
             downbeat_count=0, beats_per_bar=4)
    a = b.ahead(0.1)                      # 0.2 beat later: across beat 4, a downbeat
    assert a.t == pytest.approx(10.1) and a.position == pytest.approx(4.1)
    assert a.beat_count == 4 and a.beat_phase == pytest.approx(0.1)
    assert a.downbeat_count == 1 and a.bar_phase == pytest.approx(0.025)
    assert a.last_beat_t == pytest.approx(10.05) and a.next_beat_t == pytest.approx(10.55)
    assert b.ahead(0.0) is b
    assert Beat(t=1.0).ahead(0.5).t == 1.5               # no tempo: time moves, nothing else
    assert math.isclose(b.ahead(-0.05).position, 3.8)
