"""Virtual MIDI ports for tests and benchmarks: a private user-space JACK server.

The ALSA sequencer is not available in containers, so MIDI is tested through JACK: Debian's
``jackd2`` with its ``dummy`` backend runs as an ordinary process without a sound card. Each
:class:`JackServer` starts its own server under a unique name (``JACK_DEFAULT_SERVER``), so
tests running at the same time on one machine never see each other's ports, and stops it
again. MIDI ports are opened through mido's python-rtmidi backend on the JACK API
(:data:`BACKEND`); the code under test opens ports the same way (``live.control.midi``
takes the backend name as a setting).

    with JackServer() as jack:
        pad = jack.virtual_output("pads")          # a "controller" the show can open as input
        ...                                        # code under test opens "pads" by name
        pad.send(mido.Message("control_change", control=7, value=127))
        leds = jack.virtual_input("leds")          # what the show sends back: leds.poll()

or, in a test, the ``jack_server`` fixture (``from live.testing.jackmidi import jack_server``
in the test module). While a server runs, ``JACK_DEFAULT_SERVER`` names it and
``JACK_NO_START_SERVER`` keeps libjack from starting a server of its own; both are put
back when it stops. One server per process at a time.

Never imported by runtime code.
"""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any, Optional

BACKEND = "mido.backends.rtmidi/UNIX_JACK"
"""mido backend string for python-rtmidi on JACK (``rtmidi.API_UNIX_JACK``)."""

_COUNTER = itertools.count()
_ACTIVE_LOCK = threading.Lock()
_ACTIVE: Optional["JackServer"] = None
_ENV_KEYS = ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER", "JACK_NO_AUDIO_RESERVATION")


def unavailable_reason() -> str:
    """Why JACK MIDI cannot be used here ("" when it can): for ``pytest.skip``."""
    if shutil.which("jackd") is None :
        return "jackd not installed (Debian package jackd2; tools/setup.sh installs it)"
    try:
        import rtmidi  # noqa: F401
        import mido  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} not installed (pip install mido python-rtmidi)"
    import rtmidi
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        return "this python-rtmidi build has no JACK support"
    return ""


class JackServer:
    """A private JACK server with the dummy backend, and virtual MIDI ports on it.

    ``rate`` and ``period`` set the dummy clock (MIDI moves once per period: 128 frames at
    48 kHz is 2.7 ms). The server asks for real-time scheduling (where that is not allowed it
    runs without); a client that misses a cycle on a loaded machine loses that cycle's MIDI,
    and real-time threads make that rare. ``start()`` waits until clients can connect (``timeout_s``) and raises
    RuntimeError with the server's log otherwise.
    """

    def __init__(self, name: Optional[str] = None, *, rate: int = 48000, period: int = 128,
                 timeout_s: float = 10.0):
        self.name = name or f"ll{os.getpid()}x{next(_COUNTER)}x{os.urandom(3).hex()}"
        self.rate = int(rate)
        self.period = int(period)
        self.timeout_s = float(timeout_s)
        self._proc: Optional[subprocess.Popen] = None
        self._log = None
        self._saved_env: dict[str, Optional[str]] = {}
        self._ports: list[Any] = []
        self._backend = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "JackServer":
        global _ACTIVE
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        with _ACTIVE_LOCK:
            if _ACTIVE is not None:
                raise RuntimeError(f"JACK server {_ACTIVE.name} is already running in this process; "
                                   "stop it first (one server per process)")
            _ACTIVE = self
        self._saved_env = {k: os.environ.get(k) for k in _ENV_KEYS}
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_START_SERVER"] = "1"
        os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
        self._log = tempfile.TemporaryFile()
        # a long client timeout: on a loaded machine a late client must not be zombified
        cmd = ["jackd", "--realtime", "-t", "5000", "-n", self.name, "-d", "dummy",
               "-r", str(self.rate), "-p", str(self.period), "-C", "0", "-P", "0"]
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        """Poll until a client can connect: the server's socket in /dev/shm (jackd2 on Linux)
        appears first, then a probe client opens; other layouts fall back to probing."""
        import glob

        import rtmidi
        start = time.monotonic()
        end = start + self.timeout_s
        while time.monotonic() < end:
            if self._proc.poll() is not None:
                raise RuntimeError(f"JACK server {self.name} exited: {self.log()[-800:]}")
            if glob.glob(f"/dev/shm/jack_{self.name}_*") or time.monotonic() - start > 1.5:
                try:
                    probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "ll_probe")
                except Exception:
                    time.sleep(0.05)
                    continue
                probe.delete()
                return
            time.sleep(0.005)
        raise RuntimeError(f"JACK server {self.name} did not start within {self.timeout_s:g} s: "
                           f"{self.log()[-800:]}")

    def stop(self) -> None:
        """Close the ports opened here, stop the server, put the environment back."""
        global _ACTIVE
        for port in reversed(self._ports):
            try:
                port.close()
            except Exception:
                pass
        self._ports.clear()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env = {}
        if self._log is not None:
            self._log.close()
            self._log = None
        with _ACTIVE_LOCK:
            if _ACTIVE is self:
                _ACTIVE = None

    def __enter__(self) -> "JackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """The server's output so far (for failure messages)."""
        if self._log is None:
            return ""
        pos = self._log.tell()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.seek(pos)
        return text

    # ------------------------------------------------------------ ports
    @property
    def backend(self):
        """The mido backend for JACK (loaded on first use)."""
        if self._backend is None:
            import mido
            self._backend = mido.Backend(BACKEND, load=True)
        return self._backend

    def virtual_output(self, name: str, *, client: Optional[str] = None):
        """A virtual MIDI output (what a controller looks like to the show: an input named
        ``client:name``). Closed when the server stops, or by the caller (an unplug)."""
        port = self.backend.open_output(name, virtual=True, client_name=client or name)
        self._ports.append(port)
        return port

    def virtual_input(self, name: str, *, client: Optional[str] = None) -> "PolledInput":
        """A virtual MIDI input (a controller's LEDs, as the show sees an output); polled."""
        port = PolledInput(name, virtual=True, client=client or name)
        self._ports.append(port)
        return port

    def open_input(self, name: str) -> "PolledInput":
        """Connect to the output port ``name`` (a full name from :meth:`input_names`); polled."""
        port = PolledInput(name)
        self._ports.append(port)
        return port

    def input_names(self) -> list[str]:
        return list(self.backend.get_input_names())

    def output_names(self) -> list[str]:
        return list(self.backend.get_output_names())

    def connections(self) -> dict[str, list[str]]:
        """Port name -> the ports it is connected to (from ``jack_lsp -c``)."""
        out = subprocess.run(["jack_lsp", "-s", self.name, "-c"], capture_output=True, text=True,
                             timeout=10).stdout
        conns: dict[str, list[str]] = {}
        current = None
        for line in out.splitlines():
            if not line.strip():
                continue
            if line[:1].isspace():
                if current is not None:
                    conns[current].append(line.strip())
            else:
                current = line.strip()
                conns[current] = []
        return conns

    def wait_connected(self, source: str, dest: str, *, timeout_s: float = 5.0) -> bool:
        """Wait until a port whose name contains ``source`` is connected to one containing
        ``dest`` (a connection made by another client is live from JACK's next cycle: MIDI
        sent before it is lost), then one more period."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for port, peers in self.connections().items():
                if source in port and any(dest in p for p in peers):
                    time.sleep(4 * self.period / self.rate + 0.01)
                    return True
            time.sleep(0.02)
        return False

    def wait_for(self, fragment: str, *, kind: str = "input", present: bool = True,
                 timeout_s: float = 5.0) -> bool:
        """Wait until a port whose name contains ``fragment`` is listed (or gone)."""
        names = self.input_names if kind == "input" else self.output_names
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if any(fragment in n for n in names()) == present:
                return True
            time.sleep(0.02)
        return False


class PolledInput:
    """A MIDI input on JACK read by polling (``poll()`` -> mido.Message or None).

    Never a Python callback: python-rtmidi runs input callbacks in JACK's process thread,
    which then waits for the interpreter lock while a thread holding it opens or closes a
    JACK client (listing ports does): a deadlock. mido's rtmidi inputs always install such
    a callback, so on JACK open inputs through this class (or python-rtmidi without a
    callback), never ``mido.open_input``.
    """

    def __init__(self, name: str, *, virtual: bool = False, client: str = "ll-test"):
        import mido
        import rtmidi
        self._mido = mido
        self.name = name
        self._rt = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, client)
        try:
            if virtual:
                self._rt.open_virtual_port(name)
            else:
                names = self._rt.get_ports()
                if name not in names:
                    raise OSError(f"unknown MIDI port {name!r}; ports: {names}")
                self._rt.open_port(names.index(name), "in")
            self._rt.ignore_types(sysex=False, timing=False, active_sense=True)
        except BaseException:
            self._rt.delete()
            raise
        self.closed = False

    def poll(self):
        while not self.closed:
            got = self._rt.get_message()
            if got is None:
                return None
            try:
                return self._mido.Message.from_bytes(got[0])
            except ValueError:
                continue
        return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._rt.close_port()
            self._rt.delete()


def receive(port, *, count: int = 1, timeout_s: float = 2.0) -> list:
    """Up to ``count`` messages from a mido input ``port`` within ``timeout_s`` (polling)."""
    out: list = []
    end = time.monotonic() + timeout_s
    while len(out) < count and time.monotonic() < end:
        msg = port.poll()
        if msg is None:
            time.sleep(0.001)
        else:
            out.append(msg)
    return out


try:  # the pytest fixture, for test modules that import it
    import pytest

    @pytest.fixture
    def jack_server():
        """A private JACK server for one test (skipped with the reason where JACK is missing)."""
        reason = unavailable_reason()
        if reason:
            pytest.skip(reason)
        with JackServer() as server:
            yield server
            print(f"--- JACK server {server.name} log ---\n{server.log()}")   # shown on failure
except ImportError:  # pragma: no cover - runtime installs without pytest
    pass


__all__ = ["BACKEND", "JackServer", "PolledInput", "receive", "unavailable_reason"]
