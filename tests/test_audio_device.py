"""SoundDeviceSource and device lookup against a fake PortAudio (no sound hardware needed).

The fake ``sounddevice`` module below lists devices like the real one and runs an input
stream whose thread calls our callback with real blocks at real-time pace, so the real
callback -> ring -> hop path, the lost-device silence and the reopen all run for real.
"""
import json
import threading
import time
import tracemalloc

import numpy as np
import pytest

from live.audio import AudioDeviceError, SoundDeviceSource, find_input_device, list_devices


class FakeStatus:
    input_overflow = False
    output_underflow = False


class FakePortAudioError(Exception):
    pass


class FakeInputStream:
    def __init__(self, sd, *, device, samplerate, blocksize, channels, dtype, callback, finished_callback,
                 latency="high"):
        assert latency in ("low", "high") or isinstance(latency, float)
        if sd.busy:
            raise FakePortAudioError("Error opening InputStream: Device unavailable [PaErrorCode -9985]")
        if device in sd.unplugged:
            raise FakePortAudioError("Error opening InputStream: Invalid device [PaErrorCode -9996]")
        assert dtype == "float32"
        self.sd, self.device, self.rate, self.channels = sd, device, samplerate, channels
        self.block = blocksize or 256
        self.callback, self.finished_callback = callback, finished_callback
        self.latency = self.block / samplerate
        self._stop = threading.Event()
        self._thread = None
        self.paused = False
        self.frames_sent = 0
        sd.streams.append(self)

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        status = FakeStatus()
        buf = np.zeros((self.block, self.channels), dtype=np.float32)
        t0 = time.perf_counter()
        k = 0
        while not self._stop.is_set():
            if self.device in self.sd.unplugged:      # unplugged: PortAudio reports an error and stops
                self.finished_callback()
                return
            if not self.paused:
                t = (self.frames_sent + np.arange(self.block)) / self.rate
                for c in range(self.channels):
                    buf[:, c] = 0.1 * (c + 1) * np.sin(2 * np.pi * self.sd.freqs[c] * t)
                self.callback(buf, self.block, None, status)
                self.frames_sent += self.block
            k += 1
            delay = t0 + k * self.block / self.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    def abort(self):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self.finished_callback()

    def close(self):
        self._stop.set()


class FakeDefault:
    def __init__(self):
        self.device = [1, 2]


class FakeSD:
    """Enough of the sounddevice module for SoundDeviceSource and list_devices."""

    PortAudioError = FakePortAudioError

    def __init__(self):
        self.default = FakeDefault()
        self.busy = False
        self.unplugged = set()
        self.streams = []
        self.freqs = [440.0, 1000.0, 2000.0, 3000.0]
        self.rescans = 0
        self.devices = [
            self._dev(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 2),
            self._dev(1, "Scarlett 4i4 USB: Audio (hw:1,0)", 4, 4),
            self._dev(2, "HDMI 0 (hw:0,3)", 0, 8),
            self._dev(3, "pulse", 32, 32),
        ]

    @staticmethod
    def _dev(i, name, n_in, n_out):
        return {"index": i, "name": name, "hostapi": 0, "max_input_channels": n_in, "max_output_channels": n_out,
                "default_samplerate": 48000.0, "default_low_input_latency": 0.0058,
                "default_high_input_latency": 0.0232, "default_low_output_latency": 0.0058,
                "default_high_output_latency": 0.0232}

    def query_devices(self, device=None, kind=None):
        if kind == "input":
            return self.devices[self.default.device[0]]
        if kind == "output":
            return self.devices[self.default.device[1]]
        return list(self.devices)

    def query_hostapis(self):
        return ({"name": "ALSA"},)

    def InputStream(self, **kwargs):  # noqa: N802 - mirrors sounddevice
        return FakeInputStream(self, **kwargs)

    def _terminate(self):
        self.rescans += 1

    def _initialize(self):
        pass


@pytest.fixture
def sd():
    return FakeSD()


# ---------------------------------------------------------------- lookup
def test_lookup_by_index_name_and_default(sd):
    assert find_input_device(None, sd=sd).index == 1            # the default input
    assert find_input_device("", sd=sd).index == 1
    assert find_input_device(0, sd=sd).name.startswith("HDA")
    assert find_input_device("3", sd=sd).name == "pulse"
    assert find_input_device("scarlett", sd=sd).index == 1      # case-insensitive substring
    assert find_input_device("PULSE", sd=sd).index == 3         # exact name wins


@pytest.mark.parametrize("device,expect", [
    ("Motu", "no input device matches 'Motu'"),
    (9, "no device with index 9"),
    (2, "has no input channels"),
    ("hw:", "matches 2 input devices"),
])
def test_lookup_errors_list_the_inputs(sd, device, expect):
    with pytest.raises(AudioDeviceError) as info:
        find_input_device(device, sd=sd)
    msg = str(info.value)
    assert expect in msg and "\n" not in msg
    if "matches 2" not in expect:
        listing = msg.split("input devices:")[1]
        assert "Scarlett 4i4" in listing and "pulse" in listing and "HDMI" not in listing  # inputs only


def test_no_default_input_is_explained(sd):
    sd.default.device = [-1, 2]
    sd.devices = [d for d in sd.devices if d["max_input_channels"] == 0]
    with pytest.raises(AudioDeviceError, match="no default input device.*no input devices"):
        find_input_device(None, sd=sd)


def test_list_devices_records(sd):
    devs = list_devices(sd=sd)
    scarlett = devs[1]
    assert scarlett.is_default_input and not scarlett.is_default_output
    assert devs[2].is_default_output and not devs[2].is_input
    assert scarlett.low_input_latency_ms == pytest.approx(5.8)
    assert scarlett.hostapi == "ALSA" and scarlett.default_samplerate_hz == 48000.0


def test_busy_device_is_a_clear_error(sd):
    sd.busy = True
    src = SoundDeviceSource("scarlett", sample_rate_hz=48000, _sd=sd)
    with pytest.raises(AudioDeviceError) as info:
        src.start()
    msg = str(info.value)
    assert "Device unavailable" in msg and "another program" in msg and "Scarlett" in msg and "pulse" in msg


def test_channel_out_of_range(sd):
    with pytest.raises(AudioDeviceError, match="has 2 input channel.*channel 3"):
        SoundDeviceSource(0, channels=3, _sd=sd).start()


# ---------------------------------------------------------------- capture path
def _dominant_hz(x, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spec) * rate / len(x)


@pytest.mark.parametrize("channels,freq,amp", [(0, None, None), (1, 440.0, 0.1), (2, 1000.0, 0.2)])
def test_hops_carry_the_chosen_channel_or_the_mono_mix(sd, channels, freq, amp):
    rate, hop = 16000, 512
    with SoundDeviceSource("scarlett", sample_rate_hz=rate, block_size=160, hop_size=hop,
                           channels=channels, _sd=sd) as src:
        y = np.concatenate([src.read_hop().copy() for _ in range(32)])
        assert src.time_s == pytest.approx(32 * hop / rate)
        assert src.overflows == 0 and not src.lost
    stream = sd.streams[0]
    assert stream.channels == (channels or 2) and stream.block == 160
    if channels:
        assert abs(_dominant_hz(y, rate) - freq) < 40
        assert np.max(np.abs(y)) == pytest.approx(amp, abs=0.005)
    else:  # mean of 0.1*sin(440) and 0.2*sin(1000)
        t = np.arange(len(y)) / rate
        expect = 0.5 * (0.1 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t))
        assert np.allclose(y, expect, atol=1e-5)


def test_callback_allocates_nothing_proportional_to_the_block(sd):
    src = SoundDeviceSource("scarlett", sample_rate_hz=48000, block_size=4096, channels=0, _sd=sd)
    src.start()
    sd.streams[0].paused = True            # we drive the callback ourselves
    time.sleep(0.2)
    block = np.random.default_rng(1).standard_normal((4096, 2)).astype(np.float32)
    status = FakeStatus()
    for _ in range(10):
        src._callback(block, 4096, None, status)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(2000):              # fills the 4 s ring, then overflows
            src._callback(block, 4096, None, status)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        src.close()
    assert after - before < 1024
    assert peak - before < block.nbytes // 4
    assert src.overflows > 0


def test_reader_that_fell_behind_skips_the_backlog(sd):
    rate, hop = 16000, 256
    src = SoundDeviceSource(3, sample_rate_hz=rate, block_size=256, hop_size=hop, ring_seconds=0.1, _sd=sd)
    with src:
        src.read_hop()
        time.sleep(0.4)                    # analysis stalls: the 0.1 s ring overflows
        src.read_hop()
        assert src.overflows >= 1
        assert src._ring.available < 2 * hop   # back to low latency


# ---------------------------------------------------------------- never go black
def _collect(src, seconds):
    """Read hops for ``seconds`` of wall time; returns a list of (lost, peak) per hop."""
    out = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        h = src.read_hop()
        assert h is not None and h.shape == (src.hop_size,) and np.all(np.isfinite(h))
        out.append((src.lost, float(np.max(np.abs(h)))))
    return out


def test_simulated_loss_keeps_hops_coming_and_recovers(sd, caplog):
    rate, hop = 16000, 400
    src = SoundDeviceSource(3, sample_rate_hz=rate, block_size=200, hop_size=hop,
                            reopen_interval_s=0.3, stall_s=0.2, _sd=sd)
    with caplog.at_level("INFO", logger="live.audio.device"), src:
        before = _collect(src, 0.3)
        assert all(peak > 0.05 for _, peak in before[2:])
        src._simulate_device_loss(reopen_failures=2)
        t0, hops0 = time.perf_counter(), src.hops_read
        during = _collect(src, 2.0)
        wall = time.perf_counter() - t0
        # hops kept coming at real-time pace while the device was gone (the clock never stalls)
        audio = (src.hops_read - hops0) * hop / rate
        assert audio >= wall - 0.25 - 0.2
        assert any(lost for lost, _ in during)
        assert all(peak == 0.0 for lost, peak in during if lost)
        assert src.losses == 1 and src.recoveries == 1 and src.silent_hops > 0
        assert not src.lost and during[-1][1] > 0.05   # live audio again
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "lost" in warnings[0].getMessage()
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert len(sd.streams) == 2        # two reopen attempts failed before opening a stream


def test_unplugged_device_errors_then_comes_back(sd):
    rate, hop = 16000, 400
    src = SoundDeviceSource("scarlett", sample_rate_hz=rate, block_size=200, hop_size=hop,
                            reopen_interval_s=0.25, _sd=sd)
    with src:
        _collect(src, 0.2)
        sd.unplugged.add(1)                 # the stream dies with an error; reopening fails
        lost = _collect(src, 0.8)
        assert src.lost and all(peak == 0.0 for _, peak in lost[-5:])
        assert sd.rescans >= 1              # it looked for the device again
        sd.unplugged.clear()                # plugged back in
        back = _collect(src, 0.8)
        assert not src.lost and back[-1][1] > 0.05
        assert src.losses == 1 and src.recoveries == 1


def test_close_ends_the_stream(sd):
    src = SoundDeviceSource(3, sample_rate_hz=16000, _sd=sd)
    src.start()
    src.close()
    assert src.read_hop() is None and src.finished


# ---------------------------------------------------------------- the devices command
def test_devices_command_table_and_json(sd, monkeypatch, capsys):
    import live.audio.devices as devices_mod
    from live.cli import main

    monkeypatch.setattr(devices_mod, "import_sounddevice", lambda: sd)
    assert main(["devices"]) == 0
    text = capsys.readouterr().out
    inputs, outputs = text.split("Outputs:")
    assert "Scarlett 4i4" in inputs and "HDMI" not in inputs and "HDMI" in outputs
    assert "5.8 / 23.2" in inputs
    assert main(["devices", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["index"] for r in records] == [0, 1, 2, 3] and records[1]["is_default_input"]


def test_devices_command_without_devices_or_portaudio(sd, monkeypatch, capsys):
    import live.audio.devices as devices_mod
    from live.cli import main

    sd.devices = []
    monkeypatch.setattr(devices_mod, "import_sounddevice", lambda: sd)
    assert main(["devices"]) == 0
    assert "No sound devices found" in capsys.readouterr().out

    def missing():
        raise AudioDeviceError("PortAudio is not available (PortAudio library not found); "
                               "install PortAudio: sudo apt-get install libportaudio2")
    monkeypatch.setattr(devices_mod, "import_sounddevice", missing)
    assert main(["devices"]) == 2
    err = capsys.readouterr().err
    assert "libportaudio2" in err and "Traceback" not in err


def test_portaudio_missing_maps_to_device_error(monkeypatch):
    import builtins

    import live.audio.devices as devices_mod

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(AudioDeviceError, match="libportaudio2"):
        devices_mod.import_sounddevice()


# ---------------------------------------------------------------- --audio DEVICE|FILE
def test_open_source_picks_file_or_device(tmp_path):
    import wave

    from live.audio import AudioFileError, FileSource, open_source
    from live.config import AudioConfig

    path = tmp_path / "track.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(np.zeros(2205, dtype="<i2").tobytes())
    cfg = AudioConfig(sample_rate_hz=22050, loop=True, channels=2, device="Scarlett")
    src = open_source(str(path), config=cfg, hop_size=256, realtime=False)
    assert isinstance(src, FileSource) and src.loop and src.sample_rate_hz == 22050 and src.hop_size == 256
    dev = open_source(None, config=cfg)                 # falls back to the configured device
    assert isinstance(dev, SoundDeviceSource) and dev.device == "Scarlett" and dev.channels == 2
    assert open_source("3", config=cfg).device == "3"
    with pytest.raises(AudioFileError, match="missing.mp3: file not found"):
        open_source(str(tmp_path / "missing.mp3"), config=cfg)
