"""Prove a shader pass off the show's GL context before it goes on screen.

A user's pass can compile and still freeze the show: a ``while (true)`` never returns from the
draw call, a heavy loop makes one frame take seconds, and a GL thread stuck in a draw call
cannot even answer Ctrl+C. So a new or reloaded pass is first compiled and timed in a *separate
process* with its own headless (EGL) context: ``python -m live.render.probe`` reads the
programs as JSON on stdin and writes one JSON line per step. The parent watches the clock and
kills the probe when a frame does not return in time; the pass is then refused and the show
keeps its last good program.

The budget: a pass may take at most ``budget_ms`` per frame (median of ``frames`` frames after
one warm-up frame, each waited for with glFinish). ``budget_ms=0`` is automatic: the larger of
``PERIOD_FACTOR`` frame periods (1/60 s: a pass alone holding the show under 15 fps) and
``REFERENCE_FACTOR`` times a plain texture copy at the same size, measured in the same probe,
so a software rasteriser on a loaded machine (where even a copy costs ~20 ms at 720p) is
judged against what that machine can do, and a GPU against the frame period. The automatic
budget catches passes that would freeze or cripple the show (seconds per frame, endless
loops), not ones that cost a few frames per second; a fixed ``budget_ms`` can be stricter. ``probe(...)`` blocks the *calling* thread: call it from a worker (``Prober``
does), never from the GL thread.

Standard library only in the parent; the child imports moderngl.
"""
from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

log = logging.getLogger("live.render")

REFERENCE_FACTOR = 20.0     # auto budget: this many plain copies of the same size (software GL)
PERIOD_FACTOR = 4.0         # ... or this many frame periods, whichever is larger
DEFAULT_DEADLINE_S = 3.0    # a probe frame that has not returned after this long is killed (the first
                            # frame includes the driver's shader JIT: ~0.5 s on a loaded llvmpipe)
START_TIMEOUT_S = 60.0      # python + moderngl + EGL context in the child (slow on a loaded machine)


@dataclass(frozen=True)
class ProbeProgram:
    """One pass to prove: its GLSL stages and the size it renders at."""

    name: str
    vertex: str
    fragment: str
    size: tuple[int, int] = (640, 360)


@dataclass(frozen=True)
class ProbeResult:
    """``ok``: the pass compiled and its frames fit the budget. ``ms``: median frame time (None
    when no frame finished); ``reason``: why it was refused, one line for the HUD and the log."""

    name: str
    ok: bool
    ms: float | None = None
    budget_ms: float = 0.0
    reason: str = ""
    reference_ms: float | None = None
    frames_ms: tuple = field(default_factory=tuple)


def probe(programs: Sequence[ProbeProgram], *, values: Mapping[str, Any] | None = None,
          budget_ms: float = 0.0, frame_period_ms: float = 1000.0 / 60.0, frames: int = 3,
          deadline_s: float | None = None, start_timeout_s: float = START_TIMEOUT_S,
          cancel: threading.Event | None = None) -> list[ProbeResult]:
    """Compile and time each program in a child process; one :class:`ProbeResult` per program.

    ``values``: uniform values to draw with (the show's current ones, so a loop bounded by a
    uniform is timed as it would run). A program whose frame has not returned ``deadline_s``
    after it started (default: 3 s, or three budgets) is refused, the child is killed, and the remaining programs are probed in
    a fresh child. ``cancel`` set: the child is killed and the rest refused at once (the show is
    ending). Never raises for a bad program; a probe that cannot run at all (no EGL)
    refuses every program with the reason.
    """
    if deadline_s is None:              # a frame may run over its budget (it is refused then) but
        deadline_s = max(DEFAULT_DEADLINE_S, 3e-3 * float(budget_ms))   # must return to be timed
    todo = list(programs)
    results: dict[str, ProbeResult] = {}
    cancel = cancel or threading.Event()
    while todo:
        if cancel.is_set():
            for p in todo:
                results[p.name] = ProbeResult(p.name, False, reason="probe cancelled")
            break
        done = _probe_once(todo, values or {}, budget_ms, frame_period_ms, frames, deadline_s, start_timeout_s,
                           cancel)
        for r in done:
            results[r.name] = r
        todo = [p for p in todo if p.name not in results]
    return [results[p.name] for p in programs]


def _uniform_values(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        if isinstance(v, bool):
            out[k] = float(v)
        elif isinstance(v, (int, float)):
            out[k] = v
        elif isinstance(v, (tuple, list)) and all(isinstance(x, (int, float)) for x in v):
            out[k] = list(v)
    return out


def _probe_once(programs, values, budget_ms, frame_period_ms, frames, deadline_s, start_timeout_s, cancel):
    request = {"programs": [asdict(p) for p in programs], "values": _uniform_values(values),
               "budget_ms": float(budget_ms), "frame_period_ms": float(frame_period_ms), "frames": int(frames)}
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "live.render.probe"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                start_new_session=True)   # Ctrl+C on the terminal goes to the show, not here
    except OSError as exc:
        return [ProbeResult(p.name, False, reason=f"shader probe cannot start ({exc})") for p in programs]
    results: list[ProbeResult] = []
    current: str | None = None
    started = time.monotonic()
    limit = started + start_timeout_s
    buf = b""
    sel = selectors.DefaultSelector()
    try:
        proc.stdin.write(json.dumps(request).encode())
        proc.stdin.close()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            wait = limit - time.monotonic()
            if wait <= 0 or cancel.is_set():
                break
            if not sel.select(timeout=min(wait, 0.1)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                kind = msg.get("event")
                if kind == "drawing":        # a frame of this program is on its way: its deadline runs
                    current = msg["name"]
                    limit = time.monotonic() + deadline_s
                elif kind == "result":
                    r = msg["result"]
                    results.append(ProbeResult(r["name"], r["ok"], r.get("ms"), r.get("budget_ms", 0.0),
                                               r.get("reason", ""), r.get("reference_ms"),
                                               tuple(r.get("frames_ms", ()))))
                    current = None
                    limit = time.monotonic() + start_timeout_s
                elif kind == "fatal":
                    reason = f"shader probe failed: {msg.get('reason', '?')}"
                    return results + [ProbeResult(p.name, False, reason=reason) for p in programs
                                      if p.name not in {r.name for r in results}]
            if len(results) == len(programs):
                break
    finally:
        sel.close()
        if proc.poll() is None:
            _kill(proc)
        proc.stdout.close()
    if len(results) < len(programs):
        done = {r.name for r in results}
        if cancel.is_set():
            return results + [ProbeResult(p.name, False, reason="probe cancelled") for p in programs
                              if p.name not in done]
        if current is not None:
            results.append(ProbeResult(current, False, budget_ms=float(budget_ms), reason=(
                f"a frame did not finish within {deadline_s:g} s (an endless or very long loop?); "
                "the probe was stopped")))
        elif time.monotonic() >= limit:
            pending = [p.name for p in programs if p.name not in done]
            results.append(ProbeResult(pending[0], False, reason=(
                f"the shader probe did not compile {pending[0]} within {start_timeout_s:g} s")))
        else:
            pending = [p.name for p in programs if p.name not in done]
            results.append(ProbeResult(pending[0], False, reason=(
                f"the shader probe ended while testing {pending[0]} (exit code {proc.returncode})")))
    return results


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        log.warning("shader probe %d did not exit after SIGKILL", proc.pid)


class Prober:
    """Probes on one worker thread, so the GL thread only submits and polls.

    ``submit(programs, values=...)`` returns a :class:`concurrent.futures.Future` of the result
    list. Requests run one after another (one child at a time)."""

    def __init__(self, **options: Any):
        self.options = options
        self._cancel = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shader-probe")

    def submit(self, programs: Sequence[ProbeProgram], *, values: Mapping[str, Any] | None = None) -> Future:
        return self._pool.submit(probe, list(programs), values=dict(values or {}), cancel=self._cancel,
                                 **self.options)

    def close(self) -> None:
        """Stop: a probe in flight is killed within 0.1 s (the show never waits for it)."""
        self._cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


# ------------------------------------------------------------------------------------------
# the child
# ------------------------------------------------------------------------------------------

_COPY_FRAGMENT = """#version 330
uniform sampler2D u_source;
in vec2 v_uv;
out vec4 f_color;
void main() { f_color = texture(u_source, v_uv); }
"""


def _emit(**msg: Any) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def _time_frames(ctx, vao, fbo, n: int, name: str | None = None) -> list[float]:
    out = []
    for _ in range(n):
        if name is not None:            # the parent's per-frame deadline starts now
            _emit(event="drawing", name=name)
        t = time.perf_counter()
        fbo.use()
        vao.render(mode=ctx.TRIANGLES, vertices=3)
        ctx.finish()
        out.append(1e3 * (time.perf_counter() - t))
    return out


def _child_main() -> int:
    try:
        request = json.loads(sys.stdin.read())
        import moderngl
        import numpy as np

        from live.render.shaderlib import DEFAULT_VERSION, DEFAULT_VERTEX

        ctx = moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        _emit(event="fatal", reason=f"{type(exc).__name__}: {exc}")
        return 1
    values = request.get("values", {})
    frames = max(1, int(request.get("frames", 3)))
    budget_req = float(request.get("budget_ms", 0.0))
    period = float(request.get("frame_period_ms", 1000.0 / 60.0))
    rng = np.random.default_rng(0)
    copy_prog = ctx.program(vertex_shader=DEFAULT_VERSION + DEFAULT_VERTEX, fragment_shader=_COPY_FRAGMENT)
    copy_vao = ctx.vertex_array(copy_prog, [])
    references: dict[tuple, float] = {}
    _emit(event="ready", renderer=str(ctx.info.get("GL_RENDERER", "")))
    for spec in request["programs"]:
        name, size = spec["name"], (max(1, int(spec["size"][0])), max(1, int(spec["size"][1])))
        try:
            prog = ctx.program(vertex_shader=spec["vertex"], fragment_shader=spec["fragment"])
        except Exception as exc:  # noqa: BLE001 - a compile error is a refusal, not a crash
            from live.render.shaderlib import short_gl_error
            _emit(event="result", result=dict(name=name, ok=False, reason=f"does not compile: {short_gl_error(str(exc))}"))
            continue
        tex = ctx.texture(size, 4, data=rng.integers(0, 256, size[0] * size[1] * 4, dtype=np.uint8).tobytes())
        target = ctx.framebuffer(color_attachments=[ctx.texture(size, 4)])
        for unit in range(5):
            tex.use(location=unit)
        if size not in references:
            copy_prog["u_source"].value = 2
            _time_frames(ctx, copy_vao, target, 1)
            references[size] = float(np.median(_time_frames(ctx, copy_vao, target, 3)))
        ref = references[size]
        budget = budget_req if budget_req > 0 else max(PERIOD_FACTOR * period, REFERENCE_FACTOR * ref)
        for uname in prog:
            member = prog[uname]
            if type(member).__name__ != "Uniform":
                continue
            if uname in ("u_gen_a", "u_gen_b", "u_source", "u_prev", "u_tex"):
                member.value = {"u_gen_a": 0, "u_gen_b": 1, "u_source": 2, "u_prev": 3}.get(uname, 4)
            elif uname in values:
                try:
                    v = values[uname]
                    member.value = tuple(v[: member.array_length]) if isinstance(v, list) and member.array_length > 1 \
                        else (tuple(v) if isinstance(v, list) else v)
                except Exception:  # noqa: BLE001 - a mismatched type is the show's business, not the probe's
                    pass
        vao = ctx.vertex_array(prog, [])
        warm = _time_frames(ctx, vao, target, 1, name)
        if warm[0] > 20 * budget:              # one frame already far over: no need for more
            timed = warm
        else:
            timed = _time_frames(ctx, vao, target, frames, name)
        ms = float(np.median(timed))
        ok = ms <= budget
        reason = "" if ok else (f"{ms:.0f} ms per frame at {size[0]}x{size[1]} is over its budget of "
                                f"{budget:.0f} ms")
        _emit(event="result", result=dict(name=name, ok=ok, ms=ms, budget_ms=budget, reason=reason,
                                          reference_ms=ref, frames_ms=timed))
        for obj in (vao, prog, target, tex):
            obj.release()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
