"""The Generator protocol every backend (embedded, vae, lcm) implements.

Life cycle::

    gen = get_generator("embedded", size=256, seed=0)
    gen.load()                      # all weight loading, allocation, export, warm-up
    gen.set_bank(load_bank("latent_banks/default"))
    frame = gen.render(GenControl(entry_a=0, entry_b=1, alpha=0.3))   # compute only
    gen.close()

``set_bank`` may be called again while a show runs (from another thread): the new bank
is validated and prepared first and only then swapped in with one reference rebind, so a
bad bank raises and the previous one stays active, and ``render`` never sees half a bank.

Backends call :meth:`Generator.active_bank` once at the top of ``render`` and
:meth:`Generator.latent_into` to get the latent to draw (slerp between the two entries
plus the onset pulse) into a preallocated buffer.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from live.errors import GenError
from live.gen.bank import BankSpec, LatentBank, check_bank
from live.gen.slerp import _axpy, slerp
from live.types import Frame, GenControl

__all__ = ["ActiveBank", "BackendUnavailableError", "BankSpec", "GenError", "Generator", "pulse_directions"]

PULSE_DIRECTIONS = 16
"""Number of seeded random unit directions an onset pulse may push the latent along."""


class BackendUnavailableError(GenError):
    """A backend name is unknown, or its optional dependencies are not installed."""


@dataclass(frozen=True)
class ActiveBank:
    """A bank as prepared by :meth:`Generator.set_bank`; swapped in as one reference.

    ``directions`` is (PULSE_DIRECTIONS, *latent_shape) float32 of unit norm;
    ``pulse_scale`` is the mean latent norm of the bank (a pulse of 1 moves the latent by
    ``pulse_strength * pulse_scale``); ``state`` is whatever the backend's
    :meth:`Generator.prepare_bank` returned (e.g. tensors on the device).
    """

    bank: "LatentBank"
    directions: np.ndarray
    pulse_scale: float
    state: Any = None


class Generator(ABC):
    """Base class of all backends. See the module docstring for the life cycle.

    Keyword-only constructor; options a backend does not know are kept in ``self.options``.
    ``size`` is the edge of the square output picture in pixels; ``model`` a local
    folder or file (unused by ``embedded``); ``device`` auto|cpu|cuda; ``dtype``
    auto|float32|float16; ``seed`` seeds pulse directions and any sampler noise.
    ``pulse_strength`` (option, default 0.5) scales the onset pulse.
    """

    name: ClassVar[str] = "?"

    def __init__(self, *, size: int = 256, model: str = "", device: str = "auto", dtype: str = "auto",
                 seed: int = 0, **options: Any) -> None:
        size = int(size)
        if size < 16 or size > 4096:
            raise GenError(f"generator size must be 16..4096 pixels, got {size}")
        self.size = size
        self.model = str(model or "")
        self.device = str(device or "auto")
        self.dtype = str(dtype or "auto")
        self.seed = int(seed)
        self.pulse_strength = float(options.pop("pulse_strength", 0.5))
        self.options = dict(options)
        self.loaded = False
        self.frame_index = 0
        self._active: ActiveBank | None = None

    # -- life cycle ---------------------------------------------------------------------
    @abstractmethod
    def load(self) -> None:
        """Load weights, allocate every buffer, export/compile and warm up. Call once."""

    @abstractmethod
    def render(self, ctl: GenControl) -> Frame:
        """Compute one picture: ``Frame.pixels`` (size, size, 3) uint8. Allocate nothing else."""

    def close(self) -> None:
        """Release buffers and models. The generator cannot render afterwards."""
        self._active = None
        self.loaded = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- banks --------------------------------------------------------------------------
    def bank_spec(self) -> BankSpec:
        """The bank this generator accepts. Backends override (may need ``load()`` first)."""
        raise NotImplementedError(f"{type(self).__name__} does not define bank_spec()")

    def prepare_bank(self, bank: "LatentBank") -> Any:
        """Backend hook: precompute per-bank state (e.g. move latents to the device).

        Called by :meth:`set_bank` after validation, before the swap; raising here keeps
        the previous bank. The return value is available as ``active_bank().state``.
        """
        return None

    def set_bank(self, bank: "LatentBank") -> None:
        """Validate ``bank`` against :meth:`bank_spec`, precompute and swap it in.

        Raises :class:`~live.gen.bank.BankMismatchError` naming both sides when the bank was
        built for another backend, model or latent shape. On any error the previously
        active bank stays active.
        """
        check_bank(bank, self.bank_spec())
        directions, scale = pulse_directions(bank, seed=self.seed)
        state = self.prepare_bank(bank)
        self._active = ActiveBank(bank=bank, directions=directions, pulse_scale=scale, state=state)

    @property
    def bank(self) -> "LatentBank | None":
        a = self._active
        return a.bank if a is not None else None

    def active_bank(self) -> ActiveBank:
        """The current bank snapshot (read once per render). GenError if none is set."""
        a = self._active
        if a is None:
            raise GenError(f"{self.name}: no latent bank set; call set_bank(load_bank(PATH)) first")
        return a

    def latent_into(self, ctl: GenControl, out: np.ndarray, *, active: ActiveBank | None = None,
                    array: str = "latents") -> np.ndarray:
        """Write the latent to draw for ``ctl`` into ``out`` (latent_shape); no allocation.

        ``slerp(bank.<array>[entry_a], bank.<array>[entry_b], alpha)`` then
        ``+= pulse * pulse_strength * pulse_scale * directions[pulse_dir]``.
        Entry and direction indices wrap modulo their counts, so a stale control from a
        bigger bank never crashes a show. ``array`` may be "latents" or "noise".
        """
        a = active if active is not None else self.active_bank()
        table = getattr(a.bank, array)
        n = table.shape[0]
        slerp(table[int(ctl.entry_a) % n], table[int(ctl.entry_b) % n], ctl.alpha, out=out)
        amount = float(ctl.pulse) * self.pulse_strength * a.pulse_scale
        if amount != 0.0 and math.isfinite(amount):
            d = a.directions[int(ctl.pulse_dir) % a.directions.shape[0]]
            _axpy(out, d, amount)  # out += amount * d, without a temporary array
        return out


def pulse_directions(bank: "LatentBank", *, seed: int = 0, count: int = PULSE_DIRECTIONS,
                     array: str = "latents") -> tuple[np.ndarray, float]:
    """Seeded random unit directions of the bank's latent shape and the bank's mean norm.

    Returns ``(directions (count, *latent_shape) float32, mean latent norm)``.
    """
    table = getattr(bank, array)
    shape = tuple(table.shape[1:])
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x9E3779B9]))
    d = rng.standard_normal((count, int(np.prod(shape)))).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    flat = table.reshape(table.shape[0], -1)
    scale = float(np.mean(np.linalg.norm(flat, axis=1))) if flat.shape[0] else 1.0
    if not math.isfinite(scale) or scale <= 0:
        scale = 1.0
    return d.reshape((count,) + shape), scale
