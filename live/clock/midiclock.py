"""MIDI clock in: tempo and position from a DJ mixer or a DAW (24 pulses per quarter note).

:class:`MidiClockParser` is pure (messages and their times in, a :class:`Reading` out), so
tests feed it exact timings; :class:`MidiClockInput` opens a port with python-rtmidi (the
library under mido) and hands every message, with its time, to a parser.

* **Tempo** is the slope of a straight line fitted to the pulse times (least squares over the
  last ``window_beats``, 8 by default). It is given after one beat (25 pulses) and settles
  within two; a line through many pulses averages out the jitter of USB and of the sender.
  When the newest pulses drift away from the line, more and more over three groups of six, by
  more than the jitter explains (five standard errors of a robust jitter estimate), the window
  restarts from them, so a tempo change is followed within a beat; a burst of pulses delivered
  late (an xrun, a stalled machine) comes back to the line and is left out of the fit instead.
* **Position**: Start sets the song position to 0 at the next pulse (the downbeat); Song
  Position Pointer (in sixteenths) sets it for the next pulse after Continue; Stop holds it.
  Without Start or a song position the clock gives tempo only (the beat phase stays ours).
* **Silence**: no pulse for ``timeout_s`` (0.5 s; 24 pulses a beat arrive every 21 ms at 120 BPM)
  makes the source silent, and the tempo clock hands over to the next source.

Pulse times: python-rtmidi gives each message the time since the previous one as measured by
the MIDI API (JACK: from its frame clock; ALSA: the sequencer's timestamps). The time used is
that chain of deltas, placed on the host clock by the smallest lag between the chain and the
moments the messages were polled, so neither polling late nor a loaded machine moves a pulse.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from live.clock.tempo import Reading, host_now

CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
PPQN = 24
_K = 6          # pulses that must leave the fitted line together to count as a tempo change
INSTALL_HINT = "MIDI clock needs python-rtmidi: pip install python-rtmidi mido"


class MidiClockParser:
    """Pulse, Start/Stop/Continue and Song Position messages with their times -> tempo, phase."""

    def __init__(self, *, beats_per_bar: int = 4, window_beats: float = 8.0,
                 timeout_s: float = 0.5, min_pulses: int = PPQN + 1):
        self.beats_per_bar = max(int(beats_per_bar), 1)
        self.window = max(int(round(window_beats * PPQN)), PPQN + 1)
        self.timeout_s = float(timeout_s)
        self.min_pulses = max(int(min_pulses), 3)
        self._g = np.zeros(self.window, dtype=np.float64)     # pulse numbers (ring)
        self._t = np.zeros(self.window, dtype=np.float64)     # their times
        self._n = 0                                           # pulses in the window
        self._count = -1                                      # number of the newest pulse
        self._last_t = -math.inf
        self._playing = False
        self._known = False                                   # position known (Start / SPP)
        self._song = -1                                       # song position of the newest pulse, in pulses
        self._next_song: Optional[int] = None                 # set by Start / SPP for the next pulse
        self._fit: Optional[tuple[float, float]] = None       # (time of pulse `_count`, s per pulse)
        self._acquired = False
        self.transport_seen = False
        self.messages = 0

    # -- messages ----------------------------------------------------------------------
    def feed(self, data, t: float) -> None:
        """One MIDI message (bytes or list of ints) received at time ``t`` (s)."""
        if not data:
            return
        status = int(data[0])
        self.messages += 1
        if status == CLOCK:
            self.pulse(t)
        elif status == START:
            self.start()
        elif status == CONTINUE:
            self.cont()
        elif status == STOP:
            self.stop()
        elif status == SONG_POSITION and len(data) >= 3:
            self.song_position((int(data[2]) << 7) | int(data[1]))

    def pulse(self, t: float) -> None:
        self._count += 1
        i = self._count % self.window
        self._g[i] = self._count
        self._t[i] = t
        self._n = min(self._n + 1, self.window)
        self._last_t = t
        self._fit = None
        self._line()                       # refit now: a tempo change is found at its first pulses
        if self._playing:
            if self._next_song is not None:
                self._song, self._next_song = self._next_song, None
            else:
                self._song += 1

    def start(self) -> None:
        """Start: song position 0 at the next pulse."""
        self.transport_seen = True
        self._playing = True
        self._known = True
        self._next_song = 0

    def cont(self) -> None:
        self.transport_seen = True
        self._playing = True
        if self._next_song is None and self._known:
            self._next_song = self._song + 1

    def stop(self) -> None:
        self.transport_seen = True
        self._playing = False

    def song_position(self, sixteenths: int) -> None:
        """Song Position Pointer: the next pulse after Continue is at ``sixteenths`` / 4 beats."""
        self._known = True
        self._next_song = int(sixteenths) * (PPQN // 4)

    # -- estimates ---------------------------------------------------------------------
    def _line(self) -> Optional[tuple[float, float]]:
        """(smoothed time of the newest pulse, seconds per pulse), refitted after each pulse."""
        if self._fit is not None:
            return self._fit
        n = self._n
        if n < (_K if self._acquired else self.min_pulses):
            return None
        idx = (self._count - np.arange(n)[::-1]) % self.window
        g = self._g[idx] - self._count                       # ..., -2, -1, 0
        t0 = self._t[idx[-1]]
        t = self._t[idx] - t0
        slope, icpt = _fit(g, t)
        if n >= 5 * _K:
            res = t - (slope * g + icpt)
            old = res[:-3 * _K]
            sigma = max(1.4826 * float(np.median(np.abs(old - np.median(old)))), 1e-4)   # robust jitter
            # a tempo change: the newest pulses leave the line more and more, three groups in a row
            # (a late burst of pulses comes back to it; a new tempo keeps drifting away)
            m1, m2, m3 = (float(res[len(res) - (i + 1) * _K:len(res) - i * _K].mean()) for i in range(3))
            thr = max(5.0 * sigma / math.sqrt(_K), 3e-4)
            if (abs(m1) > thr and abs(m3) > 0.25 * thr and m1 * m2 > 0 and m2 * m3 > 0
                    and abs(m1) > abs(m2) > abs(m3)):
                self._n = 2 * _K                              # restart the window from them
                slope, icpt = _fit(g[-2 * _K:], t[-2 * _K:])
            else:
                # pulses the MIDI system delivered late (an xrun, a stall) stay out of the fit
                bad = np.abs(res) > max(5.0 * sigma, 2e-3)
                if bad.any() and (~bad).sum() >= _K:
                    slope, icpt = _fit(g[~bad], t[~bad])
        if slope <= 0.0:
            return None
        self._acquired = True
        self._fit = (t0 + icpt, slope)
        return self._fit

    @property
    def bpm(self) -> float:
        line = self._line()
        return 0.0 if line is None else 60.0 / (PPQN * line[1])

    @property
    def playing(self) -> bool:
        return self._playing

    def position_at(self, t: float) -> Optional[float]:
        """Song position in beats at time ``t`` (None while unknown or not enough pulses)."""
        line = self._line()
        if line is None or not self._known:
            return None
        t_last, spp = line
        song = self._song if self._next_song is None else self._next_song - 1   # next pulse lands there
        return (song + (t - t_last) / spp) / PPQN

    def reading(self, t: float) -> Optional[Reading]:
        """What the clock says about time ``t``; None while silent (no pulse for ``timeout_s``)."""
        if t - self._last_t > self.timeout_s:
            return None
        line = self._line()
        if line is None:
            return None
        bpm = 60.0 / (PPQN * line[1])
        if self.transport_seen and not self._playing:
            return Reading(bpm, playing=False)
        pos = self.position_at(t)
        if pos is None:
            return Reading(bpm)                     # tempo only
        return Reading(bpm, phase=pos % 1.0, bar_beat=pos % self.beats_per_bar)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares line y = slope * x + intercept."""
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    den = float(dx @ dx)
    slope = float(dx @ (y - ym)) / den if den > 0 else 0.0
    return slope, ym - slope * xm


API_NAMES = ("auto", "alsa", "jack")


def _rtmidi_api(name: str) -> int:
    import rtmidi
    if name == "jack":
        return rtmidi.API_UNIX_JACK
    if name == "alsa":
        return rtmidi.API_LINUX_ALSA
    return rtmidi.API_UNSPECIFIED


def list_inputs(api: str = "auto") -> list[str]:
    """Names of the MIDI inputs the clock can open."""
    try:
        import rtmidi
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    m = rtmidi.MidiIn(_rtmidi_api(api), "latent-live-list")
    try:
        return list(m.get_ports())
    finally:
        m.delete()


class MidiClockInput:
    """A MIDI input port feeding a :class:`MidiClockParser` (the tempo source ``midi``).

    ``port`` is a name or part of one (case-insensitive); ``host_of_audio`` maps the show's
    audio clock onto the host clock :func:`~live.clock.tempo.host_now` (identity in tests).
    The port is polled from :meth:`reading` on the analysis thread (no Python callback in the
    MIDI API's own thread: with JACK that thread can deadlock against a client opening or
    closing). Polling late costs nothing in timing: each message's time is the chain of the
    API's own deltas, placed on the host clock by the smallest lag seen between that chain and
    the poll times (which may only grow slowly, to follow drift between the two clocks).
    """

    def __init__(self, port: str, *, api: str = "auto", beats_per_bar: int = 4,
                 host_of_audio: Optional[Callable[[float], float]] = None,
                 parser: Optional[MidiClockParser] = None, clock: Callable[[], float] = host_now,
                 client_name: str = "latent-live clock", drift: float = 1e-4):
        try:
            import rtmidi
        except ImportError as exc:
            raise RuntimeError(INSTALL_HINT) from exc
        if api not in API_NAMES:
            raise ValueError(f"MIDI API {api!r} unknown; valid: {', '.join(API_NAMES)}")
        self.parser = parser or MidiClockParser(beats_per_bar=beats_per_bar)
        self.host_of_audio = host_of_audio or (lambda t: t)
        self._clock = clock
        self._drift = float(drift)         # s the lag estimate may grow per message
        self._chain: Optional[float] = None
        self._offset = math.inf
        try:
            self._in = rtmidi.MidiIn(_rtmidi_api(api), client_name, queue_size_limit=4096)
        except Exception as exc:  # noqa: BLE001 - rtmidi raises its own SystemError subclasses
            raise RuntimeError(f"cannot open the MIDI system ({api}): {str(exc).rstrip('.')}. On Linux without the "
                               "ALSA sequencer (/dev/snd/seq), use clock.midi_api = \"jack\"") from exc
        names = self._in.get_ports()
        want = port.strip().lower()
        hits = [i for i, n in enumerate(names) if want and want in n.lower()]
        if not hits:
            self._in.delete()
            raise RuntimeError(f"no MIDI input matches {port!r}; inputs: "
                               f"{', '.join(names) if names else '(none)'}")
        self.port_name = names[hits[0]]
        self._in.ignore_types(sysex=True, timing=False, active_sense=True)   # clock is 'timing'
        self._in.open_port(hits[0], "clock in")

    def poll(self) -> int:
        """Take every queued message into the parser; returns how many."""
        batch = []
        while True:
            ev = self._in.get_message()
            if not ev:
                break
            msg, delta = ev
            self._chain = 0.0 if self._chain is None else self._chain + max(float(delta), 0.0)
            batch.append((msg, self._chain))
        if not batch:
            return 0
        # the newest message arrived before now: the tightest bound on the chain's offset
        self._offset = min(self._offset + self._drift * len(batch), self._clock() - batch[-1][1])
        for msg, c in batch:
            self.parser.feed(msg, c + self._offset)
        return len(batch)

    def reading(self, t_audio: float) -> Optional[Reading]:
        self.poll()
        return self.parser.reading(self.host_of_audio(t_audio))

    def close(self) -> None:
        try:
            self._in.close_port()
            self._in.delete()
        except Exception:  # noqa: BLE001
            pass
