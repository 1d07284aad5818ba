"""The learned causal beat and downbeat tracker (``features.tracker = "neural"``).

Three causal stages, each fed once per hop, all in numpy (no torch on the live path):

1. :class:`BeatActivation`: a small temporal convolutional network (trained by
   ``tools/train_beat_model.py`` on music this project composes and renders itself; weights in
   ``live/features/models/beat_tcn``) turns the analyzer's log-mel spectrum of each hop into a beat
   and a downbeat activation (0..1). It runs as a streaming TCN: each dilated layer keeps, per
   residue class of its dilation, the last ``kernel`` inputs contiguously, so a hop costs one
   matrix-vector product per layer and nothing is allocated.
2. :class:`BeatFilter`: a bar-pointer-style forward filter (Krebs, Boeck & Widmer 2015, forward
   algorithm only) over tempo x position-in-beat. Each tempo state is a beat interval of an integer
   number of hops (``bpm_min..bpm_max``); the pointer advances one position per hop and, at the end
   of a beat, may move to a neighbouring tempo (probability ~ exp(-lambda |ratio - 1|)). The
   observation is the beat activation: high on position 0, low elsewhere. The most probable state
   gives tempo and beat phase; a beat is emitted in the hop where the pointer wraps to position 0,
   so it is reported in the hop it sounds in (the filter predicts it; the activation confirms or
   corrects it).
3. :class:`BarFilter`: a forward filter over (meter, position in bar) updated once per beat with
   the downbeat activation at that beat (meters 2, 3, 4, 5, 7 beats per bar); its most probable
   state gives the beat's position in the bar and the number of beats per bar.

:class:`NeuralBeatTracker` puts them together behind the same interface as the DSP
:class:`~live.features.beat.BeatTracker` (it *is* one: tap tempo and a manual BPM still override the
tracker, through the DSP tracker's flywheel).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from live.features.beat import BeatTracker

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / "beat_tcn"
FEATURE_VERSION = 1


class ModelError(ValueError):
    """The beat model folder is missing, incomplete or does not fit the analyzer."""


def load_model(path: str | Path | None = None) -> tuple[dict, dict]:
    """(config, weights) of a beat model folder (``config.json`` + ``weights.safetensors``)."""
    d = Path(path) if path else DEFAULT_MODEL
    cfg_p, w_p = d / "config.json", d / "weights.safetensors"
    if not cfg_p.is_file() or not w_p.is_file():
        raise ModelError(f"beat model {d} needs config.json and weights.safetensors (train one with "
                         f"tools/train_beat_model.py, or set features.beat_model = \"\" for the bundled one)")
    try:
        cfg = json.loads(cfg_p.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{cfg_p}: not readable JSON ({exc})") from None
    if cfg.get("kind") != "tcn" or int(cfg.get("feature_version", -1)) != FEATURE_VERSION:
        raise ModelError(f"{d}: a '{cfg.get('kind')}' model of feature version {cfg.get('feature_version')}; "
                         f"this analyzer runs 'tcn' models of feature version {FEATURE_VERSION}")
    from safetensors.numpy import load_file
    try:
        w = load_file(str(w_p))
    except Exception as exc:  # safetensors raises its own error types
        raise ModelError(f"{w_p}: not a readable safetensors file ({exc})") from None
    need = ["in_mean", "in_std", "inp.weight", "inp.bias", "out.weight", "out.bias"]
    need += [f"conv.{i}.{k}" for i in range(int(cfg["layers"])) for k in ("weight", "bias")]
    missing = [k for k in need if k not in w]
    if missing:
        raise ModelError(f"{w_p}: missing tensors {', '.join(missing[:4])}")
    return cfg, w


class BeatActivation:
    """Streaming causal TCN: one ``(n_mel,)`` log-mel spectrum in, (beat, downbeat) activation out."""

    def __init__(self, config: dict, weights: dict):
        C, L, K = int(config["channels"]), int(config["layers"]), int(config["kernel"])
        n_mel = int(config["n_mel"])
        self.n_mel, self.channels, self.layers, self.kernel = n_mel, C, L, K
        f32 = np.float32
        std = weights["in_std"].astype(np.float64)
        w_in = weights["inp.weight"].astype(np.float64) / std[None, :]          # fold the standardisation in
        self._w_in = np.ascontiguousarray(w_in, dtype=f32)
        self._b_in = (weights["inp.bias"] - w_in @ weights["in_mean"].astype(np.float64)).astype(f32)
        # conv weight (K, out, in) -> (out, K*in) against a stacked [x(t-(K-1)d), ..., x(t-d), x(t)]
        self._w = [np.ascontiguousarray(weights[f"conv.{i}.weight"].transpose(1, 0, 2).reshape(C, K * C), dtype=f32)
                   for i in range(L)]
        self._b = [weights[f"conv.{i}.bias"].astype(f32) for i in range(L)]
        self._w_out = np.ascontiguousarray(weights["out.weight"], dtype=f32)
        self._b_out = weights["out.bias"].astype(f32)
        self._dil = [2 ** i for i in range(L)]
        # per layer: (dilation, K, C) taps, one contiguous (K, C) block per residue class
        self._taps = [np.zeros((d, K, C), dtype=f32) for d in self._dil]
        self._x = np.zeros(2 * n_mel, dtype=f32)
        self._mel_prev = np.zeros(n_mel, dtype=f32)
        self._h = np.zeros(C, dtype=f32)
        self._y = np.zeros(C, dtype=f32)
        self._pos = np.zeros(C, dtype=f32)
        self._o = np.zeros(2, dtype=f32)
        self._n = 0
        self._primed = False

    def reset(self) -> None:
        for t in self._taps:
            t[:] = 0.0
        self._n = 0
        self._primed = False

    def step(self, logmel: np.ndarray) -> tuple[float, float]:
        """Feed one hop; returns (beat activation, downbeat activation), each 0..1."""
        x, n_mel = self._x, self.n_mel
        x[:n_mel] = logmel
        d = x[n_mel:]
        if self._primed:
            np.subtract(logmel, self._mel_prev, out=d)
            np.maximum(d, 0.0, out=d)
        else:
            d[:] = 0.0
            self._primed = True
        self._mel_prev[:] = logmel
        h, y, pos = self._h, self._y, self._pos
        np.dot(self._w_in, x, out=h)
        h += self._b_in
        np.tanh(h, out=h)
        n = self._n
        for taps, w, b, dil in zip(self._taps, self._w, self._b, self._dil):
            blk = taps[n % dil]
            blk[:-1] = blk[1:]              # shift this residue class's history by one step
            blk[-1] = h
            np.dot(w, blk.reshape(-1), out=y)
            y += b
            np.maximum(y, 0.0, out=pos)      # ELU(y) = max(y, 0) + expm1(min(y, 0))
            np.minimum(y, 0.0, out=y)
            np.expm1(y, out=y)
            h += y
            h += pos
        self._n = n + 1
        o = np.dot(self._w_out, h, out=self._o)
        o += self._b_out
        b0, b1 = float(o[0]), float(o[1])
        return _sigmoid(b0), _sigmoid(b1)


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


class BeatFilter:
    """Causal forward filter over (beat interval in hops, position in the beat).

    Parameters
    ----------
    frames_per_s: hops per second.
    bpm_min, bpm_max: tempo range (beat intervals of whole hops inside it).
    transition_lambda: tempo change at a beat boundary ~ exp(-lambda * |T_new / T_old - 1|).
    observation_lambda: the beat region is the first 1/lambda of a beat (at least one hop); the
        activation's weight there against the rest of the beat (madmom's convention).
    off_weight: outside the beat region a state is weighted (1 - activation) / off_weight, inside it
        activation (madmom: off_weight = observation_lambda - 1). Smaller values make weak
        activations between the beats (off-beat eighths) count less for a doubled tempo.
    jump: floor of the tempo transition (lets a tempo step win within a few beats).
    """

    def __init__(self, *, frames_per_s: float, bpm_min: float, bpm_max: float, transition_lambda: float = 100.0,
                 observation_lambda: float = 16.0, off_weight: float | None = None, jump: float = 1e-4):
        self.fps = float(frames_per_s)
        t_min = max(4, int(math.floor(60.0 * self.fps / bpm_max)))
        t_max = max(t_min + 1, int(math.ceil(60.0 * self.fps / bpm_min)))
        self.intervals = np.arange(t_min, t_max + 1)
        iv = self.intervals
        self.first = np.concatenate([[0], np.cumsum(iv)[:-1]]).astype(np.intp)
        self.last = (self.first + iv - 1).astype(np.intp)
        S = int(iv.sum())
        self.n_states = S
        # state -> (interval index, position)
        self.state_tempo = np.repeat(np.arange(iv.size), iv)
        self.state_pos = np.arange(S) - self.first[self.state_tempo]
        prev = np.arange(S) - 1
        prev[self.first] = 0                  # overwritten by the tempo transition
        self._prev = prev.astype(np.intp)
        ratio = iv[None, :] / iv[:, None]      # [from, to]
        A = np.exp(-transition_lambda * np.abs(ratio - 1.0)) + jump
        A /= A.sum(1, keepdims=True)
        self._A_T = np.ascontiguousarray(A.T)  # new_first = A^T @ p_last
        lam = float(observation_lambda)
        region = self.state_pos < np.maximum(1, iv[self.state_tempo] / lam)
        self._region = region.astype(np.float64)
        self._off_w = float(off_weight) if off_weight else lam - 1.0
        ang = 2.0 * np.pi * self.state_pos / iv[self.state_tempo]
        self._cos, self._sin = np.cos(ang), np.sin(ang)
        self._tempo_mass = np.zeros(iv.size)
        self.p = np.full(S, 1.0 / S)
        self._q = np.zeros(S)
        self._f = np.zeros(S)
        self._lastp = np.zeros(iv.size)
        self._newfirst = np.zeros(iv.size)

    def reset(self) -> None:
        self.p[:] = 1.0 / self.n_states

    def step(self, act: float) -> int:
        """Advance one hop with beat activation ``act``; returns the most probable state."""
        p, q, f = self.p, self._q, self._f
        np.take(p, self._prev, out=q)
        np.take(p, self.last, out=self._lastp)
        np.dot(self._A_T, self._lastp, out=self._newfirst)
        q[self.first] = self._newfirst
        a = min(max(act, 1e-4), 1.0 - 1e-4)
        lo = (1.0 - a) / self._off_w
        np.multiply(self._region, a - lo, out=f)
        f += lo
        q *= f
        s = q.sum()
        if not s > 0.0:
            q[:] = 1.0 / self.n_states
        else:
            q *= 1.0 / s
        self.p, self._q = q, p
        return int(np.argmax(q))

    def estimate(self) -> tuple[float, float, float]:
        """(beat interval in hops, beat phase 0..1, phase certainty 0..1) from the current belief:
        the most probable tempo of the tempo marginal and the circular mean of the phase over all
        states (smooth where the arg-max state would jump between tempo hypotheses)."""
        p = self.p
        np.add.reduceat(p, self.first, out=self._tempo_mass)
        ti = int(np.argmax(self._tempo_mass))
        c = float(np.dot(p, self._cos))
        s = float(np.dot(p, self._sin))
        phase = (math.atan2(s, c) / (2.0 * math.pi)) % 1.0
        return float(self.intervals[ti]), phase, math.hypot(c, s)


class BarFilter:
    """Forward filter over (beats per bar, position in the bar), one update per beat."""

    METERS = (2, 3, 4, 5, 7)
    PRIOR = (0.15, 0.25, 0.45, 0.08, 0.07)

    def __init__(self, *, meters=METERS, prior=PRIOR, stay: float = 0.995, switch: float = 1e-3,
                 downbeat_rate: float = 0.27):
        self.meters = tuple(int(m) for m in meters)
        self.offsets = np.concatenate([[0], np.cumsum(self.meters)[:-1]]).astype(np.intp)
        S = int(sum(self.meters))
        self.state_meter = np.repeat(np.arange(len(self.meters)), self.meters)
        self.state_pos = np.arange(S) - self.offsets[self.state_meter]
        nxt = np.arange(S) + 1
        for o, m in zip(self.offsets, self.meters):
            nxt[o + m - 1] = o                 # last beat of the bar -> downbeat
        # transition matrix (small: 21 x 21): advance one beat; rarely lose count or change meter
        T = np.zeros((S, S))
        for s in range(S):
            T[s, nxt[s]] += stay
            mi = self.state_meter[s]
            o, m = self.offsets[mi], self.meters[mi]
            T[s, o:o + m] += (1.0 - stay) / m
            for o2 in self.offsets:
                T[s, o2] += switch
        T /= T.sum(1, keepdims=True)
        self._T_T = np.ascontiguousarray(T.T)
        self._down = (self.state_pos == 0).astype(np.float64)
        self._rate = float(downbeat_rate)
        prior = np.asarray(prior, dtype=np.float64)
        self._p0 = np.repeat(prior / np.asarray(self.meters), self.meters)
        self.p = self._p0 / self._p0.sum()
        self._q = np.zeros(S)
        self._f = np.zeros(S)
        self._mass = np.zeros(len(self.meters))

    def reset(self) -> None:
        self.p[:] = self._p0 / self._p0.sum()

    def step(self, down: float) -> tuple[int, int]:
        """One beat with downbeat probability ``down``; returns (beats_per_bar, position 0..m-1).

        ``down`` is read as a posterior P(downbeat | beat) under the training data's downbeat rate,
        so the likelihoods are d / rate and (1 - d) / (1 - rate): an uninformative ``down`` (equal to
        the rate) favours no meter."""
        q, f = self._q, self._f
        np.dot(self._T_T, self.p, out=q)
        d = min(max(down, 0.02), 0.98)
        lo = (1.0 - d) / (1.0 - self._rate)
        np.multiply(self._down, d / self._rate - lo, out=f)
        f += lo
        q *= f
        q *= 1.0 / q.sum()
        self.p, self._q = q, self.p
        np.add.reduceat(q, self.offsets, out=self._mass)
        mi = int(np.argmax(self._mass))
        o, m = self.offsets[mi], self.meters[mi]
        return m, int(np.argmax(q[o:o + m]))


class NeuralBeatTracker(BeatTracker):
    """Beat, tempo, bar position and meter from the learned activation (see the module docstring).

    Same interface as :class:`BeatTracker`; tap tempo and a manual BPM still override it.
    ``beat_in_bar`` is the position of the latest beat in its bar (1 = downbeat, 0 = none yet).
    """

    STAGES = ("filter", "flywheel")

    def __init__(self, *, frames_per_s: float, n_mel: int, n_low: int, config, model: str | Path | None = None,
                 stage: str | None = None):
        super().__init__(frames_per_s=frames_per_s, n_mel=n_mel, n_low=n_low, config=config)
        self.stage = str(stage or getattr(config, "beat_stage", "filter"))
        if self.stage not in self.STAGES:
            raise ValueError(f"features.beat_stage must be one of {', '.join(self.STAGES)}, got {self.stage!r}")
        mcfg, w = load_model(model or getattr(config, "beat_model", "") or None)
        if int(mcfg["n_mel"]) != n_mel:
            raise ModelError(f"beat model expects {mcfg['n_mel']} mel bands, the analyzer makes {n_mel}")
        self.model_config = mcfg
        self.net = BeatActivation(mcfg, w)
        self.filter = BeatFilter(frames_per_s=frames_per_s, bpm_min=config.bpm_min, bpm_max=config.bpm_max)
        self.bar = BarFilter()
        self.beat_act = 0.0
        self.downbeat_act = 0.0
        self._prev_phase = 0.0
        self._since_beat = 1 << 30
        self._beat_pos_in_bar = -1
        self._beat_conf = 0.0
        self._prev_down = 0.0
        self._prev_beat = 0.0
        self.beat_offset_hops = 0.5     # a beat in this hop is reported at its middle
        self.odf_lag_hops = 0.5         # the activation peaks on the hop that holds the beat

    @property
    def beat_in_bar(self) -> int:
        if self._manual_bpm > 0 or self._tap_period_s > 0:
            return super().beat_in_bar
        return self._beat_pos_in_bar + 1 if self._beat_pos_in_bar >= 0 else 0

    def process(self, logmel: np.ndarray, *, audible: bool, t: float) -> tuple[float, float]:
        ba, da = self.net.step(logmel)
        self.beat_act, self.downbeat_act = ba, da
        with self._lock:
            override = self._manual_bpm > 0 or self._tap_period_s > 0
        if override:
            return super().process(logmel, audible=audible, t=t)
        if self.stage == "flywheel":
            return self._process_flywheel(ba, da, audible=audible, t=t)
        if not audible:
            ba = 0.0
        f = self.filter
        f.step(ba)
        T, phase, _certainty = f.estimate()
        self._period_s = T / self._fps
        self.tracker_bpm = 60.0 / self._period_s
        self._since_beat += 1
        prev_down, prev_beat = self._prev_down, self._prev_beat
        self._prev_down, self._prev_beat = da, ba
        # hops from this hop's centre to the nearest beat of the belief: > 0 ahead, < 0 passed
        ahead = (1.0 - phase) * T if phase >= 0.5 else -phase * T
        self._prev_phase = phase
        if (ahead <= 0.5 and phase >= 0.5 or phase < 0.25) and self._since_beat >= 0.5 * T:
            # the beat falls in this hop (or was passed by a jump of the belief): report it now,
            # never ahead of the audio
            back = max(0.0, -ahead)
            self._since_beat = int(back)
            bt = max(0.0, t - (back + self.beat_offset_hops) * self._hop_s)
            self._beat_conf = 0.8 * self._beat_conf + 0.2 * max(ba, prev_beat)
            self.confidence = min(1.0, self._beat_conf * 2.0)
            dn = max(da, prev_down) / max(max(ba, prev_beat), 0.05)
            m, k = self.bar.step(min(1.0, dn))
            self.beats_per_bar = m
            self._beat_pos_in_bar = k
            if audible and self.confidence >= self.config.beat_min_confidence:
                self.beat_count += 1
                self.last_beat_t = bt
        beat_phase = min(0.999999, phase)
        bpb = self.beats_per_bar
        k = max(0, self._beat_pos_in_bar)
        bar_phase = (k + beat_phase) / bpb if bpb > 1 else beat_phase
        return beat_phase, bar_phase

    def _score_downbeats(self, t: float) -> None:
        """Bar positions come from the bar filter here, not from the DSP tracker's kick band."""
        self._pending_downbeat.clear()

    def _process_flywheel(self, ba: float, da: float, *, audible: bool, t: float) -> tuple[float, float]:
        """The DSP tracker's tempo comb, cumulative beat score and flywheel fed with the beat
        activation instead of spectral flux; the bar filter placed on its beats."""
        prev_down, prev_beat = self._prev_down, self._prev_beat
        self._prev_down, self._prev_beat = da, ba
        count = self.beat_count
        beat_phase, _ = self.process_envelope(ba, 0.0, audible=audible, t=t)
        if self.beat_count != count:
            dn = max(da, prev_down) / max(max(ba, prev_beat), 0.05)
            m, k = self.bar.step(min(1.0, dn))
            self.beats_per_bar = m
            self._beat_pos_in_bar = k
        bpb = self.beats_per_bar
        k = max(0, self._beat_pos_in_bar)
        return beat_phase, (k + beat_phase) / bpb if bpb > 1 else beat_phase
