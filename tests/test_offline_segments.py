"""Segments of an offline render: the planner (pure) and the join without re-encoding."""
import numpy as np
import pytest

from live.offline.segments import Segment, SegmentError, bar_frames_of, join_segments, plan_segments


def test_even_split_snaps_to_cuts_first_then_bar_lines():
    # 300 frames in 3: even points 100 and 200; a cut at 95, bar lines every 16 frames
    segs = plan_segments(0, 300, segments=3, fps=30, cut_frames=[95], bar_frames=range(0, 300, 16),
                         preroll_frames=30)
    assert [(s.first, s.end, s.reason) for s in segs] == [(0, 95, "start"), (95, 192, "cut"), (192, 300, "bar")]
    assert [s.preroll_first for s in segs] == [0, 65, 162]
    assert sum(s.frames for s in segs) == 300


def test_no_grid_near_the_even_point_splits_evenly_and_short_renders_get_fewer_segments():
    segs = plan_segments(10, 110, segments=4, fps=25, bar_frames=[12], snap_frames=5)
    assert [(s.first, s.end, s.reason) for s in segs] == [
        (10, 35, "start"), (35, 60, "even"), (60, 85, "even"), (85, 110, "even")]
    assert len(plan_segments(0, 5, segments=8, fps=30, min_frames=2)) == 2
    # a section keeps its pre-roll before its first frame, as the single-process render does
    assert plan_segments(40, 100, segments=1, fps=30, preroll_frames=60)[0].preroll_first == 0
    with pytest.raises(SegmentError):
        plan_segments(5, 5, segments=2, fps=30)


def test_bar_frames_come_from_the_downbeats():
    class B:
        def __init__(self, t, beat):
            self.t, self.beat = t, beat

    assert bar_frames_of([B(0.5, 1), B(1.0, 2), B(2.5, 1)], 30) == [15, 75]


def _encode(path, frames, fps=15, crf=18):
    from live.outputs.recorder import Recorder

    rec = Recorder(path, width=frames.shape[2], height=frames.shape[1], fps=fps, block=True, crf=crf)
    for f in frames:
        assert rec.submit(f)
    rec.close()
    assert rec.frames_written == len(frames) and not rec.error


def _decode(path):
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]), \
            [s.type for s in c.streams]


def test_join_copies_packets_and_muxes_the_audio_once(tmp_path):
    from live.testing.sync_videos import click_track, write_wav

    rng = np.random.default_rng(0)
    # a moving gradient: each frame differs, easy to recognise after decoding
    x = np.linspace(0, 255, 64)[None, :, None]
    frames = np.stack([np.broadcast_to((x + 9 * i) % 256, (48, 64, 3)) for i in range(36)]).astype(np.uint8)
    frames = np.clip(frames + rng.integers(0, 3, frames.shape), 0, 255).astype(np.uint8)
    parts = [(0, 10), (10, 25), (25, 36)]
    paths = []
    for k, (a, b) in enumerate(parts):
        p = tmp_path / f"seg{k}.mp4"
        _encode(p, frames[a:b])
        paths.append(p)
    wav = tmp_path / "a.wav"
    samples, _ = click_track(duration_s=4.0, sample_rate_hz=44100)
    write_wav(wav, samples, sample_rate_hz=44100)
    out = tmp_path / "joined.mp4"
    assert join_segments(paths, out, fps=15, audio_path=wav, audio_start_s=0.5) == 36
    got, kinds = _decode(out)
    assert got.shape == frames.shape and sorted(kinds) == ["audio", "video"]
    err = np.abs(got.astype(int) - frames.astype(int))
    assert err.mean() < 3.0                          # lossy, but every frame in its place
    # each frame is nearest to its own source frame (order kept across the seams)
    for i in (9, 10, 24, 25):
        d = [np.abs(got[i].astype(int) - frames[j].astype(int)).mean() for j in range(36)]
        assert int(np.argmin(d)) == i
    import av

    with av.open(str(out)) as c:
        a, v = c.streams.audio[0], c.streams.video[0]
        dur = float(a.duration * a.time_base) if a.duration else float(c.duration) / 1e6
        vdur = float(v.duration * v.time_base)
    assert dur == pytest.approx(36 / 15, abs=0.05)
    assert vdur == pytest.approx(36 / 15, abs=0.01)          # the last packet keeps one frame's length


def test_join_refuses_segments_encoded_differently(tmp_path):
    frames = np.full((4, 48, 64, 3), 128, np.uint8)
    _encode(tmp_path / "a.mp4", frames)
    _encode(tmp_path / "b.mp4", np.full((4, 32, 64, 3), 128, np.uint8))
    with pytest.raises(SegmentError, match="height"):
        join_segments([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "o.mp4", fps=15)
    assert isinstance(plan_segments(0, 4, segments=1, fps=15)[0], Segment)


def test_join_gives_an_mp3_its_sound(tmp_path):
    """The join decodes audio as the recorder does: an MP3 (frames that do not start at 0) is muxed
    with its sound, not dropped or refused."""
    import av

    from tests.test_stage_recording import encode_audio

    frames = np.full((30, 48, 64, 3), 100, np.uint8)
    paths = []
    for k, (a, b) in enumerate([(0, 15), (15, 30)]):
        p = tmp_path / f"seg{k}.mp4"
        _encode(p, frames[a:b])
        paths.append(p)
    t = np.arange(int(3.0 * 44100)) / 44100
    mp3 = tmp_path / "tone.mp3"
    encode_audio(mp3, 0.5 * np.sin(2 * np.pi * 440 * t), 44100, "libmp3lame")
    out = tmp_path / "joined.mp4"
    assert join_segments(paths, out, fps=15, audio_path=mp3, audio_start_s=0.25) == 30
    with av.open(str(out)) as c:
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    assert len(pcm) / 2 / 48000 == pytest.approx(2.0, abs=0.05)
    assert np.sqrt(np.mean(pcm[len(pcm) // 4:] ** 2)) > 0.2       # the tone, not silence
