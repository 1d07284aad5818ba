"""Backend ``vae``: bare TAESD mapping, diffusers folders, ONNX export + cache, banks from images.

Tiny random models from configs go through the real loading and export code; the real
pretrained TAESD (../shared/models/taesd) encodes and decodes a real photograph.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'latent-live[diffusion]')")
pytest.importorskip("diffusers", reason="diffusers is not installed (pip install 'latent-live[diffusion]')")

from diffusion_fixtures import (save_bare_taesd, tiny_autoencoder_kl,  # noqa: E402
                                tiny_autoencoder_tiny)

from live.gen import BankMismatchError, GenError, get_generator  # noqa: E402
from live.gen.bank import LatentBank  # noqa: E402
from live.types import GenControl  # noqa: E402

PHOTO = Path("/usr/share/backgrounds/mate/nature/YellowFlower.jpg")


@pytest.fixture(autouse=True)
def _one_thread():
    # Two cores shared with other test processes: one intra-op thread avoids spin contention.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("LATENT_LIVE_CACHE", str(root))
    return root


def _bank(spec, n=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return LatentBank(name=f"b{seed}", backend="vae", latents=rng.standard_normal((n,) + tuple(spec.latent_shape)) * scale,
                      model_hash=spec.model_hash, model_id=spec.model_id)


def test_bare_taesd_roundtrip_safetensors_and_pth(tmp_path):
    from live.gen.taesd import find_taesd_files, infer_config, load_autoencoder_tiny, load_bare_state

    ref = tiny_autoencoder_tiny(seed=3)
    z = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(1))
    img = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        want_dec, want_enc = ref.decoder(z), ref.encoder(img)
    for fmt in ("safetensors", "pth"):
        folder = tmp_path / fmt
        save_bare_taesd(ref, folder, fmt=fmt)
        dec, enc = find_taesd_files(folder)
        assert dec.name == f"taesd_decoder.{fmt}" and enc.name == f"taesd_encoder.{fmt}"
        model, has_enc = load_autoencoder_tiny(dec, enc)
        assert has_enc
        cfg = infer_config(load_bare_state(dec), load_bare_state(enc))
        assert cfg["decoder_block_out_channels"] == (8, 8, 8, 8) and cfg["num_decoder_blocks"] == (1, 1, 1, 1)
        assert cfg["num_encoder_blocks"] == (1, 1, 1, 1) and cfg["latent_channels"] == 4
        with torch.no_grad():
            assert torch.equal(model.decoder(z), want_dec)
            assert torch.equal(model.encoder(img), want_enc)


def test_bare_taesd_bf16_cast_and_bad_files(tmp_path):
    from live.gen.taesd import TaesdError, find_taesd_files, load_autoencoder_tiny

    ref = tiny_autoencoder_tiny(seed=4)
    dec, enc = save_bare_taesd(ref, tmp_path / "bf16", dtype=torch.bfloat16)
    model, _ = load_autoencoder_tiny(dec, enc)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    want = ref.decoder.layers[0].weight.to(torch.bfloat16).float()
    assert torch.equal(model.decoder.layers[0].weight, want)
    # an encoder given where a decoder is expected is named as such
    with pytest.raises(TaesdError, match="decoder"):
        load_autoencoder_tiny(enc)
    # a truncated file is a one-line error, not a traceback from safetensors
    bad = tmp_path / "bad" / "taesd_decoder.safetensors"
    bad.parent.mkdir()
    bad.write_bytes(dec.read_bytes()[:100])
    with pytest.raises(TaesdError, match="cannot read weights"):
        load_autoencoder_tiny(*find_taesd_files(bad.parent))
    with pytest.raises(TaesdError, match="no \\*_decoder"):
        find_taesd_files(tmp_path)


def test_onnx_export_matches_torch_and_cache_is_reused_and_invalidated(tmp_path, cache):
    folder = tmp_path / "tiny"
    tiny_autoencoder_tiny(seed=0).save_pretrained(str(folder))
    g = get_generator("vae", model=str(folder), size=48)
    g.load()
    assert g.runtime_used == "onnx" and g.exported_now
    assert g.providers[-1] == "CPUExecutionProvider"
    spec = g.bank_spec()
    assert spec.latent_shape == (4, 6, 6) and spec.backend == "vae" and len(spec.model_hash) == 16
    info = (g.onnx_path.parent / "config.json").read_text()
    assert spec.model_hash in info and "[\n    4,\n    6,\n    6\n  ]" in info
    bank = _bank(spec)
    g.set_bank(bank)
    gt = get_generator("vae", model=str(folder), size=48, runtime="torch")
    gt.load()
    gt.set_bank(bank)
    for ctl in (GenControl(entry_a=0, entry_b=1, alpha=0.0), GenControl(entry_a=1, entry_b=2, alpha=0.4, pulse=0.8)):
        a, b = g.render(ctl).pixels, gt.render(ctl).pixels
        assert a.shape == (48, 48, 3) and a.dtype == np.uint8 and not a.flags.writeable
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1   # fp rounding at .5 only
        assert a.std() > 1.0                                     # not a flat picture
    # second load: the cached file is reused, not exported again
    mtime = g.onnx_path.stat().st_mtime_ns
    g2 = get_generator("vae", model=str(folder), size=48)
    g2.load()
    assert not g2.exported_now and g2.onnx_path == g.onnx_path and g.onnx_path.stat().st_mtime_ns == mtime
    # another size is another export
    g3 = get_generator("vae", model=str(folder), size=32)
    g3.load()
    assert g3.exported_now and g3.onnx_path != g.onnx_path
    # new weights in the same folder: new hash, new export; the old bank no longer fits
    tiny_autoencoder_tiny(seed=1).save_pretrained(str(folder))
    g4 = get_generator("vae", model=str(folder), size=48)
    g4.load()
    assert g4.exported_now and g4.onnx_path != g.onnx_path
    assert g4.bank_spec().model_hash != spec.model_hash
    with pytest.raises(BankMismatchError, match="model"):
        g4.set_bank(bank)


def test_bank_mismatch_keeps_previous_bank_and_bad_model_errors(tmp_path, cache):
    folder = tmp_path / "tiny"
    tiny_autoencoder_tiny(seed=0).save_pretrained(str(folder))
    g = get_generator("vae", model=str(folder), size=32, runtime="torch")
    g.load()
    good = _bank(g.bank_spec())
    g.set_bank(good)
    rng = np.random.default_rng(0)
    wrong = LatentBank(name="big", backend="vae", latents=rng.standard_normal((2, 4, 8, 8)), model_hash=good.model_hash)
    with pytest.raises(BankMismatchError, match=r"\(4, 8, 8\).*\(4, 4, 4\)"):
        g.set_bank(wrong)
    assert g.bank is good
    assert g.render(GenControl(entry_a=5, entry_b=7, alpha=0.5)).pixels.shape == (32, 32, 3)  # indices wrap
    with pytest.raises(GenError, match="not found"):
        get_generator("vae", model=str(tmp_path / "nope")).load()
    with pytest.raises(GenError, match="multiple of 8"):
        get_generator("vae", model=str(folder), size=36).load()
    with pytest.raises(GenError, match="gen.runtime"):
        get_generator("vae", model=str(folder), runtime="tensorflow")


def test_build_vae_bank_from_images_autoencoder_kl(tmp_path, cache):
    """AutoencoderKL (scaling factor 0.5) folder: images -> bank -> generator; non-images skipped."""
    from PIL import Image

    from live.gen.bank import load_bank
    from live.banks.builder import build_bank
    from live.banks.diffusion import make_entry_source

    folder = tmp_path / "kl"
    tiny_autoencoder_kl().save_pretrained(str(folder))
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    yy, xx = np.mgrid[0:40, 0:60]
    Image.fromarray(np.stack([xx * 4, yy * 6, 255 - xx * 4], -1).astype(np.uint8)).save(imgs / "grad.png")
    Image.fromarray(np.full((30, 30, 3), (200, 40, 90), np.uint8)).save(imgs / "red.jpg")
    (imgs / "notes.txt").write_text("not a picture")
    (imgs / "broken.png").write_bytes(b"\x89PNG not really")
    args = argparse.Namespace(backend="vae", model=str(folder), images=str(imgs), size=16, device="cpu", dtype="auto")
    src = make_entry_source(args)
    assert src.keys() == ["img:broken.png", "img:grad.png", "img:red.jpg"]
    assert src.latent_shape == (4, 8, 8) and src.scaling_factor == 0.5
    bank = build_bank(src, out_dir=tmp_path / "bank", progress=False)
    assert bank.count == 2 and [d["source"] for d in bank.labels] == ["grad.png", "red.jpg"]
    assert (tmp_path / "bank" / "contact_sheet.png").is_file()
    # the stored latent is mean * scaling_factor
    from live.banks.diffusion import load_square_image, to_tensor

    with torch.no_grad():
        mean = src.vae.model.encode(to_tensor(load_square_image(imgs / "red.jpg", 16))).latent_dist.mean
    np.testing.assert_allclose(bank.latents[1], mean[0].numpy() * 0.5, rtol=1e-5, atol=1e-5)
    g = get_generator("vae", model=str(folder), size=16)
    g.load()
    g.set_bank(load_bank(tmp_path / "bank"))
    px = g.render(GenControl(entry_a=1, entry_b=1)).pixels
    np.testing.assert_array_equal(px, src.preview(bank_entry(bank, 1)))


def bank_entry(bank, i):
    from live.banks.builder import BankEntry

    return BankEntry(latent=bank.latents[i])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-12))


def test_real_taesd_photo_roundtrip_psnr(taesd_dir, cache, tmp_path):
    """Pretrained TAESD via the bare-weights mapper: encode a photo, decode in onnxruntime, PSNR > 25 dB."""
    if not PHOTO.is_file():
        pytest.skip(f"{PHOTO} not found (Debian package mate-backgrounds)")
    from live.banks.diffusion import load_square_image, to_tensor
    from live.gen.vae import load_vae

    rgb = load_square_image(PHOTO, 256)
    vm = load_vae(taesd_dir)
    assert vm.kind == "tiny" and vm.has_encoder and vm.model_id == "taesd"
    z = vm.encode(to_tensor(rgb))
    assert tuple(z.shape) == (1, 4, 32, 32)
    g = get_generator("vae", model=taesd_dir, size=256)
    g.load()
    out = g.decode_latent(z[0].numpy())
    psnr = _psnr(out, rgb)
    print(f"TAESD 256 photo round trip PSNR {psnr:.2f} dB ({PHOTO.name})")
    assert psnr > 25.0
    # a blank latent is far from the photo: the PSNR measures the weights, not a trivial match
    assert _psnr(g.decode_latent(np.zeros((4, 32, 32), np.float32)), rgb) < 20.0


def test_int8_decoder_keeps_the_picture_of_real_weights(taesd_dir, cache):
    """gen.dtype=int8: the quantised TAESD decoder stays within 35 dB PSNR of float32 on a photo."""
    if not PHOTO.is_file():
        pytest.skip(f"{PHOTO} not found (Debian package mate-backgrounds)")
    from live.banks.diffusion import load_square_image, to_tensor
    from live.gen.vae import load_vae

    z = load_vae(taesd_dir).encode(to_tensor(load_square_image(PHOTO, 128)))[0].numpy()
    ref = get_generator("vae", model=taesd_dir, size=128, device="cpu", dtype="float32")
    q = get_generator("vae", model=taesd_dir, size=128, device="cpu", dtype="int8")
    ref.load()
    q.load()
    assert q.onnx_path.name.endswith(".int8.onnx") and q.dtype_used == "int8"
    psnr = _psnr(q.decode_latent(z), ref.decode_latent(z))
    print(f"int8 vs float32 TAESD decoder, 128 px photo: PSNR {psnr:.2f} dB")
    assert psnr >= 35.0
