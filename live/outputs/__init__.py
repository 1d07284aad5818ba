"""Frame sinks: where captured output frames go (recorder, NDI, virtual camera, preview, ...).

See :mod:`live.outputs.base` for the contract every sink keeps.
"""
from live.outputs.base import FrameSink, SinkStats, ThreadedSink

__all__ = ["FrameSink", "SinkStats", "ThreadedSink"]
