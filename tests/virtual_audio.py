"""A private PulseAudio server with a null sink (moved to :mod:`live.testing.virtual_audio`, so that
``latent-live bench latency`` can use it from an installed package); re-exported for the tests."""
from live.testing.virtual_audio import (  # noqa: F401
    ALSA_DEVICE, SINK_NAME, VirtualAudio, VirtualAudioUnavailable, missing_binaries, virtual_sound_device,
)
