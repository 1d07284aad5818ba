"""``latent-live bench gen``: generator speed per backend and size.

Prints load time (weights, export, warm-up) separately from the per-frame render time
(median, p99, fps) of a walk through the bank, like the show does it.
"""
from __future__ import annotations

import json
import math
import sys
import time

import numpy as np


def register_bench(sub) -> None:
    p = sub.add_parser(
        "gen",
        help="generator ms per frame (median, p99) and fps per backend and size",
        description="Render a slerp walk through a bank and report ms per frame; load time separately.",
    )
    p.add_argument("--backend", default="embedded", help="embedded | vae | lcm (default embedded)")
    p.add_argument("--size", type=int, action="append", default=None,
                   help="output size in pixels; repeat for several (default 256)")
    p.add_argument("--frames", type=int, default=100, help="frames to time per size (default 100)")
    p.add_argument("--warmup", type=int, default=5, help="untimed frames first (default 5)")
    p.add_argument("--model", default="", help="vae/lcm: local model folder or weight file")
    p.add_argument("--bank", default=None, help="bank folder (default: latent_banks/default for embedded)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--dtype", default="auto", help="auto | float32 | float16")
    p.add_argument("--steps", type=int, default=2, help="lcm sampler steps")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_bench)


def _bank_for(gen, path: str | None):
    from live.gen.bank import LatentBank, load_bank

    if path:
        return load_bank(path)
    if gen.name == "embedded":
        from live.gen.embedded import LATENT_DIM, MODEL_HASH, MODEL_ID, latent_from_seed

        return LatentBank(name="bench", backend="embedded", model_id=MODEL_ID, model_hash=MODEL_HASH,
                          latents=np.stack([latent_from_seed(s) for s in range(8)]), latent_shape=(LATENT_DIM,))
    raise ValueError(f"bench gen --backend {gen.name} needs --bank DIR (a bank built for that model)")


def bench_generator(backend: str, *, size: int, frames: int = 100, warmup: int = 5, model: str = "",
                    bank: str | None = None, device: str = "auto", dtype: str = "auto", steps: int = 2) -> dict:
    """Load ``backend`` at ``size``, render ``frames`` frames of a walk; return figures (ms)."""
    import dataclasses

    from live.assemble import make_generator
    from live.config import GenConfig
    from live.types import GenControl

    t0 = time.perf_counter()
    gen = make_generator(dataclasses.replace(GenConfig(), backend=backend, size=size, model=model, device=device,
                                             dtype=dtype))
    gen.set_bank(_bank_for(gen, bank))
    load_ms = (time.perf_counter() - t0) * 1e3
    n = gen.bank.count
    times = []
    cpu = []
    try:
        for i in range(warmup + frames):
            k = i // 25
            ctl = GenControl(entry_a=k % n, entry_b=(k + 1) % n, alpha=(i % 25) / 25.0,
                             pulse=0.5 if i % 8 == 0 else 0.0, pulse_dir=i % 16, steps=steps)
            c = time.thread_time()
            t = time.perf_counter()
            frame = gen.render(ctl)
            dt = (time.perf_counter() - t) * 1e3
            if i >= warmup:
                times.append(dt)
                cpu.append((time.thread_time() - c) * 1e3)
        shape = tuple(frame.pixels.shape)
    finally:
        gen.close()
    arr = np.array(times)
    med = float(np.median(arr))
    return {
        "backend": backend, "size": size, "frames": frames, "load_ms": round(load_ms, 1),
        "median_ms": round(med, 2), "p99_ms": round(float(np.percentile(arr, 99)), 2),
        "mean_ms": round(float(arr.mean()), 2),
        # CPU time of the rendering thread: the work itself, unaffected by other processes
        # competing for the cores (wall figures above include waiting for a core)
        "cpu_median_ms": round(float(np.median(cpu)), 2), "fps": round(1000.0 / med, 1) if med > 0 else math.inf,
        "output": list(shape), "device": device,
    }


def run_bench(args) -> int:
    from live.errors import UserError
    from live.gen.base import GenError

    sizes = args.size or [256]
    results = []
    for size in sizes:
        try:
            results.append(bench_generator(args.backend, size=size, frames=args.frames, warmup=args.warmup,
                                           model=args.model, bank=args.bank, device=args.device,
                                           dtype=args.dtype, steps=args.steps))
        except (GenError, ValueError) as exc:
            raise UserError(str(exc)) from None
    if args.json:
        json.dump(results if len(results) > 1 else results[0], sys.stdout, indent=2)
        print()
        return 0
    print(f"{'backend':<10}{'size':>6}{'load ms':>10}{'median ms':>11}{'p99 ms':>9}{'fps':>8}{'cpu ms':>9}")
    for r in results:
        print(f"{r['backend']:<10}{r['size']:>6}{r['load_ms']:>10.1f}{r['median_ms']:>11.2f}"
              f"{r['p99_ms']:>9.2f}{r['fps']:>8.1f}{r['cpu_median_ms']:>9.2f}")
    print("(ms per frame, wall clock; cpu ms = CPU time of the rendering thread; load = weights + warm-up)")
    return 0
