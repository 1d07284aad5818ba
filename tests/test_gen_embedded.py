"""The embedded generator: objective checks that its pictures are structured, colourful,
distinct per entry, smooth along a walk, deterministic, and cheap to render."""
from __future__ import annotations

import itertools
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from live.gen import get_generator, load_bank, slerp
from live.banks.builder import colourfulness
from live.gen.embedded import LATENT_DIM, MODEL_HASH, EmbeddedGenerator, latent_from_seed
from live.types import GenControl

DEFAULT_BANK = Path(__file__).resolve().parents[1] / "latent_banks" / "default"
SIZE = 256


@pytest.fixture(scope="module")
def gen():
    g = EmbeddedGenerator(size=SIZE)
    g.load()
    g.set_bank(load_bank(DEFAULT_BANK))
    yield g
    g.close()


def _render(g, z):
    out = np.empty((g.size, g.size, 3), np.uint8)
    return g.render_latent(np.asarray(z, np.float32), out=out)


def low_frequency_fraction(img: np.ndarray, *, cutoff: float = 0.125) -> float:
    """Share of the luminance spectrum's energy (DC removed) below ``cutoff`` cycles/pixel.

    0.125 cycles/pixel = wavelengths longer than 8 px. White noise puts ~5 % there.
    """
    y = img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    y -= y.mean()
    power = np.abs(np.fft.fft2(y)) ** 2
    fy = np.fft.fftfreq(y.shape[0])[:, None]
    fx = np.fft.fftfreq(y.shape[1])[None, :]
    return float(power[np.hypot(fx, fy) < cutoff].sum() / power.sum())


def test_default_bank_fits_the_generator(gen):
    bank = gen.bank
    assert bank.backend == "embedded" and bank.model_hash == MODEL_HASH
    assert bank.latent_shape == (LATENT_DIM,) and bank.count >= 16
    assert (DEFAULT_BANK / "contact_sheet.png").is_file()


def test_frame_contract(gen):
    f = gen.render(GenControl(entry_a=0, entry_b=1, alpha=0.25))
    assert f.pixels.shape == (SIZE, SIZE, 3) and f.pixels.dtype == np.uint8
    assert not f.pixels.flags.writeable
    assert f.gen_ms > 0 and f.control.alpha == 0.25


def test_structured_not_noise(gen):
    # Spectral check: nearly all energy in low spatial frequencies, unlike noise.
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    assert low_frequency_fraction(noise) < 0.1
    fractions = [low_frequency_fraction(_render(gen, z)) for z in gen.bank.latents[:8]]
    assert min(fractions) > 0.9, fractions
    # ...and not flat: real contrast in every picture
    for z in gen.bank.latents[:8]:
        assert _render(gen, z).astype(np.float32).std() > 25


def test_colourful(gen):
    # Hasler & Suesstrunk (2003) colourfulness M: 33 = "moderately colourful", 45 =
    # "averagely colourful" on their perceptual scale (a flat grey picture is 0). Every
    # shipped entry must be at least moderately colourful, and the median entry at least
    # averagely so; random seeds too, on the median (a few seeds draw subtle palettes).
    bank_m = [colourfulness(_render(gen, z)) for z in gen.bank.latents]
    assert min(bank_m) > 33, bank_m
    assert np.median(bank_m) > 45, bank_m
    seeds_m = [colourfulness(_render(gen, latent_from_seed(s))) for s in range(1000, 1012)]
    assert np.median(seeds_m) > 45, seeds_m


def test_entries_differ_clearly(gen):
    pics = [_render(gen, z).astype(np.float32) for z in gen.bank.latents[:8]]
    diffs = [np.abs(a - b).mean() for a, b in itertools.combinations(pics, 2)]
    assert min(diffs) > 20, min(diffs)  # grey levels out of 255, mean over all pixels


def test_small_step_small_change_large_step_large_change(gen):
    a, b = gen.bank.latents[0], gen.bank.latents[1]
    base = _render(gen, a).astype(np.float32)
    z = np.empty_like(a)
    changes = []
    for t in (0.01, 0.03, 0.1, 0.3):
        slerp(a, b, t, out=z)
        changes.append(float(np.abs(_render(gen, z).astype(np.float32) - base).mean()))
    assert all(x < y for x, y in zip(changes, changes[1:])), changes  # monotonic
    assert changes[0] < 8.0, changes   # 1 % of the way: a few grey levels
    assert changes[-1] > 25.0, changes  # 30 % of the way: a clearly different picture


def test_deterministic_and_independent_of_instance():
    z = latent_from_seed(7)
    g1 = EmbeddedGenerator(size=96)
    g1.load()
    g2 = get_generator("embedded", size=96, seed=123)  # seed only moves pulse directions
    g2.load()
    np.testing.assert_array_equal(_render(g1, z), _render(g2, z))
    np.testing.assert_array_equal(latent_from_seed(7), z)
    assert not np.array_equal(_render(g1, z), _render(g1, latent_from_seed(8)))


def test_pulse_moves_the_picture(gen):
    still = gen.render(GenControl(entry_a=2, entry_b=2)).pixels.astype(np.float32)
    small = gen.render(GenControl(entry_a=2, entry_b=2, pulse=0.1, pulse_dir=5)).pixels.astype(np.float32)
    big = gen.render(GenControl(entry_a=2, entry_b=2, pulse=1.0, pulse_dir=5)).pixels.astype(np.float32)
    assert 0 < np.abs(small - still).mean() < np.abs(big - still).mean()


def test_render_allocates_only_the_output(gen):
    ctl = GenControl(entry_a=3, entry_b=4, alpha=0.4, pulse=0.3, pulse_dir=2)
    gen.render(ctl)
    tracemalloc.start()
    try:
        frame = gen.render(ctl)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the output picture plus a few small Python objects (Frame, floats): no work arrays
    assert peak < frame.pixels.nbytes + 4096, peak


@pytest.mark.parametrize("size", [64, 200, 512])
def test_sizes(size):
    g = EmbeddedGenerator(size=size)
    g.load()
    g.set_bank(load_bank(DEFAULT_BANK))
    assert g.render(GenControl(entry_a=1, entry_b=2, alpha=0.5)).pixels.shape == (size, size, 3)
