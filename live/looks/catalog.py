"""The look library: named shader chains with their own parameters, one TOML file each.

A look is ``looks/NAME.toml`` in a shader folder (the bundled ``shaders/looks/`` or a
folder of ``[render] shader_dirs``)::

    description = "an endless tunnel of the picture ..."
    order = 1                          # place in the numbered list (then by name)
    passes = ["trails", "looks/tunnel"]   # shader passes, found like any chain pass
    strobe = false                     # true: its flashes are intended strobe frames

    [params.speed]                     # control look.tunnel.speed, uniform u_look_speed
    default = 0.4
    range = [0.0, 1.0]
    doc = "travel speed down the tunnel"

Each parameter is a control ``look.NAME.KEY`` (OSC ``/live/look/NAME/KEY``) in the
parameter table, and reaches that look's passes as the uniform ``u_look_KEY``, so a copied
look keeps working under a new name. The TOML file is the one truth: the parameter table
reads the bundled looks from here.

Standard library only (the parameter table imports it).
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

DEFAULT_LOOK = "classic"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class LookError(ValueError):
    """A look file is missing, unreadable or malformed (one line naming the file and the key)."""


@dataclass(frozen=True)
class LookParam:
    key: str
    default: float
    lo: float
    hi: float
    doc: str

    @property
    def uniform(self) -> str:
        return f"u_look_{self.key}"


@dataclass(frozen=True)
class Look:
    name: str
    description: str
    passes: tuple[str, ...]
    params: tuple[LookParam, ...]
    path: Path
    order: int = 1000
    strobe: bool = False

    def control(self, key: str) -> str:
        """The parameter-table name of this look's parameter ``key``."""
        return f"look.{self.name}.{key}"

    def uniforms(self, controls: "dict | None" = None) -> dict[str, float]:
        """``u_look_KEY`` -> value for this look: from ``controls`` (by control name) where
        present and finite, else the look's default; clamped to the parameter's range."""
        out = {}
        for p in self.params:
            v = p.default
            if controls is not None:
                try:
                    x = float(controls.get(self.control(p.key), p.default))
                    v = x if math.isfinite(x) else p.default
                except (TypeError, ValueError):
                    pass
            out[p.uniform] = min(max(v, p.lo), p.hi)
        return out


def _num(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LookError(f"{where} must be a number, got {value!r}")
    return float(value)


def load_look(path: Path) -> Look:
    """Read one look file; :class:`LookError` naming the file and the bad key."""
    path = Path(path)
    name = path.stem
    if not _NAME.match(name):
        raise LookError(f"{path}: a look's file name must be lower-case letters, digits and _ "
                        f"(starting with a letter, at most 32), got {name!r}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise LookError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LookError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"description", "order", "passes", "strobe", "params"}
    if unknown:
        raise LookError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
                        "a look has description, order, passes, strobe, [params.KEY]")
    passes = data.get("passes")
    if not isinstance(passes, list) or not passes or not all(isinstance(p, str) and p for p in passes):
        raise LookError(f"{path}: passes must be a non-empty list of shader names, e.g. [\"trails\", \"looks/{name}\"]")
    params = []
    for key, spec in (data.get("params") or {}).items():
        where = f"{path}: [params.{key}]"
        if not _NAME.match(key):
            raise LookError(f"{where}: a parameter name is lower-case letters, digits and _")
        if not isinstance(spec, dict):
            raise LookError(f"{where} must be a table with default, range, doc")
        rng = spec.get("range", [0.0, 1.0])
        if not isinstance(rng, list) or len(rng) != 2:
            raise LookError(f"{where}: range must be [lo, hi]")
        lo, hi = _num(rng[0], where + " range"), _num(rng[1], where + " range")
        default = _num(spec.get("default", lo), where + " default")
        if not lo < hi or not lo <= default <= hi:
            raise LookError(f"{where}: needs lo < hi and the default inside the range, got "
                            f"range [{lo:g}, {hi:g}], default {default:g}")
        params.append(LookParam(key, default, lo, hi, str(spec.get("doc", key))))
    order = data.get("order", 1000)
    if isinstance(order, bool) or not isinstance(order, int):
        raise LookError(f"{path}: order must be an integer")
    return Look(name=name, description=str(data.get("description", "")), passes=tuple(passes),
                params=tuple(params), path=path, order=order, strobe=bool(data.get("strobe", False)))


def bundled_looks_dir() -> Path:
    from live.render.shaderlib import bundled_dir

    return bundled_dir() / "looks"


def discover(shader_dirs: Sequence[Path | str] = (), *, include_bundled: bool = True,
             errors: list | None = None) -> list[Look]:
    """Every look in ``DIR/looks/*.toml`` of the user folders (first wins) and the bundled
    folder, ordered by (order, name): the index in this list is the look's number.
    A broken file is skipped; its message goes to ``errors`` when given, else raises."""
    dirs = [Path(d).expanduser() / "looks" for d in shader_dirs]
    if include_bundled:
        dirs.append(bundled_looks_dir())
    found: dict[str, Look] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.toml")):
            if f.stem in found:
                continue
            try:
                found[f.stem] = load_look(f)
            except LookError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
    return sorted(found.values(), key=lambda lk: (lk.order, lk.name))


def bundled_params() -> list[tuple[str, LookParam]]:
    """(look name, parameter) of every bundled look, in look order: the parameter table's source.
    Broken bundled files are a packaging bug: they raise."""
    return [(lk.name, p) for lk in discover(include_bundled=True) for p in lk.params]


def listing(looks: Iterable[Look]) -> str:
    """``latent-live looks``: number, name, passes, parameters, description."""
    lines = []
    for i, lk in enumerate(looks):
        lines.append(f"{i:>2}  {lk.name:<10} {lk.description}")
        lines.append(f"    passes: {', '.join(lk.passes)}" + ("   (strobe)" if lk.strobe else ""))
        for p in lk.params:
            lines.append(f"    {lk.control(p.key):<24} {p.lo:g}..{p.hi:g} (default {p.default:g})  {p.doc}")
    return "\n".join(lines)
