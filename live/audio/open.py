"""``--audio DEVICE|FILE``: one function that turns the show's audio setting into a source."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from live.audio.base import AudioFileError, AudioSource
from live.config import AudioConfig

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff",
                  ".wma", ".webm", ".mka", ".mp4", ".mov", ".mkv"}


def open_source(audio: Optional[str] = None, *, config: AudioConfig = AudioConfig(), hop_size: int = 512,
                realtime: bool = True) -> AudioSource:
    """A source for ``audio``: an existing file -> :class:`FileSource` (playback/loop from
    ``config``); otherwise a device index or name -> :class:`SoundDeviceSource` (None/"" =
    ``config.device``, then the default input). A path that looks like a file but does not
    exist is an :class:`AudioFileError` rather than a confusing "no such device".
    The source is not started: ``start()`` opens the device (AudioDeviceError listing inputs).
    """
    from live.audio.device import SoundDeviceSource
    from live.audio.file import FileSource

    spec = (audio if audio is not None else "").strip() or config.device
    path = Path(spec).expanduser() if spec else None
    if path is not None and path.is_file():
        return FileSource(path, sample_rate_hz=config.sample_rate_hz, hop_size=hop_size, realtime=realtime,
                          playback=config.playback, loop=config.loop)
    if path is not None and path.is_dir():
        raise AudioFileError(f"{spec}: is a folder, not an audio file (give an audio file or a device "
                             "from 'latent-live devices')")
    if path is not None and path.exists():
        raise AudioFileError(f"{spec}: is not a regular file (give an audio file or a device from "
                             "'latent-live devices')")
    if path is not None and (path.suffix.lower() in AUDIO_SUFFIXES or "/" in spec):
        raise AudioFileError(f"{spec}: file not found (give an audio file or a device from 'latent-live devices')")
    return SoundDeviceSource(spec or None, sample_rate_hz=config.sample_rate_hz, block_size=config.block_size,
                             hop_size=hop_size, channels=config.channels, ring_seconds=config.ring_seconds,
                             reopen_interval_s=config.reopen_interval_s, latency=config.latency)
