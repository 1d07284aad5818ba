"""Backend ``lcm``: few-step (1-4) latent consistency sampling from a local diffusers folder.

The model folder is a diffusers pipeline layout (``unet/``, ``vae/``, ``scheduler/``;
``text_encoder/`` + ``tokenizer/`` are only read by the bank builder): an LCM-distilled model,
or a Stable Diffusion 1.5-family model plus an LCM-LoRA file (option ``lora=FILE``: a local
``.safetensors`` LoRA in the diffusers/peft or the kohya layout, fused into the UNet at load so
a frame costs no more than without it; needs ``peft``; see :func:`apply_lora`). Option ``vae=PATH`` decodes with
another VAE instead, e.g. a tiny one (AutoencoderTiny folder or bare TAESD files).

No text encoder runs live: the bank holds per entry the starting noise and the prompt
embeddings. A frame is::

    noise  = slerp(noise[a], noise[b], alpha) + pulse        (preallocated buffer)
    embeds = lerp(prompt_embeds[a], prompt_embeds[b], alpha)  (preallocated buffer)
    start  = ((1-f) * noise + f * previous_latent) / sqrt((1-f)^2 + f^2)   f = GenControl.feedback
    latent = LCM sampler, ``steps`` steps, scheduler noise from a generator re-seeded every frame
    pixels = VAE decode -> uint8

The feedback blend keeps the variance of the start (for independent unit-variance inputs),
is smooth in ``f`` and pulls each frame toward the previous picture, which fights flicker.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from live.gen.base import BankSpec, GenError, Generator
from live.gen.vae import VaeModel, _offline, _safetensor_files, load_vae, resolve_device
from live.types import Frame, GenControl

log = logging.getLogger(__name__)

MAX_STEPS = 4
DEFAULT_GUIDANCE = 8.5


@dataclass
class LcmModel:
    unet: Any
    scheduler: Any
    vae: VaeModel
    model_id: str
    model_hash: str
    latent_channels: int
    cross_dim: int
    device: Any
    tdtype: Any
    text_encoder: Any = None
    tokenizer: Any = None

    def latent_shape(self, size: int) -> tuple[int, int, int]:
        return self.vae.latent_shape(size)

    # -- build time only --------------------------------------------------------------
    def encode_prompts(self, prompts: list[str]) -> np.ndarray:
        """prompts -> (N, seq, dim) float32 text-encoder hidden states (bank building only)."""
        import torch

        if self.text_encoder is None or self.tokenizer is None:
            raise GenError(f"{self.model_id}: no text_encoder/ + tokenizer/ in the model folder; cannot encode prompts")
        tok = self.tokenizer(list(prompts), padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt")
        with torch.inference_mode():
            out = self.text_encoder(tok.input_ids.to(self.device))[0]
        return out.float().cpu().numpy()

    # -- sampling ---------------------------------------------------------------------
    def w_embedding(self, guidance_scale: float):
        """LCM guidance embedding (None for models without time_cond_proj_dim, e.g. LCM-LoRA)."""
        import torch

        dim = self.unet.config.time_cond_proj_dim
        if not dim:
            return None
        w = torch.tensor([guidance_scale - 1.0]) * 1000.0
        half = dim // 2
        emb = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
        emb = w[:, None] * emb[None, :]
        emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1)
        if dim % 2 == 1:
            emb = torch.nn.functional.pad(emb, (0, 1))
        return emb.to(self.device, self.tdtype)

    def sample(self, start, embeds, *, steps: int, generator, w_emb=None):
        """start (1,C,h,w), embeds (1,seq,dim) torch on device -> clean latent (1,C,h,w)."""
        import torch

        sch = self.scheduler
        sch.set_timesteps(int(steps), device=self.device)
        x = start * sch.init_noise_sigma
        denoised = x
        with torch.inference_mode():
            for t in sch.timesteps:
                pred = self.unet(x, t, timestep_cond=w_emb, encoder_hidden_states=embeds, return_dict=False)[0]
                x, denoised = sch.step(pred, t, x, generator=generator, return_dict=False)
        return denoised


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def apply_lora(unet, path: Path) -> int:
    """Fuse the LoRA in ``path`` (a local ``.safetensors`` file) into ``unet`` in place.

    Reads both layouts SD1.5 LoRAs come in: diffusers/peft (``unet.<module>.lora_A/lora_B``, LoRA
    alpha in the file's metadata) and kohya (``lora_unet_<module>.lora_down/lora_up/.alpha``, the
    layout of the published LCM-LoRA files). Never unpickles; text-encoder layers are ignored
    (no text encoder runs live). Returns the number of UNet layers patched; raises GenError naming
    the file when it is not a LoRA for this UNet.
    """
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import logging as dlog
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            n_keys = len(list(fh.keys()))
    except (OSError, SafetensorError, ValueError) as exc:
        raise GenError(f"LoRA file {path} is not a readable .safetensors file ({_first_line(exc)}); only "
                       ".safetensors LoRAs are loaded (pickled .bin/.pt/.ckpt files are refused)") from None
    level = dlog.get_verbosity()
    dlog.set_verbosity(dlog.CRITICAL)     # diffusers/peft print multi-line dumps; we raise one line instead
    try:
        sd, alphas, meta = StableDiffusionPipeline.lora_state_dict(str(path), use_safetensors=True,
                                                                   local_files_only=True, return_lora_metadata=True)
        unet_keys = [k for k in sd if k.startswith("unet.")]
        layers = [k for k in unet_keys if any(t in k for t in ("lora_A.", "lora.down.", "lora_down."))]
        if not layers:
            raise GenError(f"LoRA file {path} holds no LoRA layers for a UNet ({n_keys} tensors, none named "
                           "unet.*.lora_* or lora_unet_*): is it a full checkpoint or a text-encoder-only LoRA?")
        if len(unet_keys) < len(sd):
            log.warning("%s: %d text-encoder LoRA tensors ignored (no text encoder runs live)", path,
                        len(sd) - len(unet_keys))
        StableDiffusionPipeline.load_lora_into_unet({k: sd[k] for k in unet_keys}, alphas, unet=unet,
                                                    adapter_name="lcm_lora", metadata=meta)
        from peft.tuners.tuners_utils import BaseTunerLayer

        patched = sum(isinstance(m, BaseTunerLayer) for m in unet.modules())
        if patched < len(layers):
            raise GenError(f"LoRA file {path}: only {patched} of its {len(layers)} layers exist in this UNet; "
                           "it was made for another model (use an LCM-LoRA for the model's family, e.g. SD1.5)")
        unet.fuse_lora(lora_scale=1.0)
        unet.unload_lora()
    except GenError:
        raise
    except Exception as exc:
        msg = str(exc)
        if "size mismatch" in msg:
            detail = next(ln.strip() for ln in msg.splitlines() if "size mismatch" in ln)
            raise GenError(f"LoRA file {path} does not fit this UNet (made for another model family, e.g. SDXL "
                           f"on SD1.5?): {detail[:200]}") from None
        if "not found in the base model" in msg:
            raise GenError(f"LoRA file {path}: none of its layers exist in this UNet; it was made for another "
                           "model (use an LCM-LoRA for the model's family, e.g. SD1.5)") from None
        raise GenError(f"LoRA file {path}: cannot apply it ({type(exc).__name__}: {_first_line(exc)})") from None
    finally:
        dlog.set_verbosity(level)
    return patched


def load_lcm(path: str, *, device: str = "auto", dtype: str = "auto", lora: str = "", vae: str = "",
             with_text: bool = False) -> LcmModel:
    """Load UNet + LCMScheduler + VAE (+ text encoder/tokenizer) from a local diffusers folder."""
    _offline()
    import torch

    p = Path(str(path)).expanduser()
    if not str(path):
        raise GenError("lcm needs --model DIR: a local diffusers folder with unet/, vae/ and scheduler/")
    if not p.is_dir():
        raise GenError(f"lcm model folder not found: {p}")
    for sub in ("unet", "scheduler"):
        if not (p / sub / ("config.json" if sub == "unet" else "scheduler_config.json")).is_file():
            raise GenError(f"{p}: no {sub}/ in this folder; expected a diffusers pipeline folder "
                           "(unet/, vae/, scheduler/, text_encoder/, tokenizer/)")
    unet_files = _safetensor_files(p / "unet")
    if not unet_files:
        raise GenError(f"{p / 'unet'}: no .safetensors weights (pickled .bin weights are not loaded)")
    dev = resolve_device(device)
    tdtype = torch.float16 if (dtype == "float16" or (dtype == "auto" and dev.startswith("cuda"))) else torch.float32
    from diffusers import LCMScheduler, UNet2DConditionModel
    from diffusers.utils import logging as dlog

    dlog.set_verbosity_error()
    try:
        unet = UNet2DConditionModel.from_pretrained(str(p / "unet"), local_files_only=True, use_safetensors=True)
        scheduler = LCMScheduler.from_pretrained(str(p / "scheduler"), local_files_only=True)
    except Exception as exc:
        raise GenError(f"{p}: cannot load the UNet/scheduler ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0][:200]})") from None
    hash_files = list(unet_files)
    if lora:
        lp = Path(lora).expanduser()
        if not lp.is_file():
            raise GenError(f"LCM-LoRA file not found: {lp}")
        try:
            import peft  # noqa: F401
        except ImportError:
            raise GenError("an LCM-LoRA needs the 'peft' package: pip install 'latent-live[diffusion]'") from None
        apply_lora(unet, lp)
        hash_files.append(lp)
    vm = load_vae(vae or p, what="VAE")
    if vm.latent_channels != unet.config.in_channels:
        raise GenError(f"VAE {vm.model_id} makes {vm.latent_channels}-channel latents but the UNet takes "
                       f"{unet.config.in_channels}: use the model's own VAE or a matching tiny VAE")
    from live.gen.onnx_export import weights_hash

    model_hash = weights_hash(hash_files)
    text_encoder = tokenizer = None
    if with_text and (p / "text_encoder").is_dir() and (p / "tokenizer").is_dir():
        from transformers import CLIPTextModel, CLIPTokenizer

        try:
            tokenizer = CLIPTokenizer.from_pretrained(str(p / "tokenizer"), local_files_only=True)
            text_encoder = CLIPTextModel.from_pretrained(str(p / "text_encoder"), local_files_only=True)
        except Exception as exc:
            raise GenError(f"{p}: cannot load text_encoder/tokenizer ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200]})") from None
        text_encoder = text_encoder.eval().requires_grad_(False).to(dev, tdtype)
    unet = unet.eval().requires_grad_(False).to(dev, tdtype)
    vm.model.to(dev, tdtype)
    return LcmModel(unet=unet, scheduler=scheduler, vae=vm, model_id=p.name, model_hash=model_hash,
                    latent_channels=int(unet.config.in_channels), cross_dim=int(unet.config.cross_attention_dim),
                    device=torch.device(dev), tdtype=tdtype, text_encoder=text_encoder, tokenizer=tokenizer)


class LcmGenerator(Generator):
    """Few-step LCM generator. Options: ``lora`` (LCM-LoRA file), ``vae`` (decoder override),
    ``guidance_scale`` (LCM-distilled models, default 8.5), ``steps`` (default when the control
    says 0), ``feedback`` (default when the control has none).
    """

    name = "lcm"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lora = str(self.options.pop("lora", "") or "")
        self.vae_path = str(self.options.pop("vae", "") or "")
        self.guidance_scale = float(self.options.pop("guidance_scale", DEFAULT_GUIDANCE))
        self.lcm: LcmModel | None = None

    def load(self) -> None:
        import torch

        m = load_lcm(self.model, device=self.device, dtype=self.dtype, lora=self.lora, vae=self.vae_path)
        self.lcm = m
        shape = m.latent_shape(self.size)
        self._shape = shape
        self._noise = np.zeros(shape, dtype=np.float32)
        self._noise_t = torch.from_numpy(self._noise)           # shares memory with the numpy buffer
        self._prev = torch.zeros((1,) + shape, device=m.device, dtype=m.tdtype)
        self._has_prev = False
        self._w_emb = m.w_embedding(self.guidance_scale)
        self._generator = torch.Generator(device=m.device)
        self._to_pixels = m.vae.pixels_module().to(m.device, m.tdtype)
        # warm-up with a dummy prompt embedding
        emb = torch.zeros((1, 8, m.cross_dim), device=m.device, dtype=m.tdtype)
        start = torch.zeros((1,) + shape, device=m.device, dtype=m.tdtype)
        self._generator.manual_seed(self.seed)
        with torch.inference_mode():
            self._to_pixels(m.sample(start, emb, steps=1, generator=self._generator, w_emb=self._w_emb))
        self.loaded = True

    def bank_spec(self) -> BankSpec:
        if self.lcm is None:
            raise GenError("lcm: load() the generator before asking for its bank spec")
        return BankSpec(backend="lcm", model_hash=self.lcm.model_hash, latent_shape=self._shape,
                        model_id=self.lcm.model_id)

    def prepare_bank(self, bank) -> Any:
        from live.gen.bank import BankMismatchError

        if bank.noise is None or bank.prompt_embeds is None:
            raise BankMismatchError(f"bank '{bank.name}' has no starting noise / prompt embeddings; an lcm bank "
                                    "needs both: build it with 'latent-live bank build --backend lcm'")
        dim = int(bank.prompt_embeds.shape[2])
        if dim != self.lcm.cross_dim:
            raise BankMismatchError(
                f"bank '{bank.name}' has prompt embeddings of width {dim}; this model's UNet "
                f"({self.lcm.model_id}) expects {self.lcm.cross_dim} (cross_attention_dim): rebuild the bank "
                "with this model")
        emb = np.zeros(bank.prompt_embeds.shape[1:], dtype=np.float32)
        self._has_prev = False
        import torch

        return {"emb": emb, "emb_t": torch.from_numpy(emb)}

    def render(self, ctl: GenControl) -> Frame:
        import torch

        t0 = time.perf_counter()
        m = self.lcm
        active = self.active_bank()
        st = active.state
        self.latent_into(ctl, self._noise, active=active, array="noise")
        pe = active.bank.prompt_embeds
        n = pe.shape[0]
        ea, eb = pe[int(ctl.entry_a) % n], pe[int(ctl.entry_b) % n]
        alpha = min(1.0, max(0.0, float(ctl.alpha))) if math.isfinite(float(ctl.alpha)) else 0.0
        emb = st["emb"]
        np.subtract(eb, ea, out=emb)
        emb *= alpha
        emb += ea
        steps = int(ctl.steps) if int(ctl.steps) > 0 else 1
        steps = min(MAX_STEPS, steps)
        f = float(ctl.feedback)
        f = min(1.0, max(0.0, f)) if math.isfinite(f) else 0.0
        with torch.inference_mode():
            start = self._noise_t.to(m.device, m.tdtype, non_blocking=True)[None]
            if f > 0.0 and self._has_prev:
                start = (start * (1.0 - f) + self._prev * f) / math.sqrt((1.0 - f) ** 2 + f * f)
            embeds = st["emb_t"].to(m.device, m.tdtype, non_blocking=True)[None]
            self._generator.manual_seed(self.seed + int(ctl.seed))
            latent = m.sample(start, embeds, steps=steps, generator=self._generator, w_emb=self._w_emb)
            self._prev.copy_(latent)
            self._has_prev = True
            pixels = self._to_pixels(latent)[0].cpu().numpy()
        pixels.flags.writeable = False
        self.frame_index += 1
        return Frame(pixels=pixels, control=ctl, gen_ms=(time.perf_counter() - t0) * 1000.0, index=self.frame_index)

    def reset_feedback(self) -> None:
        """Forget the previous frame (the next render starts from pure bank noise)."""
        self._has_prev = False

    def close(self) -> None:
        self.lcm = None
        super().close()
