"""Run inside a private network namespace (tests/test_offline_cluster.py): the same tiny music
video rendered by one process and by a local Dask cluster of two workers (one of them killed
mid-segment in the second run); prints per-frame differences as JSON."""
import json
import os
import signal
import sys
import threading
import time

import numpy as np


def decode(path):
    import av

    with av.open(str(path)) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    with av.open(str(path)) as c:
        kinds = sorted(s.type for s in c.streams)
    return frames, kinds


def main(tmp, kill):
    from distributed import Client

    from live.config import load_config
    from live.offline.cluster import local_cluster, render_cluster
    from live.offline.render import render_file
    from live.testing.sync_videos import click_track, write_wav

    sets = ["render.width=96", "render.height=64", "gen.size=32", "motion.energy_speed=0"]
    fps = 12
    wav = os.path.join(tmp, "click.wav")
    samples, _ = click_track(duration_s=9.0, sample_rate_hz=44100, bpm=120.0)
    write_wav(wav, samples, sample_rate_hz=44100)
    cfg = load_config(None, sets)
    out = {}
    t0 = time.perf_counter()
    single = os.path.join(tmp, "single.mp4")
    render_file(wav, single, cfg=cfg, fps=fps, progress=False, preroll_s=1.0)
    out["single_s"] = time.perf_counter() - t0
    a, _ = decode(single)
    cluster = local_cluster(2)
    client = Client(cluster)
    try:
        pids = client.run(os.getpid)
        out["pids"] = sorted(pids.values())
        killed = {}
        seg_s = out["single_s"] / 3

        done = threading.Event()

        def killer():
            # kill the first worker seen rendering a segment, a moment after it took it on (the
            # segments are short on an idle machine: waiting longer can miss them all)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not done.is_set():
                busy = {w: ks for w, ks in client.processing().items() if ks and w in pids}
                if busy:
                    w = sorted(busy)[0]
                    time.sleep(min(max(seg_s * 0.25, 0.05), 0.2))
                    ks = client.processing().get(w)
                    if ks and not done.is_set():
                        killed["key"] = list(ks)[0]
                        killed["pid"] = pids[w]
                        os.kill(pids[w], signal.SIGKILL)
                        return
                time.sleep(0.02)

        runs = [("cluster", False)] + ([("killed", True)] if kill else [])
        for name, do_kill in runs:
            th = threading.Thread(target=killer) if do_kill else None
            if th:
                th.start()
            path = os.path.join(tmp, f"{name}.mp4")
            t0 = time.perf_counter()
            rep = render_cluster(wav, path, cfg=cfg, fps=fps, client=client, segments=3, progress=False,
                                 preroll_s=1.0)
            out[f"{name}_s"] = time.perf_counter() - t0
            if th:
                done.set()
                th.join()
                out["killed"] = killed
            b, kinds = decode(path)
            out[f"{name}_kinds"] = kinds
            out[f"{name}_frames"] = int(b.shape[0])
            out[f"{name}_seams"] = [s["first"] for s in rep.segments[1:]]
            out[f"{name}_hosts_pids"] = len(rep.segments)
            if b.shape == a.shape:
                d = np.abs(a.astype(np.int16) - b.astype(np.int16))
                out[f"{name}_mean_diff"] = [round(float(x), 3) for x in d.reshape(d.shape[0], -1).mean(axis=1)]
                out[f"{name}_max_diff"] = [int(x) for x in d.reshape(d.shape[0], -1).max(axis=1)]
        out["single_frames"] = int(a.shape[0])
        out["pids_after"] = sorted(client.run(os.getpid).values())
    finally:
        client.close()
        cluster.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == "kill")
