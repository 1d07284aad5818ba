"""A music video rendered on a Dask cluster: ``latent-live render AUDIO -o OUT.mp4 --workers N``
(a local cluster on this machine, loopback only) or ``--cluster ADDRESS`` (an existing Dask
distributed scheduler, e.g. ``tcp://10.0.0.5:8786`` started by ``dask scheduler`` /
dask-kubernetes / dask-jobqueue).

1. The coordinator analyses the audio and plans the walk **once** (:func:`live.offline.render.prepare`):
   every frame's features and GenControl are known before a worker starts.
2. The frames are split into segments at cuts or bar lines (:func:`plan_segments`); each
   segment is one Dask task carrying its slice of features and controls, plus a pre-roll
   (default 2 s) that the worker draws without recording, so trails, smoothed uniforms and
   the generator's picture are in the state the single-process render has at the seam.
3. A worker renders its segment with the same loop as the single-process render
   (:func:`live.offline.render.draw_range`) and encodes it with the same encoder settings (so
   every segment starts on a key frame and has the same codec header); the encoded bytes are
   the task's result, so workers need no shared disk (they need the banks at the same paths).
4. The coordinator joins the segments by copying packets (no re-encoding) and muxes the
   audio once (:func:`live.offline.segments.join_segments`).

A worker that dies mid-segment (killed, out of memory, machine lost) is Dask's to handle: the
scheduler gives the task to another worker, which renders the same frames from the same
inputs. Progress: one bar over the segments, with Dask's completion order and tqdm's ETA.
``dask[distributed]`` is an optional extra: ``pip install 'latent-live[cluster]'``.
"""
from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from live.config import Config
from live.errors import RenderError
from live.offline.segments import Segment, SegmentError, bar_frames_of, join_segments, plan_segments

log = logging.getLogger("live.offline")


@dataclass
class SegmentJob:
    """What a worker needs for one segment (picklable; no GL, no file handles)."""

    segment: Segment
    cfg: Config
    fps: float
    features: list          # FeatureFrame of frames preroll_first .. end-1
    controls: list          # GenControl of the same frames
    rcontrols: dict         # the renderer's control values
    bank_paths: list        # bank folders, in the coordinator's order
    on_frame: Optional[Callable] = None   # (i, pixels) of every recorded frame: in-process checks only


@dataclass
class SegmentResult:
    index: int
    data: bytes             # the encoded segment (MP4, video only)
    frames: int
    render_s: float         # wall time on the worker, pre-roll and encoding included
    host: str
    pid: int


@dataclass
class ClusterReport:
    out: str
    frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    wall_s: float            # segments rendered + joined (after analysis and plan)
    analysis_s: float
    workers: int
    join_s: float = 0.0      # writing the segments out and joining them (coordinator)
    segments: list = field(default_factory=list)   # [{index, first, end, preroll, reason, render_s, host}]
    warnings: list = field(default_factory=list)

    @property
    def realtime_factor(self) -> float:
        return self.duration_s / self.wall_s if self.wall_s > 0 else 0.0


def _need_dask():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise RenderError("--workers/--cluster need Dask: pip install 'latent-live[cluster]' "
                          "(dask[distributed])") from None


def segment_job(prep, seg: Segment) -> SegmentJob:
    """The task of one segment of a prepared render (:class:`live.offline.render.Prepared`)."""
    from live.control import renderer_controls

    return SegmentJob(segment=seg, cfg=prep.cfg, fps=float(prep.fps), features=prep.features(seg.preroll_first, seg.end),
                      controls=prep.controls_for(seg.preroll_first, seg.end),
                      rcontrols=renderer_controls(prep.control), bank_paths=list(prep.bank_paths))


def render_segment(job: SegmentJob) -> SegmentResult:
    """Render one segment on this worker (the Dask task). RenderError when it cannot."""
    from live.assemble import fit_banks, load_banks, make_generator, make_renderer, make_sinks
    from live.offline.render import draw_range
    from live.outputs.recorder import RecorderError
    from live.telemetry import Telemetry

    t0 = time.perf_counter()
    seg, cfg = job.segment, job.cfg
    w, h = int(cfg.render.width), int(cfg.render.height)
    try:
        from distributed import get_worker

        folder = get_worker().local_directory
    except (ImportError, ValueError):
        folder = None
    gen = make_generator(cfg.gen)
    renderer = None
    sinks: list = []
    tmp = tempfile.NamedTemporaryFile(suffix=f"-segment{seg.index}.mp4", dir=folder, delete=False)
    tmp.close()
    try:
        tel = Telemetry()
        banks = fit_banks(gen, load_banks(job.bank_paths, tel), tel)
        missing = [p for p in job.bank_paths if not any(str(b.path or "") == p for b in banks.values())]
        if missing:
            raise RenderError(f"worker {socket.gethostname()}: bank(s) {', '.join(missing)} not usable here "
                              "(every worker needs the banks at the same paths)")
        gen.set_bank(next(iter(banks.values())))
        try:
            renderer = make_renderer(cfg.render, offline=True)
            sinks = make_sinks(cfg.render, size=(w, h), record=tmp.name, audio_path=None, fps=job.fps, offline=True)
        except RecorderError as exc:
            raise RenderError(str(exc)) from None
        recorder = sinks[0]
        draw_range(gen, banks, renderer, fps=job.fps, base=seg.preroll_first, features=job.features,
                   controls=job.controls, first_recorded=seg.first, rcontrols=job.rcontrols, sinks=sinks,
                   recorder=recorder, on_frame=job.on_frame)
        for sink in sinks:
            sink.close()
        if recorder.error or recorder.frames_written != seg.frames or recorder.dropped:
            raise RenderError(recorder.error or f"segment {seg.index}: {recorder.frames_written} of {seg.frames} "
                              "frames encoded")
        data = Path(tmp.name).read_bytes()
    finally:
        if renderer is not None:
            renderer.close()
        for sink in sinks:
            sink.close()
        gen.close()
        try:
            os.unlink(tmp.name)
        except OSError:
            pass
    return SegmentResult(index=seg.index, data=data, frames=seg.frames, render_s=time.perf_counter() - t0,
                         host=socket.gethostname(), pid=os.getpid())


def local_cluster(workers: int):
    """A Dask LocalCluster of ``workers`` single-threaded processes on the loopback interface."""
    _need_dask()
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)   # the scheduler's own chatter
    return LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, silence_logs=logging.ERROR)


def render_cluster(audio_path, out_path, *, cfg: Config, fps: float = 30.0, workers: int = 0,
                   cluster: str = "", client: Any = None, segments: int = 0, start_s: float = 0.0,
                   end_s: Optional[float] = None, sync_ms: Optional[float] = None, timeline_out=None,
                   timeline=None, progress: bool = True, preroll_s: Optional[float] = None,
                   on_segment: Optional[Callable[[SegmentResult], None]] = None) -> ClusterReport:
    """Render on a Dask cluster (module docstring). Exactly one of ``workers`` (a local cluster),
    ``cluster`` (a scheduler address) or ``client`` (an existing :class:`distributed.Client`).
    ``segments``: how many (default twice the workers). Raises RenderError."""
    from live.offline.render import (DEFAULT_PREROLL_S, _load_banks, _make_generator, check_output, prepare,
                                     write_timeline)

    _need_dask()
    from distributed import Client, as_completed

    audio_path, out_path = Path(audio_path), Path(out_path)
    check_output(out_path)
    preroll_s = DEFAULT_PREROLL_S if preroll_s is None else float(preroll_s)
    gen = _make_generator(cfg)
    try:
        banks, notes = _load_banks(cfg, gen)
        prep = prepare(audio_path, cfg=cfg, gen=gen, banks=banks, notes=notes, fps=fps, start_s=start_s,
                       end_s=end_s, sync_ms=sync_ms, timeline=timeline, progress=progress, preroll_s=preroll_s)
    finally:
        gen.close()
    missing = [p for p in prep.bank_paths if not p]
    if missing:
        raise RenderError("a bank without a folder cannot be sent to the workers; give banks with --bank DIR")

    own_cluster = None
    t_start = time.perf_counter()
    try:
        if client is None:
            if cluster:
                try:
                    client = Client(cluster, timeout="20s")
                except (OSError, TimeoutError) as exc:
                    raise RenderError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None
            else:
                if workers < 1:
                    raise RenderError(f"--workers must be >= 1, got {workers}")
                own_cluster = local_cluster(workers)
                client = Client(own_cluster)
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        pre = int(round(preroll_s * fps))
        segs = plan_segments(prep.i0, prep.i1, segments=segments or 2 * n_workers, fps=fps,
                             cut_frames=[k.frame(fps) for k in prep.keyframes if k.cut],
                             bar_frames=bar_frames_of(prep.analysis.beats, fps), preroll_frames=pre,
                             min_frames=max(int(fps), 1))
        token = uuid.uuid4().hex[:8]
        futures = []
        for seg in segs:
            futures.append(client.submit(render_segment, segment_job(prep, seg),
                                         key=f"latent-live-segment-{seg.index}-{token}", pure=False))
        results: dict[int, SegmentResult] = {}
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(segs), unit="segment", desc=f"render on {n_workers} workers", dynamic_ncols=True)
        try:
            for fut in as_completed(futures):
                try:
                    r = fut.result()
                except RenderError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a task that failed on every worker it was given
                    raise RenderError(f"segment {fut.key}: {type(exc).__name__}: {exc}") from None
                results[r.index] = r
                if on_segment is not None:
                    on_segment(r)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            for f in futures:
                f.release()
        t_join = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="latent-live-segments-", dir=out_path.parent) as tmp:
            paths = []
            for seg in segs:
                p = Path(tmp) / f"segment{seg.index:04d}.mp4"
                p.write_bytes(results[seg.index].data)
                paths.append(p)
            try:
                written = join_segments(paths, out_path, fps=fps, audio_path=audio_path,
                                        audio_start_s=prep.i0 / fps)
            except SegmentError as exc:
                raise RenderError(str(exc)) from None
        if written != prep.i1 - prep.i0:
            raise RenderError(f"the joined video has {written} frames, {prep.i1 - prep.i0} expected")
        join_s = time.perf_counter() - t_join
    finally:
        if own_cluster is not None:
            if client is not None:
                client.close()
            own_cluster.close()
    wall_s = time.perf_counter() - t_start
    if timeline_out:
        write_timeline(prep, timeline_out)
    n = prep.i1 - prep.i0
    return ClusterReport(
        out=str(out_path), frames=n, fps=float(fps), width=prep.width, height=prep.height, duration_s=n / fps,
        wall_s=wall_s, analysis_s=prep.analysis_s, workers=n_workers, join_s=join_s,
        segments=[{"index": s.index, "first": s.first, "end": s.end, "preroll": s.preroll, "reason": s.reason,
                   "render_s": round(results[s.index].render_s, 3), "host": results[s.index].host}
                  for s in segs],
        warnings=prep.warnings)
