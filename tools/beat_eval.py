#!/usr/bin/env python3
"""Score beat trackers on the synthetic evaluation set (tools/make_beat_eval_set.py) with mir_eval.

    python tools/beat_eval.py [DIR] [--quick] [--trackers aubio,ours] [--json OUT] [--n 16 --seed 0 --seconds 30]

DIR: a set folder with manifest.json; if DIR is missing it is generated there; if DIR is omitted,
the set is generated once and cached under .cache/beat_eval/<key> (key = generator args + version).

Trackers:
  aubio  plain ``aubio.tempo("default", 1024, 512, sr)`` fed hop by hop; a beat is
         ``get_last_s()`` at each hop where it fires; report time = end of that hop (no downbeats).
  dsp    ``live.features.analyze_file(path)`` with ``features.tracker = "dsp"`` (the causal analyzer);
         ``ours`` is the same (its old name).
  neural the same analyzer with ``features.tracker = "neural"`` (learned activation + forward filter).
  cli    ``latent-live analyze FILE --beats`` through a subprocess (checks the exact CLI interface).

Downbeats: a beat whose position in the bar is 1 (the analyzer's ``beat_in_bar``) is an estimated
downbeat; the reference downbeats are the beats at position 1 in NAME.beats.txt. Scored with the
same F-measure (+-70 ms, first 5 s not scored): column dF.

Sets: the default set (seed 0, FluidR3 GM) was used while tuning the DSP tracker. ``--heldout`` is
the never-tuned-on set: seed 2 and the MuseScore General soundfont (Debian
musescore-general-soundfont-small), which the neural tracker's training data never uses.

Metrics (mir_eval.beat, defaults): F-measure (+-70 ms window), CMLt, AMLt. Both reference and
estimate are trimmed of the first 5 s (mir_eval.beat.trim_beats), so start-up is not scored.
Also: offset = mean/median (estimated - reference) of the beats matched inside the F-measure window
(ms; negative = early), latency = mean (report_time - beat_time) over all beats (ms; how long after a
beat sounds the tracker says so; latmax = the worst), lock s = time of the first estimated beat that
starts 4 consecutive correct beats (untrimmed; mean over pieces that lock), est BPM = 60 / median
inter-beat interval after 5 s, and a diagnosis: ok | x2, x1/2, x3/2, x2/3, x3, x1/3 (metrical-level error) | offbeat (right tempo,
anti-phase) | phase (right tempo, other phase) | drift | none (no beats).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import make_beat_eval_set as mk  # noqa: E402

CACHE_DIR = REPO / ".cache" / "beat_eval"
TRIM_S = 5.0
F_WINDOW_S = 0.07
HOP = 512
WIN = 1024
HELDOUT_SEED = 2
HELDOUT_SOUNDFONT = "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"


# ----------------------------------------------------------------------------- trackers
def load_mono(path: Path) -> tuple[np.ndarray, int]:
    x, sr = mk.read_wav(path)
    return np.ascontiguousarray(x.mean(axis=1), dtype=np.float32), sr


def track_aubio(path: Path) -> list[tuple[float, float]]:
    """Plain aubio tempo, fed hop by hop: [(beat_time_s, report_time_s)]."""
    import aubio
    x, sr = load_mono(path)
    tempo = aubio.tempo("default", WIN, HOP, sr)
    n = len(x) // HOP
    out = []
    for i in range(n):
        if tempo(x[i * HOP:(i + 1) * HOP])[0]:
            out.append((float(tempo.get_last_s()), (i + 1) * HOP / sr))
    return out


_OURS_ERR: str | None = None


def ours_available() -> tuple[bool, str]:
    global _OURS_ERR
    try:
        sys.path.insert(0, str(REPO))
        from live.features import analyze_file  # noqa: F401
        return True, ""
    except Exception as e:  # ImportError, AttributeError while the analyzer is being built
        _OURS_ERR = f"{type(e).__name__}: {e}"
        return False, _OURS_ERR


def _track_analyzer(path: Path, tracker: str) -> list[tuple[float, float, int]]:
    import dataclasses

    from live.config import FeaturesConfig
    from live.features import analyze_file
    res = analyze_file(str(path), config=dataclasses.replace(FeaturesConfig(), tracker=tracker))
    return [(float(b), float(r), int(k)) for (b, r), k in zip(res.beats, res.beats_in_bar)]


def track_ours(path: Path) -> list[tuple[float, float, int]]:
    return _track_analyzer(path, "dsp")


def track_neural(path: Path) -> list[tuple[float, float, int]]:
    return _track_analyzer(path, "neural")


def track_cli(path: Path) -> list[tuple[float, float]]:
    exe = shutil.which("latent-live") or str(REPO / ".venv" / "bin" / "latent-live")
    cmd = [exe, "analyze", str(path), "--beats"] if os.path.exists(exe) else \
        [sys.executable, "-m", "live", "analyze", str(path), "--beats"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO))
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[-3:])} exited {p.returncode}: {p.stderr.strip()[-200:]}")
    out = []
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            try:
                out.append((float(parts[0]), float(parts[1]), int(parts[2])))
            except ValueError:
                continue
    return out


TRACKERS = {"aubio": track_aubio, "ours": track_ours, "dsp": track_ours, "neural": track_neural, "cli": track_cli}


# ----------------------------------------------------------------------------- scoring
RATIOS = ((1.0, "ok"), (2.0, "x2"), (0.5, "x1/2"), (1.5, "x3/2"), (2 / 3, "x2/3"), (3.0, "x3"), (1 / 3, "x1/3"))


def diagnose(ref: np.ndarray, est: np.ndarray, f: float) -> str:
    """One word on what went wrong (ref/est already trimmed)."""
    if len(est) < 2:
        return "none"
    if f >= 0.9:
        return "ok"
    # est tempo / ref tempo, with the reference period taken where each estimated interval lies
    # (so tempo ramps and steps compare like with like)
    mid = (est[1:] + est[:-1]) / 2.0
    ref_period = np.interp(mid, (ref[1:] + ref[:-1]) / 2.0, np.diff(ref))
    ratio = float(np.median(ref_period / np.diff(est)))
    best = min(RATIOS, key=lambda r: abs(math.log(ratio / r[0])))
    if abs(math.log(ratio / best[0])) > 0.04:
        return f"tempo x{ratio:.2f}"
    if best[1] != "ok":
        return best[1]
    # right tempo, low F: phase of the estimates within the reference beat
    idx = np.clip(np.searchsorted(ref, est) - 1, 0, len(ref) - 2)
    phase = (est - ref[idx]) / (ref[idx + 1] - ref[idx])
    phase = phase[(phase >= 0) & (phase < 1)]
    if not len(phase):
        return "phase"
    ang = np.angle(np.mean(np.exp(2j * np.pi * phase)))
    conc = abs(np.mean(np.exp(2j * np.pi * phase)))
    ph = (ang / (2 * np.pi)) % 1.0
    if conc < 0.5:
        return "drift"
    if abs(ph - 0.5) < 0.15:
        return "offbeat"
    return f"phase {ph:.2f}"


def score(ref_beats, est_pairs, *, trim_s: float = TRIM_S, ref_downbeats=None) -> dict:
    """Score estimates against a reference.

    ref_beats: (n,) reference beat times (s). est_pairs: list of (beat_time_s, report_time_s) or
    (beat_time_s, report_time_s, beat_in_bar), or an (m,) array of beat times (latency then NaN).
    ref_downbeats: reference downbeat times; with positions in est_pairs, ``down_f`` is the F-measure
    of the estimated downbeats (position 1), else NaN. Returns F, CMLt, AMLt, offset/latency ms, ...
    """
    import warnings
    with warnings.catch_warnings():     # mir_eval warns on empty beat lists; the table says "none"
        warnings.simplefilter("ignore", UserWarning)
        r = _score(ref_beats, [tuple(p)[:2] for p in est_pairs] if len(est_pairs) and np.ndim(est_pairs[0]) else est_pairs,
                   trim_s=trim_s)
        r["down_f"] = float("nan")
        if ref_downbeats is not None and len(est_pairs) and np.ndim(est_pairs[0]) and len(est_pairs[0]) >= 3:
            import mir_eval
            est_d = np.unique(np.array([p[0] for p in est_pairs if int(p[2]) == 1], dtype=float))
            ref_d = mir_eval.beat.trim_beats(np.sort(np.asarray(ref_downbeats, dtype=float)), min_beat_time=trim_s)
            est_d = mir_eval.beat.trim_beats(est_d, min_beat_time=trim_s)
            r["down_f"] = float(mir_eval.beat.f_measure(ref_d, est_d, f_measure_threshold=F_WINDOW_S))
        return r


def lock_time_s(ref: np.ndarray, est: np.ndarray, *, run: int = 4) -> float:
    """Time (s) of the first estimated beat that starts `run` consecutive estimates matching
    `run` consecutive reference beats within the F-measure window (untrimmed); NaN if never."""
    import mir_eval
    if len(est) < run or len(ref) < run:
        return float("nan")
    m = dict((j, i) for i, j in mir_eval.util.match_events(ref, est, F_WINDOW_S))
    for k in range(len(est) - run + 1):
        if all(k + d in m for d in range(run)) and all(m[k + d] == m[k] + d for d in range(run)):
            return float(est[k])
    return float("nan")


def _score(ref_beats, est_pairs, *, trim_s: float) -> dict:
    import mir_eval
    ref = np.sort(np.asarray(ref_beats, dtype=float))
    pairs = np.asarray(est_pairs, dtype=float)
    if pairs.ndim == 1:
        pairs = np.stack([pairs, np.full_like(pairs, np.nan)], axis=1) if len(pairs) else np.zeros((0, 2))
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")] if len(pairs) else np.zeros((0, 2))
    est_all = pairs[:, 0]
    # mir_eval rejects non-increasing beat lists; drop exact duplicates
    keep = np.concatenate([[True], np.diff(est_all) > 1e-6]) if len(est_all) else np.zeros(0, bool)
    pairs = pairs[keep]
    est_all = pairs[:, 0]
    ref_t = mir_eval.beat.trim_beats(ref, min_beat_time=trim_s)
    est_t = mir_eval.beat.trim_beats(est_all, min_beat_time=trim_s)
    f = float(mir_eval.beat.f_measure(ref_t, est_t, f_measure_threshold=F_WINDOW_S))
    if len(est_t) >= 2 and len(ref_t) >= 2:
        _cmlc, cmlt, _amlc, amlt = (float(v) for v in mir_eval.beat.continuity(ref_t, est_t))
    else:
        cmlt = amlt = 0.0
    matches = mir_eval.util.match_events(ref_t, est_t, F_WINDOW_S) if len(est_t) and len(ref_t) else []
    offs = np.array([est_t[j] - ref_t[i] for i, j in matches]) * 1000.0
    lat = (pairs[:, 1] - pairs[:, 0]) * 1000.0
    lat = lat[np.isfinite(lat)]
    est_bpm = float(60.0 / np.median(np.diff(est_t))) if len(est_t) >= 2 else float("nan")
    lock = lock_time_s(ref, est_all)
    return dict(f=f, cmlt=cmlt, amlt=amlt,
                offset_mean_ms=float(offs.mean()) if len(offs) else float("nan"),
                offset_median_ms=float(np.median(offs)) if len(offs) else float("nan"),
                latency_mean_ms=float(lat.mean()) if len(lat) else float("nan"),
                latency_max_ms=float(lat.max()) if len(lat) else float("nan"),
                n_est=int(len(est_t)), n_ref=int(len(ref_t)), est_bpm=est_bpm, lock_s=lock,
                diag=diagnose(ref_t, est_t, f))


# ----------------------------------------------------------------------------- set handling
def cache_key(*, n: int, seed: int, seconds: float, only, room: bool = False, soundfont: str | None = None) -> str:
    blob = json.dumps(dict(v=mk.GENERATOR_VERSION, n=n, seed=seed, seconds=seconds, only=only or [], room=room,
                           sf=soundfont or mk.find_soundfont()), sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def ensure_set(directory: str | None, *, n: int, seed: int, seconds: float, only=None, room: bool = False,
               soundfont: str | None = None, log=print) -> Path:
    if directory:
        d = Path(directory)
        if (d / "manifest.json").exists():
            return d
        if d.exists() and any(d.iterdir()):
            raise ValueError(f"{d} has no manifest.json: not a beat evaluation set (make one with "
                             f"tools/make_beat_eval_set.py --out DIR)")
    else:
        d = CACHE_DIR / cache_key(n=n, seed=seed, seconds=seconds, only=only, room=room, soundfont=soundfont)
        if (d / "manifest.json").exists():
            return d
    log(f"generating evaluation set in {d} ...")
    mk.make_set(d, n=n, seed=seed, seconds=seconds, only=only, room=room, soundfont=soundfont, log=log)
    return d


def load_reference(path: Path) -> np.ndarray:
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return np.array([float(r[0]) for r in rows], dtype=float)


def load_reference_downbeats(path: Path) -> np.ndarray:
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return np.array([float(r[0]) for r in rows if len(r) >= 2 and int(float(r[1])) == 1], dtype=float)


# ----------------------------------------------------------------------------- table
def fmt(v, spec):
    return "   -" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def print_table(results: dict, trackers: list[str], pieces: list[dict], out=sys.stdout) -> None:
    hdr = f"{'piece':18s} {'bpm':>7s} {'meter':5s} {'tracker':7s} {'F':>5s} {'CMLt':>5s} {'AMLt':>5s} " \
          f"{'off ms':>7s} {'lat ms':>7s} {'latmax':>6s} {'lock s':>6s} {'estBPM':>6s} {'dF':>5s}  diag"
    print(hdr, file=out)
    print("-" * len(hdr), file=out)
    for p in pieces:
        bpm = f"{p['bpm']:.0f}" if p["bpm_end"] == p["bpm"] else f"{p['bpm']:.0f}>{p['bpm_end']:.0f}"
        for i, tr in enumerate(trackers):
            r = results[tr].get(p["name"])
            lead = f"{p['name']:18s} {bpm:>7s} {p['meter']:5s}" if i == 0 else " " * 32
            if r is None or "error" in r:
                print(f"{lead} {tr:7s} {(r or {}).get('error', 'n/a')}", file=out)
                continue
            print(f"{lead} {tr:7s} {r['f']:5.3f} {r['cmlt']:5.3f} {r['amlt']:5.3f} "
                  f"{fmt(r['offset_mean_ms'], '7.1f')} {fmt(r['latency_mean_ms'], '7.1f')} "
                  f"{fmt(r['latency_max_ms'], '6.1f')} {fmt(r['lock_s'], '6.1f')} {fmt(r['est_bpm'], '6.1f')} "
                  f"{fmt(r.get('down_f'), '5.3f')}  {r['diag']}", file=out)
    print("-" * len(hdr), file=out)
    for tr in trackers:
        s = summarize(results[tr])
        if s:
            print(f"{'MEAN (' + str(s['n']) + ' pieces)':32s} {tr:7s} {s['f']:5.3f} {s['cmlt']:5.3f} "
                  f"{s['amlt']:5.3f} {fmt(s['offset_mean_ms'], '7.1f')} {fmt(s['latency_mean_ms'], '7.1f')} "
                  f"{fmt(s['latency_max_ms'], '6.1f')} {fmt(s['lock_s'], '6.1f')} {'':6s} {fmt(s['down_f'], '5.3f')}"
                  f"  rt x{s['realtime_factor']:.0f}", file=out)


def summarize(per_piece: dict) -> dict | None:
    rows = [r for r in per_piece.values() if "error" not in r]
    if not rows:
        return None
    m = lambda k: float(np.nanmean([r[k] for r in rows])) if any(np.isfinite(r[k]) for r in rows) else float("nan")
    secs = sum(r["audio_s"] for r in rows)
    wall = sum(r["wall_s"] for r in rows)
    return dict(n=len(rows), f=m("f"), cmlt=m("cmlt"), amlt=m("amlt"), offset_mean_ms=m("offset_mean_ms"),
                down_f=m("down_f") if all("down_f" in r for r in rows) else float("nan"),
                latency_mean_ms=m("latency_mean_ms"), lock_s=m("lock_s"),
                n_never_locked=sum(1 for r in rows if not math.isfinite(r["lock_s"])),
                latency_max_ms=float(np.nanmax([r["latency_max_ms"] for r in rows])) if any(
                    np.isfinite(r["latency_max_ms"]) for r in rows) else float("nan"),
                realtime_factor=secs / wall if wall > 0 else float("inf"))


# ----------------------------------------------------------------------------- main
def evaluate(set_dir: Path, trackers: list[str], *, only=None, jobs: int = 1) -> tuple[dict, list[dict]]:
    """Run every tracker on every piece (in `jobs` processes) -> ({tracker: {piece: metrics}}, pieces)."""
    manifest = json.loads((set_dir / "manifest.json").read_text())
    pieces = [p for p in manifest["pieces"] if not only or p["name"] in only or p["style"] in only]
    results: dict[str, dict] = {t: {} for t in trackers}
    tasks = [(tr, p["name"], str(set_dir / p["wav"]), str(set_dir / p["beats"]), float(p["seconds"]))
             for p in pieces for tr in trackers]
    if jobs > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(jobs) as ex:
            done = list(ex.map(_run_one, tasks))
    else:
        done = [_run_one(t) for t in tasks]
    for (tr, name, *_), r in zip(tasks, done):
        results[tr][name] = r
    return results, pieces


def _run_one(task) -> dict:
    tr, _name, wav, beats, seconds = task
    ref = load_reference(Path(beats))
    ref_d = load_reference_downbeats(Path(beats))
    t0 = time.perf_counter()
    try:
        est = TRACKERS[tr](Path(wav))
    except Exception as e:  # one tracker failing on one piece must not stop the table
        return dict(error=f"error: {type(e).__name__}: {str(e)[:80]}")
    wall = time.perf_counter() - t0
    r = score(ref, est, ref_downbeats=ref_d)
    r.update(wall_s=wall, audio_s=seconds)
    return r


def code_version() -> dict:
    """git HEAD and whether live/features has uncommitted changes (results are a snapshot of the tree)."""
    def git(*args):
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=str(REPO),
                                  timeout=10).stdout.strip()
        except Exception:
            return ""
    return dict(head=git("rev-parse", "--short", "HEAD"),
                features_dirty=bool(git("status", "--porcelain", "--", "live/features")))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("dir", nargs="?", help="set folder (generated there if missing; default: cached set)")
    ap.add_argument("--trackers", default="aubio,dsp,neural", help="comma list of: " + ",".join(TRACKERS))
    ap.add_argument("--quick", action="store_true", help="only " + ",".join(mk.QUICK))
    ap.add_argument("--only", default="", help="comma list of piece names or styles")
    ap.add_argument("--json", metavar="OUT", help="write per-piece results and means as JSON")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="pieces scored in parallel processes (default: min(2, cores)); "
                         "realtime factors are per process")
    ap.add_argument("--n", type=int, default=len(mk.PIECES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--room", action="store_true",
                    help="score the 'room' variant of the set (reverb, noise, band-limit, soft clip: a mic in a club)")
    ap.add_argument("--soundfont", default=None, help="render a generated set with this soundfont")
    ap.add_argument("--heldout", action="store_true",
                    help=f"the never-tuned-on set: --seed {HELDOUT_SEED} --soundfont {HELDOUT_SOUNDFONT}")
    a = ap.parse_args(argv)
    if a.heldout:
        a.seed, a.soundfont = HELDOUT_SEED, HELDOUT_SOUNDFONT

    trackers = [t.strip() for t in a.trackers.split(",") if t.strip()]
    bad = [t for t in trackers if t not in TRACKERS]
    if bad:
        print(f"error: unknown tracker(s) {', '.join(bad)}; choose from {', '.join(TRACKERS)}", file=sys.stderr)
        return 2
    for name in ("ours", "dsp", "neural"):
        if name in trackers:
            ok, why = ours_available()
            if not ok:
                print(f"{name}: not available ({why}); scoring the others")
                trackers.remove(name)
    only = [s for s in a.only.split(",") if s] or (list(mk.QUICK) if a.quick else None)
    try:
        set_dir = ensure_set(a.dir, n=a.n, seed=a.seed, seconds=a.seconds, room=a.room, soundfont=a.soundfont,
                             log=lambda s: print(s, file=sys.stderr))
    except (mk.SetupError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cv = code_version()
    print(f"code: {cv['head'] or '?'}{' + uncommitted live/features' if cv['features_dirty'] else ''}")
    print(f"set: {set_dir}{' [room]' if a.room else ''}  (first {TRIM_S:g} s of every piece not scored: mir_eval trim_beats; "
          f"F window +-{F_WINDOW_S * 1000:.0f} ms)")
    results, pieces = evaluate(set_dir, trackers, only=only, jobs=max(1, a.jobs))
    print_table(results, trackers, pieces)
    if a.json:
        doc = dict(set=str(set_dir), code=code_version(), trim_s=TRIM_S, f_window_s=F_WINDOW_S, trackers=trackers,
                   pieces=pieces, results=results, means={t: summarize(results[t]) for t in trackers})
        Path(a.json).write_text(json.dumps(doc, indent=1, default=float))
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
