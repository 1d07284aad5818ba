"""Export a VAE decoder to ONNX once, cache it, and run it in onnxruntime (or torch).

The exported graph takes a latent ``(1, C, h, w)`` (float32, or float16 for a GPU export)
and returns the picture ``(1, H, W, 3)`` uint8: the scale to [-1, 1] -> [0, 255], the
rounding and the channel transpose are part of the graph, so a GPU hands back 4x fewer
bytes and the CPU does no per-pixel work in Python.

Cache layout (``$LATENT_LIVE_CACHE`` or ``~/.cache/latent-live``)::

    onnx/<key>/decoder.onnx
    onnx/<key>/config.json      what it is: model id, weights hash, latent shape, dtype, exporter

``key`` is a hash of (weights hash, model config, latent shape, dtype, torch version, format
version), so new weights, a new size or a new dtype export again and nothing stale is reused.
The file is written to a temp name and renamed, so an interrupted export leaves no
half-written model behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

EXPORT_FORMAT = 1
OPSET = 17
DEFAULT_CACHE = Path("~/.cache/latent-live")


def cache_root() -> Path:
    """``$LATENT_LIVE_CACHE`` or ``~/.cache/latent-live`` (created on demand)."""
    env = os.environ.get("LATENT_LIVE_CACHE", "").strip()
    return Path(env).expanduser() if env else DEFAULT_CACHE.expanduser()


def _sha256_file(path: Path, h) -> None:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)


def weights_hash(files: Iterable[str | Path], *, short: int = 16) -> str:
    """sha256 over the bytes of ``files`` (in the given order, names excluded), hex, ``short`` chars.

    Hashes of big files are remembered in ``<cache>/hashes.json`` keyed by path, size and
    mtime, so a 3 GB UNet is read once, not at every start.
    """
    files = [Path(f) for f in files]
    memo_path = cache_root() / "hashes.json"
    try:
        memo = json.loads(memo_path.read_text())
        if not isinstance(memo, dict):
            memo = {}
    except (OSError, ValueError):
        memo = {}
    h = hashlib.sha256()
    changed = False
    for f in files:
        st = f.stat()
        if st.st_size > (64 << 20):
            tag = f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}"
            digest = memo.get(tag)
            if digest is None:
                fh = hashlib.sha256()
                _sha256_file(f, fh)
                digest = memo[tag] = fh.hexdigest()
                changed = True
            h.update(bytes.fromhex(digest))
        else:
            _sha256_file(f, h)
    if changed:
        try:
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(memo, indent=0))
            os.replace(tmp, memo_path)
        except OSError:
            pass
    return h.hexdigest()[:short]


class DecoderToPixels:
    """Factory of the torch module ``latent (1,C,h,w) -> pixels (1,H,W,3) uint8``.

    ``decode`` is the VAE's decoder call returning [-1, 1] images, ``latent_scale`` the
    factor applied to bank latents first (1 / scaling_factor for AutoencoderKL, 1 for TAESD)
    and ``shift`` the shift_factor added after (0 for SD-family VAEs).
    """

    @staticmethod
    def build(decoder, *, post_quant_conv=None, latent_scale: float = 1.0, shift: float = 0.0):
        import torch

        class _ToPixels(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.decoder = decoder
                self.post_quant_conv = post_quant_conv
                self.latent_scale = float(latent_scale)
                self.shift = float(shift)

            def forward(self, latent):
                z = latent
                if self.latent_scale != 1.0:
                    z = z * self.latent_scale
                if self.shift != 0.0:
                    z = z + self.shift
                if self.post_quant_conv is not None:
                    z = self.post_quant_conv(z)
                x = self.decoder(z)
                x = (x.float().clamp(-1.0, 1.0) + 1.0) * 127.5
                return x.round().to(torch.uint8).permute(0, 2, 3, 1)

        return _ToPixels().eval().requires_grad_(False)


def export_key(*, weights_sha: str, config: dict, latent_shape: Sequence[int], dtype: str) -> str:
    import torch

    blob = json.dumps({"weights": weights_sha, "config": config, "shape": [int(x) for x in latent_shape],
                       "dtype": dtype, "torch": torch.__version__.split("+")[0], "format": EXPORT_FORMAT,
                       "opset": OPSET}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def export_decoder(module, *, latent_shape: Sequence[int], dtype: str, weights_sha: str, config: dict,
                   model_id: str = "", root: Path | None = None) -> tuple[Path, bool]:
    """Export ``module`` (a :meth:`DecoderToPixels.build` result) to ONNX unless cached.

    Returns ``(path to decoder.onnx, exported_now)``. ``dtype`` is "float32" or "float16"
    (the module is cast and traced in that dtype). The legacy TorchScript exporter is used
    (it needs no onnxscript); where it is gone, the dynamo exporter is tried.
    """
    import torch

    key = export_key(weights_sha=weights_sha, config=config, latent_shape=latent_shape, dtype=dtype)
    folder = (root or cache_root()) / "onnx" / key
    path = folder / "decoder.onnx"
    if path.is_file() and (folder / "config.json").is_file():
        return path, False
    folder.mkdir(parents=True, exist_ok=True)
    tdtype = torch.float16 if dtype == "float16" else torch.float32
    if tdtype != torch.float32:
        import copy

        module = copy.deepcopy(module).to(tdtype)  # leave the caller's float32 weights alone
    dummy = torch.zeros((1,) + tuple(int(x) for x in latent_shape), dtype=tdtype)
    tmp = folder / f".decoder.{os.getpid()}.onnx.tmp"
    t0 = time.perf_counter()
    exporter = "torchscript"
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, (dummy,), str(tmp), dynamo=False, input_names=["latent"],
                              output_names=["pixels"], opset_version=OPSET, do_constant_folding=True)
        except Exception as legacy_exc:  # pragma: no cover - torch without the legacy exporter
            exporter = "dynamo"
            try:
                prog = torch.onnx.export(module, (dummy,), dynamo=True, input_names=["latent"],
                                         output_names=["pixels"], opset_version=OPSET, external_data=False)
                prog.save(str(tmp))
            except Exception as exc:
                tmp.unlink(missing_ok=True)
                raise RuntimeError(f"ONNX export failed (torchscript: {legacy_exc}; dynamo: {exc})") from None
    os.replace(tmp, path)
    info = {
        "what": "latent-live VAE decoder: latent (1,C,h,w) -> pixels (1,H,W,3) uint8",
        "model_id": model_id, "weights_sha256": weights_sha, "latent_shape": [int(x) for x in latent_shape],
        "dtype": dtype, "exporter": exporter, "opset": OPSET, "torch": torch.__version__,
        "export_s": round(time.perf_counter() - t0, 2), "config": config, "format": EXPORT_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (folder / "config.json").write_text(json.dumps(info, indent=2, default=str))
    return path, True


def choose_providers(device: str = "auto", *, available: Sequence[str] | None = None,
                     trt_cache: Path | None = None) -> list:
    """onnxruntime providers for ``device`` (auto|cpu|cuda) from what is installed.

    auto/cuda -> TensorRT (fp16, engine cache beside the ONNX file), CUDA, then CPU;
    cpu -> CPU only. ``cuda`` with no GPU provider installed raises RuntimeError.
    """
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    out: list = []
    if device in ("auto", "cuda"):
        if "TensorrtExecutionProvider" in available:
            opts: dict[str, Any] = {"trt_fp16_enable": True}
            if trt_cache is not None:
                opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(trt_cache))
            out.append(("TensorrtExecutionProvider", opts))
        if "CUDAExecutionProvider" in available:
            out.append("CUDAExecutionProvider")
        if device == "cuda" and not out:
            raise RuntimeError("device=cuda but onnxruntime has no CUDA/TensorRT provider; install "
                               "onnxruntime-gpu (and uninstall plain onnxruntime) or use gen.runtime=torch")
    out.append("CPUExecutionProvider")
    return out


def gpu_provider_available() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return bool({"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(ort.get_available_providers()))


# Calibration of the int8 decoder: latents drawn with the mean and spread that TAESD gives real
# photographs (measured over six 256-pixel photos: mean 0.49, std 0.87). Against the float32
# decoder on those photos' latents it keeps PSNR 35.4..42.5 dB (mean 40.4).
INT8_LATENT_MEAN, INT8_LATENT_STD, INT8_CALIBRATION = 0.49, 0.87, 8


def quantize_decoder(path: Path) -> Path:
    """An int8 (QDQ, per-channel weights) copy of an exported float32 decoder, cached beside it."""
    import numpy as np
    from onnxruntime import InferenceSession
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    out = path.with_name(path.stem + ".int8.onnx")
    if out.is_file():
        return out
    sess = InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [int(d) for d in inp.shape]
    rng = np.random.default_rng(0)
    batches = [{inp.name: (rng.standard_normal(shape) * INT8_LATENT_STD + INT8_LATENT_MEAN).astype(np.float32)}
               for _ in range(INT8_CALIBRATION)]

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(batches)

        def get_next(self):
            return next(self.it, None)

    tmp = out.with_name(out.name + ".tmp")
    quantize_static(str(path), str(tmp), _Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    tmp.replace(out)
    return out


class OrtDecoder:
    """An onnxruntime session over an exported decoder. ``__call__(latent) -> (H,W,3) uint8``."""

    def __init__(self, path: Path, *, device: str = "auto", threads: int = 0):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if threads:
            so.intra_op_num_threads = int(threads)
        # no busy-waiting between kernels: on a small CPU shared with the GL and analysis
        # threads a spinning worker steals the time it waits for
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = choose_providers(device, trt_cache=path.parent)
        self.session = ort.InferenceSession(str(path), sess_options=so, providers=providers)
        self.providers = self.session.get_providers()
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.float16 if "float16" in inp.type else np.float32
        self.path = path

    def __call__(self, latent: np.ndarray) -> np.ndarray:
        """``latent`` (1, C, h, w) of the input dtype -> new (H, W, 3) uint8 array."""
        return self.session.run(None, {self.input_name: latent})[0][0]


class TorchDecoder:
    """The same decode in torch (where onnxruntime is missing, or gen.runtime=torch)."""

    def __init__(self, module, *, device: str, dtype: str):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.tdtype = torch.float16 if dtype == "float16" else torch.float32
        self.module = module.to(self.device, self.tdtype)
        self.input_dtype = np.float16 if dtype == "float16" else np.float32
        self.providers = [f"torch:{self.device}"]

    def __call__(self, latent: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(latent).to(self.device, non_blocking=True)
            out = self.module(x)
            return out[0].cpu().numpy()
