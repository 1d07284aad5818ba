"""MIDI controllers through real virtual ports on a private JACK server (known answers)."""
import time
from types import SimpleNamespace

import mido
import pytest

from live.control.midi import (
    MidiController, MidiError, MidiMapping, MidiSettings, find_port, mappings_toml, parse_settings,
)
from live.config import ConfigError
from live.control.state import ControlStore
from live.testing.jackmidi import jack_server, receive  # noqa: F401

try:
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib


def wait_until(pred, timeout_s=3.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


def cc(control, value, channel=0):
    return mido.Message("control_change", channel=channel, control=control, value=value)


def send_and_wait(ctl, port, msg):
    n = ctl.stats.messages
    port.send(msg)
    assert wait_until(lambda: ctl.stats.messages > n), f"{msg} never arrived"
    time.sleep(0.003)


@pytest.fixture
def rig(jack_server):
    """A virtual controller 'fader box' (out to the show, LEDs back) and a running controller."""
    def make(mappings=(), beat=None, **kw):
        pads = jack_server.virtual_output("faderbox")
        leds = jack_server.virtual_input("faderleds")
        assert jack_server.wait_for("faderbox") and jack_server.wait_for("faderleds", kind="output")
        store = ControlStore()
        settings = MidiSettings(input="faderbox", output="faderleds", api="jack",
                                mappings=tuple(mappings), **kw)
        ctl = MidiController(store, settings, beat=beat, rescan_s=0.2).start()
        assert wait_until(lambda: ctl.status()["connected"] and ctl.output_name), ctl.status()
        assert jack_server.wait_connected("faderbox:faderbox", "latent-live")
        assert jack_server.wait_connected("latent-live", "faderleds")
        make.ctl = ctl
        return SimpleNamespace(pads=pads, leds=leds, store=store, ctl=ctl)
    yield make
    if getattr(make, "ctl", None):
        make.ctl.close()


def test_cc_moves_a_control_through_its_whole_range(rig):
    r = rig([MidiMapping("fade", "cc", 7, 1), MidiMapping("fx.hue", "cc", 8, 1, lo=0.8, hi=0.2),
             MidiMapping("beats_per_change", "cc", 9, 0)])
    for value in (0, 1, 64, 126, 127):
        send_and_wait(r.ctl, r.pads, cc(7, value))
        assert r.store.state["fade"] == pytest.approx(value / 127, abs=1e-12)
    # a reversed, narrower range
    send_and_wait(r.ctl, r.pads, cc(8, 0))
    assert r.store.state["fx.hue"] == pytest.approx(0.8)
    send_and_wait(r.ctl, r.pads, cc(8, 127))
    assert r.store.state["fx.hue"] == pytest.approx(0.2)
    # an int control, any channel: 0 -> 1, 127 -> 64
    send_and_wait(r.ctl, r.pads, cc(9, 0, channel=5))
    assert r.store.state["beats_per_change"] == 1
    send_and_wait(r.ctl, r.pads, cc(9, 127, channel=15))
    assert r.store.state["beats_per_change"] == 64
    # the wrong channel moves nothing
    send_and_wait(r.ctl, r.pads, cc(7, 64, channel=3))
    assert r.store.state["fade"] == pytest.approx(1.0)
    assert r.ctl.stats.unmapped == 1


def test_14_bit_pair_gives_14_bit_resolution(rig):
    r = rig([MidiMapping("fade", "cc14", 1, 1)])
    seen = []
    for msb, lsb in ((64, 0), (64, 1), (64, 2), (127, 127), (0, 0)):
        send_and_wait(r.ctl, r.pads, cc(1, msb))
        send_and_wait(r.ctl, r.pads, cc(33, lsb))
        assert r.store.state["fade"] == pytest.approx(((msb << 7) | lsb) / 16383, abs=1e-12)
        seen.append(r.store.state["fade"])
    assert seen[1] - seen[0] == pytest.approx(1 / 16383)       # one LSB step, 128x finer than 7-bit
    assert seen[3] == 1.0 and seen[4] == 0.0
    # pitch bend: 14 bits too
    r.ctl.set_mappings([MidiMapping("intensity", "bend", 0, 0)])
    send_and_wait(r.ctl, r.pads, mido.Message("pitchwheel", pitch=8191))
    assert r.store.state["intensity"] == pytest.approx(2.0)
    send_and_wait(r.ctl, r.pads, mido.Message("pitchwheel", pitch=0))
    assert r.store.state["intensity"] == pytest.approx(2.0 * 8192 / 16383)


def test_notes_as_toggle_momentary_and_trigger_buttons(rig):
    r = rig([MidiMapping("freeze", "note", 36, 1, mode="toggle"),
             MidiMapping("blackout", "note", 37, 1, mode="momentary"),
             MidiMapping("entry.next", "note", 38, 1)])
    on = lambda n: mido.Message("note_on", note=n, velocity=100)       # noqa: E731
    off = lambda n: mido.Message("note_off", note=n)                    # noqa: E731
    send_and_wait(r.ctl, r.pads, on(36))
    assert r.store.state["freeze"] is True
    send_and_wait(r.ctl, r.pads, off(36))
    assert r.store.state["freeze"] is True            # toggles flip on press only
    send_and_wait(r.ctl, r.pads, on(36))
    assert r.store.state["freeze"] is False
    send_and_wait(r.ctl, r.pads, on(37))
    assert r.store.state["blackout"] is True
    send_and_wait(r.ctl, r.pads, mido.Message("note_on", note=37, velocity=0))   # release as note_on 0
    assert r.store.state["blackout"] is False
    for _ in range(3):
        send_and_wait(r.ctl, r.pads, on(38))
        send_and_wait(r.ctl, r.pads, off(38))
    assert r.store.state.entry_next_count == 3        # fires on press only


def test_learn_maps_a_control_and_reports_a_conflict(rig):
    r = rig([MidiMapping("fade", "cc", 21, 1)])
    r.ctl.learn("fx.zoom")
    send_and_wait(r.ctl, r.pads, cc(21, 10))
    assert wait_until(lambda: r.ctl.armed is None)
    learned = r.ctl.last_learn
    assert learned.control == "fx.zoom" and "CC 21" in learned.mapping
    assert learned.conflicts and "fade" in learned.conflicts[0]
    assert [m.control for m in r.ctl.mappings] == ["fx.zoom"]
    send_and_wait(r.ctl, r.pads, cc(21, 127))
    assert r.store.state["fx.zoom"] == 1.0 and r.store.state["fade"] == 1.0
    # a 14-bit pair is learned as one 14-bit mapping
    r.ctl.learn("fx.hue")
    r.pads.send(cc(2, 100))
    r.pads.send(cc(34, 5))
    assert wait_until(lambda: r.ctl.armed is None)
    m = [m for m in r.ctl.mappings if m.control == "fx.hue"][0]
    assert (m.kind, m.number, m.channel) == ("cc14", 2, 1)
    # a pad learned on a bool control is a toggle
    r.ctl.learn("freeze")
    send_and_wait(r.ctl, r.pads, mido.Message("note_on", channel=9, note=40, velocity=90))
    m = [m for m in r.ctl.mappings if m.control == "freeze"][0]
    assert (m.kind, m.number, m.channel, m.mode) == ("note", 40, 10, "toggle")
    # mappings round-trip through the show file text
    text = mappings_toml(r.ctl.mappings)
    again = parse_settings({"map": tomllib.loads(text)["midi"]["map"]}).mappings
    assert list(again) == r.ctl.mappings


def test_feedback_leds_follow_toggles_and_the_beat(rig):
    beat = SimpleNamespace(beat_count=0, downbeat_count=0)
    r = rig([MidiMapping("freeze", "note", 36, 1)], beat=lambda: beat, beat_note=82,
            beat_velocity=5, downbeat_velocity=3, blink_s=0.05)
    receive(r.leds, count=10, timeout_s=0.2)       # the initial LED state
    r.store.set("freeze", True)                    # from anywhere (OSC, the page...)
    got = receive(r.leds, count=1)
    assert got and (got[0].type, got[0].note, got[0].velocity) == ("note_on", 36, 127)
    # a beat every 250 ms (240 BPM): a note_on each, arriving on the beat (well within half a
    # beat even on a loaded machine; the latency itself is a benchmark, not a test)
    times, msgs = [], []
    t0 = time.perf_counter()
    for i in range(1, 5):
        while time.perf_counter() < t0 + 0.25 * i:
            time.sleep(0.0005)
        beat = SimpleNamespace(beat_count=i, downbeat_count=1 if i == 4 else 0)
        t_beat = time.perf_counter()
        for m in receive(r.leds, count=1, timeout_s=0.2):
            msgs.append(m)
            times.append(time.perf_counter() - t_beat)
        while True:               # drain the note off of the blink
            rest = receive(r.leds, count=1, timeout_s=0.15)
            if not rest or rest[0].velocity:
                break
    assert [(m.note, m.velocity) for m in msgs] == [(82, 5), (82, 5), (82, 5), (82, 3)]
    assert max(times) < 0.1, times


def test_replugged_port_is_found_again_and_missing_is_a_message(jack_server):
    store = ControlStore()
    settings = MidiSettings(input="replugbox", output="-", api="jack",
                            mappings=(MidiMapping("fade", "cc", 7, 0),))
    with MidiController(store, settings, rescan_s=0.2) as ctl:
        assert wait_until(lambda: "not found" in ctl.status()["message"])
        assert not ctl.status()["connected"]
        port = jack_server.virtual_output("replugbox")
        assert wait_until(lambda: ctl.status()["connected"], 4)
        assert jack_server.wait_connected("replugbox:replugbox", "latent-live")
        send_and_wait(ctl, port, cc(7, 0))
        assert store.state["fade"] == 0.0
        port.close()                                          # unplugged
        assert wait_until(lambda: not ctl.status()["connected"], 4)
        assert "unplugged" in ctl.status()["message"]
        port = jack_server.virtual_output("replugbox")        # plugged back
        assert wait_until(lambda: ctl.status()["connected"], 4)
        assert jack_server.wait_connected("replugbox:replugbox", "latent-live")
        send_and_wait(ctl, port, cc(7, 127))
        assert store.state["fade"] == 1.0
        assert ctl.stats.reconnects == 1 and ctl.stats.errors == 0


def test_show_file_section_is_checked():
    s = parse_settings({"input": "1", "beat_note": 82, "map": [
        {"control": "fade", "type": "cc14", "number": 3, "channel": 2, "range": [0.0, 0.5]},
        {"control": "preset", "type": "note", "number": 40, "value": "chill"}]})
    assert s.input == "1" and s.mappings[0].span == (0.0, 0.5)
    for bad, words in (({"map": [{"control": "nope", "number": 1}]}, "unknown control"),
                       ({"map": [{"control": "fade", "type": "cc14", "number": 40}]}, "0..31"),
                       ({"map": [{"control": "fade", "number": 1, "channel": 17}]}, "1..16"),
                       ({"map": [{"control": "fade", "number": 1, "range": [0, 3]}]}, "leaves"),
                       ({"map": [{"control": "freeze", "number": 1, "range": [0, 1]}]}, "number controls"),
                       ({"map": [{"control": "fade", "mode": "latch"}]}, "mode")):
        with pytest.raises(MidiError, match=words):
            parse_settings(bad)
    for bad, words in (({"inptu": "x"}, "unknown setting midi.inptu"),
                       ({"beat_note": 128}, "midi.beat_note = 128 is out of range"),
                       ({"beat_channel": 0}, "midi.beat_channel")):
        with pytest.raises(ConfigError, match=words):
            parse_settings(bad)
    names = ["Midi Through:Midi Through Port-0 14:0", "APC40 mkII:APC40 mkII MIDI 1 20:0"]
    assert find_port("apc", names) == names[1]
    assert find_port("1", names) == names[1]
    assert find_port("5", names) is None and find_port("launchpad", names) is None


def test_midi_list_command_shows_the_ports(jack_server, capsys):
    from live.cli import main
    jack_server.virtual_output("listedbox")
    assert jack_server.wait_for("listedbox")
    assert main(["midi", "list", "--api", "jack"]) == 0
    out = capsys.readouterr().out
    assert "listedbox:listedbox" in out and "MIDI inputs" in out
    with pytest.raises(SystemExit):
        main(["midi", "list", "--api", "coreaudio"])


def test_window_key_learns_the_control_moved_last():
    from live.control.midi import learn_key
    store = ControlStore()
    assert "no MIDI controller" in learn_key(None, store)
    with MidiController(store, MidiSettings()) as ctl:
        assert "move a control first" in learn_key(ctl, store) and ctl.armed is None
        store.set("fx.kaleido", 0.3)                 # moved on the page / by OSC
        assert "fx.kaleido" in learn_key(ctl, store) and ctl.armed == "fx.kaleido"
        assert "cancelled" in learn_key(ctl, store) and ctl.armed is None
        learn_key(ctl, store)
        ctl.feed(mido.Message("control_change", channel=3, control=16, value=127))
        assert wait_until(lambda: ctl.last_learn is not None)
        assert [m.to_dict() for m in ctl.mappings] == [{"control": "fx.kaleido", "type": "cc", "number": 16,
                                                        "channel": 4}]
