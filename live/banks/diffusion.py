"""Bank-building entry sources for the ``vae`` and ``lcm`` backends (used by live.banks.builder).

* ``--backend vae --model DIR --images FOLDER``: every image in FOLDER (sorted) is
  centre-cropped to a square, resized to ``--size`` and encoded with the VAE's encoder
  (AutoencoderTiny encoder, or AutoencoderKL ``latent_dist.mean``), stored as
  ``(mean - shift_factor) * scaling_factor``, exactly what the ``vae`` generator decodes.
  Files that are not readable images are skipped with a warning; label = the file name.
* ``--backend lcm --model DIR --prompts prompts.txt --per-prompt 4 [--seeds 0-..]``: per
  prompt and seed, the starting noise (seeded), the prompt embedding (text encoder run here,
  never live) and the clean latent from the LCM sampler (``--steps``, default 4).

All heavy work happens in ``make``; ``keys()`` is cheap and stable, so an interrupted build resumes.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from live.gen.base import GenError
from live.banks.builder import BankEntry, BuildError, SkipEntry

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def load_square_image(path: str | Path, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to ``size``: (size, size, 3) uint8. SkipEntry if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            e = min(w, h)
            left, top = (w - e) // 2, (h - e) // 2
            im = im.crop((left, top, left + e, top + e)).resize((size, size), Image.LANCZOS)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise SkipEntry(f"{path}: not a readable image ({type(exc).__name__})") from None


def to_tensor(rgb: np.ndarray):
    """(H, W, 3) uint8 -> torch (1, 3, H, W) float32 in [-1, 1]."""
    import torch

    return torch.from_numpy(np.array(rgb, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)


def to_pixels(images) -> np.ndarray:
    """torch (1, 3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    x = ((images[0].float().clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(1, 2, 0)
    return x.cpu().numpy()


def _dtype_name(dtype: str) -> str:
    return "float16" if dtype == "float16" else "float32"


class VaeImageSource:
    """Entry source: encode a folder of images with a VAE (see module docstring)."""

    backend = "vae"

    def __init__(self, *, model: str, images: str, size: int = 256, device: str = "auto", dtype: str = "auto"):
        from live.gen.vae import load_vae, resolve_device

        folder = Path(images or "").expanduser()
        if not images or not folder.is_dir():
            raise BuildError(f"--images must be a folder of pictures, got {images!r}")
        self.vae = load_vae(model)
        if not self.vae.has_encoder:
            raise BuildError(f"{self.vae.source}: no encoder weights beside the decoder (for bare TAESD put "
                             "taesd_encoder.safetensors next to taesd_decoder.safetensors)")
        self.size = int(size)
        self.latent_shape = self.vae.latent_shape(self.size)
        self.device = resolve_device(device)
        self.vae.model.to(self.device)
        self.model_id = self.vae.model_id
        self.model_hash = self.vae.model_hash
        self.scaling_factor = self.vae.scaling_factor
        self.dtype = _dtype_name(dtype)
        self.meta = {"vae_kind": self.vae.kind, "size": self.size}
        self._files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
        self._images = {f.name: f for f in self._files}
        others = [f.name for f in self._files if f.suffix.lower() not in IMAGE_SUFFIXES]
        for name in others:
            log.warning("skipping %s: not an image file (%s)", name, ", ".join(IMAGE_SUFFIXES))
        self._keys = [f"img:{f.name}" for f in self._files if f.suffix.lower() in IMAGE_SUFFIXES]
        if not self._keys:
            raise BuildError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")

    def keys(self) -> list[str]:
        return list(self._keys)

    def make(self, key: str) -> BankEntry:
        path = self._images[key.split(":", 1)[1]]
        rgb = load_square_image(path, self.size)
        z = self.vae.encode(to_tensor(rgb).to(self.device))
        return BankEntry(latent=z[0].cpu().numpy().astype(np.float32), label={"label": path.stem, "source": path.name})

    def preview(self, entry: BankEntry) -> np.ndarray:
        import torch

        z = torch.from_numpy(np.array(entry.latent, dtype=np.float32, copy=True))[None].to(self.device)
        return to_pixels(self.vae.decode_float(z))

    def close(self) -> None:
        self.vae = None


class LcmPromptSource:
    """Entry source: prompts x seeds through the LCM sampler (see module docstring)."""

    backend = "lcm"

    def __init__(self, *, model: str, prompts: list[str] | None = None, per_prompt: int = 4, seeds: list[int] | None = None,
                 size: int = 256, device: str = "auto", dtype: str = "auto", steps: int = 4,
                 guidance_scale: float = 8.5, lora: str = "", vae: str = "",
                 prompt_embeds: np.ndarray | None = None):
        """``prompts`` are encoded with the model's text encoder; tests without a tokenizer may
        pass ``prompt_embeds`` (P, seq, dim) instead (with ``prompts`` as their labels)."""
        from live.gen.lcm import MAX_STEPS, load_lcm

        prompts = [p for p in (prompts or []) if p.strip()]
        if not prompts:
            raise BuildError("lcm banks need prompts: --prompts FILE with one prompt per line")
        self.lcm = load_lcm(model, device=device, dtype=dtype, lora=lora, vae=vae, with_text=prompt_embeds is None)
        self.size = int(size)
        self.latent_shape = self.lcm.latent_shape(self.size)
        self.steps = max(1, min(MAX_STEPS, int(steps or 4)))
        self.model_id = self.lcm.model_id
        self.model_hash = self.lcm.model_hash
        self.scaling_factor = self.lcm.vae.scaling_factor
        self.dtype = _dtype_name(dtype)
        self.guidance_scale = float(guidance_scale)
        self.meta = {"steps": self.steps, "guidance_scale": self.guidance_scale, "size": self.size}
        if prompt_embeds is None:
            prompt_embeds = self.lcm.encode_prompts(prompts)
        prompt_embeds = np.asarray(prompt_embeds, dtype=np.float32)
        if prompt_embeds.ndim != 3 or prompt_embeds.shape[0] != len(prompts) or prompt_embeds.shape[2] != self.lcm.cross_dim:
            raise BuildError(f"prompt embeddings have shape {prompt_embeds.shape}; expected ({len(prompts)}, seq, "
                             f"{self.lcm.cross_dim})")
        self.prompts = prompts
        self.embeds = prompt_embeds
        self.seeds = list(seeds) if seeds else list(range(int(per_prompt)))
        if len(self.seeds) < 1:
            raise BuildError("--per-prompt must be at least 1")
        self._w = self.lcm.w_embedding(self.guidance_scale)

    def keys(self) -> list[str]:
        return [f"prompt:{i}/seed:{s}" for i in range(len(self.prompts)) for s in self.seeds]

    def make(self, key: str) -> BankEntry:
        import torch

        head, seed_s = key.split("/seed:")
        i, seed = int(head.split(":")[1]), int(seed_s)
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn((1,) + self.latent_shape, generator=g, dtype=torch.float32)
        m = self.lcm
        emb = torch.from_numpy(self.embeds[i])[None].to(m.device, m.tdtype)
        gen = torch.Generator(device=m.device).manual_seed(seed)
        z = m.sample(noise.to(m.device, m.tdtype), emb, steps=self.steps, generator=gen, w_emb=self._w)
        return BankEntry(latent=z[0].float().cpu().numpy(), noise=noise[0].numpy(), prompt_embeds=self.embeds[i].copy(),
                         label={"prompt": self.prompts[i], "seed": seed})

    def preview(self, entry: BankEntry) -> np.ndarray:
        import torch

        z = torch.from_numpy(np.ascontiguousarray(entry.latent, dtype=np.float32))[None].to(self.lcm.device)
        return to_pixels(self.lcm.vae.decode_float(z))

    def close(self) -> None:
        self.lcm = None


def _read_prompts(path: str | None) -> list[str]:
    if not path:
        raise BuildError("--backend lcm needs --prompts FILE (one prompt per line)")
    p = Path(path).expanduser()
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"cannot read prompts file {p}: {exc}") from None
    prompts = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not prompts:
        raise BuildError(f"{p}: no prompts (one per line; lines starting with # are comments)")
    return prompts


def make_entry_source(args: Any):
    """The EntrySource for ``args.backend`` in (vae, lcm), from build_bank's parsed options."""
    backend = str(args.backend).strip().lower()
    size = int(getattr(args, "size", None) or 256)
    device = getattr(args, "device", "auto") or "auto"
    dtype = getattr(args, "dtype", "auto") or "auto"
    try:
        if backend == "vae":
            return VaeImageSource(model=args.model, images=getattr(args, "images", None), size=size, device=device,
                                  dtype=dtype)
        if backend == "lcm":
            seeds = None
            if getattr(args, "seeds", None):
                from live.banks.builder import parse_seeds

                seeds = parse_seeds(args.seeds)
            return LcmPromptSource(model=args.model, prompts=_read_prompts(getattr(args, "prompts", None)),
                                   per_prompt=int(getattr(args, "per_prompt", 4) or 4), seeds=seeds, size=size,
                                   device=device, dtype=dtype, steps=int(getattr(args, "steps", None) or 4),
                                   lora=str(getattr(args, "lora", "") or ""), vae=str(getattr(args, "vae", "") or ""))
    except BuildError:
        raise
    except GenError as exc:
        raise BuildError(str(exc)) from None
    raise BuildError(f"live.banks.diffusion handles vae and lcm, not {args.backend!r}")
