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
            "--beats prints one line per emitted beat, 'beat_time report_time beat_in_bar': times in seconds, "
            "report_time is the audio time at which the analyzer emitted it (end of the hop that fired), "
            "beat_in_bar the beat's position in its bar (1 = downbeat)."
        ),
    )
    p.add_argument("audio", metavar="AUDIO", help="audio file (WAV, FLAC, OGG, OPUS, MP3, ...)")
    p.add_argument("--json", metavar="OUT", help="write every frame's features and the event lists to OUT")
    p.add_argument("--beats", action="store_true", help="print only 'beat_time report_time beat_in_bar' per beat")
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
    from live.audio.file import open_audio_info
    from live.features import analyze_file

    path = Path(args.audio)
    writer = None
    try:
        file_rate, channels, _ = open_audio_info(path)
        if args.json:
            writer = _JsonFrames(args.json)      # frames go to the file as they are made
        result = analyze_file(path, sample_rate_hz=rate, config=cfg.features, keep_frames=False,
                              on_frame=writer.add if writer else None)
    except AudioError as exc:
        if writer:
            writer.abort()
        raise UserError(str(exc)) from None
    except ValueError as exc:      # a setting the analyzer cannot use (hop size, BPM range)
        if writer:
            writer.abort()
        raise UserError(str(exc)) from None
    except BaseException:
        if writer:
            writer.abort()
        raise
    if result.duration_s <= 0 or not result.frame_count:
        if writer:
            writer.abort()
        raise UserError(f"{path}: no audio samples in the file")

    if writer:
        writer.finish(result)       # renamed into place only when complete (UserError on a full disk)

    if args.beats:
        try:
            sys.stdout.write("".join(f"{b:.4f} {r:.4f} {k}\n" for (b, r), k in zip(result.beats, result.beats_in_bar)))
            sys.stdout.flush()
        except BrokenPipeError:      # `... --beats | head` is fine
            sys.stderr.close()
        return 0

    from live.types import PITCH_CLASSES

    chroma = result.mean_chroma()
    pitch = PITCH_CLASSES[int(chroma.argmax())] if float(chroma.max()) > 0 else "-"
    import math

    mean_ms = result.mean_power()
    mean_db = 10.0 * math.log10(mean_ms) if mean_ms > 1e-12 else -120.0
    resampled = "" if file_rate == result.sample_rate_hz else f", analysed at {result.sample_rate_hz} Hz"
    print(f"{path.name}: {result.duration_s:.2f} s, {file_rate} Hz {channels} ch{resampled}")
    if result.bpm > 0:
        print(f"  tempo    {result.bpm:.1f} BPM (confidence {result.bpm_confidence:.2f})")
    else:
        print("  tempo    none found")
    print(f"  beats    {len(result.beats)}")
    print(f"  onsets   {len(result.onsets)}")
    print(f"  pitch    {pitch} (strongest chroma bin on average)")
    print(f"  loudness {mean_db:.1f} dBFS (RMS over the file)")
    if args.json:
        print(f"  wrote    {args.json} ({result.frame_count} frames)")
    return 0


class _JsonFrames:
    """Streams ``--json`` to a temporary file beside the target, frame by frame, and renames it
    into place when the analysis is complete: memory stays bounded, and a full disk or an error
    leaves no empty or partial file (only a one-line error)."""

    def __init__(self, target):
        import os
        import tempfile

        from live.errors import UserError

        self.target = Path(target)
        folder = self.target.parent if str(self.target.parent) else Path(".")
        if not folder.is_dir():
            raise UserError(f"cannot write {self.target}: the folder {folder} does not exist")
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=folder)
            self.fh = os.fdopen(fd, "w", encoding="utf-8")
            self.fh.write('{"frames":[')
        except OSError as exc:
            self.abort()
            raise UserError(f"cannot write {self.target}: {exc.strerror or exc}") from None
        self.first = True
        self.error: OSError | None = None

    def add(self, frame) -> None:
        if self.error is not None:
            return
        try:
            self.fh.write(("" if self.first else ",") + json.dumps(frame.to_dict(), separators=(",", ":")))
            self.first = False
        except OSError as exc:          # remembered; reported once the analysis ends
            self.error = exc

    def finish(self, result) -> None:
        import os

        from live.errors import UserError

        try:
            if self.error is not None:
                raise self.error
            d = result.to_dict()
            d.pop("frames", None)
            self.fh.write("]," + json.dumps(d, separators=(",", ":"))[1:])
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.replace(self.tmp, self.target)
            self.tmp = None
        except OSError as exc:
            self.abort()
            raise UserError(f"cannot write {self.target}: {exc.strerror or exc}; nothing was written") from None

    def abort(self) -> None:
        import os

        try:
            if getattr(self, "fh", None) is not None and not self.fh.closed:
                self.fh.close()
        except OSError:
            pass
        if getattr(self, "tmp", None):
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None
