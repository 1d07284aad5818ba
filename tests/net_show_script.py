"""Run inside a private network namespace (tests/test_net_nodes.py): `latent-live run --lead` on a
click track and two `--follow --wall 2x1` tiles as separate processes; prints their results."""
import json
import os
import subprocess
import sys
import time

tmp = sys.argv[1]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from live.testing.sync_videos import click_track, write_wav  # noqa: E402

wav = os.path.join(tmp, "click.wav")
samples, _ = click_track(duration_s=12.0, sample_rate_hz=44100, bpm=120.0)
write_wav(wav, samples, sample_rate_hz=44100)
common = ["--headless", "--size", "64x36", "--osc-port", "0", "--set", "render.fps=30"]
py = [sys.executable, "-m", "live", "run"]
procs = {}
for tile in (0, 1):
    procs[f"tile{tile}"] = subprocess.Popen(
        py + ["--follow", "239.255.76.76:9100", "--wall", "2x1", "--tile", str(tile), "--duration", "12",
              "--json", os.path.join(tmp, f"tile{tile}.json")] + common
        # tile 1 has its own sound input: it takes over when the leader is gone
        + (["--audio", wav, "--no-playback"] if tile == 1 else []),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.0)
procs["lead"] = subprocess.Popen(
    py + ["--lead", "--audio", wav, "--no-playback", "--duration", "3", "--json", os.path.join(tmp, "lead.json"),
          "--set", "controls.fx.zoom=0.7"] + common, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
out = {}
for name, p in procs.items():
    so, se = p.communicate(timeout=90)
    out[name] = {"rc": p.returncode, "stderr": se[-1500:]}
    if p.returncode == 0:
        with open(os.path.join(tmp, f"{name}.json")) as fh:
            out[name]["result"] = json.load(fh)
print(json.dumps(out))
