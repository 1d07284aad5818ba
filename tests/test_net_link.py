"""A follower with its own Link peer: beat and bar come from the DJ's Link session (also after
the leader is gone), read at the instant this node shows the leader's time. Inside a private
network namespace (`unshare -n`, only `lo` up, via live.testing.netns: Link multicasts)."""
import math
import os
import sys
import time

import pytest

from live.testing import netns

sys.path.insert(0, os.path.dirname(__file__))
from net_fixtures import HOP_S, leader_frame  # noqa: E402

aalink = pytest.importorskip("aalink", reason="aalink not installed (optional extra: latent-live[link])")


def test_follower_beats_come_from_the_link_session(request):
    if netns.delegate(request):
        return
    from live.clock.link import new_link
    from live.clock.show import ShowClock, with_beat
    from live.clock.tempo import host_now
    from live.config import load_config
    from live.net import FollowWorker

    dj, _loop = new_link(128.0)                   # the DJ's session, 128 BPM
    dj.quantum = 4
    dj.enabled = True
    follow = FollowWorker(None, delay_s=0.035, lost_after_s=0.5)
    clock = ShowClock.from_config(load_config(None, ["clock.link=true"]), host_of_audio=follow.host_of)
    follow.beat = lambda f: with_beat(f, clock.update(f))
    try:
        end = time.monotonic() + 5.0
        while clock.link.peers < 1 and time.monotonic() < end:
            time.sleep(0.01)
        assert clock.link.peers >= 1, "the follower's Link peer did not find the session"
        dj.tempo = 128.0
        follow.start()
        t0 = time.monotonic()
        k = 0
        samples = []
        while time.monotonic() - t0 < 3.0:        # the leader (120 BPM tracker) for 2 s, then gone
            if time.monotonic() - t0 < 2.0:
                while (k + 1) * HOP_S <= time.monotonic() - t0:
                    follow.feed(leader_frame(k))
                    k += 1
            f = follow.features.get()
            if f.tempo_source == "link" and f.t > 0:
                h = follow.host_of(f.t)
                now = dj.time.total_seconds()
                theirs = dj.beat + (h - now) * dj.tempo / 60.0
                d = (f.beat_phase - (theirs % 1.0) + 0.5) % 1.0 - 0.5
                samples.append((time.monotonic() - t0, f.bpm, abs(d) * 60.0 / 128.0 * 1e3, follow.mode()))
            time.sleep(0.01)
        late = [s for s in samples if s[0] > 1.0]
        assert len(late) > 50
        assert all(abs(bpm - 128.0) < 0.5 for _, bpm, _, _ in late)         # the DJ's tempo, not the leader's 120
        errs = sorted(e for _, _, e, _ in late)
        assert errs[len(errs) // 2] < 3.0, f"phase off the session by {errs[len(errs) // 2]:.2f} ms (median)"
        assert any(m == "lost" for *_, m in late)  # and it kept the Link beat once the leader was gone
        assert all(e < 10.0 for *_, e, m in late if m == "lost")
    finally:
        follow.stop()
        clock.close()
        dj.enabled = False
