"""The one place that finds bundled data (shaders, the default bank, the demo track).

Bundled data lives in the source checkout (a clone or an editable install) or, for a wheel,
under ``<prefix>/share/latent-live`` (pyproject's data files). Standard library only.
"""
from __future__ import annotations

import sys
from pathlib import Path


def data_roots() -> list[Path]:
    """Where bundled data may live, in order: the checkout, then <prefix>/share/latent-live."""
    return [Path(__file__).resolve().parent.parent, Path(sys.prefix) / "share" / "latent-live"]


def find_data(relative: str | Path, *, marker: str = "") -> Path:
    """The first root holding ``relative`` (and ``relative/marker`` when given); with none,
    the checkout's path, so that an error names a path the user can look at."""
    rel = Path(relative)
    for root in data_roots():
        p = root / rel
        if (p / marker).exists() if marker else p.exists():
            return p
    return data_roots()[0] / rel


def resolve_data_path(path: str | Path) -> Path:
    """A user path as given; a relative one that is not under the working directory is also
    looked up beside the bundled data, so ``latent_banks/default`` works from any folder."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    for root in data_roots():
        if (root / p).exists():
            return root / p
    return p
