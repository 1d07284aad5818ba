"""The shader chain: passes from ``shaders/`` drawn one after another through framebuffers.

Each pass renders a fullscreen triangle into its own framebuffer. Pass *i* samples the
output of pass *i-1* as ``u_source``; a pass that declares ``u_prev`` gets two
framebuffers (ping-pong) and samples its own output of the last frame. Every pass gets
the same uniform values; names a program does not use are simply not set.

Hot reload keeps the last good program when a new version fails to compile, so a typo
never blanks the screen. A pass from a user's folder proves itself before it goes on screen:
:mod:`live.render.probe` compiles and times it in another process with its own GL context
(synchronously at start, on a worker thread during the show), and a pass that does not
compile, is over its frame budget or never returns (``while (true)``) is refused; the last
good program stays. The bundled passes are tested with the package and not probed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from live.render.shaderlib import ShaderError, ShaderSource, bundled_dir, compile_program, load_source

log = logging.getLogger("live.render")

SAMPLER_UNITS = {"u_gen_a": 0, "u_gen_b": 1, "u_source": 2, "u_prev": 3}
_INT_GL_TYPES = {0x1404, 0x8B53, 0x8B54, 0x8B55, 0x1405, 0x8DC6, 0x8DC7, 0x8DC8, 0x8B56, 0x8B57, 0x8B58, 0x8B59}


@dataclass
class _Binding:
    uniform: Any
    key: str
    length: int      # array length (1 for scalars/vectors)
    is_int: bool
    last: Any = None  # the value last sent: unchanged values are not sent again


@dataclass
class Pass:
    name: str
    source: ShaderSource
    program: Any
    vao: Any
    bindings: list = field(default_factory=list)
    uses_prev: bool = False
    textures: list = field(default_factory=list)
    fbos: list = field(default_factory=list)
    current: int = 0          # index of the framebuffer written this frame
    size: tuple = (0, 0)
    fresh: bool = True        # feedback history is empty: seed it from the first frame
    knows_fresh: bool = False # declares u_prev_valid: handles the empty history itself (no seeding copy)

    @property
    def output(self):
        return self.textures[self.current]

    @property
    def fbo(self):
        return self.fbos[self.current]


def _bind(program) -> tuple[list[_Binding], bool]:
    """Uniform bindings of a program (samplers get their fixed texture units here)."""
    bindings, uses_prev = [], False
    for name in program:
        member = program[name]
        if type(member).__name__ != "Uniform":
            continue
        if name in SAMPLER_UNITS:
            member.value = SAMPLER_UNITS[name]
            uses_prev |= name == "u_prev"
            continue
        if name.startswith("u_"):
            bindings.append(_Binding(member, name, int(member.array_length), member.gl_type in _INT_GL_TYPES))
    return bindings, uses_prev


def set_uniforms(p: Pass, values: Mapping[str, Any]) -> str | None:
    """Set every uniform of the pass that ``values`` has; a type mismatch drops that uniform
    (and returns a message) instead of crashing the show."""
    bad = None
    for b in list(p.bindings):
        v = values.get(b.key)
        if v is None or v == b.last:
            continue
        raw = v
        try:
            if b.length > 1:
                v = tuple(v[: b.length])
            elif b.is_int:
                v = tuple(int(x) for x in v) if isinstance(v, tuple) else int(v)
            b.uniform.value = v
            b.last = raw
        except Exception as exc:  # noqa: BLE001 - a user shader's odd declaration must not stop the show
            p.bindings.remove(b)
            bad = f"{p.source.path.name}: uniform {b.key} not set ({type(exc).__name__}: {exc}); declare it as documented"
            log.warning(bad)
    return bad


class Chain:
    """The passes, their framebuffers and hot reload.

    ``size`` is the output (framebuffer) size; every pass but the last renders at
    ``internal_scale`` times that size (1.0 = full resolution).
    """

    def __init__(self, ctx, names: Sequence[str], dirs: Sequence[Path], *, size: tuple[int, int],
                 internal_scale: float = 1.0, feedback_dtype: str = "f1", probe: bool = True,
                 budget_ms: float = 0.0, frame_period_ms: float = 1000.0 / 60.0, tile=None,
                 probe_at_start: bool = True):
        if not names:
            raise ShaderError("the shader chain is empty; give at least one pass name")
        self.ctx = ctx
        self.dirs = list(dirs)
        self.internal_scale = float(internal_scale)
        self.feedback_dtype = feedback_dtype
        self.errors: dict[str, str] = {}
        self.last_error: str | None = None
        self.passes: list[Pass] = []
        self._copy_vao = None
        # wall tile (live.render.wall.Tile): the effect passes draw the whole canvas, the last
        # pass only this tile's window onto it (u_view), so borders line up between nodes
        self.tile = tile
        self._values: dict = {}
        self._pending: dict[str, tuple] = {}      # pass name -> (source, Future) of a probe in flight
        self._probe_options = dict(budget_ms=budget_ms, frame_period_ms=frame_period_ms)
        self._prober = None
        if probe:
            from live.render.probe import Prober
            self._prober = Prober(**self._probe_options)
        sources = [load_source(name, self.dirs) for name in names]  # ShaderError if missing: at start
        self.size = (max(1, int(size[0])), max(1, int(size[1])))
        self._unproved: list[ShaderSource] = []
        if self._prober is not None:
            if probe_at_start:
                self._probe_at_start(sources)
            else:
                self._unproved = sources      # the owner proves them with submit_start_probe()
        for src in sources:
            program = compile_program(ctx, src)
            self.passes.append(self._make_pass(src.name, src, program))
        if tile is not None and not any(b.key == "u_view" for b in self.passes[-1].bindings):
            raise ShaderError(f"pass '{names[-1]}' cannot draw a wall tile: it does not use u_view "
                              "(use the default vertex shader or map v_uv through u_view as finish.glsl does)")
        self.size = (0, 0)
        self.resize(size)

    # -- proving user passes --------------------------------------------------------------
    @staticmethod
    def _is_bundled(src: ShaderSource) -> bool:
        try:      # the bundled folder and its subfolders (looks/): shipped, tested passes
            return bundled_dir().resolve() in src.path.resolve().parents
        except OSError:
            return False

    def _probe_program(self, src: ShaderSource, index: int, count: int):
        from live.render.probe import ProbeProgram

        last = index == count - 1
        size = self.size if (last or self.internal_scale >= 1.0) else (
            max(1, round(self.size[0] * self.internal_scale)), max(1, round(self.size[1] * self.internal_scale)))
        return ProbeProgram(src.name, src.vertex, src.fragment, tuple(size))

    def _probe_at_start(self, sources: list[ShaderSource]) -> None:
        from live.render.probe import probe

        todo = [self._probe_program(s, i, len(sources)) for i, s in enumerate(sources) if not self._is_bundled(s)]
        if not todo:
            return
        for r in probe(todo, **self._probe_options):
            if not r.ok:
                path = next(s.path for s in sources if s.name == r.name)
                raise ShaderError(f"{path}: refused before the show: {r.reason}")
            log.info("shader %s proved itself: %.1f ms per frame (budget %.0f ms)", r.name, r.ms or 0.0, r.budget_ms)

    def submit_start_probe(self, values: Mapping[str, Any] | None = None):
        """For a chain made with ``probe_at_start=False`` (compiled, not yet proved): prove its
        user passes on the prober's thread without waiting. A Future of the :class:`ProbeResult`
        list, or None when every pass is bundled (nothing to prove)."""
        sources, self._unproved = self._unproved, []
        todo = [self._probe_program(s, i, len(sources)) for i, s in enumerate(sources) if not self._is_bundled(s)]
        if not todo or self._prober is None:
            return None
        from live.render.probe import _uniform_values
        return self._prober.submit(todo, values=_uniform_values(dict(values or {})))

    # -- construction ---------------------------------------------------------------------
    def _make_pass(self, name: str, src: ShaderSource, program) -> Pass:
        bindings, uses_prev = _bind(program)
        vao = self.ctx.vertex_array(program, [])
        knows_fresh = any(b.key == "u_prev_valid" for b in bindings)
        return Pass(name=name, source=src, program=program, vao=vao, bindings=bindings, uses_prev=uses_prev,
                    knows_fresh=knows_fresh)

    def _pass_size(self, i: int, size: tuple[int, int]) -> tuple[int, int]:
        if i == len(self.passes) - 1:
            return size
        if self.tile is not None:
            size = self.tile.canvas
        if self.internal_scale >= 1.0:
            return size
        return max(1, round(size[0] * self.internal_scale)), max(1, round(size[1] * self.internal_scale))

    def _alloc(self, p: Pass, size: tuple[int, int]) -> None:
        for fbo in p.fbos:
            fbo.release()
        for tex in p.textures:
            tex.release()
        n = 2 if p.uses_prev else 1
        dtype = self.feedback_dtype if p.uses_prev else "f1"
        p.textures = []
        p.fbos = []
        for _ in range(n):
            tex = self.ctx.texture(size, 4, dtype=dtype)
            tex.repeat_x = tex.repeat_y = False
            tex.filter = (self.ctx.LINEAR, self.ctx.LINEAR)
            fbo = self.ctx.framebuffer(color_attachments=[tex])
            fbo.clear(0.0, 0.0, 0.0, 1.0)
            p.textures.append(tex)
            p.fbos.append(fbo)
        p.current = 0
        p.size = size
        p.fresh = True

    def resize(self, size: tuple[int, int]) -> None:
        size = (max(1, int(size[0])), max(1, int(size[1])))
        if size == self.size:
            return
        self.size = size
        for i, p in enumerate(self.passes):
            self._alloc(p, self._pass_size(i, size))

    # -- per frame ------------------------------------------------------------------------
    @property
    def output_fbo(self):
        return self.passes[-1].fbo

    @property
    def output_texture(self):
        return self.passes[-1].output

    def draw(self, values: dict, gen_a, gen_b) -> None:
        """Render every pass. ``values`` maps uniform names to values; u_resolution and
        u_prev_valid are set per pass."""
        self._values = values       # the latest uniform values: a probe times a new pass with them
        gen_a.use(location=0)
        gen_b.use(location=1)
        src_tex = gen_b
        last = self.passes[-1]
        for p in self.passes:
            values["u_resolution"] = (float(p.size[0]), float(p.size[1]))
            values["u_view"] = (0.0, 0.0, 1.0, 1.0)
            if p is last and self.tile is not None:
                values["u_resolution"] = tuple(float(x) for x in self.tile.canvas)
                values["u_view"] = self.tile.view
            values["u_prev_valid"] = 0.0 if p.fresh else 1.0
            bad = set_uniforms(p, values)
            if bad:
                self._note_error(p.name, bad)
            if p.uses_prev:
                if p.fresh:          # empty history: start it as the incoming picture, not black
                    if not p.knows_fresh:
                        self._copy(src_tex, p.fbos[p.current])
                    p.fresh = False
                prev = p.textures[p.current]
                p.current ^= 1
                prev.use(location=3)
            src_tex.use(location=2)
            p.fbo.use()
            p.vao.render(mode=self.ctx.TRIANGLES, vertices=3)
            src_tex = p.output

    def _copy(self, tex, fbo) -> None:
        if self._copy_vao is None:
            from live.render.shaderlib import DEFAULT_VERTEX, DEFAULT_VERSION

            prog = self.ctx.program(
                vertex_shader=DEFAULT_VERSION + DEFAULT_VERTEX,
                fragment_shader=DEFAULT_VERSION + "\nuniform sampler2D u_tex; in vec2 v_uv; out vec4 f;"
                                "void main() { f = texture(u_tex, v_uv); }")
            prog["u_tex"].value = 4
            self._copy_vao = self.ctx.vertex_array(prog, [])
        tex.use(location=4)
        fbo.use()
        self._copy_vao.render(mode=self.ctx.TRIANGLES, vertices=3)

    # -- hot reload -----------------------------------------------------------------------
    def check_reload(self) -> list[str]:
        """Recompile every pass whose file changed (or that a user folder now overrides).
        Returns log messages; on error the last good program stays and ``last_error`` is set.

        With probing on, a changed pass is first proved off this context on a worker thread;
        this call never waits for it: the pass goes on screen at the first call after its
        probe passed (or is refused then, once)."""
        messages = []
        for i, p in enumerate(self.passes):
            try:
                src = load_source(p.name, self.dirs)
            except ShaderError as exc:
                if self.errors.get(p.name) != str(exc):
                    self._note_error(p.name, str(exc))
                    messages.append(str(exc))
                continue
            if _same(src, p.source):
                self._pending.pop(p.name, None)       # changed back while probing: nothing to do
                continue
            if self._prober is None or self._is_bundled(src):
                self._install(p, src, messages)
                continue
            pending = self._pending.get(p.name)
            if pending is not None and _same(src, pending[0]):
                continue                               # its probe is still running
            from live.render.probe import _uniform_values
            fut = self._prober.submit([self._probe_program(src, i, len(self.passes))],
                                      values=_uniform_values(self._values))
            self._pending[p.name] = (src, fut)
            log.info("testing the new %s off screen before it goes on", p.name)
        for i, p in enumerate(self.passes):
            pending = self._pending.get(p.name)
            if pending is None or not pending[1].done():
                continue
            del self._pending[p.name]
            src, fut = pending
            try:
                result = fut.result()[0]
            except Exception as exc:  # noqa: BLE001 - the probe itself broke: refuse, keep the show
                from live.render.probe import ProbeResult
                result = ProbeResult(p.name, False, reason=f"shader probe failed ({type(exc).__name__}: {exc})")
            if not result.ok:
                p.source = src                 # seen: reported once, not every poll
                msg = f"{src.path.name}: {result.reason}"
                self._note_error(p.name, msg)
                messages.append(f"shader refused, keeping the last good {p.name}: {msg}")
                log.error("shader refused, keeping the last good %s: %s", p.name, msg)
                continue
            self._install(p, src, messages)
        return messages

    def _install(self, p: Pass, src: ShaderSource, messages: list[str]) -> None:
        """Compile ``src`` on the show's context and swap it in for ``p`` (last good kept on error)."""
        try:
            program = compile_program(self.ctx, src)
        except ShaderError as exc:
            # remember this version as seen so a broken file is reported once, not every poll
            p.source = src
            self._note_error(p.name, str(exc))
            messages.append(f"shader error, keeping the last good {p.name}: {exc}")
            log.error("shader error, keeping the last good %s: %s", p.name, exc)
            return
        new = self._make_pass(p.name, src, program)
        old_uses_prev = p.uses_prev
        p.vao.release()
        p.program.release()
        p.program, p.vao, p.bindings, p.uses_prev, p.source = new.program, new.vao, new.bindings, new.uses_prev, src
        p.knows_fresh = new.knows_fresh
        if p.uses_prev != old_uses_prev:
            self._alloc(p, p.size)
        if p.name in self.errors:
            del self.errors[p.name]
            self.last_error = next(reversed(self.errors.values()), None)
        msg = f"reloaded shader {p.name} from {src.path}"
        log.info(msg)
        messages.append(msg)

    def _note_error(self, name: str, message: str) -> None:
        self.errors.pop(name, None)
        self.errors[name] = message
        self.last_error = message

    @property
    def probing(self) -> bool:
        """A changed pass is being proved off screen."""
        return bool(self._pending)

    def release(self) -> None:
        if self._prober is not None:
            self._prober.close()
            self._prober = None
        for p in self.passes:
            for obj in (*p.fbos, *p.textures, p.vao, p.program):
                obj.release()
        self.passes = []
        if self._copy_vao is not None:
            self._copy_vao.program.release()
            self._copy_vao.release()


def _same(a: ShaderSource, b: ShaderSource) -> bool:
    return a.path == b.path and (a.vertex, a.fragment) == (b.vertex, b.fragment)
