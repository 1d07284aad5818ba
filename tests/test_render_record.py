"""Recording: the renderer's async readback through the encoder thread gives a decodable
MP4 with the right frame count and size, and the source audio when given."""
import wave

import numpy as np
import pytest

from gl_fixtures import NEUTRAL, features, frame, make_renderer  # noqa: F401 - fixture


def _tone(path, seconds=2.0, sr=44100):
    t = np.arange(int(sr * seconds)) / sr
    s = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(s.tobytes())


def test_recording_from_the_renderer_with_audio(make_renderer, tmp_path):
    import av

    from live.outputs.recorder import Recorder

    wav = tmp_path / "tone.wav"
    _tone(wav)
    out = tmp_path / "out.mp4"
    r = make_renderer()
    pic = np.zeros((64, 64, 3), np.uint8)
    pic[:, :32] = (255, 0, 0)                                 # left half red: orientation check
    r.set_frame(frame(pic, 1), now_s=0.0)
    rec = Recorder(out, width=160, height=90, fps=30, audio_path=wav, audio_start_s=0.5, block=True)
    r.start_recording(rec)
    for i in range(12):
        r.draw(features(), NEUTRAL, time_s=i / 30)
    r.stop_recording()
    rec.close()
    assert rec.dropped == 0 and rec.error is None
    with av.open(str(out)) as c:
        assert {s.type for s in c.streams} == {"video", "audio"}
        vs = c.streams.video[0]
        assert (vs.codec_context.width, vs.codec_context.height) == (160, 90)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 12
    img = frames[-1].astype(int)
    assert img[45, 20, 0] > 150 and img[45, 20, 2] < 80       # left is red (rows not flipped)
    assert img[45, 140].max() < 60                            # right is black
    with av.open(str(out)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    assert abs(samples / 48000 - 12 / 30) < 0.1              # audio trimmed to the video's length


def test_live_mode_drops_instead_of_blocking(tmp_path):
    from live.outputs.recorder import Recorder

    rec = Recorder(tmp_path / "live.mp4", width=64, height=64, fps=30, queue_frames=1)
    pixels = np.zeros((64, 64, 3), np.uint8)
    results = [rec.submit(pixels, time_s=i / 30) for i in range(60)]   # far faster than it encodes
    rec.close()
    assert rec.frames_written + rec.dropped == 60
    assert rec.frames_written == sum(results) and rec.frames_written >= 1


def test_recorder_rejects_bad_input(tmp_path):
    from live.outputs.recorder import Recorder, RecorderError

    with pytest.raises(RecorderError, match="even"):
        Recorder(tmp_path / "x.mp4", width=161, height=90, fps=30)
    with pytest.raises(RecorderError, match="audio file not found"):
        Recorder(tmp_path / "x.mp4", width=160, height=90, fps=30, audio_path=tmp_path / "none.wav")
