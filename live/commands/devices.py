"""``latent-live devices``: list the sound inputs and outputs with their rates and latencies."""
from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "devices",
        help="list sound input and output devices (rates, latencies)",
        description=(
            "List the sound devices PortAudio sees. Pick an input for the show with "
            "'--audio INDEX' or '--audio NAME' (a case-insensitive part of the name)."
        ),
    )
    p.add_argument("--json", action="store_true", help="print the device records as JSON")
    p.set_defaults(func=run)


def _table(title: str, rows: list, *, kind: str) -> list[str]:
    lines = [f"{title}:"]
    if not rows:
        return lines + ["  (none)"]
    name_w = max(4, min(48, max(len(d.name) for d in rows)))
    host_w = max(8, max(len(d.hostapi) for d in rows))
    lines.append(f"    {'#':>3}  {'name':<{name_w}}  {'host api':<{host_w}}  {'ch':>3}  {'rate Hz':>8}  latency ms (low/high)")
    for d in rows:
        default = "*" if (d.is_default_input if kind == "in" else d.is_default_output) else " "
        ch = d.max_input_channels if kind == "in" else d.max_output_channels
        lo, hi = ((d.low_input_latency_ms, d.high_input_latency_ms) if kind == "in"
                  else (d.low_output_latency_ms, d.high_output_latency_ms))
        name = d.name if len(d.name) <= name_w else d.name[:name_w - 1] + "~"
        lines.append(f"  {default} {d.index:>3}  {name:<{name_w}}  {d.hostapi:<{host_w}}  {ch:>3}  "
                     f"{d.default_samplerate_hz:>8.0f}  {lo:.1f} / {hi:.1f}")
    return lines


def run(args) -> int:
    from live.audio.base import AudioDeviceError
    from live.audio.devices import list_devices
    from live.errors import UserError

    try:
        devices = list_devices()
    except AudioDeviceError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        json.dump([d.to_dict() for d in devices], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not devices:
        print("No sound devices found. Plug in an interface, or start PulseAudio/PipeWire "
              "(the ALSA 'pulse' device appears when a server runs); a file works too: --audio track.wav")
        return 0
    lines = _table("Inputs", [d for d in devices if d.is_input], kind="in")
    lines += [""] + _table("Outputs", [d for d in devices if d.is_output], kind="out")
    lines += ["", "* = default. Pick an input with --audio INDEX or --audio NAME (part of the name)."]
    print("\n".join(lines))
    return 0
