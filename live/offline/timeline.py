"""The locked edit of an offline render: what ``latent-live render --timeline OUT.json`` writes
and ``--from-timeline T.json`` reads back.

A render is planned before a single pixel is drawn: the causal analyzer runs over the file,
``live.motion.step`` walks the bank at every frame time, and the walk is written down as
*keyframes*. The picture is then rendered **from the keyframes** (both for a plain render and
for ``--from-timeline``), so an unedited timeline re-renders the same video, and an edited one
(a cut moved, an entry swapped, one section re-rendered with ``--start/--end``) keeps every
other frame where it was: times are audio times, never wall time.

The picture between keyframes (:func:`controls_from_keyframes`)
    Keyframe ``j`` says "at ``time_s`` the picture *is* ``entry`` of ``bank``". From there it
    eases towards the next keyframe's entry, arriving exactly at the next keyframe's time::

        progress = (t - time_j) / (time_{j+1} - time_j)
        alpha    = ease(progress) + onset_accel * envelope(t)       (clamped to 0..1)

    with ``ease`` the cosine ease of :mod:`live.motion` and ``envelope`` the onset envelope of
    the audio (onset pulses always come from the audio, whatever the keyframes say). The
    segment *holds* its entry (alpha 0) when the next keyframe has the same entry, is in
    another bank, or is a ``cut``. A keyframe with ``toward`` (+ ``ease_end_s``) eases towards
    that entry as if arriving at ``ease_end_s`` and is interrupted by the next keyframe (this
    is how the motion's drops, which cut to the entry the walk was heading to, are written).
    Before the first keyframe the picture holds the first keyframe's entry.

JSON schema (``"format": 1``; times in seconds on the audio clock, frame ``i`` is shown at
``i / fps``; everything not marked *input* is written for people and tools, and ignored on
``--from-timeline``)::

    {
      "format": 1,
      "written_by": "latent-live 0.1.0",
      "audio": {"path": str, "sha256": hex str, "duration_s": float, "sample_rate_hz": int},  # input (checked)
      "fps": float, "size": [width, height], "seed": int,                                   # input
      "backend": str, "model": str,                                                        # input
      "banks": [{"name": str, "path": str, "count": int}, ...],                            # input (paths)
      "sync_ms": float,     # input: the analysis is read this far ahead of each frame (latency compensation)
      "range": {"start_s": float, "end_s": float, "first_frame": int, "frames": int},      # what was rendered
      "tempo": {"bpm": float, "confidence": float, "beats_per_bar": int},
      "beats": [{"n": int, "t": float, "bar": int, "beat": int}, ...],   # n = analyzer beat count, beat 1 = downbeat
      "keyframes": [                                                                       # input
        {"time_s": float,   # when the picture is exactly this entry (authoritative)
         "frame": int,      # first frame at or after time_s (informational; time_s wins)
         "bank": str, "entry": int,            # entry index in that bank (0-based)
         "reason": str,     # "start" | "beat N of bar M" | "idle clock (no tempo)" | "drop" | "bank" | "manual" ...
         "cut": bool,       # optional: jump here instead of easing in
         "toward": int, "ease_end_s": float}  # optional: interrupted segment (see above)
      ],
      "settings": {"features": {...}, "motion": {...}, "controls": {...},                  # input: the show
                   "render": {"chain": [...], "shader_dirs": [...], "internal_scale": float},
                   "gen": {"size": int, "steps": int, "feedback": float, "device": str, "dtype": str}},
      "curve": {"alpha": "ease(progress) + onset_accel * envelope", "ease": "0.5 (1 - cos(pi p))",
                "onset_accel": float, "pulse_amount": float, "pulse_decay_s": float},
      "frames": {"columns": ["frame", "t", "bank", "entry_a", "entry_b", "alpha", "pulse", "pulse_dir"],
                 "rows": [[...], ...]}     # every rendered frame's GenControl (bank = index into banks)
    }

Validation of an edited timeline (:func:`load_timeline`, :func:`check_against`): a wrong format,
a missing or mistyped field, keyframe times that do not strictly increase, a negative or
out-of-bank entry, an unknown bank, or a keyframe after the end of the audio is an error naming
the keyframe. A different audio file (sha256) is an **error** when its duration differs by more
than one frame (the cut times would land in another piece of music: sync lost) and a
**warning** otherwise (the same edit of the track re-encoded or re-mastered keeps its timing).
A ``frame`` that disagrees with its ``time_s`` is a warning (``time_s`` wins).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from live.types import GenControl

FORMAT = 1
FRAME_COLUMNS = ("frame", "t", "bank", "entry_a", "entry_b", "alpha", "pulse", "pulse_dir")


class TimelineError(ValueError):
    """A timeline file cannot be used: one line naming the field or keyframe and what to do."""


@dataclass(frozen=True)
class Keyframe:
    """At ``time_s`` the picture is ``entry`` of ``bank`` (see the module docstring)."""

    time_s: float
    bank: str
    entry: int
    reason: str = "manual"
    cut: bool = False
    toward: Optional[int] = None
    ease_end_s: Optional[float] = None

    def frame(self, fps: float) -> int:
        """First frame shown at or after ``time_s``."""
        return first_frame_at(self.time_s, fps)

    def to_dict(self, fps: float) -> dict:
        # input values keep full precision (JSON floats round-trip exactly): a re-render is bit-exact
        d = {"time_s": float(self.time_s), "frame": self.frame(fps), "bank": self.bank,
             "entry": int(self.entry), "reason": self.reason}
        if self.cut:
            d["cut"] = True
        if self.toward is not None:
            d["toward"] = int(self.toward)
            d["ease_end_s"] = float(self.ease_end_s)
        return d


@dataclass
class Timeline:
    """A timeline document in memory (fields as in the JSON schema of the module docstring)."""

    audio: dict
    fps: float
    size: tuple
    seed: int
    backend: str
    model: str
    banks: list
    sync_ms: float
    keyframes: list
    settings: dict = field(default_factory=dict)
    range: dict = field(default_factory=dict)
    tempo: dict = field(default_factory=dict)
    beats: list = field(default_factory=list)
    curve: dict = field(default_factory=dict)
    frames: dict = field(default_factory=dict)
    written_by: str = ""

    def to_dict(self) -> dict:
        from live import __version__

        return {
            "format": FORMAT,
            "written_by": self.written_by or f"latent-live {__version__}",
            "audio": self.audio,
            "fps": self.fps,
            "size": [int(self.size[0]), int(self.size[1])],
            "seed": int(self.seed),
            "backend": self.backend,
            "model": self.model,
            "banks": self.banks,
            "sync_ms": float(self.sync_ms),
            "range": self.range,
            "tempo": self.tempo,
            "beats": self.beats,
            "keyframes": [k.to_dict(self.fps) for k in self.keyframes],
            "settings": self.settings,
            "curve": self.curve,
            "frames": self.frames,
        }

    def save(self, path: str | os.PathLike) -> None:
        text = json.dumps(_jsonable(self.to_dict()), indent=1)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


def first_frame_at(t_s: float, fps: float) -> int:
    """Index of the first frame (shown at ``i / fps``) at or after ``t_s``."""
    return max(int(math.ceil(t_s * fps - 1e-6)), 0)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    return x


# ----------------------------------------------------------------------------------------------
# the picture from keyframes


def controls_from_keyframes(keyframes: Sequence[Keyframe], times_s: np.ndarray, *, envelope: np.ndarray,
                            pulse: np.ndarray, pulse_dir: np.ndarray, onset_accel: float,
                            bank_sizes: Mapping[str, int], steps: Sequence[int] | int = 1,
                            feedback: Sequence[float] | float = 0.0, seed: int = 0) -> list[GenControl]:
    """One :class:`GenControl` per frame time from the keyframes (rule in the module docstring).

    times_s, envelope, pulse, pulse_dir: (n,) per frame; envelope is the onset envelope 0..1 and
    pulse/pulse_dir the onset push, both from the audio (``live.motion``). ``bank_sizes``: name ->
    entry count (entries are reduced modulo it). Returns n controls with ``t`` = the frame time.
    """
    from live.motion import ease   # the same cosine ease as the live walk

    if not keyframes:
        raise TimelineError("the timeline has no keyframes")
    n = len(times_s)
    steps_a = np.broadcast_to(np.asarray(steps, dtype=np.int64), (n,))
    fb_a = np.broadcast_to(np.asarray(feedback, dtype=np.float64), (n,))
    starts = np.array([k.time_s for k in keyframes], dtype=np.float64)
    out: list[GenControl] = []
    for i in range(n):
        t = float(times_s[i])
        j = int(np.searchsorted(starts, t, side="right")) - 1
        k = keyframes[max(j, 0)]
        size = max(int(bank_sizes.get(k.bank, 1)), 1)
        a = k.entry % size
        b = a
        progress = 0.0
        if j >= 0:
            nxt = keyframes[j + 1] if j + 1 < len(keyframes) else None
            if k.toward is not None:
                b = k.toward % size
                span = float(k.ease_end_s) - k.time_s
                progress = (t - k.time_s) / span if span > 0 else 1.0
            elif nxt is not None and not nxt.cut and nxt.bank == k.bank:
                b = nxt.entry % size
                span = nxt.time_s - k.time_s
                progress = (t - k.time_s) / span if span > 0 else 1.0
        if a != b:
            alpha = min(max(ease(progress) + onset_accel * float(envelope[i]), 0.0), 1.0)
        else:
            alpha = 0.0
        out.append(GenControl(bank=k.bank, entry_a=a, entry_b=b, alpha=alpha, pulse=float(pulse[i]),
                              pulse_dir=int(pulse_dir[i]), steps=int(steps_a[i]), seed=int(seed),
                              feedback=float(fb_a[i]), t=t))
    return out


def frames_table(controls: Iterable[GenControl], *, first_frame: int, bank_names: Sequence[str]) -> dict:
    """The ``frames`` section: one row per rendered frame (bank as an index into ``banks``)."""
    index = {name: i for i, name in enumerate(bank_names)}
    rows = []
    for i, c in enumerate(controls):
        rows.append([first_frame + i, round(c.t, 6), index.get(c.bank, -1), c.entry_a, c.entry_b,
                     round(c.alpha, 6), round(c.pulse, 6), c.pulse_dir])
    return {"columns": list(FRAME_COLUMNS), "rows": rows}


# ----------------------------------------------------------------------------------------------
# reading and validating


def _need(d: Mapping, key: str, kinds, where: str):
    if key not in d:
        raise TimelineError(f"{where}: missing '{key}'")
    v = d[key]
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise TimelineError(f"{where}: '{key}' must be {names}, got {v!r}")
    return v


def parse_timeline(doc: Any, *, where: str = "timeline") -> tuple[Timeline, list[str]]:
    """Check a parsed JSON document; returns ``(Timeline, warnings)`` or raises TimelineError."""
    warnings: list[str] = []
    if not isinstance(doc, dict):
        raise TimelineError(f"{where}: expected a JSON object")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise TimelineError(f"{where}: format {fmt!r} is not supported (this latent-live reads format {FORMAT})")
    audio = _need(doc, "audio", dict, where)
    _need(audio, "sha256", str, f"{where}: audio")
    _need(audio, "duration_s", (int, float), f"{where}: audio")
    fps = float(_need(doc, "fps", (int, float), where))
    if not (0 < fps <= 240):
        raise TimelineError(f"{where}: fps must be in 0..240, got {fps:g}")
    size = _need(doc, "size", list, where)
    if len(size) != 2 or not all(isinstance(x, int) and x > 0 for x in size):
        raise TimelineError(f"{where}: size must be [width, height] in pixels, got {size!r}")
    seed = _need(doc, "seed", int, where)
    backend = _need(doc, "backend", str, where)
    model = doc.get("model", "") or ""
    banks = _need(doc, "banks", list, where)
    for i, b in enumerate(banks):
        if not isinstance(b, dict) or not isinstance(b.get("name"), str) or not isinstance(b.get("path"), str):
            raise TimelineError(f"{where}: banks[{i}] must be {{\"name\": str, \"path\": str, ...}}")
    sync_ms = float(doc.get("sync_ms", 0.0))
    if not (0.0 <= sync_ms <= 500.0):
        raise TimelineError(f"{where}: sync_ms must be 0..500, got {sync_ms:g}")
    settings = doc.get("settings", {}) or {}
    if not isinstance(settings, dict):
        raise TimelineError(f"{where}: 'settings' must be an object")
    raw = _need(doc, "keyframes", list, where)
    if not raw:
        raise TimelineError(f"{where}: 'keyframes' is empty; a timeline needs at least one keyframe")
    keyframes: list[Keyframe] = []
    duration = float(audio["duration_s"])
    prev_t = -math.inf
    for i, k in enumerate(raw):
        kw = f"{where}: keyframes[{i}]"
        if not isinstance(k, dict):
            raise TimelineError(f"{kw} must be an object")
        t = float(_need(k, "time_s", (int, float), kw))
        entry = _need(k, "entry", int, kw)
        bank = _need(k, "bank", str, kw)
        if entry < 0:
            raise TimelineError(f"{kw}: entry {entry} is negative; entries are numbered from 0")
        if not (t >= 0.0) or t > duration + 1e-6:
            raise TimelineError(f"{kw}: time_s {t:g} is outside the audio (0..{duration:g} s)")
        if t <= prev_t:
            raise TimelineError(f"{kw}: time_s {t:g} is not after keyframes[{i - 1}] ({prev_t:g}); "
                                "keyframe times must strictly increase")
        prev_t = t
        toward = k.get("toward")
        ease_end = k.get("ease_end_s")
        if toward is not None:
            if not isinstance(toward, int) or isinstance(toward, bool) or toward < 0:
                raise TimelineError(f"{kw}: 'toward' must be an entry index >= 0, got {toward!r}")
            if not isinstance(ease_end, (int, float)) or ease_end <= t:
                raise TimelineError(f"{kw}: 'toward' needs 'ease_end_s' after time_s {t:g}, got {ease_end!r}")
        if "frame" in k and isinstance(k["frame"], int) and k["frame"] != first_frame_at(t, fps):
            warnings.append(f"keyframes[{i}]: frame {k['frame']} does not match time_s {t:g} "
                            f"(frame {first_frame_at(t, fps)} at {fps:g} fps); time_s wins")
        keyframes.append(Keyframe(time_s=t, bank=bank, entry=int(entry), reason=str(k.get("reason", "manual")),
                                  cut=bool(k.get("cut", False)), toward=toward,
                                  ease_end_s=float(ease_end) if toward is not None else None))
    tl = Timeline(audio=dict(audio), fps=fps, size=(size[0], size[1]), seed=int(seed), backend=backend,
                  model=str(model), banks=list(banks), sync_ms=sync_ms, keyframes=keyframes,
                  settings=settings, range=doc.get("range", {}) or {}, tempo=doc.get("tempo", {}) or {},
                  beats=doc.get("beats", []) or [], curve=doc.get("curve", {}) or {},
                  frames=doc.get("frames", {}) or {}, written_by=str(doc.get("written_by", "")))
    return tl, warnings


def load_timeline(path: str | os.PathLike) -> tuple[Timeline, list[str]]:
    """Read and check a timeline file; returns ``(Timeline, warnings)``; TimelineError if unusable."""
    try:
        with open(path, "r", encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise TimelineError(f"timeline file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TimelineError(f"{path}: not valid JSON: {exc}") from None
    return parse_timeline(doc, where=str(path))


def check_against(tl: Timeline, *, audio_sha256: str, audio_duration_s: float,
                  bank_sizes: Mapping[str, int]) -> list[str]:
    """Check a timeline against the audio and the loaded banks; returns warnings, raises TimelineError.

    Audio: same sha256 = fine; otherwise a warning when the duration matches within one frame,
    an error when it does not (see the module docstring). Banks: every keyframe's bank must be
    loaded and its entry (and ``toward``) below that bank's entry count.
    """
    warnings: list[str] = []
    if tl.audio.get("sha256") != audio_sha256:
        d0 = float(tl.audio.get("duration_s", 0.0))
        if abs(d0 - audio_duration_s) > 1.0 / tl.fps:
            raise TimelineError(
                f"the timeline was made for other audio ({tl.audio.get('path', '?')}, {d0:.3f} s, sha256 "
                f"{str(tl.audio.get('sha256'))[:12]}...) but this file is {audio_duration_s:.3f} s: its cut times "
                "would not match the music; render that file or make a new timeline with --timeline")
        warnings.append(f"the audio differs from the timeline's ({tl.audio.get('path', '?')}, sha256 "
                        f"{str(tl.audio.get('sha256'))[:12]}...) but has the same duration; keeping the timeline's times")
    for i, k in enumerate(tl.keyframes):
        if k.bank not in bank_sizes:
            raise TimelineError(f"keyframes[{i}]: bank '{k.bank}' is not loaded (loaded: {', '.join(bank_sizes)}); "
                                "give its folder with --bank or fix the name")
        n = int(bank_sizes[k.bank])
        for what, e in (("entry", k.entry), ("toward", k.toward)):
            if e is not None and e >= n:
                raise TimelineError(f"keyframes[{i}]: {what} {e} does not exist: bank '{k.bank}' has {n} "
                                    f"entries (0..{n - 1})")
    return warnings
