#!/usr/bin/env python3
"""Train the causal beat/downbeat activation network of latent-live and export it for numpy.

    nice -n 10 python tools/train_beat_model.py --data .cache/beat_train --out live/features/models/beat_tcn \\
        --minutes 40 --threads 2

Data: the folder written by ``tools/make_beat_train_set.py`` (one ``.npz`` per piece: the analyzer's
log-mel spectrum per hop, beat and downbeat times). Input per hop: the 40 log-mel bands and their
positive first difference (80 values), standardised with the training set's mean and std.

Network (causal; what runs live, hop by hop, in :mod:`live.features.neural`): a temporal
convolutional network, ``1x1 conv(80 -> C) -> tanh``, then L residual blocks
``h += ELU(causal conv(C -> C, kernel K, dilation 2**i))`` (i = 0..L-1; receptive field
``1 + (K-1)(2**L - 1)`` hops, 2047 hops = 24 s by default), then ``1x1 conv(C -> 2) -> sigmoid``:
a beat and a downbeat activation per hop. A TCN rather than a GRU because it trains several
times faster on a CPU (every hop of a batch at once) and costs the same per hop live. Targets: 1 on the hop that contains the beat, 0.5 on the next hop (the sound
is still arriving there; madmom and "Beat This!" widen targets the same way); downbeats alike.
Loss: binary cross-entropy. Adam, one-cycle learning rate, random 12 s excerpts, 5 % of the pieces
held out for the validation loss. Training stops after ``--minutes`` of wall time (or --epochs) and
keeps the weights with the best validation loss.

Export: ``weights.safetensors`` (float32, numpy-loadable, no pickle) and ``config.json`` in --out.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

HOP_S = 512 / 44100.0
FEATURE_VERSION = 1


def load_set(data: Path, *, limit: int = 0):
    files = sorted(data.glob("t*.npz"))
    if limit:
        files = files[:limit]
    if not files:
        raise SystemExit(f"error: no t*.npz in {data}: make them with tools/make_beat_train_set.py --out {data}")
    seqs = []
    for f in files:
        d = np.load(f, allow_pickle=False)
        mel = d["mel"].astype(np.float32)
        n = mel.shape[0]
        diff = np.diff(mel, axis=0, prepend=mel[:1])
        np.maximum(diff, 0.0, out=diff)
        x = np.concatenate([mel, diff], axis=1)
        y = np.zeros((n, 2), dtype=np.float32)
        for k, key in enumerate(("beats", "downbeats")):
            idx = np.floor(np.asarray(d[key]) / HOP_S).astype(int)
            idx = idx[(idx >= 0) & (idx < n)]
            nxt = idx + 1
            nxt = nxt[nxt < n]
            y[nxt, k] = np.maximum(y[nxt, k], 0.5)
            y[idx, k] = 1.0
        seqs.append((x, y))
    return files, seqs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--data", default=".cache/beat_train")
    ap.add_argument("--out", default="live/features/models/beat_tcn")
    ap.add_argument("--channels", type=int, default=40)
    ap.add_argument("--layers", type=int, default=10, help="dilations 1, 2, 4, ... 2**(layers-1)")
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--seq-s", type=float, default=30.0)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N pieces")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    import torch
    from torch import nn
    torch.set_num_threads(max(1, a.threads))
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    t_load = time.perf_counter()
    files, seqs = load_set(Path(a.data), limit=a.limit)
    n_val = max(1, len(seqs) // 20)
    order = rng.permutation(len(seqs))
    val_i, tr_i = order[:n_val], order[n_val:]
    allx = np.concatenate([seqs[i][0] for i in tr_i])
    mean = allx.mean(0).astype(np.float32)
    std = (allx.std(0) + 1e-3).astype(np.float32)
    del allx
    n_frames = sum(seqs[i][0].shape[0] for i in tr_i)
    print(f"{len(tr_i)} training pieces ({n_frames * HOP_S / 3600:.2f} h), {n_val} validation; "
          f"loaded in {time.perf_counter() - t_load:.0f} s", flush=True)

    H, L, K = a.channels, a.layers, a.kernel
    n_in = seqs[0][0].shape[1]

    class Net(nn.Module):
        """Causal TCN: 1x1 input layer, L residual dilated causal convolutions, 1x1 output."""

        def __init__(self):
            super().__init__()
            self.inp = nn.Conv1d(n_in, H, 1)
            self.convs = nn.ModuleList([nn.Conv1d(H, H, K, dilation=2 ** i) for i in range(L)])
            self.drop = nn.Dropout(a.dropout)
            self.out = nn.Conv1d(H, 2, 1)

        def forward(self, x):                     # x: (batch, time, features)
            h = torch.tanh(self.inp(x.transpose(1, 2)))
            for i, conv in enumerate(self.convs):
                pad = (K - 1) * 2 ** i
                h = h + self.drop(nn.functional.elu(conv(nn.functional.pad(h, (pad, 0)))))
            return self.out(h).transpose(1, 2)

    net = Net()
    n_params = sum(p.numel() for p in net.parameters())
    T = int(round(a.seq_s / HOP_S))
    mean_t, std_t = torch.from_numpy(mean), torch.from_numpy(std)

    def batch(idx_pool, bs):
        xs, ys = [], []
        for _ in range(bs):
            x, y = seqs[int(rng.choice(idx_pool))]
            if x.shape[0] > T:
                s = int(rng.integers(0, x.shape[0] - T))
                x, y = x[s:s + T], y[s:s + T]
            elif x.shape[0] < T:
                pad = T - x.shape[0]
                x = np.pad(x, ((0, pad), (0, 0)))
                y = np.pad(y, ((0, pad), (0, 0)))
            xs.append(x)
            ys.append(y)
        X = (torch.from_numpy(np.stack(xs)) - mean_t) / std_t
        return X, torch.from_numpy(np.stack(ys))

    # fixed validation: every validation piece whole
    def val_loss():
        net.eval()
        tot, cnt = 0.0, 0
        with torch.no_grad():
            for i in val_i:
                x, y = seqs[i]
                X = (torch.from_numpy(x)[None] - mean_t) / std_t
                out = net(X)
                tot += float(nn.functional.binary_cross_entropy_with_logits(out, torch.from_numpy(y)[None],
                                                                          reduction="sum"))
                cnt += x.shape[0]
        net.train()
        return tot / cnt

    def export(best_state, val, best_epoch, epochs_done, steps_done, train_s):
        net_cpu = Net()
        net_cpu.load_state_dict(best_state)
        # ---- export: plain float32 arrays
        from safetensors.numpy import save_file
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        sd = {k: v.numpy().astype(np.float32) for k, v in net_cpu.state_dict().items()}
        tensors = {"in_mean": mean, "in_std": std, "inp.weight": sd["inp.weight"][:, :, 0], "inp.bias": sd["inp.bias"],
                   "out.weight": sd["out.weight"][:, :, 0], "out.bias": sd["out.bias"]}
        for layer in range(L):
            # (out, in, k) -> (k, out, in): tap j multiplies the input 2**layer * (K - 1 - j) hops back
            tensors[f"conv.{layer}.weight"] = np.ascontiguousarray(sd[f"convs.{layer}.weight"].transpose(2, 0, 1))
            tensors[f"conv.{layer}.bias"] = sd[f"convs.{layer}.bias"]
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(out / "weights.safetensors"))
        cfg = dict(kind="tcn", feature_version=FEATURE_VERSION, n_mel=40, inputs="log-mel (40) + positive diff (40)",
                   sample_rate_hz=44100, hop_size=512, channels=H, layers=L, kernel=K, outputs=["beat", "downbeat"],
                   receptive_field_hops=1 + (K - 1) * (2 ** L - 1),
                   parameters=int(n_params), train_pieces=int(len(tr_i)), train_hours=round(n_frames * HOP_S / 3600, 3),
                   val_loss=round(val, 5), best_epoch=best_epoch, epochs=epochs_done, steps=steps_done,
                   train_minutes=round(train_s / 60, 1), threads=a.threads,
                   command="python tools/train_beat_model.py " + " ".join(argv if argv is not None else sys.argv[1:]))
        (out / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
        return out

    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    steps_per_epoch = max(1, min(40, n_frames // (T * a.batch)))     # an "epoch" = at most 40 steps (checkpoints)
    budget_s = a.minutes * 60.0
    # time-based cosine schedule with a short warm-up
    t0 = time.perf_counter()
    best = (math.inf, None, 0)
    step = 0
    pos_w = torch.tensor([1.0, 1.0])
    for epoch in range(a.epochs):
        el = 0.0
        for _ in range(steps_per_epoch):
            frac = (time.perf_counter() - t0) / budget_s
            if frac >= 1.0:
                break
            lr = a.lr * min(1.0, (step + 1) / 20.0) * (0.5 * (1 + math.cos(math.pi * min(frac, 1.0))) * 0.97 + 0.03)
            for g in opt.param_groups:
                g["lr"] = lr
            X, Y = batch(tr_i, a.batch)
            out = net(X)
            loss = nn.functional.binary_cross_entropy_with_logits(out, Y, pos_weight=pos_w)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            el += float(loss)
            step += 1
        vl = val_loss()
        elapsed = time.perf_counter() - t0
        print(f"epoch {epoch + 1} step {step}: train {el / max(1, steps_per_epoch):.4f} val {vl:.4f} "
              f"lr {lr:.2e} {elapsed / 60:.1f} min", flush=True)
        if vl < best[0]:
            best = (vl, {k: v.detach().clone() for k, v in net.state_dict().items()}, epoch + 1)
            export(best[1], vl, epoch + 1, epoch + 1, step, elapsed)      # usable while training goes on
        if elapsed >= budget_s:
            break
    train_s = time.perf_counter() - t0
    out = export(best[1], best[0], best[2], epoch + 1, step, train_s)

    print(f"wrote {out}: {n_params} parameters, val loss {best[0]:.4f} (epoch {best[2]}), {train_s / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
