"""Offline render: a music video from an audio file by the live show's own chain.

``render_file(audio, out, cfg=..., fps=30)`` runs the same parts as ``latent-live run`` —
the causal :class:`~live.features.Analyzer`, :func:`live.motion.step`, a generator from
:mod:`live.gen`, the shader chain of :class:`~live.render.Renderer` and its
:class:`~live.render.Recorder` — but on the **audio clock** instead of wall time:

1. analysis: the analyzer runs hop by hop over the whole file, exactly as on stage;
2. plan: frame ``i`` is at ``t_i = i / fps`` (``--start`` snaps to that grid, so a section
   re-render lands on the same frames). Its features are the newest FeatureFrame with
   ``frame.t <= t_i + sync`` and motion steps at every frame of the *whole* file (cheap, pure),
   so a section starts from the same walk as the full render. The walk is written down as
   keyframes (:mod:`live.offline.timeline`); with ``--from-timeline`` the keyframes come from the file
   instead and the motion pass only supplies the onset pulses of the audio;
3. render: every frame's :class:`GenControl` is computed from the keyframes, the generator
   renders every frame (no cross-fade needed: ``u_gen_mix`` is 1), the renderer draws it at
   ``time_s = t_i`` and the recorder (``block=True``) encodes every frame; nothing is dropped
   however slow the generator. The source audio, trimmed to the range, is muxed in.

``sync`` (``--sync-ms``, default ``auto``) compensates the onset detector's delay: an onset
is only *known* ~50 ms after it is heard (aubio reports ~4 hops late), which on stage is the
price of causality. Offline the whole file is known, so by default each frame takes its onset
fields (``onset``, ``onset_count``, ``last_onset_t``) from the hop that much later (the median
report delay of this file's onsets) and the flash of a kick lands on the frame where it is
heard. Beats need no such help: the beat flywheel emits each beat in the hop it falls in.
``--sync-ms 0`` shows onsets as late as the live show does.

Same inputs + seed = same video: the analyzer, motion and the embedded generator are
deterministic, the frame times come from the frame counter, the renderer is fed those times,
and x264 is deterministic for identical input. Before a section (``--start > 0``) the chain
is pre-rolled (drawn, not recorded) for up to ``preroll_s`` so its feedback trails match.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from live.assemble import fit_banks, load_banks, make_generator, make_renderer, make_sinks
from live.config import Config
from live.errors import RenderError
from live.offline.timeline import (Keyframe, Timeline, TimelineError, check_against, controls_from_keyframes,
                           file_sha256, first_frame_at, frames_table)
from live.types import SILENT_FRAME, FeatureFrame, Frame, GenControl

log = logging.getLogger("live.offline")

MAX_AUTO_SYNC_S = 0.2
DEFAULT_PREROLL_S = 2.0


@dataclass
class Beat:
    n: int          # the analyzer's beat count (1 = first beat)
    t: float        # beat time, s
    bar: int        # bar number from 1
    beat: int       # beat in bar from 1 (1 = downbeat)

    def as_dict(self) -> dict:
        return {"n": self.n, "t": round(self.t, 6), "bar": self.bar, "beat": self.beat}


@dataclass
class Analysis:
    """The analyzer's frames of the whole file and what the plan needs from them."""

    frames: list                     # FeatureFrame per hop
    frame_t: np.ndarray              # (hops,) end time of each hop, s
    duration_s: float
    sample_rate_hz: int
    beats: list                      # [Beat]
    bpm: float
    bpm_confidence: float
    beats_per_bar: int
    onset_report_delays_s: np.ndarray   # (onsets,) report time - onset time

    def at(self, t_s: float) -> FeatureFrame:
        """Newest frame with ``frame.t <= t_s`` (SILENT_FRAME before the first hop)."""
        i = int(np.searchsorted(self.frame_t, t_s + 1e-9, side="right")) - 1
        return self.frames[i] if i >= 0 else SILENT_FRAME

    def auto_sync_s(self) -> float:
        """Median onset report delay of this file (report hop end - onset time), s."""
        d = self.onset_report_delays_s
        return float(min(max(np.median(d), 0.0), MAX_AUTO_SYNC_S)) if d.size else 0.0

    def for_frame(self, t_s: float, *, fps: float, sync_s: float) -> FeatureFrame:
        """The features frame ``t_s`` shows: the newest hop at ``t_s`` + half a frame (an event
        shows on the frame nearest to it), with the onset fields of the hop ``sync_s`` later
        (the onset detector reports that late; beats and levels have no such delay)."""
        t = t_s + 0.5 / fps
        base = self.at(t)
        if sync_s <= 0:
            return base
        ahead = self.at(t + sync_s)
        if ahead.onset_count == base.onset_count and ahead.onset == base.onset:
            return base
        return dataclasses.replace(base, onset=ahead.onset, onset_count=ahead.onset_count,
                                   last_onset_t=ahead.last_onset_t)


def analyze(samples: np.ndarray, *, sample_rate_hz: int, config, manual_bpm: float = 0.0,
            progress: bool = False) -> Analysis:
    """Run the live analyzer hop by hop over ``samples`` (n,) float32 mono (last hop zero-padded).

    ``manual_bpm`` > 0 sets the analyzer's manual tempo first (the ``bpm`` control, as on stage).
    """
    from live.features import analyze_array

    result = analyze_array(samples, sample_rate_hz=sample_rate_hz, config=config, manual_bpm=manual_bpm,
                           progress=progress)
    frames = result.frames
    # bar/beat numbers from the downbeat as the analyzer has settled it at the end of the file
    # (a deliverable wants one consistent grid; the causal estimate may move in the first bars)
    last = next((f for f in reversed(frames) if f.beat_count > 0), None)
    bpb = max(int(last.beats_per_bar), 1) if last is not None else 4
    pos_last = int(math.floor(last.bar_phase * bpb + 1e-6)) % bpb if last is not None else 0
    beats: list[Beat] = []
    delays = []
    beat_seen, onset_seen, bar_no = 0, 0, 1
    for f in frames:
        if f.beat_count != beat_seen:
            beat_seen = f.beat_count
            in_bar = (f.beat_count - last.beat_count + pos_last) % bpb + 1
            if beats and in_bar == 1:
                bar_no += 1
            beats.append(Beat(n=f.beat_count, t=float(f.last_beat_t), bar=bar_no, beat=in_bar))
        if f.onset_count != onset_seen:
            onset_seen = f.onset_count
            if f.last_onset_t >= 0:
                delays.append(f.t - f.last_onset_t)
    return Analysis(frames=frames, frame_t=np.fromiter((f.t for f in frames), np.float64, len(frames)),
                    duration_s=result.duration_s, sample_rate_hz=sample_rate_hz, beats=beats,
                    bpm=result.bpm, bpm_confidence=result.bpm_confidence, beats_per_bar=bpb,
                    onset_report_delays_s=np.asarray(delays, dtype=np.float64))


# ----------------------------------------------------------------------------------------------
# plan: motion at every frame time -> keyframes + the audio's onset pulses


@dataclass
class Plan:
    """Per-frame values for frames ``0..n-1`` of the whole file, and the walk's keyframes."""

    fps: float
    times_s: np.ndarray          # (n,) i / fps
    envelope: np.ndarray         # (n,) onset envelope 0..1 (live.motion)
    pulse: np.ndarray            # (n,) onset push amount
    pulse_dir: np.ndarray        # (n,) int
    steps: np.ndarray            # (n,) int
    feedback: np.ndarray         # (n,)
    keyframes: list              # [Keyframe] from the motion walk
    motion_controls: list = field(default_factory=list)   # the walk's own GenControl per frame
    features: list = field(default_factory=list)          # the FeatureFrame each frame shows


def plan_motion(analysis: Analysis, *, fps: float, n_frames: int, sync_s: float, control,
                bank_names: Sequence[str], bank_sizes: dict, config) -> Plan:
    """Step :func:`live.motion.step` at every frame time; extract keyframes (time, entry, reason)."""
    from live.motion import MotionState, step

    names = list(bank_names)
    times = np.arange(n_frames, dtype=np.float64) / fps
    env = np.zeros(n_frames)
    pulse = np.zeros(n_frames)
    pdir = np.zeros(n_frames, dtype=np.int64)
    steps = np.ones(n_frames, dtype=np.int64)
    fb = np.zeros(n_frames)
    beat_by_n = {b.n: b for b in analysis.beats}
    decay = max(config.pulse_decay_s, 1e-3)
    state = MotionState()
    keyframes: list[Keyframe] = []
    prev_state, prev_ctl = state, None
    ctls = []
    feats: list[FeatureFrame] = []
    for i in range(n_frames):
        t = float(times[i])
        f = analysis.for_frame(t, fps=fps, sync_s=sync_s)
        feats.append(f)
        size = bank_sizes.get(state.bank_name, bank_sizes[names[0]])
        state, ctl = step(state, f, control, now_s=t, bank_size=size, bank_names=names, config=config)
        ctls.append(ctl)
        size = bank_sizes.get(state.bank_name, 1)
        env[i] = state.onset_strength * math.exp(-max(t - state.onset_t, 0.0) / decay)
        pulse[i], pdir[i], steps[i], fb[i] = ctl.pulse, ctl.pulse_dir, ctl.steps, ctl.feedback
        if i == 0:
            keyframes.append(Keyframe(time_s=0.0, bank=ctl.bank, entry=ctl.entry_a, reason="start"))
        elif state.changes != prev_state.changes:
            last_t = keyframes[-1].time_s
            if state.drops != prev_state.drops:
                kt = f.last_onset_t if last_t < f.last_onset_t <= t + 1.0 / fps else t
                _interrupt(keyframes, prev_ctl, prev_state, float(times[i - 1]))
                kf = Keyframe(time_s=kt, bank=ctl.bank, entry=state.entry_a % size, reason="drop", cut=True)
            elif state.bank_name != prev_state.bank_name:
                _interrupt(keyframes, prev_ctl, prev_state, float(times[i - 1]))
                kf = Keyframe(time_s=t, bank=ctl.bank, entry=state.entry_a % size,
                              reason=f"bank '{ctl.bank}' at the bar line", cut=True)
            else:
                kt, reason = _arrival(state, t, f, beat_by_n, config)
                if not (last_t < kt <= t + 1.0 / fps):     # features are read half a frame ahead
                    kt = t
                kf = Keyframe(time_s=kt, bank=ctl.bank, entry=state.entry_a % size, reason=reason)
            keyframes.append(kf)
        prev_state, prev_ctl = state, ctl
    if prev_ctl is not None:
        _interrupt(keyframes, prev_ctl, prev_state, float(times[-1]))
    return Plan(fps=fps, times_s=times, envelope=env, pulse=pulse, pulse_dir=pdir, steps=steps, feedback=fb,
                keyframes=keyframes, motion_controls=ctls, features=feats)


def _arrival(state, t: float, f: FeatureFrame, beat_by_n: dict, config) -> tuple[float, str]:
    """Time and reason of a segment that reached its entry on the grid (beat or idle clock)."""
    if state.clock == "beat":
        pos = state.seg_start
        n = int(math.floor(pos + 1e-6))
        frac = pos - n
        beat = beat_by_n.get(n)
        if beat is not None:
            period = 60.0 / f.bpm if f.bpm > 0 else 0.0
            extra = f" + {frac:g} beat" if frac > 1e-6 else ""
            return beat.t + frac * period, f"beat {beat.beat} of bar {beat.bar}{extra}"
        return t, "beat"
    behind_beats = max(state.idle_pos - state.seg_start, 0.0)
    return t - behind_beats * 60.0 / max(config.idle_bpm, 1e-3), "idle clock (no tempo yet)"


def _interrupt(keyframes: list, ctl: Optional[GenControl], state, t_s: float) -> None:
    """The last keyframe's segment was heading to ``ctl.entry_b`` when it was cut: say so."""
    if ctl is None or not keyframes:
        return
    k = keyframes[-1]
    p = float(state.progress)
    if ctl.entry_a == ctl.entry_b or ctl.bank != k.bank or p <= 1e-3 or t_s <= k.time_s:
        return
    end = k.time_s + (t_s - k.time_s) / p
    keyframes[-1] = dataclasses.replace(k, toward=int(ctl.entry_b), ease_end_s=max(end, t_s + 1e-3))


# ----------------------------------------------------------------------------------------------
# the render


@dataclass
class RenderReport:
    out: str
    frames: int                  # frames encoded
    first_frame: int
    fps: float
    width: int
    height: int
    duration_s: float            # of the video
    wall_s: float                # render + encode wall time (after analysis and plan)
    analysis_s: float
    sync_ms: float
    bpm: float
    keyframes: int
    timeline: str = ""
    warnings: list = field(default_factory=list)

    @property
    def render_fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of video per second of wall time (1.0 = real time)."""
        return self.duration_s / self.wall_s if self.wall_s > 0 else 0.0


def _bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="frame" if desc == "render" else "hop", desc=desc, dynamic_ncols=True)


def _load_banks(cfg: Config, gen) -> tuple[dict, list[str]]:
    """Banks that load and fit the generator, in order; (name -> LatentBank, notes)."""
    from live.telemetry import Telemetry

    tel = Telemetry()
    banks = fit_banks(gen, load_banks(cfg.gen.banks, tel), tel)
    return banks, [m for _, m in tel.messages]


def _make_generator(cfg: Config, factory: Optional[Callable] = None):
    try:
        return make_generator(cfg.gen, factory=factory)
    except Exception as exc:  # noqa: BLE001 - any start-up failure is reported in one line
        raise RenderError(f"generator backend '{cfg.gen.backend}' cannot start: {type(exc).__name__}: {exc}") from None


def _settings(cfg: Config, control_values) -> dict:
    """The show settings a timeline carries (enough to rebuild the Config with build_config)."""
    r = cfg.render
    controls = {k: v for k, v in dict(control_values).items() if k not in ("preset", "hud")}
    return {
        "features": dataclasses.asdict(cfg.features),
        "motion": dataclasses.asdict(cfg.motion),
        "controls": controls,
        "render": {"chain": list(r.chain), "shader_dirs": list(r.shader_dirs),
                   "internal_scale": r.internal_scale},
        "gen": {"size": cfg.gen.size, "steps": cfg.gen.steps, "feedback": cfg.gen.feedback,
                "device": cfg.gen.device, "dtype": cfg.gen.dtype},
    }


def config_from_timeline(tl: Timeline, overrides: Sequence[str] = ()) -> Config:
    """The Config a timeline was rendered with, plus ``--set`` style overrides (ConfigError if bad)."""
    from live.config import build_config

    s = tl.settings or {}
    data = {k: dict(s[k]) for k in ("features", "motion", "controls") if isinstance(s.get(k), dict)}
    render = dict(s.get("render") or {})
    render.update(width=int(tl.size[0]), height=int(tl.size[1]))
    gen = dict(s.get("gen") or {})
    gen.update(backend=tl.backend, model=tl.model, banks=[b["path"] for b in tl.banks], seed=int(tl.seed))
    data["render"], data["gen"] = render, gen
    return build_config(data, overrides)


@dataclass
class Prepared:
    """Everything a render needs before its first frame, computed once (analysis, walk, controls
    of every frame to draw): the single-process render draws it all, a cluster render ships
    slices of it to its workers (:mod:`live.offline.cluster`)."""

    audio_path: Path
    cfg: Config
    fps: float
    width: int
    height: int
    i0: int                      # first recorded frame
    i1: int                      # one past the last
    p0: int                      # first drawn frame (pre-roll before i0)
    n_total: int                 # frames of the whole file
    analysis: Analysis
    plan: Plan
    keyframes: list
    controls: list               # GenControl of frames p0..i1-1
    control: object              # the ControlState the render runs with
    bank_names: list
    bank_sizes: dict
    bank_paths: list             # the folders the banks were loaded from, in order
    sync_s: float
    sha: str
    analysis_s: float
    warnings: list = field(default_factory=list)

    def features(self, first: int, end: int) -> list:
        return self.plan.features[first:end]

    def controls_for(self, first: int, end: int) -> list:
        return self.controls[first - self.p0:end - self.p0]


def check_render_inputs(audio_path: Path, *, cfg: Config, fps: float) -> tuple[int, int]:
    """The checks every render makes before any work: frame rate, an even size (H.264) and an
    audio file that is a file. Returns (width, height); RenderError naming the problem."""
    if not (0 < fps <= 240):
        raise RenderError(f"--fps must be in 0..240, got {fps:g}")
    w, h = int(cfg.render.width), int(cfg.render.height)
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise RenderError(f"--size must be even and positive for H.264, got {w}x{h}")
    if not audio_path.is_file():
        raise RenderError(f"{audio_path}: " + ("is a folder, not an audio file" if audio_path.is_dir() else
                                               "is not a regular file" if audio_path.exists() else
                                               "audio file not found"))
    return w, h


def prepare(audio_path: str | os.PathLike, *, cfg: Config, gen, banks: dict, notes: Sequence[str] = (),
            fps: float = 30.0, start_s: float = 0.0, end_s: Optional[float] = None,
            sync_ms: Optional[float] = None, timeline: Optional[Timeline] = None, progress: bool = True,
            preroll_s: float = DEFAULT_PREROLL_S) -> Prepared:
    """Analysis, plan and every frame's control for ``audio_path`` (RenderError when it cannot be
    rendered). ``gen``/``banks``: the generator (for bank checks) and the banks that fit it."""
    from live.audio import AudioError, decode_audio
    from live.control import ControlError, ControlStore

    warnings: list[str] = list(notes)
    audio_path = Path(audio_path)
    w, h = check_render_inputs(audio_path, cfg=cfg, fps=fps)
    try:
        store = ControlStore.from_config(cfg)
    except ControlError as exc:
        raise RenderError(str(exc)) from None
    control = store.state

    # 1. analysis
    t0 = time.perf_counter()
    sr = int(cfg.audio.sample_rate_hz)
    try:
        samples = decode_audio(audio_path, sample_rate_hz=sr, mono=True)
    except AudioError as exc:
        raise RenderError(str(exc)) from None
    if samples.size < sr * 0.1:
        raise RenderError(f"{audio_path} is shorter than 0.1 s; nothing to render")
    sha = file_sha256(audio_path)
    analysis = analyze(samples, sample_rate_hz=sr, config=cfg.features,
                       manual_bpm=float(control.values.get("bpm", 0.0) or 0.0), progress=progress)
    analysis_s = time.perf_counter() - t0
    n_total = int(math.floor(analysis.duration_s * fps + 1e-6))
    i0 = int(round(max(start_s, 0.0) * fps))
    i1 = n_total if end_s is None else int(round(end_s * fps))
    if start_s < 0:
        raise RenderError(f"--start must be >= 0, got {start_s:g}")
    if i0 >= n_total:
        raise RenderError(f"--start {start_s:g} s is at or after the end of the audio ({analysis.duration_s:.3f} s)")
    if end_s is not None and end_s > analysis.duration_s + 1.0 / fps:
        raise RenderError(f"--end {end_s:g} s is after the end of the audio ({analysis.duration_s:.3f} s)")
    i1 = min(i1, n_total)
    if i1 <= i0:
        raise RenderError(f"--end {end_s:g} s must be after --start {start_s:g} s (at least one frame)")
    sync_s = analysis.auto_sync_s() if sync_ms is None else float(sync_ms) / 1000.0
    if not (0.0 <= sync_s <= 0.5):
        raise RenderError(f"--sync-ms must be 0..500 or auto, got {sync_s * 1000:g}")

    # 2. banks
    if not banks:
        raise RenderError("no latent bank fits the '" + cfg.gen.backend + "' generator"
                          + (": " + "; ".join(notes) if notes else "")
                          + "; give one with --bank DIR (build one with 'latent-live bank build')")
    names = list(banks)
    sizes = {n: len(b.latents) for n, b in banks.items()}

    # 3. plan: motion over the whole file (same walk for any section), then keyframes
    plan = plan_motion(analysis, fps=fps, n_frames=n_total, sync_s=sync_s, control=control,
                       bank_names=names, bank_sizes=sizes, config=cfg.motion)
    keyframes = plan.keyframes
    if timeline is not None:
        try:
            warnings += check_against(timeline, audio_sha256=sha, audio_duration_s=analysis.duration_s,
                                      bank_sizes=sizes)
        except TimelineError as exc:
            raise RenderError(str(exc)) from None
        keyframes = timeline.keyframes
    p0 = max(i0 - int(round(max(preroll_s, 0.0) * fps)), 0)
    sl = slice(p0, i1)
    controls = controls_from_keyframes(
        keyframes, plan.times_s[sl], envelope=plan.envelope[sl], pulse=plan.pulse[sl],
        pulse_dir=plan.pulse_dir[sl], onset_accel=cfg.motion.onset_accel, bank_sizes=sizes,
        steps=plan.steps[sl], feedback=plan.feedback[sl], seed=0)
    return Prepared(audio_path=audio_path, cfg=cfg, fps=float(fps), width=w, height=h, i0=i0, i1=i1, p0=p0,
                    n_total=n_total, analysis=analysis, plan=plan, keyframes=list(keyframes), controls=controls,
                    control=control, bank_names=names, bank_sizes=sizes,
                    bank_paths=[str(banks[n].path or "") for n in names], sync_s=sync_s, sha=sha,
                    analysis_s=analysis_s, warnings=warnings)


def draw_range(gen, banks: dict, renderer, *, fps: float, base: int, features: Sequence[FeatureFrame],
               controls: Sequence[GenControl], first_recorded: int, rcontrols: dict, sinks: Sequence = (),
               recorder=None, on_frame: Optional[Callable[[int, np.ndarray], None]] = None, bar=None) -> None:
    """Draw frames ``base .. base + len(controls) - 1`` on the audio clock (``features[k]`` and
    ``controls[k]`` belong to frame ``base + k``); the sinks join at ``first_recorded`` (the
    frames before are the pre-roll). One loop for the single-process and the cluster render."""
    active = gen.bank.name if getattr(gen, "bank", None) is not None else None
    for k, ctl in enumerate(controls):
        i = base + k
        t = i / fps
        if ctl.bank != active:
            try:
                gen.set_bank(banks[ctl.bank])
            except Exception as exc:  # noqa: BLE001
                raise RenderError(f"bank '{ctl.bank}' cannot be used: {exc}") from None
            active = ctl.bank
        g = gen.render(ctl)
        # every frame is generated for exactly its time: show it fully (u_gen_mix = 1) by
        # placing its arrival a second back
        renderer.set_frame(Frame(pixels=g.pixels, control=ctl, gen_ms=g.gen_ms, index=i + 1), now_s=t - 1.0)
        if i == first_recorded:
            for sink in sinks:
                renderer.add_sink(sink)
        renderer.draw(features[k], rcontrols, time_s=t)
        if on_frame is not None and i >= first_recorded:
            on_frame(i, renderer.read_pixels())
        if recorder is not None and recorder.error:
            raise RenderError(recorder.error)
        if bar is not None:
            bar.update(1)
    renderer.flush_capture()


def write_timeline(prep: Prepared, path: str | os.PathLike) -> None:
    """The locked edit of a prepared render (RenderError when it cannot be written)."""
    cfg, analysis, control = prep.cfg, prep.analysis, prep.control
    i0, i1 = prep.i0, prep.i1
    tl = Timeline(
        audio={"path": str(prep.audio_path), "sha256": prep.sha, "duration_s": round(analysis.duration_s, 6),
               "sample_rate_hz": analysis.sample_rate_hz},
        fps=float(prep.fps), size=(prep.width, prep.height), seed=int(cfg.gen.seed), backend=cfg.gen.backend,
        model=cfg.gen.model,
        banks=[{"name": n, "path": p, "count": prep.bank_sizes[n]} for n, p in zip(prep.bank_names, prep.bank_paths)],
        sync_ms=prep.sync_s * 1000.0, keyframes=list(prep.keyframes), settings=_settings(cfg, control.values),
        range={"start_s": round(i0 / prep.fps, 6), "end_s": round(i1 / prep.fps, 6), "first_frame": i0,
               "frames": i1 - i0},
        tempo={"bpm": round(analysis.bpm, 3), "confidence": round(analysis.bpm_confidence, 3),
               "beats_per_bar": analysis.beats_per_bar},
        beats=[b.as_dict() for b in analysis.beats],
        curve={"alpha": "ease(progress) + onset_accel * envelope", "ease": "0.5 (1 - cos(pi p))",
               "onset_accel": cfg.motion.onset_accel, "pulse_amount": float(control.values.get("pulse", 0.0)),
               "pulse_decay_s": cfg.motion.pulse_decay_s},
        frames=frames_table(prep.controls[i0 - prep.p0:], first_frame=i0, bank_names=prep.bank_names))
    try:
        tl.save(path)
    except OSError as exc:
        raise RenderError(f"cannot write timeline {path}: {exc}") from None


def check_output(out_path: Path) -> None:
    if not out_path.parent.resolve().is_dir():
        raise RenderError(f"cannot write {out_path}: folder {out_path.parent} does not exist")
    if out_path.suffix.lower() not in (".mp4", ".m4v", ".mov", ".mkv"):
        raise RenderError(f"output {out_path} should be an .mp4 (or .mov/.mkv) file")


def render_file(audio_path: str | os.PathLike, out_path: str | os.PathLike, *, cfg: Config, fps: float = 30.0,
                start_s: float = 0.0, end_s: Optional[float] = None, sync_ms: Optional[float] = None,
                timeline_out: str | os.PathLike | None = None, timeline: Optional[Timeline] = None,
                progress: bool = True, preroll_s: float = DEFAULT_PREROLL_S,
                on_frame: Optional[Callable[[int, np.ndarray], None]] = None,
                generator_factory: Optional[Callable] = None, renderer_factory: Optional[Callable] = None,
                ) -> RenderReport:
    """Render ``audio_path`` to ``out_path`` (MP4, H.264 + AAC) on the audio clock.

    cfg: the show settings (size = ``render.width/height``, generator = ``gen.*``, seed = ``gen.seed``).
    fps: frame rate; frame ``i`` is shown at ``i / fps``. start_s/end_s: the range (s), snapped
    to frames; end None = the end of the file. sync_ms: analysis look-ahead (None = auto).
    timeline_out: write the locked edit there. timeline: render from these keyframes instead of
    the motion walk (``--from-timeline``). on_frame(i, pixels): called with every recorded
    frame's global index and its (H, W, 3) uint8 picture (tests). generator_factory /
    renderer_factory replace the real ones (tests; see :mod:`live.assemble`). Raises
    :class:`RenderError`.
    """
    from live.control import renderer_controls

    audio_path = Path(audio_path)
    out_path = Path(out_path)
    w, h = check_render_inputs(audio_path, cfg=cfg, fps=fps)
    check_output(out_path)
    gen = _make_generator(cfg, generator_factory)
    renderer = None
    sinks: list = []
    try:
        banks, notes = _load_banks(cfg, gen)
        prep = prepare(audio_path, cfg=cfg, gen=gen, banks=banks, notes=notes, fps=fps, start_s=start_s,
                       end_s=end_s, sync_ms=sync_ms, timeline=timeline, progress=progress, preroll_s=preroll_s)
        i0, i1, p0 = prep.i0, prep.i1, prep.p0

        # 4. render every frame on the audio clock
        from live.outputs.recorder import RecorderError

        try:
            renderer = make_renderer(cfg.render, offline=True, factory=renderer_factory)
            sinks = make_sinks(cfg.render, size=(w, h), record=str(out_path), audio_path=audio_path,
                               fps=fps, offline=True, audio_start_s=i0 / fps)
        except RecorderError as exc:
            raise RenderError(str(exc)) from None
        recorder = sinks[0]
        bar = _bar(i1 - p0, "render", progress)
        t_render = time.perf_counter()
        draw_range(gen, banks, renderer, fps=fps, base=p0, features=prep.features(p0, i1), controls=prep.controls,
                   first_recorded=i0, rcontrols=renderer_controls(prep.control), sinks=sinks, recorder=recorder,
                   on_frame=on_frame, bar=bar)
        for sink in sinks:
            sink.close()
        wall_s = time.perf_counter() - t_render
        if bar is not None:
            bar.close()
        if recorder.error:
            raise RenderError(recorder.error)
        n_out = i1 - i0
        if recorder.frames_written != n_out or recorder.dropped:
            raise RenderError(f"only {recorder.frames_written} of {n_out} frames were encoded "
                              f"({recorder.dropped} dropped)")
    finally:
        if renderer is not None:
            renderer.close()
        for sink in sinks:
            sink.close()
        gen.close()

    # 5. the locked edit
    if timeline_out:
        write_timeline(prep, timeline_out)
    return RenderReport(out=str(out_path), frames=i1 - i0, first_frame=i0, fps=float(fps), width=w, height=h,
                        duration_s=(i1 - i0) / fps, wall_s=wall_s, analysis_s=prep.analysis_s,
                        sync_ms=prep.sync_s * 1000.0, bpm=prep.analysis.bpm, keyframes=len(prep.keyframes),
                        timeline=str(timeline_out or ""), warnings=prep.warnings)

