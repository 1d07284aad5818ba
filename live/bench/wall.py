"""``latent-live bench wall``: one leader and several followers as separate processes on one
machine, inside a private network namespace (loopback only; nothing reaches the real network).

The leader runs the real analyzer on a click track in real time and publishes every hop
(multicast), its controls every second, a control change every 2 s; it shows its own stream
through the same presentation delay as everyone. Followers (each its own process):

- ``clean``: receives everything;
- ``lossy``: drops ``--loss`` of the datagrams (default 20 %) before decoding;
- ``late``: joins at half time.

The leader stops at three quarters of the run (leader loss); followers keep going.

Each node runs a display loop at ``--fps`` (default 60): newest features (and, with
``--size``, a headless draw of the shader chain at that size), and records for each beat the
instant its flash is drawn: the beat's scheduled instant (``last_beat_t`` on the shared
clock) when it was known by then, else the first display frame after it became known.

Figures (``--json`` keys): ``beat_flash_skew_ms_p50/p99`` (over beats, max minus min
across the nodes of the instant the flash was drawn, while the leader was alive; a beat the
leader's analysis published later than the presentation delay is drawn at each node's next
display frame, so on a loaded machine this includes display-frame phase), ``beat_grid_skew_ms``
(the same for the instant each node scheduled the beat for: the agreement of the clocks), ``follower_frame_ms_p99``
(display frame cost of the followers), ``loss_survived_pct`` (beats of the lossy follower
drawn within one display frame of the clean follower or the leader; ``_grid_pct``: scheduled
within one display frame of the clean follower), ``late_join_catch_up_s`` (first packet to
the first beat scheduled on the leader's count and instant), ``leader_lost_beats`` and
``leader_lost_beat_error_ms_p99`` (beats kept from the last tempo after the leader stopped,
against the click grid), ``controls_mirrored`` (followers ended with the leader's values).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from typing import Optional

import numpy as np

ROLES = ("leader", "clean", "lossy", "late")


def _pct(values, q: float) -> float:
    v = np.asarray(list(values), dtype=np.float64)
    return float(np.percentile(v, q)) if v.size else float("nan")


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# ----------------------------------------------------------------------------------------------
# one node


class _Display:
    """A display loop's bookkeeping: per beat the drawn instant, per frame the cost."""

    def __init__(self, fps: float, size: Optional[tuple]):
        self.period = 1.0 / fps
        self.beats: dict[int, float] = {}      # beat -> instant its flash is drawn
        self.grid: dict[int, float] = {}       # beat -> instant this node scheduled it for
        self.known: dict[int, float] = {}
        self.frame_ms: list[float] = []
        self.renderer = None
        self._seen = None
        if size:
            try:
                from live.render import Renderer

                self.renderer = Renderer(width=size[0], height=size[1], headless=True, hud=False)
            except Exception as exc:  # noqa: BLE001 - no EGL: the figures leave the draw out
                print(f"no renderer ({exc}); frame cost without drawing", file=sys.stderr)

    def frame(self, features, *, now: float, offset_delay: Optional[float]) -> None:
        """``offset_delay``: local - audio time of the node's display (offset + delay)."""
        t0 = time.perf_counter()
        f = features
        if self.renderer is not None:
            self.renderer.draw(f, {}, time_s=f.t)
            self.renderer.finish()
        if f.beat_count != self._seen:
            # a jump of several beats is a node catching up (joined late), not flashes
            if self._seen is not None and 0 < f.beat_count - self._seen <= 2 and offset_delay is not None:
                for n in range(self._seen + 1, f.beat_count + 1):
                    # the grid instant of beat n on this node's clock; the flash curve is drawn on it
                    at = f.last_beat_t - (f.beat_count - n) * 60.0 / max(f.bpm, 1e-3) + offset_delay
                    self.known[n] = now
                    self.grid[n] = at
                    self.beats[n] = at if now <= at + self.period else now
            self._seen = f.beat_count
        self.frame_ms.append((time.perf_counter() - t0) * 1e3)

    def close(self):
        if self.renderer is not None:
            self.renderer.close()


def run_leader(address: str, seconds: float, fps: float, delay_s: float, size) -> dict:
    from live.audio import ArraySource
    from live.config import Config
    from live.control import ControlStore
    from live.features import Analyzer
    from live.net.follow import FollowState
    from live.net.lead import Leader
    from live.net.protocol import Features, Header
    from live.testing.sync_videos import click_track
    from live.types import Latest

    cfg = Config()
    sr = cfg.audio.sample_rate_hz
    samples, clicks = click_track(duration_s=max(seconds + 2.0, 4.0), sample_rate_hz=sr, bpm=120.0, first_click_s=0.5)
    src = ArraySource(samples, sample_rate_hz=sr, hop_size=cfg.features.hop_size, realtime=True)
    an = Analyzer(sample_rate_hz=sr, config=cfg.features)
    store = ControlStore()
    own = FollowState(delay_s=delay_s)
    disp = _Display(fps, size)
    latest: Latest = Latest(None)
    leader = Leader(address)
    start = time.monotonic()
    next_frame = start
    hops = 0
    zoom = 0.0
    next_change = start + 2.0
    import threading

    stop = threading.Event()

    def analysis():
        nonlocal hops
        src.start()
        while not stop.is_set():
            hop = src.read_hop()
            if hop is None:
                return
            f = an.process(hop)
            leader.features(f)
            now = time.monotonic()
            hops += 1
            own.receive(Features(Header(leader.session, hops, f.t), f), now)
            latest.publish(f)

    th = threading.Thread(target=analysis, daemon=True)
    th.start()
    try:
        while time.monotonic() - start < seconds:
            now = time.monotonic()
            if now >= next_change and now < start + seconds - 2.0:   # the last change repeats twice before the end
                zoom = round(0.1 + (zoom + 0.13) % 0.8, 3)
                store.set("fx.zoom", zoom)
                store.trigger("bank.next")
                next_change += 2.0
            st = store.state
            leader.controls(dict(st.values), {k: v for k, v in st.counts.items() if k == "bank.next"},
                            t=own.leader_time(now), version=st.version)
            f = own.frame_at(now)
            off = own.offset_s
            disp.frame(f, now=now, offset_delay=None if off is None else off + delay_s)
            next_frame += disp.period
            time.sleep(max(next_frame - time.monotonic(), 0.0))
    finally:
        stop.set()
        th.join(1.0)
        leader.close()
        disp.close()
    return {"role": "leader", "beats": disp.beats, "grid": disp.grid, "frame_ms": disp.frame_ms, "sent": leader.sent,
            "errors": leader.errors, "stopped_at": time.monotonic(),
            "controls": {"fx.zoom": zoom, "bank.next": store.state.count("bank.next")},
            "clicks": [float(c) for c in clicks]}


def run_follower(role: str, address: str, seconds: float, fps: float, delay_s: float, loss: float, size,
                 seed: int) -> dict:
    from live.control import ControlStore
    from live.net.follow import FollowWorker

    rng = random.Random(seed)
    drop = (lambda data: rng.random() < loss) if role == "lossy" and loss > 0 else None
    store = ControlStore()
    w = FollowWorker(address, delay_s=delay_s, control_store=store, drop=drop)
    disp = _Display(fps, size)
    w.start()
    start = time.monotonic()
    next_frame = start
    first_packet = None
    statuses = []
    try:
        while time.monotonic() - start < seconds:
            now = time.monotonic()
            if first_packet is None and w.stats.received:
                first_packet = now
            f = w.features.get()
            off = w.state.offset_s
            disp.frame(f, now=now, offset_delay=None if off is None else off + delay_s)
            m = w.mode()
            if not statuses or statuses[-1][1] != m:
                statuses.append((now, m))
            next_frame += disp.period
            time.sleep(max(next_frame - time.monotonic(), 0.0))
    finally:
        w.stop()
        disp.close()
    st = store.state
    return {"role": role, "beats": disp.beats, "grid": disp.grid, "known": disp.known, "frame_ms": disp.frame_ms,
            "stats": w.stats.as_dict(), "first_packet": first_packet, "statuses": statuses, "status": w.status(),
            "controls": {"fx.zoom": st.values["fx.zoom"], "bank.next": st.count("bank.next")}}


# ----------------------------------------------------------------------------------------------
# the orchestra


def _node_cmd(role: str, args) -> list[str]:
    return [sys.executable, "-m", "live.bench.wall", "--node", role, "--address", args.address,
            "--seconds", str(args.seconds if role != "leader" else args.seconds * 0.75),
            "--fps", str(args.fps), "--delay-ms", str(args.delay_ms), "--loss", str(args.loss),
            "--size", args.size or "", "--seed", str(args.seed)]


def orchestrate(args) -> dict:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    procs = {}
    t0 = time.monotonic()
    for role in ("clean", "lossy"):
        procs[role] = subprocess.Popen(_node_cmd(role, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=env)
    time.sleep(0.5)
    procs["leader"] = subprocess.Popen(_node_cmd("leader", args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=env)
    time.sleep(max(args.seconds / 2 - (time.monotonic() - t0), 0.0))
    late_args = argparse.Namespace(**{**vars(args), "seconds": args.seconds / 2})
    procs["late"] = subprocess.Popen(_node_cmd("late", late_args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
    out = {}
    try:
        for role, p in procs.items():
            so, se = p.communicate(timeout=args.seconds * 3 + 60)
            if p.returncode != 0:
                raise RuntimeError(f"node {role} failed ({p.returncode}): {se[-2000:]}")
            out[role] = json.loads(so.strip().splitlines()[-1])
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    if os.environ.get("LATENT_LIVE_WALL_DUMP"):
        with open(os.environ["LATENT_LIVE_WALL_DUMP"], "w") as fh:
            json.dump(out, fh)
    return summarise(out, args)


def summarise(nodes: dict, args) -> dict:
    period_s = 1.0 / args.fps
    beats = {r: {int(k): v for k, v in n["beats"].items()} for r, n in nodes.items()}
    grid = {r: {int(k): v for k, v in n["grid"].items()} for r, n in nodes.items()}
    stop = nodes["leader"]["stopped_at"]
    skews, grid_skews = [], []
    alive = [n for n in beats["leader"] if beats["leader"][n] < stop - 0.5]
    for n in alive[2:]:                                 # the analyzer's first beats settle the grid
        times = [beats[r][n] for r in ("leader", "clean", "lossy", "late") if n in beats[r]]
        if len(times) >= 2:
            skews.append((max(times) - min(times)) * 1e3)
        times = [grid[r][n] for r in ("leader", "clean", "lossy", "late") if n in grid[r]]
        if len(times) >= 2:
            grid_skews.append((max(times) - min(times)) * 1e3)
    clean, lossy = beats["clean"], beats["lossy"]
    during = [n for n in clean if n in alive[2:]]
    ref = beats["leader"]
    survived = [n for n in during if n in lossy and min(abs(lossy[n] - clean[n]), abs(lossy[n] - ref.get(n, 1e9)))
                <= period_s + 1e-3]
    g_clean, g_lossy = grid["clean"], grid["lossy"]
    survived_grid = [n for n in during if n in g_lossy and n in g_clean and abs(g_lossy[n] - g_clean[n]) <= period_s]
    late = nodes["late"]
    catch = None
    if late["first_packet"] is not None:
        # the first beat the late node schedules for the leader's instant (its clock agrees)
        ok = [grid["late"][n] for n in grid["late"] if n in grid["leader"]
              and abs(grid["late"][n] - grid["leader"][n]) <= period_s]
        if ok:
            catch = max(min(ok) - late["first_packet"], 0.0)
    # after the leader stopped: beats kept on the last tempo (clean follower) vs the click grid
    after = sorted(n for n in g_clean if g_clean[n] > stop + 0.1)
    lost_err = []
    if len(after) >= 2 and alive and alive[-1] in g_clean:
        n0 = alive[-1]
        for n in after:
            expect = g_clean[n0] + (n - n0) * 0.5           # 120 BPM click track
            lost_err.append(abs(g_clean[n] - expect) * 1e3)
    fms = [x for r in ("clean", "lossy", "late") for x in nodes[r]["frame_ms"][int(args.fps):]]
    lead_c = nodes["leader"]["controls"]
    mirrored = all(nodes[r]["controls"] == lead_c for r in ("clean", "lossy"))
    return {
        "beat_flash_skew_ms_p50": round(_pct(skews, 50), 3),
        "beat_flash_skew_ms_p99": round(_pct(skews, 99), 3),
        "beat_grid_skew_ms_p50": round(_pct(grid_skews, 50), 3),
        "beat_grid_skew_ms_p99": round(_pct(grid_skews, 99), 3),
        "follower_frame_ms_p99": round(_pct(fms, 99), 3),
        "loss_survived_pct": round(100.0 * len(survived) / len(during), 1) if during else float("nan"),
        "loss_survived_grid_pct": round(100.0 * len(survived_grid) / len(during), 1) if during else float("nan"),
        "late_join_catch_up_s": None if catch is None else round(catch, 3),
        "leader_lost_beats": len(after),
        "leader_lost_beat_error_ms_p99": round(_pct(lost_err, 99), 3) if lost_err else None,
        "controls_mirrored": bool(mirrored),
        "beats_compared": len(skews),
        "lossy_stats": nodes["lossy"]["stats"],
        "late_statuses": [s for _, s in nodes["late"]["statuses"]],
        "clean_statuses": [s for _, s in nodes["clean"]["statuses"]],
        "clean_status": nodes["clean"]["status"],
        "seconds": args.seconds, "fps": args.fps, "delay_ms": args.delay_ms, "loss": args.loss,
        "size": args.size or "none", "load": _load(),
    }


def in_private_netns() -> bool:
    """True when the only network interface is loopback (a private namespace)."""
    import socket

    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return False
    return names == ["lo"]


def run_wall(args) -> int:
    if not in_private_netns():
        if args.no_netns:
            print("refusing: the wall bench multicasts; run it in a private network namespace (the default)",
                  file=sys.stderr)
            return 2
        from live.testing import netns

        why = netns.unavailable_reason()
        if why:
            print(f"the wall bench runs in a private network namespace: {why}", file=sys.stderr)
            return 2
        cmd = [sys.executable, "-m", "live.bench.wall", "--address", args.address, "--seconds", str(args.seconds),
               "--fps", str(args.fps), "--delay-ms", str(args.delay_ms), "--loss", str(args.loss),
               "--size", args.size or "", "--seed", str(args.seed)] + (["--json"] if args.json else [])
        return subprocess.call(netns.command(cmd))
    r = orchestrate(args)
    if args.json:
        print(json.dumps(r))
    else:
        for k, v in r.items():
            print(f"{k:32s} {v}")
    return 0


def _add_args(p) -> None:
    p.add_argument("--seconds", type=float, default=24.0, help="length of the run (default 24)")
    p.add_argument("--fps", type=float, default=60.0, help="display rate of every node (default 60)")
    p.add_argument("--delay-ms", type=float, default=35.0, help="presentation delay (default 35)")
    p.add_argument("--loss", type=float, default=0.2, help="datagrams the lossy follower drops (default 0.2)")
    p.add_argument("--size", default="320x180", help="draw the shader chain at WxH each frame ('' = no draw)")
    p.add_argument("--address", default="239.255.76.76:9100", help="multicast group:port")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print JSON")


def register_bench(sub) -> None:
    p = sub.add_parser("wall", help="lead/follow: beat skew between nodes, loss, late join, leader loss",
                       description=__doc__.split("\n\n")[0])
    _add_args(p)
    p.add_argument("--no-netns", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run_wall)


def _size(text: str):
    if not text:
        return None
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m live.bench.wall")
    _add_args(p)
    p.add_argument("--node", choices=ROLES)
    p.add_argument("--no-netns", action="store_true")
    args = p.parse_args(argv)
    if args.node is None:
        return run_wall(args)
    if not in_private_netns():
        print("nodes run only inside a private network namespace", file=sys.stderr)
        return 2
    size = _size(args.size)
    if args.node == "leader":
        r = run_leader(args.address, args.seconds, args.fps, args.delay_ms / 1e3, size)
    else:
        r = run_follower(args.node, args.address, args.seconds, args.fps, args.delay_ms / 1e3, args.loss, size,
                         args.seed)
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
