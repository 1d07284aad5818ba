"""``latent-live analyze AUDIO``: run the exact live analyzer over a file, as fast as it goes."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "analyze",
        help="run the live feature analyzer over an audio file (BPM, beats, onsets, key-ish pitch)",
        description=(
            "Runs the causal analyzer used on stage over AUDIO, hop by hop. Default: a short summary. "
            "--beats prints one line per emitted beat, 'beat_time report_time' in seconds, where "
            "report_time is the audio time at which the analyzer emitted it (end of the hop that fired)."
        ),
    )
    p.add_argument("audio", metavar="AUDIO", help="audio file (WAV, FLAC, OGG, OPUS, MP3, ...)")
    p.add_argument("--json", metavar="OUT", help="write every frame's features and the event lists to OUT")
    p.add_argument("--beats", action="store_true", help="print only 'beat_time report_time' per beat")
    p.add_argument("--sample-rate", type=int, default=0, metavar="HZ",
                   help="analysis rate (default: [audio] sample_rate_hz, 44100)")
    p.add_argument("--config", metavar="TOML", help="show file with a [features] section")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set features.bpm_min=90 (repeatable)")
    p.set_defaults(func=run)


def run(args) -> int:
    from live.errors import UserError
    from live.config import ConfigError, load_config

    try:
        cfg = load_config(args.config, overrides=args.set)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    rate = int(args.sample_rate or cfg.audio.sample_rate_hz)
    if rate < 4000:
        raise UserError(f"--sample-rate {rate} is too low; use 8000 or more")

    from live.audio import AudioError
    from live.features import analyze_file

    path = Path(args.audio)
    try:
        result = analyze_file(path, sample_rate_hz=rate, config=cfg.features)
    except AudioError as exc:
        raise UserError(str(exc)) from None
    except ValueError as exc:      # a setting the analyzer cannot use (hop size, BPM range)
        raise UserError(str(exc)) from None
    if result.duration_s <= 0 or not result.frames:
        raise UserError(f"{path}: no audio samples in the file")

    if args.json:
        out = Path(args.json)
        try:
            out.write_text(json.dumps(result.to_dict(), separators=(",", ":")), encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None

    if args.beats:
        try:
            sys.stdout.write("".join(f"{b:.4f} {r:.4f}\n" for b, r in result.beats))
            sys.stdout.flush()
        except BrokenPipeError:      # `... --beats | head` is fine
            sys.stderr.close()
        return 0

    from live.types import PITCH_CLASSES

    chroma = result.mean_chroma()
    pitch = PITCH_CLASSES[int(chroma.argmax())] if float(chroma.max()) > 0 else "-"
    import math

    mean_ms = sum(f.rms * f.rms for f in result.frames) / len(result.frames)
    mean_db = 10.0 * math.log10(mean_ms) if mean_ms > 1e-12 else -120.0
    print(f"{path.name}: {result.duration_s:.2f} s at {result.sample_rate_hz} Hz")
    if result.bpm > 0:
        print(f"  tempo    {result.bpm:.1f} BPM (confidence {result.bpm_confidence:.2f})")
    else:
        print("  tempo    none found")
    print(f"  beats    {len(result.beats)}")
    print(f"  onsets   {len(result.onsets)}")
    print(f"  pitch    {pitch} (strongest chroma bin on average)")
    print(f"  loudness {mean_db:.1f} dBFS (RMS over the file)")
    if args.json:
        print(f"  wrote    {args.json} ({len(result.frames)} frames)")
    return 0
