"""latent-live: a real-time audio-reactive latent-space visualizer for VJs and DJs."""

__version__ = "0.1.0"
