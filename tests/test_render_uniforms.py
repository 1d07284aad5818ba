"""Uniforms as a pure function, without GL: known answers for the onset latch, smoothing,
controls and the generator cross-fade."""
from __future__ import annotations

import math

import numpy as np

from live.control.params import BY_NAME, RENDERER_KEYS
from live.render.uniforms import (CONTROL_DEFAULTS, SKIPPED_ONSET_STRENGTH, UniformState, control_uniform,
                                  gen_mix, uniform_values)
from live.types import FeatureFrame


def test_control_defaults_come_from_the_parameter_table():
    assert set(CONTROL_DEFAULTS) == set(RENDERER_KEYS)
    for name, default in CONTROL_DEFAULTS.items():
        assert default == float(BY_NAME[name].default)
    _, v = uniform_values(UniformState(), FeatureFrame(), {}, time_s=0.0)
    assert v["u_fx_flash"] == float(BY_NAME["fx.flash"].default)
    assert v["u_blackout"] == 0.0 and v["u_fade"] == 1.0


def test_bad_control_values_fall_back_to_their_defaults():
    _, v = uniform_values(UniformState(), FeatureFrame(), {"fx.zoom": float("nan"), "fx.hue": "x",
                                                         "intensity": 1.7}, time_s=0.0)
    assert v[control_uniform("fx.zoom")] == CONTROL_DEFAULTS["fx.zoom"]
    assert v["u_fx_hue"] == CONTROL_DEFAULTS["fx.hue"]
    assert v["u_intensity"] == 1.7


def test_onset_latch():
    s = UniformState()
    s, v = uniform_values(s, FeatureFrame(t=0.0), {}, time_s=0.0)
    assert v["u_onset"] == 0.0 and v["u_frame"] == 0
    # the count moved but this hop reports strength 0 (the peak was in a skipped hop)
    s, v = uniform_values(s, FeatureFrame(t=0.1, onset=0.0, onset_count=1, last_onset_t=0.09), {}, time_s=0.1)
    assert v["u_onset"] == SKIPPED_ONSET_STRENGTH
    assert math.isclose(v["u_since_onset"], 0.01)
    # the same onset, stronger in the next hop: the latch rises; then it holds
    s, v = uniform_values(s, FeatureFrame(t=0.12, onset=0.95, onset_count=1), {}, time_s=0.12)
    assert v["u_onset"] == 0.95
    s, v = uniform_values(s, FeatureFrame(t=0.14, onset=0.2, onset_count=1), {}, time_s=0.14)
    assert v["u_onset"] == 0.95 and v["u_frame"] == 3
    # a new onset takes its own strength
    s, v = uniform_values(s, FeatureFrame(t=0.2, onset=0.4, onset_count=2), {}, time_s=0.2)
    assert v["u_onset"] == 0.4


def test_chroma_direction_and_centroid_are_smoothed_with_their_time_constants():
    chroma = np.zeros(12, np.float32)
    chroma[3] = 1.0                              # pitch class 3 = 90 degrees
    f = FeatureFrame(chroma=chroma, centroid_hz=1000.0)
    s, v = uniform_values(UniformState(), f, {}, time_s=0.0)          # first frame: dt = 1/60
    a = 1.0 - math.exp(-(1 / 60) / 0.3)
    assert math.isclose(v["u_chroma_vec"][1], a, rel_tol=1e-9) and abs(v["u_chroma_vec"][0]) < 1e-9
    assert math.isclose(v["u_centroid_norm"], (1 - math.exp(-(1 / 60) / 0.25)) * 0.5, rel_tol=1e-9)
    for i in range(1, 200):                       # converges to the unit direction, 0.5 centroid
        s, v = uniform_values(s, f, {}, time_s=i / 60)
    assert math.isclose(v["u_chroma_vec"][1], 1.0, abs_tol=1e-3)
    assert math.isclose(v["u_centroid_norm"], 0.5, abs_tol=1e-3)
    assert v["u_dominant"] == 3.0


def test_time_step_is_clamped():
    s, v = uniform_values(UniformState(), FeatureFrame(), {}, time_s=5.0)
    assert v["u_dt"] == 1 / 60
    s, v = uniform_values(s, FeatureFrame(), {}, time_s=9.0)
    assert v["u_dt"] == 0.25
    s, v = uniform_values(s, FeatureFrame(), {}, time_s=8.0)           # clock went back
    assert v["u_dt"] == 0.0


def test_the_same_inputs_give_the_same_uniforms_and_out_is_filled_in_place():
    f = FeatureFrame(t=1.0, bass=0.7, onset=0.5, onset_count=3, bpm=128.0, beat_phase=0.25)
    s1, v1 = uniform_values(UniformState(), f, {"fx.zoom": 0.9}, time_s=1.0)
    out = {}
    s2, v2 = uniform_values(UniformState(), f, {"fx.zoom": 0.9}, time_s=1.0, out=out)
    assert s1 == s2 and v1 == v2 and v2 is out
    assert v1["u_bass"] == 0.7 and v1["u_bpm"] == 128.0 and v1["u_fx_zoom"] == 0.9


def test_gen_mix():
    assert gen_mix(1.0, 0.0, 0.1, have_frame=False) == 1.0
    assert math.isclose(gen_mix(1.05, 1.0, 0.1), 0.5)
    assert gen_mix(0.9, 1.0, 0.1) == 0.0
    assert gen_mix(2.0, 1.0, 0.1) == 1.0
