"""``latent-live bench analyze``: the analyzer's cost per hop on a realistic synthetic mix."""
from __future__ import annotations

import json
import time

import numpy as np

from live.testing.signals import synth_mix


def measure(*, seconds: float = 30.0, sample_rate_hz: int = 44100, config=None) -> dict:
    """Feed ``seconds`` of the synthetic mix through one Analyzer; per-hop wall-clock cost."""
    from live.features.analyzer import Analyzer

    x = synth_mix(seconds=seconds, sample_rate_hz=sample_rate_hz)
    an = Analyzer(sample_rate_hz=sample_rate_hz, config=config)
    hop = an.hop_size
    n = x.size // hop
    warm = min(n // 10, 200)
    costs = np.zeros(n, dtype=np.float64)
    cpu = np.zeros(n, dtype=np.float64)
    pc = time.perf_counter
    tc = time.thread_time
    last = None
    for i in range(n):
        h = x[i * hop:(i + 1) * hop]
        c0, t0 = tc(), pc()
        last = an.process(h)
        costs[i] = pc() - t0
        cpu[i] = tc() - c0
    c = costs[warm:] * 1000.0
    cc = cpu[warm:] * 1000.0
    hop_ms = 1000.0 * hop / sample_rate_hz
    return {
        "what": "analyzer cost per hop",
        "sample_rate_hz": sample_rate_hz,
        "hop_size": hop,
        "hop_ms": round(hop_ms, 3),
        "hops": int(c.size),
        "median_ms": round(float(np.median(c)), 4),
        "p99_ms": round(float(np.percentile(c, 99)), 4),
        "max_ms": round(float(c.max()), 4),
        "mean_ms": round(float(c.mean()), 4),
        "realtime_fraction": round(float(c.mean()) / hop_ms, 4),
        # CPU time of this thread: on a busy shared machine wall-clock p99 includes waiting for a core
        "cpu_median_ms": round(float(np.median(cc)), 4),
        "cpu_p99_ms": round(float(np.percentile(cc, 99)), 4),
        "cpu_realtime_fraction": round(float(cc.mean()) / hop_ms, 4),
        "bpm_found": round(float(last.bpm), 2) if last is not None else 0.0,
    }


def register_bench(sub) -> None:
    p = sub.add_parser("analyze", help="analyzer cost per hop (median, p99) on a synthetic mix",
                       description="Feeds a synthetic 128 BPM mix through the live Analyzer hop by hop "
                                   "and prints the per-hop cost and the fraction of real time it uses.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the mix (default 30)")
    p.add_argument("--sample-rate", type=int, default=44100, metavar="HZ")
    p.add_argument("--tracker", choices=("dsp", "neural"), default=None,
                   help="beat tracker to measure (default: features.tracker of the default settings)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from live.errors import UserError

    if args.seconds <= 1.0:
        raise UserError("--seconds must be more than 1")
    import dataclasses

    from live.config import FeaturesConfig
    cfg = FeaturesConfig()
    if args.tracker:
        cfg = dataclasses.replace(cfg, tracker=args.tracker)
    try:
        r = measure(seconds=args.seconds, sample_rate_hz=args.sample_rate, config=cfg)
    except ValueError as exc:       # a beat model that cannot be loaded
        raise UserError(str(exc)) from None
    r["tracker"] = cfg.tracker
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"analyzer ({r['tracker']} beat tracker), {r['hop_size']}-sample hop at {r['sample_rate_hz']} Hz "
          f"({r['hop_ms']:.2f} ms of audio), {r['hops']} hops")
    print(f"             wall      cpu (this thread)")
    print(f"  median  {r['median_ms']:7.3f}  {r['cpu_median_ms']:7.3f} ms/hop")
    print(f"  p99     {r['p99_ms']:7.3f}  {r['cpu_p99_ms']:7.3f} ms/hop")
    print(f"  max     {r['max_ms']:7.3f}          ms/hop")
    print(f"  load    {100 * r['realtime_fraction']:6.1f}%  {100 * r['cpu_realtime_fraction']:6.1f}% of real time")
    print(f"  (tempo found: {r['bpm_found']:.1f} BPM; mix is 128 BPM)")
    return 0
