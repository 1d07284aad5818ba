"""Issue 14 items 3-6: no stop, full disk or audio format loses a recording.

3. SIGTERM / SIGHUP / Ctrl+C mid-record and SIGTERM mid-render finish a playable file and
   exit with 128 + the signal; SIGKILL leaves a file playable up to about the last second.
4. A full disk (a small tmpfs mounted here; RLIMIT_FSIZE where mounting is not allowed) keeps
   what was written playable; the show goes on and says so in the log/HUD notes, the summary
   and the exit code; render ends with one line, no traceback.
5. MP3, OGG and a WAV with NaN/inf samples get their sound muxed.
6. ``--loop --record`` keeps the audio of every pass.

Every partial file is opened with PyAV.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
from gl_fixtures import egl_unavailable_reason  # noqa: E402
from live.testing.sync_videos import click_track, write_wav  # noqa: E402

if egl_unavailable_reason():
    pytest.skip(egl_unavailable_reason(), allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
SR = 22050


def encode_audio(path, samples, rate, codec, *, stereo=False):
    """Write mono float samples with PyAV's encoder ``codec`` (libmp3lame, vorbis, pcm_f32le)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.layout = "stereo" if stereo else "mono"
        if codec == "vorbis":
            s.codec_context.options = {"strict": "-2"}     # FFmpeg's own Vorbis encoder
        size = s.codec_context.frame_size or 1024
        x = np.asarray(samples, np.float32)
        for pts in range(0, len(x), size):
            chunk = x[pts:pts + size]
            if len(chunk) < size and codec != "pcm_f32le":
                chunk = np.pad(chunk, (0, size - len(chunk)))
            data = np.stack([chunk, chunk]) if stereo else chunk[None, :]
            f = av.AudioFrame.from_ndarray(data, format="fltp" if stereo else "flt",
                                           layout="stereo" if stereo else "mono")
            f.sample_rate, f.pts = rate, pts
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)


def clicks(seconds, rate=SR):
    return click_track(duration_s=seconds, sample_rate_hz=rate)[0]


def media(path):
    """(video frames, video seconds, audio seconds, audio all finite, audio rms) of a file."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        rate = float(vs.average_rate or vs.guessed_rate or 30)
        n = sum(1 for _ in c.decode(video=0))
    audio = []
    with av.open(str(path)) as c:
        if c.streams.audio:
            audio = [f.to_ndarray() for f in c.decode(audio=0)]
    a = np.concatenate(audio, axis=1) if audio else np.zeros((2, 0), np.float32)
    rms = float(np.sqrt(np.mean(a.astype(np.float64) ** 2))) if a.size else 0.0
    return n, n / rate, a.shape[1] / 48000.0, bool(np.isfinite(a).all()), rms


def cli(*args, cwd, preexec=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "live", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)


RUN = ("run", "--no-playback", "--headless", "--size", "160x90", "--osc-port", "0",
       "--set", "render.fps=20", "--set", "render.hud=false")


def wait_for_file(path, min_bytes, timeout_s=60.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if path.exists() and path.stat().st_size >= min_bytes:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def wav30(tmp_path_factory):
    p = tmp_path_factory.mktemp("audio") / "clicks30.wav"
    write_wav(p, clicks(30.0), sample_rate_hz=SR)
    return p


# -- 3. stops ------------------------------------------------------------------------------------

def test_every_stop_mid_record_leaves_a_playable_recording(tmp_path, wav30):
    """SIGTERM, SIGHUP and Ctrl+C stop the show as cleanly as each other (file finished, summary,
    JSON with the real duration, exit code 128 + signal); SIGKILL leaves the recording playable
    up to about its last second. The four shows run side by side to keep the test short."""
    sigs = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL]
    runs = {}
    for sig in sigs:
        d = tmp_path / signal.Signals(sig).name
        d.mkdir()
        runs[sig] = (d, cli(*RUN, "--audio", wav30, "--record", d / "show.mp4", "--json", d / "r.json", cwd=d))
    for sig, (d, p) in runs.items():
        assert wait_for_file(d / "show.mp4", 40_000), p.stderr.read() if p.poll() is not None else "no recording"
    time.sleep(1.0)
    sizes = {}
    for sig, (d, p) in runs.items():
        sizes[sig] = (d / "show.mp4").stat().st_size
        p.send_signal(sig)
    for sig, (d, p) in runs.items():
        _, err = p.communicate(timeout=60)
        name = signal.Signals(sig).name
        out = d / "show.mp4"
        frames, video_s, audio_s, finite, rms = media(out)
        assert video_s >= 1.0 and rms > 0.001, name
        if sig == signal.SIGKILL:
            assert p.returncode == -signal.SIGKILL and audio_s >= video_s - 1.2 and out.stat().st_size >= sizes[sig]
            continue
        assert p.returncode == 128 + sig, (name, err)
        assert f"stopped by {name}" in err and "Traceback" not in err and f"recorded {out}" in err, err
        assert abs(audio_s - video_s) < 0.3 and finite, name
        r = json.loads((d / "r.json").read_text())
        assert r["seconds"] > 1.0 and r["gen_fps"] > 0 and r["stopped_by"] == name


def test_sigterm_mid_render_finishes_a_playable_video(tmp_path, wav30):
    out = tmp_path / "video.mp4"
    p = cli("render", wav30, "-o", out, "--size", "160x90", "--fps", "30", "--quiet",
            "--set", "gen.size=32", cwd=tmp_path)
    assert wait_for_file(out, 30_000), p.stderr.read() if p.poll() is not None else "no video"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    assert "stopped by SIGTERM; the first" in err and "Traceback" not in err, err
    frames, video_s, audio_s, finite, rms = media(out)
    assert frames >= 10 and abs(audio_s - video_s) < 0.3 and rms > 0.001


# -- 4. full disk --------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """(folder, preexec_fn, words): a 96 KB tmpfs when we may mount one, else a 96 KB
    RLIMIT_FSIZE for the child (writes past it fail with EFBIG instead of ENOSPC)."""
    d = tmp_path / "small"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(d)], capture_output=True)
    if r.returncode == 0:
        yield d, None, "the disk is full"
        subprocess.run(["umount", "-l", str(d)], capture_output=True)
        return

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (96 * 1024, 96 * 1024))
    yield d, limit, "too large"


def test_full_disk_mid_show_keeps_what_was_written_and_says_so(tmp_path, wav30, small_disk):
    folder, preexec, words = small_disk
    out = folder / "show.mp4"
    p = cli(*RUN, "--audio", wav30, "--record", out, "--duration", "5", "--json", tmp_path / "r.json",
            cwd=tmp_path, preexec=preexec)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1, err                                  # not 0: the recording failed
    assert f"recording stopped: {words}" in err and "are kept in" in err, err
    assert "note: recording stopped" in err                        # the show's notes (log + HUD line)
    r = json.loads((tmp_path / "r.json").read_text())
    assert words in r["recording_error"]
    assert r["frames_drawn"] >= 60                                 # the show went on for its 5 s at 20 fps
    assert any("recording stopped" in m for m in r["messages"])
    frames, video_s, audio_s, finite, rms = media(out)
    assert video_s >= 0.5 and audio_s > 0.3


def test_full_disk_mid_render_is_one_line_and_the_start_is_playable(tmp_path, wav30, small_disk):
    folder, preexec, words = small_disk
    out = folder / "video.mp4"
    p = cli("render", wav30, "-o", out, "--size", "160x90", "--fps", "30", "--quiet", "--set", "gen.size=32",
            cwd=tmp_path, preexec=preexec)
    _, err = p.communicate(timeout=180)
    assert p.returncode == 2, err
    assert "Traceback" not in err and f"recording stopped: {words}" in err, err
    frames, video_s, audio_s, finite, rms = media(out)
    assert frames >= 10 and audio_s > 0.3


# -- 5. audio formats ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["mp3", "ogg", "nan.wav"])
def test_every_audio_format_is_rendered_with_sound(tmp_path, kind):
    from live.config import load_config
    from live.offline.render import render_file

    x = clicks(3.0, 44100)
    path = tmp_path / f"track.{kind}"
    if kind == "mp3":
        encode_audio(path, x, 44100, "libmp3lame")
    elif kind == "ogg":
        encode_audio(path, x, 44100, "vorbis", stereo=True)
    else:
        x = x.copy()
        x[2000:2100] = np.nan
        x[9000] = np.inf
        x[9001] = -np.inf
        encode_audio(path, x, 44100, "pcm_f32le")
    out = tmp_path / "v.mp4"
    cfg = load_config(None, ["render.width=96", "render.height=64", "gen.size=32"])
    report = render_file(path, out, cfg=cfg, fps=12, progress=False)
    frames, video_s, audio_s, finite, rms = media(out)
    assert frames == report.frames == 36
    assert abs(audio_s - video_s) < 0.1 and finite and rms > 0.005


def test_unreadable_audio_is_refused_before_the_first_frame(tmp_path):
    from live.outputs.recorder import Recorder, RecorderError

    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"ID3" + os.urandom(4000))
    t0 = time.monotonic()
    with pytest.raises(RecorderError, match="broken.mp3"):
        Recorder(tmp_path / "x.mp4", width=64, height=64, fps=30, audio_path=bad, block=True)
    assert time.monotonic() - t0 < 5.0
    with pytest.raises(RecorderError, match="not a file"):
        Recorder(tmp_path / "x.mp4", width=64, height=64, fps=30, audio_path=tmp_path)


# -- 6. --loop --record --------------------------------------------------------------------------

def test_loop_record_keeps_the_sound_of_every_pass_from_an_mp3(tmp_path):
    track = tmp_path / "short.mp3"
    encode_audio(track, clicks(2.0, 44100), 44100, "libmp3lame")
    out = tmp_path / "loop.mp4"
    p = cli(*RUN, "--audio", track, "--loop", "--record", out, "--duration", "5.5", cwd=tmp_path)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    frames, video_s, audio_s, finite, rms = media(out)
    assert video_s > 4.0                                   # two full passes and more
    assert abs(audio_s - video_s) < 0.3, (audio_s, video_s)
    with av.open(str(out)) as c:                           # and the last second is not silent
        a = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    assert np.abs(a[:, -48000:]).max() > 0.05
