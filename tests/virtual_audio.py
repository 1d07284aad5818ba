"""A private PulseAudio server with a null sink (moved to :mod:`live.audio.virtual`, so that
``latent-live bench latency`` can use it from an installed package); re-exported for the tests."""
from live.audio.virtual import (  # noqa: F401
    ALSA_DEVICE, SINK_NAME, VirtualAudio, VirtualAudioUnavailable, missing_binaries, virtual_sound_device,
)
