"""Benchmarks of the DJ's clock: ``latent-live bench link | midiclock``.

- ``link``: the show's Link source (through the tempo clock, as the show reads it) and a second
  Link peer in a private network namespace (re-run under ``unshare -n`` when needed): beat
  phase error between them, sampled every 10 ms for ``--seconds`` at 120 and at 174 BPM, and
  how many beats our clock needs to follow a tempo change made on the other peer.
- ``midiclock``: a 128 BPM MIDI clock with +-2 ms uniform jitter sent through a private JACK
  server (the sender at real-time priority where allowed, so the machine's load does not add
  jitter of its own); the input polled once per analysis hop as in the show: tempo error after
  two beats (over several starts) and the phase error against the sender's jitter-free grid.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _pct(a, q) -> float:
    a = np.asarray(a, dtype=float)
    return round(float(np.percentile(a, q)), 3) if a.size else float("nan")


def _user_error(msg: str):
    from live.errors import UserError
    return UserError(msg)


# ----------------------------------------------------------------------------------------------
# link


def measure_link(*, seconds: float = 30.0, tempos=(120.0, 174.0), changes: int = 5) -> dict:
    from live.clock.link import LinkSource, new_link
    from live.clock.tempo import TempoClock, host_now

    load_before = _load()
    peer, _loop = new_link(tempos[0])
    peer.quantum = 4
    peer.enabled = True
    ours = LinkSource(beats_per_bar=4, bpm=100.0)
    try:
        end = time.monotonic() + 10.0
        while (ours.peers < 1 or peer.num_peers < 1) and time.monotonic() < end:
            time.sleep(0.01)
        if ours.peers < 1:
            raise RuntimeError("the two Link peers did not find each other within 10 s")
        per_tempo = {}
        all_errs = []
        for bpm in tempos:
            peer.tempo = bpm
            clock = TempoClock()
            end = time.monotonic() + 5.0
            while abs(ours.tempo - bpm) > 1e-6 and time.monotonic() < end:
                time.sleep(0.01)
            errs = []
            t_end = time.monotonic() + seconds
            while time.monotonic() < t_end:
                h = host_now()
                b = clock.update(h, {"link": ours.reading(h)})
                now = peer.time.total_seconds()
                theirs = peer.beat + (h - now) * peer.tempo / 60.0
                d = (b.position - b.bar_offset - theirs + 2.0) % 4.0 - 2.0
                errs.append(abs(d) * 60.0 / bpm * 1e3)
                time.sleep(0.01)
            per_tempo[f"{bpm:g}"] = {"phase_err_ms_p50": _pct(errs, 50), "phase_err_ms_p99": _pct(errs, 99),
                                     "samples": len(errs)}
            all_errs += errs
        # tempo changes on the other peer: beats until our clock reads the new tempo
        follow = []
        clock = TempoClock()
        rng = np.random.default_rng(0)
        for i in range(changes):
            h = host_now()
            clock.update(h, {"link": ours.reading(h)})
            time.sleep(0.3 + 0.2 * rng.random())
            new = float(round(rng.uniform(100.0, 170.0), 1))
            peer.tempo = new
            t0 = host_now()
            while host_now() - t0 < 5.0:
                h = host_now()
                b = clock.update(h, {"link": ours.reading(h)})
                if abs(b.bpm - new) < 0.01:
                    follow.append((h - t0) * new / 60.0)
                    break
                time.sleep(0.002)
            else:
                follow.append(float("inf"))
        return {
            "bench": "link", "seconds_per_tempo": seconds, "tempos": list(tempos),
            "phase_err_ms_p50": _pct(all_errs, 50), "phase_err_ms_p99": _pct(all_errs, 99),
            "per_tempo": per_tempo,
            "tempo_follow_beats": round(float(max(follow)), 4),
            "tempo_follow_beats_each": [round(x, 4) for x in follow],
            "sampling": "every 10 ms through the tempo clock, the other peer's beat at the same host time",
            "load_before": load_before, "load_after": _load(),
        }
    finally:
        ours.close()
        peer.enabled = False


def run_link(args) -> int:
    from live.testing import netns

    if not netns.inside():
        why = netns.unavailable_reason()
        if why:
            raise _user_error(f"bench link runs two Link peers in a private network namespace: {why}")
        argv = [sys.executable, "-m", "live", "bench", "link", "--seconds", str(args.seconds)]
        if args.json:
            argv.append("--json")
        p = netns.run(argv, timeout_s=4 * args.seconds + 120, capture=False)
        return p.returncode
    try:
        r = measure_link(seconds=args.seconds)
    except ImportError as exc:
        raise _user_error(f"bench link needs aalink (pip install 'latent-live[link]'): {exc}") from None
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"bench link: two peers in a private network namespace, {args.seconds:g} s per tempo")
    for k, v in r["per_tempo"].items():
        print(f"  {k:>5} BPM  phase error p50 {v['phase_err_ms_p50']:.3f} ms  p99 {v['phase_err_ms_p99']:.3f} ms")
    print(f"  all        phase error p50 {r['phase_err_ms_p50']:.3f} ms  p99 {r['phase_err_ms_p99']:.3f} ms "
          "(goal p99 < 3 ms)")
    print(f"  tempo change followed within {r['tempo_follow_beats']:.3f} beats (worst of "
          f"{len(r['tempo_follow_beats_each'])}); load {r['load_after']}")
    return 0


# ----------------------------------------------------------------------------------------------
# midiclock


def _sender(port, *, bpm, beats, jitter_s, seed, sent, start_evt):
    import mido
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        pass
    rng = np.random.default_rng(seed)
    tick = 60.0 / (bpm * 24)
    start_evt.wait()
    t0 = time.monotonic() + 0.02
    port.send(mido.Message("start"))
    sent.append(("start", t0))
    for k in range(int(beats * 24)):
        due = t0 + k * tick + rng.uniform(-jitter_s, jitter_s)
        while True:
            d = due - time.monotonic()
            if d <= 0:
                break
            time.sleep(min(d, 0.002) if d > 0.0005 else 0)
        port.send(mido.Message("clock"))
    port.send(mido.Message("stop"))


def measure_midiclock(*, bpm: float = 128.0, jitter_ms: float = 2.0, starts: int = 5, beats: int = 32,
                      hop_s: float = 512 / 44100) -> dict:
    from live.clock.midiclock import MidiClockInput, MidiClockParser
    from live.testing.jackmidi import JackServer, unavailable_reason

    why = unavailable_reason()
    if why:
        raise _user_error(f"bench midiclock needs a private JACK server: {why}")
    load_before = _load()
    tick = 60.0 / (bpm * 24)
    bpm_err2, bpm_err_end, phase_errs = [], [], []
    with JackServer() as jack:
        out = jack.virtual_output("bench-clock", client="benchclock")
        jack.wait_for("bench-clock")
        for run in range(starts):
            clk = MidiClockInput("bench-clock", api="jack", clock=time.monotonic,
                                 parser=MidiClockParser())
            try:
                time.sleep(0.2)
                sent, go = [], threading.Event()
                th = threading.Thread(target=_sender, kwargs=dict(
                    port=out, bpm=bpm, beats=beats, jitter_s=jitter_ms / 1e3, seed=run, sent=sent,
                    start_evt=go))
                th.start()
                go.set()
                two_beats_done = False
                while th.is_alive():
                    now = time.monotonic()
                    r = clk.reading(now)
                    if sent and r is not None and r.phase is not None and r.playing:
                        t0 = sent[0][1]
                        true_pos = (now - t0) / tick / 24.0
                        if true_pos >= 2.0 + 0.5 / 24 and not two_beats_done:
                            bpm_err2.append(abs(r.bpm - bpm))       # tempo after two beats
                            two_beats_done = True
                        if true_pos >= 2.0:
                            d = (r.phase - true_pos + 0.5) % 1.0 - 0.5
                            phase_errs.append(abs(d) * tick * 24 * 1e3)
                    time.sleep(hop_s)                               # polled once per hop, as in the show
                th.join()
                time.sleep(0.05)
                clk.poll()
                bpm_err_end.append(abs(clk.parser.bpm - bpm))
            finally:
                clk.close()
    return {
        "bench": "midiclock", "bpm": bpm, "jitter_ms": jitter_ms, "starts": starts, "beats_per_start": beats,
        "bpm_err": round(float(np.median(bpm_err2)), 4) if bpm_err2 else float("nan"),
        "bpm_err_max": round(float(max(bpm_err2)), 4) if bpm_err2 else float("nan"),
        "bpm_err_after_run": round(float(np.median(bpm_err_end)), 4),
        "phase_err_ms_p50": _pct(phase_errs, 50), "phase_err_ms_p99": _pct(phase_errs, 99),
        "samples": len(phase_errs), "poll_every_ms": round(hop_s * 1e3, 2),
        "reference": "the sender's jitter-free grid from its Start",
        "load_before": load_before, "load_after": _load(),
    }


def run_midiclock(args) -> int:
    r = measure_midiclock(starts=args.starts, jitter_ms=args.jitter_ms)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"bench midiclock: {r['bpm']:g} BPM, +-{r['jitter_ms']:g} ms jitter, {r['starts']} starts through JACK")
    print(f"  tempo error after two beats: median {r['bpm_err']:.4f} BPM, worst {r['bpm_err_max']:.4f} "
          f"(goal < 0.1); after {r['beats_per_start']} beats {r['bpm_err_after_run']:.4f}")
    print(f"  phase error p50 {r['phase_err_ms_p50']:.2f} ms  p99 {r['phase_err_ms_p99']:.2f} ms (goal < 5); "
          f"load {r['load_after']}")
    return 0


def register_bench(sub) -> None:
    p = sub.add_parser("link", help="Ableton Link: phase error between two peers, tempo-change follow",
                       description=__doc__)
    p.add_argument("--json", action="store_true")
    p.add_argument("--seconds", type=float, default=30.0, help="seconds per tempo (default 30)")
    p.set_defaults(func=run_link)
    p = sub.add_parser("midiclock", help="MIDI clock in: tempo after two beats and phase error under jitter",
                       description=__doc__)
    p.add_argument("--json", action="store_true")
    p.add_argument("--starts", type=int, default=5, help="start/stop runs (default 5)")
    p.add_argument("--jitter-ms", type=float, default=2.0, help="uniform jitter of the clock (default 2)")
    p.set_defaults(func=run_midiclock)
    # `bench latency --compensate`: added to the latency bench of live.bench.show (registered first)
    lat = sub.choices.get("latency")
    if lat is not None:
        lat.add_argument("--compensate", action="store_true",
                         help="beat-locked flash error at the eye with the sound-to-eye compensation set to "
                              "the measured pipeline latency (a first run measures it)")
        lat.add_argument("--beat-source", choices=("manual", "tracker"), default="manual",
                         help="with --compensate: the click track's BPM set by hand, phase marked on the first "
                              "onsets (default: measures the compensation alone), or the beat tracker")
        lat.add_argument("--pipeline-ms", type=float, default=None,
                         help="with --compensate: use this pipeline latency instead of measuring it first")
        plain = lat.get_default("func")

        def run_latency(args):
            if args.compensate:
                from live.bench.show import _parse_size
                return run_beat_flash(args, size=_parse_size(args.size))
            return plain(args)

        lat.set_defaults(func=run_latency)


# ----------------------------------------------------------------------------------------------
# latency --compensate: beat-locked flash error at the eye


def bench_beat_flash(*, clicks: int = 60, bpm: float = 120.0, width: int = 640, height: int = 360,
                     latency: str = "low", pipeline_ms: float, sets=(), warm_beats: int = 16,
                     beat_source: str = "manual") -> dict:
    """A steady click track at ``bpm`` through the virtual sound device, the show's clock on
    its tracker, compensated by ``pipeline_ms`` (``clock.trim_ms``: the measured sound-to-screen
    delay of the beat-locked path, which may be negative when the tracker leads the music).
    ``beat_source``: "manual" (default) sets the click track's BPM by hand and marks its phase
    on the first onsets the analyzer reports (the grid is then exact, and what is measured is
    the compensation itself); "tracker" lets the beat tracker find tempo and phase. For every drawn frame, the beat flash it shows peaks ``beat_phase * 60 / bpm`` before
    the frame is on screen (after glFinish); that moment minus the click's DAC time is the error
    at the eye (signed, positive = late). The first ``warm_beats`` (the tracker locking) are left out."""
    from live.app import Show
    from live.audio import AudioError, SoundDeviceSource
    from live.bench.show import ClickPlayer, FrameLog, _config, _start_show
    from live.testing.virtual_audio import ALSA_DEVICE, VirtualAudioUnavailable, virtual_sound_device

    load_before = _load()
    extra = ["clock.audio_latency_ms=0", "clock.render_latency_ms=0", f"clock.trim_ms={pipeline_ms:.3f}",
             "clock.compensate=true",
             "features.bpm_min=90", "features.bpm_max=160"]
    cfg = _config(width, height, [*extra, *sets])
    interval = 60.0 / bpm
    try:
        ctx = virtual_sound_device(rate_hz=cfg.audio.sample_rate_hz)
        ctx.__enter__()
    except (VirtualAudioUnavailable, RuntimeError) as exc:
        raise _user_error(f"no virtual sound device: {exc}") from None
    try:
        import sounddevice as sd

        saved_latency = sd.default.latency
        sd.default.latency = latency
        src = SoundDeviceSource(ALSA_DEVICE, sample_rate_hz=cfg.audio.sample_rate_hz,
                                block_size=cfg.audio.block_size, hop_size=cfg.features.hop_size)
        player = ClickPlayer(device=ALSA_DEVICE, sample_rate_hz=cfg.audio.sample_rate_hz, clicks=clicks,
                             lead_s=1.5, latency=latency, interval_s=interval)
        rows: list[tuple[float, float, float, str]] = []     # (on screen, drawn bpm, drawn phase, source)
        state: dict = {"started": None, "drawn": None, "onsets": 0, "marked": 0}

        def on_frame(show, now, done):
            feats = show.features.get()
            if beat_source == "manual" and state["started"] is not None and feats is not None \
                    and feats.onset_count != state["onsets"] and state["marked"] < 8:
                state["onsets"] = feats.onset_count
                if state["marked"] == 0:
                    show.clock.set_bpm(bpm)
                show.clock.tap(feats.last_onset_t)      # under a manual BPM a tap marks the beat
                state["marked"] += 1
            f = state["drawn"]
            if f is not None:
                rows.append((done, f.bpm, f.beat_phase, f.tempo_source))
            if state["started"] is None and show.features.get().hop_index > 20:
                state["started"] = done
                player.stream.start()
            if player.done.is_set() or (state["started"] and done - state["started"] > clicks * interval + 10):
                show.stop_event.set()

        flog = FrameLog(int((clicks * interval + 60) * cfg.render.fps * 1.5), then=on_frame)
        show = Show(cfg, source=src, on_frame=flog, duration_s=clicks * interval + 40)
        try:
            _start_show(show)
        except AudioError as exc:
            raise _user_error(str(exc)) from None
        draw = show.renderer.draw

        def draw_logged(feats, *a, **k):
            state["drawn"] = feats                 # what the picture shows (beat moved to the eye)
            return draw(feats, *a, **k)

        show.renderer.draw = draw_logged
        try:
            res = show.run()
        finally:
            player.stream.close()
            sd.default.latency = saved_latency
    finally:
        ctx.__exit__(None, None, None)
    dac = player.dac_s
    ok = np.isfinite(dac)
    per_click: dict[int, list[float]] = {}
    locked = 0
    for done, fbpm, phase, source in rows:
        if fbpm <= 0 or abs(fbpm - bpm) > 0.02 * bpm or not ok.any():
            continue
        locked += 1
        t_flash = done - phase * 60.0 / fbpm
        d = np.where(ok, np.abs(dac - t_flash), np.inf)
        k = int(np.argmin(d))                     # the click this flash belongs to (nearest)
        if k < warm_beats or d[k] > 0.5 * interval:
            continue
        per_click.setdefault(k, []).append(t_flash - dac[k])
    errs = np.array([np.median(v) for v in per_click.values()]) * 1e3
    return {
        "bench": "latency", "mode": "compensated beat-locked flash", "bpm": bpm, "clicks": clicks,
        "beat_source": beat_source,
        "beats_measured": int(errs.size), "frames_locked": locked, "frames": len(rows),
        "compensation_ms": round(pipeline_ms, 2),
        "beat_flash_err_ms_p50": _pct(errs, 50), "beat_flash_err_ms_p90": _pct(errs, 90),
        "beat_flash_err_ms_p10": _pct(errs, 10),
        "beat_flash_abs_err_ms_p50": _pct(np.abs(errs), 50),
        # how steady the clicks really reached the DAC (PortAudio's times; output underruns move them)
        "click_interval_dev_ms_p90": _pct(np.abs(np.diff(dac[ok]) - interval) * 1e3, 90),
        "click_interval_dev_ms_max": _pct(np.abs(np.diff(dac[ok]) - interval) * 1e3, 100),
        "audio_overflows": res.audio_overflows, "size": f"{width}x{height}", "target_fps": cfg.render.fps,
        "sign": "positive = the flash is seen after the click", "load_before": load_before,
        "load_after": _load(), "sets": list(sets),
    }


def run_beat_flash(args, *, size) -> int:
    """Two runs on the same steady click track: the first without compensation measures the
    beat-locked path's own sound-to-screen latency (p50); the second sets the compensation to
    it and measures what is left. ``--pipeline-ms`` skips the first run."""
    w, h = size
    if args.clicks < 3:
        raise _user_error("--clicks must be at least 3")
    clicks = max(args.clicks, 60)
    first = None
    pipeline = args.pipeline_ms
    if pipeline is None:
        first = bench_beat_flash(clicks=clicks, width=w, height=h, latency=args.latency, pipeline_ms=0.0,
                                 sets=[*args.set, "clock.compensate=false"], beat_source=args.beat_source)
        pipeline = float(first["beat_flash_err_ms_p50"])
        if not first["beats_measured"]:
            raise _user_error("the first run locked onto no beat, so there is no latency to compensate")
    r = bench_beat_flash(clicks=clicks, width=w, height=h, latency=args.latency,
                         pipeline_ms=pipeline, sets=args.set, beat_source=args.beat_source)
    if first is not None:
        r["uncompensated"] = {k: first[k] for k in ("beat_flash_err_ms_p50", "beat_flash_err_ms_p90",
                                                    "beat_flash_err_ms_p10", "beats_measured", "load_after")}
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"bench latency --compensate: {r['bpm']:g} BPM clicks through the virtual sound device, headless "
          f"{r['size']}, compensation {r['compensation_ms']:.1f} ms"
          + (" (measured: the uncompensated run's p50)" if "uncompensated" in r else " (given)"))
    print(f"  beat flash at the eye minus click (signed, + = late): p10 {r['beat_flash_err_ms_p10']:+.1f} ms  "
          f"p50 {r['beat_flash_err_ms_p50']:+.1f} ms  p90 {r['beat_flash_err_ms_p90']:+.1f} ms  over "
          f"{r['beats_measured']} beats (goal: median within +-5 ms); load {r['load_after']}")
    return 0
