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
    from live.gen.build import build_bank
    from live.gen.diffusion_build import make_entry_source

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
