"""The one assembly of a show's parts from its settings: generator, banks, renderer, telemetry,
frame sinks. ``latent-live run`` (:mod:`live.app`), ``latent-live render``
(:mod:`live.offline.render`) and the benchmarks build through here, so a setting reaches the
generator and the renderer the same way on every path.

Every field of :class:`~live.config.GenConfig` and :class:`~live.config.RenderConfig` is either
passed on here (``GEN_OPTIONS``, ``RENDER_OPTIONS``) or named in ``GEN_USED_ELSEWHERE`` /
``RENDER_USED_ELSEWHERE`` with the place that uses it; tests/test_assemble.py fails for a
setting that is in neither, so a new setting cannot be forgotten on one path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from live.errors import RenderError
from live.config import GenConfig, OutputsConfig, RenderConfig
from live.data import find_data, resolve_data_path
from live.telemetry import Telemetry

DEFAULT_BANK = "latent_banks/default"

# GenConfig field -> the backends that take it as a generator option (None: every backend)
GEN_OPTIONS: dict[str, Optional[tuple[str, ...]]] = {
    "size": None, "seed": None, "pulse_strength": None,
    "model": ("vae", "lcm"), "device": ("vae", "lcm"), "dtype": ("vae", "lcm"),
    "runtime": ("vae",), "threads": ("vae",),
    "guidance_scale": ("lcm",), "lora": ("lcm",), "vae": ("lcm",),
}
# GenConfig fields that are not generator options, and who uses them
GEN_USED_ELSEWHERE = {
    "backend": "make_generator: which backend",
    "banks": "load_banks",
    "steps": "the gen.steps control (ControlState) -> motion -> GenControl.steps",
    "feedback": "the gen.feedback control (ControlState) -> motion -> GenControl.feedback",
    "timeout_s": "the show's generator supervisor (live.app)",
    "max_fps": "the show's generator worker (live.app)",
    "process": "make_generator: the backend in a process of its own (live.gen.process)",
}
# RenderConfig field -> Renderer keyword
RENDER_OPTIONS = ("width", "height", "headless", "fullscreen", "monitor", "vsync", "shader_dirs",
                  "chain", "hud", "internal_scale", "shader_budget_ms", "wall", "tile", "overlap")
# offline every frame is waited for: with the automatic budget a user's pass may take this long
# per frame (only one that never returns is refused)
OFFLINE_SHADER_BUDGET_MS = 2000.0
# what an offline render (no window, nobody looking) fixes whatever the settings say
OFFLINE_RENDER_FIXED = {"headless": True, "hud": False, "fullscreen": False, "vsync": False}
RENDER_USED_ELSEWHERE = {
    "fps": "the show's display pacing (live.app); offline: --fps",
    "record": "make_sinks: the live recording",
    "record_fps": "make_sinks: the live recording's frame rate",
    "record_preset": "make_sinks: the live recording's x264 preset",
    "look": "make_renderer: the look stage (live.looks) put where the chain was",
}


# ----------------------------------------------------------------------------------------------
# generator


def generator_options(g: GenConfig, backend: Optional[str] = None) -> dict:
    """The keyword options backend ``backend`` (default ``g.backend``) is built with."""
    name = str(backend or g.backend).strip().lower()
    return {k: getattr(g, k) for k, only in GEN_OPTIONS.items() if only is None or name in only}


def make_generator(g: GenConfig, *, backend: Optional[str] = None, factory: Optional[Callable] = None):
    """Build and ``load()`` a generator from the gen settings. Any failure propagates (the
    caller decides: the show falls back to the embedded generator, a render stops).
    ``factory(name, **options)`` replaces :func:`live.gen.get_generator` (tests)."""
    from live.gen import get_generator

    name = str(backend or g.backend).strip().lower()
    if factory is None:
        from live.gen.process import ProcessGenerator, wants_process

        if wants_process(name, g.process, g.device):
            factory = ProcessGenerator
    gen = (factory or get_generator)(name, **generator_options(g, name))
    try:
        gen.load()
    except BaseException:
        close = getattr(gen, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001 - the load error is the one to report
                pass
        raise
    return gen


# ----------------------------------------------------------------------------------------------
# banks


def resolve_bank_path(path: str | Path) -> Path:
    """A bank path as given, or beside the bundled data (see :func:`live.data.resolve_data_path`)."""
    return resolve_data_path(path)


def load_banks(paths: Sequence[str], telemetry: Telemetry) -> dict:
    """Load every bank that loads; note the others. Returns name -> LatentBank (ordered)."""
    from live.gen import BankError, load_bank

    banks: dict = {}
    for p in paths:
        try:
            bank = load_bank(resolve_bank_path(p))
        except (BankError, OSError) as exc:
            telemetry.bank_errors += 1
            telemetry.note(f"bank {p} not loaded: {exc}")
            continue
        name = bank.name
        if name in banks:
            name = f"{name}:{len(banks)}"
        banks[name] = bank
    return banks


def bank_fits(gen, bank) -> bool:
    from live.gen.bank import BankMismatchError, check_bank

    try:
        check_bank(bank, gen.bank_spec())
        return True
    except BankMismatchError:
        return False


def fit_banks(gen, banks: dict, telemetry: Telemetry, *, default_for_embedded: bool = True) -> dict:
    """The banks of ``banks`` that fit ``gen``, in order; each one that does not is noted.
    With none, the embedded generator gets the bundled default bank (when it loads)."""
    fitting = {n: b for n, b in banks.items() if bank_fits(gen, b)}
    for name, b in banks.items():
        if name not in fitting:
            where = f" ({b.path})" if getattr(b, "path", None) else ""
            telemetry.bank_errors += 1
            telemetry.note(f"bank '{name}'{where} does not fit backend '{gen.name}': it was built for "
                           f"{b.describe()}, the generator needs {gen.bank_spec().describe()}; skipped "
                           f"(build one with 'latent-live bank build --backend {gen.name}')")
    if not fitting and default_for_embedded and gen.name == "embedded":
        bank = load_default_bank(telemetry)
        if bank is not None and bank_fits(gen, bank):
            fitting[bank.name] = bank
            telemetry.note(f"using the bundled bank {bank.path}")
    return fitting


def load_default_bank(telemetry: Telemetry):
    """The bundled default bank, or None (noted)."""
    from live.gen import BankError, load_bank

    path = find_data(DEFAULT_BANK, marker="bank.toml")
    try:
        return load_bank(path)
    except (BankError, OSError) as exc:
        telemetry.note(f"bundled bank {path} not usable: {exc}")
        return None


# ----------------------------------------------------------------------------------------------
# renderer and sinks


def renderer_options(r: RenderConfig, *, offline: bool = False) -> dict:
    """The keyword options the renderer is built with from the render settings."""
    opts = {k: getattr(r, k) for k in RENDER_OPTIONS}
    opts["internal_scale"] = opts["internal_scale"] or None      # 0 = auto
    if offline:
        opts.update(OFFLINE_RENDER_FIXED)
        opts["shader_budget_ms"] = opts["shader_budget_ms"] or OFFLINE_SHADER_BUDGET_MS
    return opts


def make_renderer(r: RenderConfig, *, offline: bool = False, factory: Optional[Callable] = None):
    """The renderer for the render settings (RenderError when it cannot start).
    ``factory(**options)`` replaces :class:`live.render.Renderer` (tests)."""
    if factory is None:
        from live.render import Renderer as factory
    renderer = factory(**renderer_options(r, offline=offline))
    if r.look:
        from live.looks.stage import install_look

        try:
            install_look(renderer, r.look, shader_dirs=r.shader_dirs)
        except ValueError as exc:
            renderer.close()
            raise RenderError(str(exc)) from None
    return renderer


def make_sinks(r: RenderConfig, *, size: tuple[int, int], record: str = "", audio_path=None,
               fps: Optional[float] = None, offline: bool = False, audio_start_s: Optional[float] = None,
               outputs: Optional[OutputsConfig] = None, audio_loop: bool = False) -> list:
    """The frame sinks of a show or render: the recording when there is one, NDI and the
    virtual camera when ``outputs`` asks for them (live only). Live: the recording at
    ``min(render.fps, render.record_fps)`` frames per second, the live preset, dropping frames
    rather than waiting; offline: every frame at ``fps`` (``block=True``). RecorderError when
    the recording cannot start, RuntimeError (naming the fix) when NDI or the virtual camera
    cannot; whatever was opened before is closed again."""
    from live.outputs.recorder import Recorder

    sinks: list = []
    try:
        path = record if offline else (record or r.record)
        w, h = size
        if path:
            if offline:
                sinks.append(Recorder(path, width=w, height=h, fps=float(fps), audio_path=audio_path,
                                      audio_start_s=audio_start_s, block=True))
            else:
                # the audio from the first frame's time on; a looping file loops in the recording too
                sinks.append(Recorder(path, width=w, height=h, fps=min(r.fps, r.record_fps),
                                      audio_path=audio_path, preset=r.record_preset, audio_loop=audio_loop))
        o = outputs
        if o is not None and not offline and o.ndi:
            from live.outputs.ndi import NdiSink
            out_size = (o.ndi_width or w, o.ndi_height or h)
            sinks.append(NdiSink(o.ndi, width=w, height=h, out_size=out_size, fps=o.ndi_fps))
        if o is not None and not offline and o.v4l2:
            from live.outputs.vcam import VirtualCameraSink
            sinks.append(VirtualCameraSink(o.v4l2, width=w, height=h, fps=min(r.fps, o.v4l2_fps)))
    except BaseException:
        for s in sinks:
            s.close()
        raise
    return sinks
