"""The motion mapper with synthetic feature sequences (60 fps frames, known tempo)."""
import math

import numpy as np
import pytest

from live.config import MotionConfig
from live.control import ControlStore
from live.motion import MotionState, ease, step
from live.types import FeatureFrame

FPS = 60
CFG = MotionConfig()


def frame(t, *, bpm=120.0, onsets=(), rms=0.2, bass_att=1.0, chroma=None, **kw):
    """A FeatureFrame at time t of a steady beat (beat k at k * 60 / bpm) with onsets at the given times."""
    if bpm:
        x = t * bpm / 60.0
        count = int(math.floor(x + 1e-9))
        phase = x - count
        kw.update(beat_count=count, beat_phase=phase, bar_phase=((count % 4) + phase) / 4.0,
                  last_beat_t=count * 60.0 / bpm)
    past = [o for o in onsets if o <= t + 1e-9]
    if past:
        kw.update(onset_count=len(past), last_onset_t=past[-1],
                  onset=1.0 if t - past[-1] < 1.0 / FPS else 0.0)
    if chroma is not None:
        kw["chroma"] = chroma
    return FeatureFrame(t=t, bpm=bpm, rms=rms, loudness_db=-20.0, bass_att=bass_att, **kw)


def run(seconds, *, store=None, feature=frame, events=None, bank_size=8, banks=("a", "b", "c"),
        config=CFG, every=1, **frame_kw):
    """Step the mapper over `seconds` of 60 fps frames; `events[t]` mutate the store at time t."""
    store = store or ControlStore()
    state = MotionState()
    out = []
    for i in range(0, int(round(seconds * FPS)) + 1, every):
        t = i / FPS
        for at, fn in (events or {}).items():
            if abs(at - t) < 0.5 / FPS:
                fn(store)
        state, ctl = step(state, feature(t, **frame_kw), store.state, now_s=t, bank_size=bank_size,
                          bank_names=banks, config=config)
        out.append((t, ctl, state))
    return out


def change_times(out):
    return [t for (t, c, _), (_, p, _) in zip(out[1:], out[:-1]) if (c.entry_a, c.entry_b) != (p.entry_a, p.entry_b)]


def test_ease_endpoints():
    assert ease(0.0) == 0.0 and ease(1.0) == 1.0 and ease(0.5) == pytest.approx(0.5)


def test_120_bpm_n4_changes_every_two_seconds_on_the_beat():
    out = run(12.0)
    times = change_times(out)
    assert len(times) == 6
    for t in times:   # every 4 beats = 2.0 s, within one frame of the beat
        assert abs(t - 2.0 * round(t / 2.0)) <= 1.0 / FPS + 1e-9, times
    assert np.allclose(np.diff(times), 2.0, atol=1.0 / FPS + 1e-9)
    entries = [c.entry_a for t, c, _ in out if t in times]
    assert entries == [1, 2, 3, 4, 5, 6]          # one entry after the other
    # alpha follows the cosine ease over the segment (no onsets here)
    t, c, _ = next(x for x in out if abs(x[0] - 3.0) < 1e-9)
    assert c.alpha == pytest.approx(ease(0.5), abs=0.02)


def test_beats_per_change_from_the_control():
    store = ControlStore()
    store.set("beats_per_change", 8)
    times = change_times(run(12.0, store=store))
    assert np.allclose(np.diff(times), 4.0, atol=1.0 / FPS + 1e-9)


def test_onsets_push_alpha_ahead_and_pulse():
    onsets = (2.55, 3.05, 3.55)
    with_on = run(4.0, onsets=onsets)
    without = run(4.0)
    diffs = [(a[1].alpha - b[1].alpha) for a, b in zip(with_on, without)]
    assert min(diffs) >= 0.0                          # never behind
    at = [d for (t, *_), d in zip(with_on, diffs) if 2.55 <= t < 2.6]
    assert at and min(at) > 0.1                       # clearly ahead right after an onset
    # alpha's speed over the onset frame is larger with the onset
    i = next(k for k, (t, *_) in enumerate(with_on) if t >= 2.55)
    assert with_on[i][1].alpha - with_on[i - 1][1].alpha > without[i][1].alpha - without[i - 1][1].alpha
    pulses = [c.pulse for t, c, _ in with_on if 2.55 <= t < 2.6]
    assert max(pulses) == pytest.approx(0.35, abs=0.01)   # pulse control default x strength 1
    dirs = {c.pulse_dir for t, c, _ in with_on if t >= 2.55}
    assert len(dirs) == 3                              # a new direction per onset


def test_bank_switch_request_lands_on_the_next_bar_line():
    events = {1.3: lambda s: s.set("bank.select", 1), 2.7: lambda s: s.trigger("bank.next"),
              4.2: lambda s: s.trigger("bank.prev"), 4.4: lambda s: s.trigger("bank.prev")}
    out = run(9.0, events=events)
    switches = [(t, c.bank) for (t, c, _), (_, p, _) in zip(out[1:], out[:-1]) if c.bank != p.bank]
    # bars of 4 beats at 120 BPM are 2.0 s long: requests wait for 2.0, 4.0 and 6.0
    assert switches == [(2.0, "b"), (4.0, "c"), (6.0, "a")]
    assert out[0][1].bank == "a"
    t, c, _ = next(x for x in out if x[0] == 2.0)
    assert c.entry_a == c.entry_b == 0                  # a new bank starts at its first entry


def test_bank_request_for_a_bank_that_is_not_loaded_is_ignored():
    out = run(5.0, events={0.5: lambda s: s.set("bank.select", 7)})
    assert {c.bank for _, c, _ in out} == {"a"}


def test_chroma_selects_the_entry_of_the_dominant_pitch_class():
    a_minor = np.zeros(12, np.float32); a_minor[9] = 1.0; a_minor[0] = 0.6; a_minor[4] = 0.5
    e_major = np.zeros(12, np.float32); e_major[4] = 1.0; e_major[11] = 0.7
    store = ControlStore()
    store.set("chroma_select", 1)
    out = run(12.0, store=store, bank_size=12,
              feature=lambda t, **kw: frame(t, chroma=a_minor if t < 6.0 else e_major))
    at = lambda t0: next(c for t, c, _ in out if t >= t0)
    assert at(2.5).entry_b == 9              # A: entry 9 (C = 0)
    assert at(4.5).entry_a == at(4.5).entry_b == 9   # same key: hold on A
    assert at(8.5).entry_b == 4              # then E: entry 4
    store2 = ControlStore()
    store2.set("chroma_select", 1)
    out = run(4.0, store=store2, bank_size=5, feature=lambda t, **kw: frame(t, chroma=a_minor))
    assert out[-1][1].entry_b == 9 % 5       # a smaller bank: pitch class modulo its size


def test_freeze_holds_everything_and_presses_wait_for_release():
    events = {1.0: lambda s: s.set("freeze", 1), 1.5: lambda s: s.trigger("entry.next"),
              3.0: lambda s: s.set("freeze", 0)}
    out = run(4.0, events=events, onsets=(1.2, 2.2))
    held = [c for t, c, _ in out if 1.0 <= t < 3.0]
    first = held[0]
    assert all((c.entry_a, c.entry_b, c.alpha, c.pulse, c.pulse_dir, c.bank) ==
               (first.entry_a, first.entry_b, first.alpha, first.pulse, first.pulse_dir, first.bank) for c in held)
    after = next(c for t, c, _ in out if t >= 3.0)
    assert after.entry_a != first.entry_a or after.entry_b != first.entry_b   # the cut applied on release
    # onsets during the freeze fired nothing late: only the tail of the 2.2 s onset, on the audio clock
    assert after.pulse == pytest.approx(0.35 * math.exp(-0.8 / CFG.pulse_decay_s), rel=1e-3)


def test_entry_next_and_prev_cut_at_once():
    out = run(1.5, events={0.5: lambda s: s.trigger("entry.next"), 1.0: lambda s: s.trigger("entry.prev")})
    at = lambda t0: next(c for t, c, _ in out if t >= t0 - 1e-9)
    assert (at(0.4).entry_a, at(0.4).entry_b) == (0, 1)
    assert (at(0.5).entry_a, at(0.5).entry_b) == (1, 2) and at(0.5).alpha < 0.01
    assert (at(1.0).entry_a, at(1.0).entry_b) == (0, 1)


def buildup_frame(t, *, build=True):
    """Bars 0-3 (0-8 s) rise in level (or stay flat), bar 4 is quiet, the drop hits at 10.0 s."""
    bar = int(t // 2.0)
    rms = (0.1 + 0.05 * bar) if (build and bar < 4) else 0.2
    if bar == 4:
        rms = 0.05
    drop = t >= 10.0
    return frame(t, rms=rms, bass_att=2.5 if 10.0 <= t < 10.1 else 1.0, onsets=(10.0,) if drop else ())


def test_drop_after_a_buildup_holds_the_entry():
    out = run(16.0, feature=buildup_frame)
    flat = run(16.0, feature=lambda t, **kw: buildup_frame(t, build=False))
    assert out[-1][2].drops == 1 and flat[-1][2].drops == 0
    at = lambda o, t0: next(c for t, c, _ in o if t >= t0 - 1e-9)
    held = at(out, 10.0)
    assert held.entry_a == held.entry_b               # cut to the entry reached at the drop
    for t in (10.5, 12.0, 13.9):                      # ... held for drop_hold_beats = 8 beats = 4 s
        c = at(out, t)
        assert (c.entry_a, c.entry_b) == (held.entry_a, held.entry_a)
    assert at(out, 14.1).entry_a == held.entry_a and at(out, 14.1).entry_b == held.entry_a + 1
    without = change_times([x for x in flat if x[0] >= 10.0])
    assert without and without[0] <= 12.0 + 1e-9         # without the build-up the walk goes on every 2 s


def test_no_tempo_idle_walk_still_moves():
    out = run(9.0, bpm=0.0)
    times = change_times(out)
    assert len(times) == 4                             # idle_bpm 120, 4 beats: every 2 s
    assert np.allclose(np.diff(times), 2.0, atol=1.0 / FPS + 1e-9)
    assert max(c.alpha for _, c, _ in out) > 0.9


def test_loud_is_faster_quiet_is_slower_and_speed_control():
    loud = change_times(run(12.0, feature=lambda t, **kw: frame(t, bass_att=3.0, mid_att=3.0, treble_att=3.0)))
    quiet = change_times(run(20.0, feature=lambda t, **kw: frame(t, bass_att=0.2, mid_att=0.2, treble_att=0.2)))
    assert np.allclose(np.diff(loud[-4:]), 1.0, atol=1.0 / FPS + 1e-9)     # 2 beats per change
    assert np.allclose(np.diff(quiet[-2:]), 4.0, atol=1.0 / FPS + 1e-9)    # 8 beats per change
    store = ControlStore()
    store.set("speed", 2.0)
    fast = change_times(run(8.0, store=store))
    assert np.allclose(np.diff(fast), 1.0, atol=1.0 / FPS + 1e-9)
    store.set("speed", 0.0)
    assert change_times(run(8.0, store=store)) == []                       # speed 0 stops the walk


def test_skipped_frames_lose_no_change_and_deterministic():
    all_frames = run(12.0)
    sparse = run(12.0, every=7)                        # the generator only gets every 7th frame
    t_end = sparse[-1][0]
    assert len(change_times(sparse)) == len([t for t in change_times(all_frames) if t <= t_end]) == 5
    same_time = next(x for x in all_frames if x[0] == t_end)
    assert sparse[-1][1].entry_a == same_time[1].entry_a and sparse[-1][2].changes == same_time[2].changes
    again = run(12.0, onsets=(1.0, 2.3, 5.5))
    once = run(12.0, onsets=(1.0, 2.3, 5.5))
    assert [c for _, c, _ in again] == [c for _, c, _ in once]


def test_tempo_found_mid_walk_keeps_alpha_continuous_and_snaps_to_beats():
    out = run(10.0, feature=lambda t, **kw: frame(t, bpm=0.0 if t < 3.1 else 120.0))
    steps = [abs(c.alpha - p.alpha) for (_, c, _), (_, p, _) in zip(out[1:], out[:-1])
             if (c.entry_a, c.entry_b) == (p.entry_a, p.entry_b)]
    assert max(steps) < 0.1                           # no jump when the clock changes
    later = [t for t in change_times(out) if t > 3.1]
    assert later and all(abs(t * 2 - round(t * 2)) * 0.5 <= 1.0 / FPS + 1e-9 for t in later)  # on beats


def test_defaults_of_absent_controls_are_the_parameter_tables():
    from live.control.params import BY_NAME

    _, ctl = step(MotionState(), frame(1.0), {}, now_s=1.0, bank_size=8, bank_names=["a"], config=CFG)
    assert ctl.steps == BY_NAME["gen.steps"].default == 2
    assert ctl.feedback == BY_NAME["gen.feedback"].default


def test_a_skipped_onset_has_the_same_strength_for_motion_and_the_renderer():
    from live.render.uniforms import UniformState, uniform_values
    from live.types import SKIPPED_ONSET_STRENGTH

    before = frame(1.0, onsets=())
    after = FeatureFrame(t=1.1, bpm=120.0, onset=0.0, onset_count=1, last_onset_t=1.05)   # hop not seen
    state, _ = step(MotionState(), before, {}, now_s=1.0, bank_size=8, bank_names=["a"], config=CFG)
    state, _ = step(state, after, {}, now_s=1.1, bank_size=8, bank_names=["a"], config=CFG)
    u, _ = uniform_values(UniformState(), before, {}, time_s=1.0)
    u, v = uniform_values(u, after, {}, time_s=1.1)
    assert state.onset_strength == v["u_onset"] == SKIPPED_ONSET_STRENGTH


def test_entry_select_cuts_to_that_entry_now_and_walks_on():
    """A click on a bank thumbnail (entry.select N) cuts to entry N at once; the walk goes on from it."""
    out = run(3.0, events={1.0: lambda s: s.set("entry.select", 5), 2.0: lambda s: s.set("entry.select", 13)})
    at = {round(t, 3): c for t, c, _ in out}
    assert (at[0.5].entry_a, at[0.5].entry_b) == (0, 1)
    assert (at[1.0].entry_a, at[1.0].entry_b, at[1.0].alpha) == (5, 6, 0.0)
    assert at[1.9].entry_a == 5 and at[1.9].alpha > 0          # walking on towards 6
    assert at[2.0].entry_a == 13 % 8                            # beyond the bank: modulo its size
