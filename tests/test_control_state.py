"""Parameter table, control state, presets and tap tempo (no sockets)."""
import threading
import tomllib

import pytest

from live.config import build_config
from live.control import (BY_ADDRESS, BY_NAME, PARAMS, ControlError, ControlStore, TapTempo,
                          listing, markdown_table, presets_toml, renderer_controls, validate_presets)

CONTRACT_RENDERER_DEFAULTS = {
    "intensity": 1.0, "fx.zoom": 0.5, "fx.rotate": 0.5, "fx.drift": 0.5, "fx.feedback": 0.6,
    "fx.hue": 0.5, "fx.saturation": 0.5, "fx.contrast": 0.5, "fx.flash": 0.6, "fx.sparkle": 0.4,
    "fx.kaleido": 0.0, "fx.detail": 0.5, "fade": 1.0, "blackout": 0.0,
}


def test_table_has_the_agreed_addresses_and_renderer_defaults():
    for addr in ("/live/bank/select", "/live/bank/next", "/live/entry/next", "/live/beats_per_change",
                 "/live/speed", "/live/intensity", "/live/fx/zoom", "/live/tap", "/live/bpm",
                 "/live/blackout", "/live/freeze", "/live/preset", "/live/hud"):
        assert addr in BY_ADDRESS, addr
    assert BY_NAME["beats_per_change"].lo == 1 and BY_NAME["beats_per_change"].hi == 64
    from live.looks.catalog import discover

    looks = {lk.control(p.key): p.default for lk in discover() for p in lk.params}   # u_look_NAME_KEY
    assert renderer_controls(ControlStore().state) == {**CONTRACT_RENDERER_DEFAULTS, **looks}
    # the generated docs list every parameter exactly once
    table = markdown_table()
    text = listing()
    for p in PARAMS:
        assert table.count(f"`{p.address}`") == 1
        assert p.address in text


def test_coercion_rules():
    speed, bpc, freeze, preset = BY_NAME["speed"], BY_NAME["beats_per_change"], BY_NAME["freeze"], BY_NAME["preset"]
    assert speed.coerce(2) == (2.0, False)            # floats accept ints
    assert speed.coerce(9.5) == (4.0, True)           # clamped
    assert speed.coerce(-1.0) == (0.0, True)
    assert bpc.coerce(7.6) == (8, False)              # ints accept floats, rounded
    assert bpc.coerce(1000) == (64, True)
    assert freeze.coerce(1) == (True, False) and freeze.coerce(0) == (False, False)
    assert freeze.coerce(0.7) == (True, False)
    for bad in ("fast", None, b"\x00", float("nan")):
        with pytest.raises(ControlError):
            speed.coerce(bad)
    with pytest.raises(ControlError):
        preset.coerce(3)
    assert BY_NAME["tap"].coerce(None) == (True, False)
    assert BY_NAME["tap"].coerce(0) == (False, False)   # a button's release does not fire


def test_store_set_counts_and_snapshots_are_immutable():
    store = ControlStore()
    before = store.state
    assert store.set("speed", 7.0) is True
    after = store.state
    assert before["speed"] == 1.0 and after["speed"] == 4.0      # old snapshot untouched
    with pytest.raises(TypeError):
        after.values["speed"] = 2.0                              # read-only mapping
    store.trigger("entry.next")
    store.set("entry.next", 1)
    store.set("entry.next", 0)                                   # release: no fire
    assert store.state.entry_next_count == 2
    store.set("bank.select", 3)
    store.set("bank.select", 3)                                  # same bank twice: two requests
    assert store.state.bank_select == 3 and store.state.bank_select_count == 2
    with pytest.raises(ControlError, match="valid controls"):
        store.set("fx.zooom", 1.0)


def test_key_events():
    store = ControlStore()
    assert store.apply_key("bank:3") and store.state.bank_select == 2
    assert store.apply_key("hud") and store.state["hud"] is False
    assert store.apply_key("tap") and store.state.tap_count == 1
    assert store.apply_key("fullscreen") is False and store.apply_key("quit") is False


def test_presets_from_show_file_recall_and_save():
    toml = """
    [controls]
    speed = 2.0
    [presets.chill]
    intensity = 0.4
    fx.hue = 0.9
    beats_per_change = 8
    [presets.peak]
    intensity = 2.0
    fx.flash = 1.0
    """
    store = ControlStore.from_config(build_config(tomllib.loads(toml)))
    assert store.presets == ("chill", "peak") and store.state["speed"] == 2.0
    store.recall("chill")
    s = store.state
    assert (s["intensity"], s["fx.hue"], s["beats_per_change"], s.preset) == (0.4, 0.9, 8, "chill")
    store.set("preset", "peak")
    assert store.state["intensity"] == 2.0 and store.state["fx.hue"] == 0.9 and store.state.preset_count == 2
    with pytest.raises(ControlError, match="presets: chill, peak"):
        store.recall("chil")
    saved = store.save_preset("now")
    assert saved["intensity"] == 2.0 and "bank.select" not in saved
    again = validate_presets(tomllib.loads(presets_toml({"now": saved}))["presets"])
    assert again["now"] == saved


@pytest.mark.parametrize("preset, message", [
    ({"intensty": 1.0}, "unknown control 'intensty'; valid: "),
    ({"intensity": "loud"}, "expects a number"),
    ({"intensity": 3.0}, "outside 0..2"),
    ({"tap": 1}, "unknown control 'tap'"),
])
def test_bad_presets_are_clear_errors(preset, message):
    with pytest.raises(ControlError, match=message):
        ControlStore.from_config(build_config({"presets": {"x": preset}}))


def test_concurrent_writers_lose_no_trigger():
    store = ControlStore()

    def press():
        for _ in range(500):
            store.trigger("entry.next")

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.state.entry_next_count == 2000


def test_tap_tempo_four_taps_median_and_outliers():
    tt = TapTempo()
    assert [tt.tap(t_s=t) for t in (10.0, 10.5, 11.0)] == [0.0, 0.0, 0.0]   # three taps: no tempo yet
    assert tt.tap(t_s=11.5) == pytest.approx(120.0)
    assert tt.beat_phase(t_s=11.75) == pytest.approx(0.5)
    # one sloppy tap among eight does not move the tempo
    tt = TapTempo()
    for t in (0.0, 0.4, 0.8, 1.33, 1.6, 2.0, 2.4, 2.8):
        tt.tap(t_s=t)
    assert tt.bpm == pytest.approx(150.0)
    phase = tt.beat_phase(t_s=3.2)                 # on the grid of the seven good taps
    assert min(phase, 1.0 - phase) < 0.02
    # a pause > 2 s starts a new sequence at a new tempo
    for t in (10.0, 11.0, 12.0, 13.0):
        tt.tap(t_s=t)
    assert tt.bpm == pytest.approx(60.0)
    tt.release()
    assert not tt.active and tt.bpm == 0.0


def test_store_tap_and_release_by_bpm_zero():
    store = ControlStore()
    for t in (1.0, 1.5, 2.0, 2.5):
        store.tap(t_s=t)
    s = store.state
    assert s.tap_count == 4 and s.tap_times == (1.0, 1.5, 2.0, 2.5) and s.tap_bpm == pytest.approx(120.0)
    store.set("bpm", 0)
    assert store.state.tap_bpm == 0.0 and store.state.bpm_count == 1
