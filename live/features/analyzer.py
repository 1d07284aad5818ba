"""The causal, hop-by-hop feature analyzer of latent-live.

One :class:`Analyzer` is built once per stream. Every aubio object it owns (phase vocoder,
filterbank, onset detector, spectral descriptor, DC-blocking biquad) is allocated in
``__init__`` and fed *every* hop, because aubio objects are stateful. ``process(hop)`` turns one
hop of mono samples into an immutable :class:`~live.types.FeatureFrame` stamped with the audio
time at the end of that hop: nothing in it looks ahead.

Tempo and beats
---------------
aubio's own ``tempo`` object locks onto 1/2 or 2/3 of the tempo on fast songs and reports beats
late. The tracker here uses aubio only for the spectrum: an onset-strength envelope (log
mel-filterbank spectral flux) goes into a ring buffer; every ~46 ms its autocorrelation is scored
with a harmonic comb over the *preferred* BPM range (``bpm_min``..``bpm_max``), which is the
metrical-level correction (the comb sums the beat period and its multiples, so the beat level wins
over 2/3 and 1/2 locks); a phase comb then finds where the beats sit. A flywheel (a phase-locked
loop) emits beats at its own predicted times, one at a time, in the hop where they fall, so each
beat is reported less than one hop after it sounds; the tracker only nudges the flywheel's phase
and period. Tap tempo and a manual BPM override the tracker until released.
"""
from __future__ import annotations

import math
import threading

import aubio
import numpy as np

from live.config import FeaturesConfig
from live.types import FeatureFrame

_EPS_AMP = 1e-5           # -100 dBFS: below this a level counts as silence
_ODF_LAG_HOPS = 1.6       # onset envelope peak lags the sound by ~this many hops (calibrated, 2048/512)
_UPDATE_S = 0.046         # tempo/phase re-estimation period
_N_HARMONICS = 4          # comb teeth for the tempo score
_N_PHASE_BEATS = 6        # past beats weighed by the phase comb
_TAP_RESET_S = 2.0        # a pause longer than this starts a new tap sequence


def _next_pow2(n: float) -> int:
    return 1 << max(0, int(math.ceil(math.log2(max(1.0, n)))))


class Analyzer:
    """Causal audio feature engine: one hop in, one :class:`FeatureFrame` out.

    Parameters
    ----------
    sample_rate_hz:
        Sample rate of the hops that will be fed (8 kHz to 192 kHz).
    config:
        ``[features]`` settings; defaults when None.

    Attributes
    ----------
    hop_size:
        Samples per hop that :meth:`process` expects (``config.hop_size``).
    win_size:
        Phase-vocoder window actually used (``config.win_size`` scaled to the sample rate).
    """

    def __init__(self, *, sample_rate_hz: int = 44100, config: FeaturesConfig | None = None):
        cfg = config or FeaturesConfig()
        sr = int(sample_rate_hz)
        if sr < 4000 or sr > 384000:
            raise ValueError(f"sample rate {sample_rate_hz} Hz is out of range (4000..384000)")
        hop = int(cfg.hop_size)
        if hop < 32 or hop & (hop - 1):
            raise ValueError(f"features.hop_size must be a power of two >= 32, got {hop}")
        self.config = cfg
        self.sample_rate_hz = sr
        self.hop_size = hop
        # Keep the window's duration (and so time/frequency resolution) independent of the rate.
        win = max(hop, _next_pow2(cfg.win_size * sr / 44100.0 * 0.999))
        self.win_size = win
        self._hop_s = hop / sr
        self._fps = sr / hop
        nbins = win // 2 + 1
        freqs = np.arange(nbins) * (sr / win)

        # --- aubio objects, fed every hop -------------------------------------------------
        self._hp = aubio.digital_filter(3)
        self._hp.set_biquad(*_butter_highpass(15.0, sr))       # DC blocker
        self._pvoc = aubio.pvoc(win, hop)
        self._centroid = aubio.specdesc("centroid", win)
        self._onset = aubio.onset(str(cfg.onset_method), win, hop, sr)
        self._onset.set_threshold(float(cfg.onset_threshold))
        self._onset.set_minioi_s(float(cfg.onset_min_interval_s))
        # aubio's own silence gate looks at the hop *after* the peak and so drops short, isolated
        # hits (a click followed by silence); the analyzer gates on its own smoothed level instead.
        self._onset.set_silence(-120.0)
        n_mel = 40
        self._fb = aubio.filterbank(n_mel, win)
        self._fb.set_mel_coeffs(float(sr), 30.0, float(min(16000.0, 0.49 * sr)))
        fb_coeffs = np.asarray(self._fb.get_coeffs())
        centre_hz = (fb_coeffs * freqs[None, :]).sum(1) / np.maximum(fb_coeffs.sum(1), 1e-12)
        self._low_mel = np.flatnonzero(centre_hz < 150.0)      # kick-drum bands for downbeats
        if self._low_mel.size == 0:
            self._low_mel = np.array([0])

        # --- preallocated buffers -----------------------------------------------------------
        self._x = np.zeros(hop, dtype=np.float32)
        self._power = np.zeros(nbins, dtype=np.float32)

        # --- bands ----------------------------------------------------------------------------
        wnd = np.hanning(win + 1)[:win]   # aubio's default "hanningz"
        # Parseval on a one-sided spectrum: mean square of the windowed signal.
        self._power_scale = 2.0 / (win * float(np.sum(wnd ** 2)))
        edges = [tuple(cfg.bass_hz), tuple(cfg.mid_hz), tuple(cfg.treble_hz)]
        self._band_masks = np.zeros((3, nbins), dtype=np.float64)
        for i, (lo, hi) in enumerate(edges):
            lo_c, hi_c = max(float(lo), 1.0), min(float(hi), sr / 2.0)
            if hi_c > lo_c:
                self._band_masks[i, (freqs >= lo_c) & (freqs < hi_c)] = 1.0
        a_rise = math.exp(-self._hop_s / max(cfg.rise_s, 1e-4))
        a_decay = math.exp(-self._hop_s / max(cfg.decay_s, 1e-4))
        self._a_rise, self._a_decay = a_rise, a_decay
        self._a_norm = math.exp(-self._hop_s / max(cfg.norm_window_s, self._hop_s))
        self._norm_w = 0.0          # 1 - a^n, the EMA bias correction

        # --- chroma: (nbins_in_range, 12) weights, Gaussian in semitone distance ----------------
        lo_hz, hi_hz = 55.0, min(5000.0, 0.45 * sr)
        sel = np.flatnonzero((freqs >= lo_hz) & (freqs <= hi_hz))
        self._chroma_bins = sel
        midi = 69.0 + 12.0 * np.log2(freqs[sel] / 440.0)
        pcs = np.arange(12)
        # distance from each bin to each pitch class, wrapped to [-6, 6) semitones
        d = ((midi[:, None] - pcs[None, :]) + 6.0) % 12.0 - 6.0
        # bins wider than a semitone (low notes) get wider kernels so they still land somewhere
        semis_per_bin = 12.0 * np.log2((freqs[sel] + sr / win) / freqs[sel])
        sigma = np.maximum(0.5, 0.5 * semis_per_bin)[:, None]
        self._chroma_w = np.exp(-0.5 * (d / sigma) ** 2)
        self._chroma_w /= self._chroma_w.sum(1, keepdims=True)
        self._zero_chroma = np.zeros(12, dtype=np.float32)
        self._zero_chroma.flags.writeable = False

        # One matrix maps the power spectrum to 3 band powers + 12 chroma bins in a single
        # BLAS call per hop; the mel matrix (aubio's filterbank coefficients) maps magnitudes.
        proj = np.zeros((15, nbins), dtype=np.float32)
        proj[:3] = self._band_masks * self._power_scale
        proj[3:, sel] = self._chroma_w.T
        self._proj = proj
        self._proj_out = np.zeros(15, dtype=np.float32)
        self._mel_m = np.ascontiguousarray(fb_coeffs * 100.0, dtype=np.float32)  # log1p(100 x) compression
        self._mel_out = np.zeros(n_mel, dtype=np.float32)
        self._n_low = int(self._low_mel[-1]) + 1       # mel bands are ordered by frequency
        self._mel_a = np.zeros(n_mel, dtype=np.float32)
        self._mel_b = np.zeros(n_mel, dtype=np.float32)
        self._mel_diff = np.zeros(n_mel, dtype=np.float32)
        self._band_smooth_l = [0.0, 0.0, 0.0]
        self._band_avg_l = [0.0, 0.0, 0.0]

        # --- onset bookkeeping --------------------------------------------------------------
        self._onset_peak = 1e-9
        self._a_onset_peak = math.exp(-self._hop_s / 8.0)
        self._onset_count = 0
        self._last_onset_t = -1.0

        # --- loudness gate ----------------------------------------------------------------------
        self._silence_db = float(cfg.onset_silence_db)
        self._a_gate = math.exp(-self._hop_s / 0.15)
        self._gate_ms = 0.0
        self._gate_ms_min = 10.0 ** (self._silence_db / 10.0)
        self._bin_hz = sr / win
        self._dc_ms = 0.0

        # --- tempo tracker: onset envelope ring (doubled, so the last L are contiguous) -------
        self._L = int(round(float(cfg.tempo_window_s) * self._fps))
        self._L = max(self._L, 16)
        self._odf = np.zeros(2 * self._L, dtype=np.float64)
        self._low = np.zeros(2 * self._L, dtype=np.float64)     # kick-band flux, for downbeats
        self._ring_i = 0
        self._odf_mean = 0.0
        self._a_odf_mean = math.exp(-self._hop_s / 0.5)
        self._nfft = _next_pow2(2 * self._L)
        self._update_every = max(1, int(round(_UPDATE_S * self._fps)))
        self._hops = 0
        self._t = 0.0
        self._lock = threading.Lock()
        self.set_bpm_range(cfg.bpm_min, cfg.bpm_max)

        # flywheel state
        self._period_s = 0.0        # current beat period used by the flywheel (0 = none)
        self._next_beat_t = -1.0
        self._locked = False
        self._phase_doubt = 0
        self._phase_doubt_err = 0.0
        self._confidence = 0.0
        self._tracker_bpm = 0.0
        self._beat_count = 0
        self._last_beat_t = -1.0
        self._beats_per_bar = max(1, int(cfg.beats_per_bar))
        self._bar_acc = np.zeros(self._beats_per_bar)
        self._downbeat_slot = 0
        self._pending_downbeat: list[tuple[float, int]] = []
        # overrides (written from control threads; read in process under the lock)
        self._taps: list[float] = []
        self._tap_period_s = 0.0
        self._tap_anchor_t = -1.0
        self._tap_set_t = -1.0
        self._manual_bpm = 0.0
        self._phase_anchor_t = -1.0      # pending re-phase request (beat at this time)

    # ----------------------------------------------------------------------------- controls
    def set_bpm_range(self, bpm_min: float, bpm_max: float) -> None:
        """Set the preferred tempo range (metrical-level correction). Not for the audio thread."""
        lo, hi = float(bpm_min), float(bpm_max)
        if not (20.0 <= lo < hi <= 400.0):
            raise ValueError(f"bpm range must satisfy 20 <= bpm_min < bpm_max <= 400, got {lo}..{hi}")
        lag_min = 60.0 * self._fps / hi
        lag_max = 60.0 * self._fps / lo
        step = max(0.1, min(0.25, (lag_max - lag_min) / 400.0))
        lags = np.arange(lag_min, lag_max + step, step)
        # a comb tooth must stay inside a useful part of the autocorrelation
        max_lag = 0.8 * self._L
        harm = np.arange(1, _N_HARMONICS + 1)
        idx = lags[:, None] * harm[None, :]
        valid = idx < max_lag - 1
        idx = np.where(valid, idx, 0.0)
        with self._lock:
            self._bpm_min, self._bpm_max = lo, hi
            self._cand_lags = lags
            self._cand_i0 = np.floor(idx).astype(np.intp)
            self._cand_f = idx - self._cand_i0
            self._cand_valid = valid.astype(np.float64)
            self._cand_nvalid = np.maximum(valid.sum(1), 1)
            self._score_acc = np.zeros(lags.size)
            k = np.arange(_N_PHASE_BEATS)
            self._phase_k = k
            self._phase_w = 0.75 ** k
            self._phase_grid = np.arange(0.0, lag_max + 1.0, 0.5)

    def tap(self, *, t_s: float) -> None:
        """Register a tap at audio time ``t_s`` (s). Four taps set the BPM and the beat phase.

        Under a manual BPM a single tap re-aligns the phase (the tap is a beat). Safe to call from
        another thread than the one calling :meth:`process`.
        """
        t = float(t_s)
        with self._lock:
            if self._taps and (t - self._taps[-1] > _TAP_RESET_S or t <= self._taps[-1]):
                self._taps.clear()
            self._taps.append(t)
            del self._taps[:-8]
            if self._manual_bpm > 0:
                self._phase_anchor_t = t
                return
            if len(self._taps) >= 4:
                taps = np.asarray(self._taps)
                n = np.arange(taps.size)
                slope, icpt = np.polyfit(n, taps, 1)      # least-squares beat grid through the taps
                if slope > 0.15:
                    self._tap_period_s = float(slope)
                    self._tap_anchor_t = float(icpt + slope * n[-1])
                    self._tap_set_t = t
                    self._phase_anchor_t = self._tap_anchor_t

    def release_tap(self) -> None:
        """Give the tempo back to the tracker (or the manual BPM, if one is set)."""
        with self._lock:
            self._taps.clear()
            self._tap_period_s = 0.0
            self._tap_anchor_t = -1.0

    def set_manual_bpm(self, bpm: float | None) -> None:
        """Force the tempo to ``bpm``; ``None`` or 0 releases it. The beat phase carries on."""
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
        if self._tracker_bpm > 0:
            return "tracker"
        return "none"

    @property
    def time_s(self) -> float:
        """Audio time (s) at the end of the last processed hop."""
        return self._t

    # ------------------------------------------------------------------------------ process
    def process(self, hop: np.ndarray) -> FeatureFrame:
        """Analyse one hop and return its features.

        Parameters
        ----------
        hop:
            ``(hop_size,)`` mono samples, nominally in [-1, 1] (float; clipped, NaN-safe).

        Returns
        -------
        FeatureFrame with ``t`` = audio time at the end of this hop.
        """
        x = self._x
        h = hop if isinstance(hop, np.ndarray) else np.asarray(hop)
        if h.shape != x.shape:
            if h.ndim == 2 and h.shape[0] == self.hop_size:
                h = h.mean(axis=1)
            else:
                raise ValueError(f"expected a hop of shape ({self.hop_size},), got {h.shape}")
        x[:] = h
        if not math.isfinite(float(x.sum())):
            np.nan_to_num(x, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        np.clip(x, -1.0, 1.0, out=x)
        y = self._hp(x)                      # DC blocker: an offset never reads as sound
        self._hops += 1
        t = self._hops * self._hop_s
        self._t = t

        ms = float(np.dot(y, y)) / self.hop_size
        rms = math.sqrt(ms)
        loud_db = 20.0 * math.log10(rms) if rms > 1e-6 else -120.0
        self._gate_ms = self._a_gate * self._gate_ms + (1.0 - self._a_gate) * ms
        audible = self._gate_ms > self._gate_ms_min

        spec = self._pvoc(y)
        norm = spec.norm
        power = self._power
        np.multiply(norm, norm, out=power)
        proj = np.dot(self._proj, power, out=self._proj_out)

        # bands: raw 0..1 (dBFS mapped from -70..0) and self-normalised _att (plain floats:
        # three values are cheaper in Python than in numpy)
        an = self._a_norm
        self._norm_w = nw = an * self._norm_w + (1.0 - an)
        bsl, avl = self._band_smooth_l, self._band_avg_l
        raw = [0.0, 0.0, 0.0]
        att = [1.0, 1.0, 1.0]
        for b, bms in enumerate(proj[:3].tolist()):
            amp = math.sqrt(bms) if bms > 0 else 0.0
            s_ = bsl[b]
            s_ += (1.0 - (self._a_rise if amp > s_ else self._a_decay)) * (amp - s_)
            bsl[b] = s_
            avl[b] = m_ = an * avl[b] + (1.0 - an) * s_
            att[b] = min(4.0, (s_ + _EPS_AMP) / (m_ / nw + _EPS_AMP))
            raw[b] = min(1.0, max(0.0, 1.0 + 20.0 * math.log10(s_) / 70.0)) if s_ > 1e-9 else 0.0

        # chroma from the same spectrum
        chroma_raw = proj[3:]
        cmax = float(chroma_raw.max())
        if audible and cmax > 1e-12:
            chroma = chroma_raw * (1.0 / cmax)
            chroma.flags.writeable = False
        else:
            chroma = self._zero_chroma
        centroid_hz = float(self._centroid(spec)[0]) * self._bin_hz if audible else 0.0

        # onsets (aubio), strength normalised against a decaying peak
        fired = self._onset(y)[0] > 0
        desc = float(self._onset.get_descriptor())
        if not desc > 0.0:                     # also catches NaN
            desc = 0.0
        pk = self._onset_peak * self._a_onset_peak
        self._onset_peak = pk = desc if desc > pk else max(pk, 1e-9)
        strength = min(1.0, desc / pk) if audible else 0.0
        if fired and audible:
            self._onset_count += 1
            self._last_onset_t = min(t, max(0.0, float(self._onset.get_last_s())))

        # onset envelope for the tempo tracker: log-mel spectral flux (aubio's mel filterbank)
        cur, prev = self._mel_a, self._mel_b
        np.dot(self._mel_m, norm, out=cur)
        np.log1p(cur, out=cur)
        diff = np.subtract(cur, prev, out=self._mel_diff)
        self._mel_a, self._mel_b = prev, cur
        np.maximum(diff, 0.0, out=diff)
        flux = float(diff.sum())
        low = float(diff[:self._n_low].sum())
        am = self._a_odf_mean
        self._odf_mean = am * self._odf_mean + (1.0 - am) * flux
        odf = flux - self._odf_mean
        if odf < 0.0 or not audible:
            odf = 0.0
        i = self._ring_i
        L = self._L
        self._odf[i] = self._odf[i + L] = odf
        self._low[i] = self._low[i + L] = low if audible else 0.0
        self._ring_i = i + 1 if i + 1 < L else 0

        with self._lock:
            if self._hops % self._update_every == 0:
                self._update_tempo(t, audible)
            beat_phase = self._run_flywheel(t, audible)
            bar_phase = self._bar_phase(beat_phase)
            bpm = 60.0 / self._period_s if self._period_s > 0 else 0.0
            source = self.tempo_source
            if source == "none":
                bpm = 0.0

        return FeatureFrame(
            t=t,
            hop_index=self._hops - 1,
            rms=rms,
            loudness_db=max(-120.0, loud_db),
            bass=raw[0], mid=raw[1], treble=raw[2],
            bass_att=att[0], mid_att=att[1], treble_att=att[2],
            onset=strength,
            onset_count=self._onset_count,
            last_onset_t=self._last_onset_t,
            bpm=bpm,
            bpm_confidence=self._confidence if source == "tracker" else (1.0 if source != "none" else 0.0),
            tempo_source=source,
            beat_count=self._beat_count,
            last_beat_t=self._last_beat_t,
            beat_phase=beat_phase,
            bar_phase=bar_phase,
            beats_per_bar=self._beats_per_bar,
            chroma=chroma,
            centroid_hz=centroid_hz,
        )

    # ------------------------------------------------------------------------- tempo internals
    def _recent(self, buf: np.ndarray) -> np.ndarray:
        """The last L values of a doubled ring buffer, oldest first (a view)."""
        i = self._ring_i
        return buf[i:i + self._L]

    def _update_tempo(self, t: float, audible: bool) -> None:
        env = self._recent(self._odf)
        x = env - env.mean()
        spec = np.fft.rfft(x, self._nfft)
        ac = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, self._nfft)
        ac0 = ac[0]
        if ac0 <= 1e-9 or not audible:
            self._score_acc *= 0.9
            self._confidence *= 0.9
            return
        ac = ac / ac0
        i0, f = self._cand_i0, self._cand_f
        teeth = (ac[i0] * (1.0 - f) + ac[i0 + 1] * f) * self._cand_valid
        score = teeth.sum(1) / self._cand_nvalid
        self._score_acc = 0.85 * self._score_acc + 0.15 * score
        acc = self._score_acc
        j = int(np.argmax(acc))
        lag = self._cand_lags[j]
        if 0 < j < acc.size - 1:            # parabolic refinement
            a, b, c = acc[j - 1], acc[j], acc[j + 1]
            den = a - 2 * b + c
            if den < 0:
                lag += 0.5 * (a - c) / den * (self._cand_lags[1] - self._cand_lags[0])
        self._confidence = float(min(1.0, max(0.0, 2.0 * acc[j])))
        period_s = lag / self._fps
        self._tracker_bpm = 60.0 / period_s

        # phase: where do the beats of this period sit in the recent envelope?
        P = lag
        n_last = self._L - 1
        phis = self._phase_grid[self._phase_grid < P]
        pos = n_last - phis[:, None] - self._phase_k[None, :] * P
        ok = pos >= 0
        pos = np.where(ok, pos, 0.0)
        p0 = np.floor(pos).astype(np.intp)
        pf = pos - p0
        p1 = np.minimum(p0 + 1, n_last)
        vals = (env[p0] * (1.0 - pf) + env[p1] * pf) * ok
        ph_score = vals @ self._phase_w
        phi = float(phis[int(np.argmax(ph_score))])
        # the most recent measured beat: envelope frame (n_last - phi) ends at t - phi hops,
        # and the envelope lags the sound by _ODF_LAG_HOPS
        beat_meas_t = t - (phi + _ODF_LAG_HOPS) * self._hop_s

        if self._manual_bpm > 0 or self._tap_period_s > 0:
            return
        if self._confidence < self.config.beat_min_confidence:
            return
        if not self._locked or self._period_s <= 0:
            self._period_s = period_s
            self._next_beat_t = beat_meas_t + period_s * math.ceil((t - beat_meas_t) / period_s + 1e-9)
            self._locked = True
            return
        # tempo: follow smoothly when close, jump when the tracker settled elsewhere
        ratio = period_s / self._period_s
        if abs(ratio - 1.0) < 0.06:
            self._period_s += 0.25 * (period_s - self._period_s)
        else:
            self._period_s = period_s
        # phase: nudge the flywheel toward the measured grid
        Pf = self._period_s
        k = round((self._next_beat_t - beat_meas_t) / Pf)
        err = beat_meas_t + k * Pf - self._next_beat_t
        err = (err + 0.5 * Pf) % Pf - 0.5 * Pf
        if abs(err) < 0.12 * Pf:
            # locked: small nudges only, so an off-beat hat or bass line cannot drag the phase
            self._next_beat_t += 0.2 * err
            self._phase_doubt = 0
            return
        # a large error must persist (the same error, ~1.5 s) before the flywheel re-phases
        if self._phase_doubt and abs(((err - self._phase_doubt_err) + 0.5 * Pf) % Pf - 0.5 * Pf) < 0.1 * Pf:
            self._phase_doubt += 1
        else:
            self._phase_doubt, self._phase_doubt_err = 1, err
        if self._phase_doubt * self._update_every * self._hop_s > 1.5:
            self._next_beat_t += err
            self._phase_doubt = 0

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
        elif not self._locked and self._tracker_bpm <= 0:
            return 0.0
        P = self._period_s
        if P <= 0:
            return 0.0
        emit = override or (audible and self._confidence >= self.config.beat_min_confidence)
        hop_start = t - hop_s
        if self._next_beat_t < hop_start - P:        # fell far behind (e.g. after a stop)
            self._next_beat_t += P * math.floor((hop_start - self._next_beat_t) / P)
        while self._next_beat_t <= t:
            bt = self._next_beat_t
            if emit and (self._last_beat_t < 0 or bt - self._last_beat_t > 0.5 * P):
                bt = max(bt, hop_start)
                self._beat_count += 1
                self._last_beat_t = bt
                self._pending_downbeat.append((bt, self._beat_count))
            self._next_beat_t += P
        self._score_downbeats(t)
        return float(min(max(1.0 - (self._next_beat_t - t) / P, 0.0), 0.999999))

    def _score_downbeats(self, t: float) -> None:
        """Credit kick-band energy near past beats to their slot in the bar (delayed, causal)."""
        if not self._pending_downbeat:
            return
        wait = (_ODF_LAG_HOPS + 2.0) * self._hop_s
        while self._pending_downbeat and t - self._pending_downbeat[0][0] >= wait:
            bt, count = self._pending_downbeat.pop(0)
            back = int(round((t - bt) / self._hop_s))
            n_last = self._L - 1
            lo = max(0, n_last - back - 1)
            hi = min(n_last + 1, n_last - back + 4)
            seg = self._recent(self._low)[lo:hi]
            val = float(seg.max()) if seg.size else 0.0
            slot = count % self._beats_per_bar
            self._bar_acc[slot] = 0.8 * self._bar_acc[slot] + 0.2 * val
            best = int(np.argmax(self._bar_acc))
            if self._bar_acc[best] > 1.15 * self._bar_acc[self._downbeat_slot]:
                self._downbeat_slot = best

    def _bar_phase(self, beat_phase: float) -> float:
        bpb = self._beats_per_bar
        if self._beat_count == 0 or bpb <= 1:
            return beat_phase if bpb <= 1 else 0.0
        pos = (self._beat_count - self._downbeat_slot) % bpb
        return (pos + beat_phase) / bpb


def _butter_highpass(fc_hz: float, sr: int) -> tuple[float, float, float, float, float]:
    """Second-order Butterworth high-pass biquad (b0, b1, b2, a1, a2) for aubio.digital_filter."""
    w = math.tan(math.pi * fc_hz / sr)
    q = math.sqrt(2.0)
    n = 1.0 / (1.0 + q * w + w * w)
    b0 = n
    b1 = -2.0 * n
    b2 = n
    a1 = 2.0 * (w * w - 1.0) * n
    a2 = (1.0 - q * w + w * w) * n
    return b0, b1, b2, a1, a2
