#!/usr/bin/env python3
"""Write a sync-test video with a known answer: a click track and a picture flashing on it.

    python tools/make_sync_test_video.py OUT.mp4 [--bpm 120] [--seconds 15] [--fps 30]
        [--size 128x72] [--audio-delay-ms 100 | --picture-delay-ms 100 | --random]

Then ``latent-live score OUT.mp4`` should report BAS > 0.9 and the offset you built in
(audio delayed by D ms = picture early = -D ms; picture delayed = +D ms). Play it through a
projector/capture chain and score the capture to measure that chain's latency.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from live.testing.sync_videos import write_sync_test_video  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="output video file (.mp4, .mkv, .mov)")
    p.add_argument("--bpm", type=float, default=120.0)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--size", default="128x72", help="WIDTHxHEIGHT, even numbers (default 128x72)")
    p.add_argument("--audio-delay-ms", type=float, default=0.0, help="delay the sound (picture early)")
    p.add_argument("--picture-delay-ms", type=float, default=0.0, help="delay the flashes (picture late)")
    p.add_argument("--random", action="store_true", help="flash at random times (unrelated picture)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        w, h = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        p.error(f"--size must look like 128x72, got {args.size!r}")
    if w % 2 or h % 2 or w < 16 or h < 16:
        p.error("--size needs even numbers >= 16")
    spec = write_sync_test_video(args.out, duration_s=args.seconds, fps=args.fps, width=w, height=h,
                                 bpm=args.bpm, audio_delay_s=args.audio_delay_ms / 1000.0,
                                 picture_delay_s=args.picture_delay_ms / 1000.0,
                                 random_flashes=args.random, seed=args.seed)
    print(f"wrote {spec.path}: {spec.duration_s:.2f} s, {len(spec.click_times_s)} clicks, "
          f"{len(spec.flash_frames)} flashes, {spec.video_codec} + {spec.audio_codec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
