"""The timeline's keyframe -> GenControl rule and its validation (pure, no GL)."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from live.motion import ease
from live.offline.timeline import (Keyframe, TimelineError, check_against, controls_from_keyframes, load_timeline,
                           parse_timeline)


def _ctls(kfs, times, env=None, accel=0.0, sizes=None):
    n = len(times)
    env = np.zeros(n) if env is None else env
    return controls_from_keyframes(kfs, np.asarray(times, float), envelope=env, pulse=np.zeros(n),
                                   pulse_dir=np.zeros(n, int), onset_accel=accel,
                                   bank_sizes=sizes or {"b": 8})


def test_ease_between_keyframes_arrives_on_time():
    kfs = [Keyframe(0.0, "b", 0, "start"), Keyframe(2.0, "b", 3), Keyframe(4.0, "b", 5)]
    c = _ctls(kfs, [0.0, 0.5, 1.0, 1.999, 2.0, 3.0])
    assert (c[0].entry_a, c[0].entry_b, c[0].alpha) == (0, 3, 0.0)
    assert c[1].alpha == pytest.approx(ease(0.25)) and c[2].alpha == pytest.approx(0.5)
    assert c[3].alpha == pytest.approx(1.0, abs=1e-5)
    assert (c[4].entry_a, c[4].entry_b, c[4].alpha) == (3, 5, 0.0)       # at the keyframe: exactly entry 3
    assert c[5].t == 3.0 and c[5].alpha == pytest.approx(0.5)


def test_onsets_push_alpha_holds_cuts_and_interrupted_segments():
    kfs = [Keyframe(0.0, "b", 1, "start"), Keyframe(1.0, "b", 1), Keyframe(2.0, "b", 2, toward=3, ease_end_s=4.0),
           Keyframe(3.0, "b", 6, "drop", cut=True)]
    c = _ctls(kfs, [0.5, 0.5, 1.5, 2.5, 3.5], env=np.array([0.0, 1.0, 1.0, 0.0, 0.0]), accel=0.15)
    assert c[0].alpha == 0.0 and c[1].alpha == 0.0            # same entry: a hold, onsets do not move it
    assert (c[2].entry_a, c[2].entry_b) == (1, 2) and c[2].alpha == pytest.approx(ease(0.5) + 0.15)
    assert (c[3].entry_a, c[3].entry_b) == (2, 3) and c[3].alpha == pytest.approx(ease(0.25))
    assert (c[4].entry_a, c[4].entry_b) == (6, 6)             # after the last keyframe: hold
    c2 = _ctls(kfs[2:3] + [Keyframe(5.0, "b", 0)], [2.5], env=np.array([1.0]), accel=0.15)
    assert c2[0].alpha == pytest.approx(ease(0.25) + 0.15)
    c3 = _ctls([Keyframe(0.0, "b", 1), Keyframe(1.0, "b", 4, cut=True)], [0.5])
    assert (c3[0].entry_a, c3[0].entry_b, c3[0].alpha) == (1, 1, 0.0)   # next is a cut without toward: hold


def test_entries_wrap_and_before_first_keyframe_holds():
    c = _ctls([Keyframe(1.0, "b", 9), Keyframe(2.0, "b", 10)], [0.0, 1.5], sizes={"b": 8})
    assert (c[0].entry_a, c[0].entry_b) == (1, 1) and (c[1].entry_a, c[1].entry_b) == (1, 2)


def _doc():
    return {
        "format": 1, "audio": {"path": "a.wav", "sha256": "ab" * 32, "duration_s": 10.0, "sample_rate_hz": 44100},
        "fps": 30, "size": [96, 64], "seed": 0, "backend": "embedded", "model": "",
        "banks": [{"name": "b", "path": "latent_banks/default", "count": 8}], "sync_ms": 50.0,
        "keyframes": [{"time_s": 0.0, "frame": 0, "bank": "b", "entry": 0, "reason": "start"},
                      {"time_s": 2.0, "frame": 60, "bank": "b", "entry": 1, "reason": "beat 1 of bar 2"}],
    }


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("keyframes"), "missing 'keyframes'"),
    (lambda d: d.__setitem__("keyframes", []), "is empty"),
    (lambda d: d["keyframes"][1].__setitem__("time_s", 0.0), "strictly increase"),
    (lambda d: d["keyframes"][1].__setitem__("time_s", 11.0), "outside the audio"),
    (lambda d: d["keyframes"][1].__setitem__("entry", -1), "negative"),
    (lambda d: d["keyframes"][1].__setitem__("entry", "3"), "'entry' must be int"),
    (lambda d: d["keyframes"][1].__setitem__("toward", 2), "ease_end_s"),
    (lambda d: d.__setitem__("size", [96]), "size"),
    (lambda d: d.__setitem__("format", "1"), "format"),
])
def test_bad_edits_name_the_problem(edit, message):
    d = _doc()
    edit(d)
    with pytest.raises(TimelineError, match=message):
        parse_timeline(d)


def test_check_against_audio_and_banks(tmp_path):
    tl, warnings = parse_timeline(_doc())
    assert warnings == []
    assert check_against(tl, audio_sha256="ab" * 32, audio_duration_s=10.0, bank_sizes={"b": 8}) == []
    w = check_against(tl, audio_sha256="cd" * 32, audio_duration_s=10.01, bank_sizes={"b": 8})
    assert len(w) == 1 and "same duration" in w[0]                        # re-encoded: warning
    with pytest.raises(TimelineError, match="other audio"):
        check_against(tl, audio_sha256="cd" * 32, audio_duration_s=12.0, bank_sizes={"b": 8})
    with pytest.raises(TimelineError, match="bank 'b' has 1 entries"):
        check_against(tl, audio_sha256="ab" * 32, audio_duration_s=10.0, bank_sizes={"b": 1})
    with pytest.raises(TimelineError, match="not loaded"):
        check_against(tl, audio_sha256="ab" * 32, audio_duration_s=10.0, bank_sizes={"other": 8})


def test_stale_frame_is_a_warning_and_files_round_trip(tmp_path):
    d = copy.deepcopy(_doc())
    d["keyframes"][1]["time_s"] = 2.5                                    # moved, frame left stale
    p = tmp_path / "t.json"
    p.write_text(json.dumps(d))
    tl, warnings = load_timeline(p)
    assert len(warnings) == 1 and "time_s wins" in warnings[0]
    tl.save(tmp_path / "u.json")
    again = json.loads((tmp_path / "u.json").read_text())
    assert again["format"] == 1 and again["keyframes"][1]["frame"] == 75 and again["keyframes"][1]["time_s"] == 2.5
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TimelineError, match="not valid JSON"):
        load_timeline(tmp_path / "bad.json")
    with pytest.raises(TimelineError, match="not found"):
        load_timeline(tmp_path / "missing.json")
