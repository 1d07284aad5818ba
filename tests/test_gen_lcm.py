"""Backend ``lcm``: a tiny random UNet + VAE + LCMScheduler (+ tiny CLIP text encoder and an
offline character-level tokenizer) saved to a folder and loaded through the real code."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'latent-live[diffusion]')")
pytest.importorskip("diffusers", reason="diffusers is not installed (pip install 'latent-live[diffusion]')")
pytest.importorskip("transformers", reason="transformers is not installed (pip install 'latent-live[diffusion]')")

from diffusion_fixtures import CROSS_DIM, save_tiny_lcm_folder  # noqa: E402

from live.gen import BankMismatchError, get_generator, load_bank  # noqa: E402
from live.gen.bank import LatentBank  # noqa: E402
from live.types import GenControl  # noqa: E402

SIZE = 32  # latent 4 x 4 x 4 with the SD-like (downscale 8) tiny VAE


@pytest.fixture(scope="module")
def lcm_env(tmp_path_factory):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lcm")
    model = save_tiny_lcm_folder(root / "model")
    prompts = root / "prompts.txt"
    prompts.write_text("# comment\na red cat\n\nblue sea waves\n")
    from live.banks.builder import build_bank
    from live.banks.diffusion import make_entry_source

    args = argparse.Namespace(backend="lcm", model=str(model), prompts=str(prompts), per_prompt=2, seeds=None,
                              size=SIZE, device="cpu", dtype="auto", steps=2)
    src = make_entry_source(args)
    bank = build_bank(src, out_dir=root / "bank", progress=False)
    gen = get_generator("lcm", model=str(model), size=SIZE, device="cpu", seed=7)
    gen.load()
    gen.set_bank(load_bank(root / "bank"))
    yield {"root": root, "model": model, "bank": bank, "gen": gen, "src": src}
    torch.set_num_threads(n)


def test_build_bank_from_prompts(lcm_env):
    bank = lcm_env["bank"]
    assert bank.backend == "lcm" and bank.count == 4 and bank.latent_shape == (4, 4, 4)
    assert bank.noise.shape == (4, 4, 4, 4) and bank.prompt_embeds.shape == (4, 16, CROSS_DIM)
    assert [d["prompt"] for d in bank.labels] == ["a red cat", "a red cat", "blue sea waves", "blue sea waves"]
    assert [d["seed"] for d in bank.labels] == [0, 1, 0, 1]
    # same prompt -> same embedding; different prompts -> different embeddings; seeds -> different noise
    np.testing.assert_array_equal(bank.prompt_embeds[0], bank.prompt_embeds[1])
    assert not np.allclose(bank.prompt_embeds[0], bank.prompt_embeds[2])
    assert not np.allclose(bank.noise[0], bank.noise[1])
    np.testing.assert_array_equal(bank.noise[0], bank.noise[2])  # seed 0 for both prompts
    assert bank.model_hash == lcm_env["gen"].bank_spec().model_hash
    assert (lcm_env["root"] / "bank" / "contact_sheet.png").is_file()


def test_render_is_deterministic_for_1_to_4_steps(lcm_env):
    gen = lcm_env["gen"]
    outs = {}
    for steps in (1, 2, 3, 4):
        ctl = GenControl(entry_a=0, entry_b=2, alpha=0.3, steps=steps)
        gen.reset_feedback()
        a = gen.render(ctl).pixels
        b = gen.render(ctl).pixels
        assert a.shape == (SIZE, SIZE, 3) and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)
        outs[steps] = a
    assert not np.array_equal(outs[1], outs[4])           # steps matter
    one = gen.render(GenControl(entry_a=0, entry_b=2, alpha=0.0, steps=1)).pixels
    other = gen.render(GenControl(entry_a=0, entry_b=2, alpha=1.0, steps=1)).pixels
    assert np.abs(one.astype(int) - other.astype(int)).mean() > 0.5  # different entries differ


def test_feedback_changes_output_smoothly(lcm_env):
    gen = lcm_env["gen"]
    prev = GenControl(entry_a=1, entry_b=1, alpha=0.0, steps=2)
    diffs = []
    base = None
    for f in (0.0, 0.002, 0.005, 0.01, 0.02):
        gen.reset_feedback()
        gen.render(prev)
        px = gen.render(GenControl(entry_a=2, entry_b=2, alpha=0.0, steps=2, feedback=f)).pixels.astype(float)
        if base is None:
            base = px
        diffs.append(float(np.abs(px - base).mean()))
    assert diffs[0] == 0.0
    assert all(d1 < d2 for d1, d2 in zip(diffs[1:], diffs[2:])), diffs   # grows with f
    assert diffs[1] < diffs[-1] / 3, diffs                                   # small f, small change
    # (a random UNet amplifies its input ~15x at t=999, so the steps here are small)
    # without a previous frame feedback has nothing to blend in
    gen.reset_feedback()
    np.testing.assert_array_equal(gen.render(GenControl(entry_a=2, entry_b=2, steps=2, feedback=0.6)).pixels, base)


def test_bank_with_wrong_embedding_width_is_a_clear_error(lcm_env):
    gen = lcm_env["gen"]
    good = gen.bank
    rng = np.random.default_rng(0)
    shape = (2, 4, 4, 4)
    wrong = LatentBank(name="sd-xl-ish", backend="lcm", latents=rng.standard_normal(shape), noise=rng.standard_normal(shape),
                       prompt_embeds=rng.standard_normal((2, 16, 768)), model_hash=good.model_hash)
    with pytest.raises(BankMismatchError, match=r"width 768.*expects 32"):
        gen.set_bank(wrong)
    no_noise = LatentBank(name="vae-bank", backend="lcm", latents=rng.standard_normal(shape), model_hash=good.model_hash)
    with pytest.raises(BankMismatchError, match="noise"):
        gen.set_bank(no_noise)
    assert gen.bank is good


# -- LCM-LoRA: a Stable Diffusion 1.5-family model + a LoRA file ------------------------------------

def _peft_or_skip():
    pytest.importorskip("peft", reason="an LCM-LoRA needs peft (pip install 'latent-live[diffusion]')")


@pytest.fixture(scope="module")
def lora_env(tmp_path_factory):
    _peft_or_skip()
    from diffusion_fixtures import save_lora_file, tiny_unet_with_lora

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lcm_lora")
    model = save_tiny_lcm_folder(root / "sd15", time_cond_proj_dim=None)   # SD1.5-like: no guidance embedding
    ref_unet, cfg = tiny_unet_with_lora(0, lora_alpha=8.0)                 # alpha != rank: scale 2 must survive
    files = {fmt: save_lora_file(ref_unet, cfg, root / f"lcm_lora_{fmt}.safetensors", fmt=fmt)
             for fmt in ("diffusers", "kohya")}
    yield {"root": root, "model": model, "ref_unet": ref_unet, "files": files}
    torch.set_num_threads(n)


def _unet_out(unet, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((1, 4, 8, 8), generator=g)
    emb = torch.randn((1, 8, CROSS_DIM), generator=g)
    with torch.inference_mode():
        return unet(x, torch.tensor(499), encoder_hidden_states=emb, return_dict=False)[0]


@pytest.mark.parametrize("fmt", ["diffusers", "kohya"])
def test_lora_file_is_fused_into_the_unet_like_peft_applies_it(lora_env, fmt):
    from peft.tuners.tuners_utils import BaseTunerLayer

    gen = get_generator("lcm", model=str(lora_env["model"]), size=SIZE, device="cpu", seed=7,
                        lora=str(lora_env["files"][fmt]))
    gen.load()                                                     # offline: HF_HUB_OFFLINE, local_files_only
    plain = get_generator("lcm", model=str(lora_env["model"]), size=SIZE, device="cpu", seed=7)
    plain.load()
    got, base, ref = _unet_out(gen.lcm.unet), _unet_out(plain.lcm.unet), _unet_out(lora_env["ref_unet"])
    assert (ref - base).abs().max().item() > 0.05                  # the LoRA matters on this UNet...
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)     # ...and it is applied exactly, alpha included
    # fused: plain Linear layers again, no adapter left to cost time per frame
    assert not any(isinstance(m, BaseTunerLayer) for m in gen.lcm.unet.modules())
    assert gen.lcm.unet.config.time_cond_proj_dim is None and gen._w_emb is None
    # the LoRA is part of the model identity a bank is tied to
    assert gen.bank_spec().model_hash != plain.bank_spec().model_hash


def test_lora_changes_frames_exactly_as_the_peft_reference(lora_env):
    """Same bank, same control: the LoRA generator's frame differs from the plain model's and
    equals the frame of the plain model whose UNet is the peft-adapted reference."""
    from dataclasses import replace

    root = lora_env["root"]
    prompts = root / "prompts.txt"
    prompts.write_text("neon tunnel\nslow smoke\n")
    from live.banks.builder import build_bank
    from live.banks.diffusion import make_entry_source

    lora = str(lora_env["files"]["kohya"])
    args = argparse.Namespace(backend="lcm", model=str(lora_env["model"]), prompts=str(prompts), per_prompt=1,
                              seeds=None, size=SIZE, device="cpu", dtype="auto", steps=2, lora=lora)
    bank = build_bank(make_entry_source(args), out_dir=root / "bank_lora", progress=False)
    gens = {}
    for name, opt in (("lora", {"lora": lora}), ("plain", {}), ("ref", {})):
        gens[name] = get_generator("lcm", model=str(lora_env["model"]), size=SIZE, device="cpu", seed=7, **opt)
        gens[name].load()
    gens["ref"].lcm.unet = lora_env["ref_unet"]
    # the bank built with --lora is tied to the LoRA model; the plain model refuses it by name
    assert bank.model_hash == gens["lora"].bank_spec().model_hash
    gens["lora"].set_bank(load_bank(root / "bank_lora"))
    with pytest.raises(BankMismatchError, match="different model"):
        gens["plain"].set_bank(load_bank(root / "bank_lora"))
    anyhash = replace(load_bank(root / "bank_lora"), model_hash="")
    gens["plain"].set_bank(anyhash)
    gens["ref"].set_bank(anyhash)
    ctl = GenControl(entry_a=0, entry_b=1, alpha=0.4, steps=2)
    px = {k: g.render(ctl).pixels.astype(int) for k, g in gens.items()}
    assert np.abs(px["lora"] - px["plain"]).mean() > 1.0, np.abs(px["lora"] - px["plain"]).mean()
    assert np.abs(px["lora"] - px["ref"]).max() <= 1                # uint8 rounding only


def test_bad_lora_files_are_one_line_errors_naming_the_file(lora_env, tmp_path):
    from safetensors.torch import load_file, save_file

    from live.gen import GenError
    from live.banks.builder import BuildError
    from live.banks.diffusion import make_entry_source
    from live.gen.lcm import load_lcm

    model = str(lora_env["model"])
    good = load_file(str(lora_env["files"]["diffusers"]))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 this is not a LoRA " * 20)
    pickled = tmp_path / "lcm_lora.bin"
    torch.save(good, str(pickled))
    full = tmp_path / "full_unet.safetensors"                        # a checkpoint, not a LoRA
    save_file({k: v.contiguous() for k, v in lora_env["ref_unet"].state_dict().items() if "lora" not in k},
              str(full))
    wrong_width = tmp_path / "sdxl_like.safetensors"                 # attn2 LoRAs for a wider text encoder
    save_file({k: (torch.zeros(v.shape[0], 2 * CROSS_DIM) if ("attn2.to_k.lora_A" in k or "attn2.to_v.lora_A" in k)
                   else v) for k, v in good.items()}, str(wrong_width))
    extra = tmp_path / "other_model.safetensors"                     # layers this UNet does not have
    alien = tmp_path / "alien.safetensors"
    save_file({k.replace("down_blocks.1", "down_blocks.5"): v for k, v in good.items() if "down_blocks.1" in k},
              str(alien))
    save_file({**good, **{k.replace("down_blocks.1", "down_blocks.5"): v.clone() for k, v in good.items()
                          if "down_blocks.1" in k}}, str(extra))
    cases = {tmp_path / "missing.safetensors": "not found", garbage: "not a readable .safetensors",
             pickled: "pickled", full: "no LoRA layers", wrong_width: "does not fit this UNet",
             extra: "only 32 of its 40 layers", alien: "none of its layers exist"}
    for path, what in cases.items():
        with pytest.raises(GenError, match=what) as err:
            load_lcm(model, device="cpu", lora=str(path))
        msg = str(err.value)
        assert str(path) in msg and "\n" not in msg, msg
    gen = get_generator("lcm", model=model, size=SIZE, device="cpu", lora=str(garbage))
    with pytest.raises(GenError, match="garbage.safetensors"):
        gen.load()
    args = argparse.Namespace(backend="lcm", model=model, prompts=str(lora_env["root"] / "prompts.txt"),
                              per_prompt=1, seeds=None, size=SIZE, device="cpu", dtype="auto", steps=1, lora=str(full))
    with pytest.raises(BuildError, match="full_unet.safetensors.*no LoRA layers"):
        make_entry_source(args)
