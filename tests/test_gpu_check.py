"""tools/gpu_check.sh runs its CPU fallback here (no GPU) and prints the figures as JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_cpu_fallback_prints_every_figure():
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    pytest.importorskip("onnxruntime")
    env = dict(os.environ, PYTHON=sys.executable)
    p = subprocess.run(["bash", str(ROOT / "tools" / "gpu_check.sh"), "--smoke"], capture_output=True, text=True,
                       env=env, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads(p.stdout)
    assert doc["smoke"] is True and "CPU fallback" in p.stderr
    cpu = doc["taesd_decode"]["64"]["cpu"]
    assert cpu["p50_ms"] > 0 and cpu["providers"] == ["CPUExecutionProvider"]
    for steps in ("1_step", "2_step", "4_step"):
        assert doc["lcm_smoke"][steps]["unet_p50_ms"] > 0
    # more steps cost more (4 UNet calls against 1)
    assert doc["lcm_smoke"]["4_step"]["unet_p50_ms"] > doc["lcm_smoke"]["1_step"]["unet_p50_ms"]
    loop = doc["whole_loop"]["embedded"]
    assert "error" not in loop, loop
    assert loop["frames"] > 0 and loop["frame_ms_p50"] > 0
