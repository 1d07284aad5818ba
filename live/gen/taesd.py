"""Bare TAESD weight files (as ComfyUI keeps them in ``models/vae_approx/``) onto diffusers' AutoencoderTiny.

The original TAESD code stores its encoder and decoder as bare ``nn.Sequential`` state dicts,
so the keys are ``0.weight``, ``1.conv.0.weight``, ... In diffusers' :class:`AutoencoderTiny`:

* encoder index ``i``  -> ``encoder.layers.i``
* decoder index ``0`` is a parameter-free clamp (``tanh(x / 3) * 3``) that diffusers applies
  inside ``DecoderTiny.forward``, so decoder index ``i`` -> ``decoder.layers.(i - 1)``.

Block names inside (``conv.0``, ``conv.2``, ``conv.4``, ``skip``) are the same on both sides.
The architecture (channels, blocks per stage, latent channels) is read from the weights, so
``taesd``, ``taesdxl``, ``taesd3`` / ``taef1`` (16 latent channels) and tiny test models all map.

Weights may be bf16 (the ComfyUI files are): everything is cast to float32. ``.pth`` files are
read with ``torch.load(weights_only=True)`` (no arbitrary pickle code runs).

torch and diffusers are imported inside the functions (this module is imported lazily anyway).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt")
_INDEX = re.compile(r"^(\d+)\.(.+)$")


class TaesdError(ValueError):
    """A bare TAESD weight file is missing, unreadable or not TAESD-shaped (one-line message)."""


def is_bare_weight_file(path: str | Path) -> bool:
    """True for a single ``*_decoder``/``*_encoder`` weight file (not a diffusers folder)."""
    p = Path(path)
    return p.is_file() and p.suffix in WEIGHT_SUFFIXES


def find_taesd_files(path: str | Path) -> tuple[Path, Path | None]:
    """Locate ``(decoder_file, encoder_file or None)`` from a file or a ``vae_approx`` folder.

    ``path`` may be a decoder file (``taesd_decoder.safetensors`` / ``.pth``), an encoder file
    (its ``_decoder`` sibling is used) or a folder. In a folder holding several variants
    (``taesd_``, ``taesdxl_``, ``taef1_`` ...) ``taesd_decoder`` is chosen when present, otherwise
    the single ``*_decoder`` file; with several candidates the error lists them.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        cands = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in WEIGHT_SUFFIXES
                       and f.stem.endswith("_decoder"))
        if not cands:
            raise TaesdError(f"{p}: no *_decoder.safetensors/.pth file here (expected e.g. taesd_decoder.safetensors)")
        pref = [f for f in cands if f.stem == "taesd_decoder"]
        if pref:
            cands = [min(pref, key=lambda f: WEIGHT_SUFFIXES.index(f.suffix))]
        stems = {f.stem for f in cands}
        if len(stems) > 1:
            raise TaesdError(f"{p}: several decoders ({', '.join(sorted(f.name for f in cands))}); "
                             "point --model at the one you want")
        decoder = min(cands, key=lambda f: WEIGHT_SUFFIXES.index(f.suffix))
    elif p.is_file():
        if p.suffix not in WEIGHT_SUFFIXES:
            raise TaesdError(f"{p}: not a .safetensors or .pth weight file")
        if p.stem.endswith("_encoder"):
            sib = [p.with_name(p.stem[: -len("_encoder")] + "_decoder" + s) for s in WEIGHT_SUFFIXES]
            found = [s for s in sib if s.is_file()]
            if not found:
                raise TaesdError(f"{p} is an encoder; its decoder ({sib[0].name}) is not beside it")
            decoder = found[0]
        else:
            decoder = p
    else:
        raise TaesdError(f"{p}: no such file or folder")
    encoder = None
    if decoder.stem.endswith("_decoder"):
        base = decoder.stem[: -len("_decoder")] + "_encoder"
        for s in (decoder.suffix,) + WEIGHT_SUFFIXES:
            e = decoder.with_name(base + s)
            if e.is_file():
                encoder = e
                break
    return decoder, encoder


def load_bare_state(path: str | Path) -> dict:
    """Read a bare state dict as float32 CPU tensors (safetensors, or ``.pth`` with weights_only)."""
    import torch

    p = Path(path)
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(p), device="cpu")
        else:
            sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt / truncated / pickle with code
        raise TaesdError(f"{p}: cannot read weights ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from None
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping) or not sd:
        raise TaesdError(f"{p}: not a state dict of tensors")
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise TaesdError(f"{p}: entry {k!r} is not a tensor")
        out[str(k)] = v.detach().to(torch.float32).contiguous()
    return out


def _by_index(sd: Mapping, where: str) -> dict[int, dict]:
    layers: dict[int, dict] = {}
    for k, v in sd.items():
        m = _INDEX.match(k)
        if not m:
            raise TaesdError(f"{where}: key {k!r} is not in the bare TAESD layout (expected '<index>.<name>')")
        layers.setdefault(int(m.group(1)), {})[m.group(2)] = v
    return layers


def _kind(params: dict | None) -> str:
    if not params:
        return "free"          # clamp / ReLU / Upsample
    if "conv.0.weight" in params:
        return "block"
    if "weight" in params:
        return "conv"
    raise TaesdError(f"unexpected parameters {sorted(params)} in a TAESD layer")


def infer_config(decoder_sd: Mapping, encoder_sd: Mapping | None = None) -> dict:
    """AutoencoderTiny config kwargs read from bare decoder (and encoder) state dicts."""
    dec = _by_index(decoder_sd, "decoder")
    order = [dec.get(i) for i in range(max(dec) + 1)]
    kinds = [_kind(p) for p in order]
    if len(kinds) < 3 or kinds[0] != "free" or kinds[1] != "conv":
        raise TaesdError("decoder weights do not start with clamp + conv: not a TAESD decoder "
                         "(an encoder file given as decoder?)")
    latent_channels = int(order[1]["weight"].shape[1])
    dec_blocks, dec_ch, count = [], [], 0
    out_channels = 3
    for params, kind in zip(order[2:], kinds[2:]):
        if kind == "block":
            count += 1
        elif kind == "conv":
            dec_blocks.append(count)
            dec_ch.append(int(params["weight"].shape[1]))
            out_channels = int(params["weight"].shape[0])
            count = 0
    if not dec_blocks:
        raise TaesdError("decoder weights have no stages: not a TAESD decoder")
    cfg = dict(
        latent_channels=latent_channels,
        out_channels=out_channels,
        decoder_block_out_channels=tuple(dec_ch),
        num_decoder_blocks=tuple(dec_blocks),
    )
    if encoder_sd is not None:
        enc = _by_index(encoder_sd, "encoder")
        eorder = [enc.get(i) for i in range(max(enc) + 1)]
        ekinds = [_kind(p) for p in eorder]
        if ekinds[0] != "conv":
            raise TaesdError("encoder weights do not start with a conv: not a TAESD encoder")
        convs = [i for i, k in enumerate(ekinds) if k == "conv"]
        enc_ch = [int(eorder[i]["weight"].shape[0]) for i in convs[:-1]]
        enc_blocks = [sum(1 for k in ekinds[a + 1:b] if k == "block") for a, b in zip(convs[:-1], convs[1:])]
        if int(eorder[convs[-1]]["weight"].shape[0]) != latent_channels:
            raise TaesdError(f"encoder makes {int(eorder[convs[-1]]['weight'].shape[0])} latent channels, "
                             f"decoder takes {latent_channels}: they are not a pair")
        cfg.update(
            in_channels=int(eorder[0]["weight"].shape[1]),
            encoder_block_out_channels=tuple(enc_ch),
            num_encoder_blocks=tuple(enc_blocks),
        )
    else:
        # No encoder file: give the (unused, randomly initialised) encoder the smallest shape
        # that diffusers accepts with this many stages.
        n = len(dec_blocks)
        cfg.update(encoder_block_out_channels=(8,) * n, num_encoder_blocks=(1,) * n)
    return cfg


def bare_to_diffusers(decoder_sd: Mapping, encoder_sd: Mapping | None = None) -> dict:
    """Rename bare TAESD keys to AutoencoderTiny state-dict keys (decoder shifted by one)."""
    out = {}
    for k, v in decoder_sd.items():
        m = _INDEX.match(k)
        if not m:
            raise TaesdError(f"decoder key {k!r} is not in the bare TAESD layout")
        i = int(m.group(1))
        if i == 0:
            raise TaesdError("decoder index 0 has parameters: this is not a TAESD decoder (encoder file?)")
        out[f"decoder.layers.{i - 1}.{m.group(2)}"] = v
    for k, v in (encoder_sd or {}).items():
        m = _INDEX.match(k)
        if not m:
            raise TaesdError(f"encoder key {k!r} is not in the bare TAESD layout")
        out[f"encoder.layers.{m.group(1)}.{m.group(2)}"] = v
    return out


def diffusers_to_bare(model) -> tuple[dict, dict]:
    """Inverse mapping: ``(decoder_sd, encoder_sd)`` of an AutoencoderTiny in the bare layout."""
    dec, enc = {}, {}
    for k, v in model.state_dict().items():
        if k.startswith("decoder.layers."):
            i, rest = k[len("decoder.layers."):].split(".", 1)
            dec[f"{int(i) + 1}.{rest}"] = v.detach().clone().contiguous()
        elif k.startswith("encoder.layers."):
            enc[k[len("encoder.layers."):]] = v.detach().clone().contiguous()
    return dec, enc


def load_autoencoder_tiny(decoder_path: str | Path, encoder_path: str | Path | None = None):
    """Build a float32 eval-mode AutoencoderTiny from bare TAESD files.

    Returns ``(model, has_encoder)``; without an encoder file the encoder is random and
    ``has_encoder`` is False (decoding still works; building a bank from images does not).
    """
    from diffusers import AutoencoderTiny

    dec_sd = load_bare_state(decoder_path)
    enc_sd = load_bare_state(encoder_path) if encoder_path else None
    cfg = infer_config(dec_sd, enc_sd)
    model = AutoencoderTiny(**cfg)
    mapped = bare_to_diffusers(dec_sd, enc_sd)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if enc_sd is not None or not k.startswith("encoder.")]
    if missing or unexpected:
        raise TaesdError(f"{decoder_path}: weights do not fit AutoencoderTiny "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.eval().requires_grad_(False)
    return model, enc_sd is not None
