"""Figures of every look (``latent-live looks --figures``): chain frame time at 1280x720 and
1920x1080 on this GL, fine detail at 1080p, exposure, and A/V sync of a render.

- frame time: a headless renderer per size draws the look ``frames`` times from one fixed
  generator picture (the embedded backend's) with beat-like features; wall time of draw +
  glFinish per frame, p50/p99, after 5 warm-up frames.
- detail: :func:`live.looks.measure.detail_share` of every 6th frame of a ``detail_s`` render
  of the music at 1920x1080 (``latent-live render --look``), median.
- exposure and sync: a ``sync_s`` render of the music at ``sync_size``; exposure of every
  frame (:func:`live.looks.measure.exposure`; a look marked ``strobe`` counts its frames over
  the bright limit as its intended strobe frames, reported separately); BAS and onset-motion correlation from
  :func:`live.sync_score.score_video` of the encoded file (as ``latent-live score``).
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np


def frame_times(looks: Sequence[str], *, size: tuple[int, int], frames: int = 40) -> dict[str, tuple[float, float]]:
    from live.gen import get_generator, load_bank
    from live.looks.stage import install_look
    from live.render import Renderer
    from live.types import SILENT_FRAME, Frame, GenControl

    gen = get_generator("embedded", size=256, seed=0)
    gen.load()
    bank = load_bank(Path(__file__).resolve().parents[2] / "latent_banks" / "default")
    gen.set_bank(bank)
    pic = gen.render(GenControl(bank=bank.name, entry_a=0, entry_b=1, alpha=0.4)).pixels
    gen.close()
    out = {}
    r = Renderer(width=size[0], height=size[1], headless=True, hud=False)
    try:
        r.set_frame(Frame(pixels=pic, control=None, gen_ms=0.0, index=1), now_s=-1.0)
        for name in looks:
            install_look(r, name)
            ts = []
            for i in range(frames + 5):
                t = i / 30.0
                ph = (t * 2.0) % 1.0
                f = dataclasses.replace(SILENT_FRAME, t=t, bass=0.5, mid=0.4, treble=0.4, bass_att=1.0 + (ph < 0.2),
                                        mid_att=1.0, treble_att=1.0, rms=0.3, onset=0.7, onset_count=int(t * 2),
                                        last_onset_t=t - ph * 0.5, bpm=120.0, beat_phase=ph, bar_phase=(t / 2) % 1,
                                        centroid_hz=1500.0)
                t0 = time.perf_counter()
                r.draw(f, {}, time_s=t)
                r.finish()
                ts.append(time.perf_counter() - t0)
            ms = 1000.0 * np.asarray(ts[5:])
            out[name] = (float(np.percentile(ms, 50)), float(np.percentile(ms, 99)))
    finally:
        r.close()
    return out


def render_figures(look, audio: Path, *, detail_s: float = 3.0, sync_s: float = 20.0, start_s: float = 0.0,
                   sync_size: tuple[int, int] = (640, 360)) -> dict:
    from live.looks.measure import detail_share, exposure
    from live.looks.sheet import render_look_clip
    from live.sync_score import score_video

    details = []

    def keep_detail(i, px):
        if i % 6 == 0:
            details.append(detail_share(px))
    render_look_clip(look.name, audio, size=(1920, 1080), start_s=start_s, end_s=start_s + detail_s,
                     on_frame=keep_detail)
    pics, strobe = [], []
    with tempfile.TemporaryDirectory(prefix="latent-live-figures-") as tmp:
        out = Path(tmp) / "clip.mp4"
        frames = []

        def keep(i, px):
            frames.append((i, px))
        render_look_clip(look.name, audio, size=sync_size, start_s=start_s, end_s=start_s + sync_s,
                                       on_frame=keep, out=out)
        score = score_video(out)
    for _, px in frames:
        # a strobe look's frames over the bright limit are its intended strobe frames
        bright = float(np.asarray(px, dtype=np.float64).mean()) / 255.0 > 0.85
        (strobe if (look.strobe and bright) else pics).append(px)
    e = exposure(pics)
    return {"detail_median": float(np.median(details)), "exposure_mean": e.mean, "bright": e.bright,
            "dark": e.dark, "clipped": e.clipped, "strobe_frames": len(strobe), "frames": e.frames,
            "bas": score.bas, "onset_motion": score.correlation}
