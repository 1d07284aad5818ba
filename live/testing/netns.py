"""Run network tests and benchmarks inside a private network namespace.

Ableton Link, NDI and the lead/follow stream multicast on every interface. Their tests must
never reach the machine's real network, so they run in a namespace of their own
(``unshare -n``; root, or a user namespace where the kernel allows it) with only the loopback
interface up and a multicast route on it::

    def test_two_peers(request):
        if netns.delegate(request):      # outside: re-runs this test inside and reports
            return
        ...                              # inside: the real test

Never imported by runtime code (``bench`` commands use :func:`run` the same way).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Optional, Sequence

ENV_FLAG = "LATENT_LIVE_NETNS"
_SETUP = "ip link set lo up && ip route add 224.0.0.0/4 dev lo && exec \"$@\""
_reason_cache: Optional[str] = None


def inside() -> bool:
    """True in a process started by :func:`run` (the private namespace)."""
    return os.environ.get(ENV_FLAG) == "1"


def unavailable_reason() -> str:
    """Why no private network namespace can be made here ("" when it can)."""
    global _reason_cache
    if _reason_cache is not None:
        return _reason_cache
    why = ""
    if shutil.which("unshare") is None:
        why = "unshare (util-linux) not found"
    elif shutil.which("ip") is None:
        why = "ip (iproute2) not found"
    else:
        cmd = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]
        try:
            p = subprocess.run(cmd + ["sh", "-c", _SETUP, "sh", "true"], capture_output=True,
                               text=True, timeout=20)
            if p.returncode != 0:
                why = f"cannot make a private network namespace: {p.stderr.strip()[-300:]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = f"cannot make a private network namespace: {exc}"
    _reason_cache = why
    return why


def command(argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped to run in a fresh namespace with ``lo`` up and multicast routed on it."""
    pre = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]
    return pre + ["sh", "-c", _SETUP, "sh", *argv]


def run(argv: Sequence[str], *, timeout_s: float = 300.0, env: Optional[dict] = None,
        capture: bool = True) -> subprocess.CompletedProcess:
    """Run ``argv`` in a private network namespace (``LATENT_LIVE_NETNS=1`` set for it)."""
    e = dict(os.environ if env is None else env)
    e[ENV_FLAG] = "1"
    return subprocess.run(command(argv), env=e, timeout=timeout_s, text=True,
                          capture_output=capture)


def delegate(request, *, timeout_s: float = 240.0) -> bool:
    """In a pytest test: outside the namespace, run this very test inside one and fail with its
    output if it failed (skip with the reason where no namespace can be made); returns True
    when the test was delegated, False inside (run the body)."""
    import pytest

    if inside():
        return False
    why = unavailable_reason()
    if why:
        pytest.skip(why)
    nodeid = request.node.nodeid
    root = str(request.config.rootpath)
    p = run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
             "-o", "addopts=", "--rootdir", root, nodeid], timeout_s=timeout_s)
    out = (p.stdout or "") + (p.stderr or "")
    if p.returncode == 5 or " skipped" in out and " passed" not in out:
        pytest.skip("inside the namespace: " + out.strip().splitlines()[-1])
    if p.returncode != 0:
        pytest.fail(f"{nodeid} failed inside a private network namespace:\n{out[-6000:]}",
                    pytrace=False)
    return True
