"""``latent-live score VIDEO``: how well is the picture in sync with the sound?"""
from __future__ import annotations

import json
import os
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "score",
        help="measure a video's sync with its soundtrack: beat alignment, onset-motion correlation, offset",
        description=(
            "Measure how well a video's picture follows its soundtrack: Beat Alignment Score (beats "
            "vs. peaks of frame-to-frame change), onset-motion correlation, and the audio-visual "
            "offset within +-500 ms (positive = picture late). Works on any video file, not only "
            "latent-live renders."
        ),
    )
    p.add_argument("video", metavar="VIDEO", help="video file to score (its audio track is used unless --audio)")
    p.add_argument("--audio", metavar="AUDIO", default=None,
                   help="score against this audio file instead of the video's own audio track "
                        "(its first sample plays at the video's time 0)")
    p.add_argument("--beats", metavar="FILE", default=None,
                   help="beat times to use instead of the analyzer's: one time in seconds per line "
                        "(first column; Audacity labels and CSV work)")
    p.add_argument("--tau-ms", type=float, default=50.0, metavar="MS",
                   help="BAS tolerance tau in ms (default: 50)")
    p.add_argument("--max-offset-ms", type=float, default=500.0, metavar="MS",
                   help="offset search range +-MS (default: 500)")
    p.add_argument("--json", metavar="OUT", default=None,
                   help="also write all figures as JSON to OUT ('-' = print JSON instead of the summary)")
    p.set_defaults(func=run)


def run(args) -> int:
    from live.errors import UserError
    from live.sync_score import ScoreError, score_video

    if not (args.tau_ms > 0):
        raise UserError(f"--tau-ms must be > 0, got {args.tau_ms:g}")
    if not (args.max_offset_ms > 0):
        raise UserError(f"--max-offset-ms must be > 0, got {args.max_offset_ms:g}")
    if args.json and args.json != "-":
        parent = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(parent):
            raise UserError(f"cannot write --json {args.json}: folder {parent} does not exist")
    try:
        result = score_video(args.video, audio_path=args.audio, beats=args.beats,
                             tau_s=args.tau_ms / 1000.0, max_offset_s=args.max_offset_ms / 1000.0)
    except ScoreError as exc:
        raise UserError(str(exc)) from None
    doc = json.dumps(result.to_dict(), indent=2)
    if args.json == "-":
        sys.stdout.write(doc + "\n")
        return 0
    print(result.summary())
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(doc + "\n")
        except OSError as exc:
            raise UserError(f"cannot write --json {args.json}: {exc.strerror or exc}") from None
        print(f"  figures written to {args.json}")
    return 0
