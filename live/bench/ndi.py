"""``latent-live bench ndi``: NDI out, measured with a real receiver in another process.

Runs inside a private network namespace (re-run under ``unshare -n`` when root, else says
why): the show's NDI sink sends a moving test picture at 30 fps for ``--seconds`` at 1280x720
and at 1920x1080; a separate receiver process (``live.testing.ndirecv``, found by extra_ips)
takes every frame. Figures per size:

- ``send_ms_p50/p99``: the sink worker's time per frame (RGB -> RGBX, NDI's compression and
  send), the cost on the show's side (on a thread of its own; ``offer_ms_*`` is what the GL
  thread itself pays to copy a frame in);
- ``latency_ms_p50/p90``: capture (the moment the frame was offered) to receipt in the other
  process, both on ``time.monotonic``;
- ``frames_sent``, ``frames_received``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _pct(a, q) -> float:
    a = np.asarray(a, dtype=float)
    return round(float(np.percentile(a, q)), 3) if a.size else float("nan")


def _picture(w: int, h: int, i: int) -> np.ndarray:
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    ph = i * 0.07
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = (127 + 120 * np.sin(6.0 * x + ph) * np.cos(4.0 * y)).astype(np.uint8)
    img[..., 1] = (127 + 120 * np.sin(5.0 * y - ph)).astype(np.uint8)
    img[..., 2] = (127 + 120 * np.cos(7.0 * (x + y) + 2 * ph)).astype(np.uint8)
    return img


def measure_size(w: int, h: int, *, seconds: float, fps: float = 30.0) -> dict:
    from live.outputs.ndi import NdiSink

    name = f"ll-bench-{w}x{h}-{os.getpid()}"
    sink = NdiSink(name, width=w, height=h)
    frames = int(seconds * fps)
    pics = [_picture(w, h, i) for i in range(30)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "recv.json"
        proc = subprocess.Popen([sys.executable, "-m", "live.testing.ndirecv", "--source", name,
                                 "--frames", str(frames), "--out", str(out),
                                 "--timeout", str(seconds + 30), "--idle-s", "3"])
        try:
            end = time.monotonic() + 15
            while sink.connections() == 0 and time.monotonic() < end:
                time.sleep(0.02)
            if sink.connections() == 0:
                raise RuntimeError("the NDI receiver did not connect within 15 s")
            offer_ms, offered_at = [], {}
            t0 = time.monotonic()
            accepted = 0
            for i in range(frames):
                a = time.perf_counter()
                cap = time.monotonic()
                if sink.offer(pics[i % len(pics)], time_s=cap):
                    offered_at[accepted] = cap
                    accepted += 1
                offer_ms.append((time.perf_counter() - a) * 1e3)
                time.sleep(max(0.0, t0 + (i + 1) / fps - time.monotonic()))
            time.sleep(0.5)
            proc.wait(timeout=seconds + 40)
        finally:
            if proc.poll() is None:
                proc.kill()
            sink.close()
        r = json.loads(out.read_text()) if out.exists() else {"frames": []}
    lat = []
    for f in r.get("frames", []):
        try:
            t = float(f["meta"].split(' t="')[1].split('"')[0])   # capture time, sent in the frame
        except (IndexError, ValueError):
            continue
        lat.append((f["t"] - t) * 1e3)
    st = sink.stats()
    return {
        "send_ms_p50": _pct(sink.send_ms, 50), "send_ms_p99": _pct(sink.send_ms, 99),
        "offer_ms_p50": _pct(offer_ms, 50), "offer_ms_p99": _pct(offer_ms, 99),
        "latency_ms_p50": _pct(lat, 50), "latency_ms_p90": _pct(lat, 90),
        "frames_sent": st.sent, "frames_received": len(r.get("frames", [])),
        "frames_dropped": st.dropped, "fps": fps,
    }


def measure(seconds: float = 10.0) -> dict:
    load_before = _load()
    sizes = {}
    for w, h in ((1280, 720), (1920, 1080)):
        sizes[f"{w}x{h}"] = measure_size(w, h, seconds=seconds)
    top = dict(sizes["1920x1080"])
    return {"bench": "ndi", **top, "size": "1920x1080", "sizes": sizes, "seconds_per_size": seconds,
            "receiver": "separate process, ctypes on the bundled NDI runtime, RGBX, highest bandwidth",
            "load_before": load_before, "load_after": _load()}


def run(args) -> int:
    from live.errors import UserError
    from live.testing import netns

    if not netns.inside():
        why = netns.unavailable_reason()
        if why:
            raise UserError(f"bench ndi runs its sender and receiver in a private network namespace: {why}")
        argv = [sys.executable, "-m", "live", "bench", "ndi", "--seconds", str(args.seconds)]
        if args.json:
            argv.append("--json")
        return netns.run(argv, timeout_s=6 * args.seconds + 180, capture=False).returncode
    try:
        r = measure(seconds=args.seconds)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"bench ndi: sender (the show's sink) and a receiver process in a private network namespace, "
          f"{args.seconds:g} s at 30 fps per size")
    for k, v in r["sizes"].items():
        print(f"  {k:>9}  send p50 {v['send_ms_p50']:.2f} ms p99 {v['send_ms_p99']:.2f} ms (worker)  "
              f"offer p50 {v['offer_ms_p50']:.2f} ms (GL thread)  latency p50 {v['latency_ms_p50']:.1f} ms "
              f"p90 {v['latency_ms_p90']:.1f} ms  frames {v['frames_sent']} sent {v['frames_received']} received")
    print(f"  load {r['load_after']}")
    return 0


def register_bench(sub) -> None:
    p = sub.add_parser("ndi", help="NDI out: send cost, capture-to-receipt latency, frames", description=__doc__)
    p.add_argument("--json", action="store_true")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per size (default 10)")
    p.set_defaults(func=run)
