"""Run inside a private network namespace (tests/test_net_nodes.py): a unicast leader, a
follower that subscribes to it and has its own input, the leader gone, a new leader."""
import json
import sys
import threading
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from net_fixtures import leader_frame  # noqa: E402

from live.control import ControlStore  # noqa: E402
from live.net import FollowWorker, Leader  # noqa: E402
from live.types import FeatureFrame, GenControl, Latest  # noqa: E402


class OwnInput:
    """The node's own analysis, as the show's analysis thread presents it."""

    def __init__(self):
        self.features = Latest(FeatureFrame(t=99.0, bass=0.77, beat_count=3))
        self.clock_anchor = (time.monotonic(), 99.0)


def play(leader, seconds, k0=0, store=None):
    start = time.monotonic()
    k = k0
    while time.monotonic() - start < seconds:
        f = leader_frame(k)
        leader.features(f)
        leader.walk(GenControl(entry_a=k // 50, alpha=0.5, t=f.t))
        if store is not None:
            st = store.state
            leader.controls(dict(st.values), {"bank.next": st.count("bank.next")}, t=f.t, version=st.version)
        k += 1
        time.sleep(512 / 44100)


out = {}
lead_store = ControlStore()
leader = Leader("127.0.0.1:0")
port = leader.address[1]
store = ControlStore()
w = FollowWorker(f"127.0.0.1:{port}", control_store=store, fallback=OwnInput(), lost_after_s=0.5)
w.start()
time.sleep(1.2)                                   # the hello arrives within a second
out["subscribers"] = len(leader.subscribers)
lead_store.set("fx.zoom", 0.8)
th = threading.Thread(target=play, args=(leader, 1.5), kwargs={"store": lead_store})
th.start()
time.sleep(0.7)
lead_store.trigger("bank.next")
lead_store.trigger("bank.next")
th.join()
out["mode_following"] = w.mode()
out["beat_following"] = w.features.get().beat_count
out["walk_entry"] = w.walk.get().entry_a if w.walk.get() is not None else None
out["zoom"] = store.state.values["fx.zoom"]
out["bank_next"] = store.state.count("bank.next")
leader.close()
time.sleep(1.0)
out["mode_gone"] = w.mode()
out["status_gone"] = w.status()
out["bass_gone"] = w.features.get().bass       # the node's own input
# a new leader on the same port: followed again
leader2 = Leader(f"127.0.0.1:{port}")
time.sleep(1.2)
play(leader2, 0.6, k0=1000)
out["mode_back"] = w.mode()
out["sessions"] = w.stats.sessions
out["beat_back"] = w.features.get().beat_count
leader2.close()
w.stop()
print(json.dumps(out))
