"""Tiny random diffusers models built from configs (the way diffusers' own tests do), saved to folders.

Nothing is downloaded: the tokenizer is a character-level CLIP BPE vocabulary written here.
Every builder seeds torch, so the same call gives the same weights.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'latent-live[diffusion]')")
diffusers = pytest.importorskip("diffusers", reason="diffusers is not installed (pip install 'latent-live[diffusion]')")

TINY_TAESD = dict(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                  num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1), latent_channels=4)
CROSS_DIM = 32


def tiny_autoencoder_tiny(seed: int = 0):
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    return AutoencoderTiny(**TINY_TAESD).eval()


def tiny_autoencoder_kl(seed: int = 0):
    """As in diffusers' tests: 2 blocks (downscale 2), 4 latent channels."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3,
                         down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                         up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), latent_channels=4,
                         norm_num_groups=8, scaling_factor=0.5).eval()


def tiny_vae_kl_sd(seed: int = 0):
    """A tiny AutoencoderKL with 4 blocks (downscale 8, like SD) for the lcm pipeline."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(block_out_channels=(8, 8, 8, 8), in_channels=3, out_channels=3,
                         down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                         latent_channels=4, norm_num_groups=8, layers_per_block=1,
                         scaling_factor=0.18215).eval()


def tiny_unet(seed: int = 0, *, time_cond_proj_dim: int | None = 8):
    """As in diffusers' LCM pipeline tests (cross_attention_dim 32, time_cond_proj_dim set)."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=CROSS_DIM,
                                norm_num_groups=8, attention_head_dim=2,
                                time_cond_proj_dim=time_cond_proj_dim).eval()


def _bytes_to_unicode() -> list[str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tiny_tokenizer(folder: Path) -> None:
    """A character-level CLIP tokenizer (vocab.json + merges.txt), built offline."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    vocab = {}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)
    tok.save_pretrained(str(folder))


def tiny_text_encoder(vocab_size: int, seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    cfg = CLIPTextConfig(bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, hidden_size=CROSS_DIM,
                         intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=2,
                         pad_token_id=1, vocab_size=vocab_size, max_position_embeddings=16)
    return CLIPTextModel(cfg).eval()


def save_tiny_lcm_folder(folder: Path, *, seed: int = 0, with_text: bool = True,
                         time_cond_proj_dim: int | None = 8) -> Path:
    """A diffusers pipeline folder: unet/ vae/ scheduler/ (+ text_encoder/ tokenizer/) + model_index.json.

    ``time_cond_proj_dim=None`` gives an SD1.5-like UNet (no guidance embedding), the base an
    LCM-LoRA is made for."""
    from diffusers import LCMScheduler

    folder.mkdir(parents=True, exist_ok=True)
    tiny_unet(seed, time_cond_proj_dim=time_cond_proj_dim).save_pretrained(str(folder / "unet"))
    tiny_vae_kl_sd(seed + 1).save_pretrained(str(folder / "vae"))
    LCMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                 timestep_spacing="leading").save_pretrained(str(folder / "scheduler"))
    index = {"_class_name": "LatentConsistencyModelPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "LCMScheduler"]}
    if with_text:
        write_tiny_tokenizer(folder / "tokenizer")
        import json as _json

        vocab_size = len(_json.loads((folder / "tokenizer" / "vocab.json").read_text()))
        tiny_text_encoder(vocab_size, seed + 2).save_pretrained(str(folder / "text_encoder"))
        index.update(text_encoder=["transformers", "CLIPTextModel"], tokenizer=["transformers", "CLIPTokenizer"])
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def save_bare_taesd(model, folder: Path, *, fmt: str = "safetensors", prefix: str = "taesd",
                    dtype=None) -> tuple[Path, Path]:
    """Write an AutoencoderTiny as bare TAESD files (ComfyUI vae_approx layout)."""
    from live.gen.taesd import diffusers_to_bare

    folder.mkdir(parents=True, exist_ok=True)
    dec, enc = diffusers_to_bare(model)
    if dtype is not None:
        dec = {k: v.to(dtype) for k, v in dec.items()}
        enc = {k: v.to(dtype) for k, v in enc.items()}
    paths = []
    for part, sd in (("decoder", dec), ("encoder", enc)):
        p = folder / f"{prefix}_{part}.{fmt}"
        if fmt == "safetensors":
            from safetensors.torch import save_file

            save_file(sd, str(p))
        else:
            torch.save(sd, str(p))
        paths.append(p)
    return paths[0], paths[1]


LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def tiny_unet_with_lora(seed: int = 0, *, lora_seed: int = 1, rank: int = 4, lora_alpha: float = 8.0,
                        time_cond_proj_dim: int | None = None):
    """``tiny_unet(seed)`` with a peft LoRA adapter on the attention projections whose A and B
    matrices are random (non-zero, so the LoRA changes the output). Returns (unet, LoraConfig);
    the adapted unet is the reference "LoRA applied directly with peft"."""
    from peft import LoraConfig

    unet = tiny_unet(seed, time_cond_proj_dim=time_cond_proj_dim)
    cfg = LoraConfig(r=rank, lora_alpha=lora_alpha, target_modules=list(LORA_TARGETS), init_lora_weights=False)
    unet.add_adapter(cfg)
    g = torch.Generator().manual_seed(lora_seed)
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return unet.eval(), cfg


def save_lora_file(unet, cfg, path: Path, *, fmt: str = "diffusers") -> Path:
    """Write the peft adapter of ``unet`` as one .safetensors LoRA file.

    ``fmt="diffusers"``: what ``StableDiffusionPipeline.save_lora_weights`` writes (keys
    ``unet.<module>.lora_A/B.weight``, the LoraConfig - alpha included - in the file metadata).
    ``fmt="kohya"``: the A1111/ComfyUI layout the published LCM-LoRA files use
    (``lora_unet_<module>.lora_down/lora_up.weight`` + ``.alpha``)."""
    from peft.utils import get_peft_model_state_dict

    sd = get_peft_model_state_dict(unet)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "diffusers":
        from diffusers import StableDiffusionPipeline

        StableDiffusionPipeline.save_lora_weights(str(path.parent), unet_lora_layers=sd, weight_name=path.name,
                                                  unet_lora_adapter_metadata=cfg.to_dict())
    elif fmt == "kohya":
        from diffusers.utils.state_dict_utils import convert_state_dict_to_kohya
        from safetensors.torch import save_file

        kohya = convert_state_dict_to_kohya({"unet." + k: v for k, v in sd.items()})
        kohya = {k: (torch.tensor(float(cfg.lora_alpha)) if k.endswith(".alpha") else v.contiguous())
                 for k, v in kohya.items()}
        save_file(kohya, str(path))
    else:
        raise ValueError(fmt)
    return path
