"""Sound in: live input, file playback and arrays, all read hop by hop on an audio clock.

    from live.audio import SoundDeviceSource, FileSource, ArraySource
    with FileSource("demo/demo_beat.wav", sample_rate_hz=44100) as src:
        while (hop := src.read_hop()) is not None:   # (hop_size,) float32 mono
            ...

Importing this package is light: sounddevice (PortAudio) and PyAV are imported only
when a device is opened or a file decoded.
"""
from live.audio.base import AudioDeviceError, AudioError, AudioFileError, AudioSource
from live.audio.device import SoundDeviceSource
from live.audio.devices import DeviceInfo, find_input_device, list_devices
from live.audio.file import FileSource, decode_audio
from live.audio.memory import ArraySource
from live.audio.open import open_source
from live.audio.ring import RingBuffer

__all__ = [
    "ArraySource", "AudioDeviceError", "AudioError", "AudioFileError", "AudioSource", "DeviceInfo",
    "FileSource", "RingBuffer", "SoundDeviceSource", "decode_audio", "find_input_device", "list_devices",
    "open_source",
]
