"""Known-answer tests of the causal analyzer (live.features), on signals synthesized here."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from live.config import FeaturesConfig
from live.features import Analyzer, analyze_array

SR = 44100
HOP_S = 512 / SR


def click_train(bpm: float, seconds: float, *, sr: int = SR, start_s: float = 0.25, amp: float = 0.8,
                freq_hz: float = 1500.0):
    """Short decaying sine clicks at ``bpm``; returns (samples (n,), click times (k,))."""
    x = np.zeros(int(seconds * sr), np.float32)
    times = np.arange(start_s, seconds - 0.05, 60.0 / bpm)
    n = np.arange(int(0.02 * sr))
    click = (amp * np.exp(-n / (0.003 * sr)) * np.sin(2 * np.pi * min(freq_hz, 0.4 * sr) * n / sr)).astype(np.float32)
    for t in times:
        i = int(round(t * sr))
        m = min(click.size, x.size - i)
        x[i:i + m] += click[:m]
    return x, times


def drum_track(bpm: float, seconds: float, *, sr: int = SR, seed: int = 0):
    """Kick on 1 and 3, snare on 2 and 4, closed hats on eighths: the kind of fast song aubio halves."""
    rng = np.random.default_rng(seed)
    n_tot = int(seconds * sr)
    x = np.zeros(n_tot)
    beat = 60.0 / bpm
    k = np.arange(int(0.15 * sr)) / sr
    kick = np.sin(2 * np.pi * (55 * k + 2.5 * (1 - np.exp(-k / 0.02)))) * np.exp(-k / 0.08)
    snare = rng.standard_normal(k.size) * np.exp(-k / 0.05) * 0.6
    hat = np.diff(rng.standard_normal(int(0.03 * sr)), prepend=0.0) * np.exp(-np.arange(int(0.03 * sr)) / (0.006 * sr)) * 0.15
    times = np.arange(0.1, seconds - 0.2, beat)
    for i, t in enumerate(times):
        for snd, at in ((kick if i % 2 == 0 else snare, t), (hat, t), (hat, t + beat / 2)):
            j = int(at * sr)
            m = min(snd.size, n_tot - j)
            if m > 0:
                x[j:j + m] += snd[:m]
    return (x / np.abs(x).max() * 0.8).astype(np.float32), times


def tone(freq_hz: float, seconds: float, *, sr: int = SR, amp: float = 0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def feed(an: Analyzer, x: np.ndarray):
    hop = an.hop_size
    return [an.process(x[i * hop:(i + 1) * hop]) for i in range(x.size // hop)]


def assert_finite(frames):
    for f in frames:
        vals = [v for v in f.to_dict().values() if isinstance(v, float)] + list(map(float, f.chroma))
        assert all(math.isfinite(v) for v in vals), f


# ------------------------------------------------------------------------------------------ tempo
def test_click_train_120_bpm_gives_120_and_beats_on_the_clicks():
    x, clicks = click_train(120, 12)
    res = analyze_array(x, sample_rate_hz=SR)
    assert res.bpm == pytest.approx(120, abs=1.0)
    assert res.frames[-1].tempo_source == "tracker"
    late = [(b, r) for b, r in res.beats if b > 4.0]
    assert len(late) >= 14                       # ~16 clicks after 4 s, none dropped
    for b, r in late:
        nearest = clicks[np.argmin(np.abs(clicks - b))]
        assert abs(b - nearest) < 1.5 * HOP_S, (b, nearest)    # within ~one hop of the click
        assert 0.0 <= r - b <= HOP_S + 1e-9                   # reported in the hop it sounds
    intervals = np.diff([b for b, _ in late])
    assert np.median(intervals) == pytest.approx(0.5, abs=0.01)


def test_fast_song_is_not_halved_or_two_thirded():
    x, _ = drum_track(170, 14)
    res = analyze_array(x, sample_rate_hz=SR)
    assert res.bpm == pytest.approx(170, abs=2.0)
    late = np.array([b for b, _ in res.beats if b > 6.0])
    assert np.median(np.diff(late)) == pytest.approx(60 / 170, abs=0.01)


def test_preferred_range_moves_the_metrical_level():
    x, _ = drum_track(170, 12)
    cfg = dataclasses.replace(FeaturesConfig(), bpm_min=60.0, bpm_max=120.0)
    res = analyze_array(x, sample_rate_hz=SR, config=cfg)
    assert res.bpm == pytest.approx(85, abs=1.5)


def test_beats_and_bar_phase_follow_the_downbeat():
    # a click every beat, a low kick only on every 4th: that one is the downbeat (bar_phase ~0)
    x, clicks = click_train(120, 16)
    k = np.arange(int(0.15 * SR)) / SR
    kick = (0.9 * np.sin(2 * np.pi * 60 * k) * np.exp(-k / 0.06)).astype(np.float32)
    for t in clicks[::4]:
        i = int(t * SR)
        m = min(kick.size, x.size - i)
        x[i:i + m] += kick[:m]
    res = analyze_array(x, sample_rate_hz=SR)
    downbeats = set(np.round(clicks[::4], 2))
    checked = 0
    for f0, f1 in zip(res.frames, res.frames[1:]):
        if f1.beat_count > f0.beat_count and f1.last_beat_t > 10.0:
            is_down = round(float(clicks[np.argmin(np.abs(clicks - f1.last_beat_t))]), 2) in downbeats
            pos = int(f1.bar_phase * 4 + 1e-6)
            assert (pos == 0) == is_down, (f1.last_beat_t, f1.bar_phase)
            checked += 1
    assert checked >= 10


def test_beats_stop_in_silence_and_phase_runs_between_beats():
    x, _ = click_train(120, 10)
    x = np.concatenate([x, np.zeros(4 * SR, np.float32)])
    frames = feed(Analyzer(sample_rate_hz=SR), x)
    in_music = [f for f in frames if 6.0 < f.t < 10.0]
    phases = np.array([f.beat_phase for f in in_music])
    assert phases.min() >= 0.0 and phases.max() < 1.0
    assert np.mean(np.diff(phases) > 0) > 0.9                 # rises hop by hop between beats
    tail = [f for f in frames if f.t > 12.0]
    assert tail[-1].beat_count == tail[0].beat_count          # no beats in the silence
    assert tail[-1].onset_count == tail[0].onset_count


# -------------------------------------------------------------------------------- tap and manual
def test_tap_tempo_four_taps_set_120_bpm_and_release_returns_to_tracker():
    x, _ = click_train(96, 14)
    an = Analyzer(sample_rate_hz=SR)
    hop = an.hop_size
    frames = []
    taps = [6.0, 6.5, 7.0, 7.5]
    for i in range(x.size // hop):
        f = an.process(x[i * hop:(i + 1) * hop])
        frames.append(f)
        while taps and f.t >= taps[0]:
            an.tap(t_s=taps.pop(0))
        if f.t >= 11.0 and f.t - HOP_S < 11.0:
            an.release_tap()
    before = [f for f in frames if 5.0 < f.t < 6.0]
    assert before[-1].tempo_source == "tracker" and before[-1].bpm == pytest.approx(96, abs=1.5)
    during = [f for f in frames if 8.0 < f.t < 11.0]
    assert all(f.tempo_source == "tap" and f.bpm == pytest.approx(120, abs=0.01) for f in during)
    beat_times = sorted({f.last_beat_t for f in during})
    assert np.allclose(np.diff(beat_times), 0.5, atol=HOP_S)
    # the tap grid is anchored on the taps: beats at 8.0, 8.5, ... (within a hop)
    assert all(abs((b - 7.5) / 0.5 - round((b - 7.5) / 0.5)) * 0.5 < HOP_S for b in beat_times)
    after = [f for f in frames if f.t > 13.0]
    assert after[-1].tempo_source == "tracker" and after[-1].bpm == pytest.approx(96, abs=1.5)


def test_manual_bpm_wins_until_released():
    x, _ = click_train(120, 10)
    an = Analyzer(sample_rate_hz=SR)
    frames = feed(an, x[: 5 * SR])
    assert frames[-1].tempo_source == "tracker"
    an.set_manual_bpm(100.0)
    frames = feed(an, x[5 * SR: 8 * SR])
    assert frames[-1].tempo_source == "manual" and frames[-1].bpm == pytest.approx(100.0)
    beats = sorted({f.last_beat_t for f in frames if f.t > 5.7})
    assert np.allclose(np.diff(beats), 0.6, atol=HOP_S)
    an.set_manual_bpm(None)
    frames = feed(an, x[8 * SR:])
    assert frames[-1].tempo_source == "tracker"
    with pytest.raises(ValueError):
        an.set_manual_bpm(5000)


def test_counters_are_monotonic_and_onsets_fire_on_hits_not_every_hop():
    x, _ = drum_track(128, 10, seed=3)
    rng = np.random.default_rng(1)
    x = (x + 0.01 * rng.standard_normal(x.size)).astype(np.float32)     # a dense mix with a noise floor
    frames = feed(Analyzer(sample_rate_hz=SR), x)
    beats = [f.beat_count for f in frames]
    onsets = [f.onset_count for f in frames]
    assert all(b1 >= b0 for b0, b1 in zip(beats, beats[1:]))
    assert all(o1 >= o0 for o0, o1 in zip(onsets, onsets[1:]))
    assert all(f1.last_beat_t >= f0.last_beat_t for f0, f1 in zip(frames, frames[1:]))
    rate = onsets[-1] / 10.0
    assert 3.0 < rate < 6.0                      # 128 BPM with eighth hats: 4.3 hits/s, not 86
    assert all(0.0 <= f.onset <= 1.0 for f in frames)


# --------------------------------------------------------------------------- spectrum features
def test_440_hz_lands_in_the_a_chroma_bin():
    frames = feed(Analyzer(sample_rate_hz=SR), tone(440.0, 1.0))
    assert frames[-1].dominant_pitch_class == 9
    assert frames[-1].chroma[9] == pytest.approx(1.0)
    assert frames[-1].centroid_hz == pytest.approx(440.0, rel=0.1)


def test_band_levels_follow_the_tone():
    low = feed(Analyzer(sample_rate_hz=SR), tone(100.0, 1.0))[-1]
    high = feed(Analyzer(sample_rate_hz=SR), tone(8000.0, 1.0))[-1]
    assert low.bass > 0.8 and low.bass > low.mid + 0.3 and low.bass > low.treble + 0.3
    assert high.treble > 0.8 and high.treble > high.mid + 0.3 and high.treble > high.bass + 0.3
    assert low.rms == pytest.approx(0.5 / math.sqrt(2), rel=0.08)   # a hop holds 1.16 periods
    assert low.loudness_db == pytest.approx(-9.03, abs=0.7)


def test_att_levels_hover_around_one_for_quiet_and_loud_rooms():
    x, _ = drum_track(124, 12, seed=5)
    means = []
    for gain in (0.02, 1.0):
        frames = feed(Analyzer(sample_rate_hz=SR), x * gain)[4 * 86:]
        means.append([np.mean([getattr(f, k) for f in frames]) for k in ("bass_att", "mid_att", "treble_att")])
        raw_bass = np.mean([f.bass for f in frames])
        means[-1].append(raw_bass)
    quiet, loud = np.array(means)
    assert np.allclose(quiet[:3], 1.0, atol=0.2) and np.allclose(loud[:3], 1.0, atol=0.2)
    assert loud[3] > quiet[3] + 0.3              # the raw level still tells them apart


def test_silence_gives_no_events_and_no_nan():
    frames = feed(Analyzer(sample_rate_hz=SR), np.zeros(5 * SR, np.float32))
    assert_finite(frames)
    f = frames[-1]
    assert f.beat_count == 0 and f.onset_count == 0 and f.bpm == 0.0 and f.tempo_source == "none"
    assert f.dominant_pitch_class == -1 and f.loudness_db == -120.0


def test_dc_offset_clipping_and_nan_input_are_survived():
    dc = feed(Analyzer(sample_rate_hz=SR), np.full(4 * SR, 0.4, np.float32))
    assert_finite(dc)
    settled = [f for f in dc if f.t > 0.5]       # the step at t=0 is a real transient
    assert settled[-1].onset_count == settled[0].onset_count and dc[-1].beat_count == 0
    assert dc[-1].loudness_db < -60
    x, _ = click_train(120, 10)
    clipped = np.clip(x * 20.0 + 0.2, -1, 1).astype(np.float32)
    clipped[1000:1100] = np.nan
    res = analyze_array(clipped, sample_rate_hz=SR)
    assert_finite(res.frames)
    assert res.bpm == pytest.approx(120, abs=1.5)


def test_8_khz_mono_and_96_khz_input():
    x8, _ = click_train(120, 12, sr=8000)
    r8 = analyze_array(x8, sample_rate_hz=8000)
    assert r8.bpm == pytest.approx(120, abs=2.0)
    f8 = feed(Analyzer(sample_rate_hz=8000), tone(440.0, 1.0, sr=8000))[-1]
    assert f8.treble == 0.0 and f8.dominant_pitch_class == 9      # treble band is above Nyquist
    x96, _ = click_train(120, 12, sr=96000)
    stereo = np.stack([x96, x96], axis=1)                          # (n, 2) is downmixed
    r96 = analyze_array(stereo, sample_rate_hz=96000)
    assert r96.bpm == pytest.approx(120, abs=1.0)
    f96 = feed(Analyzer(sample_rate_hz=96000), tone(440.0, 0.5, sr=96000))[-1]
    assert f96.dominant_pitch_class == 9 and f96.mid > f96.bass


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="hop_size"):
        Analyzer(config=dataclasses.replace(FeaturesConfig(), hop_size=500))
    an = Analyzer()
    with pytest.raises(ValueError, match="bpm"):
        an.set_bpm_range(150, 100)
    with pytest.raises(ValueError, match="hop"):
        an.process(np.zeros(100, np.float32))


# ------------------------------------------------------------------------- metrical level on stage
def dnb_break(bpm: float, seconds: float, *, sr: int = SR, seed: int = 0):
    """Two-step drum & bass: kick on 1 and the 'and' of 3, snare on 2 and 4, hats on eighths."""
    rng = np.random.default_rng(seed)
    n_tot = int(seconds * sr)
    x = 0.003 * rng.standard_normal(n_tot)
    beat = 60.0 / bpm
    k = np.arange(int(0.15 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * k + 2.5 * (1 - np.exp(-k / 0.02)))) * np.exp(-k / 0.08)
    snare = rng.standard_normal(k.size) * np.exp(-k / 0.05) * 0.7
    hat = np.diff(rng.standard_normal(int(0.03 * sr)), prepend=0.0) * np.exp(-np.arange(int(0.03 * sr)) / (0.006 * sr)) * 0.15
    hits = []
    for bar_t in np.arange(0.1, seconds - 4 * beat, 4 * beat):
        hits += [(kick, bar_t), (snare, bar_t + beat), (kick, bar_t + 2.5 * beat), (snare, bar_t + 3 * beat)]
        hits += [(hat, bar_t + e * beat / 2) for e in range(8)]
    for snd, at in hits:
        j = int(at * sr)
        m = min(snd.size, n_tot - j)
        x[j:j + m] += snd[:m]
    return (x / np.abs(x).max() * 0.8).astype(np.float32)


def test_four_on_the_floor_128_reads_128_not_64():
    # the bench's house-like mix: kick on every beat, clap on 2 and 4, off-beat hats, bass, pad
    from live.testing.signals import synth_mix

    x = synth_mix(seconds=20.0, sample_rate_hz=SR, bpm=128.0)
    res = analyze_array(x, sample_rate_hz=SR)
    assert res.bpm == pytest.approx(128, abs=1.0)
    late = np.array([b for b, _ in res.beats if b > 8.0])
    assert np.median(np.diff(late)) == pytest.approx(60 / 128, abs=0.01)
    grid = 60 / 128
    assert np.all(np.abs((late / grid) - np.round(late / grid)) * grid < 1.5 * HOP_S)   # on the kicks


def test_drum_and_bass_174_reads_174_not_87():
    res = analyze_array(dnb_break(174, 20.0), sample_rate_hz=SR)
    assert res.bpm == pytest.approx(174, abs=1.5)
    late = np.array([b for b, _ in res.beats if b > 8.0])
    assert np.median(np.diff(late)) == pytest.approx(60 / 174, abs=0.008)


@pytest.mark.parametrize("picker, max_lag_ms", [("fast", 15.0), ("aubio", 60.0)])
def test_onsets_are_reported_within_a_hop_of_the_hit(picker, max_lag_ms):
    """The stage flash follows onset_count: the fast picker reports on the hop the hit arrives."""
    import dataclasses

    from live.config import FeaturesConfig

    rng = np.random.default_rng(0)
    hits = np.cumsum(rng.uniform(0.4, 0.8, 12))
    x = np.zeros(int(SR * (hits[-1] + 1.0)), np.float32)
    for c in hits:
        i = int(c * SR)
        x[i:i + 300] += (rng.standard_normal(300) * np.exp(-np.arange(300) / 60)).astype(np.float32) * 0.8
    an = Analyzer(sample_rate_hz=SR, config=dataclasses.replace(FeaturesConfig(), onset_picker=picker))
    frames = feed(an, x)
    reports = np.array([f.t for f0, f in zip(frames, frames[1:]) if f.onset_count > f0.onset_count])
    assert len(reports) == len(hits)                                   # one onset per hit, no extras
    lags_ms = np.array([(reports[reports >= c][0] - c) * 1e3 for c in hits])
    assert lags_ms.max() <= max_lag_ms, lags_ms
