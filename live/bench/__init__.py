"""Benchmarks (``latent-live bench WHAT``): each module registers its subcommands with
``register_bench(subparsers)``; :mod:`live.commands.bench` collects them. Benchmarks may import
any room (they sit beside the command layer); no runtime room imports them."""
