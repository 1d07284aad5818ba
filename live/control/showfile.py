"""Writing live changes back into the show file: presets and MIDI mappings.

The show keeps what was made during it (presets saved from the control surface, MIDI
mappings learned) in its TOML show file. Only the tables this module owns are rewritten
(``[presets.*]`` and ``[[midi.map]]``); every other section, key and comment stays as the
VJ wrote it. The write is atomic: the new text is checked (it must parse as TOML and hold
exactly what was meant), written to a temporary file beside the show file, flushed to disk
and moved over it with ``os.replace``, so a crash while saving leaves the previous file whole.

Standard library only.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*(\]\]?)\s*(#.*)?$")


class ShowFileError(OSError):
    """The show file cannot be written (one line naming the file and the cause)."""


def _owned(header: str, owned: tuple[str, ...]) -> bool:
    key = ".".join(part.strip().strip('"') for part in header.split("."))
    return any(key == o or key.startswith(o + ".") for o in owned)


def replace_tables(text: str, owned: Iterable[str], new_tables: str) -> str:
    """``text`` without the tables whose key is (or starts with) one of ``owned``, with
    ``new_tables`` appended. Comment lines directly above a dropped table go with it."""
    owned = tuple(owned)
    out: list[str] = []
    dropping = False
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m and not line.lstrip().startswith("#"):
            dropping = _owned(m.group(2), owned)
            if dropping:
                while out and out[-1].lstrip().startswith("#"):
                    out.pop()
        if not dropping:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    body = "\n".join(out)
    if new_tables.strip():
        body = (body + "\n\n" if body else "") + new_tables.strip() + "\n"
    elif body:
        body += "\n"
    return body


class ShowFile:
    """The show file of a running show: :meth:`save` rewrites its presets and MIDI mappings.

    Thread-safe (the web server and the MIDI thread may both save). ``path`` may not exist
    yet: the first save creates it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.saves = 0
        self.last_error: Optional[str] = None

    def save(self, *, presets: Optional[Mapping[str, Mapping[str, Any]]] = None,
             midi_maps: Optional[Iterable[Any]] = None) -> None:
        """Rewrite ``[presets.*]`` (when ``presets`` is given) and ``[[midi.map]]`` (when
        ``midi_maps`` is given: :class:`live.control.midi.MidiMapping` items).
        :class:`ShowFileError` when it cannot (the previous file is untouched)."""
        from live.control.state import presets_toml
        with self._lock:
            try:
                text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
            except (OSError, UnicodeDecodeError) as exc:
                raise self._fail(f"cannot read it: {exc}")
            owned, chunks = [], []
            if presets is not None:
                owned.append("presets")
                chunks.append(presets_toml(presets))
            maps = None
            if midi_maps is not None:
                from live.control.midi import mappings_toml
                maps = list(midi_maps)
                owned.append("midi.map")
                chunks.append(mappings_toml(maps))
            new = replace_tables(text, owned, "\n".join(c for c in chunks if c))
            try:
                data = tomllib.loads(new)
            except tomllib.TOMLDecodeError as exc:
                raise self._fail(f"the updated file would not be valid TOML ({exc}); "
                                 "check its [presets] / [midi] tables by hand")
            if presets is not None and _flat(data.get("presets", {})) != _flat(presets):
                raise self._fail("the presets would not read back as saved (a [presets] key outside "
                                 "[presets.NAME] tables?); not written")
            self._write(new)
            self.saves += 1
            self.last_error = None

    def _write(self, text: str) -> None:
        folder = self.path.parent if str(self.path.parent) else Path(".")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise self._fail(f"cannot create a file in {folder}: {exc}")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            if self.path.exists():
                os.chmod(tmp, self.path.stat().st_mode & 0o7777)
            os.replace(tmp, self.path)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise self._fail(str(exc))
        try:   # make the rename itself durable
            dfd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass

    def _fail(self, why: str) -> ShowFileError:
        self.last_error = f"show file {self.path} not saved: {why}"
        return ShowFileError(self.last_error)


def _flat(presets: Mapping[str, Any]) -> dict:
    from live.control.params import flatten
    return {str(k): flatten(v) if isinstance(v, Mapping) else v for k, v in presets.items()}


__all__ = ["ShowFile", "ShowFileError", "replace_tables"]
