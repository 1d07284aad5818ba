"""Backend ``vae``: decode slerped bank latents straight to pictures with a VAE decoder.

Models (``--model`` / ``gen.model``), all local, never downloaded:

* a diffusers folder of an ``AutoencoderTiny`` (TAESD-style) or ``AutoencoderKL``
  (``config.json`` + ``diffusion_pytorch_model.safetensors``), or a pipeline folder with a
  ``vae/`` subfolder;
* bare TAESD files as ComfyUI keeps them: ``models/vae_approx/`` or a
  ``taesd_decoder.safetensors`` / ``.pth`` file (the encoder beside it is used to build banks).

``load()`` exports the decoder to ONNX once (cached, see :mod:`live.gen.onnx_export`) and
opens it in onnxruntime (TensorRT / CUDA providers with fp16 when onnxruntime-gpu is
installed, CPU otherwise). Without onnxruntime, or with option ``runtime="torch"``
(``--set gen.runtime=torch``), the same graph runs in torch. ``render()`` only slerps into a
preallocated buffer, adds the onset pulse and decodes.

Latent convention (banks): ``latent = (vae_mean - shift_factor) * scaling_factor`` - the
"diffusion space" latent; the decoder applies ``latent / scaling_factor + shift_factor``.
TAESD latents are already in that space (scaling factor 1.0).
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from live.gen.base import BankSpec, GenError, Generator
from live.types import Frame, GenControl

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnx", "torch")


def _offline() -> None:
    """Make sure nothing in diffusers/transformers reaches for the hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("DIFFUSERS_OFFLINE", "1")


@dataclass
class VaeModel:
    """A loaded VAE (float32, CPU, eval) and what banks need to know about it.

    ``downscale``: pixels per latent cell (8 for SD VAEs and TAESD).
    """

    model: Any
    kind: str                    # "tiny" | "kl"
    model_id: str
    model_hash: str
    scaling_factor: float
    shift_factor: float
    latent_channels: int
    downscale: int
    has_encoder: bool
    config: dict = field(default_factory=dict)
    source: str = ""

    def latent_shape(self, size: int) -> tuple[int, int, int]:
        if size % self.downscale:
            raise GenError(f"size {size} is not a multiple of {self.downscale} (the VAE's downscale factor); "
                           f"use e.g. --size {max(self.downscale, size // self.downscale * self.downscale)}")
        return (self.latent_channels, size // self.downscale, size // self.downscale)

    def pixels_module(self):
        """torch module: bank latent (1,C,h,w) -> pixels (1,H,W,3) uint8."""
        from live.gen.onnx_export import DecoderToPixels

        m = self.model
        if self.kind == "tiny":
            return DecoderToPixels.build(m.decoder, latent_scale=1.0 / self.scaling_factor, shift=self.shift_factor)
        pqc = m.post_quant_conv if getattr(m.config, "use_post_quant_conv", True) else None
        return DecoderToPixels.build(m.decoder, post_quant_conv=pqc, latent_scale=1.0 / self.scaling_factor,
                                     shift=self.shift_factor)

    def encode(self, images):
        """images: torch (N, 3, H, W) in [-1, 1] -> bank latents (N, C, H/ds, W/ds), torch float32."""
        import torch

        if not self.has_encoder:
            raise GenError(f"{self.source}: this VAE has no encoder weights (for bare TAESD put "
                           "taesd_encoder.safetensors beside the decoder)")
        with torch.inference_mode():
            x = images.to(next(self.model.parameters()).dtype)
            if self.kind == "tiny":
                z = self.model.encode(x).latents
            else:
                z = self.model.encode(x).latent_dist.mean
            return ((z.float() - self.shift_factor) * self.scaling_factor)

    def decode_float(self, latents):
        """bank latents torch (N,C,h,w) -> images torch float32 (N,3,H,W) in [-1, 1]."""
        import torch

        with torch.inference_mode():
            z = latents.to(next(self.model.parameters()).dtype) / self.scaling_factor + self.shift_factor
            return self.model.decode(z).sample.float().clamp(-1, 1)


def _safetensor_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix == ".safetensors")


def load_vae(path: str | os.PathLike, *, what: str = "VAE") -> VaeModel:
    """Load a VAE from a diffusers folder (AutoencoderTiny/KL, or a pipeline's ``vae/``) or bare TAESD.

    Raises :class:`GenError` with one line naming the path and what to do.
    """
    _offline()
    from live.gen import taesd
    from live.gen.onnx_export import weights_hash

    p = Path(str(path)).expanduser()
    if not str(path):
        raise GenError(f"no {what} model given: pass --model DIR (a diffusers VAE folder or ComfyUI's "
                       "models/vae_approx folder)")
    if not p.exists():
        raise GenError(f"{what} model not found: {p}")
    folder = p
    if p.is_dir() and (p / "model_index.json").is_file() and (p / "vae" / "config.json").is_file():
        folder = p / "vae"
    cfg_path = folder / "config.json"
    if folder.is_dir() and cfg_path.is_file():
        try:
            cfg = json.loads(cfg_path.read_text())
        except (OSError, ValueError) as exc:
            raise GenError(f"{cfg_path}: not valid JSON ({exc})") from None
        cls_name = cfg.get("_class_name", "")
        if cls_name not in ("AutoencoderTiny", "AutoencoderKL"):
            raise GenError(f"{folder}: config.json describes {cls_name or 'no _class_name'}, "
                           "expected AutoencoderTiny or AutoencoderKL")
        files = _safetensor_files(folder)
        if not files:
            raise GenError(f"{folder}: no .safetensors weights (pickled .bin weights are not loaded; "
                           "convert them to safetensors)")
        import diffusers

        cls = getattr(diffusers, cls_name)
        try:
            model = cls.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
        except Exception as exc:
            raise GenError(f"{folder}: cannot load {cls_name} ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200]})") from None
        model.eval().requires_grad_(False)
        if next(model.parameters()).dtype != _f32():
            model.to(_f32())
        conf = dict(model.config)
        kind = "tiny" if cls_name == "AutoencoderTiny" else "kl"
        if kind == "tiny":
            downscale = 2 ** (len(conf["decoder_block_out_channels"]) - 1)
        else:
            downscale = 2 ** (len(conf["block_out_channels"]) - 1)
        sf = conf.get("scaling_factor")
        shift = conf.get("shift_factor")
        return VaeModel(model=model, kind=kind, model_id=p.name, model_hash=weights_hash(files),
                        scaling_factor=float(1.0 if sf is None else sf),
                        shift_factor=float(0.0 if shift is None else shift),
                        latent_channels=int(conf["latent_channels"]), downscale=downscale, has_encoder=True,
                        config=_jsonable(conf), source=str(p))
    # bare TAESD weights (a file or a vae_approx folder)
    try:
        dec, enc = taesd.find_taesd_files(p)
        model, has_enc = taesd.load_autoencoder_tiny(dec, enc)
    except taesd.TaesdError as exc:
        raise GenError(str(exc)) from None
    conf = dict(model.config)
    name = dec.stem[: -len("_decoder")] if dec.stem.endswith("_decoder") else dec.stem
    return VaeModel(model=model, kind="tiny", model_id=name, model_hash=weights_hash([dec]), scaling_factor=1.0,
                    shift_factor=0.0, latent_channels=int(conf["latent_channels"]),
                    downscale=2 ** (len(conf["decoder_block_out_channels"]) - 1), has_encoder=has_enc,
                    config=_jsonable(conf), source=str(dec))


def _f32():
    import torch

    return torch.float32


def _jsonable(conf: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in conf.items()
            if not k.startswith("_") and isinstance(v, (int, float, str, bool, list, tuple, type(None)))}


def resolve_device(device: str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise GenError(f"device must be auto, cpu or cuda, got {device!r}")
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


class VaeGenerator(Generator):
    """VAE-only generator. Options: ``runtime`` auto|onnx|torch, ``threads`` (onnxruntime CPU threads).

    ``dtype`` auto = float16 on a GPU, float32 on the CPU.
    """

    name = "vae"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = str(self.options.pop("runtime", "auto") or "auto")
        if self.runtime not in RUNTIMES:
            raise GenError(f"gen.runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        self.threads = int(self.options.pop("threads", 0) or 0)
        self.vae: VaeModel | None = None
        self.providers: list[str] = []
        self.onnx_path: Path | None = None
        self.exported_now = False
        self._decoder = None

    # -- life cycle -------------------------------------------------------------------
    def load(self) -> None:
        from live.gen import onnx_export as ox

        vm = load_vae(self.model)
        shape = vm.latent_shape(self.size)
        runtime = self.runtime
        if runtime == "auto":
            try:
                import onnxruntime  # noqa: F401

                runtime = "onnx"
            except ImportError:
                runtime = "torch"
        if runtime == "onnx":
            gpu = self.device.startswith("cuda") or (self.device == "auto" and ox.gpu_provider_available())
            dtype = self.dtype if self.dtype != "auto" else ("float16" if gpu else "float32")
            try:
                self.onnx_path, self.exported_now = ox.export_decoder(
                    vm.pixels_module(), latent_shape=shape, dtype="float32" if dtype == "int8" else dtype,
                    weights_sha=vm.model_hash, config=vm.config, model_id=vm.model_id)
                if dtype == "int8":            # CPU: int8 QDQ copy (PSNR vs float32 in BENCHMARKS.md)
                    self.onnx_path = ox.quantize_decoder(self.onnx_path)
                self._decoder = ox.OrtDecoder(self.onnx_path, device="cuda" if self.device.startswith("cuda")
                                              else ("cpu" if self.device == "cpu" else "auto"),
                                              threads=self.threads)
            except ImportError:
                raise GenError("gen.runtime=onnx but onnxruntime is not installed: pip install onnxruntime "
                               "(or onnxruntime-gpu), or use --set gen.runtime=torch") from None
            except RuntimeError as exc:
                raise GenError(f"vae: {exc}") from None
        else:
            device = resolve_device(self.device)
            dtype = self.dtype if self.dtype != "auto" else ("float16" if device.startswith("cuda") else "float32")
            if dtype == "int8":
                raise GenError("gen.dtype=int8 needs the onnx runtime (pip install onnxruntime); "
                               "use float32 or float16 with gen.runtime=torch")
            self._decoder = ox.TorchDecoder(vm.pixels_module(), device=device, dtype=dtype)
        self.runtime_used = runtime
        self.dtype_used = dtype
        self.providers = list(self._decoder.providers)
        self.vae = vm
        self._latent = np.zeros(shape, dtype=np.float32)
        if self._decoder.input_dtype == np.float32:
            self._input = self._latent.reshape((1,) + shape)         # a view: no copy per frame
        else:
            self._input = np.zeros((1,) + shape, dtype=self._decoder.input_dtype)
        for _ in range(2):  # warm-up (first runs allocate arenas / build engines)
            self._decoder(self._input)
        if runtime == "onnx":
            vm.model = None if not vm.has_encoder else vm.model  # keep the encoder for bank building only
        self.loaded = True
        log.info("vae: %s (%s) %s via %s on %s", vm.model_id, vm.model_hash, shape, runtime, self.providers)

    def bank_spec(self) -> BankSpec:
        if self.vae is None:
            raise GenError("vae: load() the generator before asking for its bank spec")
        return BankSpec(backend="vae", model_hash=self.vae.model_hash, latent_shape=self._latent.shape,
                        model_id=self.vae.model_id)

    def prepare_bank(self, bank) -> Any:
        from live.gen.bank import BankMismatchError

        if abs(float(bank.scaling_factor) - self.vae.scaling_factor) > 1e-6:
            raise BankMismatchError(
                f"bank '{bank.name}' has scaling factor {bank.scaling_factor:g}; this VAE "
                f"({self.vae.model_id}) uses {self.vae.scaling_factor:g}: rebuild the bank with this model")
        return None

    def render(self, ctl: GenControl) -> Frame:
        t0 = time.perf_counter()
        active = self.active_bank()
        self.latent_into(ctl, self._latent, active=active)
        if self._input.dtype != np.float32:
            np.copyto(self._input[0], self._latent, casting="unsafe")
        pixels = self._decoder(self._input)
        pixels.flags.writeable = False
        self.frame_index += 1
        return Frame(pixels=pixels, control=ctl, gen_ms=(time.perf_counter() - t0) * 1000.0,
                     index=self.frame_index)

    def decode_latent(self, latent: np.ndarray) -> np.ndarray:
        """Decode one bank latent (C,h,w) to (size,size,3) uint8 (previews, tests)."""
        buf = np.ascontiguousarray(latent, dtype=self._decoder.input_dtype).reshape((1,) + self._latent.shape)
        return self._decoder(buf)

    def close(self) -> None:
        self._decoder = None
        self.vae = None
        super().close()
