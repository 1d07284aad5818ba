"""Run the exact live analyzer over a whole signal, as fast as it goes.

``analyze_array`` / ``analyze_file`` / ``analyze_source`` feed an :class:`Analyzer` hop by hop
(the same object and code path as on stage) and collect every frame plus the event lists.
``beats`` pairs each beat time with the audio time at which the analyzer *reported* it (the end of
the hop that fired), which is how external tools score the tracker's accuracy and latency.
"""
from __future__ import annotations

import dataclasses
from array import array
from dataclasses import dataclass, field
from typing import Callable, Optional

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
    beats_in_bar: list[int] = field(default_factory=list)
    onsets: list[tuple[float, float]] = field(default_factory=list)
    duration_s: float = 0.0
    sample_rate_hz: int = 44100
    bpm: float = 0.0
    bpm_confidence: float = 0.0
    tempo_source: str = "none"
    frame_count: int = 0           # hops analysed (== len(frames) when the frames were kept)
    chroma_sum: np.ndarray = field(default_factory=lambda: np.zeros(12, dtype=np.float64))
    rms2_sum: float = 0.0          # sum of the frames' rms**2 (mean power = rms2_sum / frame_count)

    def mean_chroma(self) -> np.ndarray:
        """(12,) mean of the frames' chroma, max-normalised (zeros when silent)."""
        if not self.frame_count:
            return np.zeros(12, dtype=np.float32)
        c = self.chroma_sum / self.frame_count
        m = float(c.max())
        return (c / m).astype(np.float32) if m > 0 else c.astype(np.float32)

    def mean_power(self) -> float:
        """Mean of rms**2 over the frames (0 when there are none)."""
        return self.rms2_sum / self.frame_count if self.frame_count else 0.0

    def to_dict(self) -> dict:
        """JSON-ready dict: summary, event lists and every frame's features."""
        return {
            "duration_s": self.duration_s,
            "sample_rate_hz": self.sample_rate_hz,
            "bpm": self.bpm,
            "bpm_confidence": self.bpm_confidence,
            "tempo_source": self.tempo_source,
            "beats": [[round(b, 6), round(r, 6), k] for (b, r), k in zip(self.beats, self.beats_in_bar)],
            "onsets": [[round(t, 6), round(s, 4)] for t, s in self.onsets],
            "frames": [f.to_dict() for f in self.frames],
        }


class _Collector:
    """Accumulates frames (or only running sums, ``keep_frames=False``: memory bounded by the
    number of beats and onsets, not the length) and turns counter increments into event lists."""

    def __init__(self, keep_frames: bool = True, on_frame: Optional[Callable[[FeatureFrame], None]] = None):
        self.result = AnalysisResult()
        self.keep_frames = keep_frames
        self.on_frame = on_frame
        self._beats = 0
        self._onsets = 0
        self._bpm = array("f")            # per hop with a tempo: 4 bytes each, for the medians
        self._conf = array("f")
        self._source = "none"

    def add(self, f: FeatureFrame) -> None:
        r = self.result
        if self.keep_frames:
            r.frames.append(f)
        if self.on_frame is not None:
            self.on_frame(f)
        r.frame_count += 1
        r.chroma_sum += f.chroma
        r.rms2_sum += float(f.rms) * float(f.rms)
        if f.bpm > 0:
            self._bpm.append(f.bpm)
            self._conf.append(f.bpm_confidence)
            self._source = f.tempo_source
        if f.beat_count != self._beats:
            self._beats = f.beat_count
            r.beats.append((f.last_beat_t, f.t))
            r.beats_in_bar.append(int(f.beat_in_bar))
        if f.onset_count != self._onsets:
            self._onsets = f.onset_count
            r.onsets.append((f.last_onset_t, f.onset))

    def finish(self, *, duration_s: float, sample_rate_hz: int) -> AnalysisResult:
        r = self.result
        r.duration_s = float(duration_s)
        r.sample_rate_hz = int(sample_rate_hz)
        if len(self._bpm):
            r.bpm = float(np.median(np.frombuffer(self._bpm, dtype=np.float32)))
            r.bpm_confidence = float(np.median(np.frombuffer(self._conf, dtype=np.float32)))
            r.tempo_source = self._source
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
                 progress: bool = False, keep_frames: bool = True,
                 on_frame: Optional[Callable[[FeatureFrame], None]] = None) -> AnalysisResult:
    """Decode ``path`` (any format PyAV reads) block by block, resample to ``sample_rate_hz``
    and analyse it hop by hop as it decodes: the file is never in memory at once.

    ``keep_frames=False`` keeps only the event lists and running sums (memory bounded whatever
    the file's length); ``on_frame`` sees every frame as it is made (e.g. to stream it to a file).
    Raises ``live.audio.AudioFileError`` (a one-line message) for a missing, empty or non-audio file.
    """
    from live.audio.file import iter_audio

    an = Analyzer(sample_rate_hz=sample_rate_hz, config=config)
    hop = an.hop_size
    col = _Collector(keep_frames=keep_frames, on_frame=on_frame)
    # decode a few seconds, analyse them, repeat: bounded memory, and decoding in runs is much
    # faster than interleaving it with the analyzer hop by hop
    chunk = max(hop, (1 << 18) // hop * hop)
    pending: list[np.ndarray] = []
    n_pending = 0
    total = 0

    def analyse(x: np.ndarray) -> None:
        for i in range(x.size // hop):
            col.add(an.process(x[i * hop:(i + 1) * hop]))

    for block in iter_audio(path, sample_rate_hz=sample_rate_hz, mono=True):
        total += block.size
        pending.append(block)
        n_pending += block.size
        if n_pending >= chunk:
            x = np.concatenate(pending)
            whole = x.size // hop * hop
            analyse(x[:whole])
            pending, n_pending = ([x[whole:]], x.size - whole) if whole < x.size else ([], 0)
    if n_pending:
        x = np.concatenate(pending)
        whole = x.size // hop * hop
        analyse(x[:whole])
        if whole < x.size:                       # the last partial hop, zero-padded
            last = np.zeros(hop, dtype=np.float32)
            last[:x.size - whole] = x[whole:]
            col.add(an.process(last))
    return col.finish(duration_s=total / sample_rate_hz, sample_rate_hz=sample_rate_hz)


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
