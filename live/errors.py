"""The error types shared by several rooms (standard library only).

Each is a problem the user can act on and carries one line that says what went wrong and
what to do; the command layer prints it without a traceback (exit code 2). Errors used by
one room only stay in that room (``AudioError`` in ``live.audio``, ``BankError`` in
``live.gen.bank``...).
"""
from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad file, missing device, wrong option): one line, exit 2.

    Raised by the command layer and the benchmarks; lower rooms raise their own errors and
    the command turns them into this one."""


class RenderError(Exception):
    """The picture cannot be made: no GL context, a missing or broken shader, or an offline
    render that cannot be done (bad file, range, bank, backend, timeline): one line."""


class GenError(Exception):
    """A generator or bank problem a user can act on (bad model folder, missing weights,
    a bank for another model...). Shared by ``live.gen`` and ``live.banks``."""


class ShowError(Exception):
    """The show cannot start (no sound source, no usable bank, no GL): a one-line reason."""
