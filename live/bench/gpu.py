"""``latent-live bench gpu``: the GPU path's figures in one JSON document (tools/gpu_check.sh).

- TAESD decode ms (p50/p99) at 256/512/768 on every onnxruntime provider set that is
  available of: TensorRT (+CUDA), CUDA, CPU. Real weights from ``--taesd`` when the folder is
  there, else TAESD's configuration with random weights (speed does not depend on them).
- LCM ms per frame at 512 for 1, 2 and 4 steps: a UNet of Stable Diffusion 1.5's configuration
  (random weights, ``time_cond_proj_dim`` 256 as in LCM-distilled SD1.5) in torch, batch 1,
  guidance embedded (one UNet call per step), plus the TAESD decode of the 64x64 latent.
- the whole loop's display frame time with each backend headless (``latent-live bench frame``
  in a child process per backend; lcm only when ``--lcm-model`` names a local model).

``--smoke``: the CPU fallback with tiny sizes (a TAESD decode at 64 px, a tiny UNet, a
two-second embedded loop): the suite runs it so the script keeps working without a GPU.
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

SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280),
                 down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                   "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                 cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32, time_cond_proj_dim=256)
TINY_UNET = dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
                 down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32, attention_head_dim=4,
                 norm_num_groups=8, time_cond_proj_dim=8)
PROVIDER_SETS = {"tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
                 "cuda": ["CUDAExecutionProvider"], "cpu": ["CPUExecutionProvider"]}


def register_bench(sub) -> None:
    p = sub.add_parser("gpu", help="GPU figures as JSON: TAESD decode per provider, LCM steps, whole loop",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--taesd", default=str(Path(__file__).resolve().parents[3] / "shared" / "models" / "taesd"),
                   help="TAESD folder (default ../shared/models/taesd; random weights when missing)")
    p.add_argument("--lcm-model", default="", help="a local LCM/SD1.5 model folder for the whole-loop lcm figure")
    p.add_argument("--frames", type=int, default=30, help="timed runs per figure (default 30)")
    p.add_argument("--loop-seconds", type=float, default=20.0, help="seconds of each whole-loop run (default 20)")
    p.add_argument("--smoke", action="store_true", help="CPU fallback, tiny sizes (the suite's smoke test)")
    p.add_argument("--json", action="store_true", help="(always JSON; kept for symmetry with the other benches)")
    p.set_defaults(func=run)


def _stats(ts) -> dict:
    ms = 1000.0 * np.asarray(ts, dtype=np.float64)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "n": int(ms.size)}


def _taesd_folder(path: str, tmp: Path) -> tuple[str, bool]:
    if Path(path).is_dir():
        return path, True
    from diffusers import AutoencoderTiny

    folder = tmp / "taesd-random"
    AutoencoderTiny().save_pretrained(folder)        # TAESD's configuration, random weights
    return str(folder), False


def taesd_decode(folder: str, sizes, *, frames: int, providers: dict) -> dict:
    import onnxruntime as ort

    from live.gen import onnx_export as ox
    from live.gen.vae import load_vae

    vm = load_vae(folder)
    out = {}
    available = set(ort.get_available_providers())
    for size in sizes:
        shape = vm.latent_shape(size)
        row = {}
        for name, plist in providers.items():
            if not set(plist) <= available:
                row[name] = {"skipped": f"{plist[0]} not available"}
                continue
            dtype = "float32" if name == "cpu" else "float16"
            try:
                path, _ = ox.export_decoder(vm.pixels_module(), latent_shape=shape, dtype=dtype,
                                            weights_sha=vm.model_hash, config=vm.config, model_id=vm.model_id)
                so = ort.SessionOptions()
                so.log_severity_level = 3
                sess = ort.InferenceSession(str(path), sess_options=so, providers=plist)
                inp = sess.get_inputs()[0]
                x = np.random.default_rng(0).standard_normal((1,) + tuple(shape)).astype(
                    np.float16 if "float16" in inp.type else np.float32)
                for _ in range(3):
                    sess.run(None, {inp.name: x})
                ts = []
                for _ in range(frames):
                    t0 = time.perf_counter()
                    sess.run(None, {inp.name: x})
                    ts.append(time.perf_counter() - t0)
                row[name] = {**_stats(ts), "providers": sess.get_providers(), "dtype": dtype}
            except Exception as exc:  # noqa: BLE001 - one provider failing is a figure, not a crash
                row[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        out[str(size)] = row
    return out


def lcm_steps(*, smoke: bool, frames: int, decode_ms: float) -> dict:
    import torch
    from diffusers import UNet2DConditionModel

    cuda = torch.cuda.is_available() and not smoke
    if not cuda:
        torch.set_num_threads(1)          # a tiny model: worker threads only fight on a shared CPU
    device = "cuda" if cuda else "cpu"
    dtype = torch.float16 if cuda else torch.float32
    cfg = TINY_UNET if smoke else SD15_UNET
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**cfg).to(device, dtype).eval()
    side = cfg["sample_size"]
    x = torch.randn(1, 4, side, side, device=device, dtype=dtype)
    text = torch.randn(1, 77, cfg["cross_attention_dim"], device=device, dtype=dtype)
    w = torch.randn(1, cfg["time_cond_proj_dim"], device=device, dtype=dtype)
    out = {"device": device, "dtype": str(dtype).replace("torch.", ""), "latent": [4, side, side],
           "unet_params_M": round(sum(p.numel() for p in unet.parameters()) / 1e6, 1),
           "config": "tiny (smoke)" if smoke else "stable-diffusion-1.5 UNet (random weights)"}
    with torch.inference_mode():
        for steps in (1, 2, 4):
            ts = []
            for k in range(frames + 2):
                if cuda:
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                lat = x
                for s in range(steps):
                    lat = unet(lat, torch.tensor([999 - 250 * s], device=device), encoder_hidden_states=text,
                               timestep_cond=w).sample
                if cuda:
                    torch.cuda.synchronize()
                if k >= 2:
                    ts.append(time.perf_counter() - t0)
            st = _stats(ts)
            out[f"{steps}_step"] = {"unet_p50_ms": st["p50_ms"], "unet_p99_ms": st["p99_ms"],
                                    "frame_ms_with_decode": round(st["p50_ms"] + decode_ms, 3)}
    return out


def whole_loop(backends: dict, *, seconds: float, size: str, audio: str) -> dict:
    out = {"audio": audio}
    for name, sets in backends.items():
        cmd = [sys.executable, "-m", "live", "bench", "frame", "--seconds", f"{seconds:g}", "--size", size,
               "--audio", audio, "--json"] + [a for s in sets for a in ("--set", s)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 6 + 120)
            if p.returncode != 0:
                out[name] = {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:300]}
                continue
            doc = json.loads(p.stdout[p.stdout.index("{"):])
            out[name] = {k: doc[k] for k in doc if any(w in k for w in ("frame", "gen", "late", "p50", "p99", "fps"))}
        except (subprocess.TimeoutExpired, ValueError) as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return out


def run(args) -> int:
    result = {"smoke": bool(args.smoke), "load_1min": round(os.getloadavg()[0], 2)}
    try:
        import onnxruntime as ort

        result["onnxruntime"] = ort.__version__
        result["ort_providers"] = ort.get_available_providers()
    except ImportError:
        result["onnxruntime"] = None
    try:
        import torch

        result["torch"] = torch.__version__
        result["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        result["torch"] = None
    frames = 3 if args.smoke else int(args.frames)
    with tempfile.TemporaryDirectory(prefix="latent-live-gpu-") as tmp:
        folder, real = _taesd_folder(args.taesd, Path(tmp))
        result["taesd_weights"] = "real" if real else "random (TAESD configuration)"
        providers = {"cpu": PROVIDER_SETS["cpu"]} if args.smoke else PROVIDER_SETS
        sizes = (64,) if args.smoke else (256, 512, 768)
        result["taesd_decode"] = taesd_decode(folder, sizes, frames=frames, providers=providers)
        dec = result["taesd_decode"].get("64" if args.smoke else "512", {})
        best = min((v["p50_ms"] for v in dec.values() if "p50_ms" in v), default=0.0)
        result["lcm_512" if not args.smoke else "lcm_smoke"] = lcm_steps(smoke=args.smoke, frames=frames,
                                                                          decode_ms=best)
        backends = {"embedded": []}
        if not args.smoke:
            backends["vae"] = ["gen.backend=vae", f"gen.model={folder}", "gen.banks=[]"]
            if args.lcm_model:
                backends["lcm"] = ["gen.backend=lcm", f"gen.model={args.lcm_model}"]
        from live.data import find_data

        audio = find_data("demo/demo_beat.wav")
        if args.smoke or not Path(audio).is_file():
            from live.testing.sync_videos import click_track, write_wav

            audio = Path(tmp) / "click.wav"
            write_wav(audio, click_track(duration_s=8.0)[0], sample_rate_hz=44100)
        result["whole_loop"] = whole_loop(backends, seconds=2.0 if args.smoke else float(args.loop_seconds),
                                          size="160x90" if args.smoke else "1280x720", audio=str(audio))
    print(json.dumps(result, indent=2))
    return 0
