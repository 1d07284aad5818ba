"""Latent banks: a folder holding the latents a show walks between.

Layout of a bank folder::

    bank.toml            format = 1, name, backend, model_id, model_hash, latent_shape,
                         dtype, scaling_factor, count, created, [meta], [[entries]]
    bank.safetensors     latents (N, *latent_shape); optional noise (N, *latent_shape)
                         and prompt_embeds (N, seq, dim); any other tensor with first dim N
    contact_sheet.png    all entries at a glance (written by the bank builder)

Only TOML and safetensors are read: no pickle anywhere. Everything is validated on load
(count, shapes, dtype, finite values), and any problem is a :class:`BankError` naming the
file and what to do, so a running show can refuse a bad bank and keep its current one.
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from live.errors import GenError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BANK_FORMAT = 1
TOML_NAME = "bank.toml"
TENSORS_NAME = "bank.safetensors"
CONTACT_SHEET_NAME = "contact_sheet.png"
_STORAGE_DTYPES = ("float32", "float16")
_REBUILD_HINT = "rebuild it with 'latent-live bank build' (see --help)"
# sizes checked before anything is read: a bank.toml is a few bytes per entry (100k entries fit);
# a safetensors header describes a handful of tensors
MAX_TOML_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024
_ST_DTYPES = {"F16": ("float16", 2), "F32": ("float32", 4), "F64": ("float64", 8)}


@dataclass(frozen=True)
class BankSpec:
    """What kind of bank a generator accepts.

    ``model_hash`` None means "any model of this backend" (e.g. a generator not loaded yet).
    ``latent_shape`` is the shape of ONE latent, e.g. ``(64,)`` or ``(4, 64, 64)``.
    """

    backend: str
    model_hash: str | None
    latent_shape: tuple[int, ...]
    model_id: str = ""

    def describe(self) -> str:
        model = self.model_id or "?"
        sha = (self.model_hash or "any")[:12]
        return f"{self.backend} / model {model} sha {sha} / latents {tuple(self.latent_shape)}"


class BankError(GenError):
    """A bank folder is missing, truncated, corrupt or inconsistent."""


class BankMismatchError(BankError):
    """A bank was built for another backend, model or latent shape than the generator's."""


@dataclass
class LatentBank:
    """A loaded bank. Arrays are float32 and read-only.

    latents : (N, *latent_shape)   the clean latents (embedded: latent vectors; vae/lcm:
                                   scaled VAE latents)
    noise : (N, *latent_shape) | None        lcm starting noise per entry
    prompt_embeds : (N, seq, dim) | None     lcm text-encoder output per entry
    labels : list of N dicts                 per entry: label, seed, prompt, source...
    tensors : other named arrays with first dim N (backend-specific extras)
    meta : backend-specific settings stored in the [meta] table
    """

    name: str
    backend: str
    latents: np.ndarray
    model_id: str = ""
    model_hash: str = ""
    latent_shape: tuple[int, ...] = ()
    dtype: str = "float32"                 # storage dtype in bank.safetensors
    scaling_factor: float = 1.0
    noise: np.ndarray | None = None
    prompt_embeds: np.ndarray | None = None
    labels: list[dict] = field(default_factory=list)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        self.latents = _as_f32(self.latents)
        if not self.latent_shape:
            self.latent_shape = tuple(int(x) for x in self.latents.shape[1:])
        self.latent_shape = tuple(int(x) for x in self.latent_shape)
        if self.noise is not None:
            self.noise = _as_f32(self.noise)
        if self.prompt_embeds is not None:
            self.prompt_embeds = _as_f32(self.prompt_embeds)
        self.tensors = {k: _as_f32(v) for k, v in self.tensors.items()}
        if not self.labels:
            self.labels = [{} for _ in range(self.latents.shape[0])]
        self.labels = [dict(x) for x in self.labels]
        if not self.created:
            self.created = time.strftime("%Y-%m-%dT%H:%M:%S")
        if self.dtype not in _STORAGE_DTYPES:
            raise BankError(f"bank '{self.name}': dtype must be one of {_STORAGE_DTYPES}, got {self.dtype!r}")
        validate_bank(self, where=f"bank '{self.name}'")

    @property
    def count(self) -> int:
        return int(self.latents.shape[0])

    def __len__(self) -> int:
        return self.count

    def label(self, index: int) -> str:
        """Short text for entry ``index`` (modulo N): its label, prompt, source or seed."""
        d = self.labels[int(index) % self.count]
        for key in ("label", "prompt", "source"):
            if d.get(key):
                return str(d[key])
        if "seed" in d:
            return f"seed {d['seed']}"
        return f"#{int(index) % self.count}"

    def describe(self) -> str:
        """``backend / model ID sha HASH / latents SHAPE`` (used in mismatch messages)."""
        return (f"{self.backend} / model {self.model_id or '?'} sha {(self.model_hash or 'any')[:12]} "
                f"/ latents {tuple(self.latent_shape)}")

    def summary(self) -> str:
        """Several lines describing the bank, for ``latent-live bank info``."""
        lines = [
            f"bank      {self.name}" + (f"  ({self.path})" if self.path else ""),
            f"backend   {self.backend}",
            f"model     {self.model_id or '-'}  sha {self.model_hash or '-'}",
            f"latents   {self.count} x {tuple(self.latent_shape)} stored as {self.dtype}, "
            f"scaling factor {self.scaling_factor:g}",
        ]
        if self.noise is not None:
            lines.append(f"noise     {tuple(self.noise.shape)}")
        if self.prompt_embeds is not None:
            lines.append(f"prompts   embeddings {tuple(self.prompt_embeds.shape)}")
        for k, v in self.tensors.items():
            lines.append(f"tensor    {k} {tuple(v.shape)}")
        lines.append(f"created   {self.created}")
        shown = min(self.count, 12)
        for i in range(shown):
            lines.append(f"  {i:3d}  {self.label(i)}")
        if self.count > shown:
            lines.append(f"  ... and {self.count - shown} more (see {CONTACT_SHEET_NAME})")
        return "\n".join(lines)


def _as_f32(a: Any) -> np.ndarray:
    if isinstance(a, np.ndarray) and a.dtype == np.float32 and not a.flags.writeable \
            and a.flags.c_contiguous:
        return a
    arr = np.array(a, dtype=np.float32, copy=True, order="C")
    arr.flags.writeable = False
    return arr


def validate_bank(bank: LatentBank, *, where: str) -> None:
    """Check that counts, shapes and values agree; BankError naming ``where`` if not."""
    lat = bank.latents
    if lat.ndim < 2:
        raise BankError(f"{where}: 'latents' must be (N, *latent_shape), got shape {lat.shape}; {_REBUILD_HINT}")
    n = lat.shape[0]
    if n < 1:
        raise BankError(f"{where}: the bank has no entries; {_REBUILD_HINT}")
    if tuple(lat.shape[1:]) != tuple(bank.latent_shape):
        raise BankError(f"{where}: latents have shape {tuple(lat.shape[1:])} but the bank says latent_shape "
                        f"{tuple(bank.latent_shape)}; {_REBUILD_HINT}")
    if len(bank.labels) != n:
        raise BankError(f"{where}: {n} latents but {len(bank.labels)} entries; {_REBUILD_HINT}")
    if not np.all(np.isfinite(lat)):
        raise BankError(f"{where}: latents contain NaN or infinite values; {_REBUILD_HINT}")
    if bank.noise is not None:
        if bank.noise.shape != lat.shape:
            raise BankError(f"{where}: noise has shape {bank.noise.shape}, expected {lat.shape}; {_REBUILD_HINT}")
        if not np.all(np.isfinite(bank.noise)):
            raise BankError(f"{where}: noise contains NaN or infinite values; {_REBUILD_HINT}")
    if bank.prompt_embeds is not None:
        pe = bank.prompt_embeds
        if pe.ndim != 3 or pe.shape[0] != n:
            raise BankError(f"{where}: prompt_embeds must be ({n}, seq, dim), got {pe.shape}; {_REBUILD_HINT}")
        if not np.all(np.isfinite(pe)):
            raise BankError(f"{where}: prompt_embeds contain NaN or infinite values; {_REBUILD_HINT}")
    for k, v in bank.tensors.items():
        if v.ndim < 1 or v.shape[0] != n:
            raise BankError(f"{where}: tensor '{k}' must have first dimension {n}, got {v.shape}; {_REBUILD_HINT}")
    if not math.isfinite(float(bank.scaling_factor)):
        raise BankError(f"{where}: scaling_factor is not finite")


def check_bank(bank: LatentBank, spec: BankSpec) -> None:
    """Raise :class:`BankMismatchError` naming both sides if ``bank`` does not fit ``spec``."""
    problems = []
    if bank.backend != spec.backend:
        problems.append("backend")
    if spec.model_hash and bank.model_hash and bank.model_hash != spec.model_hash:
        problems.append("model")
    if tuple(bank.latent_shape) != tuple(spec.latent_shape):
        problems.append("latent shape")
    if problems:
        raise BankMismatchError(
            f"bank '{bank.name}' was built for {bank.describe()}; this generator is {spec.describe()} "
            f"(different {', '.join(problems)}): choose a bank built for this backend/model or "
            f"build one with 'latent-live bank build --backend {spec.backend}'"
        )


# -- reading ------------------------------------------------------------------------------

def _bank_dir(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.name in (TOML_NAME, TENSORS_NAME, CONTACT_SHEET_NAME):
        p = p.parent
    return p


def load_bank(path: str | os.PathLike) -> LatentBank:
    """Read and validate a bank folder (or its bank.toml / bank.safetensors path).

    Raises :class:`BankError` naming the file and what to do when the folder or a file is
    missing, not valid TOML, truncated or corrupt, lacks a key, or disagrees with itself.
    """
    folder = _bank_dir(path)
    toml_path = folder / TOML_NAME
    st_path = folder / TENSORS_NAME
    if not folder.is_dir():
        raise BankError(f"bank folder not found: {folder} (build one with 'latent-live bank build --out {folder}')")
    if not toml_path.is_file():
        raise BankError(f"{toml_path}: missing; not a latent bank folder (a bank has {TOML_NAME} and {TENSORS_NAME})")
    if not st_path.is_file():
        raise BankError(f"{st_path}: missing; the bank is incomplete, {_REBUILD_HINT}")
    toml_size = toml_path.stat().st_size
    if toml_size > MAX_TOML_BYTES:
        raise BankError(f"{toml_path}: {toml_size / 2**20:.0f} MB is far larger than a bank's description "
                        f"(at most {MAX_TOML_BYTES // 2**20} MB); not read. {_REBUILD_HINT}")
    try:
        meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise BankError(f"{toml_path}: not valid TOML ({exc}); fix or {_REBUILD_HINT}") from None

    def need(key: str, kind: type | tuple) -> Any:
        if key not in meta:
            raise BankError(f"{toml_path}: missing key '{key}'; {_REBUILD_HINT}")
        value = meta[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BankError(f"{toml_path}: key '{key}' has the wrong type ({type(value).__name__}); {_REBUILD_HINT}")
        return value

    fmt = need("format", int)
    if fmt != BANK_FORMAT:
        raise BankError(f"{toml_path}: bank format {fmt} is not supported (this version reads format "
                        f"{BANK_FORMAT}); {_REBUILD_HINT}")
    backend = need("backend", str)
    shape = need("latent_shape", list)
    if not shape or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in shape):
        raise BankError(f"{toml_path}: latent_shape must be a list of positive integers, got {shape!r}")
    count = need("count", int)
    dtype = str(meta.get("dtype", "float32"))
    if dtype not in _STORAGE_DTYPES:
        raise BankError(f"{toml_path}: dtype must be one of {_STORAGE_DTYPES}, got {dtype!r}")
    entries = meta.get("entries", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BankError(f"{toml_path}: [[entries]] must be a list of tables")
    if entries and len(entries) != count:
        raise BankError(f"{toml_path}: count = {count} but there are {len(entries)} [[entries]]; {_REBUILD_HINT}")

    tensors = _read_tensors(st_path, count=count, latent_shape=tuple(shape), dtype=dtype, toml_name=toml_path.name)
    if "latents" not in tensors:
        raise BankError(f"{st_path}: no 'latents' tensor (has {sorted(tensors)}); {_REBUILD_HINT}")
    latents = tensors.pop("latents")
    if latents.shape[0] != count:
        raise BankError(f"{st_path}: {latents.shape[0]} latents but {toml_path.name} says count = {count}; "
                        f"the two files are out of step, {_REBUILD_HINT}")
    if str(latents.dtype) != dtype:
        raise BankError(f"{st_path}: latents are {latents.dtype} but {toml_path.name} says dtype = {dtype!r}; "
                        f"{_REBUILD_HINT}")
    try:
        scaling = float(meta.get("scaling_factor", 1.0))
    except (TypeError, ValueError):
        raise BankError(f"{toml_path}: scaling_factor must be a number") from None
    extra_meta = meta.get("meta", {})
    if not isinstance(extra_meta, dict):
        raise BankError(f"{toml_path}: [meta] must be a table")
    try:
        return LatentBank(
            name=str(meta.get("name") or folder.name),
            backend=backend,
            latents=latents,
            model_id=str(meta.get("model_id", "")),
            model_hash=str(meta.get("model_hash", "")),
            latent_shape=tuple(shape),
            dtype=dtype,
            scaling_factor=scaling,
            noise=tensors.pop("noise", None),
            prompt_embeds=tensors.pop("prompt_embeds", None),
            labels=entries or [{} for _ in range(count)],
            tensors=tensors,
            meta=dict(extra_meta),
            created=str(meta.get("created", "")),
            path=folder,
        )
    except BankError as exc:
        raise BankError(f"{folder}: {exc}") from None


def read_safetensors_header(st_path: Path) -> tuple[dict, int]:
    """The JSON header of a safetensors file and the size of its data section, checked against
    the file's size before any tensor is read: :class:`BankError` for a file that is truncated,
    padded, or whose header is oversized, malformed or describes tensors the file cannot hold."""
    size = st_path.stat().st_size
    if size < 8:
        raise BankError(f"{st_path}: {size} bytes is too short for a safetensors file; it is truncated, "
                        f"{_REBUILD_HINT}")
    with open(st_path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if n > MAX_HEADER_BYTES or 8 + n > size:
            raise BankError(f"{st_path}: its header claims {n} bytes ({'more than the file holds' if 8 + n > size else 'far more than a bank needs'}); "
                            f"the file is corrupt, {_REBUILD_HINT}")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BankError(f"{st_path}: the header is not valid JSON; the file is corrupt, {_REBUILD_HINT}") from None
    if not isinstance(header, dict):
        raise BankError(f"{st_path}: the header is not a table of tensors; {_REBUILD_HINT}")
    data_size = size - 8 - n
    end = 0
    for k, info in header.items():
        if k == "__metadata__":
            continue
        try:
            kind, shape, (b0, b1) = info["dtype"], [int(x) for x in info["shape"]], info["data_offsets"]
            b0, b1 = int(b0), int(b1)
        except (KeyError, TypeError, ValueError):
            raise BankError(f"{st_path}: tensor '{k}' is described wrongly in the header; {_REBUILD_HINT}") from None
        if kind not in _ST_DTYPES:
            raise BankError(f"{st_path}: tensor '{k}' has dtype {kind}, expected float; {_REBUILD_HINT}")
        need = int(np.prod(shape, dtype=np.int64)) * _ST_DTYPES[kind][1] if shape else _ST_DTYPES[kind][1]
        if min(shape, default=1) < 0 or b0 < 0 or b1 - b0 != need or b1 > data_size:
            raise BankError(f"{st_path}: tensor '{k}' {shape} does not fit the file ({data_size} data bytes); "
                            f"the file is truncated or corrupt, {_REBUILD_HINT}")
        end = max(end, b1)
    if end != data_size:
        raise BankError(f"{st_path}: {data_size - end} bytes after the last tensor; the file is corrupt, "
                        f"{_REBUILD_HINT}")
    return header, data_size


def _read_tensors(st_path: Path, *, count: int | None = None, latent_shape: tuple | None = None,
                  dtype: str | None = None, toml_name: str = TOML_NAME) -> dict[str, np.ndarray]:
    """The bank's tensors; the header is checked against the file and against ``bank.toml``
    (``count``, ``latent_shape``, ``dtype``) before a single tensor byte is read."""
    try:
        from safetensors import safe_open
    except ImportError:  # pragma: no cover
        raise BankError("the 'safetensors' package is missing: pip install safetensors") from None
    header, _ = read_safetensors_header(st_path)
    lat = header.get("latents")
    if count is not None and isinstance(lat, dict):
        shape = [int(x) for x in lat["shape"]]
        if shape[:1] != [count]:
            raise BankError(f"{st_path}: {shape[0] if shape else 0} latents but {toml_name} says count = {count}; "
                            f"the two files are out of step, {_REBUILD_HINT}")
        if latent_shape is not None and tuple(shape[1:]) != tuple(latent_shape):
            raise BankError(f"{st_path}: latents of shape {tuple(shape[1:])} but {toml_name} says "
                            f"{tuple(latent_shape)}; {_REBUILD_HINT}")
        if dtype is not None and _ST_DTYPES[lat["dtype"]][0] != dtype:
            raise BankError(f"{st_path}: latents are {_ST_DTYPES[lat['dtype']][0]} but {toml_name} says "
                            f"dtype = {dtype!r}; {_REBUILD_HINT}")
    try:
        with safe_open(str(st_path), framework="numpy") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error type for truncated/corrupt files
        raise BankError(f"{st_path}: cannot read ({type(exc).__name__}: {exc}); the file is truncated or "
                        f"corrupt, {_REBUILD_HINT}") from None
    for k, v in tensors.items():
        if v.dtype.kind != "f":
            raise BankError(f"{st_path}: tensor '{k}' has dtype {v.dtype}, expected float; {_REBUILD_HINT}")
    return dict(tensors)


# -- writing ------------------------------------------------------------------------------

def save_bank(bank: LatentBank, path: str | os.PathLike) -> Path:
    """Write ``bank`` into folder ``path`` (created if needed), each file atomically.

    The tensors are stored in ``bank.dtype`` (float32 or float16). Returns the folder.
    """
    folder = _bank_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    from safetensors.numpy import save as st_save

    store = np.float16 if bank.dtype == "float16" else np.float32
    tensors: dict[str, np.ndarray] = {"latents": np.ascontiguousarray(bank.latents, dtype=store)}
    if bank.noise is not None:
        tensors["noise"] = np.ascontiguousarray(bank.noise, dtype=store)
    if bank.prompt_embeds is not None:
        tensors["prompt_embeds"] = np.ascontiguousarray(bank.prompt_embeds, dtype=store)
    for k, v in bank.tensors.items():
        tensors[k] = np.ascontiguousarray(v, dtype=store)
    doc = {
        "format": BANK_FORMAT,
        "name": bank.name,
        "backend": bank.backend,
        "model_id": bank.model_id,
        "model_hash": bank.model_hash or "",
        "latent_shape": [int(x) for x in bank.latent_shape],
        "dtype": bank.dtype,
        "scaling_factor": float(bank.scaling_factor),
        "count": bank.count,
        "created": bank.created,
    }
    text = dumps_toml(doc, tables={"meta": bank.meta} if bank.meta else {}, entries=bank.labels)
    atomic_write_bytes(folder / TENSORS_NAME, st_save(tensors))
    atomic_write_bytes(folder / TOML_NAME, text.encode("utf-8"))
    bank.path = folder
    return folder


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a bank is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- a small TOML writer (stdlib tomllib only reads) --------------------------------------

def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key) and key.isascii():
        return key
    return _toml_str(key)


def _toml_str(s: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes; DEL must be escaped too.
    return json.dumps(str(s), ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return repr(f)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items() if x is not None) + " }"
    if v is None:
        return '""'
    return _toml_str(str(v))


def dumps_toml(top: Mapping[str, Any], *, tables: Mapping[str, Mapping[str, Any]] = {},
               entries: list[Mapping[str, Any]] = ()) -> str:
    """Serialise a flat top-level mapping, named tables and an ``[[entries]]`` array."""
    out = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in top.items() if v is not None]
    for name, table in tables.items():
        out.append("")
        out.append(f"[{_toml_key(name)}]")
        out.extend(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in table.items() if v is not None)
    for e in entries:
        out.append("")
        out.append("[[entries]]")
        out.extend(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in e.items() if v is not None)
    return "\n".join(out) + "\n"
