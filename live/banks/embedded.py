"""Bank entries for the embedded backend: one entry per seed (its latent is the seed's)."""
from __future__ import annotations

from typing import Any

import numpy as np

from live.banks.builder import BankEntry, parse_seeds
from live.gen.embedded import LATENT_DIM, MODEL_HASH, MODEL_ID, EmbeddedGenerator, latent_from_seed

DEFAULT_SEEDS = "0-511"
DEFAULT_SIZE = 128


class EmbeddedEntrySource:
    """:class:`~live.banks.builder.EntrySource` for the embedded backend: one entry per seed."""

    backend = "embedded"
    model_id = MODEL_ID
    model_hash = MODEL_HASH
    latent_shape = (LATENT_DIM,)
    dtype = "float32"
    scaling_factor = 1.0

    def __init__(self, seeds: list[int], *, size: int = 128) -> None:
        self.seeds = [int(s) for s in seeds]
        self.gen = EmbeddedGenerator(size=size, internal=min(size, 128))
        self.gen.load()
        self._buf = np.empty((size, size, 3), np.uint8)

    def keys(self) -> list[str]:
        return [f"seed:{s}" for s in self.seeds]

    def make(self, key: str) -> BankEntry:
        seed = int(key.split(":", 1)[1])
        return BankEntry(latent=latent_from_seed(seed), label={"seed": seed, "label": f"seed {seed}"})

    def preview(self, entry: BankEntry) -> np.ndarray:
        return self.gen.render_latent(entry.latent, out=self._buf).copy()

    def close(self) -> None:
        self.gen.close()


def make_entry_source(args: Any) -> EmbeddedEntrySource:
    """The embedded EntrySource from ``bank build``'s parsed options (``--seeds``, ``--size``)."""
    seeds = parse_seeds(getattr(args, "seeds", None) or DEFAULT_SEEDS)
    return EmbeddedEntrySource(seeds, size=getattr(args, "size", None) or DEFAULT_SIZE)
