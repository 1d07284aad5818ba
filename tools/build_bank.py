#!/usr/bin/env python3
"""Build a latent bank offline (same as ``latent-live bank build``).

    tools/build_bank.py --backend embedded --seeds 0-999 --keep 32 --out latent_banks/mine
    tools/build_bank.py --backend vae --model DIR --images FOLDER --out latent_banks/photos
    tools/build_bank.py --backend lcm --model DIR --prompts prompts.txt --per-prompt 4 --out latent_banks/lcm

Progress bar with ETA; an interrupted build continues where it stopped when run again with
the same options; writes bank.toml, bank.safetensors and contact_sheet.png.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from live.gen.base import GenError  # noqa: E402
from live.banks.builder import add_build_arguments, run_build  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build_bank.py", description=__doc__.split("\n\n")[0])
    add_build_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_build(args)
    except GenError as exc:
        print(f"build_bank: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
