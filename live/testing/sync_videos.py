"""Synthetic sync-test videos with known answers, for ``latent-live score`` and its tests.

A click track at a known tempo is muxed with a picture that flashes on the clicks
(brightness jumps to white and decays over a few frames). Either side can be delayed
to give a known audio-visual offset, or the flashes can be put at random times so the
picture is unrelated to the sound. Use it to check a projector/recording chain too:
render the file through it and score what comes out.

PyAV (``av``) is imported lazily inside :func:`write_sync_test_video`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SyncTestSpec:
    """What was written: the ground truth a scorer should recover."""

    path: str
    fps: float
    duration_s: float
    sample_rate_hz: int
    click_times_s: tuple[float, ...]         # where the clicks are in the muxed audio (after delay)
    flash_frames: tuple[int, ...]            # frame indices where the picture flashes
    flash_times_s: tuple[float, ...] = field(default=())
    video_codec: str = ""
    audio_codec: str = ""


def click_track(*, duration_s: float, sample_rate_hz: int = 44100, bpm: float = 120.0,
                first_click_s: float = 0.5, delay_s: float = 0.0, click_ms: float = 15.0,
                accent_every: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A click track: short decaying 1 kHz + noise bursts on every beat.

    Returns ``(samples, click_times_s)``: samples (n,) float32 mono in [-1, 1] and the
    click start times (s) after ``delay_s`` is applied. Every ``accent_every``-th click is louder.
    """
    n = int(round(duration_s * sample_rate_hz))
    out = np.zeros(n, dtype=np.float32)
    period = 60.0 / bpm
    length = int(click_ms * 1e-3 * sample_rate_hz)
    t = np.arange(length) / sample_rate_hz
    rng = np.random.default_rng(1)
    burst = (np.sin(2 * np.pi * 1000.0 * t) * 0.6 + rng.uniform(-0.4, 0.4, length)) * np.exp(-t / 0.004)
    times = []
    k = 0
    while True:
        ts = first_click_s + k * period + delay_s
        start = int(round(ts * sample_rate_hz))
        if start + length > n:
            break
        gain = 0.9 if (accent_every and k % accent_every == 0) else 0.6
        out[start:start + length] += (gain * burst).astype(np.float32)
        times.append(start / sample_rate_hz)
        k += 1
    return out, np.asarray(times)


def flash_frames_for(times_s, *, fps: float, n_frames: int) -> list[int]:
    """Frame index showing each event time: frame i is shown at i / fps (rounded to nearest)."""
    frames = sorted({int(round(t * fps)) for t in times_s})
    return [f for f in frames if 0 <= f < n_frames]


def write_sync_test_video(path: str | os.PathLike, *, duration_s: float = 10.0, fps: int = 30,
                          width: int = 128, height: int = 72, bpm: float = 120.0,
                          first_click_s: float = 0.5, audio_delay_s: float = 0.0,
                          picture_delay_s: float = 0.0, random_flashes: bool = False,
                          seed: int = 0, sample_rate_hz: int = 44100, with_audio: bool = True,
                          video_codec: str | None = None, audio_codec: str | None = None,
                          decay: float = 0.5) -> SyncTestSpec:
    """Write a video that flashes on the clicks of a click track, audio muxed in.

    ``audio_delay_s`` delays the sound (clicks later, picture unchanged: picture early);
    ``picture_delay_s`` delays the flashes (picture late). ``random_flashes`` puts the same
    number of flashes at random frames instead (picture unrelated to the sound). The
    background is a slowly drifting gradient with a little noise so the codec has real
    content. Video codec: libx264 when the PyAV build has it, else mpeg4; audio AAC.
    """
    import av  # lazy: heavy

    path = os.fspath(path)
    n_frames = int(round(duration_s * fps))
    audio, clicks = click_track(duration_s=duration_s, sample_rate_hz=sample_rate_hz, bpm=bpm,
                                first_click_s=first_click_s, delay_s=audio_delay_s)
    beat_times = first_click_s + np.arange(len(clicks)) * 60.0 / bpm  # undelayed grid
    if random_flashes:
        rng = np.random.default_rng(seed)
        pool = np.arange(int(0.3 * fps), n_frames - 1)
        flashes = sorted(rng.choice(pool, size=min(len(beat_times), len(pool)), replace=False).tolist())
    else:
        flashes = flash_frames_for(beat_times + picture_delay_s, fps=fps, n_frames=n_frames)

    vcodec = video_codec or _pick_codec(("libx264", "mpeg4"))
    acodec = audio_codec or _pick_codec(("aac", "pcm_s16le"), mode="w")
    rng = np.random.default_rng(seed + 7)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    level = np.zeros(n_frames, dtype=np.float32)
    for f in flashes:
        for k in range(n_frames - f):
            v = decay ** k
            if v < 0.02:
                break
            level[f + k] = max(level[f + k], v)

    with av.open(path, "w") as container:
        vs = container.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if vcodec == "libx264":
            vs.options = {"crf": "18", "preset": "veryfast"}
        else:
            vs.bit_rate = 2_000_000
        as_ = None
        if with_audio:
            as_ = container.add_stream(acodec, rate=sample_rate_hz, layout="mono")
        for i in range(n_frames):
            base = 40 + 20 * np.sin(2 * np.pi * (xx / width + 0.05 * i / fps)) + 10 * yy / height
            img = base + level[i] * 180.0 + rng.normal(0.0, 2.0, base.shape)
            gray = np.clip(img, 0, 255).astype(np.uint8)
            rgb = np.stack([gray, gray, (gray * 0.8).astype(np.uint8)], axis=-1)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in vs.encode(frame):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if as_ is not None:
            block = 1024
            pcm = (audio * 32767.0).astype(np.int16) if acodec.startswith("pcm_s16") else audio
            fmt = "s16" if acodec.startswith("pcm_s16") else "fltp"
            for start in range(0, len(pcm), block):
                chunk = np.ascontiguousarray(pcm[start:start + block].reshape(1, -1))
                af = av.AudioFrame.from_ndarray(chunk, format=fmt, layout="mono")
                af.sample_rate = sample_rate_hz
                af.pts = start
                for packet in as_.encode(af):
                    container.mux(packet)
            for packet in as_.encode():
                container.mux(packet)
    return SyncTestSpec(path=path, fps=float(fps), duration_s=n_frames / fps,
                        sample_rate_hz=sample_rate_hz,
                        click_times_s=tuple(float(c) for c in clicks) if with_audio else (),
                        flash_frames=tuple(int(f) for f in flashes),
                        flash_times_s=tuple(f / fps for f in flashes),
                        video_codec=vcodec, audio_codec=acodec if with_audio else "")


def write_wav(path: str | os.PathLike, samples: np.ndarray, *, sample_rate_hz: int) -> None:
    """Write (n,) float mono samples as 16-bit PCM WAV (stdlib only)."""
    import wave

    pcm = (np.clip(samples, -1, 1) * 32767.0).astype("<i2")
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(pcm.tobytes())


def _pick_codec(names, mode: str = "w") -> str:
    import av

    for name in names:
        try:
            av.codec.Codec(name, mode)
            return name
        except Exception:  # noqa: BLE001 - codec not in this build
            continue
    raise RuntimeError(f"none of the codecs {names} is available in this PyAV build")
