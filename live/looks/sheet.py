"""A contact sheet of every look: for each, a frame on a beat and a frame between beats,
rendered by the offline render on the audio clock (so feedback looks have their history)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from live.data import find_data

DEMO_TRACK = find_data("demo/demo_beat.wav")


class SheetError(Exception):
    """The sheet cannot be made (no audio, a look that cannot render): one line."""


def render_look_clip(look: str, audio: Path, *, size: tuple[int, int], start_s: float, end_s: float,
                     shader_dirs: Sequence[str] = (), fps: float = 30.0, sets: Sequence[str] = (),
                     on_frame=None, out: Path | None = None) -> tuple[dict, list]:
    """Render ``look`` over [start_s, end_s) of ``audio``; returns (timeline dict, [(t, pixels)])."""
    from live.config import load_config
    from live.offline.render import RenderError, render_file

    frames: list = []
    with tempfile.TemporaryDirectory(prefix="latent-live-look-") as tmp:
        cfg = load_config(None, [f"render.width={size[0]}", f"render.height={size[1]}",
                                 f"render.look={look}",
                                 "render.shader_dirs=" + json.dumps(list(shader_dirs)), *sets])
        tl_path = Path(tmp) / "timeline.json"

        def keep(i, px):
            if on_frame is not None:
                on_frame(i, px)
            else:
                frames.append((i / fps, px))
        try:
            render_file(audio, out or Path(tmp) / "clip.mp4", cfg=cfg, fps=fps, start_s=start_s, end_s=end_s,
                        timeline_out=tl_path, progress=False, on_frame=keep)
        except RenderError as exc:
            raise SheetError(f"look {look}: {exc}") from None
        timeline = json.loads(tl_path.read_text())
    return timeline, frames


def contact_sheet(out: str | Path, *, looks, shader_dirs: Sequence[str] = (), audio: str | Path | None = None,
                  size: tuple[int, int] = (480, 270), start_s: float = 4.0, span_s: float = 3.0) -> Path:
    """Write a PNG: one row per look (name, a frame on a beat, a frame half a beat later)."""
    from PIL import Image, ImageDraw

    audio = Path(audio) if audio else DEMO_TRACK
    if not audio.is_file():
        hint = " (make it with: python tools/make_demo_track.py)" if audio == DEMO_TRACK else ""
        raise SheetError(f"audio file not found: {audio}{hint}; give one with --audio FILE")
    w, h = size
    if w < 32 or h < 18 or w % 2 or h % 2:
        raise SheetError(f"--size must be even and at least 32x18, got {w}x{h}")
    label_w = 150
    sheet = Image.new("RGB", (label_w + 2 * w + 12, len(looks) * (h + 4) + 24), (16, 16, 16))
    draw = ImageDraw.Draw(sheet)
    draw.text((label_w, 4), "on the beat", fill=(220, 220, 220))
    draw.text((label_w + w + 8, 4), "between beats", fill=(220, 220, 220))
    for row, lk in enumerate(looks):
        timeline, frames = render_look_clip(lk.name, audio, size=size, start_s=start_s, end_s=start_s + span_s,
                                            shader_dirs=shader_dirs)
        beats = [b["t"] for b in timeline.get("beats", []) if start_s + 1.0 <= b["t"] <= start_s + span_s - 0.5]
        bpm = float(timeline.get("tempo", {}).get("bpm") or 120.0)
        times = np.array([t for t, _ in frames])
        t_on = beats[-1] if beats else start_s + span_s - 0.5
        t_off = t_on - 30.0 / bpm if t_on - 30.0 / bpm > times[0] else t_on + 30.0 / bpm
        pick = [frames[int(np.argmin(np.abs(times - t)))][1] for t in (t_on, t_off)]
        y = 20 + row * (h + 4)
        draw.text((6, y + 4), f"{row:>2} {lk.name}", fill=(240, 240, 240))
        for k, px in enumerate(pick):
            sheet.paste(Image.fromarray(px), (label_w + k * (w + 8), y))
    out = Path(out)
    sheet.save(out)
    return out
