"""``latent-live bench render``: frame time of the default shader chain, headless.

Each frame is drawn and then waited for with glFinish, so the figure is the real time
the chain takes, not the time to queue commands; warm-up frames (shader JIT, first
uploads) are not counted. Also printed: CPU time per frame of the whole process (all
threads, Mesa llvmpipe's rasteriser threads included), which on a shared machine is a
steadier figure than wall time, and that figure divided by the cores (the wall time an
otherwise idle machine could reach if the work spread perfectly over them).
"""
from __future__ import annotations

import json
import os
import time


def _parse_size(text: str) -> tuple[int, int]:
    from live.errors import UserError

    try:
        w, h = text.lower().split("x")
        w, h = int(w), int(h)
    except ValueError:
        raise UserError(f"--size expects WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    if w < 16 or h < 16 or w > 8192 or h > 8192:
        raise UserError(f"--size {text}: width and height must be 16..8192")
    return w, h


def bench_render(*, width: int, height: int, frames: int = 120, warmup: int = 10,
                 internal_scale: float | None = None, hud: bool = False, chain=None) -> dict:
    """Draw ``frames`` frames of the default chain with moving audio features; return figures."""
    import numpy as np

    from live.render.renderer import DEFAULT_CHAIN
    from live.types import FeatureFrame, Frame, GenControl

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256] / 255.0
    pics = []
    for k in range(2):
        img = np.stack([np.sin(xx * 9 + k) * 0.5 + 0.5, np.sin(yy * 7 - k) * 0.5 + 0.5, xx * yy], -1)
        img += rng.normal(0, 0.05, img.shape)
        pics.append((np.clip(img, 0, 1) * 255).astype(np.uint8))
    chroma = np.zeros(12, np.float32)
    chroma[9] = 1.0
    chain = tuple(chain or DEFAULT_CHAIN)
    import dataclasses

    from live.assemble import make_renderer
    from live.config import RenderConfig

    r = make_renderer(dataclasses.replace(RenderConfig(), width=width, height=height, headless="yes", hud=hud,
                                          internal_scale=internal_scale or 0.0, chain=chain))
    try:
        walls, cpus = [], []
        ncpu = os.cpu_count() or 1
        for i in range(warmup + frames):
            t = i / 60.0
            beat = (t * 2.0) % 1.0
            f = FeatureFrame(t=t, bass=max(0.0, 1 - 3 * beat), mid=0.5, treble=0.4, bass_att=1.2, rms=0.3,
                             onset=1.0 if beat < 0.05 else 0.0, onset_count=int(t * 2), last_onset_t=int(t * 2) / 2.0,
                             bpm=120.0, beat_count=int(t * 2), beat_phase=beat, bar_phase=(t / 2) % 1,
                             chroma=chroma, centroid_hz=2000.0)
            w0, c0 = time.perf_counter(), time.process_time()
            if i % 4 == 0:                       # a 15 fps generator
                r.set_frame(Frame(pixels=pics[(i // 4) % 2], control=GenControl(), index=i // 4), now_s=t)
            r.draw(f, {"fx.kaleido": 0.0}, time_s=t)
            if hud:
                r.compose_hud()                  # headless: the HUD is drawn when it is read
            r.finish()
            if i >= warmup:
                walls.append(time.perf_counter() - w0)
                cpus.append((time.process_time() - c0) / ncpu)
        walls_ms = np.array(walls) * 1000.0
        cpus_ms = np.array(cpus) * 1000.0
        return {
            "size": f"{width}x{height}", "frames": frames, "renderer": r.ctx.info.get("GL_RENDERER", "?"),
            "chain": list(chain), "internal_scale": r.internal_scale,
            "lp_num_threads": os.environ.get("LP_NUM_THREADS", ""),
            "fps": round(1000.0 / float(walls_ms.mean()), 1),
            "p50_ms": round(float(np.percentile(walls_ms, 50)), 2),
            "p99_ms": round(float(np.percentile(walls_ms, 99)), 2),
            "cpu_p50_ms": round(float(np.percentile(cpus_ms, 50)), 2),            # process CPU / cores
            "cpu_total_p50_ms": round(float(np.percentile(cpus_ms, 50)) * ncpu, 2),  # all threads
            "load_avg": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            "last_error": r.last_error,
        }
    finally:
        r.close()


def run(args) -> int:
    from live.errors import RenderError

    sizes = [_parse_size(args.size)] if args.size else [(1280, 720), (1920, 1080)]
    results = []
    for w, h in sizes:
        try:
            results.append(bench_render(width=w, height=h, frames=args.frames, warmup=args.warmup,
                                        internal_scale=args.internal_scale or None, hud=args.hud,
                                        chain=[c.strip() for c in args.chain.split(",") if c.strip()] or None))
        except RenderError as exc:
            from live.errors import UserError

            raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    r0 = results[0]
    lp = f", LP_NUM_THREADS={r0['lp_num_threads']}" if r0["lp_num_threads"] else ""
    print(f"render chain ({', '.join(r0['chain'])}), headless, glFinish each frame, {args.warmup} warm-up frames "
          f"not counted, on {r0['renderer']}{lp}")
    print(f"{'size':>10} {'scale':>5} {'fps':>7} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>7} {'cpu/cores':>9} {'load':>5}")
    for r in results:
        print(f"{r['size']:>10} {r['internal_scale']:>5.2f} {r['fps']:>7.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['cpu_total_p50_ms']:>7.2f} {r['cpu_p50_ms']:>9.2f} {r['load_avg']!s:>5}")
    print(f"cpu ms = process CPU time per frame, all threads (p50); cpu/cores = that / {os.cpu_count() or 1} cores, "
          "the wall time an idle machine could reach; wall p50/p99 include waiting for a core (load = 1-min load average)")
    return 0


def register_bench(sub) -> None:
    p = sub.add_parser("render", help="frame time of the shader chain (headless, with glFinish)",
                       description="Draw the default shader chain headless and print fps and frame time p50/p99.")
    p.add_argument("--size", default="", help="WIDTHxHEIGHT (default: 1280x720 and 1920x1080)")
    p.add_argument("--frames", type=int, default=120, help="frames to time (default 120)")
    p.add_argument("--internal-scale", type=float, default=0.0,
                   help="effect passes at this fraction of the size (default: auto, 0.5 on llvmpipe)")
    p.add_argument("--hud", action="store_true", help="draw the HUD too")
    p.add_argument("--chain", default="", help="comma-separated pass names (default: the default chain, trails,finish; "
                   "source,feedback,color,flash,output for one pass per effect)")
    p.add_argument("--warmup", type=int, default=10, help="frames drawn before timing starts (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
