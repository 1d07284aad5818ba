"""Uniforms as a pure function: (features, controls, time, what the previous frame kept) ->
the values every shader pass receives. No GL here, so the mapping from sound to picture is
testable with numbers (tests/test_render_uniforms.py).

What a frame keeps for the next one is a small immutable :class:`UniformState`: the onset
latch (an onset shows on the frame after it even when the next hop's strength is 0), the
smoothed chroma direction and the smoothed spectral centroid. The names and meanings of the
uniforms are listed in shaders/README.md; a renderer control ``fx.zoom`` arrives as
``u_fx_zoom``, and its default is the one in the parameter table (:mod:`live.control.params`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np

from live.control.params import PARAMS
from live.types import SKIPPED_ONSET_STRENGTH, FeatureFrame, new_onset_strength  # noqa: F401

CHROMA_TAU_S = 0.3      # smoothing of the chroma direction (u_chroma_vec)
CENTROID_TAU_S = 0.25   # smoothing of the normalised centroid (u_centroid_norm)
DEFAULT_DT_S = 1.0 / 60.0
MAX_DT_S = 0.25

_ANGLES = np.arange(12) * (2.0 * np.pi / 12.0)
_CHROMA_DIRS = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)  # (12, 2)


def control_uniform(name: str) -> str:
    """The uniform a renderer control arrives in: ``fx.zoom`` -> ``u_fx_zoom``."""
    return "u_" + name.replace(".", "_")


CONTROL_DEFAULTS: dict[str, float] = {p.name: float(p.default) for p in PARAMS if p.renderer}
"""Renderer control name -> default, from the parameter table (the one truth)."""
_CONTROL_UNIFORMS = tuple((name, control_uniform(name), d) for name, d in CONTROL_DEFAULTS.items())


@dataclass(frozen=True)
class UniformState:
    """What one frame's uniforms leave for the next (see the module docstring)."""

    frame: int = 0
    last_time: Optional[float] = None
    onset_count: int = -1
    onset_latch: float = 0.0
    chroma_x: float = 0.0
    chroma_y: float = 0.0
    centroid: float = 0.0


def gen_mix(time_s: float, arrival_s: float, interval_s: float, *, have_frame: bool = True) -> float:
    """Cross-fade position 0..1 from the previous generator picture to the newest one, which
    arrived at ``arrival_s`` (same clock as ``time_s``); a fade lasts one measured generator
    interval. 1.0 before the first frame."""
    if not have_frame:
        return 1.0
    mix = (time_s - arrival_s) / max(interval_s, 1e-3)
    return min(max(mix, 0.0), 1.0)


def uniform_values(state: UniformState, f: FeatureFrame, controls: Mapping[str, float], *, time_s: float,
                   gen_mix: float = 1.0, gen_size: tuple[int, int] = (1, 1),
                   out: Optional[dict] = None) -> tuple[UniformState, dict]:
    """The uniforms of one frame and the state for the next. ``out``: a dict to fill (the
    renderer reuses one, so a frame allocates no new mapping); a new one when None."""
    v = {} if out is None else out
    dt = DEFAULT_DT_S if state.last_time is None else min(max(time_s - state.last_time, 0.0), MAX_DT_S)
    v["u_time"] = float(time_s)
    v["u_dt"] = float(dt)
    v["u_frame"] = state.frame
    v["u_rms"] = f.rms
    v["u_bass"], v["u_mid"], v["u_treble"] = f.bass, f.mid, f.treble
    v["u_bass_att"], v["u_mid_att"], v["u_treble_att"] = f.bass_att, f.mid_att, f.treble_att
    latch, count = state.onset_latch, state.onset_count
    if f.onset_count != count:
        if count >= 0 or f.onset_count > 0:
            latch = new_onset_strength(f)
        count = f.onset_count
    elif f.onset > latch:
        latch = f.onset
    v["u_onset"] = float(latch)
    v["u_onset_count"] = float(f.onset_count)
    v["u_since_onset"] = float(max(f.t - f.last_onset_t, 0.0)) if f.last_onset_t >= 0 else 1000.0
    v["u_bpm"] = f.bpm
    v["u_bpm_confidence"] = f.bpm_confidence
    v["u_beat_phase"], v["u_bar_phase"] = f.beat_phase, f.bar_phase
    v["u_beat_count"] = float(f.beat_count)
    chroma = np.asarray(f.chroma, dtype=np.float64)
    v["u_chroma"] = tuple(float(x) for x in chroma) if chroma.shape == (12,) else (0.0,) * 12
    total = float(chroma.sum()) if chroma.shape == (12,) else 0.0
    tx, ty = ((chroma @ _CHROMA_DIRS) / total) if total > 1e-9 else (0.0, 0.0)
    a = 1.0 - math.exp(-dt / CHROMA_TAU_S)
    cx = state.chroma_x + a * (float(tx) - state.chroma_x)
    cy = state.chroma_y + a * (float(ty) - state.chroma_y)
    v["u_chroma_vec"] = (cx, cy)
    v["u_dominant"] = float(f.dominant_pitch_class)
    v["u_centroid"] = f.centroid_hz
    cn = 0.0 if f.centroid_hz <= 100.0 else min(math.log(f.centroid_hz / 100.0) / math.log(100.0), 1.0)
    centroid = state.centroid + (1.0 - math.exp(-dt / CENTROID_TAU_S)) * (cn - state.centroid)
    v["u_centroid_norm"] = centroid
    for name, uniform, default in _CONTROL_UNIFORMS:
        val = controls.get(name, default)
        try:
            val = float(val)
        except (TypeError, ValueError):
            val = default
        v[uniform] = val if math.isfinite(val) else default
    v["u_gen_mix"] = float(gen_mix)
    v["u_gen_size"] = (float(gen_size[0]), float(gen_size[1]))
    return UniformState(frame=state.frame + 1, last_time=float(time_s), onset_count=count, onset_latch=latch,
                        chroma_x=cx, chroma_y=cy, centroid=centroid), v
