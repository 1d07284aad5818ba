"""Ableton Link as a tempo source (follow a session) and, optionally, as an output (lead it).

Uses ``aalink`` (GPL-3.0-or-later; it compiles Ableton's Link library in), an optional extra:
``pip install 'latent-live[link]'``. Imported lazily, so the show runs without it.

* **Follow**: while at least one other peer is in the session, :meth:`LinkSource.reading` gives
  the session's tempo, beat phase and bar position (Link's quantum = our beats per bar) and, with
  ``start_stop`` on, its transport (Link's start/stop sync). With no peer left (the DJ's laptop
  left the network) the source is silent and the clock hands over to the next source without a
  jump.
* **Lead**: :meth:`LinkSource.lead` pushes our tempo (from the tracker or a tap) into the
  session and, when the session's phase drifts from ours, re-aligns it (at most once a second).
* **Latency**: Link asks every app to show the beat when it *reaches the listener*. Readings are
  taken at the host time of the audio hop (``host_of_audio``; the app maps its audio clock onto
  Link's clock, the input latency included); the clock then schedules beat-locked effects ahead
  by the render latency (:meth:`live.types.Beat.ahead`), so the flash reaches the eye with the
  session's beat.

Link's clock is the host's monotonic raw clock (``CLOCK_MONOTONIC_RAW`` on Linux);
:func:`live.clock.tempo.host_now` reads it.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

from live.clock.tempo import Reading, host_now  # noqa: F401 - host_now: Link's clock

INSTALL_HINT = ("Ableton Link needs the optional extra (aalink, GPL-3.0): "
                "pip install 'latent-live[link]'")


def _aalink():
    try:
        import aalink
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    return aalink


def new_link(bpm: float = 120.0):
    """An ``aalink.Link`` that needs no running asyncio loop: it gets a private loop that never
    runs (we poll the session state and use none of aalink's callbacks or ``sync`` futures)."""
    import asyncio
    import warnings

    aalink = _aalink()
    loop = asyncio.new_event_loop()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # aalink 0.2 deprecates the loop argument
        link = aalink.Link(float(bpm), loop)
    return link, loop


class LinkSource:
    """One Link peer in the show's process.

    ``host_of_audio`` maps an audio-clock time to Link's clock (seconds); identity when the
    caller already speaks Link time (tests, benches). ``start_stop`` follows the session's
    transport (off by default: many DJ apps never send start/stop, and a session that never
    started would hold the picture's beat).
    """

    def __init__(self, *, beats_per_bar: int = 4, start_stop: bool = False, bpm: float = 120.0,
                 host_of_audio: Optional[Callable[[float], float]] = None, enabled: bool = True):
        self.beats_per_bar = max(int(beats_per_bar), 1)
        self.start_stop = bool(start_stop)
        self.host_of_audio = host_of_audio or (lambda t: t)
        self._link, self._loop = new_link(bpm)
        self._link.quantum = float(self.beats_per_bar)
        self._link.start_stop_sync_enabled = self.start_stop
        self._leading = False
        self._last_align = -math.inf
        self._closed = False
        self._link.enabled = bool(enabled)

    # -- state -------------------------------------------------------------------------
    @property
    def peers(self) -> int:
        return int(self._link.num_peers)

    @property
    def tempo(self) -> float:
        return float(self._link.tempo)

    @property
    def enabled(self) -> bool:
        return bool(self._link.enabled)

    def set_enabled(self, on: bool) -> None:
        self._link.enabled = bool(on)

    def beat_at(self, host_s: float) -> tuple[float, float, float]:
        """``(tempo, beat, bar position in beats)`` of the session at Link time ``host_s``."""
        link = self._link
        now = link.time.total_seconds()
        tempo = float(link.tempo)
        beat = float(link.beat)
        phase = float(link.phase)
        adv = (host_s - now) * tempo / 60.0
        return tempo, beat + adv, (phase + adv) % self.beats_per_bar

    def reading(self, t_audio: float) -> Optional[Reading]:
        """The session's state at audio time ``t_audio``; None while no other peer is there
        (or while we lead: then the session follows us, not the other way round)."""
        if self._closed or self._leading or not self._link.enabled or self._link.num_peers == 0:
            return None
        tempo, beat, bar_beat = self.beat_at(self.host_of_audio(t_audio))
        playing = bool(self._link.playing) if self.start_stop else True
        return Reading(tempo, phase=beat % 1.0, bar_beat=bar_beat, confidence=1.0, playing=playing)

    # -- lead --------------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return self._leading

    def lead(self, beat, *, host_s: Optional[float] = None) -> None:
        """Push ``beat`` (a :class:`live.types.Beat` from another source) into the session:
        tempo at once, the bar phase when it drifts by more than 0.02 beat (once a second at
        most, since re-aligning moves every peer). ``None`` stops leading."""
        if beat is None or beat.bpm <= 0.0:
            self._leading = False
            return
        self._leading = True
        link = self._link
        if abs(float(link.tempo) - beat.bpm) > 0.005:
            link.tempo = float(beat.bpm)
        h = self.host_of_audio(beat.t) if host_s is None else host_s
        now = link.time.total_seconds()
        ours = beat.position - beat.bar_offset + (now - h) * beat.bpm / 60.0   # bar-aligned beat now
        _, theirs, _ = self.beat_at(now)
        e = (ours - theirs + 0.5 * self.beats_per_bar) % self.beats_per_bar - 0.5 * self.beats_per_bar
        if abs(e) > 0.02 and now - self._last_align > 1.0:
            link.force_beat(theirs + e)
            self._last_align = now

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._link.enabled = False
                self._loop.close()
            except Exception:  # noqa: BLE001 - closing must not fail the show
                pass
