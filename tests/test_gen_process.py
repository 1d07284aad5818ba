"""A generator backend in its own process: same frames, same errors, a dead child is a GenError."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from live.gen import BankMismatchError, GenError, get_generator, load_bank
from live.gen.bank import LatentBank
from live.gen.process import ProcessGenerator, wants_process
from live.types import GenControl

BANK = "latent_banks/default"


@pytest.fixture(scope="module")
def proc_gen():
    g = ProcessGenerator("embedded", size=64, seed=3)
    g.load()
    yield g
    g.close()


def test_frames_match_the_backend_run_in_process(proc_gen):
    bank = load_bank(BANK)
    ref = get_generator("embedded", size=64, seed=3)
    ref.load()
    ref.set_bank(bank)
    proc_gen.set_bank(bank)
    assert proc_gen.bank is bank and proc_gen.name == "embedded"
    assert proc_gen.bank_spec() == ref.bank_spec()
    for ctl in (GenControl(bank=bank.name, entry_a=0, entry_b=1, alpha=0.3),
                GenControl(bank=bank.name, entry_a=2, entry_b=0, alpha=0.9, pulse=0.8, pulse_dir=5)):
        a, b = proc_gen.render(ctl), ref.render(ctl)
        assert a.pixels.shape == (64, 64, 3) and a.pixels.dtype == np.uint8
        assert np.array_equal(a.pixels, b.pixels)
        assert not a.pixels.flags.writeable and a.control == ctl
    assert proc_gen.frame_index == 2
    ref.close()


def test_a_bank_that_does_not_fit_raises_the_same_error_and_the_old_bank_stays(proc_gen):
    bank = load_bank(BANK)
    proc_gen.set_bank(bank)
    wrong = LatentBank(name="wrong", backend="vae", latents=np.zeros((2, 4, 8, 8), np.float32),
                       model_hash="x", model_id="x")
    with pytest.raises(BankMismatchError):
        proc_gen.set_bank(wrong)
    assert proc_gen.bank is bank
    assert proc_gen.render(GenControl(bank=bank.name)).pixels.shape == (64, 64, 3)


def test_a_child_that_dies_is_a_gen_error_and_close_cleans_up():
    g = ProcessGenerator("embedded", size=32)
    g.load()
    g.set_bank(load_bank(BANK))
    shm_name = g._shm.name
    os.kill(g._proc.pid, signal.SIGKILL)
    with pytest.raises(GenError, match="exited with code"):
        g.render(GenControl())
    g.close()
    assert not os.path.exists(f"/dev/shm/{shm_name}")
    with pytest.raises(GenError, match="not running"):
        g.render(GenControl())


def test_a_backend_that_cannot_load_reports_its_own_error():
    g = ProcessGenerator("vae", size=64, model="/nonexistent/model", device="cpu")
    with pytest.raises(GenError) as err:
        g.load()
    assert "/nonexistent/model" in str(err.value)
    assert g._proc is None and g._shm is None


def test_auto_means_the_vae_decoder_on_a_cpu():
    assert wants_process("vae", "auto", "cpu")
    assert not wants_process("vae", "auto", "cuda")
    assert not wants_process("embedded", "auto", "cpu") and not wants_process("lcm", "auto", "cpu")
    assert wants_process("embedded", "yes", "cpu") and not wants_process("vae", "no", "cpu")
