"""The ``embedded`` generator: a seeded neural field that ships inside the repo.

No download, no GPU, numpy only. A small coordinate network (CPPN-style) maps every
pixel's position to a colour; its weights are *modulated by the latent vector* (a tiny
hypernetwork: ``W(z) = W0 + H z``), so each latent is a different picture and moving the
latent morphs it smoothly (every operation is continuous in ``z``).

Per pixel (internal resolution R x R, default 128)::

    c      = [x, y, r, 1]                                  fixed, precomputed in load()
    f      = sin(c @ M(z))                                 Fourier features, latent-steered
                                                           frequencies / orientations / phases
    h1     = tanh(f @ W1(z) + c @ V1(z))
    h2     = sin(h1 @ W2(z) + b2(z))
    h3     = tanh(h2 @ W3(z) + b3(z))
    o      = h3 @ Wo(z)                                    3 outputs: hue position, light, saturation
    colour = cosine palette(o0) (Quilez): a softmax blend of curated palettes chosen by z;
             shaded by o1 (light) and o2 (saturation)

The R x R picture is upsampled to ``size`` with a separable bilinear resampling done as
two matrix products into preallocated buffers. The weights come from a fixed seed in code
(``WEIGHT_SEED``), so there is no weight file; ``MODEL_ID``/``MODEL_HASH`` name this exact
network and banks built for it carry them.

A bank entry is a latent vector ``z`` (LATENT_DIM,) ~ N(0, 1) drawn from the entry's seed
(:func:`latent_from_seed`).
"""
from __future__ import annotations

import hashlib
import math
import threading
import time

import numpy as np

from live.gen.base import BankSpec, GenError, Generator
from live.types import Frame, GenControl

LATENT_DIM = 32
WEIGHT_SEED = 20240611
ARCH = "cppn-v1"   # bump when a change makes existing banks render differently
N_FOURIER = 24
HIDDEN = 32
MOD = 0.3          # how strongly the latent modulates the network (sensitivity of the picture)
MODEL_ID = f"embedded:{ARCH}"

# Curated cosine palettes (Inigo Quilez, "palettes"): rgb(t) = a + b cos(2 pi (c t + d)).
# Rows: a, b, c, d (each per channel R, G, B).
PALETTES = np.array([
    [[.5, .5, .5], [.5, .5, .5], [1, 1, 1], [0, .10, .20]],        # fire to deep blue
    [[.5, .5, .5], [.5, .5, .5], [1, 1, 1], [.30, .20, .20]],      # copper and teal
    [[.5, .5, .5], [.5, .5, .5], [1, 1, .5], [.80, .90, .30]],     # lime, violet, gold
    [[.5, .5, .5], [.5, .5, .5], [1, .7, .4], [0, .15, .20]],      # sunset
    [[.5, .5, .5], [.5, .5, .5], [2, 1, 0], [.50, .20, .25]],      # magenta and mint
    [[.8, .5, .4], [.2, .4, .2], [2, 1, 1], [0, .25, .25]],        # coral
    [[.5, .5, .5], [.5, .5, .5], [1, 1, 1], [0, .33, .67]],        # rainbow
    [[.5, .5, .5], [.5, .5, .5], [1, 1, 1], [.50, .60, .70]],      # ice and violet
    [[.55, .4, .6], [.45, .4, .4], [1, 1, 1], [.60, .35, .15]],    # orchid
    [[.4, .5, .6], [.4, .45, .4], [1, 1, 1], [.55, .45, .25]],     # ocean
], dtype=np.float32)
MODEL_HASH = hashlib.sha256(
    f"{ARCH}|seed={WEIGHT_SEED}|latent={LATENT_DIM}|fourier={N_FOURIER}|hidden={HIDDEN}".encode()
).hexdigest()[:16]


def latent_from_seed(seed: int) -> np.ndarray:
    """The bank latent of seed ``seed``: (LATENT_DIM,) float32 ~ N(0, 1)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xE3B]))
    return rng.standard_normal(LATENT_DIM).astype(np.float32)


class _Weights:
    """Base weights and latent modulation tensors, all from WEIGHT_SEED."""

    def __init__(self) -> None:
        rng = np.random.default_rng(WEIGHT_SEED)
        f32 = np.float32
        z = LATENT_DIM
        k = N_FOURIER
        h = HIDDEN
        mod = MOD
        # Fourier frequencies: a spread of scales (rad per unit of x in [-1, 1]).
        scales = np.geomspace(0.8, 7.0, k).astype(f32)
        ang = rng.uniform(0, 2 * np.pi, k).astype(f32)
        m0 = np.zeros((4, k), f32)
        m0[0] = np.cos(ang) * scales
        m0[1] = np.sin(ang) * scales
        m0[2] = rng.normal(0, 1.2, k)          # radial frequency
        m0[3] = rng.uniform(0, 2 * np.pi, k)   # phase
        self.m0 = m0
        hm = np.zeros((4, k, z), f32)
        hm[0] = rng.normal(0, 1, (k, z)) * (0.35 * scales[:, None] / math.sqrt(z))
        hm[1] = rng.normal(0, 1, (k, z)) * (0.35 * scales[:, None] / math.sqrt(z))
        hm[2] = rng.normal(0, 0.8 / math.sqrt(z), (k, z))
        hm[3] = rng.normal(0, 2.5 / math.sqrt(z), (k, z))
        hm *= mod
        self.hm = hm.reshape(4 * k, z)

        def layer(n_in: int, n_out: int, gain: float, mod: float) -> tuple[np.ndarray, np.ndarray]:
            w0 = rng.normal(0, gain / math.sqrt(n_in), (n_in, n_out)).astype(f32)
            hw = rng.normal(0, MOD * mod * gain / math.sqrt(n_in * z), (n_in * n_out, z)).astype(f32)
            return w0, hw

        self.w1, self.hw1 = layer(k, h, 1.6, 1.0)
        self.v1, self.hv1 = layer(4, h, 1.2, 1.0)
        self.w2, self.hw2 = layer(h, h, 2.2, 0.9)
        self.b2, self.hb2 = layer(1, h, 1.0, 1.2)
        self.w3, self.hw3 = layer(h, h, 1.8, 0.9)
        self.b3, self.hb3 = layer(1, h, 0.5, 1.0)
        self.wo, self.hwo = layer(h, 3, 1.5, 0.8)
        # palette: hue d0, channel spread, span, shade contrast, zoom, 3 channel frequencies
        self.hp = rng.normal(0, 1.0 / math.sqrt(z), (8, z)).astype(f32)
        self.hsel = rng.normal(0, 1.0 / math.sqrt(z), (len(PALETTES), z)).astype(f32)


_BLAS_LOCAL = None


def _blas_single_thread() -> None:
    """Make numpy's OpenBLAS use one thread *in the calling thread only*.

    The matrices here are small (R*R x 32): OpenBLAS's worker threads cost more than they
    save and, on a 2-core machine shared with audio analysis and GL, spin-wait against
    them (measured 10x slower under load). ``openblas_set_num_threads_local`` (OpenBLAS
    >= 0.3.27) changes only this thread; where it is missing nothing happens.
    """
    global _BLAS_LOCAL
    if _BLAS_LOCAL is None:
        _BLAS_LOCAL = False
        try:
            import ctypes

            with open("/proc/self/maps", encoding="ascii", errors="replace") as fh:
                paths = {line.split()[-1] for line in fh if "openblas" in line and "/" in line}
            for path in sorted(paths):
                fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.argtypes = [ctypes.c_int]
                    _BLAS_LOCAL = fn
                    break
        except (OSError, ValueError, AttributeError):
            _BLAS_LOCAL = False
    if _BLAS_LOCAL:
        _BLAS_LOCAL(1)


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation (+1e-3) of a 1-D float32 array without a temporary."""
    n = x.shape[0]
    mean = float(np.add.reduce(x)) / n
    var = max(float(np.dot(x, x)) / n - mean * mean, 0.0)
    return mean, math.sqrt(var) + 1e-3


def _resample_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) bilinear resampling with pixel centres aligned (like GL_LINEAR)."""
    m = np.zeros((n_out, n_in), np.float32)
    if n_out == n_in:
        np.fill_diagonal(m, 1.0)
        return m
    pos = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (pos - lo).astype(np.float32)
    m[np.arange(n_out), lo] += 1 - w
    m[np.arange(n_out), hi] += w
    return m


def default_internal(size: int) -> int:
    """Internal resolution for an output size: 128 up to 384 px, then a third of the size."""
    return min(size, 128) if size <= 384 else size // 3


class EmbeddedGenerator(Generator):
    """The default backend: a latent-modulated neural field on the CPU (numpy).

    Options: ``internal`` (internal resolution, default :func:`default_internal`),
    ``pulse_strength`` (see :class:`~live.gen.base.Generator`).
    Output: ``Frame.pixels`` (size, size, 3) uint8.
    """

    name = "embedded"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        internal = int(self.options.pop("internal", default_internal(self.size)))
        if internal < 8 or internal > self.size:
            raise GenError(f"embedded: internal resolution must be 8..size ({self.size}), got {internal}")
        self.internal = internal
        if self.model and self.model not in (ARCH, MODEL_ID):
            raise GenError(f"embedded: unknown model {self.model!r}; the embedded generator is {MODEL_ID} "
                           f"(leave the model setting empty)")

    # -- set-up ---------------------------------------------------------------------------
    def bank_spec(self) -> BankSpec:
        return BankSpec(backend="embedded", model_hash=MODEL_HASH, latent_shape=(LATENT_DIM,), model_id=MODEL_ID)

    def load(self) -> None:
        f32 = np.float32
        self.w = _Weights()
        r = self.internal
        p = r * r
        lin = (np.arange(r, dtype=f32) + 0.5) / r * 2.0 - 1.0
        yy, xx = np.meshgrid(lin, lin, indexing="ij")
        c = np.empty((p, 4), f32)
        c[:, 0] = xx.reshape(-1)
        c[:, 1] = yy.reshape(-1)
        c[:, 2] = np.sqrt(xx * xx + yy * yy).reshape(-1)
        c[:, 3] = 1.0
        self._c = c
        k, h = N_FOURIER, HIDDEN
        # per-frame weights
        self._m = np.empty((4, k), f32)
        self._w1 = np.empty((k, h), f32)
        self._v1 = np.empty((4, h), f32)
        # layers 2 and 3 carry their bias as an extra weight row against a constant-1
        # input column (a broadcast add would make numpy allocate a buffer every frame)
        self._w2a = np.empty((h + 1, h), f32)
        self._w3a = np.empty((h + 1, h), f32)
        self._w2, self._b2 = self._w2a[:h], self._w2a[h:]
        self._w3, self._b3 = self._w3a[:h], self._w3a[h:]
        self._wo = np.empty((h, 3), f32)
        self._pal = np.empty(8, f32)
        self._pal_logits = np.empty(len(PALETTES), f32)
        self._pal_mix = np.empty(12, f32)
        # per-pixel activations
        self._f = np.empty((p, k), f32)
        self._h1a = np.ones((p, h + 1), f32)         # last column stays 1
        self._h2a = np.ones((p, h + 1), f32)
        self._h1, self._h2 = self._h1a[:, :h], self._h2a[:, :h]
        self._t1 = np.empty((p, h), f32)
        self._t2 = np.empty((p, h), f32)
        self._o = np.empty((p, 3), f32)
        self._rgb = np.empty((3, p), f32)          # planar colour at internal resolution
        self._tmp = np.empty(p, f32)
        self._shade = np.empty(p, f32)
        self._sat = np.empty(p, f32)
        self._z = np.empty(LATENT_DIM, f32)
        self._z_ctl = np.empty(LATENT_DIM, f32)
        self._blas_thread = None
        # upsampling: out_c = Ry @ img_c @ Rx^T
        s = self.size
        self._ry = _resample_matrix(s, r)
        self._rxt = np.ascontiguousarray(_resample_matrix(s, r).T)
        self._up1 = np.empty((r, s), f32)
        self._up = np.empty((3, s, s), f32)
        self._u8 = np.empty((3, s, s), np.uint8)
        self._scratch = np.empty((s, s), f32)
        self.loaded = True
        # warm-up: one render of a fixed latent, so first-call costs are paid here
        self.render_latent(latent_from_seed(0), out=np.empty((s, s, 3), np.uint8))

    # -- rendering ------------------------------------------------------------------------
    def _modulate(self, z: np.ndarray) -> None:
        w = self.w
        np.matmul(w.hm, z, out=self._m.reshape(-1))
        self._m += w.m0
        for base, hyper, dst in ((w.w1, w.hw1, self._w1), (w.v1, w.hv1, self._v1), (w.w2, w.hw2, self._w2),
                                 (w.b2, w.hb2, self._b2), (w.w3, w.hw3, self._w3), (w.b3, w.hb3, self._b3),
                                 (w.wo, w.hwo, self._wo)):
            np.matmul(hyper, z, out=dst.reshape(-1))
            dst += base
        np.matmul(w.hp, z, out=self._pal)
        # zoom: the latent also scales the coordinates (bigger or finer forms)
        self._m[:3] *= math.exp(0.3 * math.tanh(float(self._pal[4])))

    def _field(self) -> None:
        """Evaluate the network for every pixel; fills self._rgb (3, R*R) in 0..1."""
        np.matmul(self._c, self._m, out=self._f)
        np.sin(self._f, out=self._f)
        # activations run on contiguous work buffers (ufuncs on strided views allocate
        # buffers); results are copied beside the constant-1 column for the next layer
        a, b = self._t1, self._t2
        np.matmul(self._f, self._w1, out=a)
        np.matmul(self._c, self._v1, out=b)
        a += b
        np.tanh(a, out=a)
        self._h1[...] = a
        np.matmul(self._h1a, self._w2a, out=a)   # h1 @ W2 + b2
        np.sin(a, out=a)
        self._h2[...] = a
        np.matmul(self._h2a, self._w3a, out=a)   # h2 @ W3 + b3
        np.tanh(a, out=a)
        np.matmul(a, self._wo, out=self._o)
        o = self._o
        pal = self._pal
        # hue position: standardised so every latent spans a good part of the palette
        t = self._tmp
        np.copyto(t, o[:, 0])
        mean, std = _mean_std(t)
        # palette: a soft (softmax) blend of curated cosine palettes chosen by the latent,
        # rotated a little; freq sets how much of the palette one picture spans.
        pa, pb, pc, pd = self._palette(pal)
        freq = 0.42 + 0.14 * math.tanh(float(pal[2]))   # palette span per standard deviation
        t -= mean
        t *= freq / std
        # light and saturation: tanh of standardised outputs
        shade = self._shade
        np.copyto(shade, o[:, 1])
        m1, s1 = _mean_std(shade)
        shade -= m1
        shade *= (1.4 + 0.4 * math.tanh(float(pal[3]))) / s1
        np.tanh(shade, out=shade)
        shade *= 0.45
        shade += 0.6                                    # 0.15 .. 1.05
        sat = self._sat
        np.multiply(o[:, 2], 0.8, out=sat)
        np.tanh(sat, out=sat)
        sat *= 0.15
        sat += 0.9                                      # 0.75 .. 1.05
        for ch in range(3):
            row = self._rgb[ch]
            np.multiply(t, float(pc[ch]), out=row)
            row += float(pd[ch])
            row *= 2.0 * math.pi
            np.cos(row, out=row)
            # rgb = a + b cos(...), saturation scaling b, then light
            row *= float(pb[ch])
            row *= sat
            row += float(pa[ch])
            row *= shade

    def _palette(self, pal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, c, d) of the cosine palette for this latent: softmax blend of PALETTES."""
        logits = self._pal_logits
        np.matmul(self.w.hsel, self._z, out=logits)
        logits *= 5.0                                   # mostly one palette, soft changes
        logits -= logits.max()
        np.exp(logits, out=logits)
        logits /= logits.sum()
        np.matmul(logits, PALETTES.reshape(len(PALETTES), -1), out=self._pal_mix)
        mix = self._pal_mix.reshape(4, 3)
        mix[3] += 0.1 * math.tanh(float(pal[0]))         # small hue rotation
        return mix[0], mix[1], mix[2], mix[3]

    def render_latent(self, z: np.ndarray, *, out: np.ndarray) -> np.ndarray:
        """Render latent ``z`` (LATENT_DIM,) into ``out`` (size, size, 3) uint8; returns ``out``."""
        if not self.loaded:
            raise GenError("embedded: call load() before rendering")
        tid = threading.get_ident()
        if tid != self._blas_thread:
            _blas_single_thread()
            self._blas_thread = tid
        np.copyto(self._z, z)
        self._modulate(self._z)
        self._field()
        r = self.internal
        for ch in range(3):
            img = self._rgb[ch].reshape(r, r)
            np.matmul(img, self._rxt, out=self._up1)
            np.matmul(self._ry, self._up1, out=self._up[ch])
        up = self._up
        np.clip(up, 0.0, 1.0, out=up)
        up *= 255.0
        up += 0.5
        # cast contiguous -> contiguous (no ufunc buffers), then interleave uint8 planes
        np.copyto(self._u8, up, casting="unsafe")
        for ch in range(3):
            out[:, :, ch] = self._u8[ch]
        return out

    def render(self, ctl: GenControl) -> Frame:
        t0 = time.perf_counter()
        active = self.active_bank()
        self.latent_into(ctl, self._z_ctl, active=active)
        out = np.empty((self.size, self.size, 3), np.uint8)
        self.render_latent(self._z_ctl, out=out)
        out.flags.writeable = False
        self.frame_index += 1
        return Frame(pixels=out, control=ctl, gen_ms=(time.perf_counter() - t0) * 1e3, index=self.frame_index)

    def close(self) -> None:
        super().close()
        for k in [k for k in self.__dict__ if k.startswith("_") and isinstance(self.__dict__[k], np.ndarray)]:
            self.__dict__[k] = None
