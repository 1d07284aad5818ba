"""The looks on screen: one shader chain per look in use, cross-faded on the bar line.

:class:`LookStage` stands where a single :class:`live.render.chain.Chain` stands (same
``draw``, ``output_fbo``, ``output_texture``, ``resize``, ``check_reload``, ``release``),
so the renderer draws a look library the way it draws one chain. The owner hands it the
live controls each frame with :meth:`follow` (values and counters of the parameter table:
``look.select``/``look.name``/``look.next``/``look.prev`` requests, ``look.fade_beats``,
``look.auto_bars`` and every look's own ``look.NAME.KEY`` parameters).

A requested look's chain is built when it is requested (not on the bar line), drawn once
off screen and timed: one that does not compile, or whose frame takes longer than
``budget_ms``, is skipped with a message and the current look stays.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from live.looks.catalog import DEFAULT_LOOK, Look
from live.looks.switcher import LookSwitcher
from live.render.chain import Chain
from live.render.shaderlib import DEFAULT_VERSION, DEFAULT_VERTEX, ShaderError

log = logging.getLogger("live.looks")

_MIX_FRAGMENT = """
uniform sampler2D u_a;
uniform sampler2D u_b;
uniform float u_mix;
in vec2 v_uv;
out vec4 f_color;
void main() { f_color = mix(texture(u_a, v_uv), texture(u_b, v_uv), smoothstep(0.0, 1.0, u_mix)); }
"""


class LookStage:
    def __init__(self, ctx, looks: Sequence[Look], dirs: Sequence[Path], *, size: tuple[int, int],
                 internal_scale: float = 1.0, feedback_dtype: str = "f1", start: str = DEFAULT_LOOK,
                 fade_beats: float = 1.0, auto_bars: int = 0, budget_ms: float = 0.0, seed: int | None = None,
                 adopt: Chain | None = None):
        if not looks:
            raise ShaderError("no looks found; the bundled shaders/looks/ folder is missing")
        self.ctx = ctx
        self.looks = {lk.name: lk for lk in looks}
        self.dirs = list(dirs)
        self.internal_scale = float(internal_scale)
        self.feedback_dtype = feedback_dtype
        self.budget_ms = float(budget_ms)
        names = [lk.name for lk in looks]
        if start not in self.looks:
            raise ShaderError(f"unknown look {start!r}; known: {', '.join(names)}")
        self.switcher = LookSwitcher(names, start, fade_beats=fade_beats, auto_bars=auto_bars, seed=seed)
        self.size = (max(1, int(size[0])), max(1, int(size[1])))
        self.chains: dict[str, Chain] = {}
        # looks whose user passes are being proved off the show's context: name -> (compiled
        # chain, Future of the probe results). The switcher holds them back until proved.
        self._proving: dict[str, tuple[Chain, Any]] = {}
        self.errors: dict[str, str] = {}
        self.last_error: str | None = None
        self.message = ""
        self._controls: Mapping[str, Any] = {}
        self._seen_counts: dict[str, int] = {}
        self._mix_prog = ctx.program(vertex_shader=DEFAULT_VERSION + DEFAULT_VERTEX,
                                     fragment_shader=DEFAULT_VERSION + _MIX_FRAGMENT)
        self._mix_prog["u_a"].value = 5
        self._mix_prog["u_b"].value = 6
        self._mix_vao = ctx.vertex_array(self._mix_prog, [])
        self._mix_tex = None
        self._mix_fbo = None
        # a 1x1 target bound before a chain is released: moderngl re-binds the framebuffer that
        # was bound when it makes a new one, and a deleted one there is GL_INVALID_OPERATION
        self._park_fbo = ctx.simple_framebuffer((1, 1))
        self._out_fbo = None
        self._out_tex = None
        # the first look must work: raise otherwise. ``adopt``: a chain already built with the
        # start look's passes (the renderer's own), taken over instead of compiled (and proved) twice
        if adopt is not None and tuple(p.name for p in adopt.passes) == tuple(self.looks[start].passes):
            self.chains[start] = adopt
        else:
            self.chains[start] = self._build(self.looks[start])

    # -- building -------------------------------------------------------------------------
    def _build(self, look: Look) -> Chain:
        return Chain(self.ctx, list(look.passes), self.dirs, size=self.size,
                     internal_scale=self.internal_scale, feedback_dtype=self.feedback_dtype)

    def _look_uniforms(self, name: str, values: Mapping[str, Any]) -> dict[str, float]:
        """``u_look_KEY`` of look ``name``: from the frame's uniform values (its parameters are
        renderer controls, arriving as ``u_look_NAME_KEY``), else the controls :meth:`follow`
        was given, else the look's defaults."""
        look = self.looks[name]
        controls = dict(self._controls) if self._controls else {}
        for p in look.params:
            key = look.control(p.key)
            v = values.get("u_" + key.replace(".", "_"))
            if v is not None:
                controls[key] = v
        return look.uniforms(controls)

    def _prepare(self, name: str, values: dict, gen_a, gen_b) -> bool:
        """Make the chain of ``name`` ready without holding up the frame; False while it is not
        (being proved) or cannot be (marked bad). A look with a user's pass is compiled here (a
        typo is refused at once) and then proved in the probe's own process while the current
        look stays on screen: an endless or crippling pass never freezes the show."""
        if name in self.chains:
            return True
        proving = self._proving.get(name)
        if proving is None:
            look = self.looks[name]
            try:
                chain = Chain(self.ctx, list(look.passes), self.dirs, size=self.size,
                              internal_scale=self.internal_scale, feedback_dtype=self.feedback_dtype,
                              budget_ms=self.budget_ms, probe_at_start=False)
            except ShaderError as exc:
                self._bad(name, str(exc))
                return False
            vals = dict(values)
            vals.update(self._look_uniforms(name, values))
            fut = chain.submit_start_probe(vals)
            if fut is not None:
                self._proving[name] = (chain, fut)
                self.switcher.preparing.add(name)
                log.info("look %s: proving its passes off screen before it goes on", name)
                return False
        else:
            chain, fut = proving
            if not fut.done():
                return False
            del self._proving[name]
            self.switcher.preparing.discard(name)
            try:
                refused = [r for r in fut.result() if not r.ok]
            except Exception as exc:  # noqa: BLE001 - the probe itself broke: refuse, keep the show
                from live.render.probe import ProbeResult
                refused = [ProbeResult(name, False, reason=f"the probe failed ({type(exc).__name__}: {exc})")]
            if refused:
                self._release_chain(chain)
                self._bad(name, f"pass {refused[0].name} refused: {refused[0].reason}")
                return False
        if self.budget_ms > 0:
            vals = dict(values)
            vals.update(self._look_uniforms(name, values))
            chain.draw(vals, gen_a, gen_b)           # first draw pays for the shader's JIT
            self.ctx.finish()
            t0 = time.perf_counter()
            chain.draw(vals, gen_a, gen_b)
            self.ctx.finish()
            ms = 1000.0 * (time.perf_counter() - t0)
            if ms > self.budget_ms:
                self._release_chain(chain)
                self._bad(name, f"too slow ({ms:.0f} ms a frame at {self.size[0]}x{self.size[1]}, "
                                f"budget {self.budget_ms:.0f} ms)")
                return False
            for p in chain.passes:                  # the timing frames are not history
                p.fresh = True
        self.chains[name] = chain
        return True

    def _bad(self, name: str, why: str) -> None:
        self.switcher.mark_bad(name, why)
        self.message = self.switcher.messages[-1]
        self.errors[name] = why
        self.last_error = self.message
        log.warning("%s", self.message)

    # -- controls -------------------------------------------------------------------------
    def follow(self, state) -> list[str]:
        """Take the live controls (a ControlState, or anything with ``values`` and ``count(name)``):
        look requests by their counters, fade length, auto-change, the looks' own parameters."""
        values = state.values
        self._controls = values
        sw = self.switcher
        sw.fade_beats = float(values.get("look.fade_beats", sw.fade_beats))
        sw.auto_bars = int(values.get("look.auto_bars", sw.auto_bars))
        msgs = []
        for key, action in (("look.select", lambda: sw.request(int(values["look.select"]))),
                            ("look.name", lambda: sw.request(str(values["look.name"]))),
                            ("look.next", lambda: sw.step(+1)),
                            ("look.prev", lambda: sw.step(-1))):
            n = state.count(key)
            seen = self._seen_counts.get(key)
            self._seen_counts[key] = n
            if seen is not None and n != seen:
                msgs.append(action())
        if msgs:
            self.message = msgs[-1]
        return msgs

    def request(self, target) -> str:
        self.message = self.switcher.request(target)
        return self.message

    @property
    def current(self) -> str:
        return self.switcher.current

    # -- the Chain interface --------------------------------------------------------------
    def draw(self, values: dict, gen_a, gen_b) -> None:
        sw = self.switcher
        # build a requested look as soon as it is asked for, so the bar line finds it ready
        if sw.pending is not None and sw.pending not in self.chains:
            self._prepare(sw.pending, values, gen_a, gen_b)
        st = sw.update(float(values.get("u_time", 0.0)), bar_phase=float(values.get("u_bar_phase", 0.0)),
                       bpm=float(values.get("u_bpm", 0.0)))
        for name in (st.pending, st.incoming):     # an auto-change picks its look inside update()
            if name is not None and name not in self.chains and not self._prepare(name, values, gen_a, gen_b):
                sw.hold(name)                      # not ready (being proved): the current look stays
        st = sw.state
        cur = self.chains[st.current]
        values.update(self._look_uniforms(st.current, values))
        cur.draw(values, gen_a, gen_b)
        self._out_fbo, self._out_tex = cur.output_fbo, cur.output_texture
        if st.incoming is not None and st.incoming in self.chains:
            inc = self.chains[st.incoming]
            values.update(self._look_uniforms(st.incoming, values))
            inc.draw(values, gen_a, gen_b)
            self._ensure_mix()
            cur.output_texture.use(location=5)
            inc.output_texture.use(location=6)
            self._mix_prog["u_mix"].value = float(st.mix)
            self._mix_fbo.use()
            self._mix_vao.render(mode=self.ctx.TRIANGLES, vertices=3)
            self._out_fbo, self._out_tex = self._mix_fbo, self._mix_tex
        # chains of looks no longer on screen or coming are let go (their GL memory with them)
        keep = {st.current, st.incoming, st.pending}
        for name in [n for n in self.chains if n not in keep]:
            self._release_chain(self.chains.pop(name))
        # a look no longer asked for while it was being proved: dropped once its probe is done
        for name in [n for n, (_, fut) in self._proving.items() if n not in keep and fut.done()]:
            self._release_chain(self._proving.pop(name)[0])
            self.switcher.preparing.discard(name)

    def _release_chain(self, chain: Chain) -> None:
        self._park_fbo.use()
        self._mix_vao.render(mode=self.ctx.TRIANGLES, vertices=3)
        chain.release()

    def _ensure_mix(self) -> None:
        if self._mix_fbo is not None and self._mix_tex.size == self.size:
            return
        if self._mix_fbo is not None:
            self._mix_fbo.release()
            self._mix_tex.release()
        self._mix_tex = self.ctx.texture(self.size, 4)
        self._mix_fbo = self.ctx.framebuffer(color_attachments=[self._mix_tex])

    @property
    def output_fbo(self):
        return self._out_fbo if self._out_fbo is not None else self.chains[self.current].output_fbo

    @property
    def output_texture(self):
        return self._out_tex if self._out_tex is not None else self.chains[self.current].output_texture

    @property
    def passes(self):
        return self.chains[self.current].passes

    def resize(self, size: tuple[int, int]) -> None:
        size = (max(1, int(size[0])), max(1, int(size[1])))
        if size == self.size:
            return
        self.size = size
        for c in self.chains.values():
            c.resize(size)
        self._out_fbo = self._out_tex = None

    def check_reload(self) -> list[str]:
        msgs = []
        for c in self.chains.values():
            msgs += c.check_reload()
            if c.last_error:
                self.last_error = c.last_error
        return msgs

    def release(self) -> None:
        for c in self.chains.values():
            self._release_chain(c)
        for c, fut in self._proving.values():
            fut.cancel()
            self._release_chain(c)
        self.chains, self._proving = {}, {}
        self.ctx.detect_framebuffer(0).use()      # the default framebuffer: never deleted
        self._park_fbo.release()
        if self._mix_fbo is not None:
            self._mix_fbo.release()
            self._mix_tex.release()
        self._mix_vao.release()
        self._mix_prog.release()


def install_look(renderer, look: str | int, *, shader_dirs: Sequence[str] = (), **kwargs) -> LookStage:
    """Put a :class:`LookStage` showing ``look`` (name or number) where ``renderer.chain`` was.
    ValueError naming the valid looks, or the shader error, when it cannot be shown."""
    from live.looks.catalog import LookError, discover
    from live.render.shaderlib import search_dirs

    errors: list[str] = []
    looks = discover(shader_dirs, errors=errors)
    names = [lk.name for lk in looks]
    target = str(look).strip()
    if target.isdigit():
        if int(target) >= len(names):
            raise ValueError(f"no look number {target}; there are {len(names)} (0..{len(names) - 1})")
        target = names[int(target)]
    if target not in names:
        bad = [e for e in errors if f"{target}.toml" in e]
        raise ValueError(bad[0] if bad else f"unknown look {target!r}; known: {', '.join(names)}")
    old = renderer.chain
    try:
        stage = LookStage(renderer.ctx, looks, search_dirs(shader_dirs), size=renderer.size,
                          internal_scale=renderer.internal_scale, start=target, adopt=old, **kwargs)
    except (ShaderError, LookError) as exc:
        raise ValueError(f"look {target} cannot be shown: {exc}") from None
    if stage.chains[target] is not old:
        old.release()
    renderer.ctx.detect_framebuffer(0).use()      # not the released chain's (see _park_fbo)
    renderer.chain = stage
    renderer.looks = stage          # the owner hands it the live controls: renderer.looks.follow(state)
    return stage
