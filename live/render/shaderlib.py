"""Single-file GLSL programs: find them by name, split them into stages, compile them.

A shader file (``NAME.glsl``) holds one pass. Layout::

    #version 330                 (optional; added when missing)
    uniform float u_bass;        common part: declarations shared by both stages
    //--- vertex                 (optional; a fullscreen triangle writing v_uv is used if absent)
    ...
    //--- fragment
    in vec2 v_uv; out vec4 f_color; void main() { ... }

A file without markers is a fragment shader. ``#include "other.glsl"`` on a line of its own
pastes that file in (looked up beside the including file, then in the shader folders; each
file at most once per program, so two passes may share a library without guards). Files written for moderngl-window's
convention (``#if defined VERTEX_SHADER`` / ``FRAGMENT_SHADER``) work too: the file is
compiled twice with that name defined. Only the standard library is imported here;
compiling takes a moderngl context passed in.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

SHADERS_ENV = "LATENT_LIVE_SHADERS"


def bundled_dir() -> Path:
    """The folder of the bundled shaders: ``$LATENT_LIVE_SHADERS`` when set; else the
    repository's ``shaders/`` (a source checkout or an editable install); else
    ``<prefix>/share/latent-live/shaders`` (a wheel that ships them as data files).
    The first that exists wins; with none, the repository path (a missing-shader error names it)."""
    env = os.environ.get(SHADERS_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from live.data import find_data

    return find_data("shaders", marker="trails.glsl")


BUNDLED_DIR = bundled_dir()

DEFAULT_VERSION = "#version 330"

DEFAULT_VERTEX = """
out vec2 v_uv;
uniform vec4 u_view;   // wall tile: (u0, v0, du, dv) of the canvas this pass draws; 0 = the whole picture
void main() {
    // one triangle that covers the screen: (-1,-1) (3,-1) (-1,3)
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    v_uv = p * 0.5 + 0.5;
    if (u_view.z > 0.0) v_uv = u_view.xy + v_uv * u_view.zw;
    gl_Position = vec4(p, 0.0, 1.0);
}
"""

_INCLUDE = re.compile(r'^[ \t]*#include[ \t]+"([^"\n]+)"[ \t]*$', re.MULTILINE)
_MARKER = re.compile(r"^[ \t]*//---[ \t]*(vertex|fragment)[ \t]*$", re.MULTILINE | re.IGNORECASE)
_VERSION = re.compile(r"^[ \t]*#version[^\n]*\n?", re.MULTILINE)


class ShaderError(Exception):
    """A shader file is missing, unreadable or does not compile; the message is one short paragraph."""


@dataclass(frozen=True)
class ShaderSource:
    name: str
    path: Path
    vertex: str
    fragment: str
    mtime_ns: int


def search_dirs(shader_dirs: Iterable[str | Path] = ()) -> list[Path]:
    """User folders first (in the order given), the bundled ``shaders/`` folder last."""
    dirs = [Path(d).expanduser() for d in shader_dirs]
    dirs.append(bundled_dir())
    return dirs


def find_shader(name: str, dirs: Sequence[Path]) -> Path:
    """Path of ``NAME.glsl`` (or NAME as a path) in the first folder of ``dirs`` that has it."""
    p = Path(name)
    if p.suffix == ".glsl" and p.is_file():
        return p
    for d in dirs:
        cand = d / f"{name}.glsl"
        if cand.is_file():
            return cand
    raise ShaderError(f"shader {name!r} not found; looked for {name}.glsl in: " + ", ".join(str(d) for d in dirs)
                      + f" (set {SHADERS_ENV} to the folder of the bundled shaders if they are elsewhere)")


def split_source(text: str) -> tuple[str, str]:
    """Split a single-file program into (vertex, fragment) GLSL source, each with a #version line."""
    m = _VERSION.search(text)
    version = m.group(0).strip() if m else DEFAULT_VERSION
    body = _VERSION.sub("", text, count=1) if m else text
    if re.search(r"\bVERTEX_SHADER\b", body) and re.search(r"\bFRAGMENT_SHADER\b", body):
        return (f"{version}\n#define VERTEX_SHADER\n#line 1\n{body}",
                f"{version}\n#define FRAGMENT_SHADER\n#line 1\n{body}")
    parts = _MARKER.split(body)
    common, sections = parts[0], {}
    for kind, src in zip(parts[1::2], parts[2::2]):
        sections[kind.lower()] = src
    if not sections:
        common, sections = "", {"fragment": body}
    if "fragment" not in sections:
        raise ShaderError("no '//--- fragment' section")
    vertex = sections.get("vertex", DEFAULT_VERTEX)
    return f"{version}\n{common}\n{vertex}", f"{version}\n{common}\n{sections['fragment']}"


def expand_includes(text: str, path: Path, dirs: Sequence[Path], _seen: set | None = None) -> str:
    """Replace each ``#include "file.glsl"`` line with that file's text (recursively; a file
    already pasted into this program is skipped). Looked up beside ``path``, then in ``dirs``,
    then in the folder of ``dirs`` named like ``path``'s own (a look copied into a user's
    ``looks/`` still finds the bundled ``looks/look_uniforms.glsl``)."""
    seen = set() if _seen is None else _seen
    seen.add(path.resolve())

    def paste(m: re.Match) -> str:
        rel = m.group(1)
        for d in (path.parent, *dirs, *(d / path.parent.name for d in dirs)):
            cand = (d / rel)
            if cand.is_file():
                break
        else:
            raise ShaderError(f"{path.name}: #include \"{rel}\" not found beside it or in: "
                              + ", ".join(str(d) for d in dirs) + f" (or their {path.parent.name}/ folders)")
        if cand.resolve() in seen:
            return f"// (#include \"{rel}\": already included)"
        try:
            inner = cand.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ShaderError(f"{cand}: cannot read: {exc}") from None
        return f"// begin {rel}\n{expand_includes(inner, cand, dirs, seen)}\n// end {rel}"

    return _INCLUDE.sub(paste, text)


def load_source(name: str, dirs: Sequence[Path]) -> ShaderSource:
    path = find_shader(name, dirs)
    try:
        mtime = path.stat().st_mtime_ns
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ShaderError(f"{path}: cannot read: {exc}") from None
    text = expand_includes(text, path, dirs)
    vertex, fragment = split_source(text)
    return ShaderSource(name=name, path=path, vertex=vertex, fragment=fragment, mtime_ns=mtime)


def compile_program(ctx, src: ShaderSource):
    """Compile and link with moderngl; ShaderError with the compiler's message (trimmed) on failure."""
    import moderngl

    try:
        return ctx.program(vertex_shader=src.vertex, fragment_shader=src.fragment)
    except (moderngl.Error, ValueError, KeyError) as exc:
        raise ShaderError(f"{src.path.name}: {short_gl_error(str(exc))}") from None


def short_gl_error(text: str, *, max_lines: int = 3) -> str:
    """The first error lines of a GLSL compiler log, without moderngl's banner and source dump."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if "error" in ln.lower() and not set(ln) <= set("=-")]
    keep = [ln for ln in errs if not ln.lower().startswith(("glsl compiler failed", "vertex_shader", "fragment_shader"))]
    return " | ".join((keep or errs or lines or ["unknown GL error"])[:max_lines])
