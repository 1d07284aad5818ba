"""OSC in/out over real UDP packets on loopback."""
import socket
import threading
import time

import pytest
from pythonosc.udp_client import SimpleUDPClient
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from live.control import ControlError, ControlStore
from live.control.osc import OscOut, OscServer
from live.types import FeatureFrame


def wait_for(pred, timeout_s=5.0):
    """Wait until pred() is true (UDP is asynchronous); the result is asserted by the caller."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


@pytest.fixture
def server():
    store = ControlStore(presets={"chill": {"intensity": 0.3}})
    srv = OscServer(store, port=0)
    yield srv
    srv.close()


def send_and_sync(srv, client, *msgs):
    """Send messages then a marker (/live/entry/prev) and wait until the server has handled them all."""
    target = srv.stats.messages + len(msgs)
    for addr, value in msgs:
        client.send_message(addr, value)
    assert wait_for(lambda: srv.stats.messages >= target), srv.stats


def test_values_types_clamping_and_triggers(server):
    c = SimpleUDPClient("127.0.0.1", server.port)
    send_and_sync(server, c,
                  ("/live/speed", 2.5), ("/live/intensity", 5.0), ("/live/beats_per_change", 8),
                  ("/live/fx/zoom", 1), ("/live/freeze", 1), ("/live/bpm", 128.0),
                  ("/live/bank/next", []), ("/live/entry/next", 1), ("/live/entry/next", 0),
                  ("/live/bank/select", 2), ("/live/preset", "chill"), ("/live/beats_per_change", 2.0))
    s = server.store.state
    assert s["speed"] == 2.5
    assert s["intensity"] == 0.3                       # preset recalled after the clamped 2.0
    assert s["fx.zoom"] == 1.0 and isinstance(s["fx.zoom"], float)
    assert s["freeze"] is True and s["bpm"] == 128.0
    assert s["beats_per_change"] == 2 and isinstance(s["beats_per_change"], int)
    assert s.bank_next_count == 1 and s.entry_next_count == 1   # the 0 (button release) did not fire
    assert s.bank_select == 2 and s.bank_select_count == 1 and s.preset == "chill"
    assert server.stats.clamped == 1 and server.stats.rejected == 0


def test_wrong_types_rejected_and_unknown_logged_once(server, caplog):
    c = SimpleUDPClient("127.0.0.1", server.port)
    with caplog.at_level("WARNING", logger="live.osc"):
        send_and_sync(server, c,
                      ("/live/speed", "fast"), ("/live/speed", [1.0, 2.0]), ("/live/preset", 3),
                      ("/live/preset", "nope"), ("/live/speed", []),
                      ("/live/nothing", 1.0), ("/live/nothing", 2.0), ("/live/nothing", 3.0),
                      ("/live/other", 1))
    s = server.store.state
    assert s["speed"] == 1.0 and s.preset == ""
    assert server.stats.rejected == 5 and server.stats.unknown == 4
    unknown_logs = [r for r in caplog.records if "unknown address" in r.getMessage()]
    assert sorted(r.getMessage().split()[3] for r in unknown_logs) == ["/live/nothing", "/live/other"]
    assert any("unknown preset 'nope'; presets: chill" in r.getMessage() for r in caplog.records)


def test_address_patterns_and_bundles(server):
    c = SimpleUDPClient("127.0.0.1", server.port)
    send_and_sync(server, c, ("/live/fx/{zoom,hue}", 0.9))
    assert server.store.state["fx.zoom"] == 0.9 and server.store.state["fx.hue"] == 0.9  # float32 -> 0.9
    assert server.store.state["fx.rotate"] == 0.5


def test_malformed_packets_do_not_kill_the_server(server):
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    junk = [b"", b"hello", b"/live/speed\x00", b"/live/speed\x00\x00\x00\x00,f\x00\x00\x01",
            b"#bundle\x00garbage", bytes(range(256)), b"/live/speed\x00\x00\x00\x00,f\x00\x00"]
    for j in junk:
        raw.sendto(j, ("127.0.0.1", server.port))
    raw.close()
    assert wait_for(lambda: server.stats.packets >= len(junk) - 1)   # an empty datagram may not count
    c = SimpleUDPClient("127.0.0.1", server.port)
    send_and_sync(server, c, ("/live/speed", 3.0))
    assert server.alive and server.store.state["speed"] == 3.0
    assert server.stats.malformed >= len(junk) - 2 and server.stats.errors == 0


def test_allow_list_drops_other_senders():
    store = ControlStore()
    only_other = OscServer(store, port=0, allow=("127.0.0.2",))
    try:
        SimpleUDPClient("127.0.0.1", only_other.port).send_message("/live/speed", 2.0)
        assert wait_for(lambda: only_other.stats.dropped == 1)
        assert store.state["speed"] == 1.0
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.2", 0))                      # a sender that is on the list
        b = OscMessageBuilder("/live/speed"); b.add_arg(3.0)
        sock.sendto(b.build().dgram, ("127.0.0.1", only_other.port))
        assert wait_for(lambda: store.state["speed"] == 3.0)
        sock.close()
    finally:
        only_other.close()
    local = OscServer(store, port=0, allow=("127.0.0.1",))
    try:
        SimpleUDPClient("127.0.0.1", local.port).send_message("/live/speed", 0.5)
        assert wait_for(lambda: store.state["speed"] == 0.5) and local.stats.dropped == 0
    finally:
        local.close()


def test_port_in_use_is_a_clear_error(server):
    with pytest.raises(ControlError, match="--osc-port"):
        OscServer(server.store, port=server.port)


def test_flood_does_not_stall_a_render_loop(server):
    """20k packets while a 60 Hz loop ticks: the loop keeps ticking, the server survives."""
    ticks = []
    stop = threading.Event()

    def render_loop():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            state = server.store.state            # what the GL thread does: read, never lock
            _ = state["intensity"]
            time.sleep(1 / 60)

    loop = threading.Thread(target=render_loop)
    loop.start()
    time.sleep(0.1)
    n0 = len(ticks)
    c = SimpleUDPClient("127.0.0.1", server.port)
    t0 = time.perf_counter()
    for i in range(20000):
        c.send_message("/live/fx/hue", (i % 100) / 100.0)
    settled = lambda: (server.stats.packets, time.sleep(0.05), server.stats.packets)
    while True:  # until the server has drained what the kernel kept
        a, _, b = settled()
        if a == b:
            break
    t1 = time.perf_counter()
    stop.set()
    loop.join()
    during = [t for t in ticks if t0 <= t <= t1]
    gaps = [b - a for a, b in zip(during, during[1:])]
    print(f"\nflood: {server.stats.packets} of 20000 packets handled in {t1 - t0:.2f} s; "
          f"render loop ticked {len(during)} times, max gap {max(gaps) * 1e3:.1f} ms; "
          f"rcvbuf {server.recv_buffer_bytes} B")
    assert len(ticks) > n0 and len(during) >= 2          # it kept ticking during the flood
    assert server.alive and server.stats.errors == 0 and server.stats.packets > 0
    assert server.store.state["fx.hue"] in {i / 100.0 for i in range(100)}


def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    return sock


def drain(sock):
    msgs = []
    sock.settimeout(0.3)
    try:
        while True:
            data, _ = sock.recvfrom(65536)
            msgs.extend(m.message for m in OscPacket(data).messages)
    except socket.timeout:
        pass
    return msgs


def test_osc_out_sends_every_beat_even_when_frames_are_skipped():
    rx = receiver()
    out = OscOut([f"127.0.0.1:{rx.getsockname()[1]}"], bands_hz=30.0)
    frames = [FeatureFrame(t=i / 60, beat_count=i // 30, onset_count=i // 45, onset=0.8, bpm=120.0,
                           bass=0.5, mid=0.25, treble=0.125) for i in range(0, 181)]
    for f in frames[::7] + [frames[-1]]:      # the sender sees only every 7th frame
        out.send_features(f)
    msgs = drain(rx)
    beats = [m.params[0] for m in msgs if m.address == "/live/beat"]
    assert beats == list(range(1, 7))          # every count from 1 to 6, each once, in order
    onsets = [m for m in msgs if m.address == "/live/onset"]
    assert len(onsets) == 4 and onsets[0].params[0] == pytest.approx(0.8)
    bpms = [m.params[0] for m in msgs if m.address == "/live/bpm"]
    assert bpms == [120.0]                     # sent once, when it changed
    assert [m.params for m in msgs if m.address == "/live/tempo_source"] == [["none"]]
    bands = [m.params for m in msgs if m.address == "/live/bands"]
    assert len(bands) == 27 and bands[0] == [0.5, 0.25, 0.125]   # 7 frames apart > 1/30 s: each sent
    every = OscOut([f"127.0.0.1:{rx.getsockname()[1]}"], bands_hz=30.0)
    for f in frames:                           # 60 fps for 3 s: bands rate-limited to 30 Hz
        every.send_features(f)
    again = drain(rx)
    assert sum(m.address == "/live/bands" for m in again) == 91
    assert [m.params[0] for m in again if m.address == "/live/beat"] == list(range(1, 7))
    every.close()
    out.send_status({"fps": 60.0, "dropped": 2})
    status = [m.params for m in drain(rx) if m.address == "/live/status"]
    assert status == [["fps", 60.0, "dropped", 2.0]]
    out.close()
    rx.close()


def test_osc_out_never_raises_on_network_errors():
    with pytest.raises(ControlError, match="host:port"):
        OscOut(["nohost"])
    out = OscOut(["127.0.0.1:9"])            # nobody listens (ICMP refusals must not raise)
    for i in range(50):
        out.send_features(FeatureFrame(t=i, beat_count=i))
    out.close()
    out.send_features(FeatureFrame(t=99.0, beat_count=99))   # closed socket: counted, not raised
    assert out.errors > 0


def test_osc_out_names_the_tempo_source_when_it_changes():
    rx = receiver()
    out = OscOut([f"127.0.0.1:{rx.getsockname()[1]}"])
    for src in ("tracker", "tracker", "link", "link", "tracker"):
        out.send_features(FeatureFrame(t=0.0, bpm=120.0, tempo_source=src))
    got = [m.params[0] for m in drain(rx) if m.address == "/live/tempo_source"]
    assert got == ["tracker", "link", "tracker"]
    out.close()
    rx.close()
