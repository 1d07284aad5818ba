"""The causal, hop-by-hop feature analyzer of latent-live.

One :class:`Analyzer` is built once per stream. Every aubio object it owns (phase vocoder,
filterbank, onset detector, spectral descriptor, DC-blocking biquad) is allocated in
``__init__`` and fed *every* hop, because aubio objects are stateful. ``process(hop)`` turns one
hop of mono samples into an immutable :class:`~live.types.FeatureFrame` stamped with the audio
time at the end of that hop: nothing in it looks ahead.

Tempo and beats
---------------
aubio's own ``tempo`` object locks onto 1/2 or 2/3 of the tempo on fast songs and reports beats
late. aubio is used here only for the spectrum: each hop's log-mel spectrum (aubio's mel
filterbank) goes to :class:`live.features.beat.BeatTracker` (comb-filter tempo salience with a
broad prior for the metrical level, a causal cumulative beat score, and a flywheel that emits each
beat in the hop where it falls). Tap tempo and a manual BPM override the tracker until released.
"""
from __future__ import annotations

import math

import aubio
import numpy as np

from live.config import FeaturesConfig
from live.features.beat import BeatTracker
from live.types import FeatureFrame

_EPS_AMP = 1e-5           # -100 dBFS: below this a level counts as silence


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
        self._band_smooth_l = [0.0, 0.0, 0.0]
        self._band_avg_l = [0.0, 0.0, 0.0]

        # --- onset bookkeeping --------------------------------------------------------------
        self._onset_peak = 1e-9
        self._a_onset_peak = math.exp(-self._hop_s / 8.0)
        self._onset_count = 0
        self._last_onset_t = -1.0
        picker = str(cfg.onset_picker)
        if picker not in ("fast", "aubio"):
            raise ValueError(f"features.onset_picker must be 'fast' or 'aubio', got {picker!r}")
        self._fast_onsets = picker == "fast"
        # fast picker: the detection function of the last ~0.2 s, for an adaptive threshold
        self._odf_hist = np.zeros(max(8, int(round(0.2 / self._hop_s))), dtype=np.float64)
        self._odf_i = 0
        self._odf_prev = 0.0
        self._odf_armed = True
        self._odf_k = 1.0 + 4.0 * float(cfg.onset_threshold)   # threshold 0.3 -> 2.2 x the median
        self._minioi_s = float(cfg.onset_min_interval_s)

        # --- loudness gate ----------------------------------------------------------------------
        self._silence_db = float(cfg.onset_silence_db)
        self._a_gate = math.exp(-self._hop_s / 0.15)
        self._gate_ms = 0.0
        self._gate_ms_min = 10.0 ** (self._silence_db / 10.0)
        self._bin_hz = sr / win
        self._dc_ms = 0.0

        # --- tempo and beats: fed this hop's log-mel spectrum -------------------------------
        tracker = str(getattr(cfg, "tracker", "dsp"))
        if tracker == "dsp":
            self._beat = BeatTracker(frames_per_s=self._fps, n_mel=n_mel, n_low=self._n_low, config=cfg)
        elif tracker == "neural":
            from live.features.neural import NeuralBeatTracker
            self._beat = NeuralBeatTracker(frames_per_s=self._fps, n_mel=n_mel, n_low=self._n_low, config=cfg)
        else:
            raise ValueError(f"features.tracker must be 'dsp' or 'neural', got {tracker!r}")
        self._hops = 0
        self._t = 0.0

    # ----------------------------------------------------------------------------- controls
    def set_bpm_range(self, bpm_min: float, bpm_max: float) -> None:
        """Set the tempo range the tracker considers (metrical level). Not for the audio thread."""
        self._beat.set_bpm_range(bpm_min, bpm_max)

    def tap(self, *, t_s: float) -> None:
        """Register a tap at audio time ``t_s`` (s). Four taps set the BPM and the beat phase.

        Under a manual BPM a single tap re-aligns the phase (the tap is a beat). Safe to call from
        another thread than the one calling :meth:`process`.
        """
        self._beat.tap(t_s=t_s)

    def release_tap(self) -> None:
        """Give the tempo back to the tracker (or the manual BPM, if one is set)."""
        self._beat.release_tap()

    def set_manual_bpm(self, bpm: float | None) -> None:
        """Force the tempo to ``bpm``; ``None`` or 0 releases it. The beat phase carries on."""
        self._beat.set_manual_bpm(bpm)

    @property
    def tempo_source(self) -> str:
        return self._beat.tempo_source

    @property
    def time_s(self) -> float:
        """Audio time (s) at the end of the last processed hop."""
        return self._t

    # ------------------------------------------------------------------------------ process
    def _pick_fast(self, desc: float, peak: float, t: float) -> bool:
        """Causal onset picking on aubio's detection function, on the hop the hit arrives.

        Fires on a rising edge that clears ``(1 + 4 * onset_threshold)`` times the median of
        the last ~0.2 s and 5% of the recent peak, once per rise, at most once per
        ``onset_min_interval_s``. aubio's own peak picker waits for the peak to pass (~30 ms
        later), which a flash on stage cannot afford.
        """
        h = self._odf_hist
        median = float(np.median(h))
        prev = self._odf_prev
        self._odf_prev = desc
        h[self._odf_i] = desc
        self._odf_i = (self._odf_i + 1) % h.size
        if desc < prev:
            self._odf_armed = True            # the rise is over: the next one may fire
            return False
        if not self._odf_armed or desc <= self._odf_k * median or desc < 0.05 * peak:
            return False
        if self._last_onset_t >= 0.0 and t - self._last_onset_t < self._minioi_s:
            return False
        self._odf_armed = False
        return True

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
        if self._fast_onsets:
            fired, onset_t = self._pick_fast(desc, pk, t), t - 0.5 * self._hop_s
        else:
            onset_t = float(self._onset.get_last_s())
        if fired and audible:
            self._onset_count += 1
            self._last_onset_t = min(t, max(0.0, onset_t))

        # tempo and beats from the log-mel spectrum (aubio's mel filterbank)
        mel = np.dot(self._mel_m, norm, out=self._mel_out)
        np.log1p(mel, out=mel)
        bt = self._beat
        beat_phase, bar_phase = bt.process(mel, audible=audible, t=t)
        bpm = bt.bpm
        source = bt.tempo_source

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
            bpm_confidence=bt.confidence if source == "tracker" else (1.0 if source != "none" else 0.0),
            tempo_source=source,
            beat_count=bt.beat_count,
            last_beat_t=bt.last_beat_t,
            beat_phase=beat_phase,
            bar_phase=bar_phase,
            beats_per_bar=bt.beats_per_bar,
            beat_in_bar=bt.beat_in_bar,
            chroma=chroma,
            centroid_hz=centroid_hz,
        )


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
