"""live.motion: pure functions that turn music into a walk through a latent bank."""
from live.motion.mapper import MotionState, ease, step

__all__ = ["MotionState", "ease", "step"]
