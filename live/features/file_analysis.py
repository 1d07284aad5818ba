"""Run the exact live analyzer over a whole signal, as fast as it goes.

``analyze_array`` / ``analyze_file`` / ``analyze_source`` feed an :class:`Analyzer` hop by hop
(the same object and code path as on stage) and collect every frame plus the event lists.
``beats`` pairs each beat time with the audio time at which the analyzer *reported* it (the end of
the hop that fired), which is how external tools score the tracker's accuracy and latency.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from live.config import FeaturesConfig
from live.features.analyzer import Analyzer
from live.types import FeatureFrame


@dataclass
class AnalysisResult:
    """Everything the analyzer said about one signal.

    frames: one :class:`FeatureFrame` per hop, in order.
    beats: ``(beat_time_s, report_time_s)`` for every beat emitted.
    onsets: ``(time_s, strength)`` for every onset detected (strength 0..1).
    bpm / bpm_confidence: median over the frames that had a tempo (0 when none).
    """

    frames: list[FeatureFrame] = field(default_factory=list)
    beats: list[tuple[float, float]] = field(default_factory=list)
    onsets: list[tuple[float, float]] = field(default_factory=list)
    duration_s: float = 0.0
    sample_rate_hz: int = 44100
    bpm: float = 0.0
    bpm_confidence: float = 0.0
    tempo_source: str = "none"

    def mean_chroma(self) -> np.ndarray:
        """(12,) mean of the frames' chroma, max-normalised (zeros when silent)."""
        if not self.frames:
            return np.zeros(12, dtype=np.float32)
        c = np.mean([f.chroma for f in self.frames], axis=0)
        m = float(c.max())
        return (c / m).astype(np.float32) if m > 0 else c.astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-ready dict: summary, event lists and every frame's features."""
        return {
            "duration_s": self.duration_s,
            "sample_rate_hz": self.sample_rate_hz,
            "bpm": self.bpm,
            "bpm_confidence": self.bpm_confidence,
            "tempo_source": self.tempo_source,
            "beats": [[round(b, 6), round(r, 6)] for b, r in self.beats],
            "onsets": [[round(t, 6), round(s, 4)] for t, s in self.onsets],
            "frames": [f.to_dict() for f in self.frames],
        }


class _Collector:
    """Accumulates frames and turns counter increments into event lists."""

    def __init__(self):
        self.result = AnalysisResult()
        self._beats = 0
        self._onsets = 0

    def add(self, f: FeatureFrame) -> None:
        r = self.result
        r.frames.append(f)
        if f.beat_count != self._beats:
            self._beats = f.beat_count
            r.beats.append((f.last_beat_t, f.t))
        if f.onset_count != self._onsets:
            self._onsets = f.onset_count
            r.onsets.append((f.last_onset_t, f.onset))

    def finish(self, *, duration_s: float, sample_rate_hz: int) -> AnalysisResult:
        r = self.result
        r.duration_s = float(duration_s)
        r.sample_rate_hz = int(sample_rate_hz)
        with_tempo = [f for f in r.frames if f.bpm > 0]
        if with_tempo:
            r.bpm = float(np.median([f.bpm for f in with_tempo]))
            r.bpm_confidence = float(np.median([f.bpm_confidence for f in with_tempo]))
            r.tempo_source = with_tempo[-1].tempo_source
        return r


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, unit="hop", desc="analyze", leave=False)


def analyze_array(samples: np.ndarray, *, sample_rate_hz: int, config: FeaturesConfig | None = None,
                  progress: bool = False, manual_bpm: float = 0.0) -> AnalysisResult:
    """Analyse an in-memory signal hop by hop with the live analyzer.

    Parameters
    ----------
    samples: ``(n,)`` mono or ``(n, channels)`` (downmixed), float in [-1, 1].
    sample_rate_hz: rate of ``samples``.
    config: ``[features]`` settings (defaults when None).
    manual_bpm: > 0 sets the analyzer's manual tempo first (the ``bpm`` control, as on stage).

    The last partial hop is zero-padded, so every sample is analysed.
    """
    x = np.asarray(samples)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"samples must be (n,) or (n, channels), got shape {x.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    an = Analyzer(sample_rate_hz=sample_rate_hz, config=config)
    if manual_bpm and manual_bpm > 0:
        an.set_manual_bpm(float(manual_bpm))
    hop = an.hop_size
    n_hops = -(-x.size // hop)
    col = _Collector()
    bar = _progress(n_hops, progress)
    buf = np.zeros(hop, dtype=np.float32)
    full = x.size // hop
    for i in range(full):
        col.add(an.process(x[i * hop:(i + 1) * hop]))
        if bar is not None and i % 256 == 0:
            bar.update(min(256, full - i))
    if full < n_hops:
        rest = x[full * hop:]
        buf[:rest.size] = rest
        col.add(an.process(buf))
    if bar is not None:
        bar.close()
    return col.finish(duration_s=x.size / sample_rate_hz, sample_rate_hz=sample_rate_hz)


def analyze_file(path, *, sample_rate_hz: int = 44100, config: FeaturesConfig | None = None,
                 progress: bool = False) -> AnalysisResult:
    """Decode ``path`` (any format PyAV reads), resample to ``sample_rate_hz`` and analyse it.

    Raises ``live.audio.AudioFileError`` (a one-line message) for a missing, empty or non-audio file.
    """
    from live.audio import decode_audio

    samples = decode_audio(path, sample_rate_hz=sample_rate_hz, mono=True)
    return analyze_array(samples, sample_rate_hz=sample_rate_hz, config=config, progress=progress)


def analyze_source(source, *, config: FeaturesConfig | None = None, progress: bool = False) -> AnalysisResult:
    """Analyse an ``AudioSource`` (``live.audio``) until it ends.

    The analyzer's hop follows the source's ``hop_size``. A realtime source is analysed at its own
    pace; a live device never ends, so stop it from another thread (``source.stop()``).
    """
    cfg = config or FeaturesConfig()
    if cfg.hop_size != source.hop_size:
        cfg = dataclasses.replace(cfg, hop_size=int(source.hop_size))
    an = Analyzer(sample_rate_hz=source.sample_rate_hz, config=cfg)
    col = _Collector()
    bar = _progress(0, progress)
    source.start()
    try:
        while True:
            hop = source.read_hop()
            if hop is None:
                break
            col.add(an.process(hop))
            if bar is not None:
                bar.update(1)
    finally:
        source.stop()
        if bar is not None:
            bar.close()
    return col.finish(duration_s=an.time_s, sample_rate_hz=source.sample_rate_hz)
