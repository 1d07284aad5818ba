"""Ableton Link: the show's Link source and a test peer inside a private network namespace
(`unshare -n`, only `lo` up, via live.testing.netns: Link multicast never leaves the machine)."""
import time

import pytest

from live.testing import netns

aalink = pytest.importorskip("aalink", reason="aalink not installed (optional extra: latent-live[link])")

from live.clock.link import LinkSource, host_now, new_link  # noqa: E402
from live.clock.tempo import TempoClock  # noqa: E402


def _wait(cond, timeout_s=5.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def _peer_beat(peer, h):
    """The test peer's beat at Link time h (quantum 4)."""
    now = peer.time.total_seconds()
    return peer.beat + (h - now) * peer.tempo / 60.0


def test_two_peers_agree_and_follow_tempo(request):
    if netns.delegate(request):
        return
    peer, _loop = new_link(120.0)
    peer.quantum = 4
    peer.start_stop_sync_enabled = True
    peer.enabled = True
    ours = LinkSource(beats_per_bar=4, start_stop=True, bpm=97.0)
    clock = TempoClock()
    try:
        assert _wait(lambda: ours.peers >= 1 and peer.num_peers >= 1), "peers did not find each other"
        peer.tempo = 120.0                  # whichever session won the merge, the DJ sets 120
        assert _wait(lambda: abs(ours.tempo - 120.0) < 1e-6), "our peer did not take the session tempo"
        peer.playing = True
        assert _wait(lambda: ours.reading(host_now()).playing, 2.0), "start did not reach our peer"
        # phase agreement over 2 s
        errs = []
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            h = host_now()
            b = clock.update(h, {"link": ours.reading(h)})
            if b.source == "link":
                theirs = _peer_beat(peer, h)
                d = (b.position - b.bar_offset - theirs + 2.0) % 4.0 - 2.0    # bar-aligned beats
                errs.append(abs(d) * 60.0 / 120.0 * 1e3)
            time.sleep(0.01)
        assert len(errs) > 50
        assert max(errs) < 3.0, f"phase error up to {max(errs):.2f} ms"
        # a tempo change on the other peer reaches our clock within one beat
        peer.tempo = 140.0
        t0 = host_now()
        seen = None
        while host_now() - t0 < 2.0:
            h = host_now()
            b = clock.update(h, {"link": ours.reading(h)})
            if abs(b.bpm - 140.0) < 0.01:
                seen = h - t0
                break
            time.sleep(0.005)
        assert seen is not None and seen < 60.0 / 140.0, f"tempo followed after {seen} s"
        # start/stop follows the session's transport
        peer.playing = False
        assert _wait(lambda: not ours.reading(host_now()).playing, 2.0)
        # the other peer leaves: our source goes silent (the clock hands over)
        peer.enabled = False
        assert _wait(lambda: ours.reading(host_now()) is None, 5.0)
    finally:
        ours.close()
        peer.enabled = False


def test_lead_pushes_our_tempo_and_phase(request):
    if netns.delegate(request):
        return
    peer, _loop = new_link(120.0)
    peer.quantum = 4
    peer.enabled = True
    ours = LinkSource(beats_per_bar=4, bpm=120.0)
    clock = TempoClock()
    try:
        assert _wait(lambda: ours.peers >= 1 and peer.num_peers >= 1)
        t0 = host_now()
        # our tracker: 131 BPM with beat 0 (a downbeat) 0.3 s after t0
        for _ in range(150):
            h = host_now()
            x = (h - t0 - 0.3) * 131.0 / 60.0
            from live.clock.tempo import Reading
            b = clock.update(h, {"tracker": Reading(131.0, phase=x % 1.0, bar_beat=x % 4.0)})
            ours.lead(b, host_s=h)
            time.sleep(0.01)
        assert ours.reading(host_now()) is None          # leading: we do not follow ourselves
        assert peer.tempo == pytest.approx(131.0, abs=1e-3)
        h = host_now()
        x = (h - t0 - 0.3) * 131.0 / 60.0
        d = (_peer_beat(peer, h) - x + 2.0) % 4.0 - 2.0
        assert abs(d) * 60.0 / 131.0 < 0.005, f"session bar phase {d:.4f} beats off ours"
        ours.lead(None)
        assert ours.reading(host_now()) is not None
    finally:
        ours.close()
        peer.enabled = False
