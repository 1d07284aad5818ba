"""The JACK MIDI test helper: a private server, virtual ports, messages through them."""
import os

import mido
import pytest

from live.testing.jackmidi import JackServer, jack_server, receive, unavailable_reason  # noqa: F401


def test_virtual_port_carries_messages_and_env_is_restored(jack_server):
    assert os.environ["JACK_DEFAULT_SERVER"] == jack_server.name
    out = jack_server.virtual_output("pads")
    assert jack_server.wait_for("pads:pads")
    name = next(n for n in jack_server.input_names() if "pads" in n)
    inp = jack_server.open_input(name)
    assert jack_server.wait_connected("pads:pads", "ll-test")
    try:
        sent = [mido.Message("control_change", channel=2, control=7, value=v) for v in (0, 64, 127)]
        sent.append(mido.Message("note_on", note=36, velocity=100))
        for m in sent:
            out.send(m)
        got = receive(inp, count=len(sent))
        assert [m.bytes() for m in got] == [m.bytes() for m in sent]
    finally:
        inp.close()


def test_servers_are_private_and_stop_cleanly():
    if unavailable_reason():
        pytest.skip(unavailable_reason())
    before = os.environ.get("JACK_DEFAULT_SERVER")
    with JackServer() as a:
        a.virtual_output("only_in_a")
        assert a.wait_for("only_in_a")
        with pytest.raises(RuntimeError, match="already running"):
            JackServer().start()
    assert os.environ.get("JACK_DEFAULT_SERVER") == before
    assert not a.running
    with JackServer() as b:
        assert b.name != a.name
        assert not any("only_in_a" in n for n in b.input_names())
