"""Live input from a sound card: :class:`SoundDeviceSource`.

The PortAudio callback only copies each block into a preallocated :class:`RingBuffer`
and counts overflows. The reader (the analysis thread) assembles hops from the ring and
mixes them to mono.

Never go black: when the stream dies mid-show (a PortAudio error, the device unplugged,
or no audio delivered for ``stall_s``), ``read_hop`` keeps delivering silent hops at
real-time pace, logs the loss once, and tries to reopen the same device every
``reopen_interval_s`` in a background thread; when it is back, live audio resumes.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Optional

import numpy as np

from live.audio.base import AudioDeviceError, AudioSource, sleep_until
from live.audio.devices import DeviceInfo, describe_inputs, find_input_device, import_sounddevice, list_devices, rescan
from live.audio.ring import RingBuffer

log = logging.getLogger(__name__)


class _SimulatedLoss(Exception):
    pass


class SoundDeviceSource(AudioSource):
    """Live input from a PortAudio device.

    ``device``: None/"" = default input, an index, or a case-insensitive name substring.
    ``channels``: 0 = mono mix of the first two input channels (or the only one),
    N >= 1 = use input channel N alone (1-based). ``block_size`` frames per callback
    (0 lets PortAudio choose); ``hop_size`` frames per ``read_hop``; the ring holds
    ``ring_seconds`` of audio.
    """

    def __init__(self, device: Optional[int | str] = None, *, sample_rate_hz: int = 44100, block_size: int = 512,
                 hop_size: int = 512, channels: int = 0, ring_seconds: float = 4.0,
                 reopen_interval_s: float = 3.0, stall_s: float = 0.5, latency: str | float = "low",
                 _sd: Any = None):
        super().__init__(sample_rate_hz=sample_rate_hz, hop_size=hop_size, realtime=True)
        if isinstance(latency, str):
            try:
                latency = float(latency)
            except ValueError:
                if latency not in ("low", "high"):
                    raise ValueError(f"latency must be 'low', 'high' or seconds, got {latency!r}") from None
        self.latency = latency          # PortAudio's suggested input latency: "low" for the stage
        if int(channels) < 0:
            raise ValueError(f"channels must be 0 (mono mix) or a 1-based channel number, got {channels}")
        if int(block_size) < 0:
            raise ValueError(f"block_size must be >= 0, got {block_size}")
        self.device = device
        self.block_size = int(block_size)
        self.channels = int(channels)
        self.ring_seconds = float(ring_seconds)
        self.reopen_interval_s = float(reopen_interval_s)
        self.stall_s = float(stall_s)
        self.startup_grace_s = 2.5    # PulseAudio may take ~1 s to deliver the first block
        self.device_info: Optional[DeviceInfo] = None
        self._sd = _sd
        self._stream: Any = None
        self._ring: Optional[RingBuffer] = None
        self._scratch: Optional[np.ndarray] = None
        self._open_channels = 0
        # callback-owned counters
        self._blocks = 0
        self._xruns = 0
        self._dead = False            # the stream finished on its own (error / device gone)
        self._sim_mute = False        # fault injection: the callback stops delivering
        self._sim_reopen_failures = 0
        # reader-owned state
        self._seen_dropped = 0
        self._lost = False
        self.losses = 0               # how many times the device was lost
        self.recoveries = 0           # how many times it came back
        self.silent_hops = 0          # silence hops delivered while lost
        self._silence_t0 = 0.0
        self._silence_k = 0
        self._next_reopen = 0.0
        self._reopen_thread: Optional[threading.Thread] = None
        self._closing = False
        self._ring_overflows_before = 0

    # ------------------------------------------------------------------ properties
    @property
    def overflows(self) -> int:
        """Input overflows reported by PortAudio plus ring-full events."""
        ring = self._ring
        return self._xruns + self._ring_overflows_before + (ring.overflows if ring is not None else 0)

    @property
    def lost(self) -> bool:
        """True while the device is lost and silence is delivered."""
        return self._lost

    # ------------------------------------------------------------------ callback (real-time)
    def _callback(self, indata, frames, time_info, status) -> None:
        """PortAudio input callback: copy into the ring, count overflows. Nothing else."""
        if self._sim_mute:
            return
        if status.input_overflow:
            self._xruns += 1
        self._ring.write(indata)
        self._blocks += 1

    def _finished(self) -> None:
        self._dead = True

    # ------------------------------------------------------------------ open / close
    def _get_sd(self) -> Any:
        if self._sd is None:
            self._sd = import_sounddevice()
        return self._sd

    def _open(self) -> None:
        """Find the device, allocate the ring, open and start the stream (AudioDeviceError on failure)."""
        sd = self._get_sd()
        devices = list_devices(sd=sd)
        info = find_input_device(self.device, devices=devices)
        if self.channels > info.max_input_channels:
            raise AudioDeviceError(
                f"input device {info.index} '{info.name}' has {info.max_input_channels} input channel(s), "
                f"channel {self.channels} was asked for; use channels=0 for a mono mix or 1..{info.max_input_channels}")
        open_channels = self.channels if self.channels else min(2, info.max_input_channels)
        capacity = max(int(self.ring_seconds * self.sample_rate_hz), 4 * max(self.hop_size, self.block_size))
        if self._ring is None or self._ring.channels != open_channels or self._ring.capacity_frames != capacity:
            if self._ring is not None:
                self._ring_overflows_before += self._ring.overflows
            self._ring = RingBuffer(capacity, open_channels)
            self._scratch = np.zeros((self.hop_size, open_channels), dtype=np.float32)
        else:
            self._ring.reset()
        self._seen_dropped = self._ring.dropped_frames
        self._open_channels = open_channels
        self._dead = False
        self._sim_mute = False
        self._blocks = 0
        try:
            stream = sd.InputStream(device=info.index, samplerate=self.sample_rate_hz, blocksize=self.block_size,
                                    channels=open_channels, dtype="float32", latency=self.latency,
                                    callback=self._callback,
                                    finished_callback=self._finished)
        except Exception as exc:
            raise AudioDeviceError(self._open_error(info, exc, devices)) from None
        try:
            stream.start()
        except Exception as exc:
            try:
                stream.close()
            except Exception:
                pass
            raise AudioDeviceError(self._open_error(info, exc, devices)) from None
        self.device_info = info
        self._stream = stream

    def _open_error(self, info: DeviceInfo, exc: Exception, devices: list[DeviceInfo]) -> str:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "is another program using it?"
        if "sample rate" in reason.lower():
            hint = f"its default rate is {info.default_samplerate_hz:g} Hz, try --set audio.sample_rate_hz=..."
        return (f"cannot open input device {info.index} '{info.name}' at {self.sample_rate_hz} Hz "
                f"({reason}); {hint}; {describe_inputs(devices)}")

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            stream.abort()
        except Exception:
            pass
        try:
            stream.close()
        except Exception:
            pass

    @property
    def input_latency_s(self) -> Optional[float]:
        """PortAudio's reported input latency of the open stream (s), None when closed."""
        stream = self._stream
        try:
            return float(stream.latency) if stream is not None else None
        except Exception:
            return None

    def start(self) -> None:
        """Open the device. Raises AudioDeviceError (listing the inputs) when it is missing or busy."""
        if self._started:
            return
        self._closing = False
        self._open()
        super().start()
        log.info("listening to input device %d '%s' (%s) at %d Hz, %s", self.device_info.index,
                 self.device_info.name, self.device_info.hostapi, self.sample_rate_hz,
                 f"channel {self.channels}" if self.channels else f"mono mix of {self._open_channels} channel(s)")

    def stop(self) -> None:
        self._closing = True
        thread = self._reopen_thread
        if thread is not None:
            thread.join(timeout=5.0)
        self._close_stream()
        super().stop()

    def close(self) -> None:
        self.stop()
        self.finished = True

    # ------------------------------------------------------------------ reading
    def read_hop(self, *, timeout_s: float = 1.0) -> Optional[np.ndarray]:
        """Next ``(hop_size,)`` float32 mono hop (reused buffer), blocking until it is there.

        When no audio arrives for ``min(stall_s, timeout_s)`` (or the stream died), the device
        counts as lost (a fresh stream gets ``startup_grace_s`` for its first block): silence
        hops come at real-time pace until it is reopened. Returns None only after :meth:`close`.
        """
        if self.finished:
            return None
        if not self._started:
            self.start()
        if self._lost:
            return self._silence_hop()
        ring, hop = self._ring, self.hop_size
        stall = max(0.05, min(self.stall_s, timeout_s))
        last_blocks, last_change = self._blocks, time.perf_counter()
        while ring.available < hop:
            now = time.perf_counter()
            if self._dead:
                self._enter_lost("the stream stopped (device error or unplugged)")
                return self._silence_hop()
            if self._blocks != last_blocks:
                last_blocks, last_change = self._blocks, now
            elif now - last_change > (stall if self._blocks else max(stall, self.startup_grace_s)):
                self._enter_lost(f"no audio for {now - last_change:.1f} s")
                return self._silence_hop()
            missing = (hop - ring.available) / self.sample_rate_hz
            sleep_until(now + min(0.005, max(0.0005, missing)))
        if ring.dropped_frames != self._seen_dropped:
            # The ring filled up (the reader stalled): skip the backlog to get back to low latency.
            self._seen_dropped = ring.dropped_frames
            ring.discard(ring.available - hop)
        scratch, out = self._scratch, self._hop
        ring.read_into(scratch)
        if self.channels:
            np.copyto(out, scratch[:, self.channels - 1])
        elif self._open_channels == 1:
            np.copyto(out, scratch[:, 0])
        else:
            np.add(scratch[:, 0], scratch[:, 1], out=out)
            out *= 0.5
        np.clip(out, -1.0, 1.0, out=out)
        self.hops_read += 1
        return out

    # ------------------------------------------------------------------ lost device
    def _enter_lost(self, why: str) -> None:
        self._lost = True
        self.losses += 1
        now = time.perf_counter()
        self._silence_t0, self._silence_k = now, 0
        self._next_reopen = now + self.reopen_interval_s
        name = self.device_info.name if self.device_info else str(self.device)
        log.warning("input device '%s' lost (%s): continuing on silence, reopening every %.1f s",
                    name, why, self.reopen_interval_s)

    def _silence_hop(self) -> np.ndarray:
        self._silence_k += 1
        sleep_until(self._silence_t0 + self._silence_k * self.hop_size / self.sample_rate_hz)
        now = time.perf_counter()
        thread = self._reopen_thread
        if now >= self._next_reopen and (thread is None or not thread.is_alive()) and not self._closing:
            self._next_reopen = now + self.reopen_interval_s
            self._reopen_thread = threading.Thread(target=self._reopen, name="audio-reopen", daemon=True)
            self._reopen_thread.start()
        self._hop.fill(0.0)
        self.silent_hops += 1
        self.hops_read += 1
        return self._hop

    def _reopen(self) -> None:
        """Background: close the dead stream and try to open the device again."""
        self._close_stream()
        if self._closing:
            return
        try:
            if self._sim_reopen_failures > 0:
                self._sim_reopen_failures -= 1
                raise _SimulatedLoss("simulated: device still missing")
            try:
                self._open()
            except AudioDeviceError:
                # The device may have come back under a new identity (USB replug): rescan and retry.
                if self._closing:
                    return
                rescan(self._get_sd())
                self._open()
        except Exception as exc:
            log.debug("reopening input device failed: %s", exc)
            return
        if self._closing:
            self._close_stream()
            return
        self.recoveries += 1
        self._lost = False
        log.info("input device %d '%s' is back: live audio again", self.device_info.index, self.device_info.name)

    # ------------------------------------------------------------------ fault injection (tests)
    def _simulate_device_loss(self, *, reopen_failures: int = 0) -> None:
        """Test hook: the callback stops delivering (as if unplugged); the next
        ``reopen_failures`` reopen attempts fail before one succeeds."""
        self._sim_reopen_failures = int(reopen_failures)
        self._sim_mute = True

    def __repr__(self) -> str:
        return (f"SoundDeviceSource({self.device!r}, sample_rate_hz={self.sample_rate_hz}, "
                f"block_size={self.block_size}, hop_size={self.hop_size}, channels={self.channels})")
