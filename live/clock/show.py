"""The show's clock: every tempo source, the precedence, and the sound-to-eye compensation.

:class:`ShowClock` lives on the analysis thread: ``update(frame)`` once per hop takes the
analyzer's tracker from the FeatureFrame, asks Link and MIDI clock (when configured), applies
the taps and manual BPM that the control threads queued, and returns the new
:class:`~live.types.Beat` (also published latest-wins in ``latest``). Control handlers only
queue (:meth:`tap`, :meth:`set_bpm`, :meth:`set_precedence`); nothing here blocks.

Latency compensation: ``eye_delay_s`` = ``clock.audio_latency_ms`` (the sound in the room
reaches the analyzer this much later: input buffering) + ``clock.render_latency_ms`` (a frame
drawn now is seen this much later: GPU, display, projector, LED processor) + ``clock.trim_ms``
(a signed fine trim, for what is measured rather than known, e.g. a tracker that leads or lags
the music). Beat-locked effects
read :meth:`for_eye`, the beat as it will be when the picture is seen; onsets cannot be
predicted and are drawn as soon as they are known.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Callable, Optional

from live.clock.tempo import ManualTempo, TapSource, TempoClock, host_now, tracker_reading
from live.types import Beat, FeatureFrame, Latest


class ShowClock:
    """Tempo sources + precedence -> Beat, for the live show (see the module doc)."""

    def __init__(self, *, precedence, beats_per_bar: int = 4, glide: float = 0.25,
                 tap_timeout_s: float = 0.0, link=None, midi=None, link_lead: bool = False,
                 audio_latency_s: float = 0.0, render_latency_s: float = 0.0, trim_s: float = 0.0,
                 compensate: bool = True,
                 tracker_min_confidence: float = 0.0):
        self.tempo = TempoClock(precedence=precedence, beats_per_bar=beats_per_bar, glide=glide)
        self.manual = ManualTempo()
        self.tap_source = TapSource(timeout_s=tap_timeout_s)
        self.link = link
        self.midi = midi
        self.link_lead = bool(link_lead)
        self.audio_latency_s = float(audio_latency_s)
        self.render_latency_s = float(render_latency_s)
        self.trim_s = float(trim_s)
        self.compensate = bool(compensate)
        self.tracker_min_confidence = float(tracker_min_confidence)
        self.latest: Latest[Beat] = Latest(Beat(beats_per_bar=beats_per_bar))
        self._todo: collections.deque = collections.deque()
        self.errors = 0
        self.last_error = ""

    @classmethod
    def from_config(cls, cfg, *, host_of_audio: Optional[Callable[[float], float]] = None) -> "ShowClock":
        """Build from a :class:`live.config.Config`; opens Link and MIDI clock when configured
        (RuntimeError naming the problem and the fix when one cannot open)."""
        c, f = cfg.clock, cfg.features
        audio_lat = c.audio_latency_ms / 1e3
        base = host_of_audio or (lambda t: t)

        def room(t: float) -> float:          # host time at which the sound of audio time t was heard
            return base(t) - audio_lat

        link = midi = None
        if c.link or c.link_lead:
            from live.clock.link import LinkSource
            link = LinkSource(beats_per_bar=f.beats_per_bar, start_stop=c.link_start_stop,
                              host_of_audio=room)
        if c.midi_clock:
            from live.clock.midiclock import MidiClockInput, MidiClockParser
            try:
                midi = MidiClockInput(c.midi_clock, api=c.midi_api, host_of_audio=room,
                                      parser=MidiClockParser(beats_per_bar=f.beats_per_bar,
                                                             timeout_s=c.midi_timeout_s))
            except Exception:
                if link is not None:
                    link.close()
                raise
        return cls(precedence=c.precedence, beats_per_bar=f.beats_per_bar, glide=c.glide,
                   tap_timeout_s=f.tap_timeout_s, link=link, midi=midi, link_lead=c.link_lead,
                   audio_latency_s=audio_lat, render_latency_s=c.render_latency_ms / 1e3,
                   trim_s=c.trim_ms / 1e3,
                   compensate=c.compensate, tracker_min_confidence=f.beat_min_confidence)

    # -- control threads: queue only ---------------------------------------------------
    def tap(self, t_audio: float) -> None:
        """A tap at audio time ``t_audio`` (under a manual BPM it marks the beat)."""
        self._todo.append(("tap", float(t_audio)))

    def set_bpm(self, bpm: Optional[float]) -> None:
        """A manual BPM; None or 0 releases manual and tap tempo."""
        self._todo.append(("bpm", bpm))

    def set_precedence(self, order) -> None:
        self._todo.append(("precedence", tuple(order)))

    # -- analysis thread ---------------------------------------------------------------
    def _apply(self) -> None:
        while self._todo:
            what, v = self._todo.popleft()
            try:
                if what == "tap":
                    if self.manual.bpm > 0:
                        self.manual.align(v)
                    else:
                        self.tap_source.add(v)
                elif what == "bpm":
                    if v and v > 0:
                        self.manual.set(v)
                    else:
                        self.manual.set(None)
                        self.tap_source.release()
                elif what == "precedence":
                    self.tempo.set_precedence(v)
            except ValueError as exc:          # a bad control value is noted, never fatal
                self.errors += 1
                self.last_error = str(exc)

    def _read(self, source, t: float):
        if source is None:
            return None
        try:
            return source.reading(t)
        except Exception as exc:  # noqa: BLE001 - a failing source goes silent, the show goes on
            self.errors += 1
            self.last_error = f"{type(source).__name__}: {exc}"
            return None

    def update(self, frame: FeatureFrame) -> Beat:
        self._apply()
        t = frame.t
        readings = {
            "manual": self.manual.reading(t),
            "tap": self.tap_source.reading(t),
            "link": self._read(self.link, t),
            "midi": self._read(self.midi, t),
            "tracker": tracker_reading(frame, min_confidence=self.tracker_min_confidence),
        }
        beat = self.tempo.update(t, readings)
        if self.link is not None and self.link_lead:
            try:
                self.link.lead(beat if beat.source not in ("link", "none") else None)
            except Exception as exc:  # noqa: BLE001
                self.errors += 1
                self.last_error = f"Link lead: {exc}"
        self.latest.publish(beat)
        return beat

    # -- render side -------------------------------------------------------------------
    @property
    def eye_delay_s(self) -> float:
        if not self.compensate:
            return 0.0
        return self.audio_latency_s + self.render_latency_s + self.trim_s

    def for_eye(self, beat: Beat, *, now_audio_s: Optional[float] = None) -> Beat:
        """``beat`` moved to the moment a frame drawn now (audio time ``now_audio_s``, default
        the beat's own time) reaches the eye: what beat-locked effects should show."""
        if not self.compensate:
            return beat
        now = beat.t if now_audio_s is None else now_audio_s
        return beat.ahead(now - beat.t + self.eye_delay_s)

    def close(self) -> None:
        for s in (self.link, self.midi):
            if s is not None:
                try:
                    s.close()
                except Exception:  # noqa: BLE001
                    pass


def with_beat(frame: FeatureFrame, beat: Beat) -> FeatureFrame:
    """``frame`` with its tempo and beat fields taken from the clock's ``beat`` (one truth for
    the renderer, motion, OSC out and the HUD)."""
    return dataclasses.replace(
        frame, bpm=beat.bpm, bpm_confidence=beat.confidence, tempo_source=beat.source,
        beat_count=beat.beat_count, last_beat_t=beat.last_beat_t, beat_phase=beat.beat_phase,
        bar_phase=beat.bar_phase, beats_per_bar=beat.beats_per_bar)


__all__ = ["ShowClock", "with_beat", "host_now"]
