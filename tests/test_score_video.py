"""Known-answer tests of ``latent-live score`` on synthetic videos written with PyAV.

A 120 BPM click track is muxed (AAC) with a 128x72, 30 fps picture (H.264, or mpeg4 where the
PyAV build has no libx264) that flashes on the clicks; variants delay the audio, delay the
picture, or flash at random times. Offsets: positive = picture late.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("av")

from live.cli import main  # noqa: E402
from live.sync_score import score_video  # noqa: E402
from live.testing.sync_videos import click_track, write_sync_test_video, write_wav  # noqa: E402

DURATION_S = 10.0
FRAME_MS = 1000.0 / 30


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("score")
    specs = {
        "sync": write_sync_test_video(d / "sync.mp4", duration_s=DURATION_S),
        "audio_late": write_sync_test_video(d / "audio_late.mp4", duration_s=DURATION_S, audio_delay_s=0.1),
        "picture_late": write_sync_test_video(d / "picture_late.mp4", duration_s=DURATION_S,
                                              picture_delay_s=0.1),
        "random": write_sync_test_video(d / "random.mp4", duration_s=DURATION_S, random_flashes=True, seed=3),
        "mute": write_sync_test_video(d / "mute.mp4", duration_s=DURATION_S, with_audio=False),
    }
    return d, specs


@pytest.fixture(scope="module")
def sync_result(videos):
    _, specs = videos
    return score_video(specs["sync"].path)


def test_flashes_on_the_clicks_score_high(sync_result):
    r = sync_result
    assert r.bas > 0.9
    assert r.correlation > 0.6
    assert abs(r.offset_ms) < FRAME_MS           # in sync within a frame
    assert r.offset_confidence > 0.5
    assert r.beats_source == "analyzer"
    assert 115 < r.bpm < 125
    assert r.n_beats >= 12                        # 19 clicks; the tracker needs a few to lock
    assert r.fps == pytest.approx(30.0)
    assert r.duration_s == pytest.approx(DURATION_S, abs=0.05)
    assert (r.width, r.height) == (128, 72)


def test_audio_delayed_by_100ms_reads_picture_early_by_100ms(videos):
    # The sound comes 100 ms after the flash it belongs to: the picture is 100 ms EARLY, which
    # with "positive = picture late" is an offset of -100 ms (magnitude 100 ms, as the issue asks).
    _, specs = videos
    r = score_video(specs["audio_late"].path)
    assert r.offset_ms == pytest.approx(-100.0, abs=FRAME_MS)
    assert r.offset_confidence > 0.5
    assert "picture early by" in r.summary()
    assert r.bas < 0.5                            # beats (from the sound) miss the flashes by 2 tau


def test_picture_delayed_by_100ms_reads_picture_late_by_100ms(videos):
    _, specs = videos
    r = score_video(specs["picture_late"].path)
    assert r.offset_ms == pytest.approx(100.0, abs=FRAME_MS)
    assert r.offset_confidence > 0.5
    assert "picture late by" in r.summary()


def test_unrelated_picture_scores_low(videos, sync_result):
    _, specs = videos
    r = score_video(specs["random"].path)
    assert abs(r.correlation) < 0.25
    assert r.offset_confidence < 0.25
    assert r.bas < 0.5
    assert r.offset_confidence < sync_result.offset_confidence / 3


def test_beats_file_overrides_the_analyzer(videos, sync_result, tmp_path):
    _, specs = videos
    clicks = np.asarray(specs["sync"].click_times_s)
    on = tmp_path / "on.txt"
    on.write_text("".join(f"{t:.4f}\tbeat\n" for t in clicks))
    off = tmp_path / "off.txt"                    # the off-beats: a quarter second from every flash
    off.write_text("".join(f"{t + 0.25:.4f}\n" for t in clicks))
    r_on = score_video(specs["sync"].path, beats=on)
    r_off = score_video(specs["sync"].path, beats=off)
    assert r_on.beats_source == r_off.beats_source == "file"
    assert r_on.n_beats == len(clicks)            # all clicks lie inside the picture
    assert r_on.bas > 0.95
    assert r_off.bas < 0.05
    assert r_on.bpm == pytest.approx(120.0, abs=0.1)
    # the beats do not touch correlation and offset
    assert r_off.correlation == pytest.approx(sync_result.correlation)
    assert r_off.offset_ms == pytest.approx(sync_result.offset_ms)


def test_cli_json_schema_and_summary(videos, tmp_path, capsys):
    _, specs = videos
    out = tmp_path / "score.json"
    assert main(["score", specs["sync"].path, "--json", str(out), "--tau-ms", "80"]) == 0
    text = capsys.readouterr().out
    assert "beat alignment" in text and "positive = picture late" in text
    doc = json.loads(out.read_text())
    for key in ("bas", "tau_ms", "correlation", "offset_ms", "offset_confidence", "n_beats",
                "n_visual_events", "fps", "duration_s"):
        assert key in doc, key
    assert doc["tau_ms"] == 80.0
    assert isinstance(doc["n_beats"], int) and isinstance(doc["bas"], float)
    assert main(["score", specs["sync"].path, "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["fps"] == 30.0


def test_separate_audio_file_for_a_mute_video(videos, capsys):
    d, specs = videos
    audio, _ = click_track(duration_s=DURATION_S, sample_rate_hz=44100)
    wav = d / "clicks.wav"
    write_wav(wav, audio, sample_rate_hz=44100)
    r = score_video(specs["mute"].path, audio_path=wav)
    assert r.bas > 0.9 and r.correlation > 0.6 and abs(r.offset_ms) < FRAME_MS
    assert r.audio == str(wav)
    # no audio stream and no --audio: one clear line, exit 2
    assert main(["score", specs["mute"].path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no audio stream" in err[0] and "--audio" in err[0]


@pytest.mark.parametrize("case", ["missing", "broken", "folder", "bad_beats", "bad_tau"])
def test_bad_input_is_one_line_exit_2(videos, tmp_path, capsys, case):
    _, specs = videos
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video at all" * 100)
    bad_beats = tmp_path / "beats.txt"
    bad_beats.write_text("1.0\nnope\n")
    argv = {
        "missing": ["score", str(tmp_path / "nope.mp4")],
        "broken": ["score", str(broken)],
        "folder": ["score", str(tmp_path)],
        "bad_beats": ["score", specs["sync"].path, "--beats", str(bad_beats)],
        "bad_tau": ["score", specs["sync"].path, "--tau-ms", "0"],
    }[case]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("latent-live score: error:")
