"""live.gen: the picture source. Generators by name, latent banks, slerp.

Importing this package is light (numpy only); backends load their heavy dependencies
when ``get_generator`` asks for them.
"""
from live.gen.bank import (BankError, BankMismatchError, LatentBank, check_bank, load_bank,
                           save_bank)
from live.gen.base import (ActiveBank, BackendUnavailableError, BankSpec, GenError, Generator,
                           pulse_directions)
from live.gen.registry import BACKENDS, backend_names, generator_class, get_generator
from live.gen.slerp import slerp

__all__ = [
    "ActiveBank", "BACKENDS", "BackendUnavailableError", "BankError", "BankMismatchError", "BankSpec",
    "GenError", "Generator", "LatentBank", "backend_names", "check_bank", "generator_class",
    "get_generator", "load_bank", "pulse_directions", "save_bank", "slerp",
]
