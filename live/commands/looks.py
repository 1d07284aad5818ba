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
    p.add_argument("--figures", action="store_true", help="measure every look (or --look): frame time at 720p "
                   "and 1080p, detail at 1080p, exposure, BAS and onset-motion of a 20 s render; slow")
    p.add_argument("--detail-seconds", type=float, default=3.0, help="with --figures: 1080p render length for detail")
    p.add_argument("--sync-seconds", type=float, default=20.0, help="with --figures: render length for exposure/BAS")
    p.add_argument("--sync-size", default="640x360", help="with --figures: size of that render")
    p.add_argument("--no-times", action="store_true", help="with --figures: skip the frame-time runs")
    p.add_argument("--look", action="append", default=[], metavar="NAME", help="with --figures: only these looks")
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
    if args.figures:
        return _figures(args, looks)
    if args.json:
        print(json.dumps([{"number": i, "name": lk.name, "description": lk.description, "passes": list(lk.passes),
                           "strobe": lk.strobe, "file": str(lk.path),
                           "params": [{"control": lk.control(p.key), "uniform": p.uniform, "default": p.default,
                                       "range": [p.lo, p.hi], "doc": p.doc} for p in lk.params]}
                          for i, lk in enumerate(looks)], indent=2))
        return 0
    print(listing(looks))
    return 0


def _figures(args, looks) -> int:
    import os
    from pathlib import Path

    from live.cli import UserError
    from live.looks.figures import frame_times, render_figures
    from live.looks.sheet import DEMO_TRACK

    audio = Path(args.audio) if args.audio else DEMO_TRACK
    if not audio.is_file():
        raise UserError(f"audio file not found: {audio}; give one with --audio FILE")
    chosen = [lk for lk in looks if not args.look or lk.name in args.look]
    names = [lk.name for lk in chosen]
    nan = (float("nan"), float("nan"))
    t720 = {n: nan for n in names} if args.no_times else frame_times(names, size=(1280, 720))
    t1080 = {n: nan for n in names} if args.no_times else frame_times(names, size=(1920, 1080))
    sw, sh = (int(x) for x in args.sync_size.lower().split("x"))
    rows = []
    print(f"load {os.getloadavg()[0]:.1f} at start; audio {audio}", flush=True)
    print("look        720p p50/p99 ms  1080p p50/p99 ms  detail  L mean  >0.85  <0.03  strobe  BAS   onset-motion",
          flush=True)
    for lk in chosen:
        f = render_figures(lk, audio, detail_s=args.detail_seconds, sync_s=args.sync_seconds, sync_size=(sw, sh))
        row = {"look": lk.name, "ms_720": t720[lk.name], "ms_1080": t1080[lk.name], **f}
        rows.append(row)
        print(f"{lk.name:<10}  {t720[lk.name][0]:6.1f} / {t720[lk.name][1]:6.1f}   {t1080[lk.name][0]:6.1f} / "
              f"{t1080[lk.name][1]:6.1f}    {f['detail_median']:.4f}  {f['exposure_mean']:.3f}  {100 * f['bright']:4.1f}%"
              f"  {100 * f['dark']:4.1f}%  {f['strobe_frames']:>5}  {f['bas']:.2f}  {f['onset_motion']:.2f}", flush=True)
    print(f"load {os.getloadavg()[0]:.1f} at end")
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0
