"""decode_audio / FileSource / ArraySource: formats, resampling, pacing, loop, clear errors."""
import time
import wave

import numpy as np
import pytest

from live.audio import ArraySource, AudioFileError, FileSource, decode_audio


def write_audio(path, samples, *, rate, codec, layout=None):
    """Encode ``samples`` ((n,) or (n, ch) float in [-1, 1]) with PyAV into ``path``."""
    import av

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    layout = layout or ("mono" if x.shape[1] == 1 else "stereo")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        frame_size = 1024
        pts = 0
        for start in range(0, len(x), frame_size):
            chunk = np.ascontiguousarray(x[start:start + frame_size].T)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = pts
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def tone(freq_hz, seconds, rate, *, amp=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq_hz * t)


def peak_hz(x, rate):
    seg = x[len(x) // 4: len(x) // 4 + 16384]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    spec[:3] = 0  # ignore DC
    k = int(np.argmax(spec))
    # parabolic interpolation for sub-bin accuracy
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / len(seg)


@pytest.mark.parametrize("suffix,codec,rate", [
    ("wav", "pcm_s16le", 44100),
    ("flac", "flac", 44100),
    ("ogg", "libopus", 48000),
    ("mp3", "libmp3lame", 44100),
])
def test_common_formats_decode_to_the_right_pitch_and_length(tmp_path, suffix, codec, rate):
    path = tmp_path / f"tone.{suffix}"
    write_audio(path, tone(1000.0, 1.5, rate), rate=rate, codec=codec)
    x = decode_audio(path, sample_rate_hz=44100)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) / 44100 - 1.5) < 0.08          # codec padding only
    assert abs(peak_hz(x, 44100) - 1000.0) < 2.0
    assert 0.3 < np.sqrt(np.mean(x[4410:-4410] ** 2)) < 0.4  # 0.5 amplitude sine: RMS 0.354


def test_8k_mono_is_resampled_up(tmp_path):
    path = tmp_path / "phone.wav"
    write_audio(path, tone(1000.0, 2.0, 8000), rate=8000, codec="pcm_s16le")
    x = decode_audio(path, sample_rate_hz=44100)
    assert abs(len(x) - 2 * 44100) < 200
    assert abs(peak_hz(x, 44100) - 1000.0) < 1.0


def test_96k_stereo_is_resampled_and_downmixed(tmp_path):
    path = tmp_path / "hires.flac"
    left = tone(1000.0, 2.0, 96000, amp=0.6)
    right = tone(1000.0, 2.0, 96000, amp=0.2)
    write_audio(path, np.stack([left, right], axis=1), rate=96000, codec="flac")
    stereo = decode_audio(path, sample_rate_hz=44100, mono=False)
    assert stereo.shape[1] == 2 and abs(stereo.shape[0] - 2 * 44100) < 200
    mono = decode_audio(path, sample_rate_hz=44100)
    assert abs(peak_hz(mono, 44100) - 1000.0) < 1.0
    # mono is the channel mean: amplitude (0.6 + 0.2) / 2 = 0.4
    assert abs(np.max(np.abs(mono[4410:-4410])) - 0.4) < 0.01
    assert np.allclose(mono, stereo.mean(axis=1), atol=1e-6)


def test_dc_offset_and_clipping_survive_within_range(tmp_path):
    rate = 44100
    x = np.clip(0.3 + 1.5 * tone(220.0, 1.0, rate, amp=1.0), -1.0, 1.0)  # DC offset + hard clipping
    path = tmp_path / "clipped.wav"
    write_audio(path, x, rate=rate, codec="pcm_s16le")
    for target in (44100, 22050):
        y = decode_audio(path, sample_rate_hz=target)
        assert np.all(np.abs(y) <= 1.0) and np.all(np.isfinite(y))
        assert abs(float(np.mean(y)) - float(np.mean(x))) < 0.01   # DC offset kept (the analyzer copes)
        assert abs(peak_hz(y, target) - 220.0) < 1.0


@pytest.mark.parametrize("make,expect", [
    (lambda p: None, "file not found"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("this is not audio at all\n" * 50), "not a readable audio file"),
    (lambda p: p.mkdir(), "folder"),
])
def test_broken_inputs_give_one_line_errors_naming_the_file(tmp_path, make, expect):
    path = tmp_path / "track.mp3"
    make(path)
    with pytest.raises(AudioFileError) as info:
        decode_audio(path, sample_rate_hz=44100)
    msg = str(info.value)
    assert "track.mp3" in msg and expect in msg and "\n" not in msg
    with pytest.raises(AudioFileError):
        FileSource(path, realtime=False)


def test_file_without_audio_stream_says_so(tmp_path):
    from PIL import Image

    path = tmp_path / "cover.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path)
    with pytest.raises(AudioFileError, match=r"cover\.png: has no audio stream"):
        decode_audio(path, sample_rate_hz=44100)


def test_wav_with_header_only_has_no_samples(tmp_path):
    path = tmp_path / "silent.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"")
    with pytest.raises(AudioFileError, match="silent.wav"):
        decode_audio(path, sample_rate_hz=44100)


def test_file_source_offline_hops_cover_the_file_then_none(tmp_path):
    rate, hop = 22050, 256
    path = tmp_path / "t.wav"
    x = tone(440.0, 1.0, rate)
    write_audio(path, x, rate=rate, codec="pcm_s16le")
    with FileSource(path, sample_rate_hz=rate, hop_size=hop, realtime=False) as src:
        hops = []
        while (h := src.read_hop()) is not None:
            assert h.shape == (hop,) and h.dtype == np.float32
            hops.append(h.copy())
        assert src.finished and src.read_hop() is None
        assert len(hops) == int(np.ceil(rate / hop))
        assert src.time_s == pytest.approx(len(hops) * hop / rate)
    y = np.concatenate(hops)
    assert np.allclose(y[:rate], x.astype(np.float32), atol=2e-4)   # 16-bit quantisation
    assert np.all(y[rate:] == 0)                                      # last hop zero-padded


def test_file_source_loops(tmp_path):
    rate, hop = 8000, 100
    x = np.linspace(-0.5, 0.5, 250)  # 2.5 hops long: loop boundaries fall inside hops
    src = ArraySource(x, sample_rate_hz=rate, hop_size=hop, loop=True)
    y = np.concatenate([src.read_hop().copy() for _ in range(10)])
    assert np.allclose(y, np.tile(x, 4), atol=1e-7)
    assert not src.finished


def test_realtime_runs_on_its_own_clock_without_playback(tmp_path):
    rate, hop = 16000, 400
    path = tmp_path / "t.flac"
    write_audio(path, tone(300.0, 0.5, rate), rate=rate, codec="flac")
    src = FileSource(path, sample_rate_hz=rate, hop_size=hop, realtime=True, playback=False)
    t0 = time.perf_counter()
    released = []
    with src:
        while src.read_hop() is not None:
            released.append(time.perf_counter() - t0)
    assert src.clock == "system"
    assert len(released) == 20
    # hop k is not released before its audio time has passed (a lower bound: never early)
    for k, t in enumerate(released):
        assert t >= (k + 1) * hop / rate - 0.002


def test_array_source_shapes_and_mono_mix():
    x = np.stack([np.full(1024, 0.5), np.full(1024, -0.1)], axis=1)
    src = ArraySource(x, sample_rate_hz=8000, hop_size=512)
    h = src.read_hop()
    assert h.shape == (512,) and np.allclose(h, 0.2)
    pcm = (np.ones(600) * 16384).astype(np.int16)
    assert np.allclose(ArraySource(pcm, sample_rate_hz=8000, hop_size=600).read_hop(), 0.5)
    with pytest.raises(ValueError):
        ArraySource(np.zeros((2, 2, 2)), sample_rate_hz=8000)
    empty = ArraySource(np.zeros(0), sample_rate_hz=8000, loop=True)
    assert empty.read_hop() is None and empty.finished
