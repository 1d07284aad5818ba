"""Measure how well a video's picture is in sync with its soundtrack (``latent-live score``).

Three figures, for our own renders and for any other video:

* **Beat Alignment Score** ``BAS = 1/K sum_k max_j exp(-(b_k - v_j)^2 / (2 tau^2))`` between
  the beats ``b_k`` (from the analyzer, or given) and the visual events ``v_j`` (peaks of the
  frame-to-frame change). 1.0 = a picture change exactly on every beat; tau = 50 ms default.
* **onset-motion correlation**: Pearson correlation between the analyzer's per-hop onset
  strength, resampled to the frame rate, and the mean frame-difference magnitude.
* **audio-visual offset**: the lag (within +-500 ms) that maximises the cross-correlation of
  those two signals, with sub-frame resolution and a confidence. Sign: **positive = picture
  late** (the picture shows an event after it is heard); negative = picture early.

Time conventions (all times in seconds on the container's clock, so a delay written into the
file is measured, not hidden):

* video frame ``i`` is shown at its presentation time ``t_i`` (``pts * time_base``; ``i/fps``
  for constant-rate files). The motion of frame ``i`` is ``m_i = mean |g_i - g_{i-1}|`` of the
  downscaled grayscale pictures in 0..1: the change *appears* at ``t_i``. ``m_0`` is undefined
  (no previous picture) and frame 0 is left out of the statistics.
* audio sample ``n`` plays at ``audio_start + n / rate``; the audio is placed on the video's
  clock (leading silence for a stream that starts late, trimmed where it starts early).
* the analyzer's onset strength of the hop ending at ``t`` (``FeatureFrame.t``) describes its
  spectral analysis window ``[t - win, t)`` (``FeaturesConfig.win_size``, 2048 samples), and a
  click peaks it when the click sits in the middle of that window: the value is placed at the
  window centre ``t - win/2`` (measured on clicks at random sub-hop phases: the strength's
  centroid lies 25.3 +- 0.4 ms after the click vs. win/2 = 23.2 ms, so the residual bias is
  ~2 ms, well inside a frame). The envelope value of frame ``i`` is the max over the placed
  hops in ``[t_i - 1/(2 fps), t_i + 1/(2 fps))``, linearly interpolated where no hop falls in
  the window (frame rates above the hop rate). Max rather than sum: 2.87 hops per frame at
  30 fps would otherwise add a 2-or-3-hops sawtooth.

PyAV and the analyzer are imported lazily inside the functions that need them.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import numpy as np

DEFAULT_TAU_S = 0.05
DEFAULT_MAX_OFFSET_S = 0.5
ANALYSIS_RATE_HZ = 44100
MOTION_WIDTH = 64              # frames are downscaled to this width (keeping aspect) for motion

# visual event picking (see pick_visual_events)
EVENT_MIN_SPACING_S = 0.1
EVENT_MEDIAN_WINDOW_S = 1.0
EVENT_REL_DELTA = 0.1
EVENT_ABS_DELTA = 0.002        # ~0.5 grey level out of 255: below codec noise
# offset estimation
OFFSET_TIE_RATIO = 0.9         # local maxima within this fraction of the best count as ties
ALTERNATIVE_RATIO = 0.8        # ... and those above this fraction are listed as alternatives


class ScoreError(ValueError):
    """A problem with the inputs the user can fix (missing file, no audio stream...): one line."""


@dataclass(frozen=True)
class MotionTrack:
    """Per-frame picture change of a video.

    ``times_s`` (n,) presentation times; ``motion`` (n,) mean abs grey difference to the
    previous frame in 0..1 (``motion[0] = 0``, undefined); ``fps`` nominal frame rate.
    """

    times_s: np.ndarray
    motion: np.ndarray
    fps: float
    width: int
    height: int
    has_audio: bool


@dataclass(frozen=True)
class OffsetEstimate:
    """Result of :func:`estimate_offset`. ``lags_s``/``correlations`` (L,) is the whole curve."""

    offset_s: float
    confidence: float
    peak_correlation: float
    at_limit: bool
    alternatives_s: tuple[float, ...]
    lags_s: np.ndarray
    correlations: np.ndarray


@dataclass(frozen=True)
class ScoreResult:
    """All figures of one scored video. ``to_dict()`` is the ``--json`` schema."""

    video: str
    audio: str                     # path of the audio scored, or "(embedded)"
    beats_source: str              # "analyzer" | "file" | "given"
    bas: float
    tau_ms: float
    correlation: float
    offset_ms: float
    offset_confidence: float
    offset_peak_correlation: float
    offset_at_limit: bool
    offset_alternatives_ms: tuple[float, ...]
    max_offset_ms: float
    n_beats: int
    n_visual_events: int
    bpm: float
    fps: float
    n_frames: int
    duration_s: float
    width: int
    height: int
    beat_times_s: tuple[float, ...] = field(default=())
    visual_event_times_s: tuple[float, ...] = field(default=())

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("offset_alternatives_ms", "beat_times_s", "visual_event_times_s"):
            d[key] = [round(float(x), 4) for x in d[key]]
        for key in ("bas", "correlation", "offset_confidence", "offset_peak_correlation"):
            d[key] = round(float(d[key]), 4)
        for key in ("offset_ms", "tau_ms", "max_offset_ms", "bpm", "fps", "duration_s"):
            d[key] = round(float(d[key]), 3)
        return d

    def summary(self) -> str:
        """A one-screen human summary."""
        return format_summary(self)


# --------------------------------------------------------------------------------------------
# pure metrics (numpy only)
# --------------------------------------------------------------------------------------------

def beat_alignment_score(beats_s: Sequence[float], events_s: Sequence[float], *,
                         tau_s: float = DEFAULT_TAU_S) -> float:
    """``1/K sum_k max_j exp(-(b_k - v_j)^2 / (2 tau^2))``; 0.0 with no events, NaN with no beats.

    ``beats_s`` (K,) and ``events_s`` (J,) are times in seconds.
    """
    if tau_s <= 0:
        raise ValueError("tau_s must be > 0")
    b = np.asarray(beats_s, dtype=np.float64).reshape(-1)
    v = np.asarray(events_s, dtype=np.float64).reshape(-1)
    if b.size == 0:
        return float("nan")
    if v.size == 0:
        return 0.0
    v = np.sort(v)
    # nearest event per beat (searchsorted), enough for the max of a monotone kernel
    idx = np.clip(np.searchsorted(v, b), 1, v.size - 1) if v.size > 1 else np.zeros(b.size, int)
    if v.size > 1:
        nearest = np.minimum(np.abs(b - v[idx - 1]), np.abs(b - v[idx]))
    else:
        nearest = np.abs(b - v[0])
    return float(np.mean(np.exp(-(nearest ** 2) / (2.0 * tau_s ** 2))))


def frame_difference(prev: np.ndarray, cur: np.ndarray) -> float:
    """Mean absolute difference of two uint8 grey pictures (h, w), in 0..1."""
    return float(np.mean(np.abs(cur.astype(np.int16) - prev.astype(np.int16)))) / 255.0


def _moving_median(x: np.ndarray, half: int) -> np.ndarray:
    n = x.size
    if n == 0:
        return x.copy()
    padded = np.pad(x, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(windows, axis=1)[:n]


def pick_visual_events(motion: np.ndarray, *, fps: float,
                       min_spacing_s: float = EVENT_MIN_SPACING_S,
                       median_window_s: float = EVENT_MEDIAN_WINDOW_S,
                       rel_delta: float = EVENT_REL_DELTA,
                       abs_delta: float = EVENT_ABS_DELTA) -> np.ndarray:
    """Indices of the peaks of the frame-change signal ``motion`` (n,).

    Frame ``i`` is a visual event when all three hold:

    1. it is the largest value within +-``min_spacing_s``/2 (the first of equal values wins), so
       two events are at least ``min_spacing_s`` apart;
    2. it exceeds the moving median over ``median_window_s`` around it by
       ``delta = max(rel_delta * (p99 - p50), abs_delta)`` of the whole clip (adaptive: a busy
       clip needs a bigger jump than a calm one; cuts and flashes stand out, steady motion and
       codec noise do not);
    3. ``i >= 1`` (frame 0 has no previous picture).
    """
    m = np.asarray(motion, dtype=np.float64).reshape(-1)
    n = m.size
    if n < 3:
        return np.zeros(0, dtype=np.int64)
    x = m.copy()
    x[0] = 0.0
    half_max = max(1, int(round(min_spacing_s * fps / 2.0)))
    half_med = max(1, int(round(median_window_s * fps / 2.0)))
    body = x[1:]
    delta = max(rel_delta * float(np.percentile(body, 99) - np.percentile(body, 50)), abs_delta)
    thresh = _moving_median(x, half_med) + delta
    padded = np.pad(x, half_max, mode="constant", constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_max + 1)
    local_max = win.max(axis=1)
    cand = np.flatnonzero((x >= local_max) & (x > thresh))
    cand = cand[cand >= 1]
    # among equal plateau values within the spacing keep the first
    keep: list[int] = []
    min_gap = max(1, int(round(min_spacing_s * fps)))
    for i in cand:
        if keep and i - keep[-1] < min_gap:
            continue
        keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


def onset_envelope_at_frames(hop_end_times_s: np.ndarray, onset: np.ndarray,
                             frame_times_s: np.ndarray, *, fps: float,
                             window_s: float | None = None) -> np.ndarray:
    """Resample a per-hop onset strength to video frames.

    ``hop_end_times_s`` (H,) are the hop end times (``FeatureFrame.t``), ``onset`` (H,) the
    strengths; ``frame_times_s`` (N,) the presentation times. Each value sits at the centre
    of the analysis window that produced it, ``t - window_s/2`` (``window_s=None``: one hop,
    i.e. the hop centre); frame ``i`` takes the max over the values placed in
    ``[t_i - 1/(2 fps), t_i + 1/(2 fps))``, or the linear interpolation at ``t_i`` when none
    is. Returns (N,) float64.
    """
    te = np.asarray(hop_end_times_s, dtype=np.float64).reshape(-1)
    o = np.asarray(onset, dtype=np.float64).reshape(-1)
    ft = np.asarray(frame_times_s, dtype=np.float64).reshape(-1)
    out = np.zeros(ft.size)
    if te.size == 0 or ft.size == 0:
        return out
    hop_s = float(np.median(np.diff(te))) if te.size > 1 else float(te[0])
    centres = te - (hop_s if window_s is None else float(window_s)) / 2.0
    half = 0.5 / fps
    lo = np.searchsorted(centres, ft - half, side="left")
    hi = np.searchsorted(centres, ft + half, side="left")
    interp = np.interp(ft, centres, o, left=0.0, right=0.0)
    for i in range(ft.size):
        if hi[i] > lo[i]:
            out[i] = o[lo[i]:hi[i]].max()
        else:
            out[i] = interp[i]
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length signals; 0.0 if either is constant or too short."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 3 or a.size != b.size:
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    if den <= 1e-20:
        return 0.0
    return float(np.dot(a, b) / den)


def lagged_correlations(audio_env: np.ndarray, motion: np.ndarray, *, max_lag: int) -> np.ndarray:
    """Pearson correlation of ``audio_env[i]`` with ``motion[i + L]`` for L = -max_lag..max_lag.

    Returns (2 * max_lag + 1,); index ``max_lag + L``. Positive L pairs a sound with the
    picture L frames later (picture late).
    """
    a = np.asarray(audio_env, dtype=np.float64)
    m = np.asarray(motion, dtype=np.float64)
    n = min(a.size, m.size)
    out = np.zeros(2 * max_lag + 1)
    for k, lag in enumerate(range(-max_lag, max_lag + 1)):
        if lag >= 0:
            out[k] = pearson(a[: n - lag], m[lag:n])
        else:
            out[k] = pearson(a[-lag:n], m[: n + lag])
    return out


def estimate_offset(audio_env: np.ndarray, motion: np.ndarray, *, fps: float,
                    max_offset_s: float = DEFAULT_MAX_OFFSET_S) -> OffsetEstimate:
    """Audio-visual offset from the cross-correlation of two per-frame signals (N,).

    * ``c(L)`` = :func:`lagged_correlations` for ``|L| <= ceil(max_offset_s * fps)`` frames.
    * The peak is the largest local maximum; local maxima within ``OFFSET_TIE_RATIO`` (90 %)
      of it count as ties and the one with the smallest ``|L|`` wins (a strictly periodic
      track cannot tell a lag from a lag +- one beat; small offsets are the likelier ones).
    * Sub-frame: a parabola through ``c(L-1), c(L), c(L+1)``; the vertex shift is clipped to
      +-0.5 frame. ``offset_s = (L + shift) / fps``; **positive = picture late**.
    * ``confidence = clip(c_peak - median_L c(L), 0, 1)`` (as SyncNet's "peak minus median"):
      near 1 for a sharp, strong peak; near 0 when nothing correlates or the curve is flat
      (offset undetermined). The confidence is halved when the peak sits at the search
      limit (the true offset may lie outside). Other local maxima above 80 % of the peak are
      listed in ``alternatives_s`` (typically +- one beat on steady music).
    """
    a = np.asarray(audio_env, dtype=np.float64)
    m = np.asarray(motion, dtype=np.float64)
    n = min(a.size, m.size)
    max_lag = max(1, min(int(math.ceil(max_offset_s * fps)), n // 3))
    c = lagged_correlations(a[:n], m[:n], max_lag=max_lag)
    lags = np.arange(-max_lag, max_lag + 1)
    # local maxima (edges count when higher than their one neighbour)
    left = np.concatenate(([-np.inf], c[:-1]))
    right = np.concatenate((c[1:], [-np.inf]))
    peaks = np.flatnonzero((c >= left) & (c >= right))
    best = int(peaks[np.argmax(c[peaks])]) if peaks.size else int(np.argmax(c))
    c_best = float(c[best])
    if c_best > 0:
        ties = [p for p in peaks if c[p] >= OFFSET_TIE_RATIO * c_best]
        best = int(min(ties, key=lambda p: (abs(lags[p]), -c[p])))
    c_peak = float(c[best])
    shift = 0.0
    if 0 < best < c.size - 1:
        y0, y1, y2 = c[best - 1], c[best], c[best + 1]
        den = y0 - 2.0 * y1 + y2
        if den < 0:
            shift = float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
    at_limit = best in (0, c.size - 1)
    offset_s = (lags[best] + shift) / fps
    conf = float(np.clip(c_peak - float(np.median(c)), 0.0, 1.0))
    if at_limit:
        conf *= 0.5
    alts = tuple(float(lags[p] / fps) for p in peaks
                 if p != best and c_peak > 0 and c[p] >= ALTERNATIVE_RATIO * c_peak)
    return OffsetEstimate(offset_s=float(offset_s), confidence=conf, peak_correlation=c_peak,
                          at_limit=bool(at_limit), alternatives_s=alts,
                          lags_s=lags / fps, correlations=c)


def read_beats_file(path: str | os.PathLike) -> np.ndarray:
    """Beat times from a text file: one time per line, first column, seconds.

    Columns may be separated by whitespace, commas or semicolons (Audacity label tracks,
    Sonic Visualiser CSV, mir_eval/annotation ``.txt``/``.beats``); blank lines and lines
    starting with ``#`` are skipped. Returns (K,) float64, sorted. Raises :class:`ScoreError`.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        raise ScoreError(f"beats file not found: {path}") from None
    except OSError as exc:
        raise ScoreError(f"cannot read beats file {path}: {exc.strerror or exc}") from None
    times = []
    for number, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        first = s.replace(",", " ").replace(";", " ").split()[0]
        try:
            t = float(first)
        except ValueError:
            if not times and number == 1:
                continue  # a header line
            raise ScoreError(f"{path}, line {number}: expected a time in seconds in the first "
                             f"column, got {first!r}") from None
        if not math.isfinite(t) or t < 0:
            raise ScoreError(f"{path}, line {number}: beat time must be >= 0 seconds, got {first!r}")
        times.append(t)
    if not times:
        raise ScoreError(f"beats file {path} holds no beat times (one time in seconds per line)")
    return np.sort(np.asarray(times, dtype=np.float64))


# --------------------------------------------------------------------------------------------
# decoding (PyAV, lazily imported)
# --------------------------------------------------------------------------------------------

def _open_container(path: str, what: str):
    import av

    if not os.path.exists(path):
        raise ScoreError(f"{what} file not found: {path}")
    if os.path.isdir(path):
        raise ScoreError(f"{what} path is a folder, not a file: {path}")
    try:
        return av.open(path)
    except av.FFmpegError as exc:
        raise ScoreError(f"cannot open {what} file {path}: {_av_reason(exc)}") from None
    except OSError as exc:  # pragma: no cover - permissions and the like
        raise ScoreError(f"cannot open {what} file {path}: {exc.strerror or exc}") from None


def _av_reason(exc: Exception) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return msg.strip().rstrip(".") or type(exc).__name__


def decode_motion(path: str | os.PathLike, *, width: int = MOTION_WIDTH) -> MotionTrack:
    """Decode a video's frames and measure the picture change per frame.

    Frames are converted to grey at ``width`` pixels wide (aspect kept, height >= 8) so that
    noise and resolution do not matter. Streaming: memory stays at two small frames.
    """
    import av

    path = os.fspath(path)
    container = _open_container(path, "video")
    try:
        if not container.streams.video:
            raise ScoreError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        has_audio = bool(container.streams.audio)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        sw, sh = stream.codec_context.width or 0, stream.codec_context.height or 0
        times: list[float] = []
        motion: list[float] = []
        prev = None
        out_w = out_h = 0
        try:
            for frame in container.decode(stream):
                if not out_w:
                    sw, sh = frame.width, frame.height
                    out_w = min(width, sw) if sw else width
                    out_h = max(8, int(round(out_w * sh / sw))) if sw else width
                grey = frame.reformat(width=out_w, height=out_h, format="gray").to_ndarray()
                grey = np.ascontiguousarray(grey[:, :out_w])
                t = frame.time
                if t is None:
                    t = len(times) / fps if fps else float(len(times))
                times.append(float(t))
                motion.append(0.0 if prev is None else frame_difference(prev, grey))
                prev = grey
        except av.FFmpegError as exc:
            if not times:
                raise ScoreError(f"cannot decode video {path}: {_av_reason(exc)}") from None
            # a truncated file: score what could be decoded
    finally:
        container.close()
    if len(times) < 3:
        raise ScoreError(f"{path}: too few video frames to score ({len(times)})")
    t = np.asarray(times)
    order = np.argsort(t, kind="stable")
    if np.any(order != np.arange(t.size)):
        t = t[order]
        motion = list(np.asarray(motion)[order])
    if fps <= 0:
        d = np.diff(t)
        fps = 1.0 / float(np.median(d[d > 0])) if np.any(d > 0) else 30.0
    return MotionTrack(times_s=t, motion=np.asarray(motion, dtype=np.float64), fps=fps,
                       width=int(sw), height=int(sh), has_audio=has_audio)


def decode_audio_track(path: str | os.PathLike, *, sample_rate_hz: int = ANALYSIS_RATE_HZ,
                       what: str = "audio") -> np.ndarray:
    """Decode the first audio stream to mono float32 on the container clock.

    Sample ``n`` of the result plays at ``n / sample_rate_hz`` seconds: a stream that starts
    late gets leading zeros, samples before 0 are dropped. Returns (n,) float32.
    """
    import av

    path = os.fspath(path)
    container = _open_container(path, what)
    try:
        if not container.streams.audio:
            raise ScoreError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate_hz)
        chunks: list[np.ndarray] = []
        start_s = None
        try:
            for frame in container.decode(stream):
                if start_s is None:
                    start_s = float(frame.time) if frame.time is not None else 0.0
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1).copy())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).copy())
        except av.FFmpegError as exc:
            if not chunks:
                raise ScoreError(f"cannot decode audio of {path}: {_av_reason(exc)}") from None
    finally:
        container.close()
    if not chunks:
        raise ScoreError(f"{path}: the audio stream holds no samples")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    shift = int(round((start_s or 0.0) * sample_rate_hz))
    if shift > 0:
        samples = np.concatenate((np.zeros(shift, np.float32), samples))
    elif shift < 0:
        samples = samples[-shift:]
    return samples


# --------------------------------------------------------------------------------------------
# the whole measurement
# --------------------------------------------------------------------------------------------

def score_video(video_path: str | os.PathLike, *, audio_path: str | os.PathLike | None = None,
                beats: Sequence[float] | str | os.PathLike | None = None,
                tau_s: float = DEFAULT_TAU_S, max_offset_s: float = DEFAULT_MAX_OFFSET_S,
                config=None) -> ScoreResult:
    """Score a video against its soundtrack (or against ``audio_path``).

    ``beats``: ``None`` = beats from the analyzer; a sequence of times (s) or the path of a
    beats file (:func:`read_beats_file`) overrides them. ``config``: a ``FeaturesConfig`` for
    the analyzer. Raises :class:`ScoreError` for unusable inputs.
    """
    if not (tau_s > 0):
        raise ScoreError(f"tau must be > 0 ms, got {tau_s * 1000:g} ms")
    if not (max_offset_s > 0):
        raise ScoreError("the offset search range must be > 0 ms")
    video_path = os.fspath(video_path)
    track = decode_motion(video_path)
    if audio_path is None and not track.has_audio:
        raise ScoreError(f"{video_path} has no audio stream: give the soundtrack with --audio FILE")
    beat_times = None
    beats_source = "analyzer"
    if isinstance(beats, (str, os.PathLike)):
        beat_times = read_beats_file(beats)
        beats_source = "file"
    elif beats is not None:
        beat_times = np.sort(np.asarray(list(beats), dtype=np.float64).reshape(-1))
        beats_source = "given"
    audio_src = os.fspath(audio_path) if audio_path is not None else video_path
    samples = decode_audio_track(audio_src, sample_rate_hz=ANALYSIS_RATE_HZ,
                                 what="audio" if audio_path is not None else "video")
    from live.features import analyze_array  # lazy: aubio

    analysis = analyze_array(samples, sample_rate_hz=ANALYSIS_RATE_HZ, config=config)
    if config is None:
        from live.config import FeaturesConfig

        config = FeaturesConfig()
    window_s = float(config.win_size) / ANALYSIS_RATE_HZ
    hop_t = np.fromiter((f.t for f in analysis.frames), dtype=np.float64, count=len(analysis.frames))
    hop_onset = np.fromiter((f.onset for f in analysis.frames), dtype=np.float64,
                            count=len(analysis.frames))
    bpm = float(analysis.bpm or 0.0)
    if beat_times is None:
        beat_times = np.asarray([b[0] for b in analysis.beats], dtype=np.float64)
    elif beat_times.size > 1:
        ibi = np.diff(beat_times)
        ibi = ibi[ibi > 0]
        bpm = 60.0 / float(np.median(ibi)) if ibi.size else bpm
    return score_signals(track, hop_t, hop_onset, beat_times, tau_s=tau_s,
                         max_offset_s=max_offset_s, video=video_path,
                         audio=os.fspath(audio_path) if audio_path is not None else "(embedded)",
                         beats_source=beats_source, bpm=bpm, onset_window_s=window_s)


def score_signals(track: MotionTrack, hop_end_times_s: np.ndarray, hop_onset: np.ndarray,
                  beat_times_s: Iterable[float], *, tau_s: float = DEFAULT_TAU_S,
                  onset_window_s: float | None = None,
                  max_offset_s: float = DEFAULT_MAX_OFFSET_S, video: str = "", audio: str = "",
                  beats_source: str = "given", bpm: float = 0.0) -> ScoreResult:
    """The figures from already-decoded signals (see :func:`score_video`).

    ``onset_window_s``: the analyzer's analysis window (see :func:`onset_envelope_at_frames`).

    Beats count when a picture change could show them: from half a frame after the first
    frame to half a frame after the last (a beat on frame 0 has no previous picture).
    """
    t = track.times_s
    fps = track.fps
    half = 0.5 / fps
    beats = np.asarray(list(beat_times_s), dtype=np.float64)
    beats = beats[(beats >= t[0] + half) & (beats < t[-1] + half)]
    event_idx = pick_visual_events(track.motion, fps=fps)
    events = t[event_idx]
    bas = beat_alignment_score(beats, events, tau_s=tau_s) if beats.size else 0.0
    env = onset_envelope_at_frames(hop_end_times_s, hop_onset, t, fps=fps, window_s=onset_window_s)
    corr = pearson(env[1:], track.motion[1:])
    off = estimate_offset(env[1:], track.motion[1:], fps=fps, max_offset_s=max_offset_s)
    duration = float(t[-1] - t[0] + 1.0 / fps)
    return ScoreResult(
        video=video, audio=audio, beats_source=beats_source, bas=float(bas),
        tau_ms=tau_s * 1000.0, correlation=corr, offset_ms=off.offset_s * 1000.0,
        offset_confidence=off.confidence, offset_peak_correlation=off.peak_correlation,
        offset_at_limit=off.at_limit,
        offset_alternatives_ms=tuple(a * 1000.0 for a in off.alternatives_s),
        max_offset_ms=float(off.lags_s[-1] * 1000.0), n_beats=int(beats.size),
        n_visual_events=int(events.size), bpm=float(bpm), fps=float(fps), n_frames=int(t.size),
        duration_s=duration, width=track.width, height=track.height,
        beat_times_s=tuple(float(x) for x in beats),
        visual_event_times_s=tuple(float(x) for x in events))


# --------------------------------------------------------------------------------------------
# human summary
# --------------------------------------------------------------------------------------------

def _grade(value: float, good: float, great: float) -> str:
    if value != value:  # NaN
        return "n/a"
    return "great" if value >= great else "good" if value >= good else "weak"


def describe_offset(offset_ms: float, *, frame_ms: float) -> str:
    """'picture late by 12 ms', 'picture early by 100 ms' or 'in sync (within a frame)'."""
    if abs(offset_ms) < 0.5:
        return "in sync"
    side = "late" if offset_ms > 0 else "early"
    sound = "before" if offset_ms > 0 else "after"
    text = f"picture {side} by {abs(offset_ms):.0f} ms (the sound comes {abs(offset_ms):.0f} ms {sound} the picture)"
    if abs(offset_ms) < frame_ms / 2:
        text += ", within half a frame"
    return text


def format_summary(r: ScoreResult) -> str:
    frame_ms = 1000.0 / r.fps if r.fps else 0.0
    conf_word = "high" if r.offset_confidence >= 0.5 else "medium" if r.offset_confidence >= 0.25 else "low"
    lines = [
        f"score  {r.video}",
        f"  audio      {r.audio}",
        f"  video      {r.width}x{r.height}, {r.fps:.3f} fps, {r.n_frames} frames, {r.duration_s:.2f} s",
        f"  beats      {r.n_beats} ({r.beats_source}{f', {r.bpm:.1f} BPM' if r.bpm else ''}), "
        f"visual events {r.n_visual_events}",
        "",
        f"  beat alignment (BAS, tau {r.tau_ms:.0f} ms)   {r.bas:.3f}   [{_grade(r.bas, 0.6, 0.9)}]",
        f"  onset-motion correlation          {r.correlation:+.3f}   [{_grade(r.correlation, 0.4, 0.6)}]",
        f"  audio-visual offset               {r.offset_ms:+.1f} ms  "
        f"(confidence {r.offset_confidence:.2f}, {conf_word})",
        f"      {describe_offset(r.offset_ms, frame_ms=frame_ms)}; positive = picture late",
    ]
    if r.offset_at_limit:
        lines.append(f"      at the search limit (+-{r.max_offset_ms:.0f} ms): the true offset may be larger")
    if r.offset_alternatives_ms:
        alts = ", ".join(f"{a:+.0f} ms" for a in r.offset_alternatives_ms)
        lines.append(f"      also fits: {alts} (steady music repeats every beat)")
    if r.n_beats == 0:
        lines.append("  no beats inside the video: BAS is 0 (give --beats FILE?)")
    lines.append("  (good: BAS > 0.6, correlation > 0.4; great: BAS > 0.9, correlation > 0.6, "
                 f"offset within one frame = {frame_ms:.0f} ms)")
    return "\n".join(lines)
