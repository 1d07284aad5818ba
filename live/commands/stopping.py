"""Ending a show or a render the same way whatever asks for it: Ctrl+C (SIGINT), SIGTERM
(a service manager, ``kill``), SIGHUP (the terminal closed).

:class:`StopSignals` turns the first of these into a polite stop (``on_stop()``: the show's
loop ends, its sinks finish their files) and remembers which signal it was, for the summary
and the exit code (``128 + signal number``: 130 after Ctrl+C, 143 after SIGTERM, 129 after
SIGHUP). A second signal raises :class:`KeyboardInterrupt` in the main thread. If the process
is still there ``grace_s`` after the first signal (a GL driver stuck in a draw call, a sink that
does not finish), the watchdog runs ``emergency()`` (finish the recording from its own thread)
and ends the process with that exit code: a stop request always ends the show.
:meth:`StopSignals.arm_deadline` does the same for ``--duration`` (exit code 1).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Callable, Optional

log = logging.getLogger("live.app")

SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


def exit_code_for(signum: int) -> int:
    return 128 + int(signum)


class StopSignals:
    """Context manager installing the handlers in the main thread (a no-op elsewhere).

    ``raise_first``: the first signal raises KeyboardInterrupt at once instead of calling
    ``on_stop`` (a loop that checks no flag, such as an offline render, ends through its
    ``finally`` blocks)."""

    def __init__(self, on_stop: Optional[Callable[[], None]] = None, *, grace_s: float = 20.0,
                 emergency: Optional[Callable[[], None]] = None, raise_first: bool = False):
        self.on_stop = on_stop
        self.grace_s = float(grace_s)
        self.emergency = emergency
        self.raise_first = raise_first
        self.signum: Optional[int] = None
        self._old: dict = {}
        self._watchdog: Optional[threading.Timer] = None
        self._deadline: Optional[threading.Timer] = None
        self._reason: Optional[str] = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def exit_code(self) -> Optional[int]:
        return exit_code_for(self.signum) if self.signum else None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:                    # the second request: stop now
            raise KeyboardInterrupt
        self.signum = signum
        print(f"latent-live: {signal.Signals(signum).name}: stopping (finishing the recording); "
              "again to stop at once", file=sys.stderr, flush=True)
        self._watchdog = threading.Timer(self.grace_s, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        if self.raise_first or self.on_stop is None:
            raise KeyboardInterrupt
        self.on_stop()

    def arm_deadline(self, seconds: float) -> None:
        """End the process (as the watchdog does after a signal, exit code 1) if it is still in
        this block ``seconds`` from now: ``--duration`` plus a grace always ends the show."""
        def overrun():
            if self.signum is None:            # a signal's own watchdog is running otherwise
                self._reason = f"--duration (+{self.grace_s:g} s)"
                self._expire()
        self._deadline = threading.Timer(float(seconds), overrun)
        self._deadline.daemon = True
        self._deadline.start()

    def _expire(self) -> None:
        what = getattr(self, "_reason", None) or f"{self.grace_s:g} s after {self.name}"
        print(f"latent-live: still running {what}; finishing the recording "
              "and ending the process", file=sys.stderr, flush=True)
        try:
            if self.emergency is not None:
                self.emergency()
        except Exception as exc:  # noqa: BLE001 - ending anyway
            print(f"latent-live: while finishing: {exc}", file=sys.stderr, flush=True)
        finally:
            sys.stderr.flush()
            os._exit(self.exit_code or 1)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                try:
                    self._old[s] = signal.signal(s, self._handle)
                except (ValueError, OSError):  # pragma: no cover - not allowed here
                    pass
        return self

    def __exit__(self, *exc) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
        for s, old in self._old.items():
            try:
                signal.signal(s, old)
            except (ValueError, OSError):  # pragma: no cover
                pass
        self._old.clear()
