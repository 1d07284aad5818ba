"""Backends by name, imported lazily so the default path never imports torch.

``get_generator("embedded", size=256)`` imports ``live.gen.embedded`` only when asked;
``vae`` and ``lcm`` pull in their heavy dependencies (torch, diffusers, onnxruntime) only
then. An unknown name, or a backend whose dependency is missing, is a
:class:`~live.gen.base.BackendUnavailableError` with one line saying what to install.
"""
from __future__ import annotations

import importlib
from typing import Any

from live.gen.base import BackendUnavailableError, Generator

BACKENDS: dict[str, str] = {
    "embedded": "live.gen.embedded:EmbeddedGenerator",
    "vae": "live.gen.vae:VaeGenerator",
    "lcm": "live.gen.lcm:LcmGenerator",
}
"""name -> "module:Class"."""

_INSTALL_HINTS = {
    "torch": "pip install torch==2.13.0 (CPU) or the CUDA build of the same version",
    "diffusers": "pip install 'latent-live[diffusion]'",
    "transformers": "pip install 'latent-live[diffusion]'",
    "onnx": "pip install 'latent-live[diffusion]'",
    "onnxruntime": "pip install onnxruntime (or onnxruntime-gpu on a CUDA machine)",
    "peft": "pip install 'latent-live[diffusion]'",
    "safetensors": "pip install safetensors",
}


def backend_names() -> tuple[str, ...]:
    return tuple(BACKENDS)


def generator_class(name: str) -> type[Generator]:
    """Import and return the class of backend ``name`` (BackendUnavailableError if not possible)."""
    key = str(name).strip().lower()
    if key not in BACKENDS:
        raise BackendUnavailableError(
            f"unknown generator backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    module_name, _, cls_name = BACKENDS[key].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if exc.name == module_name:
            raise BackendUnavailableError(
                f"generator backend {key!r} is not available in this installation ({module_name} is missing)"
            ) from None
        hint = _INSTALL_HINTS.get(missing, f"pip install {missing}")
        raise BackendUnavailableError(
            f"generator backend {key!r} needs the package '{missing}', which is not installed: {hint}"
        ) from None
    try:
        return getattr(module, cls_name)
    except AttributeError:
        raise BackendUnavailableError(f"generator backend {key!r}: {module_name} defines no {cls_name}") from None


def get_generator(name: str, **kwargs: Any) -> Generator:
    """Construct backend ``name`` with keyword options (size, model, device, dtype, seed, ...).

    Construction is cheap; call ``load()`` on the result before rendering.
    """
    return generator_class(name)(**kwargs)
