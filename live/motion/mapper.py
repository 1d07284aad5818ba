"""How the music moves through latent space: a pure function from features to GenControl.

``step(state, features, control, now_s=..., bank_size=..., bank_names=..., config=...)``
returns ``(new_state, GenControl)``. No threads, no clock of its own, no randomness that is
not derived from its inputs: the same inputs always give the same walk (the generator
thread calls it once per generated frame; tests feed synthetic frames).

The walk
    The generator shows ``slerp(bank[entry_a], bank[entry_b], alpha)``. Each *segment*
    walks from one entry to the next in ``L`` beats and arrives on the beat grid:
    ``L = beats_per_change / m`` where ``m`` is a power of two (1/8 .. 8) chosen at the
    start of the segment from ``speed * energy`` (loud passages halve the time per change,
    quiet ones double it; ``speed`` 0 stops the walk). Within a segment

        alpha = 1/2 (1 - cos(pi * progress)) + onset_accel * onset_envelope   (clamped to 0..1)

    where ``progress`` comes from the beat clock (``beat_count + beat_phase``) when a tempo
    is known (``features.bpm > 0``), else from ``now_s`` at ``config.idle_bpm``; switching
    clocks keeps the progress and re-anchors the end on the grid.
Onsets
    Every new onset (``onset_count`` increased) starts a decaying envelope
    ``strength * exp(-(now_s - t_onset) / pulse_decay_s)``: it pushes alpha ahead (above)
    and the latent along a new random direction (``pulse = control pulse * envelope``,
    ``pulse_dir`` changes at each onset, derived from the onset count).
Build-up and drop
    The mean RMS of each bar is kept; ``buildup_bars`` bars each louder than the one before
    (and ``buildup_rise`` times louder overall) arm a drop for two bars. An onset with
    ``bass_att >= drop_bass_att`` while armed is the drop: the walk cuts to the entry it was
    heading to and holds it for ``drop_hold_beats`` beats (pulses go on).
Chroma
    With the ``chroma_select`` control on, each segment heads to entry number
    ``dominant pitch class`` (0 = C .. 11 = B, of the chroma smoothed over ``chroma_tau_s``),
    modulo the bank size; same key as now = hold.
Banks
    ``bank.select`` / ``bank.next`` / ``bank.prev`` requests wait for the next bar line
    (``bar_phase`` wrapping, or 4 idle beats) and switch there; the new bank starts at entry
    0 (the chroma entry with chroma_select) and ``GenControl.bank`` names it.
Entries
    ``entry.next`` / ``entry.prev`` cut at once (a VJ's button wants an immediate answer) to
    the entry after / before the one currently closest, and walk on from there.
Freeze
    The ``freeze`` control holds the last GenControl unchanged. Beats and onsets that pass
    meanwhile are skipped; entry cuts and bank requests made meanwhile apply on release.

All events are counters compared with the last values seen (kept in :class:`MotionState`),
so skipped frames lose nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from live.config import MotionConfig
from live.control.params import defaults as _control_defaults
from live.types import FeatureFrame, GenControl, new_onset_strength

_ZERO12 = np.zeros(12, dtype=np.float32)
_ZERO12.flags.writeable = False
_MAX_CATCHUP = 64          # segments completed in one step at most (then re-anchor)


@dataclass(frozen=True, slots=True)
class MotionState:
    """Where the walk is. Immutable; ``step`` returns a new one. ``MotionState()`` starts.

    Entries are kept as unbounded ints and reduced modulo the bank size on output.
    Positions (``seg_*``, ``armed_until``) are in beats of ``clock`` ("beat" = the
    analyzer's beat count, "idle" = this walk's own idle clock).
    """

    started: bool = False
    # bank
    bank_index: int = 0
    bank_name: str = ""
    pending_bank: int = -1               # requested bank index, switched at the next bar line
    # segment
    entry_a: int = 0
    entry_b: int = 1
    clock: str = "idle"
    seg_start: float = 0.0
    seg_start_progress: float = 0.0
    seg_end: float = 4.0
    seg_beats: float = 4.0               # L of the current segment
    progress: float = 0.0
    needs_anchor: bool = True
    changes: int = 0                     # segments completed (entry changes)
    # clocks
    idle_pos: float = 0.0
    last_now_s: float = 0.0
    # features seen
    beat_count: int = 0
    onset_count: int = 0
    bar_phase: float = 0.0
    # controls seen
    bank_select_count: int = 0
    bank_next_count: int = 0
    bank_prev_count: int = 0
    entry_next_count: int = 0
    entry_prev_count: int = 0
    entry_select_count: int = 0
    # onsets
    onset_strength: float = 0.0
    onset_t: float = -1e9
    pulse_dir: int = 0
    # energy, build-up, drop
    energy: float = 1.0
    bar_rms_sum: float = 0.0
    bar_rms_n: int = 0
    bar_levels: tuple = ()
    armed_until: float = -math.inf
    drops: int = 0
    # chroma
    chroma: np.ndarray = field(default_factory=lambda: _ZERO12)
    # freeze
    last_control: Optional[GenControl] = None

    @property
    def holding(self) -> bool:
        """True while the walk holds one entry (after a drop, or the same key)."""
        return self.entry_a == self.entry_b


_FIELDS = tuple(MotionState.__dataclass_fields__)


class _Work:
    """Mutable working copy of a MotionState inside one ``step`` (one object built at the end)."""

    def __init__(self, state: MotionState):
        d = self.__dict__
        for f in _FIELDS:
            d[f] = getattr(state, f)

    def update(self, **changes: Any) -> None:
        self.__dict__.update(changes)

    def freeze(self) -> MotionState:
        return MotionState(**self.__dict__)


def ease(progress: float) -> float:
    """Cosine ease 0..1 -> 0..1: ``1/2 (1 - cos(pi * progress))``."""
    return 0.5 * (1.0 - math.cos(math.pi * min(max(progress, 0.0), 1.0)))


def _speed_multiplier(speed: float, energy: float, config: MotionConfig) -> float:
    """Power of two (1/8 .. 8) from the speed control times the energy factor; 0 = stopped."""
    if speed <= 1e-3:
        return 0.0
    factor = min(max(1.0 + config.energy_speed * (energy - 1.0), 0.25), 4.0)
    return 2.0 ** min(max(round(math.log2(speed * factor)), -3), 3)


def _grid_end(pos: float, progress: float, beats: float) -> float:
    """End of a segment of ``beats`` that is ``progress`` done at ``pos``, snapped to the grid."""
    g = min(1.0, beats)
    end = g * round((pos + (1.0 - progress) * beats) / g)
    if end <= pos + 1e-9:
        end = g * math.floor(pos / g + 1e-9) + g
    return end


def _direction(onset_count: int, previous: int, n: int = 1 << 16) -> int:
    """Deterministic pseudo-random direction for onset number ``onset_count``, never the previous one."""
    x = (onset_count * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 29
    d = int(x % n)
    return (d + 1) % n if d == previous else d


_DEFAULTS = _control_defaults()


def _ctl(control: Any, name: str, default: Any = None) -> Any:
    """A control value; when the control holds none, ``default`` (a show setting) or else the
    parameter table's default (one truth for control defaults)."""
    values = control if isinstance(control, Mapping) else (getattr(control, "values", None) or {})
    if name in values:
        return values[name]
    return _DEFAULTS[name] if default is None else default


def _count(control: Any, name: str) -> int:
    counts = getattr(control, "counts", None) or {}
    return int(counts.get(name, 0))


def step(state: MotionState, features: FeatureFrame, control: Any, *, now_s: float,
         bank_size: int, bank_names: Sequence[str] = ("default",),
         config: MotionConfig = MotionConfig()) -> tuple[MotionState, GenControl]:
    """Advance the walk to ``now_s`` and say what the generator should render.

    state: the previous :class:`MotionState` (``MotionState()`` to start).
    features: the newest FeatureFrame (frames may be skipped: events are counters).
    control: the newest ``ControlState`` (a plain mapping of values also works, without counters).
    now_s: audio-clock time (s) this control is for, normally ``features.t``.
    bank_size: number of entries of the bank now playing (>= 1).
    bank_names: names of the loaded banks; requests are indices into it.
    Returns ``(new_state, GenControl)``; ``GenControl.entry_*`` are < ``bank_size``.
    """
    size = max(int(bank_size), 1)
    names = list(bank_names) or ["default"]
    w = _Work(state)
    if not w.started:
        _start(w, features, control, now_s, names)
    elif w.bank_name not in names[w.bank_index:w.bank_index + 1]:
        idx = names.index(w.bank_name) if w.bank_name in names else 0   # the bank list changed
        w.update(bank_index=idx, bank_name=names[idx])

    dt = min(max(now_s - w.last_now_s, 0.0), 1.0)
    idle_pos = w.idle_pos + dt * config.idle_bpm / 60.0
    tempo = features.bpm > 0
    clock = "beat" if tempo else "idle"
    pos = (features.beat_count + min(max(features.beat_phase, 0.0), 0.999)) if tempo else idle_pos
    bpb = max(int(features.beats_per_bar), 1)

    # bar line since the last step?
    if tempo:
        bar_line = (features.bar_phase < w.bar_phase - 0.5) or (features.beat_count - w.beat_count >= bpb)
    else:
        bar_line = math.floor(idle_pos / bpb) > math.floor(w.idle_pos / bpb)
    new_onsets = features.onset_count - w.onset_count if features.onset_count >= w.onset_count else 1

    # smoothed energy (self-normalised band levels; silence counts as quiet) and chroma
    level = (features.bass_att + features.mid_att + features.treble_att) / 3.0
    if features.loudness_db < -60.0:
        level = 0.0
    k_e = 1.0 - math.exp(-dt / max(config.energy_tau_s, 1e-3))
    energy = w.energy + k_e * (level - w.energy)
    k_c = 1.0 - math.exp(-dt / max(config.chroma_tau_s, 1e-3))
    chroma = w.chroma + np.float32(k_c) * (np.asarray(features.chroma, dtype=np.float32) - w.chroma)
    chroma.flags.writeable = False

    # onsets
    onset_strength, onset_t, pulse_dir = w.onset_strength, w.onset_t, w.pulse_dir
    if new_onsets > 0:
        onset_strength = new_onset_strength(features)
        onset_t = features.last_onset_t if features.last_onset_t >= 0 else features.t
        pulse_dir = _direction(features.onset_count, w.pulse_dir)

    w.update(idle_pos=idle_pos, last_now_s=now_s, beat_count=features.beat_count,
                onset_count=features.onset_count, bar_phase=features.bar_phase, energy=energy,
                chroma=chroma, onset_strength=onset_strength, onset_t=onset_t, pulse_dir=pulse_dir)

    # freeze: hold the last picture; control presses wait for the release
    if _ctl(control, "freeze") and w.last_control is not None:
        w.update(needs_anchor=True)
        return w.freeze(), replace(w.last_control, t=now_s)

    chroma_on = bool(_ctl(control, "chroma_select", config.chroma_select))
    dominant = int(np.argmax(chroma)) if float(chroma.max()) > 0.05 else -1
    n_change = int(_ctl(control, "beats_per_change", config.beats_per_change))
    m = _speed_multiplier(float(_ctl(control, "speed")), energy, config)
    seg_beats = max(n_change / m, 0.125) if m > 0 else w.seg_beats

    def next_entry(current: int) -> int:
        if chroma_on and dominant >= 0:
            return dominant
        return current + 1

    # (re-)anchor the segment when the clock changed, went back, was frozen or is stopped
    if w.needs_anchor or w.clock != clock or pos < w.seg_start - 1e-6 or m == 0:
        w.update(clock=clock, seg_start=pos, seg_start_progress=w.progress,
                    seg_end=_grid_end(pos, w.progress, seg_beats if m > 0 else w.seg_beats),
                    seg_beats=seg_beats if m > 0 else w.seg_beats, needs_anchor=False)

    # control requests (counters)
    _bank_requests(w, control, len(names))
    cut = (_count(control, "entry.next") - w.entry_next_count) - (_count(control, "entry.prev") - w.entry_prev_count)
    w.update(entry_next_count=_count(control, "entry.next"), entry_prev_count=_count(control, "entry.prev"))
    picked = _count(control, "entry.select") != w.entry_select_count
    w.update(entry_select_count=_count(control, "entry.select"))
    if cut or picked:
        here = w.entry_b if w.progress >= 0.5 else w.entry_a
        target = int(_ctl(control, "entry.select", 0)) % size if picked else here + cut
        w.update(entry_a=target, entry_b=target + 1, seg_start=pos, seg_start_progress=0.0,
                    seg_end=_grid_end(pos, 0.0, seg_beats), seg_beats=seg_beats, progress=0.0,
                    changes=w.changes + 1)

    # bar line: bar level history (build-up), then a pending bank switch
    bar_rms_sum, bar_rms_n = w.bar_rms_sum + features.rms, w.bar_rms_n + 1
    switched = False
    if bar_line:
        levels = (w.bar_levels + (bar_rms_sum / bar_rms_n,))[-(config.buildup_bars + 1):]
        armed_until = w.armed_until
        if (len(levels) == config.buildup_bars + 1 and all(b > a for a, b in zip(levels, levels[1:]))
                and levels[-1] >= config.buildup_rise * max(levels[0], 1e-6)):
            armed_until = pos + 2 * bpb
        w.update(bar_levels=levels, armed_until=armed_until)
        bar_rms_sum, bar_rms_n = 0.0, 0
        if w.pending_bank >= 0:
            first = dominant if (chroma_on and dominant >= 0) else 0
            start = round(pos) if tempo else pos
            w.update(bank_index=w.pending_bank, bank_name=names[w.pending_bank], pending_bank=-1,
                        entry_a=first, entry_b=next_entry(first), seg_start=start, seg_start_progress=0.0,
                        seg_end=start + seg_beats, seg_beats=seg_beats, progress=0.0,
                        changes=w.changes + 1)
            switched = True
    w.update(bar_rms_sum=bar_rms_sum, bar_rms_n=bar_rms_n)

    # the drop: an onset with heavy bass while armed by a build-up
    if (new_onsets > 0 and pos <= w.armed_until and features.bass_att >= config.drop_bass_att
            and not switched):
        target = w.entry_b
        end = _grid_end(pos, 0.0, float(config.drop_hold_beats))
        w.update(entry_a=target, entry_b=target, seg_start=pos, seg_start_progress=0.0, seg_end=end,
                    seg_beats=end - pos, progress=0.0, armed_until=-math.inf, drops=w.drops + 1,
                    changes=w.changes + 1)

    # walk: complete segments whose end has passed (on the grid), then the progress within
    if m > 0:
        n = 0
        while pos >= w.seg_end and n < _MAX_CATCHUP:
            a = w.entry_b
            b = next_entry(a)
            w.update(entry_a=a, entry_b=b, seg_start=w.seg_end, seg_start_progress=0.0,
                        seg_end=w.seg_end + seg_beats, seg_beats=seg_beats, changes=w.changes + 1)
            n += 1
        if pos >= w.seg_end:   # far behind (a long stall): start afresh here
            w.update(seg_start=pos, seg_end=_grid_end(pos, 0.0, seg_beats))
        span = w.seg_end - w.seg_start
        progress = w.seg_start_progress + (1.0 - w.seg_start_progress) * (pos - w.seg_start) / span
        w.update(progress=min(max(progress, 0.0), 1.0))

    envelope = w.onset_strength * math.exp(-max(now_s - w.onset_t, 0.0) / max(config.pulse_decay_s, 1e-3))
    alpha = min(max(ease(w.progress) + config.onset_accel * envelope, 0.0), 1.0)
    pulse = min(max(float(_ctl(control, "pulse", config.pulse_amount)) * envelope, 0.0), 1.0)
    a, b = w.entry_a % size, w.entry_b % size
    if switched:
        b = a                      # bank size may differ: show entry a of the new bank this frame
    ctl = GenControl(bank=w.bank_name, entry_a=a, entry_b=b, alpha=alpha if a != b else 0.0,
                     pulse=pulse, pulse_dir=w.pulse_dir, steps=int(_ctl(control, "gen.steps")),
                     seed=0, feedback=float(_ctl(control, "gen.feedback")), t=now_s)
    w.update(last_control=ctl)
    return w.freeze(), ctl


def _start(w: "_Work", features: FeatureFrame, control: Any, now_s: float, names: list[str]) -> None:
    """First step: remember the counters as they are (old presses and beats do not fire)."""
    idx = min(max(int(_ctl(control, "bank.select")), 0), len(names) - 1)
    w.update(
        started=True, bank_index=idx, bank_name=names[idx], last_now_s=now_s,
        beat_count=features.beat_count, onset_count=features.onset_count, bar_phase=features.bar_phase,
        bank_select_count=_count(control, "bank.select"), bank_next_count=_count(control, "bank.next"),
        bank_prev_count=_count(control, "bank.prev"), entry_next_count=_count(control, "entry.next"),
        entry_prev_count=_count(control, "entry.prev"), entry_select_count=_count(control, "entry.select"),
        chroma=np.array(features.chroma, dtype=np.float32), needs_anchor=True)


def _bank_requests(w: "_Work", control: Any, n_banks: int) -> None:
    sel, nxt, prv = _count(control, "bank.select"), _count(control, "bank.next"), _count(control, "bank.prev")
    pending = w.pending_bank
    if sel != w.bank_select_count and 0 <= int(_ctl(control, "bank.select")) < n_banks:
        pending = int(_ctl(control, "bank.select"))      # a bank that is not loaded is ignored
    moves = (nxt - w.bank_next_count) - (prv - w.bank_prev_count)
    if moves:
        pending = (pending if pending >= 0 else w.bank_index) + moves
    if pending >= 0 or moves:
        pending %= max(n_banks, 1)
        if pending == w.bank_index:
            pending = -1
    if n_banks <= 1:
        pending = -1
    w.update(pending_bank=pending, bank_select_count=sel, bank_next_count=nxt, bank_prev_count=prv)
