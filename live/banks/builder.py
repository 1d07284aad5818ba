"""Offline bank building: sample entries from a backend, keep the best, write the bank.

Backends plug in through an :class:`EntrySource`, registered by backend name in
``ENTRY_SOURCES`` (the embedded one in :mod:`live.banks.embedded`; ``vae`` and ``lcm`` in
:mod:`live.banks.diffusion`). :func:`build_bank` does the rest:

- a progress bar with ETA (tqdm, on stderr);
- resumable: finished entries are checkpointed every few entries, atomically, into the
  folder ``bank.partial`` in the output folder, each checkpoint a small file holding only the
  entries finished since the last one (so a checkpoint costs the same at entry 5,000 as at
  entry 10); an interrupted build run again with the same options continues where it
  stopped and loses nothing finished;
- optional selection of the ``keep`` most distinct and most colourful entries (greedy
  farthest-point sampling on small image features, weighted by colourfulness);
- writes ``bank.toml`` + ``bank.safetensors`` (atomically) and ``contact_sheet.png``.

Used by ``tools/build_bank.py`` and ``latent-live bank build`` through
:func:`add_build_arguments` and :func:`run_build`.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from live.errors import GenError
from live.gen.bank import (CONTACT_SHEET_NAME, LatentBank, atomic_write_bytes, save_bank)

log = logging.getLogger(__name__)

PARTIAL_NAME = "bank.partial"          # folder of checkpoint chunks
_CHUNK_GLOB = "chunk-*.safetensors"
VIVID_FULL = 45.0         # colourfulness M from which an entry counts as fully vivid
FEATURE_EDGE = 16          # selection features: previews shrunk to 16 x 16 RGB


class BuildError(GenError):
    """A bank build cannot go on (bad options, nothing to build...)."""


class SkipEntry(Exception):
    """Raised by ``EntrySource.make`` for a key that cannot become an entry (e.g. an
    unreadable image): the builder warns, skips it and goes on."""


@dataclass
class BankEntry:
    """One bank entry produced by an :class:`EntrySource`.

    latent : (*latent_shape) float32      the clean latent
    noise : (*latent_shape) | None         lcm starting noise
    prompt_embeds : (seq, dim) | None      lcm prompt embedding
    label : dict                           seed / prompt / source / label, written to [[entries]]
    """

    latent: np.ndarray
    noise: np.ndarray | None = None
    prompt_embeds: np.ndarray | None = None
    label: dict = field(default_factory=dict)


@runtime_checkable
class EntrySource(Protocol):
    """What a backend provides to build a bank.

    Attributes: ``backend`` (generator name), ``model_id`` (human readable),
    ``model_hash`` (what ``Generator.bank_spec().model_hash`` will be), ``latent_shape``,
    ``dtype`` (storage: "float32" | "float16"), ``scaling_factor``. Optionally ``meta``
    (a dict of scalars for the bank's [meta] table) and ``close()``.

    ``keys()`` lists every candidate as a stable string ("seed:12", "img:cat.jpg",
    "prompt:3/1"); it must return the same list when the build is resumed.
    ``make(key)`` computes one entry (raise :class:`SkipEntry` to skip it);
    ``preview(entry)`` returns an H x W x 3 uint8 picture of it.
    """

    backend: str
    model_id: str
    model_hash: str
    latent_shape: tuple
    dtype: str
    scaling_factor: float

    def keys(self) -> list[str]: ...

    def make(self, key: str) -> BankEntry: ...

    def preview(self, entry: BankEntry) -> np.ndarray: ...


# -- image measures -------------------------------------------------------------------------

def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness M of an H x W x 3 uint8 (or 0..255) image.

    M = sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2), rg = R - G,
    yb = (R + G)/2 - B. Their scale: 0 not colourful, 15 slightly, 33 moderately,
    45 averagely, 59 quite, 82 highly, 109 extremely colourful.
    """
    x = np.asarray(rgb, dtype=np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def image_features(rgb: np.ndarray, *, edge: int = FEATURE_EDGE) -> np.ndarray:
    """Small feature vector for diversity: the image box-shrunk to edge x edge, 0..1.

    Returns (edge * edge * 3,) float32.
    """
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).resize((edge, edge), Image.BOX)
    return (np.asarray(img, dtype=np.float32) / 255.0).reshape(-1)


def select_diverse(features: np.ndarray, vivid: np.ndarray, keep: int) -> list[int]:
    """Greedy farthest-point selection weighted by colourfulness.

    features (N, F), vivid (N,) >= 0. Starts with the most colourful entry, then repeatedly
    takes the entry maximising ``min distance to the chosen ones * (vivid / max vivid)``.
    Returns ``keep`` indices (all when N <= keep), in order of choice.
    """
    n = features.shape[0]
    if keep >= n:
        return list(range(n))
    # Anything at least "averagely colourful" on Hasler & Suesstrunk's scale (M >= 45)
    # counts fully; duller entries lose weight in proportion. Beyond that, distinctness
    # decides, so the subtler palettes are not crowded out by the loudest ones.
    w = np.minimum(1.0, np.asarray(vivid, dtype=np.float64) / VIVID_FULL)
    chosen = [int(np.argmax(vivid))]
    mind = np.linalg.norm(features - features[chosen[0]], axis=1).astype(np.float64)
    for _ in range(keep - 1):
        score = mind * w
        score[chosen] = -1.0
        i = int(np.argmax(score))
        chosen.append(i)
        np.minimum(mind, np.linalg.norm(features - features[i], axis=1), out=mind)
    return chosen


def contact_sheet(images: list[np.ndarray], labels: list[str], *, thumb: int = 128,
                  columns: int | None = None) -> "Any":
    """A PIL image: thumbnails in a grid, each with its index and label underneath."""
    from PIL import Image, ImageDraw

    n = len(images)
    cols = columns or max(1, min(8, math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    text_h = 16
    pad = 4
    sheet = Image.new("RGB", (cols * (thumb + pad) + pad, rows * (thumb + text_h + pad) + pad), (16, 16, 16))
    draw = ImageDraw.Draw(sheet)
    for i, (img, label) in enumerate(zip(images, labels)):
        r, c = divmod(i, cols)
        x = pad + c * (thumb + pad)
        y = pad + r * (thumb + text_h + pad)
        tile = Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).resize((thumb, thumb), Image.BILINEAR)
        sheet.paste(tile, (x, y))
        text = f"{i}: {label}"
        max_chars = max(4, thumb // 6)
        if len(text) > max_chars:
            text = text[: max_chars - 1] + "~"
        draw.text((x + 2, y + thumb + 2), text, fill=(230, 230, 230))
    return sheet


# -- the builder ----------------------------------------------------------------------------

def _signature(source: EntrySource) -> dict:
    return {
        "backend": str(source.backend),
        "model_hash": str(source.model_hash or ""),
        "latent_shape": [int(x) for x in source.latent_shape],
    }


class _Partial:
    """Finished entries of an interrupted build, checkpointed as append-only chunks: each
    :meth:`save` writes one small file with what finished since the previous one."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.skipped: list[str] = []
        self.latents: list[np.ndarray] = []
        self.noise: list[np.ndarray] = []
        self.embeds: list[np.ndarray] = []
        self.features: list[np.ndarray] = []
        self.vivid: list[float] = []
        self.labels: list[dict] = []
        self._saved_keys = 0           # entries already in a chunk on disk
        self._saved_skipped = 0
        self._chunks = 0

    def add(self, key: str, entry: BankEntry, feat: np.ndarray, vivid: float) -> None:
        self.keys.append(key)
        self.latents.append(np.asarray(entry.latent, dtype=np.float32))
        if entry.noise is not None:
            self.noise.append(np.asarray(entry.noise, dtype=np.float32))
        if entry.prompt_embeds is not None:
            self.embeds.append(np.asarray(entry.prompt_embeds, dtype=np.float32))
        self.features.append(feat)
        self.vivid.append(float(vivid))
        self.labels.append(dict(entry.label))

    def entry(self, i: int) -> BankEntry:
        return BankEntry(latent=self.latents[i], noise=self.noise[i] if self.noise else None,
                         prompt_embeds=self.embeds[i] if self.embeds else None, label=self.labels[i])

    def save(self, folder: Path, signature: dict) -> None:
        """Write the entries finished since the last save as the next chunk (atomically)."""
        from safetensors.numpy import save as st_save

        a, b = self._saved_keys, len(self.keys)
        sa, sb = self._saved_skipped, len(self.skipped)
        if a == b and sa == sb:
            return
        tensors = {}
        if b > a:
            tensors["latents"] = np.stack(self.latents[a:b])
            tensors["features"] = np.stack(self.features[a:b])
            if self.noise:
                tensors["noise"] = np.stack(self.noise[a:b])
            if self.embeds:
                tensors["prompt_embeds"] = np.stack(self.embeds[a:b])
        state = {"signature": signature, "keys": self.keys[a:b], "skipped": self.skipped[sa:sb],
                 "vivid": self.vivid[a:b], "labels": self.labels[a:b]}
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / f"chunk-{self._chunks:06d}.safetensors",
                           st_save(tensors, metadata={"state": json.dumps(state)}))
        self._chunks += 1
        self._saved_keys, self._saved_skipped = b, sb

    @classmethod
    def load(cls, folder: Path, signature: dict) -> "_Partial | None":
        from safetensors import safe_open

        p = cls()
        for chunk in sorted(folder.glob(_CHUNK_GLOB)):
            try:
                with safe_open(str(chunk), framework="numpy") as fh:
                    state = json.loads((fh.metadata() or {})["state"])
                    tensors = {k: fh.get_tensor(k) for k in fh.keys()}
            except Exception as exc:
                log.warning("%s: unreadable checkpoint (%s); starting the build afresh", chunk, exc)
                return None
            if state.get("signature") != signature:
                log.warning("%s: checkpoint is from a different backend/model (%s); starting afresh",
                            chunk, state.get("signature"))
                return None
            n = len(state["keys"])
            if n and ("latents" not in tensors or tensors["latents"].shape[0] != n):
                log.warning("%s: checkpoint is inconsistent; starting afresh", chunk)
                return None
            p.keys += list(state["keys"])
            p.skipped += list(state.get("skipped", []))
            p.vivid += [float(v) for v in state["vivid"]]
            p.labels += [dict(d) for d in state["labels"]]
            if n:
                p.latents += list(tensors["latents"])
                p.features += list(tensors["features"])
                p.noise += list(tensors["noise"]) if "noise" in tensors else []
                p.embeds += list(tensors["prompt_embeds"]) if "prompt_embeds" in tensors else []
            p._chunks += 1
        p._saved_keys, p._saved_skipped = len(p.keys), len(p.skipped)
        return p


def build_bank(source: EntrySource, *, out_dir: str | os.PathLike, name: str | None = None,
               keep: int | None = None, checkpoint_every: int = 8, progress: bool = True,
               resume: bool = True, sheet: bool = True,
               on_entry: Callable[[int, str], None] | None = None) -> LatentBank:
    """Build a bank from ``source`` into folder ``out_dir`` and return it.

    ``keep``: keep only this many entries, the most distinct and colourful (None = all).
    ``checkpoint_every``: write the partial checkpoint every this many finished entries.
    ``resume``: continue from a checkpoint of an interrupted build with the same source.
    ``on_entry(done_count, key)``: called after each finished entry (tests use it to
    inject an interruption).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = [str(k) for k in source.keys()]
    if not keys:
        raise BuildError("nothing to build: the source has no entries (check --seeds / --images / --prompts)")
    if len(set(keys)) != len(keys):
        raise BuildError("the source lists the same key twice; keys must be unique")
    if keep is not None and keep < 1:
        raise BuildError(f"--keep must be at least 1, got {keep}")
    sig = _signature(source)
    partial_path = out / PARTIAL_NAME
    part = _Partial.load(partial_path, sig) if (resume and partial_path.is_dir()) else None
    if part is None:
        shutil.rmtree(partial_path, ignore_errors=True)     # a stale or foreign checkpoint
        part = _Partial()
    done = set(part.keys) | set(part.skipped)
    todo = [k for k in keys if k not in done]
    if done:
        print(f"resuming: {len(done)} of {len(keys)} entries already done ({partial_path})", file=sys.stderr)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(keys), initial=len(keys) - len(todo), unit="entry", desc=f"bank {source.backend}",
                   file=sys.stderr, dynamic_ncols=True)
    since_ckpt = 0
    try:
        for key in todo:
            try:
                entry = source.make(key)
            except SkipEntry as exc:
                log.warning("skipping %s: %s", key, exc)
                print(f"warning: skipping {key}: {exc}", file=sys.stderr)
                part.skipped.append(key)
            else:
                lat = np.asarray(entry.latent, dtype=np.float32)
                if tuple(lat.shape) != tuple(source.latent_shape):
                    raise BuildError(f"{key}: latent has shape {lat.shape}, source says {tuple(source.latent_shape)}")
                if not np.all(np.isfinite(lat)):
                    raise BuildError(f"{key}: the latent contains NaN/inf (model or dtype problem; try --dtype float32)")
                pic = source.preview(entry)
                part.add(key, entry, image_features(pic), colourfulness(pic))
            since_ckpt += 1
            if bar is not None:
                bar.update(1)
            if since_ckpt >= max(1, checkpoint_every):
                part.save(partial_path, sig)
                since_ckpt = 0
            if on_entry is not None:
                on_entry(len(part.keys) + len(part.skipped), key)
    except BaseException:
        if since_ckpt:
            try:
                part.save(partial_path, sig)
                print(f"build interrupted: {len(part.keys)} finished entries saved; run the same command "
                      f"again to continue", file=sys.stderr)
            except Exception as exc:  # pragma: no cover - disk full etc.
                log.error("could not write checkpoint %s: %s", partial_path, exc)
        raise
    finally:
        if bar is not None:
            bar.close()

    if not part.keys:
        raise BuildError("no entry could be built (all were skipped)")
    # keep the order of the source's keys, then select
    order = {k: i for i, k in enumerate(keys)}
    idx = sorted(range(len(part.keys)), key=lambda i: order.get(part.keys[i], 1 << 30))
    feats = np.stack([part.features[i] for i in idx])
    vivid = np.array([part.vivid[i] for i in idx])
    chosen = [idx[j] for j in select_diverse(feats, vivid, keep if keep else len(idx))]

    entries = [part.entry(i) for i in chosen]
    folder_name = name or out.name
    bank = LatentBank(
        name=folder_name,
        backend=sig["backend"],
        latents=np.stack([e.latent for e in entries]),
        model_id=str(source.model_id),
        model_hash=sig["model_hash"],
        latent_shape=tuple(sig["latent_shape"]),
        dtype=str(getattr(source, "dtype", "float32") or "float32"),
        scaling_factor=float(getattr(source, "scaling_factor", 1.0)),
        noise=np.stack([e.noise for e in entries]) if entries[0].noise is not None else None,
        prompt_embeds=np.stack([e.prompt_embeds for e in entries]) if entries[0].prompt_embeds is not None else None,
        labels=[dict(e.label, colourfulness=round(part.vivid[i], 1)) for e, i in zip(entries, chosen)],
        meta=dict(getattr(source, "meta", {}) or {}),
    )
    save_bank(bank, out)
    if sheet:
        pics = [source.preview(e) for e in entries]
        from PIL import Image

        img = contact_sheet(pics, [bank.label(i) for i in range(bank.count)])
        # 256 dithered colours: a fraction of the size, plenty for seeing what was built
        img.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(out / CONTACT_SHEET_NAME, optimize=True)
    shutil.rmtree(partial_path, ignore_errors=True)
    return bank


# -- command line ---------------------------------------------------------------------------

def parse_seeds(text: str) -> list[int]:
    """"0-999" / "3,7,10-12" -> list of ints (ranges inclusive). BuildError on bad text."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i or lo_i < 0:
                    raise ValueError
                seeds.extend(range(lo_i, hi_i + 1))
            else:
                seeds.append(int(part))
                if seeds[-1] < 0:
                    raise ValueError
        except ValueError:
            raise BuildError(f"--seeds: cannot read {part!r}; use e.g. 0-999 or 1,5,10-20") from None
    if not seeds:
        raise BuildError("--seeds is empty; use e.g. 0-999")
    return list(dict.fromkeys(seeds))


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tools/build_bank.py`` and ``latent-live bank build``."""
    p.add_argument("--backend", default="embedded", help="embedded | vae | lcm (default: embedded)")
    p.add_argument("--out", required=True, help="output bank folder, e.g. latent_banks/mybank")
    p.add_argument("--name", default=None, help="bank name (default: the folder name)")
    p.add_argument("--seeds", default=None, help="embedded/lcm: seeds to sample, e.g. 0-999 (embedded default 0-511)")
    p.add_argument("--keep", type=int, default=None,
                   help="keep the N most distinct and colourful entries (embedded default 32; others: all)")
    p.add_argument("--model", default="", help="vae/lcm: local model folder or weight file")
    p.add_argument("--images", default=None, help="vae: folder of images to encode")
    p.add_argument("--prompts", default=None, help="lcm: text file, one prompt per line")
    p.add_argument("--per-prompt", type=int, default=4, help="lcm: entries per prompt (default 4)")
    p.add_argument("--lora", default="", help="lcm: LCM-LoRA weight file for a Stable Diffusion 1.5-family model")
    p.add_argument("--vae", default="", help="lcm: decode previews with this VAE / tiny VAE folder")
    p.add_argument("--size", type=int, default=None, help="image size in pixels (default: backend's)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--dtype", default="auto", help="auto | float32 | float16")
    p.add_argument("--steps", type=int, default=None, help="lcm: sampler steps for the clean latents")
    p.add_argument("--checkpoint-every", type=int, default=8, help="save progress every N entries (default 8)")
    p.add_argument("--fresh", action="store_true", help="ignore a checkpoint of an interrupted build")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


ENTRY_SOURCES: dict[str, str] = {
    "embedded": "live.banks.embedded:make_entry_source",
    "vae": "live.banks.diffusion:make_entry_source",
    "lcm": "live.banks.diffusion:make_entry_source",
}
"""backend name -> "module:function(args) -> EntrySource", imported lazily (like the generators)."""


def make_source(args: argparse.Namespace) -> EntrySource:
    """The EntrySource for ``args.backend``; each is imported only when asked for."""
    backend = str(args.backend).strip().lower()
    if backend not in ENTRY_SOURCES:
        raise BuildError(f"unknown backend {args.backend!r}; choose {', '.join(ENTRY_SOURCES)}")
    module_name, _, func = ENTRY_SOURCES[backend].partition(":")
    try:
        mod = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise BuildError(f"building {backend} banks is not available in this installation "
                             f"({module_name} is missing)") from None
        raise BuildError(f"building {backend} banks needs the package '{exc.name}': "
                         f"pip install 'latent-live[diffusion]'") from None
    return getattr(mod, func)(args)


def run_build(args: argparse.Namespace) -> int:
    """Build a bank from parsed :func:`add_build_arguments` options. Raises GenError on user errors."""
    source = make_source(args)
    keep = args.keep
    if keep is None and str(args.backend).lower() == "embedded":
        keep = 32
    t0 = time.perf_counter()
    try:
        bank = build_bank(source, out_dir=args.out, name=args.name, keep=keep,
                          checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
                          resume=not args.fresh)
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            close()
    print(f"wrote bank '{bank.name}': {bank.count} entries of {tuple(bank.latent_shape)} for {bank.backend} "
          f"in {time.perf_counter() - t0:.1f} s -> {bank.path} (see {CONTACT_SHEET_NAME})")
    return 0
