"""Any generator backend in a process of its own, behind the same Generator protocol.

A backend that holds the interpreter lock for long (the vae decoder on a CPU: onnxruntime
releases it inside its kernels, but the Python around every frame and torch-free numpy
work do not) would take it from the GL and analysis threads. :class:`ProcessGenerator`
runs the real backend in a spawned child process; each frame comes back through shared
memory (one slot, overwritten by the next frame; the parent copies it out while the child
waits for the next request), the control and the bank go over a pipe. While the parent
waits for a frame it holds no lock at all, so the GL thread and the analysis thread run.

Errors in the child come back as the same exception type where it is a GenError (bank
mismatch included) with the child's message; a child that dies is a GenError naming its
exit code, so the show's supervisor falls back as for any failing generator.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
import traceback
from typing import Any

import numpy as np

from live.errors import GenError
from live.gen.base import Generator
from live.types import Frame, GenControl

log = logging.getLogger("live.gen")

_START_TIMEOUT_S = 600.0        # loading may export an ONNX model (minutes on a slow CPU)


def _error_reply(exc: BaseException) -> tuple:
    return ("error", type(exc).__module__, type(exc).__name__, str(exc) or type(exc).__name__)


def _child_main(conn, name: str, options: dict, shm_name: str, frame_shape: tuple) -> None:
    """The child: build and load the backend, then answer render / bank / close requests."""
    from multiprocessing import shared_memory

    shm = None
    try:
        from live.gen import get_generator

        gen = get_generator(name, **options)
        gen.load()
        shm = shared_memory.SharedMemory(name=shm_name)
        out = np.ndarray(frame_shape, dtype=np.uint8, buffer=shm.buf)
        info = {k: getattr(gen, k) for k in ("providers", "runtime_used", "dtype_used") if hasattr(gen, k)}
        conn.send(("loaded", gen.bank_spec(), info))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as a message
        try:
            conn.send(_error_reply(exc))
        finally:
            if shm is not None:
                shm.close()
        return
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return                               # the parent is gone
            kind = msg[0]
            try:
                if kind == "render":
                    f = gen.render(msg[1])
                    px = f.pixels
                    if px.shape != frame_shape or px.dtype != np.uint8:
                        raise GenError(f"{name}: frame {px.shape} {px.dtype}, expected {frame_shape} uint8")
                    np.copyto(out, px)
                    conn.send(("frame", f.gen_ms))
                elif kind == "bank":
                    gen.set_bank(msg[1])
                    conn.send(("ok",))
                elif kind == "close":
                    conn.send(("ok",))
                    return
                else:
                    conn.send(("error", "live.errors", "GenError", f"unknown request {kind!r}"))
            except Exception as exc:  # noqa: BLE001
                log.debug("generator child: %s", traceback.format_exc())
                conn.send(_error_reply(exc))
    finally:
        try:
            gen.close()
        finally:
            del out
            shm.close()


def _raise(reply: tuple) -> None:
    _, module, cls_name, message = reply
    import importlib

    cls = GenError
    try:
        found = getattr(importlib.import_module(module), cls_name)
        if isinstance(found, type) and issubclass(found, Exception):
            cls = found
    except Exception:  # noqa: BLE001
        pass
    if not issubclass(cls, GenError):
        message = f"{cls_name}: {message}"
        cls = GenError
    raise cls(message)


class ProcessGenerator(Generator):
    """``backend`` (a registered generator name) run in its own process with ``options``.

    ``name`` is the backend's name, so banks, the HUD and the telemetry see the backend.
    """

    def __init__(self, backend: str, **options: Any) -> None:
        self.name = str(backend)
        self._backend_options = dict(options)
        base = {k: options[k] for k in ("size", "model", "device", "dtype", "seed") if k in options}
        super().__init__(**base)
        self.options = dict(options)
        self._proc = None
        self._conn = None
        self._shm = None
        self._frame = None
        self._spec = None
        self._bank = None
        self.info: dict = {}
        self._lock = threading.Lock()

    # -- life cycle -------------------------------------------------------------------
    def load(self) -> None:
        from multiprocessing import shared_memory

        shape = (self.size, self.size, 3)
        self._shm = shared_memory.SharedMemory(create=True, size=int(np.prod(shape)))
        self._frame = np.ndarray(shape, dtype=np.uint8, buffer=self._shm.buf)
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child_main, name=f"latent-live-gen-{self.name}",
                                 args=(child, self.name, self._backend_options, self._shm.name, shape), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        try:
            reply = self._wait(_START_TIMEOUT_S, "to load")
        except BaseException:
            self.close()
            raise
        if reply[0] == "error":
            self.close()
            _raise(reply)
        _, self._spec, self.info = reply
        self.providers = list(self.info.get("providers", []))
        self.loaded = True
        log.info("%s generator in its own process (pid %d)", self.name, self._proc.pid)

    def _wait(self, timeout_s: float | None, what: str) -> tuple:
        """The child's next reply; GenError when it dies or takes longer than ``timeout_s``."""
        conn, proc = self._conn, self._proc
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            step = 0.5 if deadline is None else max(min(0.5, deadline - time.monotonic()), 0.0)
            if conn.poll(step):
                try:
                    return conn.recv()
                except (EOFError, OSError):
                    pass
            if not proc.is_alive() or (deadline is not None and time.monotonic() >= deadline):
                code = proc.exitcode
                why = f"exited with code {code}" if code is not None else f"took longer than {timeout_s:.0f} s"
                raise GenError(f"{self.name} generator process {why} {what}")

    def _request(self, msg: tuple, what: str) -> tuple:
        if self._conn is None:
            raise GenError(f"{self.name}: the generator process is not running (load() it first)")
        with self._lock:
            try:
                self._conn.send(msg)
            except (OSError, ValueError) as exc:
                self._proc.join(1.0)
                raise GenError(f"{self.name} generator process exited with code {self._proc.exitcode} "
                               f"({exc})") from None
            reply = self._wait(None, what)
            if reply[0] == "error":
                _raise(reply)
            if reply[0] == "frame":
                pixels = self._frame.copy()     # the slot is rewritten by the next frame
                return reply + (pixels,)
            return reply

    def close(self) -> None:
        conn, proc = self._conn, self._proc
        self._conn = self._proc = None
        if conn is not None:
            try:
                with self._lock:
                    conn.send(("close",))
                    if conn.poll(5.0):
                        conn.recv()
            except (OSError, EOFError, ValueError):
                pass
            conn.close()
        if proc is not None:
            proc.join(5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(2.0)
        if self._shm is not None:
            self._frame = None
            try:
                self._shm.close()
                self._shm.unlink()
            except (OSError, BufferError):
                pass
            self._shm = None
        super().close()

    # -- the protocol -----------------------------------------------------------------
    def bank_spec(self):
        if self._spec is None:
            raise GenError(f"{self.name}: load() the generator before asking for its bank spec")
        return self._spec

    def set_bank(self, bank) -> None:
        from live.gen.bank import check_bank

        check_bank(bank, self.bank_spec())           # the clear mismatch message, before the trip
        self._request(("bank", bank), "while taking the bank")
        self._bank = bank

    @property
    def bank(self):
        return self._bank

    def render(self, ctl: GenControl) -> Frame:
        t0 = time.perf_counter()
        _, gen_ms, pixels = self._request(("render", ctl), "while rendering")
        pixels.flags.writeable = False
        self.frame_index += 1
        self.last_overhead_ms = (time.perf_counter() - t0) * 1000.0 - gen_ms
        return Frame(pixels=pixels, control=ctl, gen_ms=(time.perf_counter() - t0) * 1000.0, index=self.frame_index)


def wants_process(backend: str, setting: str, device: str) -> bool:
    """``gen.process``: yes / no, or auto = the vae backend when it decodes on the CPU."""
    s = str(setting).lower()
    if s in ("yes", "true", "1"):
        return True
    if s in ("no", "false", "0"):
        return False
    if backend != "vae" or str(device).startswith("cuda"):
        return False
    if device == "cpu":
        return True
    try:
        from live.gen.onnx_export import gpu_provider_available

        return not gpu_provider_available()
    except ImportError:
        return True
