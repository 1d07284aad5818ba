"""Lead/follow, the pure parts: the wire format and the follower's state machine (no sockets).

The leader stream is synthetic with a known beat grid (net_fixtures.leader_frame), so every
answer is known: which beat must be on screen at which instant, what a level must read."""
import math
import os
import random
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from net_fixtures import BPM, HOP_S, beat_time, leader_frame  # noqa: E402

from live.net.follow import FollowState  # noqa: E402
from live.net.protocol import (Controls, Features, Header, Hello, ProtocolError, Walk, decode,  # noqa: E402
                               encode_controls, encode_features, encode_hello, encode_walk, parse_address,
                               seq_after)
from live.types import FeatureFrame, GenControl  # noqa: E402

PERIOD = 60.0 / BPM


# ------------------------------------------------------------------------------------ wire
def test_features_round_trip_keeps_every_field():
    f = leader_frame(400)
    f = FeatureFrame(**{**{k: getattr(f, k) for k in f.__dataclass_fields__}, "t": 7201.123456789,
                        "last_onset_t": 7201.1, "last_beat_t": 7200.9, "loudness_db": -17.5})
    m = decode(encode_features(f, session=1234, seq=99))
    assert isinstance(m, Features) and m.header == Header(1234, 99, f.t)
    g = m.frame
    assert g.t == f.t and g.last_beat_t == f.last_beat_t and g.last_onset_t == f.last_onset_t  # doubles
    for name in ("hop_index", "onset_count", "beat_count", "beats_per_bar", "tempo_source"):
        assert getattr(g, name) == getattr(f, name), name
    for name in ("rms", "loudness_db", "bass", "mid", "treble", "bass_att", "onset", "bpm", "beat_phase",
                 "bar_phase", "centroid_hz"):
        assert getattr(g, name) == pytest.approx(getattr(f, name), rel=1e-6, abs=1e-6), name
    assert np.allclose(g.chroma, f.chroma, atol=1 / 255)
    assert len(encode_features(f, session=1, seq=1)) <= 160


def test_walk_controls_hello_round_trip():
    c = GenControl(bank="stars", entry_a=3, entry_b=7, alpha=0.25, pulse=0.5, pulse_dir=2, steps=2, seed=11,
                   feedback=0.1, t=12.5)
    w = decode(encode_walk(c, session=5, seq=6))
    assert isinstance(w, Walk) and w.control == c
    m = decode(encode_controls({"fx.zoom": 0.5, "freeze": True, "look": "neon", "steps": 3},
                               {"bank.next": 4}, session=5, seq=7, t=1.0))
    assert isinstance(m, Controls)
    assert m.values == {"fx.zoom": 0.5, "freeze": 1, "look": "neon", "steps": 3} and m.counts == {"bank.next": 4}
    assert decode(encode_hello(9123)) == Hello(9123)


@pytest.mark.parametrize("data", [b"", b"garbage", b"/ll/f\x00\x00\x00,i\x00\x00\x00\x00\x00\x01",
                                  encode_hello(1)[:-2], encode_walk(GenControl(), session=1, seq=1)[:20]])
def test_bad_datagrams_are_protocol_errors(data):
    with pytest.raises(ProtocolError):
        decode(data)


def test_addresses_and_sequence_wrap():
    assert parse_address("239.255.76.76:9100") == ("239.255.76.76", 9100)
    assert parse_address(":9200") == ("239.255.76.76", 9200)
    assert parse_address("10.0.0.2") == ("10.0.0.2", 9100)
    with pytest.raises(ValueError, match="host:port"):
        parse_address("leader:http")
    assert seq_after(0xFFFFFFFF, 1) == 2 and seq_after(5, 3) == -2


# ------------------------------------------------------------------------------------ follower
def _feed(st, ks, *, latency=0.002, jitter=0.0, rng=None, seq0=0, session=1, t_shift=0.0):
    """Deliver hops ``ks`` as they would arrive: at t + latency (+ jitter); returns arrivals."""
    out = []
    for k in ks:
        f = leader_frame(k)
        arr = f.t + t_shift + latency + (rng.uniform(0, jitter) if rng else 0.0)
        st.receive(Features(Header(session, seq0 + k + 1, f.t), f), arr)
        out.append(arr)
    return out


def _beat_flash_times(st, t0, t1, *, shift=0.0, fps=1000.0, feed=None):
    """Local times at which each beat count first shows, sampling every 1 ms (the display)."""
    seen, shown = None, {}
    for i in range(int((t1 - t0) * fps)):
        now = t0 + i / fps
        if feed is not None:
            feed(now)
        f = st.frame_at(now + shift)
        if f.beat_count != seen:
            for n in range((seen or f.beat_count - 1) + 1, f.beat_count + 1):
                shown[n] = now
            seen = f.beat_count
    return shown


def test_clock_is_the_minimum_path_and_beats_land_on_their_time():
    st = FollowState(delay_s=0.035)
    rng = random.Random(1)
    arrivals = {}
    frames = [leader_frame(k) for k in range(1200)]

    def feed(now):
        while frames and frames[0].t + 0.002 + arrivals.setdefault(frames[0].hop_index, rng.uniform(0, 0.02)) <= now:
            f = frames.pop(0)
            st.receive(Features(Header(1, f.hop_index + 1, f.t), f), now)

    shown = _beat_flash_times(st, 0.0, 1200 * HOP_S, feed=feed)
    # offset = the fastest path (2 ms); every beat shows 35 ms after its audio time, to the ms
    assert st.offset_s == pytest.approx(0.002, abs=0.0015)
    for n in range(2, 25):
        assert shown[n] == pytest.approx(beat_time(n) + 0.002 + 0.035, abs=0.0025), n
    assert st.stats.lost == 0 and st.stats.late == 0


def test_twenty_percent_loss_keeps_levels_and_beats():
    st = FollowState(delay_s=0.035)
    rng = random.Random(7)
    kept = [k for k in range(2000) if rng.random() >= 0.2]
    frames = [leader_frame(k) for k in kept]
    seq = {k: k + 1 for k in kept}

    def feed(now):
        while frames and frames[0].t + 0.002 <= now:
            f = frames.pop(0)
            st.receive(Features(Header(1, seq[f.hop_index], f.t), f), now)

    errs, shown, seen = [], {}, None
    for i in range(int(2000 * HOP_S * 1000)):
        now = i / 1000.0
        feed(now)
        f = st.frame_at(now)
        if f.beat_count != seen:
            shown[f.beat_count] = now
            seen = f.beat_count
        T = now - 0.002 - 0.035
        if T > 1.0:
            errs.append(abs(f.bass - (0.5 + 0.4 * math.sin(2 * math.pi * 0.7 * T))))
    assert 15.0 < st.stats.loss_pct < 25.0
    # the bass curve is interpolated across the holes: never more than a hop's change off
    assert max(errs) < 0.4 * 2 * math.pi * 0.7 * HOP_S * 2.5
    # every beat shows, once, in order, on its time (beats whose hop was lost included)
    beats = sorted(n for n in shown if n > 0)
    assert beats == list(range(1, beats[-1] + 1)) and beats[-1] >= 45
    for n in beats[1:]:
        assert shown[n] == pytest.approx(beat_time(n) + 0.037, abs=0.0025), n


def test_leader_gone_keeps_the_beat_on_its_grid_and_says_so():
    st = FollowState(delay_s=0.035, lost_after_s=1.0)
    arr = _feed(st, range(400))                    # 4.64 s of stream, then silence
    last = arr[-1]
    assert st.status(last + 0.1) == "following"
    assert st.status(last + 2.0).startswith("leader lost 2.0 s ago: beat from its last tempo")
    shown = _beat_flash_times(st, last, last + 8.0)
    for n in sorted(shown):
        if n > leader_frame(399).beat_count:       # beats after the stream stopped: from the grid
            assert shown[n] == pytest.approx(beat_time(n) + 0.037, abs=0.0015), n
    assert max(shown) >= leader_frame(399).beat_count + 15
    f = st.frame_at(last + 8.0)
    assert f.bass < 0.05 and f.bpm == BPM          # levels came to rest, the tempo stayed
    # bar phase stays on the leader's bar: beat n is beat ((n-1) % 4) + 1 of its bar
    n = f.beat_count
    assert f.bar_phase == pytest.approx((((n - 1) % 4) + f.beat_phase) / 4, abs=1e-6)


def test_late_join_is_on_the_beat_and_bar_at_once():
    st = FollowState(delay_s=0.035)
    k0 = 1777                                      # joins 20.6 s into the show, mid-bar
    _feed(st, range(k0, k0 + 1))
    now = leader_frame(k0).t + 0.002
    truth = leader_frame(k0)
    # the very first frame shown is after the packet's own time minus the delay: use the stream's grid
    f = st.frame_at(now + 0.035)
    assert f.beat_count == truth.beat_count
    assert f.bar_phase == pytest.approx(truth.bar_phase, abs=1e-6)
    _feed(st, range(k0 + 1, k0 + 200))
    shown = _beat_flash_times(st, now, now + 2.0)
    nxt = truth.beat_count + 1
    assert shown[nxt] == pytest.approx(beat_time(nxt) + 0.037, abs=0.0015)


def test_a_beat_from_the_grid_is_not_shown_twice_when_its_frame_comes_late():
    st = FollowState(delay_s=0.0)
    _feed(st, range(100))                          # stream until 1.16 s (beat 2 at 0.75)
    t_beat3 = beat_time(3)                         # 1.25 s: predicted from the grid
    f = st.frame_at(t_beat3 + 0.002 + 0.005)
    assert f.beat_count == 3 and st.stats.predicted_beats == 1
    # the real frames (with beat 3 a few ms later than predicted) arrive late
    _feed(st, range(100, 130), latency=0.2)
    g = st.frame_at(t_beat3 + 0.002 + 0.01)
    assert g.beat_count == 3                      # never back to 2, never a second "3"


def test_a_restarted_leader_is_a_new_session_and_stray_packets_are_dropped():
    st = FollowState()
    _feed(st, range(50), session=1)
    assert st.stats.sessions == 1
    # a datagram of another session while the leader is alive: ignored
    f = leader_frame(5)
    assert not st.receive(Features(Header(2, 1, f.t), f), leader_frame(49).t + 0.01)
    # the old leader silent for more than lost_after_s: the new one is taken, clock re-learned
    later = leader_frame(49).t + 5.0
    assert st.receive(Features(Header(2, 1, f.t), f), later)
    assert st.stats.sessions == 2 and st.offset_s == pytest.approx(later - f.t)
    # a duplicate is dropped
    assert not st.receive(Features(Header(2, 1, f.t), f), later + 0.001)
    assert st.stats.duplicates == 1 and st.stats.foreign == 1


def test_walk_follows_the_leader_time():
    st = FollowState(delay_s=0.0)
    _feed(st, range(10))
    for i in range(5):
        st.receive(Walk(Header(1, 100 + i, i * 0.05), GenControl(entry_a=i, t=i * 0.05)), 0.5)
    # the walk step shown is the newest one at or before T = local - 2 ms
    assert st.walk_at(0.154).entry_a == 3 and st.walk_at(0.1).entry_a == 1
