"""``latent-live midi list``: the MIDI inputs and outputs a controller can be picked from."""
from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "midi",
        help="list MIDI controller ports",
        description=(
            "List the MIDI ports a controller can be played from. Pick one in the show file "
            "([midi] input = INDEX or a part of the name) or with 'run --midi NAME'."
        ),
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    ls = verbs.add_parser("list", help="list MIDI inputs and outputs")
    for q in (p, ls):
        q.add_argument("--api", default="auto", choices=("auto", "alsa", "jack"),
                       help="MIDI system (default auto: ALSA on Linux; jack where there is no ALSA sequencer)")
        q.add_argument("--json", action="store_true", help="print {inputs, outputs} as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from live.cli import UserError
    from live.control.midi import MidiError, list_ports

    try:
        inputs, outputs = list_ports(args.api)
    except MidiError as exc:
        raise UserError(f"{exc} (on Linux the ALSA sequencer /dev/snd/seq or a JACK server is needed; "
                        "choose one with --api)") from None
    if args.json:
        json.dump({"inputs": inputs, "outputs": outputs}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for title, names in (("MIDI inputs (controllers)", inputs), ("MIDI outputs (feedback)", outputs)):
        print(f"{title}:")
        for i, n in enumerate(names):
            print(f"  {i:>3}  {n}")
        if not names:
            print("  (none)")
    print("\nPick a controller with [midi] input = INDEX or a part of its name.")
    return 0
