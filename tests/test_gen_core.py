"""Generator core: slerp, latent banks (round trip, corruption, mismatch), registry, base class."""
from __future__ import annotations

import math
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from live.gen import (BankError, BankMismatchError, BankSpec, BackendUnavailableError, Generator, LatentBank,
                      get_generator, load_bank, save_bank, slerp)
from live.gen.bank import TENSORS_NAME, TOML_NAME
from live.types import Frame, GenControl


# -- slerp -------------------------------------------------------------------------------

def _unit(v):
    return v / np.linalg.norm(v)


def test_slerp_endpoints_any_shape():
    rng = np.random.default_rng(1)
    for shape in [(64,), (4, 8, 8), (2, 3)]:
        a = rng.standard_normal(shape).astype(np.float32)
        b = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-6)
        np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-5)
        assert slerp(a, b, 0.5).shape == shape


def test_slerp_known_quarter_circle():
    a = np.array([1.0, 0.0], np.float32)
    b = np.array([0.0, 1.0], np.float32)
    mid = slerp(a, b, 0.5)
    np.testing.assert_allclose(mid, [math.sqrt(0.5), math.sqrt(0.5)], atol=1e-6)
    third = slerp(a, b, 1 / 3)
    np.testing.assert_allclose(third, [math.cos(math.pi / 6), math.sin(math.pi / 6)], atol=1e-6)


def test_slerp_preserves_norm_of_unit_vectors():
    rng = np.random.default_rng(2)
    a = _unit(rng.standard_normal(128)).astype(np.float32)
    b = _unit(rng.standard_normal(128)).astype(np.float32)
    for t in np.linspace(0, 1, 11):
        assert abs(np.linalg.norm(slerp(a, b, t)) - 1.0) < 1e-5
    # lerp would lose norm in the middle: slerp must not
    assert np.linalg.norm(0.5 * (a + b)) < 0.8


def test_slerp_parallel_falls_back_to_lerp():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = a * 2.0  # exactly parallel: theta = 0, the slerp formula would divide by 0
    out = slerp(a, b, 0.25)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, 0.75 * a + 0.25 * b, rtol=1e-6)
    z = np.zeros(3, np.float32)
    np.testing.assert_allclose(slerp(z, a, 0.5), 0.5 * a, rtol=1e-6)


def test_slerp_clamps_t():
    a = np.array([1.0, 0.0], np.float32)
    b = np.array([0.0, 1.0], np.float32)
    np.testing.assert_allclose(slerp(a, b, -3.0), a)
    np.testing.assert_allclose(slerp(a, b, 7.0), b, atol=1e-6)
    np.testing.assert_allclose(slerp(a, b, float("nan")), a)


def test_slerp_out_allocates_nothing():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 64, 64)).astype(np.float32)
    b = rng.standard_normal((4, 64, 64)).astype(np.float32)
    out = np.empty_like(a)
    slerp(a, b, 0.3, out=out)  # warm up any lazy ufunc set-up
    tracemalloc.start()
    try:
        for t in np.linspace(0, 1, 50):
            slerp(a, b, float(t), out=out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4096, f"slerp with out= allocated {peak} bytes (a latent is {a.nbytes})"
    np.testing.assert_allclose(out, b, atol=1e-5)


def test_slerp_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        slerp(np.zeros(3), np.zeros(4), 0.5)


# -- banks -------------------------------------------------------------------------------

def _bank(n=5, shape=(8,), backend="toy", model_hash="abc123", noise=False, embeds=False):
    rng = np.random.default_rng(4)
    return LatentBank(
        name="t", backend=backend, model_id="toy-model", model_hash=model_hash,
        latents=rng.standard_normal((n,) + shape),
        noise=rng.standard_normal((n,) + shape) if noise else None,
        prompt_embeds=rng.standard_normal((n, 7, 16)) if embeds else None,
        labels=[{"seed": i, "prompt": f"a \"quoted\" prompt ü {i}\n"} for i in range(n)],
        meta={"steps": 2, "scheduler": "lcm"}, scaling_factor=0.18215)


def test_bank_round_trip(tmp_path):
    bank = _bank(noise=True, embeds=True)
    save_bank(bank, tmp_path / "b")
    back = load_bank(tmp_path / "b")
    np.testing.assert_array_equal(back.latents, bank.latents)
    np.testing.assert_array_equal(back.noise, bank.noise)
    np.testing.assert_array_equal(back.prompt_embeds, bank.prompt_embeds)
    assert back.labels == bank.labels
    assert (back.backend, back.model_id, back.model_hash) == ("toy", "toy-model", "abc123")
    assert back.latent_shape == (8,) and back.count == 5
    assert back.scaling_factor == pytest.approx(0.18215)
    assert back.meta == {"steps": 2, "scheduler": "lcm"}
    assert back.latents.dtype == np.float32 and not back.latents.flags.writeable
    # also by the toml path
    assert load_bank(tmp_path / "b" / TOML_NAME).count == 5


def test_bank_float16_storage(tmp_path):
    bank = _bank()
    bank.dtype = "float16"
    save_bank(bank, tmp_path)
    back = load_bank(tmp_path)
    assert back.dtype == "float16" and back.latents.dtype == np.float32
    np.testing.assert_allclose(back.latents, bank.latents, atol=2e-3)


def test_truncated_safetensors_is_bank_error(tmp_path):
    save_bank(_bank(), tmp_path)
    st = tmp_path / TENSORS_NAME
    data = st.read_bytes()
    st.write_bytes(data[: len(data) // 2])
    with pytest.raises(BankError, match="truncated or corrupt") as exc:
        load_bank(tmp_path)
    assert str(st) in str(exc.value)


def test_garbage_safetensors_is_bank_error(tmp_path):
    save_bank(_bank(), tmp_path)
    (tmp_path / TENSORS_NAME).write_bytes(b"\x00" * 3 + b"not a safetensors file at all" * 10)
    with pytest.raises(BankError, match=TENSORS_NAME):
        load_bank(tmp_path)


def test_missing_key_and_bad_toml_are_bank_errors(tmp_path):
    save_bank(_bank(), tmp_path)
    toml = tmp_path / TOML_NAME
    text = toml.read_text()
    toml.write_text(text.replace('backend = "toy"\n', ""))
    with pytest.raises(BankError, match="missing key 'backend'"):
        load_bank(tmp_path)
    toml.write_text("format = = 1\n")
    with pytest.raises(BankError, match="not valid TOML"):
        load_bank(tmp_path)


def test_count_disagreement_is_bank_error(tmp_path):
    save_bank(_bank(), tmp_path)
    toml = tmp_path / TOML_NAME
    toml.write_text(toml.read_text().replace("count = 5", "count = 4"))
    with pytest.raises(BankError):
        load_bank(tmp_path)


def test_non_finite_latents_rejected():
    lat = np.zeros((2, 4), np.float32)
    lat[1, 2] = np.nan
    with pytest.raises(BankError, match="NaN"):
        LatentBank(name="x", backend="toy", latents=lat)


def test_missing_folder_is_bank_error(tmp_path):
    with pytest.raises(BankError, match="not found"):
        load_bank(tmp_path / "nope")


# -- base class and set_bank -----------------------------------------------------------

class ToyGenerator(Generator):
    """A trivial backend: the picture is the latent's first value as a grey level."""

    name = "toy"

    def bank_spec(self):
        return BankSpec(backend="toy", model_hash="abc123", latent_shape=(8,), model_id="toy-model")

    def load(self):
        self._z = np.empty(8, np.float32)
        self.loaded = True

    def render(self, ctl):
        z = self.latent_into(ctl, self._z)
        px = np.full((self.size, self.size, 3), int(np.clip(z[0] * 50 + 128, 0, 255)), np.uint8)
        return Frame(pixels=px, control=ctl)


def test_set_bank_mismatch_names_both_sides_and_keeps_old():
    gen = ToyGenerator(size=16)
    gen.load()
    good = _bank()
    gen.set_bank(good)
    for bad, what in [(_bank(backend="vae"), "backend"), (_bank(model_hash="ffff9999"), "model"),
                      (_bank(shape=(4, 2)), "latent shape")]:
        with pytest.raises(BankMismatchError) as exc:
            gen.set_bank(bad)
        msg = str(exc.value)
        assert f"bank 't' was built for {bad.backend}" in msg
        assert "this generator is toy / model toy-model sha abc123 / latents (8,)" in msg
        assert what in msg
        assert gen.bank is good  # the previous bank stays active
    assert gen.render(GenControl()).pixels.shape == (16, 16, 3)


def test_prepare_bank_failure_keeps_old_bank():
    class Failing(ToyGenerator):
        def prepare_bank(self, bank):
            if bank.count == 3:
                raise BankError("cannot prepare")
            return "ok"

    gen = Failing(size=16)
    gen.load()
    first = _bank()
    gen.set_bank(first)
    with pytest.raises(BankError):
        gen.set_bank(_bank(n=3))
    assert gen.bank is first and gen.active_bank().state == "ok"


def test_latent_into_slerps_pulses_and_wraps_indices():
    gen = ToyGenerator(size=16, pulse_strength=0.5)
    gen.load()
    bank = _bank()
    gen.set_bank(bank)
    a = gen.active_bank()
    assert a.directions.shape == (16, 8)
    np.testing.assert_allclose(np.linalg.norm(a.directions, axis=1), 1.0, rtol=1e-5)
    out = np.empty(8, np.float32)
    gen.latent_into(GenControl(entry_a=1, entry_b=2, alpha=0.5), out)
    np.testing.assert_allclose(out, slerp(bank.latents[1], bank.latents[2], 0.5), atol=1e-5)
    # index 7 wraps to 2 in a bank of 5: a stale control never crashes
    gen.latent_into(GenControl(entry_a=7, entry_b=7), out)
    np.testing.assert_allclose(out, bank.latents[2], atol=1e-6)
    gen.latent_into(GenControl(entry_a=0, entry_b=0, pulse=1.0, pulse_dir=3), out)
    expected = bank.latents[0] + 0.5 * a.pulse_scale * a.directions[3]
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_render_without_bank_is_clear_error():
    gen = ToyGenerator(size=16)
    gen.load()
    with pytest.raises(Exception, match="no latent bank set"):
        gen.render(GenControl())


# -- registry ----------------------------------------------------------------------------

def test_registry_unknown_name():
    with pytest.raises(BackendUnavailableError, match="choose one of: embedded, vae, lcm"):
        get_generator("stylegan9")


def test_registry_embedded_by_name():
    gen = get_generator("embedded", size=64)
    assert gen.name == "embedded" and gen.size == 64


def test_importing_live_gen_does_not_import_torch():
    code = ("import sys, live.gen, live.banks.builder, live.bench.gen; "
            "g = live.gen.get_generator('embedded', size=32); g.load(); "
            "bad = [m for m in ('torch', 'diffusers', 'onnxruntime', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_registry_names_missing_dependency(tmp_path, monkeypatch):
    from live.gen import registry

    (tmp_path / "fake_backend_mod.py").write_text("import torch_nonexistent_pkg\nclass Gen: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.BACKENDS, "fake", "fake_backend_mod:Gen")
    with pytest.raises(BackendUnavailableError, match="needs the package 'torch_nonexistent_pkg'.*pip install"):
        get_generator("fake")
    monkeypatch.setitem(registry.BACKENDS, "gone", "live.gen.no_such_backend:Gen")
    with pytest.raises(BackendUnavailableError, match="not available in this installation"):
        get_generator("gone")
