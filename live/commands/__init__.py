"""One module per ``latent-live`` subcommand.

Each module defines ``register(subparsers)`` which adds its parser and sets
``func=run`` on it. Modules import nothing heavy at import time: the work happens in
``run(args) -> int`` so ``latent-live --help`` stays instant.
"""

COMMANDS = ("run", "render", "looks", "analyze", "score", "devices", "midi", "bank", "bench")
