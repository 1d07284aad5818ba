"""``latent-live bank``: build latent banks offline and inspect them.

    latent-live bank build --backend embedded --seeds 0-999 --keep 32 --out latent_banks/mine
    latent-live bank build --backend vae --model DIR --images FOLDER --out latent_banks/photos
    latent-live bank build --backend lcm --model DIR --prompts prompts.txt --per-prompt 4 --out ...
    latent-live bank info latent_banks/default
"""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("bank", help="build latent banks offline (bank build) and inspect them (bank info)",
                       description="Build banks of latents before the show, and inspect existing ones.")
    bsub = p.add_subparsers(dest="bank_command", metavar="ACTION")
    from live.banks.builder import add_build_arguments

    b = bsub.add_parser("build", help="sample/encode entries and write a bank folder with a contact sheet",
                        description="Build a bank. Interrupted builds continue where they stopped when run again.")
    add_build_arguments(b)
    b.set_defaults(func=run_build)
    i = bsub.add_parser("info", help="print a bank's backend, model, shapes and entries")
    i.add_argument("path", help="bank folder (or its bank.toml)")
    i.set_defaults(func=run_info)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_build(args) -> int:
    from live.errors import UserError
    from live.gen.base import GenError
    from live.banks.builder import run_build as _run

    try:
        return _run(args)
    except GenError as exc:
        raise UserError(str(exc)) from None


def run_info(args) -> int:
    from live.errors import UserError
    from live.gen.bank import BankError, load_bank

    try:
        bank = load_bank(args.path)
    except BankError as exc:
        raise UserError(str(exc)) from None
    print(bank.summary())
    return 0
