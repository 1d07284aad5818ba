"""Issue 14 item 2: OSC cannot be made deaf by a little traffic from an allowed sender.

Two floods over real UDP on loopback: one packet to /live/*****************! (python-osc's
regular expression backtracks for ~14 s on it) and 100 datagrams of a 65 KB #bundle of empty
elements (hundreds of thousands of log lines before). After each, the input answers at once,
every malformed element is counted, and the log holds a handful of lines.
"""
from __future__ import annotations

import logging
import socket
import time

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder

from live.control import ControlStore
from live.control.osc import OscServer
from live.control.oscwire import RateLimitedLog, match_addresses, parse_packet
from live.control.params import PARAMS

ADDRS = [p.address for p in PARAMS]


def _msg(addr, value):
    b = OscMessageBuilder(addr)
    b.add_arg(value)
    return b.build().dgram


def _wait(pred, timeout_s):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


@pytest.fixture
def server():
    srv = OscServer(ControlStore(), port=0)
    yield srv
    srv.close()


def test_exponential_pattern_does_not_make_the_input_deaf(server, caplog):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with caplog.at_level(logging.DEBUG):
        sock.sendto(_msg("/live/" + "*" * 17 + "!", 1.0), ("127.0.0.1", server.port))
        sock.sendto(_msg("/live/" + "*" * 200 + "x", 1.0), ("127.0.0.1", server.port))
        t0 = time.monotonic()
        sock.sendto(_msg("/live/speed", 2.0), ("127.0.0.1", server.port))
        assert _wait(lambda: server.store.state["speed"] == 2.0, 10.0)
        took = time.monotonic() - t0
    sock.close()
    assert took < 2.0, took                         # was ~14 s: each '*' doubled the matching time
    assert server.stats.unknown == 2 and server.stats.errors == 0
    assert server.stats.slowest_ms < 1000.0
    assert server.alive


def test_flood_of_empty_bundle_elements_is_counted_not_logged(server, caplog):
    flood = b"#bundle\0" + b"\0" * 8 + b"\0\0\0\0" * ((65000 - 16) // 4)
    elements = (len(flood) - 16) // 4
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with caplog.at_level(logging.DEBUG):
        for i in range(100):
            sock.sendto(flood, ("127.0.0.1", server.port))
            if i % 10 == 9:            # let the server keep up so that most of them arrive
                _wait(lambda: server.stats.packets >= i - 5, 2.0)
        assert _wait(lambda: server.stats.packets >= 50, 10.0)
        sock.sendto(_msg("/live/speed", 3.0), ("127.0.0.1", server.port))
        assert _wait(lambda: server.store.state["speed"] == 3.0, 10.0), server.stats
    sock.close()
    flood_packets = server.stats.packets - 1
    assert server.stats.bad_elements == flood_packets * elements   # every malformed element counted
    assert server.stats.malformed == flood_packets
    assert len(caplog.records) <= 12, len(caplog.records)          # was 294,647 lines for 100 datagrams
    assert server.alive and server.stats.errors == 0


def test_bad_elements_inside_a_good_bundle_are_counted_and_the_good_ones_applied():
    good = _msg("/live/speed", 1.5)
    bad_tag = b"/live/speed\0,Z\0\0" + b"\0" * 4
    bundle = (b"#bundle\0" + b"\0" * 8 + b"\0\0\0\0" + len(bad_tag).to_bytes(4, "big") + bad_tag
              + len(good).to_bytes(4, "big") + good + (999).to_bytes(4, "big") + b"xx")
    msgs, bad, ok = parse_packet(bundle)
    assert ok and [m.address for m in msgs] == ["/live/speed"] and msgs[0].params == [1.5]
    assert bad == 3                   # the empty element, the unknown type tag, the oversized size
    nested = good
    for _ in range(10):               # bundles nested deeper than MAX_DEPTH are refused, counted
        nested = b"#bundle\0" + b"\0" * 8 + len(nested).to_bytes(4, "big") + nested
    msgs, bad, ok = parse_packet(nested)
    assert msgs == [] and bad == 1 and ok
    assert parse_packet(b"hello") == ([], 0, False)


@pytest.mark.parametrize("pattern", [
    "/live/fx/{zoom,hue}", "/live/fx/*", "/live/fx/[a-h]*", "/live/fx/[!a-h]*", "/live/?ade",
    "/live/*/*", "/live/*", "/live/fx/*o*", "/live/bank/{next,prev}", "/live/[bf]*/s?lect",
    "/live/speed", "/live/fx/z??m", "/*/fx/hue", "/live/fx/{}", "/live/fx/[z]oom",
])
def test_bounded_matcher_agrees_with_the_osc_spec(pattern):
    ref = Dispatcher()                 # python-osc's regular-expression matcher as the reference
    for a in ADDRS:
        ref.map(a, lambda *a: None)
    expect = sorted({h for h in ADDRS if any(True for _ in _ref_handlers(ref, pattern, h))})
    assert sorted(match_addresses(pattern, ADDRS)) == expect


def _ref_handlers(ref, pattern, addr):
    handler = ref._map[addr][0]
    return [h for h in ref.handlers_for_address(pattern) if h is handler]


def test_matcher_time_is_bounded_and_bad_patterns_match_nothing():
    t0 = time.perf_counter()
    assert match_addresses("/live/" + "*" * 240 + "!", ADDRS) == []
    assert match_addresses("/live/" + "*" * 5000, ADDRS) == []          # over MAX_PATTERN
    assert match_addresses("/live/fx/[zoom", ADDRS) == []              # unterminated set
    assert match_addresses("/live/fx/{zoom", ADDRS) == []
    assert time.perf_counter() - t0 < 1.0


def test_rate_limited_log_holds_back_and_reports_the_count(caplog):
    now = [0.0]
    rl = RateLimitedLog(logging.getLogger("test.rl"), burst=3, window_s=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.rl"):
        for i in range(100):
            rl(None, "line %d", i)
        rl("k", "once")
        now[0] = 11.0
        rl(None, "after")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[:3] == ["line 0", "line 1", "line 2"]
    assert "98 more log lines" in lines[3] and lines[4] == "after" and len(lines) == 5
    assert rl.suppressed == 98


def test_the_soak_attack_packets_are_each_counted_and_survived(server):
    """bench soak --attack's hostile kinds, sent once each: the input counts them and answers."""
    import random

    from live.bench.show import ATTACK_KINDS, attack_packet

    rng = random.Random(1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for kind in ATTACK_KINDS:
        sock.sendto(attack_packet(rng, kind), ("127.0.0.1", server.port))
    sock.sendto(_msg("/live/speed", 2.5), ("127.0.0.1", server.port))
    assert _wait(lambda: server.store.state["speed"] == 2.5, 10.0), server.stats
    sock.close()
    s = server.stats
    assert s.packets == len(ATTACK_KINDS) + 1 and s.errors == 0 and server.alive
    assert s.bad_elements >= 1000 and s.unknown >= 1 and s.slowest_ms < 1000.0
