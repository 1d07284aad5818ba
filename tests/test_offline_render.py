"""Offline render (``latent-live render``) on a 120 BPM click track: every frame encoded, audio
muxed, deterministic, a timeline with the beat grid and 4-beat cuts, edits that move only what
they should, and a known-answer sync score (BAS > 0.9).

Tiny sizes (96x64, 12 fps, 8 s) keep it fast on two cores. 12 fps puts every click of a 120 BPM
track on a frame (as 30 fps does for a real render), so the best achievable BAS is ~1.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("moderngl")

from gl_fixtures import egl_unavailable_reason  # noqa: E402
from live.cli import main  # noqa: E402
from live.config import load_config  # noqa: E402
from live.offline.render import RenderError, render_file  # noqa: E402
from live.testing.sync_videos import click_track, write_wav  # noqa: E402
from live.offline.timeline import load_timeline  # noqa: E402

if egl_unavailable_reason():
    pytest.skip(egl_unavailable_reason(), allow_module_level=True)

FPS = 12
DURATION_S = 8.0
SETS = ["render.width=96", "render.height=64", "gen.size=32", "motion.energy_speed=0"]


def _render(tmp, name, audio, **kw):
    frames = {}
    cfg = kw.pop("cfg", None) or load_config(None, SETS)
    report = render_file(audio, tmp / f"{name}.mp4", cfg=cfg, fps=kw.pop("fps", FPS), progress=False,
                         on_frame=lambda i, px: frames.__setitem__(i, px), **kw)
    return report, frames


def _decode(path):
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        rate = float(v.average_rate)
        pics = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        a = c.streams.audio
        samples = 0
        rate_hz = a[0].rate if a else 0
        if a:
            for f in c.decode(audio=0):
                samples += f.samples
    return pics, rate, samples, rate_hz


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offline")
    x, clicks = click_track(duration_s=DURATION_S, first_click_s=0.5)
    wav = tmp / "click.wav"
    write_wav(wav, x, sample_rate_hz=44100)
    report, frames = _render(tmp, "a", wav, timeline_out=tmp / "a.json")
    return tmp, wav, report, frames


def test_every_frame_rendered_and_audio_muxed(work):
    tmp, _, report, frames = work
    n = int(DURATION_S * FPS)
    assert report.frames == n and sorted(frames) == list(range(n))
    pics, rate, samples, rate_hz = _decode(report.out)
    assert len(pics) == n                       # nothing dropped
    assert rate == pytest.approx(FPS)
    assert pics[0].shape == (64, 96, 3)
    assert rate_hz > 0 and samples / rate_hz == pytest.approx(DURATION_S, abs=0.05)


def _max_mean_diff(p1, p2) -> float:
    return max(float(np.abs(a.astype(int) - b).mean()) for a, b in zip(p1, p2))


# The pictures handed to the encoder are bit-identical from run to run (asserted exactly below;
# also checked by hashing what reaches av.VideoFrame.from_ndarray), but the H.264 packets the
# recorder's x264 makes of them are not (a standalone encode of the same frames is; the cause in
# the threaded recorder was not found). Measured on this 96x64 clip: up to ~3.4 levels mean abs
# difference on some frames. Decoded files are compared with this tolerance, far below the
# difference between two bank entries (tens of levels).
ENCODER_TOLERANCE = 6.0


def test_same_inputs_same_video(work):
    tmp, wav, report, frames = work
    report2, frames2 = _render(tmp, "a2", wav)
    # the rendered pictures are bit-identical ...
    assert all(np.array_equal(frames[i], frames2[i]) for i in frames)
    # ... and the decoded videos agree within the encoder's own run-to-run noise
    p1, _, _, _ = _decode(report.out)
    p2, _, _, _ = _decode(report2.out)
    assert len(p1) == len(p2) and _max_mean_diff(p1, p2) < ENCODER_TOLERANCE
    # the picture is not a still: it moves with the music
    assert np.mean([np.abs(frames[i + 1].astype(int) - frames[i]).mean() for i in range(40, 60)]) > 1.0


def test_timeline_has_the_beat_grid_and_cuts_every_four_beats(work):
    tmp, wav, report, _ = work
    doc = json.loads((tmp / "a.json").read_text())
    assert doc["format"] == 1 and doc["fps"] == FPS and doc["size"] == [96, 64]
    from live.offline.timeline import file_sha256
    assert doc["audio"]["sha256"] == file_sha256(wav)
    assert doc["tempo"]["bpm"] == pytest.approx(120.0, abs=1.0)
    bt = np.array([b["t"] for b in doc["beats"]])
    assert len(bt) >= 10 and np.allclose(np.diff(bt), 0.5, atol=0.02)
    # the click track accents every 4th click from 0.5 s: those are the downbeats
    for b in doc["beats"]:
        k = round((b["t"] - 0.5) / 0.5)
        assert b["beat"] == k % 4 + 1
    kf = doc["keyframes"]
    assert kf[0]["reason"] == "start" and kf[0]["time_s"] == 0.0
    walk = kf[1:]
    assert len(walk) >= 2
    assert np.allclose(np.diff([k["time_s"] for k in walk]), 2.0, atol=0.03)    # 4 beats at 120 BPM
    beats_by_t = {round(b["t"], 6): b for b in doc["beats"]}
    for k in walk:
        b = beats_by_t[round(k["time_s"], 6)]                                      # cuts sit on beats
        assert k["reason"] == f"beat {b['beat']} of bar {b['bar']}"
        assert k["frame"] == int(np.ceil(k["time_s"] * FPS - 1e-6))
    assert [k["entry"] for k in kf] == list(range(len(kf)))
    rows = doc["frames"]["rows"]
    assert len(rows) == int(DURATION_S * FPS) and doc["frames"]["columns"][:2] == ["frame", "t"]


def test_click_track_render_scores_bas_above_0_9(work):
    from live.sync_score import score_video

    _, _, report, _ = work
    r = score_video(report.out)
    assert r.bas > 0.9
    assert r.correlation > 0.6
    assert abs(r.offset_ms) < 1000.0 / FPS


def test_unedited_timeline_rerenders_the_same_video(work):
    tmp, wav, report, frames = work
    tl, warnings = load_timeline(tmp / "a.json")
    assert warnings == []
    out = tmp / "same.mp4"
    rc = main(["render", str(wav), "-o", str(out), "--from-timeline", str(tmp / "a.json"), "--quiet",
               "--timeline", str(tmp / "same.json")])
    assert rc == 0
    pics, _, _, _ = _decode(out)
    orig, _, _, _ = _decode(report.out)
    assert len(pics) == len(orig) and _max_mean_diff(pics, orig) < ENCODER_TOLERANCE
    a, b = json.loads((tmp / "a.json").read_text()), json.loads((tmp / "same.json").read_text())
    assert a["keyframes"] == b["keyframes"] and a["frames"] == b["frames"] and a["sync_ms"] == b["sync_ms"]


def test_edited_entry_changes_frames_from_that_cut_only(work):
    tmp, wav, report, frames = work
    from live.offline.render import config_from_timeline
    from live.offline.timeline import parse_timeline

    doc = json.loads((tmp / "a.json").read_text())
    j = 2
    doc["keyframes"][j]["entry"] = 9
    doc["keyframes"][j]["reason"] = "manual"
    tl, _ = parse_timeline(doc)
    _, edited = _render(tmp, "edited", wav, cfg=config_from_timeline(tl), timeline=tl, sync_ms=tl.sync_ms)
    prev_cut = doc["keyframes"][j - 1]["frame"]          # the segment before eases into the edited entry
    cut = doc["keyframes"][j]["frame"]
    assert all(np.array_equal(edited[i], frames[i]) for i in range(prev_cut))   # well before: untouched
    diff = [np.abs(edited[i].astype(int) - frames[i]).mean() for i in range(cut, len(frames))]
    assert min(diff[:6]) > 5.0                            # a different picture at and after the cut
    assert np.mean([np.abs(edited[i].astype(int) - frames[i]).mean() for i in range(prev_cut, cut)]) > 0.5


def test_section_rerender_keeps_sync(work):
    tmp, wav, report, frames = work
    rep, sec = _render(tmp, "section", wav, start_s=4.0, end_s=6.0)
    assert rep.first_frame == 48 and rep.frames == 24 and sorted(sec) == list(range(48, 72))
    pics, _, samples, rate_hz = _decode(rep.out)
    assert len(pics) == 24 and samples / rate_hz == pytest.approx(2.0, abs=0.05)
    # same walk and same audio time: after the 2 s pre-roll the feedback trails match too
    err = [np.abs(sec[i].astype(int) - frames[i]).mean() for i in range(48, 72)]
    assert max(err) < 1.0


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["keyframes"][2].__setitem__("entry", 999), "does not exist"),
    (lambda d: d["keyframes"][2].__setitem__("time_s", 0.5), "strictly increase"),
    (lambda d: d["keyframes"][1].__setitem__("bank", "nope"), "not loaded"),
    (lambda d: d["audio"].__setitem__("duration_s", 30.0) or d["audio"].__setitem__("sha256", "0" * 64),
     "other audio"),
    (lambda d: d.__setitem__("format", 2), "format 2"),
])
def test_bad_timeline_is_one_line_exit_2(work, capsys, edit, message):
    tmp, wav, _, _ = work
    doc = json.loads((tmp / "a.json").read_text())
    edit(doc)
    bad = tmp / "bad.json"
    bad.write_text(json.dumps(doc))
    rc = main(["render", str(wav), "-o", str(tmp / "bad.mp4"), "--from-timeline", str(bad), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert message in err[-1] and err[-1].startswith("latent-live render: error:")


@pytest.mark.parametrize("argv, message", [
    (["missing.wav"], "audio file not found"),
    (["{wav}", "--size", "95x64"], "even"),
    (["{wav}", "--start", "20"], "after the end of the audio"),
    (["{wav}", "--start", "3", "--end", "2"], "must be after --start"),
    (["{wav}", "--sync-ms", "soon"], "--sync-ms"),
])
def test_bad_input_is_one_line_exit_2(work, capsys, argv, message):
    tmp, wav, _, _ = work
    argv = [a.replace("{wav}", str(wav)) for a in argv]
    rc = main(["render", *argv, "-o", str(tmp / "x.mp4"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and message in err[-1] and err[-1].startswith("latent-live render: error:")
