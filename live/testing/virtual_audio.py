"""A private PulseAudio server with a null sink: a real virtual sound device for tests.

    from live.testing.virtual_audio import virtual_sound_device
    with virtual_sound_device() as va:        # server + sink "latentlive_test"
        va.play("tone.wav")                    # paplay into the sink
        SoundDeviceSource("pulse")             # records the sink's monitor (the default source)

The server runs in the foreground as our own child process, with XDG_RUNTIME_DIR,
PULSE_RUNTIME_PATH, PULSE_STATE_PATH and HOME pointing into a temp folder, so it never
touches a user's own server; it loads only the native protocol and the null sink. While the
context is open those variables are set in ``os.environ`` (ALSA's ``pulse`` plugin, used by
PortAudio's ``pulse``/``default`` devices, finds the server through them) and PortAudio is
re-initialised so it sees the ``pulse`` device. On exit only the processes started here
are stopped, by PID, and the environment is restored.

Used by the end-to-end audio tests (``tests/virtual_audio.py`` re-exports it) and by
``latent-live bench latency``, which needs it from an installed package.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

SINK_NAME = "latentlive_test"
ALSA_DEVICE = "pulse"   # PortAudio/ALSA device name that reaches the server


class VirtualAudioUnavailable(RuntimeError):
    """The pulseaudio binaries are not installed (tests skip with this reason)."""


def missing_binaries() -> list[str]:
    return [b for b in ("pulseaudio", "pactl", "paplay") if shutil.which(b) is None]


class VirtualAudio:
    """A running private PulseAudio server with one null sink; see the module docstring."""

    def __init__(self, root: Path, *, sink_name: str = SINK_NAME, rate_hz: int = 44100):
        self.root = root
        self.sink_name = sink_name
        self.monitor_name = f"{sink_name}.monitor"
        self.rate_hz = rate_hz
        runtime = root / "runtime"
        self.env_vars = {
            "XDG_RUNTIME_DIR": str(runtime),
            "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
            "PULSE_STATE_PATH": str(root / "state"),
            "HOME": str(root / "home"),
            "PULSE_SERVER": f"unix:{runtime / 'pulse' / 'native'}",
        }
        for key in ("XDG_RUNTIME_DIR", "PULSE_STATE_PATH", "HOME"):
            Path(self.env_vars[key]).mkdir(parents=True, exist_ok=True, mode=0o700)
        self.env = {**os.environ, **self.env_vars}
        self.server: Optional[subprocess.Popen] = None
        self.children: list[subprocess.Popen] = []
        self.log_path = root / "pulseaudio.log"

    # ------------------------------------------------------------------ server
    def start_server(self, *, timeout_s: float = 10.0) -> None:
        """Start the server (foreground child), load the null sink, make its monitor the default source."""
        log = open(self.log_path, "ab")
        self.server = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--disallow-exit",
             "--system=false", "--realtime=no", "--high-priority=no", "--use-pid-file=no",
             "--disable-shm=yes", "--log-target=stderr", "--load=module-native-protocol-unix"],
            env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout_s
        while True:
            if self.server.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {self.server.returncode}: {self._log_tail()}")
            if subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop_server()
                raise RuntimeError(f"pulseaudio did not come up in {timeout_s} s: {self._log_tail()}")
            time.sleep(0.05)
        self.pactl("load-module", "module-null-sink", f"sink_name={self.sink_name}", f"rate={self.rate_hz}",
                   "channels=2", f"sink_properties=device.description={self.sink_name}")
        self.pactl("set-default-sink", self.sink_name)
        self.pactl("set-default-source", self.monitor_name)

    def stop_server(self) -> None:
        """Stop the server we started (by its PID) and wait for it."""
        proc, self.server = self.server, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-3:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------ helpers
    def pactl(self, *args: str) -> str:
        res = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        if res.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {res.stderr.strip()}")
        return res.stdout

    def play(self, path: str | os.PathLike) -> subprocess.Popen:
        """Play a file into the null sink with paplay (returns the process; stopped on exit)."""
        proc = subprocess.Popen(["paplay", f"--device={self.sink_name}", str(path)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.children.append(proc)
        return proc

    def stop_children(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.children.clear()


def _reinit_portaudio() -> None:
    """Make PortAudio enumerate the devices again (it does so once, when it starts)."""
    try:
        import sounddevice as sd
    except (ImportError, OSError):
        return
    sd._terminate()
    sd._initialize()


@contextlib.contextmanager
def virtual_sound_device(*, sink_name: str = SINK_NAME, rate_hz: int = 44100) -> Iterator[VirtualAudio]:
    """Start a private PulseAudio with a null sink; yields a :class:`VirtualAudio`.

    Raises :class:`VirtualAudioUnavailable` when the binaries are missing.
    """
    missing = missing_binaries()
    if missing:
        raise VirtualAudioUnavailable(
            f"{', '.join(missing)} not installed (sudo apt-get install pulseaudio pulseaudio-utils libasound2-plugins)")
    root = Path(tempfile.mkdtemp(prefix="latentlive-pulse-"))
    va = VirtualAudio(root, sink_name=sink_name, rate_hz=rate_hz)
    saved = {k: os.environ.get(k) for k in va.env_vars}
    try:
        va.start_server()
        os.environ.update(va.env_vars)
        _reinit_portaudio()
        yield va
    finally:
        va.stop_children()
        va.stop_server()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reinit_portaudio()
        shutil.rmtree(root, ignore_errors=True)
