"""Sound devices: listing them and finding the one a VJ asked for.

``sounddevice`` (and with it PortAudio) is imported lazily, so importing ``live.audio``
never touches the sound system. PortAudio scans the devices once when it starts;
:func:`rescan` makes it look again (a USB interface plugged in after start).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from live.audio.base import AudioDeviceError

PORTAUDIO_HINT = "install PortAudio: sudo apt-get install libportaudio2"


def import_sounddevice() -> Any:
    """Import ``sounddevice``; :class:`AudioDeviceError` with the fix when PortAudio is missing."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError('PortAudio library not found')
        raise AudioDeviceError(f"PortAudio is not available ({exc}); {PORTAUDIO_HINT}") from None
    except ImportError as exc:
        raise AudioDeviceError(f"the sounddevice package is missing ({exc}); pip install sounddevice") from None
    return sounddevice


def rescan(sd: Any = None) -> None:
    """Make PortAudio enumerate the devices again. Only while no stream of ours is open."""
    sd = sd or import_sounddevice()
    try:
        sd._terminate()
        sd._initialize()
    except Exception:  # pragma: no cover - depends on the PortAudio build
        pass


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device. Latencies are PortAudio's defaults, in milliseconds."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate_hz: float
    low_input_latency_ms: float
    high_input_latency_ms: float
    low_output_latency_ms: float
    high_output_latency_ms: float
    is_default_input: bool
    is_default_output: bool

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0

    def to_dict(self) -> dict:
        return asdict(self)


def _default_indices(sd: Any) -> tuple[int, int]:
    try:
        default_in, default_out = (int(x) if x is not None else -1 for x in sd.default.device)
    except Exception:
        return -1, -1
    # sd.default.device may be -1 (PortAudio's default); ask PortAudio itself then.
    try:
        if default_in < 0:
            default_in = int(sd.query_devices(kind="input")["index"])
    except Exception:
        default_in = -1
    try:
        if default_out < 0:
            default_out = int(sd.query_devices(kind="output")["index"])
    except Exception:
        default_out = -1
    return default_in, default_out


def list_devices(*, sd: Any = None) -> list[DeviceInfo]:
    """Every PortAudio device, inputs and outputs. Raises AudioDeviceError if PortAudio is missing."""
    sd = sd or import_sounddevice()
    try:
        raw = list(sd.query_devices())
        hostapis = list(sd.query_hostapis())
    except Exception as exc:
        raise AudioDeviceError(f"PortAudio could not list the devices: {exc}") from None
    default_in, default_out = _default_indices(sd)
    out = []
    for i, d in enumerate(raw):
        index = int(d.get("index", i))
        host = d.get("hostapi", -1)
        host_name = hostapis[host]["name"] if 0 <= host < len(hostapis) else "?"
        out.append(DeviceInfo(
            index=index,
            name=str(d["name"]),
            hostapi=host_name,
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_samplerate_hz=float(d["default_samplerate"]),
            low_input_latency_ms=round(1000.0 * float(d["default_low_input_latency"]), 2),
            high_input_latency_ms=round(1000.0 * float(d["default_high_input_latency"]), 2),
            low_output_latency_ms=round(1000.0 * float(d["default_low_output_latency"]), 2),
            high_output_latency_ms=round(1000.0 * float(d["default_high_output_latency"]), 2),
            is_default_input=index == default_in and int(d["max_input_channels"]) > 0,
            is_default_output=index == default_out and int(d["max_output_channels"]) > 0,
        ))
    return out


def describe_inputs(devices: list[DeviceInfo]) -> str:
    """One line listing the input devices, for error messages."""
    inputs = [d for d in devices if d.is_input]
    if not inputs:
        return "there are no input devices (check the sound card / PulseAudio; 'latent-live devices' lists them)"
    listed = "; ".join(f"{d.index}: {d.name} ({d.max_input_channels} in)" for d in inputs)
    return f"input devices: {listed}"


def find_input_device(device: Optional[int | str], *, sd: Any = None,
                      devices: Optional[list[DeviceInfo]] = None) -> DeviceInfo:
    """Resolve ``device`` (None/"" = default input, an index, or a case-insensitive name substring).

    An exact (case-insensitive) name match wins over substring matches; several substring
    matches are an error that lists them. Every error lists the input devices there are.
    """
    if devices is None:
        devices = list_devices(sd=sd)
    inputs = [d for d in devices if d.is_input]
    if device is None or (isinstance(device, str) and not device.strip()):
        for d in inputs:
            if d.is_default_input:
                return d
        raise AudioDeviceError(f"no default input device; pick one with --audio N; {describe_inputs(devices)}")
    if isinstance(device, bool):
        raise AudioDeviceError(f"invalid device {device!r}; {describe_inputs(devices)}")
    text = str(device).strip()
    if isinstance(device, int) or text.lstrip("-").isdigit():
        index = int(text)
        for d in devices:
            if d.index == index:
                if not d.is_input:
                    raise AudioDeviceError(f"device {index} '{d.name}' has no input channels; {describe_inputs(devices)}")
                return d
        raise AudioDeviceError(f"no device with index {index}; {describe_inputs(devices)}")
    low = text.lower()
    exact = [d for d in inputs if d.name.lower() == low]
    if exact:
        return exact[0]
    matches = [d for d in inputs if low in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise AudioDeviceError(f"no input device matches '{text}'; {describe_inputs(devices)}")
    names = "; ".join(f"{d.index}: {d.name}" for d in matches)
    raise AudioDeviceError(f"'{text}' matches {len(matches)} input devices ({names}); use the index or a longer name")


def default_output_device(*, sd: Any = None) -> Optional[DeviceInfo]:
    """The default output device, or None when there is none (or PortAudio is missing)."""
    try:
        devices = list_devices(sd=sd)
    except AudioDeviceError:
        return None
    for d in devices:
        if d.is_default_output:
            return d
    return None
