#!/usr/bin/env python3
"""Tune the neural tracker's forward-filter settings on the training set's validation pieces.

    python tools/tune_beat_filter.py --data .cache/beat_train [--model live/features/models/beat_tcn]

The validation pieces are the 5 % that tools/train_beat_model.py held out (same seed, same split),
so neither the network nor the choice made here ever sees the evaluation sets. Each setting of the
tracking stage runs the whole neural tracker over each piece's stored log-mel frames and is scored
with mir_eval (beat F, downbeat F; first 5 s not scored).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    import mir_eval

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".cache/beat_train")
    ap.add_argument("--model", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    files = sorted(Path(a.data).glob("t*.npz"))
    order = np.random.default_rng(a.seed).permutation(len(files))
    val = [files[i] for i in order[:max(1, len(files) // 20)]]
    import dataclasses

    from live.config import FeaturesConfig
    from live.features.neural import NeuralBeatTracker
    fps = 44100 / 512
    pieces = [np.load(f) for f in val]
    tr = lambda x: mir_eval.beat.trim_beats(np.asarray(x, float), min_beat_time=5.0)
    settings = [("filter", {}), ("filter", {"off_weight": 6.0}), ("flywheel", {})]
    for stage, kw in settings:
        fs, dfs = [], []
        for d in pieces:
            cfg = dataclasses.replace(FeaturesConfig(), tracker="neural", beat_stage=stage,
                                      beat_model=a.model or "")
            bt = NeuralBeatTracker(frames_per_s=fps, n_mel=40, n_low=4, config=cfg)
            if "off_weight" in kw:
                bt.filter._off_w = kw["off_weight"]
            est, est_d = [], []
            count = 0
            for n, m in enumerate(d["mel"].astype(np.float32)):
                bt.process(m, audible=True, t=(n + 1) / fps)
                if bt.beat_count != count:
                    count = bt.beat_count
                    est.append(bt.last_beat_t)
                    if bt.beat_in_bar == 1:
                        est_d.append(bt.last_beat_t)
            fs.append(mir_eval.beat.f_measure(tr(d["beats"]), tr(est)))
            dfs.append(mir_eval.beat.f_measure(tr(d["downbeats"]), tr(est_d)))
        print(f"{stage:8s} {kw}: F {np.mean(fs):.3f} downbeat F {np.mean(dfs):.3f} ({len(pieces)} pieces)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
