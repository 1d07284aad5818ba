"""``latent-live looks``: the look library (numbered, with parameters); ``--sheet`` draws a
contact sheet of every look."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "looks",
        help="list the looks (scenes): number, name, passes, parameters; --sheet draws them all",
        description=(
            "List the looks of the bundled shaders/looks/ folder and of the --shader-dir folders "
            "(their looks/ subfolder; a look there replaces a bundled one of the same name). "
            "Switch live with /live/look/select N or /live/look/name NAME; render one with "
            "'latent-live render --look NAME'."
        ),
    )
    p.add_argument("--shader-dir", action="append", default=[], metavar="DIR",
                   help="a folder with your own looks/NAME.toml files (repeatable)")
    p.add_argument("--json", action="store_true", help="print the looks as JSON")
    p.add_argument("--sheet", metavar="PNG", help="write a contact sheet of every look (a frame on a beat, "
                   "a frame between beats) to this PNG")
    p.add_argument("--audio", metavar="FILE", help="music for the sheet (default: the demo track)")
    p.add_argument("--size", default="480x270", metavar="WxH", help="size of each picture on the sheet")
    p.set_defaults(func=run)


def run(args) -> int:
    from live.cli import UserError
    from live.looks.catalog import discover, listing

    errors: list[str] = []
    looks = discover(args.shader_dir, errors=errors)
    for e in errors:
        print(f"skipped: {e}")
    if args.sheet:
        from live.looks.sheet import SheetError, contact_sheet

        try:
            w, h = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            raise UserError(f"--size must be WxH, e.g. 480x270, got {args.size!r}") from None
        try:
            out = contact_sheet(args.sheet, looks=looks, shader_dirs=args.shader_dir, audio=args.audio,
                                size=(w, h))
        except SheetError as exc:
            raise UserError(str(exc)) from None
        print(f"wrote {out}")
        return 0
    if args.json:
        print(json.dumps([{"number": i, "name": lk.name, "description": lk.description, "passes": list(lk.passes),
                           "strobe": lk.strobe, "file": str(lk.path),
                           "params": [{"control": lk.control(p.key), "uniform": p.uniform, "default": p.default,
                                       "range": [p.lo, p.hi], "doc": p.doc} for p in lk.params]}
                          for i, lk in enumerate(looks)], indent=2))
        return 0
    print(listing(looks))
    return 0
