"""The DJ's clock: tempo sources and their precedence -> :class:`live.types.Beat`.

``tempo``: the pure precedence and hand-over (:class:`TempoClock`), manual and tap sources and
the analyzer's tracker as a source. ``link`` (Ableton Link, aalink) and ``midiclock`` (MIDI
clock in, mido + python-rtmidi) import their libraries lazily. ``latency``: the sound-to-eye
delay that beat-locked effects are scheduled against.
"""
from live.clock.tempo import (ManualTempo, Reading, TapSource, TempoClock, check_precedence,
                              tracker_reading)

__all__ = ["ManualTempo", "Reading", "TapSource", "TempoClock", "check_precedence", "tracker_reading"]
