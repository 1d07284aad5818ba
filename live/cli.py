"""The ``latent-live`` command.

Subcommands live in ``live/commands/<name>.py``; each registers its own parser.
Errors meant for the user are raised as :class:`UserError` and printed as one line
with exit code 2, never as a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from live import __version__
from live.commands import COMMANDS
from live.errors import UserError  # noqa: F401 - the commands' error, re-exported here


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latent-live",
        description=(
            "Real-time audio-reactive visuals: live sound drives a walk through latent space, "
            "rendered with OpenGL shader effects and steered over OSC."
        ),
        epilog="Run 'latent-live COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"latent-live {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"live.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"live.commands.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"latent-live {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
