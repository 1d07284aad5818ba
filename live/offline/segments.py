"""Segments of an offline render, for rendering them in parallel and joining them without
re-encoding (``latent-live render --workers N`` / ``--cluster ADDRESS``).

:func:`plan_segments` (pure) splits frames ``[first, end)`` into segments that start at a cut
of the timeline or on a bar line, as near as possible to an even split; every segment carries
a pre-roll: the frames before it that its worker draws without recording, so feedback trails
and smoothed uniforms have reached the state the single-process render has at the seam.

:func:`join_segments` puts the encoded segments end to end into one file by copying their
packets (no re-encoding: the segments were encoded with the same settings, each starting on a
key frame, and their codec headers must be byte-equal) and muxes the audio once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

import numpy as np


class SegmentError(Exception):
    """Segments cannot be planned or joined: one line naming the problem."""


@dataclass(frozen=True)
class Segment:
    index: int
    first: int          # first recorded frame (global index)
    end: int            # one past the last recorded frame
    preroll_first: int  # first frame drawn (pre-roll), <= first
    reason: str = ""    # "start", "cut", "bar", "even"

    @property
    def frames(self) -> int:
        return self.end - self.first

    @property
    def preroll(self) -> int:
        return self.first - self.preroll_first


def plan_segments(first: int, end: int, *, segments: int, fps: float, cut_frames: Sequence[int] = (),
                  bar_frames: Sequence[int] = (), preroll_frames: int = 0, min_frames: int = 1,
                  snap_frames: Optional[int] = None) -> list[Segment]:
    """Split ``[first, end)`` into at most ``segments`` segments (fewer when it is short).

    Each boundary is the cut (preferred) or bar line nearest to the even split point within
    ``snap_frames`` (default: a quarter of the even length), else the even point itself.
    Boundaries stay strictly increasing and every segment keeps at least ``min_frames``.
    """
    if end <= first:
        raise SegmentError(f"nothing to render: frames {first}..{end}")
    if segments < 1:
        raise SegmentError(f"segments must be >= 1, got {segments}")
    total = end - first
    min_frames = max(int(min_frames), 1)
    n = max(1, min(int(segments), total // min_frames))
    even = total / n
    snap = int(even / 4) if snap_frames is None else int(snap_frames)
    cuts = np.asarray(sorted(set(int(c) for c in cut_frames)), dtype=np.int64)
    bars = np.asarray(sorted(set(int(b) for b in bar_frames)), dtype=np.int64)
    bounds = [(first, "start")]
    for k in range(1, n):
        target = first + k * even
        lo = bounds[-1][0] + min_frames
        hi = end - (n - k) * min_frames
        pick = None
        for cands, why in ((cuts, "cut"), (bars, "bar")):
            ok = cands[(cands >= lo) & (cands <= hi) & (np.abs(cands - target) <= snap)]
            if ok.size:
                pick = (int(ok[np.argmin(np.abs(ok - target))]), why)
                break
        if pick is None:
            b = int(round(target))
            if b < lo or b > hi:
                continue
            pick = (b, "even")
        bounds.append(pick)
    out = []
    for k, (b, why) in enumerate(bounds):
        e = bounds[k + 1][0] if k + 1 < len(bounds) else end
        out.append(Segment(index=k, first=b, end=e, preroll_first=max(b - int(preroll_frames), 0) if k else
                           max(first - int(preroll_frames), 0), reason=why))
    return out


def bar_frames_of(beats, fps: float) -> list[int]:
    """Frames of the bar lines (downbeats) of an analysis's beats (``.t``, ``.beat``)."""
    return [int(math.ceil(b.t * fps - 1e-6)) for b in beats if getattr(b, "beat", 0) == 1]


# ----------------------------------------------------------------------------------------------
# joining


def _video_stream(container, path):
    if not container.streams.video:
        raise SegmentError(f"segment {path} has no video stream")
    return container.streams.video[0]


def join_segments(paths: Sequence[str | Path], out: str | Path, *, fps: float, audio_path=None,
                  audio_start_s: float = 0.0) -> int:
    """Concatenate encoded segments into ``out`` without re-encoding; mux ``audio_path`` (from
    ``audio_start_s``, trimmed to the video) once. Returns the number of video frames written.

    Every segment must have the same codec, size, pixel format and codec header (extradata),
    and start with a key frame: SegmentError otherwise (re-render it rather than ship a glitch).
    """
    import av

    if not paths:
        raise SegmentError("no segments to join")
    rate = Fraction(fps).limit_denominator(1001)
    tb = 1 / rate
    first = av.open(str(paths[0]))
    dst = None
    written = 0
    try:
        vref = _video_stream(first, paths[0])
        ref = vref.codec_context
        ref_info = (ref.name, ref.width, ref.height, ref.pix_fmt, bytes(ref.extradata or b""))
        dst = av.open(str(out), mode="w")
        # the output stream copies the first segment's codec parameters (header included): no encoder
        vout = dst.add_stream_from_template(vref)
        vout.time_base = tb
        astream = None
        if audio_path is not None:
            astream = dst.add_stream("aac", rate=48000)
            astream.layout = "stereo"
        offset = 0                              # frames before this segment
        for path in paths:
            src = av.open(str(path))
            try:
                vin = _video_stream(src, path)
                cc = vin.codec_context
                info = (cc.name, cc.width, cc.height, cc.pix_fmt, bytes(cc.extradata or b""))
                if info != ref_info:
                    what = [name for name, a, b in zip(("codec", "width", "height", "pixel format", "codec header"),
                                                       info, ref_info) if a != b]
                    raise SegmentError(f"segment {path} was encoded differently ({', '.join(what)}); "
                                       "segments must share every encoder setting to be joined without re-encoding")
                scale = Fraction(vin.time_base) / Fraction(tb)
                count = 0
                last_pts = -1
                for pkt in src.demux(vin):
                    if pkt.dts is None and pkt.pts is None:
                        continue                # the demuxer's flush packet
                    if count == 0 and not pkt.is_keyframe:
                        raise SegmentError(f"segment {path} does not start on a key frame")
                    pts = int(round(pkt.pts * scale)) if pkt.pts is not None else None
                    dts = int(round(pkt.dts * scale)) if pkt.dts is not None else None
                    pkt.pts = None if pts is None else pts + offset
                    pkt.dts = None if dts is None else dts + offset
                    if pkt.duration:            # in the segment's time base too (else the last one stretches the video)
                        pkt.duration = max(int(round(pkt.duration * scale)), 1)
                    pkt.stream = vout
                    pkt.time_base = tb
                    dst.mux(pkt)
                    count += 1
                    if pts is not None:
                        last_pts = max(last_pts, pts)
                offset += last_pts + 1
                written += count
            finally:
                src.close()
        if astream is not None:
            _mux_audio(dst, astream, audio_path, audio_start_s, offset / float(rate))
    finally:
        if dst is not None:
            dst.close()
        first.close()
    return written


def _mux_audio(container, astream, audio_path, start_s: float, duration_s: float) -> None:
    """Encode ``duration_s`` of ``audio_path`` from ``start_s`` (48 kHz stereo AAC). Decoding is the
    recorder's :class:`~live.outputs.recorder.AudioFeed`, so a joined video gets the same sound as
    a single-process render: every format, non-finite samples cleaned."""
    import av

    from live.outputs.recorder import AUDIO_CHUNK, AUDIO_RATE, AudioFeed, RecorderError

    try:
        feed = AudioFeed(Path(audio_path))
    except RecorderError as exc:
        raise SegmentError(str(exc)) from None
    total = int(round(duration_s * AUDIO_RATE))
    done = 0
    try:
        feed.skip(int(round(max(start_s, 0.0) * AUDIO_RATE)))
        while done < total:
            chunk = feed.read(min(AUDIO_CHUNK, total - done))
            if chunk.shape[1] == 0:
                break
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_RATE
            frame.pts = done
            done += chunk.shape[1]
            for packet in astream.encode(frame):
                container.mux(packet)
    finally:
        feed.close()
    for packet in astream.encode(None):
        container.mux(packet)
