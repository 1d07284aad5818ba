"""Whole-loop benchmarks of the live show: ``latent-live bench frame | latency | soak``.

All three run the real :class:`live.app.Show` (analysis, generator, OSC and GL threads) headless,
with every draw made as costly as on stage: the HUD is composed over the picture and the frame
is waited for with glFinish (a headless renderer would otherwise defer the HUD and only queue
GL commands), so a frame time here is what a projector would wait for.

- ``frame``: a music file (looping, paced in real time, not played) through the whole loop at
  1280x720: display frame time p50/p99/max, generator fps, late frames (> 40 ms), audio
  overflows, analysis cost per hop, and the CPU each thread used (to see where time goes on a
  shared 2-core machine).
- ``latency``: audio-to-photon. Clicks are played into a private PulseAudio null sink; the show
  captures the sink's monitor through ALSA's ``pulse`` device with :class:`SoundDeviceSource`
  and draws the flash effect. Each click's DAC time comes from the output stream's callback
  (PortAudio's clock is the wall clock, not CLOCK_MONOTONIC, so it is mapped through the
  callback's ``currentTime``), each frame's time is taken after glFinish; the delay is from a
  click to the first frame whose brightness shows its flash.
- ``soak``: minutes with a looping file and a stream of random valid and invalid OSC packets
  over real UDP: no exception, RSS growth under 5 % (after a warm-up), frame time p99 of the
  first and last minute. ``--attack`` mixes in the faults of issue 14: address patterns that
  make a backtracking matcher run for seconds, 65 KB bundles of empty elements, bundles nested
  too deep, unknown type tags, a user shader hot-reloaded into an endless loop mid-show (and
  fixed again), and a recording running throughout; it passes only if the OSC input still
  answers at the end, no datagram held the OSC thread for a second, the endless shader was
  refused and the recording plays.
"""
from __future__ import annotations

import json
import os
import random
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from live.data import find_data
from live.testing.shaders import ENDLESS_PASS

BUDGET_MS = 40.0
DEFAULT_TRACK = find_data("demo/demo_beat.wav")
WARMUP_FRAMES = 30          # shader JIT, first uploads: not counted in frame figures


# ----------------------------------------------------------------------------------------------
# helpers


def _user_error(msg: str):
    from live.errors import UserError

    return UserError(msg)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise _user_error(f"--size expects WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise _user_error(f"--size {text}: width and height must be 16..8192")
    return w, h


def _load() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0


def _rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds (user + system) used so far by each thread of this process, grouped by
    name: Python threads by their ``threading`` name (``MainThread`` draws), Mesa's
    rasteriser threads as ``llvmpipe``, other native threads by their OS name. Linux only."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / tick
        name = names.get(int(tid)) or comm
        if name.startswith("generator-"):
            name = "generator"
        elif name.startswith("llvmpipe") or comm.startswith("llvmpipe"):
            name = "llvmpipe"
        out[name] = out.get(name, 0.0) + cpu
    return out


def _cpu_delta(a: dict, b: dict, seconds: float) -> dict[str, float]:
    """Percent of one core each thread group used between two :func:`thread_cpu_s` samples."""
    d = {k: 100.0 * (b.get(k, 0.0) - a.get(k, 0.0)) / max(seconds, 1e-9) for k in b}
    return {k: round(v, 1) for k, v in sorted(d.items(), key=lambda kv: -kv[1]) if v >= 0.5}


def gil_free_gl_finish() -> Optional[Callable[[], None]]:
    """glFinish called through ctypes, which releases the GIL while it waits (moderngl's
    ``ctx.finish()`` holds it, so the generator and analysis threads could not run meanwhile).
    Acts on the calling thread's current context (libglvnd dispatch); None when unavailable."""
    import ctypes

    for name in ("libOpenGL.so.0", "libGL.so.1"):
        try:
            fn = ctypes.CDLL(name).glFinish
        except (OSError, AttributeError):
            continue
        fn.restype, fn.argtypes = None, []
        return fn
    return None


def sync_draws(renderer, *, release_gil: bool = True) -> str:
    """Make each ``renderer.draw`` cost what it costs on stage: compose the HUD (a headless
    renderer defers it until pixels are read) and wait for the frame with glFinish, through
    ctypes with the GIL released unless ``release_gil`` is False. Returns how it waits."""
    draw = renderer.draw
    finish = gil_free_gl_finish() if release_gil else None

    def draw_synced(*args, **kwargs):
        draw(*args, **kwargs)
        if renderer.window is None and renderer.hud_visible:
            renderer.compose_hud()
        if finish is not None:
            finish()
        renderer.finish()                    # no-op wait when the ctypes call already waited

    renderer.draw = draw_synced
    return "glFinish, GIL released (ctypes)" if finish is not None else "glFinish, GIL held (moderngl)"


def _config(width: int, height: int, sets: Sequence[str], *, osc_port: int = 0, extra: Sequence[str] = ()):
    from live.config import ConfigError, load_config

    base = [f"render.width={width}", f"render.height={height}", "render.headless=yes", "render.hud=true",
            "gen.backend=embedded", "audio.playback=false", "audio.loop=true"]
    base += [f"osc.port={osc_port}"] if osc_port else ["osc.enabled=false"]
    try:
        return load_config(None, [*base, *extra, *sets])
    except ConfigError as exc:
        raise _user_error(str(exc)) from None


def _file_source(path: str, cfg):
    from live.audio import AudioFileError, FileSource

    if not Path(path).is_file():
        hint = " (make it with: python tools/make_demo_track.py)" if Path(path) == DEFAULT_TRACK else ""
        raise _user_error(f"audio file not found: {path}{hint}")
    try:
        return FileSource(path, sample_rate_hz=cfg.audio.sample_rate_hz, hop_size=cfg.features.hop_size,
                          realtime=True, playback=False, loop=True)
    except AudioFileError as exc:
        raise _user_error(str(exc)) from None


def _start_show(show, *, release_gil: bool = True) -> str:
    from live.app import ShowError

    try:
        show.start()
    except ShowError as exc:
        show.stop()
        raise _user_error(str(exc)) from None
    return sync_draws(show.renderer, release_gil=release_gil)


def _pct(values, q: float) -> float:
    v = np.asarray(values, dtype=np.float64)
    return round(float(np.percentile(v, q)), 2) if v.size else 0.0


class FrameLog:
    """Per-frame (start, work ms) in preallocated arrays; ``on_frame`` for :class:`Show`.

    The work time is from the loop's frame start to after glFinish (see :func:`sync_draws`),
    the same span the show's own telemetry times."""

    def __init__(self, capacity: int, *, then: Optional[Callable] = None):
        self.start_s = np.zeros(capacity, np.float64)
        self.work_ms = np.zeros(capacity, np.float64)
        self.n = 0
        self.then = then

    def __call__(self, show, now: float) -> None:
        done = time.monotonic()
        i = self.n
        if i < self.start_s.size:
            self.start_s[i] = now
            self.work_ms[i] = (done - now) * 1e3
            self.n = i + 1
        if self.then is not None:
            self.then(show, now, done)

    def window(self, t0: float, t1: float) -> np.ndarray:
        s = self.start_s[: self.n]
        return self.work_ms[: self.n][(s >= t0) & (s < t1)]


# ----------------------------------------------------------------------------------------------
# bench frame


def bench_frame(*, audio_path: str = "", seconds: float = 60.0, width: int = 1280, height: int = 720,
                sets: Sequence[str] = (), release_gil: bool = True) -> dict:
    """Run the show on a looping file for ``seconds``; return the figures (see module doc)."""
    from live.app import Show

    cfg = _config(width, height, sets)
    src = _file_source(audio_path or str(DEFAULT_TRACK), cfg)
    flog = FrameLog(int(seconds * cfg.render.fps * 1.5) + 200)
    show = Show(cfg, source=src, duration_s=seconds, on_frame=flog)
    load0 = _load()
    finish = _start_show(show, release_gil=release_gil)
    cpu = {"t0": time.monotonic(), "a": thread_cpu_s()}

    def sample_cpu(show_, now, done):       # threads end with the show: sample while they run
        if done - cpu.get("t1", 0.0) >= 1.0:
            cpu["t1"], cpu["b"] = done, thread_cpu_s()

    flog.then = sample_cpu
    gl_renderer = show.renderer.ctx.info.get("GL_RENDERER", "?")
    internal_scale = show.renderer.internal_scale
    res = show.run()
    t_end, cpu_end = cpu.get("t1", time.monotonic()), cpu.get("b", {})
    warm = min(WARMUP_FRAMES, flog.n // 4)
    ms = flog.work_ms[warm: flog.n]
    starts = flog.start_s[warm: flog.n]
    intervals = np.diff(starts) * 1e3
    span = t_end - cpu["t0"]
    return {
        "bench": "frame", "audio": str(src.path), "seconds": round(res.seconds, 1), "size": f"{width}x{height}",
        "renderer": gl_renderer, "internal_scale": internal_scale,
        "chain": list(cfg.render.chain), "hud": True, "finish": finish, "target_fps": cfg.render.fps,
        "frames": int(ms.size), "warmup_frames": warm,
        "display_fps": round(ms.size / max(starts[-1] - starts[0], 1e-9), 1) if ms.size > 1 else 0.0,
        "frame_ms_p50": _pct(ms, 50), "frame_ms_p99": _pct(ms, 99),
        "frame_ms_max": round(float(ms.max()), 2) if ms.size else 0.0,
        "interval_ms_p99": _pct(intervals, 99),
        "late_frames": int((ms > BUDGET_MS).sum()), "budget_ms": BUDGET_MS,
        "within_budget": bool(ms.size and _pct(ms, 99) < BUDGET_MS),
        "gen_fps": round(res.gen_fps, 1), "gen_ms_p50": round(res.gen_ms_p50, 2),
        "analysis_ms_p50": round(res.analysis_ms_p50, 3), "analysis_ms_p99": round(res.analysis_ms_p99, 3),
        "hop_ms": round(1e3 * cfg.features.hop_size / cfg.audio.sample_rate_hz, 2),
        "audio_overflows": res.audio_overflows, "gen_errors": res.gen_errors, "fallbacks": res.fallbacks,
        "cpu_pct_by_thread": _cpu_delta(cpu.get("a", {}), cpu_end, span),
        # process CPU (all threads) per displayed frame: steadier than wall time on a shared machine
        "cpu_ms_per_frame": round(10.0 * sum(_cpu_delta(cpu.get("a", {}), cpu_end, span).values()) * span
                                  / max(flog.n, 1), 1),
        "cpu_count": os.cpu_count() or 1, "load_before": load0, "load_after": _load(),
        "lp_num_threads": os.environ.get("LP_NUM_THREADS", ""), "sets": list(sets),
    }


def _print_frame(r: dict) -> None:
    ok = "within" if r["within_budget"] else "OVER"
    print(f"bench frame: {r['audio']} for {r['seconds']} s, headless {r['size']} (HUD, glFinish each frame), "
          f"embedded generator, {r['renderer']}, chain {','.join(r['chain'])} at scale {r['internal_scale']}, "
          f"{r['finish']}")
    print(f"  display frame time  p50 {r['frame_ms_p50']:.1f} ms  p99 {r['frame_ms_p99']:.1f} ms  "
          f"max {r['frame_ms_max']:.1f} ms  ({ok} the {r['budget_ms']:.0f} ms budget at p99)")
    print(f"  display rate        {r['display_fps']:.1f} fps (target {r['target_fps']:g}), interval p99 "
          f"{r['interval_ms_p99']:.1f} ms, {r['frames']} frames after {r['warmup_frames']} warm-up")
    print(f"  late frames         {r['late_frames']} (> {r['budget_ms']:.0f} ms)")
    print(f"  generator           {r['gen_fps']:.1f} fps, {r['gen_ms_p50']:.1f} ms per frame (p50)")
    print(f"  analysis per hop    p50 {r['analysis_ms_p50']:.2f} ms  p99 {r['analysis_ms_p99']:.2f} ms "
          f"(hop = {r['hop_ms']:.1f} ms of audio)")
    print(f"  audio overflows     {r['audio_overflows']}   generator errors {r['gen_errors']}   "
          f"fallbacks {r['fallbacks']}")
    cpu = ", ".join(f"{k} {v:.0f}%" for k, v in r["cpu_pct_by_thread"].items())
    print(f"  CPU by thread       {cpu}  (% of one core; {r['cpu_count']} cores); "
          f"{r['cpu_ms_per_frame']:.1f} ms CPU per frame")
    print(f"  load average        {r['load_before']} before, {r['load_after']} after")


def run_frame(args) -> int:
    w, h = _parse_size(args.size)
    if args.seconds <= 0:
        raise _user_error("--seconds must be > 0")
    r = bench_frame(audio_path=args.audio, seconds=args.seconds, width=w, height=h, sets=args.set,
                    release_gil=not args.finish_holds_gil)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        _print_frame(r)
    return 0


# ----------------------------------------------------------------------------------------------
# bench latency


class ClickPlayer:
    """Plays clicks (5 ms noise bursts) at random 0.5-0.8 s intervals through a PortAudio
    output stream and records when each reaches the DAC, on ``time.monotonic()``.

    PortAudio's stream clock on Linux is the wall clock (CLOCK_REALTIME), so each DAC time is
    mapped through the callback: ``monotonic_at_callback + (outputBufferDacTime - currentTime)``.
    """

    def __init__(self, *, device, sample_rate_hz: int, clicks: int, lead_s: float = 1.0,
                 block_size: int = 256, latency="low", seed: int = 0, interval_s: float = 0.0):
        rng = np.random.default_rng(seed)
        self.sample_rate_hz = sr = int(sample_rate_hz)
        # random gaps (onset latency) or a steady grid (beat-locked effects: interval_s > 0)
        gaps = np.full(clicks, interval_s) if interval_s > 0 else rng.uniform(0.5, 0.8, clicks)
        self.click_at = (sr * (lead_s + np.concatenate([[0.0], np.cumsum(gaps[:-1])]))).astype(np.int64)
        burst_n = int(0.005 * sr)
        burst = (rng.uniform(-1, 1, burst_n) * np.exp(-np.arange(burst_n) / (0.0015 * sr)) * 0.9).astype(np.float32)
        self.track = np.zeros(int(self.click_at[-1]) + sr, np.float32)
        for s in self.click_at:
            self.track[s: s + burst_n] = burst
        self.dac_s = np.full(clicks, np.nan)
        self.pos = 0
        self.no_dac_time = 0
        self.done = threading.Event()
        self._next = 0
        import sounddevice as sd

        self.stream = sd.OutputStream(device=device, samplerate=sr, channels=1, dtype="float32",
                                      blocksize=block_size, latency=latency, callback=self._callback)

    def _callback(self, out, frames, time_info, status) -> None:
        mono = time.monotonic()
        pos, track = self.pos, self.track
        n = max(0, min(frames, track.size - pos))
        out[:n, 0] = track[pos: pos + n]
        out[n:, 0] = 0.0
        dac, cur = time_info.outputBufferDacTime, time_info.currentTime
        if dac > 0 and cur > 0:
            dac0 = mono + (dac - cur)
        else:                         # no timing from the host API: callback + reported latency
            self.no_dac_time += 1
            dac0 = mono + self.stream.latency
        while self._next < self.click_at.size and self.click_at[self._next] < pos + frames:
            self.dac_s[self._next] = dac0 + (self.click_at[self._next] - pos) / self.sample_rate_hz
            self._next += 1
        self.pos = pos + frames
        if pos >= track.size:
            self.done.set()


def _first_flash_delays(click_s: np.ndarray, frame_s: np.ndarray, bright: np.ndarray, *,
                        min_rise: float = 6.0) -> np.ndarray:
    """Delay (s) from each click to the first frame brighter than half-way between the level
    just before the click and the peak in the 0.4 s after it; NaN when no flash rose by
    ``min_rise`` (0..255). Frames: ``frame_s`` (after glFinish) and mean ``bright``."""
    out = np.full(click_s.size, np.nan)
    for i, tc in enumerate(click_s):
        if not np.isfinite(tc):
            continue
        before = bright[(frame_s >= tc - 0.4) & (frame_s < tc)]
        after_mask = (frame_s >= tc) & (frame_s < tc + 0.4)
        after = bright[after_mask]
        if before.size < 1 or after.size < 1:
            continue
        base, peak = float(np.median(before)), float(after.max())
        if peak - base < min_rise:
            continue
        k = int(np.argmax(after > base + 0.5 * (peak - base)))
        out[i] = frame_s[after_mask][k] - tc
    return out


def bench_latency(*, clicks: int = 40, width: int = 640, height: int = 360, latency: str = "low",
                  sets: Sequence[str] = ()) -> dict:
    """Audio-to-photon latency through the virtual sound device; see the module doc."""
    from live.app import Show
    from live.audio import AudioError, SoundDeviceSource
    from live.testing.virtual_audio import ALSA_DEVICE, VirtualAudioUnavailable, virtual_sound_device

    cfg = _config(width, height, sets)
    try:
        ctx = virtual_sound_device(rate_hz=cfg.audio.sample_rate_hz)
        va = ctx.__enter__()
    except (VirtualAudioUnavailable, RuntimeError) as exc:
        raise _user_error(f"no virtual sound device: {exc}") from None
    try:
        import sounddevice as sd

        saved_latency = sd.default.latency
        sd.default.latency = latency          # SoundDeviceSource opens with the default latency
        src = SoundDeviceSource(ALSA_DEVICE, sample_rate_hz=cfg.audio.sample_rate_hz,
                                block_size=cfg.audio.block_size, hop_size=cfg.features.hop_size)
        player = ClickPlayer(device=ALSA_DEVICE, sample_rate_hz=cfg.audio.sample_rate_hz, clicks=clicks,
                             lead_s=1.5, latency=latency)
        cap = int((clicks * 0.8 + 15) * cfg.render.fps * 1.5)
        frames_s, bright = np.zeros(cap), np.zeros(cap)
        n = [0]
        onsets: list[tuple[float, int]] = []
        state = {"started": None}

        def on_frame(show, now, done):
            r = show.renderer
            fbo = r.chain.output_fbo
            fw, fh = fbo.size
            pw, ph = max(fw // 8, 1), max(fh // 8, 1)
            data = fbo.read(viewport=((fw - pw) // 2, (fh - ph) // 2, pw, ph), components=3, alignment=1)
            i = n[0]
            if i < cap:
                frames_s[i] = done
                bright[i] = np.frombuffer(data, np.uint8).mean()
                n[0] = i + 1
            if state["started"] is None and show.features.get().hop_index > 20:
                state["started"] = done          # audio is flowing: start the clicks
                stream = getattr(src, "_stream", None)
                state["in_latency"] = getattr(stream, "latency", None)
                player.stream.start()
            if player.done.is_set() or (state["started"] and done - state["started"] > clicks * 0.8 + 10):
                show.stop_event.set()

        flog = FrameLog(cap, then=on_frame)
        show = Show(cfg, source=src, on_frame=flog, duration_s=clicks * 0.8 + 40)
        try:
            _start_show(show)
        except AudioError as exc:
            raise _user_error(str(exc)) from None
        show.store.update({"fx.flash": 1.0})
        process = show.analyzer.process

        def process_logged(hop):
            f = process(hop)
            if not onsets or f.onset_count != onsets[-1][1]:
                onsets.append((time.monotonic(), f.onset_count))
            return f

        show.analyzer.process = process_logged
        try:
            res = show.run()
        finally:
            player.stream.close()
            sd.default.latency = saved_latency
        m, in_latency = n[0], state.get("in_latency")
        delays = _first_flash_delays(player.dac_s, frames_s[:m], bright[:m])
        # click -> the analysis published a new onset (capture + analysis, before any drawing)
        on_t = np.array([t for t, _ in onsets[1:]])
        analysis = np.full(clicks, np.nan)
        for i, tc in enumerate(player.dac_s):
            later = on_t[(on_t >= tc) & (on_t < tc + 0.4)] if np.isfinite(tc) else on_t[:0]
            if later.size:
                analysis[i] = later[0] - tc
        ok = delays[np.isfinite(delays)] * 1e3
        an = analysis[np.isfinite(analysis)] * 1e3
        fw = flog.work_ms[WARMUP_FRAMES: flog.n]
        return {
            "bench": "latency", "clicks": clicks, "detected": int(ok.size), "size": f"{width}x{height}",
            "latency_ms_p50": _pct(ok, 50), "latency_ms_p90": _pct(ok, 90), "latency_ms_p99": _pct(ok, 99),
            "latency_ms_min": round(float(ok.min()), 2) if ok.size else 0.0,
            "onset_ms_p50": _pct(an, 50), "onset_ms_p90": _pct(an, 90), "onsets_seen": int(an.size),
            "frame_ms_p50": _pct(fw, 50), "frame_ms_p99": _pct(fw, 99), "target_fps": cfg.render.fps,
            "hop_ms": round(1e3 * cfg.features.hop_size / cfg.audio.sample_rate_hz, 2),
            "block_size": cfg.audio.block_size, "portaudio_latency": latency,
            "input_latency_ms": round(1e3 * in_latency, 1) if in_latency else None,
            "output_latency_ms": round(1e3 * player.stream.latency, 1),
            "dac_time_from": "callback" if not player.no_dac_time else "reported latency",
            "audio_overflows": res.audio_overflows, "load_before": None, "load_after": _load(),
            "sets": list(sets),
        }
    finally:
        ctx.__exit__(None, None, None)


def _print_latency(r: dict) -> None:
    print(f"bench latency: {r['detected']} of {r['clicks']} clicks seen, virtual PulseAudio sink -> monitor -> "
          f"ALSA 'pulse' -> SoundDeviceSource (block {r['block_size']}, hop {r['hop_ms']} ms, "
          f"PortAudio latency '{r['portaudio_latency']}': in {r['input_latency_ms']} ms, "
          f"out {r['output_latency_ms']} ms), headless {r['size']} at {r['target_fps']:g} fps")
    print(f"  click (DAC) -> flash on screen (after glFinish)  p50 {r['latency_ms_p50']:.1f} ms  "
          f"p90 {r['latency_ms_p90']:.1f} ms  p99 {r['latency_ms_p99']:.1f} ms  min {r['latency_ms_min']:.1f} ms")
    print(f"  click (DAC) -> onset published by the analysis   p50 {r['onset_ms_p50']:.1f} ms  "
          f"p90 {r['onset_ms_p90']:.1f} ms  ({r['onsets_seen']} clicks)")
    print(f"  frame time p50 {r['frame_ms_p50']:.1f} ms p99 {r['frame_ms_p99']:.1f} ms; audio overflows "
          f"{r['audio_overflows']}; load {r['load_after']}")
    print("  includes: output buffering after the DAC time PortAudio reports, the null sink's and the "
          "monitor's PulseAudio buffering, ALSA/PortAudio input blocks, hop assembly, onset detection, "
          "waiting for the next frame and drawing it; not a display's scan-out")


def run_latency(args) -> int:
    w, h = _parse_size(args.size)
    if args.clicks < 3:
        raise _user_error("--clicks must be at least 3")

    r = bench_latency(clicks=args.clicks, width=w, height=h, latency=args.latency, sets=args.set)
    print(json.dumps(r, indent=2)) if args.json else _print_latency(r)
    return 0


# ----------------------------------------------------------------------------------------------
# bench soak


def osc_packets(rng: random.Random, params) -> bytes:
    """One random OSC packet: mostly valid messages for real parameters (values in and out of
    range), plus wrong types, wrong argument counts, unknown addresses and garbage bytes."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    kind = rng.random()
    if kind < 0.05:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))       # not OSC
    if kind < 0.08:
        return b"/live/intensity\x00,f\x00\x00\x3f"                                  # truncated
    p = rng.choice(params)
    address = p.address if kind >= 0.15 else rng.choice(["/live/nope", "/live/fx/unknown", "/x", "/live"])
    b = OscMessageBuilder(address=address)
    mode = rng.random()
    if mode < 0.1:                                           # wrong type
        b.add_arg(rng.choice(["text", 3, 1.5, True]))
    elif mode < 0.15:                                        # wrong count
        b.add_arg(1.0)
        b.add_arg(2.0)
    elif p.type == "float":
        lo, hi = p.lo if p.lo is not None else 0.0, p.hi if p.hi is not None else 1.0
        b.add_arg(rng.uniform(lo - 0.5, hi + 0.5), "f")
    elif p.type in ("int", "bool"):
        lo, hi = int(p.lo) if p.lo is not None else 0, int(p.hi) if p.hi is not None else 1
        b.add_arg(rng.randint(lo - 1, hi + 1), "i")
    elif p.type == "str":
        b.add_arg(rng.choice(["", "missing-preset", "x" * 40]))
    elif rng.random() < 0.5:                                 # trigger
        b.add_arg(1.0, "f")
    return b.build().dgram


ATTACK_KINDS = ("pattern_bomb", "empty_bundle_65k", "deep_bundle", "bad_type_tag", "many_args")
ATTACK_MARKER = ("gen.feedback", 0.4321)      # left out of the random traffic: set at the end to see the input answers


def attack_packet(rng: random.Random, kind: str) -> bytes:
    """One hostile datagram of ``kind`` (see :data:`ATTACK_KINDS`)."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    if kind == "pattern_bomb":             # each '*' doubled a backtracking matcher's time
        b = OscMessageBuilder(address="/live/" + "*" * rng.randint(12, 40) + rng.choice("!#~"))
        b.add_arg(1.0)
        return b.build().dgram
    if kind == "empty_bundle_65k":         # thousands of empty elements (each one used to log a line)
        return b"#bundle\0" + b"\0" * 8 + b"\0\0\0\0" * rng.randint(1000, (65000 - 16) // 4)
    if kind == "deep_bundle":
        b = OscMessageBuilder(address="/live/speed")
        b.add_arg(1.0)
        inner = b.build().dgram
        for _ in range(rng.randint(5, 40)):
            inner = b"#bundle\0" + b"\0" * 8 + len(inner).to_bytes(4, "big") + inner
        return inner
    if kind == "bad_type_tag":
        return b"/live/speed\0,ZQ" + bytes(rng.getrandbits(8) for _ in range(2)) + b"\0" * 8
    b = OscMessageBuilder(address="/live/intensity")      # many_args
    for _ in range(rng.randint(100, 2000)):
        b.add_arg(0.5)
    return b.build().dgram


class OscFlood(threading.Thread):
    """Sends random OSC packets (:func:`osc_packets`) over UDP at ``rate_hz`` until stopped;
    with ``attack`` about 5 % of them are hostile (:func:`attack_packet`, 65 KB bundles at most
    one a second), counted by kind in ``attacks``."""

    def __init__(self, port: int, *, rate_hz: float = 200.0, seed: int = 0, host: str = "127.0.0.1",
                 attack: bool = False):
        super().__init__(name="osc-flood", daemon=True)
        from live.control.params import PARAMS

        # a soak must keep drawing: never black out or fade to black for long, never hide the HUD
        skip = ("blackout", "fade", "hud")
        if attack:     # the marker, and the look kept still: the endless reload targets its pass
            skip += (ATTACK_MARKER[0], "look.select", "look.name", "look.next", "look.prev", "look.auto_bars",
                     "preset")
        self.params = [p for p in PARAMS if p.name not in skip]
        self.addr = (host, port)
        self.rate_hz = rate_hz
        self.rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.sent = 0
        self.attack = attack
        self.attacks = {k: 0 for k in ATTACK_KINDS}
        self._last_big = 0.0

    def _packet(self) -> bytes:
        if self.attack and self.rng.random() < 0.05:
            kind = self.rng.choice(ATTACK_KINDS)
            if kind == "empty_bundle_65k":
                now = time.monotonic()
                if now - self._last_big < 1.0:
                    kind = "pattern_bomb"
                else:
                    self._last_big = now
            self.attacks[kind] += 1
            return attack_packet(self.rng, kind)
        return osc_packets(self.rng, self.params)

    def run(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            period, t = 1.0 / self.rate_hz, time.monotonic()
            while not self.stop_event.is_set():
                try:
                    sock.sendto(self._packet(), self.addr)
                    self.sent += 1
                except OSError:
                    pass
                t += period
                delay = t - time.monotonic()
                if delay > 0:
                    self.stop_event.wait(delay)
                else:
                    t = time.monotonic()
        finally:
            sock.close()


def _free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bench_soak(*, minutes: float = 10.0, audio_path: str = "", width: int = 1280, height: int = 720,
               osc_rate_hz: float = 200.0, trace_memory: bool = False, sets: Sequence[str] = (),
               attack: bool = False) -> dict:
    """Run the show for ``minutes`` under an OSC flood; return the figures and a verdict.
    ``attack``: hostile packets, an endless shader reload and a recording as well (module doc)."""
    import shutil
    import tempfile

    from live.app import Show
    from live.render.shaderlib import bundled_dir

    seconds = minutes * 60.0
    warmup_s = min(60.0, seconds * 0.2)
    window_s = min(60.0, (seconds - warmup_s) / 2)
    port = _free_udp_port()
    work = Path(tempfile.mkdtemp(prefix="latent-live-soak-")) if attack else None
    extra: list[str] = []
    if work is not None:
        (work / "shaders").mkdir()
        good_finish = (bundled_dir() / "finish.glsl").read_text()
        (work / "shaders" / "finish.glsl").write_text(good_finish)
        extra = [f'render.shader_dirs=["{work / "shaders"}"]']
    cfg = _config(width, height, sets, osc_port=port, extra=extra)
    src = _file_source(audio_path or str(DEFAULT_TRACK), cfg)
    errors: list[str] = []
    old_hook = threading.excepthook

    def hook(args):                          # an exception in any thread fails the soak
        errors.append(f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: {args.exc_value}")
        old_hook(args)

    threading.excepthook = hook
    mem: dict = {}
    flood = OscFlood(port, rate_hz=osc_rate_hz, attack=attack)
    att: dict = {"refused": 0, "marker_sent": None, "marker_seen": False, "stage": 0}

    def attack_step(show, elapsed):
        # the endless shader goes in at 40 % of the run and is fixed at 60 % (between the windows)
        if att["stage"] == 0 and elapsed >= 0.4 * seconds:
            (work / "shaders" / "finish.glsl").write_text(ENDLESS_PASS)
            att["stage"] = 1
        elif att["stage"] == 1 and elapsed >= 0.6 * seconds:
            (work / "shaders" / "finish.glsl").write_text(good_finish)
            att["stage"] = 2
        for _, m in list(show.telemetry.messages):
            if "shader refused" in m and m not in att.setdefault("seen", set()):
                att["seen"].add(m)
                att["refused"] += 1
        name, value = ATTACK_MARKER
        if att["marker_sent"] is None and elapsed >= seconds - 3.0:
            from pythonosc.osc_message_builder import OscMessageBuilder

            b = OscMessageBuilder(address=next(p.address for p in flood.params_all if p.name == name))
            b.add_arg(value, "f")
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.sendto(b.build().dgram, ("127.0.0.1", port))
            sock.close()
            att["marker_sent"] = elapsed
        elif att["marker_sent"] is not None and not att["marker_seen"]:
            if abs(float(show.store.state.values.get(name, -1.0)) - value) < 1e-6:
                att["marker_seen"] = True
                att["marker_latency_s"] = round(elapsed - att["marker_sent"], 3)

    def on_frame(show, now, done):
        elapsed = done - mem.setdefault("t0", done)
        if attack:
            attack_step(show, elapsed)
        if "warm" not in mem and elapsed >= warmup_s:
            mem["warm"] = (elapsed, _rss_bytes())
            if trace_memory:
                import tracemalloc

                mem["snap0"] = tracemalloc.take_snapshot()
        if done - mem.get("last_sample", 0.0) >= 1.0:
            mem["last_sample"] = done
            mem.setdefault("rss", []).append((round(elapsed, 1), _rss_bytes()))

    from live.control.params import PARAMS

    flood.params_all = PARAMS
    flog = FrameLog(int(seconds * cfg.render.fps * 1.3) + 300, then=on_frame)
    record = str(work / "soak.mp4") if work is not None else ""
    show = Show(cfg, source=src, duration_s=seconds, on_frame=flog, record=record)
    if trace_memory:
        import tracemalloc

        tracemalloc.start(10)
    load0 = _load()
    try:
        _start_show(show)
        flood.start()
        res = show.run()
    except Exception as exc:                 # noqa: BLE001 - the soak reports, then fails
        errors.append(f"show: {type(exc).__name__}: {exc}")
        res = show.result(0.0)
    finally:
        flood.stop_event.set()
        if flood.is_alive():
            flood.join(timeout=2.0)
        threading.excepthook = old_hook
    rss_end = _rss_bytes()
    growth_top: list[str] = []
    if trace_memory and "snap0" in mem:
        import tracemalloc

        stats = tracemalloc.take_snapshot().compare_to(mem["snap0"], "lineno")
        growth_top = [str(s) for s in stats[:10]]
        tracemalloc.stop()
    if show.analysis is not None and show.analysis.error is not None:
        errors.append(f"analysis: {show.analysis.error!r}")
    if res.gen_errors:
        errors.append(f"{res.gen_errors} generator error(s)")
    t0 = flog.start_s[0] if flog.n else 0.0
    t_last = flog.start_s[flog.n - 1] if flog.n else 0.0
    first = flog.window(t0 + warmup_s, t0 + warmup_s + window_s)
    last = flog.window(t_last - window_s, t_last + 1.0)
    rss_warm = mem.get("warm", (0.0, rss_end))[1]
    growth = 100.0 * (rss_end - rss_warm) / rss_warm if rss_warm else 0.0
    p99_first, p99_last = _pct(first, 99), _pct(last, 99)
    p99_ok = p99_last <= max(1.5 * p99_first, p99_first + 10.0)
    result = {
        "bench": "soak", "minutes": minutes, "seconds": round(res.seconds, 1), "size": f"{width}x{height}",
        "frames": res.frames_drawn, "gen_frames": res.gen_frames, "warmup_s": round(warmup_s, 1),
        "window_s": round(window_s, 1),
        "rss_mb_warm": round(rss_warm / 2**20, 1), "rss_mb_end": round(rss_end / 2**20, 1),
        "rss_growth_pct": round(growth, 2), "rss_mb_series": [(t, round(b / 2**20, 1)) for t, b in mem.get("rss", [])][::10],
        "frame_ms_p99_first": p99_first, "frame_ms_p99_last": p99_last,
        "frame_ms_p50_first": _pct(first, 50), "frame_ms_p50_last": _pct(last, 50),
        "late_frames": int((flog.work_ms[WARMUP_FRAMES: flog.n] > BUDGET_MS).sum()),
        "osc_sent": flood.sent, "osc": res.osc, "audio_overflows": res.audio_overflows,
        "fallbacks": res.fallbacks, "errors": errors, "tracemalloc_top": growth_top,
        "load_before": load0, "load_after": _load(),
        "ok_no_exception": not errors, "ok_memory": growth < 5.0, "ok_frame_p99": bool(p99_ok),
    }
    result["passed"] = result["ok_no_exception"] and result["ok_memory"] and result["ok_frame_p99"]
    if attack:
        rec_frames, rec_error = 0, res.recording_error
        try:
            import av

            with av.open(record) as c:
                rec_frames = sum(1 for _ in c.decode(video=0))
        except Exception as exc:  # noqa: BLE001 - reported as the verdict
            rec_error = rec_error or f"{type(exc).__name__}: {exc}"
        result["attack"] = {
            "packets": dict(flood.attacks), "shader_refused": att["refused"],
            "osc_alive_at_end": att["marker_seen"], "osc_marker_latency_s": att.get("marker_latency_s"),
            "osc_slowest_ms": round(float(res.osc.get("slowest_ms", 0.0)), 1),
            "bad_elements": res.osc.get("bad_elements", 0), "recording_frames": rec_frames,
            "recording_error": rec_error,
        }
        result["ok_attack"] = bool(att["marker_seen"] and att["refused"] >= 1 and rec_frames > 0 and not rec_error
                                   and result["attack"]["osc_slowest_ms"] < 1000.0)
        result["passed"] = result["passed"] and result["ok_attack"]
        shutil.rmtree(work, ignore_errors=True)
    return result


def _print_soak(r: dict) -> None:
    osc = r["osc"]
    print(f"bench soak: {r['seconds']} s headless {r['size']}, looping file, {r['osc_sent']} random OSC packets "
          f"({', '.join(f'{k} {v}' for k, v in osc.items())})")
    print(f"  exceptions          {len(r['errors'])}" + (": " + "; ".join(r["errors"][:3]) if r["errors"] else ""))
    print(f"  memory (RSS)        {r['rss_mb_warm']} MB after {r['warmup_s']:g} s warm-up -> {r['rss_mb_end']} MB at "
          f"the end: {r['rss_growth_pct']:+.2f} % ({'ok' if r['ok_memory'] else 'OVER 5 %'})")
    print(f"  frame time p99      first {r['window_s']:g} s {r['frame_ms_p99_first']:.1f} ms, last {r['window_s']:g} s "
          f"{r['frame_ms_p99_last']:.1f} ms ({'unchanged' if r['ok_frame_p99'] else 'WORSE'}); p50 "
          f"{r['frame_ms_p50_first']:.1f} -> {r['frame_ms_p50_last']:.1f} ms")
    print(f"  frames {r['frames']}, generator frames {r['gen_frames']}, late {r['late_frames']}, audio overflows "
          f"{r['audio_overflows']}, fallbacks {r['fallbacks']}; load {r['load_before']} -> {r['load_after']}")
    for line in r["tracemalloc_top"]:
        print(f"  grew: {line}")
    a = r.get("attack")
    if a:
        print(f"  attack              {', '.join(f'{k} {v}' for k, v in a['packets'].items())}; "
              f"{a['bad_elements']} malformed bundle elements counted; slowest datagram {a['osc_slowest_ms']} ms; "
              f"OSC answers at the end: {'yes' if a['osc_alive_at_end'] else 'NO'}"
              + (f" ({a['osc_marker_latency_s']} s)" if a['osc_marker_latency_s'] is not None else ""))
        print(f"  attack              endless shader refused {a['shader_refused']} time(s); recording "
              f"{a['recording_frames']} frames playable" + (f", ERROR {a['recording_error']}" if a["recording_error"] else "")
              + f" ({'ok' if r['ok_attack'] else 'FAILED'})")
    print("  PASSED" if r["passed"] else "  FAILED")


def run_soak(args) -> int:
    w, h = _parse_size(args.size)
    if args.minutes <= 0:
        raise _user_error("--minutes must be > 0")
    if not 0 < args.osc_rate <= 5000:
        raise _user_error("--osc-rate must be in 0..5000 packets/s")
    r = bench_soak(minutes=args.minutes, audio_path=args.audio, width=w, height=h, osc_rate_hz=args.osc_rate,
                   trace_memory=args.tracemalloc, sets=args.set, attack=args.attack)
    print(json.dumps(r, indent=2)) if args.json else _print_soak(r)
    return 0 if r["passed"] else 1


# ----------------------------------------------------------------------------------------------


def register_bench(sub) -> None:
    common = dict(metavar="KEY=VALUE", action="append", default=[],
                  help="override a show setting, e.g. render.internal_scale=0.5 (repeatable)")
    p = sub.add_parser("frame", help="whole loop on a music file: display frame time, generator fps, drops",
                       description="Run the show headless on a looping music file (not played) with the HUD on "
                       "and print display frame time p50/p99/max, generator fps, late frames, overflows.")
    p.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    p.add_argument("--audio", default="", metavar="FILE", help=f"music file (default {DEFAULT_TRACK.name})")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--set", **common)
    p.add_argument("--finish-holds-gil", action="store_true",
                   help="wait for each frame with moderngl's finish (holds the GIL) instead of a GIL-free glFinish")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_frame)

    p = sub.add_parser("latency", help="audio-to-photon latency through a virtual sound device",
                       description="Play clicks into a private PulseAudio null sink, capture its monitor as a live "
                       "input, and time each click to the first rendered frame that flashes.")
    p.add_argument("--clicks", type=int, default=40, help="number of clicks (default 40, ~0.65 s apart)")
    p.add_argument("--size", default="640x360", help="WIDTHxHEIGHT (default 640x360)")
    p.add_argument("--latency", choices=("low", "high"), default="low",
                   help="PortAudio suggested latency for the streams (default low)")
    p.add_argument("--set", **common)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_latency)

    p = sub.add_parser("soak", help="minutes under random OSC: exceptions, memory growth, frame time drift",
                       description="Run the show headless on a looping file while random valid and invalid OSC "
                       "packets arrive over UDP; fail on an exception, RSS growth >= 5 % or a worse frame p99.")
    p.add_argument("--minutes", type=float, default=10.0, help="how long (default 10; 0.5 for a quick check)")
    p.add_argument("--audio", default="", metavar="FILE", help=f"music file (default {DEFAULT_TRACK.name})")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--osc-rate", type=float, default=200.0, help="OSC packets per second (default 200)")
    p.add_argument("--tracemalloc", action="store_true", help="trace Python allocations and print what grew")
    p.add_argument("--attack", action="store_true",
                   help="mix in hostile OSC (pattern bombs, 65 KB empty bundles, deep bundles, bad tags), an "
                        "endless shader reloaded mid-show and a recording; pass only if all are survived")
    p.add_argument("--set", **common)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_soak)
