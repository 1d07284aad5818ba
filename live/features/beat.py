"""Causal tempo and beat tracker of latent-live, fed one log-mel spectrum per hop.

How it works
------------
* **Onset envelope.** Log-mel spectral flux (positive differences summed over the 40 mel bands)
  minus its 0.5 s running mean, half-wave rectified; the flux of the bands below 150 Hz (kick drum)
  is kept too, for downbeats.
* **Tempo, with the metrical level chosen from evidence.** Every ~46 ms the autocorrelation of
  the last ``tempo_window_s`` of the envelope is scored with a harmonic comb (the lag and its
  multiples) for every candidate period in ``bpm_min..bpm_max``. A beat period and its double
  (half tempo) both explain a steady pulse, so the comb alone cannot choose between the levels;
  what chooses is the *tempo salience* of Klapuri / Ellis: the comb score times a broad log-normal
  prior over tempo (centre ``tempo_prior_bpm``, width ``tempo_prior_octaves``), so the prior only
  decides where the evidence is ambiguous. A 128 BPM four-on-the-floor reads 128, not 64; a
  174 BPM drum & bass break reads 174, not 87. Scores are smoothed over time, and a tempo change
  to another metrical level must persist before the beat grid follows it.
* **Beats: a flywheel corrected by a cumulative beat score** (Ellis's dynamic programme, run
  causally as in Stark's BTrack): ``C[n] = (1-a) O[n] + a max_v W(n-v) C[v]`` with a log-Gaussian
  transition window ``W`` around one beat period. Beat positions found on ``C`` correct the
  flywheel's phase: small errors are nudged out gently, a large error must persist before the
  flywheel re-phases (faster when the tempo itself has just changed). The flywheel emits each
  beat at its predicted time in the hop that contains it, so a beat is reported less than one hop
  after it sounds and never ahead of the audio.
* Tap tempo and a manual BPM override the tracker until released.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from live.control.tap import TapTempo

_ODF_LAG_HOPS = 1.6       # onset envelope peak lags the sound by ~this many hops (calibrated, 2048/512)
_UPDATE_S = 0.046         # tempo/phase re-estimation period
_N_HARMONICS = 4          # comb teeth for the tempo score


class BeatTracker:
    """Tempo, beats, beat/bar phase and tap/manual overrides from a per-hop log-mel spectrum.

    Parameters
    ----------
    frames_per_s:
        Hops per second (``sample_rate_hz / hop_size``).
    n_low:
        Number of lowest mel bands that form the kick band (downbeats).
    config:
        ``FeaturesConfig`` (``bpm_min``, ``bpm_max``, ``tempo_prior_bpm``, ``tempo_prior_octaves``,
        ``tempo_window_s``, ``beats_per_bar``, ``beat_min_confidence``, ``tap_timeout_s``).
    """

    def __init__(self, *, frames_per_s: float, n_mel: int, n_low: int, config):
        cfg = config
        self.config = cfg
        self._fps = float(frames_per_s)
        self._hop_s = 1.0 / self._fps
        self._n_low = max(1, int(n_low))
        self._mel_prev = np.zeros(n_mel, dtype=np.float32)
        self._mel_diff = np.zeros(n_mel, dtype=np.float32)
        self._primed = False
        # tuning (instance attributes so experiments can vary them)
        self.prior_bpm = float(cfg.tempo_prior_bpm)
        self.prior_oct = float(cfg.tempo_prior_octaves)
        if not (20.0 <= self.prior_bpm <= 400.0) or not (0.0 <= self.prior_oct <= 8.0):
            raise ValueError(f"features.tempo_prior_bpm must be 20..400 and tempo_prior_octaves 0..8, "
                             f"got {self.prior_bpm} and {self.prior_oct}")
        self.odf_lag_hops = _ODF_LAG_HOPS
        self.score_ema = 0.85
        self.dp_alpha = 0.9
        self.dp_tight = 5.0
        self.nudge = 0.2
        self.relock_s = 1.5
        self.level_hold_s = 1.0
        self.relock_margin = 1.08        # another beat grid must score this much better to re-phase
        self.recompute_cs = True
        self.acf_tau_s = 2.0           # recent hops weigh more in the tempo estimate (tempo changes)
        self._acf_w = None

        self._L = max(16, int(round(float(cfg.tempo_window_s) * self._fps)))
        L = self._L
        self._odf = np.zeros(2 * L, dtype=np.float64)
        self._low = np.zeros(2 * L, dtype=np.float64)
        self._cs = np.zeros(2 * L, dtype=np.float64)      # cumulative beat score
        self._ring_i = 0
        self._odf_mean = 0.0
        self._a_odf_mean = math.exp(-self._hop_s / 0.5)
        self._nfft = 1 << int(math.ceil(math.log2(2 * L)))
        self._update_every = max(1, int(round(_UPDATE_S * self._fps)))
        self._hops = 0
        self._lock = threading.Lock()
        self._dp_P = 0.0
        self._dp_w = np.zeros(0)
        self._dp_lo = 0
        self._dp_hi = 0
        self.set_bpm_range(cfg.bpm_min, cfg.bpm_max)

        # flywheel state
        self._period_s = 0.0
        self._next_beat_t = -1.0
        self._locked = False
        self._phase_doubt = 0
        self._phase_doubt_err = 0.0
        self._level_doubt = 0
        self._level_doubt_P = 0.0
        self._since_tempo_change_s = 1e9
        self.confidence = 0.0
        self.tracker_bpm = 0.0
        self.beat_count = 0
        self.last_beat_t = -1.0
        self.beats_per_bar = max(1, int(cfg.beats_per_bar))
        self._bar_acc = np.zeros(self.beats_per_bar)
        self._downbeat_slot = 0
        self._pending_downbeat: list[tuple[float, int]] = []
        # overrides (written from control threads; read in process under the lock)
        self._tapper = TapTempo(bpm_min=20.0, bpm_max=400.0)   # the analyzer's manual range
        self._tap_period_s = 0.0
        self._tap_anchor_t = -1.0
        self._tap_set_t = -1.0
        self._manual_bpm = 0.0
        self._phase_anchor_t = -1.0

    # ----------------------------------------------------------------------------- controls
    def set_bpm_range(self, bpm_min: float, bpm_max: float) -> None:
        """Set the tempo range the tracker considers. Not for the audio thread."""
        lo, hi = float(bpm_min), float(bpm_max)
        if not (20.0 <= lo < hi <= 400.0):
            raise ValueError(f"bpm range must satisfy 20 <= bpm_min < bpm_max <= 400, got {lo}..{hi}")
        lag_min = 60.0 * self._fps / hi
        lag_max = 60.0 * self._fps / lo
        step = max(0.1, min(0.25, (lag_max - lag_min) / 400.0))
        lags = np.arange(lag_min, lag_max + step, step)
        max_lag = 0.8 * self._L
        harm = np.arange(1, _N_HARMONICS + 1)
        idx = lags[:, None] * harm[None, :]
        valid = idx < max_lag - 1
        idx = np.where(valid, idx, 0.0)
        bpms = 60.0 * self._fps / lags
        with self._lock:
            self._bpm_min, self._bpm_max = lo, hi
            self._cand_lags = lags
            self._cand_i0 = np.floor(idx).astype(np.intp)
            self._cand_f = idx - self._cand_i0
            self._cand_valid = valid.astype(np.float64)
            self._cand_nvalid = np.maximum(valid.sum(1), 1)
            self._score_acc = np.zeros(lags.size)
            self._cand_bpm = bpms
            self._set_prior()

    def _set_prior(self) -> None:
        if self.prior_oct > 0:
            z = np.log2(self._cand_bpm / self.prior_bpm) / self.prior_oct
            self._prior = np.exp(-0.5 * z * z)
        else:
            self._prior = np.ones(self._cand_bpm.size)

    def tap(self, *, t_s: float) -> None:
        """Register a tap at audio time ``t_s`` (s). Four taps set the BPM and the beat phase,
        by the one set of tap rules (:class:`live.control.tap.TapTempo`: a pause over 2 s starts
        again, a sloppy tap is ignored, the phase is fitted to the kept taps)."""
        t = float(t_s)
        with self._lock:
            bpm = self._tapper.tap(t_s=t)
            if self._manual_bpm > 0:
                self._phase_anchor_t = t
                return
            if bpm > 0 and self._tapper.taps_in_sequence >= self._tapper.min_taps:
                self._tap_period_s = 60.0 / bpm
                self._tap_anchor_t = self._tapper.anchor_s
                self._tap_set_t = t
                self._phase_anchor_t = self._tap_anchor_t

    def release_tap(self) -> None:
        with self._lock:
            self._tapper.release()
            self._tap_period_s = 0.0
            self._tap_anchor_t = -1.0

    def set_manual_bpm(self, bpm: float | None) -> None:
        value = float(bpm or 0.0)
        if value and not (20.0 <= value <= 400.0):
            raise ValueError(f"manual BPM must be within 20..400, got {value}")
        with self._lock:
            self._manual_bpm = value

    @property
    def tempo_source(self) -> str:
        if self._manual_bpm > 0:
            return "manual"
        if self._tap_period_s > 0:
            return "tap"
        if self.tracker_bpm > 0:
            return "tracker"
        return "none"

    @property
    def beat_in_bar(self) -> int:
        """Position of the latest beat in its bar, 1 = downbeat (0 before the first beat)."""
        if self.beat_count == 0:
            return 0
        bpb = max(1, self.beats_per_bar)
        return (self.beat_count - self._downbeat_slot) % bpb + 1

    @property
    def period_s(self) -> float:
        return self._period_s

    # ------------------------------------------------------------------------------ process
    def process(self, logmel: np.ndarray, *, audible: bool, t: float) -> tuple[float, float]:
        """Take one hop's ``(n_mel,)`` log-mel spectrum ending at audio time ``t`` (s).

        Returns ``(beat_phase, bar_phase)``; beats are counted in ``beat_count`` / ``last_beat_t``.
        """
        diff = np.subtract(logmel, self._mel_prev, out=self._mel_diff)
        self._mel_prev[:] = logmel
        if not self._primed:
            self._primed = True
            diff[:] = 0.0
        np.maximum(diff, 0.0, out=diff)
        flux = float(diff.sum())
        low = float(diff[:self._n_low].sum())
        return self.process_envelope(flux, low, audible=audible, t=t)

    def process_envelope(self, flux: float, low: float, *, audible: bool, t: float) -> tuple[float, float]:
        """The tracker after the onset envelope: one hop's onset strength ``flux`` and downbeat
        evidence ``low`` (kick-band flux here; the neural tracker feeds its activations)."""
        am = self._a_odf_mean
        self._odf_mean = am * self._odf_mean + (1.0 - am) * flux
        odf = flux - self._odf_mean
        if odf < 0.0 or not audible:
            odf = 0.0
        i = self._ring_i
        L = self._L
        self._odf[i] = self._odf[i + L] = odf
        self._low[i] = self._low[i + L] = low if audible else 0.0
        # cumulative beat score (causal DP): best predecessor about one period back
        cs = 0.0
        if self._dp_w.size:
            seg = self._cs[i + L - self._dp_hi:i + L - self._dp_lo + 1]   # v = n-hi .. n-lo
            cs = float(np.max(seg * self._dp_w))
        cs = (1.0 - self.dp_alpha) * odf + self.dp_alpha * cs
        self._cs[i] = self._cs[i + L] = cs
        self._ring_i = i + 1 if i + 1 < L else 0
        self._hops += 1

        with self._lock:
            if self._hops % self._update_every == 0:
                self._update_tempo(t, audible)
            beat_phase = self._run_flywheel(t, audible)
            bar_phase = self._bar_phase(beat_phase)
        return beat_phase, bar_phase

    @property
    def bpm(self) -> float:
        if self.tempo_source == "none" or self._period_s <= 0:
            return 0.0
        return 60.0 / self._period_s

    # ------------------------------------------------------------------------- tempo internals
    def _recent(self, buf: np.ndarray) -> np.ndarray:
        """The last L values of a doubled ring buffer, oldest first (a view)."""
        i = self._ring_i
        return buf[i:i + self._L]

    def _set_dp_period(self, P: float) -> None:
        """Transition window of the cumulative score for a beat period of P hops."""
        if self._dp_P and abs(P / self._dp_P - 1.0) < 0.01:
            return
        lo = max(1, int(round(0.5 * P)))
        hi = min(self._L - 1, int(round(2.0 * P)))
        d = np.arange(hi, lo - 1, -1, dtype=np.float64)      # v = n-hi .. n-lo  ->  n-v = hi .. lo
        self._dp_w = np.exp(-0.5 * (self.dp_tight * np.log(d / P)) ** 2)
        self._dp_lo, self._dp_hi, self._dp_P = lo, hi, P

    def _update_tempo(self, t: float, audible: bool) -> None:
        env = self._recent(self._odf)
        x = env - env.mean()
        if self.acf_tau_s > 0:
            if self._acf_w is None:
                self._acf_w = np.exp(-np.arange(self._L - 1, -1, -1) / (self.acf_tau_s * self._fps))
            x *= self._acf_w
        spec = np.fft.rfft(x, self._nfft)
        ac = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, self._nfft)
        ac0 = ac[0]
        if ac0 <= 1e-9 or not audible:
            self._score_acc *= 0.9
            self.confidence *= 0.9
            return
        ac = ac / ac0
        i0, f = self._cand_i0, self._cand_f
        teeth = (ac[i0] * (1.0 - f) + ac[i0 + 1] * f) * self._cand_valid
        comb = teeth.sum(1) / self._cand_nvalid
        a = self.score_ema
        self._score_acc = a * self._score_acc + (1.0 - a) * comb
        acc = self._score_acc
        sal = acc * self._prior
        j = int(np.argmax(sal))
        lag = self._cand_lags[j]
        if 0 < j < sal.size - 1:            # parabolic refinement
            a_, b_, c_ = sal[j - 1], sal[j], sal[j + 1]
            den = a_ - 2 * b_ + c_
            if den < 0:
                lag += 0.5 * (a_ - c_) / den * (self._cand_lags[1] - self._cand_lags[0])
        self.confidence = float(min(1.0, max(0.0, 2.0 * acc[j])))
        period_s = lag / self._fps
        self.tracker_bpm = 60.0 / period_s
        self._since_tempo_change_s += self._update_every * self._hop_s

        if self._manual_bpm > 0 or self._tap_period_s > 0:
            self._set_dp_period(self._period_s * self._fps if self._period_s > 0 else lag)
            return
        if self.confidence < self.config.beat_min_confidence:
            return
        if not self._locked or self._period_s <= 0:
            self._period_s = period_s
            self._set_dp_period(lag)
            self._since_tempo_change_s = 0.0
            if self.recompute_cs:
                self._rebuild_cs()
            bt = self._measured_beat(t)
            if bt is None:
                return
            bt = bt[0]
            self._next_beat_t = bt + period_s * math.ceil((t - bt) / period_s + 1e-9)
            self._locked = True
            return
        # tempo: follow smoothly when close; another level or a far tempo must persist first
        ratio = period_s / self._period_s
        if abs(ratio - 1.0) < 0.06:
            self._period_s += 0.25 * (period_s - self._period_s)
            self._level_doubt = 0
        else:
            if self._level_doubt and abs(period_s / self._level_doubt_P - 1.0) < 0.06:
                self._level_doubt += 1
            else:
                self._level_doubt, self._level_doubt_P = 1, period_s
            if self._level_doubt * self._update_every * self._hop_s >= self.level_hold_s:
                self._period_s = period_s
                self._level_doubt = 0
                self._since_tempo_change_s = 0.0
                self._set_dp_period(self._period_s * self._fps)
                if self.recompute_cs:
                    self._rebuild_cs()
        self._set_dp_period(self._period_s * self._fps)
        bt = self._measured_beat(t)
        if bt is None:
            return
        bt, best_cs, cur_cs = bt
        Pf = self._period_s
        k = round((self._next_beat_t - bt) / Pf)
        err = bt + k * Pf - self._next_beat_t
        err = (err + 0.5 * Pf) % Pf - 0.5 * Pf
        if abs(err) < 0.12 * Pf:
            self._next_beat_t += self.nudge * err
            self._phase_doubt = 0
            return
        if best_cs < self.relock_margin * cur_cs:     # the flywheel's own grid is nearly as good
            self._phase_doubt = max(0, self._phase_doubt - 1)
            return
        if self._phase_doubt and abs(((err - self._phase_doubt_err) + 0.5 * Pf) % Pf - 0.5 * Pf) < 0.1 * Pf:
            self._phase_doubt += 1
        else:
            self._phase_doubt, self._phase_doubt_err = 1, err
        hold = self.relock_s if self._since_tempo_change_s > 3.0 else 0.4 * self.relock_s
        if self._phase_doubt * self._update_every * self._hop_s > hold:
            self._next_beat_t += err
            self._phase_doubt = 0

    def _rebuild_cs(self) -> None:
        """Recompute the cumulative beat score over the whole history for the current period.

        Run once when the tempo is first found or jumps, so the beat grid of the new tempo is
        known at once instead of after the old chains have faded (~1-3 ms, rare)."""
        L = self._L
        if not self._dp_w.size:
            return
        env = self._recent(self._odf).copy()
        cs = np.zeros(L)
        lo, hi, w, a = self._dp_lo, self._dp_hi, self._dp_w, self.dp_alpha
        for n in range(L):
            prev = 0.0
            if n - lo >= 0:
                s0 = n - hi
                seg = cs[max(0, s0):n - lo + 1]
                prev = float(np.max(seg * w[max(0, -s0):])) if seg.size else 0.0
            cs[n] = (1.0 - a) * env[n] + a * prev
        i = self._ring_i
        # unroll the linear history back into the doubled ring (oldest at index i)
        idx = (i + np.arange(L)) % L
        self._cs[idx] = cs
        self._cs[idx + L] = cs

    def _measured_beat(self, t: float):
        """Latest beat by the cumulative score: (time_s, its score, score on the flywheel's grid)."""
        P = self._dp_P
        if P <= 0:
            return None
        cs = self._recent(self._cs)
        n_last = self._L - 1
        m = int(round(P))
        seg = cs[n_last - m + 1:]
        if seg.size == 0:
            return None
        j = int(np.argmax(seg))
        best = float(seg[j])
        if best <= 0.0:
            return None
        back = m - 1 - j                           # hops before the newest frame
        # the flywheel's last beat, as an envelope frame
        fb = (t - (self._next_beat_t - self._period_s)) * self._fps - self.odf_lag_hops
        fb = fb % P if P > 0 else 0.0
        k = n_last - int(round(fb))
        cur = float(cs[max(0, k - 2):min(n_last + 1, k + 3)].max()) if 0 <= k <= n_last else 0.0
        return t - (back + self.odf_lag_hops) * self._hop_s, best, cur

    def _run_flywheel(self, t: float, audible: bool) -> float:
        """Advance the beat flywheel to time ``t``; emit the beats that fell in this hop."""
        hop_s = self._hop_s
        override = self._manual_bpm > 0 or self._tap_period_s > 0
        if self._tap_period_s > 0 and self.config.tap_timeout_s > 0:
            if t - self._tap_set_t > self.config.tap_timeout_s:
                self._tap_period_s = 0.0
                override = self._manual_bpm > 0
        if self._manual_bpm > 0:
            self._period_s = 60.0 / self._manual_bpm
        elif self._tap_period_s > 0:
            self._period_s = self._tap_period_s
        if override:
            if self._next_beat_t < 0:
                self._next_beat_t = t
            if self._phase_anchor_t >= 0:
                a, P = self._phase_anchor_t, self._period_s
                self._next_beat_t = a + P * max(0, math.ceil((t - hop_s - a) / P - 1e-9))
                self._phase_anchor_t = -1.0
        elif not self._locked and self.tracker_bpm <= 0:
            return 0.0
        P = self._period_s
        if P <= 0:
            return 0.0
        emit = override or (audible and self.confidence >= self.config.beat_min_confidence)
        hop_start = t - hop_s
        if self._next_beat_t < hop_start - P:        # fell far behind (e.g. after a stop)
            self._next_beat_t += P * math.floor((hop_start - self._next_beat_t) / P)
        while self._next_beat_t <= t:
            bt = self._next_beat_t
            if emit and (self.last_beat_t < 0 or bt - self.last_beat_t > 0.5 * P):
                bt = max(bt, hop_start)
                self.beat_count += 1
                self.last_beat_t = bt
                self._pending_downbeat.append((bt, self.beat_count))
            self._next_beat_t += P
        self._score_downbeats(t)
        return float(min(max(1.0 - (self._next_beat_t - t) / P, 0.0), 0.999999))

    def _score_downbeats(self, t: float) -> None:
        """Credit kick-band energy near past beats to their slot in the bar (delayed, causal)."""
        if not self._pending_downbeat:
            return
        wait = (self.odf_lag_hops + 2.0) * self._hop_s
        while self._pending_downbeat and t - self._pending_downbeat[0][0] >= wait:
            bt, count = self._pending_downbeat.pop(0)
            back = int(round((t - bt) / self._hop_s))
            n_last = self._L - 1
            lo = max(0, n_last - back - 1)
            hi = min(n_last + 1, n_last - back + 4)
            seg = self._recent(self._low)[lo:hi]
            val = float(seg.max()) if seg.size else 0.0
            slot = count % self.beats_per_bar
            self._bar_acc[slot] = 0.8 * self._bar_acc[slot] + 0.2 * val
            best = int(np.argmax(self._bar_acc))
            if self._bar_acc[best] > 1.15 * self._bar_acc[self._downbeat_slot]:
                self._downbeat_slot = best

    def _bar_phase(self, beat_phase: float) -> float:
        bpb = self.beats_per_bar
        if self.beat_count == 0 or bpb <= 1:
            return beat_phase if bpb <= 1 else 0.0
        pos = (self.beat_count - self._downbeat_slot) % bpb
        return (pos + beat_phase) / bpb
