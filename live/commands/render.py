"""``latent-live render AUDIO -o OUT.mp4``: a music video by the live chain, on the audio clock."""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "render",
        help="render a music video from an audio file (every frame, audio muxed, optional timeline)",
        description=(
            "Render AUDIO to an MP4 with the same analyzer, motion, generator and shaders as the live "
            "show, driven by the audio clock: every frame is rendered and encoded however slow the "
            "generator, the audio is muxed in, and the same inputs and seed give the same video. "
            "--timeline writes the locked edit (beat grid, every cut with its reason, controls per "
            "frame); --from-timeline re-renders an edited one."
        ),
    )
    p.add_argument("audio", metavar="AUDIO", help="audio file (wav, flac, mp3, ogg, m4a...)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.mp4", help="video file to write (H.264 + AAC)")
    p.add_argument("--size", metavar="WxH", help="video size, default 1280x720 (even numbers)")
    p.add_argument("--fps", type=float, default=None, help="frames per second (default 30, or the timeline's)")
    p.add_argument("--backend", choices=("embedded", "vae", "lcm"), help="generator backend (default: embedded)")
    p.add_argument("--model", help="local model folder or weight file for vae/lcm")
    p.add_argument("--bank", action="append", metavar="DIR", help="latent bank folder; repeat for several")
    p.add_argument("--config", metavar="SHOW.toml", help="show settings file (TOML)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set motion.beats_per_change=8 --set controls.fx.flash=0.9")
    p.add_argument("--seed", type=int, default=None, help="generator seed (pulse directions, sampler noise); default 0")
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="start of the range to render, seconds")
    p.add_argument("--end", type=float, default=None, metavar="S", help="end of the range, seconds (default: end of file)")
    p.add_argument("--sync-ms", default=None, metavar="MS|auto",
                   help="read the analysis this far ahead of each frame to cancel the analyzer's detection "
                        "delay (default auto = this file's measured onset delay, ~50 ms; 0 = exactly as live)")
    p.add_argument("--timeline", metavar="OUT.json", help="also write the locked edit (timeline JSON)")
    p.add_argument("--from-timeline", metavar="T.json",
                   help="render from an (edited) timeline: its keyframes decide the cuts and entries")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="render segments in parallel on a local Dask cluster of N processes (loopback only); "
                        "needs the 'cluster' extra")
    p.add_argument("--cluster", default="", metavar="ADDRESS",
                   help="render segments on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (workers need "
                        "latent-live and the banks at the same paths)")
    p.add_argument("--segments", type=int, default=0, metavar="K",
                   help="with --workers/--cluster: how many segments (default twice the workers); they start "
                        "at cuts or bar lines")
    p.add_argument("--look", metavar="NAME|N", help="a look of the library by name or number "
                   "('latent-live looks' lists them); default: the [render] chain")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from live.errors import UserError
    from live.commands.run import overrides_from_args
    from live.config import ConfigError, check_record_path, check_value, load_config
    from live.offline.render import RenderError, config_from_timeline, render_file
    from live.offline.timeline import TimelineError, load_timeline

    sets = overrides_from_args(args)
    if args.seed is not None:
        sets.append(f"gen.seed={int(args.seed)}")
    sync_ms = None
    if args.sync_ms is not None and str(args.sync_ms).lower() != "auto":
        try:
            sync_ms = float(args.sync_ms)
        except ValueError:
            raise UserError(f"--sync-ms expects milliseconds or 'auto', got {args.sync_ms!r}") from None
    timeline = None
    try:
        if args.from_timeline:
            if args.config:
                raise UserError("--config cannot be used with --from-timeline: the timeline carries its "
                                "settings; change one with --set KEY=VALUE")
            timeline, notes = load_timeline(args.from_timeline)
            for n in notes:
                print(f"latent-live render: warning: {n}", file=sys.stderr)
            cfg = config_from_timeline(timeline, [*sets, *args.set])
            fps = args.fps or timeline.fps
            if sync_ms is None and args.sync_ms is None:
                sync_ms = timeline.sync_ms
        else:
            cfg = load_config(args.config, [*sets, *args.set])
            fps = args.fps or 30.0
        check_record_path(args.out, "-o")
        if args.fps is not None:
            check_value("render.fps", float(args.fps), "--fps")
    except (ConfigError, TimelineError) as exc:
        raise UserError(str(exc)) from None
    if args.workers or args.cluster:
        return _run_cluster(args, cfg, fps, sync_ms, timeline)
    from live.commands.stopping import StopSignals

    # Ctrl+C, SIGTERM, SIGHUP: the render's own clean-up finishes the file (playable up to the
    # last frame written) and the exit code says which signal it was
    with StopSignals(raise_first=True) as stopper:
        try:
            report = render_file(args.audio, args.out, cfg=cfg, fps=fps, start_s=args.start, end_s=args.end,
                                 sync_ms=sync_ms, timeline_out=args.timeline, timeline=timeline,
                                 progress=not args.quiet)
        except RenderError as exc:
            raise UserError(str(exc)) from None
        except KeyboardInterrupt:
            seconds = _video_seconds(args.out)
            print(f"latent-live render: stopped by {stopper.name or 'SIGINT'}"
                  + (f"; the first {seconds:.1f} s are kept in {args.out}" if seconds else "; nothing was kept"),
                  file=sys.stderr)
            return stopper.exit_code or 130
    for w in report.warnings:
        print(f"latent-live render: note: {w}", file=sys.stderr)
    print(f"latent-live render: {report.out}: {report.frames} frames {report.width}x{report.height} "
          f"@ {report.fps:g} fps ({report.duration_s:.2f} s), {report.bpm:.1f} BPM, {report.keyframes} keyframes, "
          f"sync {report.sync_ms:.0f} ms; rendered at {report.render_fps:.1f} fps = "
          f"{report.realtime_factor:.2f}x real time (+{report.analysis_s:.1f} s analysis)"
          + (f"; timeline {report.timeline}" if report.timeline else ""), file=sys.stderr)
    return 0


def _run_cluster(args, cfg, fps, sync_ms, timeline) -> int:
    from live.errors import RenderError, UserError
    from live.offline.cluster import render_cluster

    if args.workers and args.cluster:
        raise UserError("give --workers N (a local cluster) or --cluster ADDRESS (an existing one), not both")
    if args.workers < 0 or args.segments < 0:
        raise UserError("--workers and --segments must be positive")
    try:
        report = render_cluster(args.audio, args.out, cfg=cfg, fps=fps, workers=args.workers, cluster=args.cluster,
                                segments=args.segments, start_s=args.start, end_s=args.end, sync_ms=sync_ms,
                                timeline_out=args.timeline, timeline=timeline, progress=not args.quiet)
    except RenderError as exc:
        raise UserError(str(exc)) from None
    for w in report.warnings:
        print(f"latent-live render: note: {w}", file=sys.stderr)
    times = [s["render_s"] for s in report.segments]
    print(f"latent-live render: {report.out}: {report.frames} frames {report.width}x{report.height} "
          f"@ {report.fps:g} fps ({report.duration_s:.2f} s) in {len(report.segments)} segments on "
          f"{report.workers} workers: {report.wall_s:.1f} s = {report.realtime_factor:.2f}x real time "
          f"(segments {min(times):.1f}..{max(times):.1f} s each, +{report.analysis_s:.1f} s analysis)"
          + (f"; timeline {args.timeline}" if args.timeline else ""), file=sys.stderr)
    print("latent-live render: segment seconds (pre-roll included): "
          + " ".join(f"{s['index']}:{s['render_s']:.1f}" for s in report.segments)
          + f"; join {report.join_s:.1f} s", file=sys.stderr)
    return 0


def _video_seconds(path) -> float:
    """Seconds of video in a (possibly unfinished) file, 0.0 when none can be read."""
    try:
        import av

        with av.open(str(path)) as c:
            vs = c.streams.video[0]
            n = sum(1 for p in c.demux(vs) if p.size)
            rate = float(vs.average_rate or vs.guessed_rate or 0) or 30.0
            return n / rate
    except Exception:  # noqa: BLE001 - nothing readable
        return 0.0
