"""Cluster render: a segment rendered on its own equals the single-process render at its seam
(raw pixels; the pre-roll is what makes it so), and a local Dask cluster of two workers inside
a private network namespace joins segments into the same video, also when one worker is killed
mid-segment. Tiny sizes (96x64, 12 fps, 9 s)."""
import os
import sys

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("moderngl")
sys.path.insert(0, os.path.dirname(__file__))
from gl_fixtures import egl_unavailable_reason  # noqa: E402

if egl_unavailable_reason():
    pytest.skip(egl_unavailable_reason(), allow_module_level=True)

# fx.detail off: its contour lines are level sets of the picture, so they magnify the trails'
# sub-rounding history differences at a seam into whole-pixel line shifts
SETS = ["render.width=96", "render.height=64", "gen.size=32", "motion.energy_speed=0", "controls.fx.detail=0"]
FPS = 12


@pytest.fixture(scope="module")
def click(tmp_path_factory):
    from live.testing.sync_videos import click_track, write_wav

    tmp = tmp_path_factory.mktemp("cluster")
    wav = tmp / "click.wav"
    samples, _ = click_track(duration_s=9.0, sample_rate_hz=44100, bpm=120.0)
    write_wav(wav, samples, sample_rate_hz=44100)
    return tmp, wav


def test_a_segment_with_its_preroll_equals_the_single_render_at_the_seam(click):
    from live.config import load_config
    from live.offline.cluster import render_segment, segment_job
    from live.offline.render import _load_banks, _make_generator, prepare, render_file
    from live.offline.segments import plan_segments

    tmp, wav = click
    cfg = load_config(None, SETS)
    single = {}
    render_file(wav, tmp / "single.mp4", cfg=cfg, fps=FPS, progress=False, preroll_s=1.0,
                on_frame=lambda i, px: single.__setitem__(i, px))
    gen = _make_generator(cfg)
    banks, notes = _load_banks(cfg, gen)
    prep = prepare(wav, cfg=cfg, gen=gen, banks=banks, notes=notes, fps=FPS, progress=False, preroll_s=1.0)
    gen.close()

    def seam_diff(preroll_frames):
        seg = plan_segments(prep.i0, prep.i1, segments=3, fps=FPS, preroll_frames=preroll_frames)[1]
        got = {}
        job = segment_job(prep, seg)
        job.on_frame = lambda i, px: got.__setitem__(i, px)
        r = render_segment(job)
        assert r.frames == seg.frames and r.data[4:8] == b"ftyp"       # an encoded MP4 came back
        return [int(np.abs(got[i].astype(int) - single[i].astype(int)).max()) for i in range(seg.first, seg.end)]

    cold = seam_diff(0)
    warm = seam_diff(FPS)               # one second of pre-roll
    assert cold[0] > 40                 # no pre-roll: the trails are empty at the seam, visibly
    assert max(warm) <= 3               # one second: equal to rounding, at the seam and after


@pytest.mark.slow
def test_local_cluster_of_two_joins_the_same_video_and_survives_a_killed_worker(click):
    pytest.importorskip("distributed")
    from net_fixtures import run_in_netns

    tmp, _ = click
    r = run_in_netns(os.path.join(os.path.dirname(__file__), "cluster_script.py"), str(tmp), "kill", timeout=300)
    n = r["single_frames"]
    assert r["cluster_frames"] == n == r["killed_frames"] == 108
    assert r["cluster_kinds"] == ["audio", "video"] and len(r["cluster_seams"]) == 2
    diff = np.asarray(r["cluster_mean_diff"])
    # decoded frames: the same picture (differences are the encoder's: each segment is its own GOP)
    assert diff.max() < 6.0
    seams = [i for s in r["cluster_seams"] for i in (s - 1, s, s + 1)]
    others = np.median([d for i, d in enumerate(diff) if i not in seams])
    assert max(diff[i] for i in seams) <= 2.0 * others + 1.0        # no seam stands out
    # a worker was killed mid-segment; its segment was rendered again elsewhere, same result
    assert "pid" in r["killed"], f"no worker was caught rendering a segment to kill: {r}"
    assert r["killed"]["pid"] in r["pids"] and r["killed"]["pid"] not in r["pids_after"]
    assert r["killed_mean_diff"] == r["cluster_mean_diff"] and r["killed_max_diff"] == r["cluster_max_diff"]


def test_cli_refuses_workers_and_cluster_together(click, capsys):
    from live.cli import main

    tmp, wav = click
    rc = main(["render", str(wav), "-o", str(tmp / "x.mp4"), "--workers", "2", "--cluster", "tcp://127.0.0.1:1"])
    assert rc != 0
    assert "not both" in capsys.readouterr().err
