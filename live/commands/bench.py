"""``latent-live bench WHAT``: benchmarks that print figures (a table, or JSON with --json).

Each room owns its benchmark in ``<module>.register_bench(subparsers)``; this command only
collects them, importing each lazily so that ``--help`` stays instant.
"""
from __future__ import annotations

import importlib

# (module, what it measures); a module registers one or more bench subcommands.
BENCH_MODULES = (
    "live.bench.analyze",   # analyze
    "live.bench.gen",        # gen
    "live.bench.render",     # render
    "live.bench.show",        # frame, latency, soak
    "live.bench.gpu",         # gpu (tools/gpu_check.sh)
    "live.bench.wall",        # wall
    "live.bench.clock",       # link, midiclock
    "live.bench.ndi",         # ndi
    "live.bench.control",     # control (web / MIDI -> frame latency, meter rate, page cost)
)


def register(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="measure speed: analyzer, generator, renderer, whole loop, latency",
        description="Benchmarks print a table of figures (or JSON with --json). Record them in BENCHMARKS.md.",
    )
    bench_sub = p.add_subparsers(dest="bench", metavar="WHAT")
    for name in BENCH_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register_bench(bench_sub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
