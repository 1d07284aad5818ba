"""Issue 14 item 1: a slow or endless shader never reaches the show's GL context.

A new or reloaded user pass is compiled and timed in a separate process (live.render.probe);
one that never returns is killed at its deadline, one over its frame budget is refused, and the
show keeps drawing its last good program and says why. --duration always ends the show.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gl_fixtures import NEUTRAL, egl_unavailable_reason, features, frame, make_renderer  # noqa: F401
from live.render.probe import ProbeProgram, probe
from live.render.shaderlib import BUNDLED_DIR, load_source, search_dirs, split_source

if egl_unavailable_reason():
    pytest.skip(egl_unavailable_reason(), allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]

from live.testing.shaders import ENDLESS_PASS as ENDLESS  # noqa: E402

HEAVY = """#version 330
uniform sampler2D u_source;
//--- fragment
in vec2 v_uv; out vec4 f_color;
void main() {
    float x = 0.0;
    for (int i = 0; i < 40000; i++) { x += sin(x + v_uv.x * float(i)); }
    f_color = vec4(texture(u_source, v_uv).rgb + 1e-9 * x, 1.0);
}
"""
GREEN = """#version 330
uniform sampler2D u_source;
//--- fragment
in vec2 v_uv; out vec4 f_color;
void main() { f_color = vec4(0.0, 1.0, 0.0, 1.0); }
"""


def _prog(name, text, size=(160, 90)):
    v, f = split_source(text)
    return ProbeProgram(name, v, f, size)


def test_probe_refuses_endless_heavy_and_broken_and_passes_the_bundled_passes():
    dirs = search_dirs(())
    bundled = [ProbeProgram(n, (s := load_source(n, dirs)).vertex, s.fragment, (160, 90)) for n in ("trails", "finish")]
    t0 = time.monotonic()
    results = probe([*bundled, _prog("endless", ENDLESS),
                     _prog("broken", "in vec2 v_uv; out vec4 c; void main() { c = vec4(nope); }")],
                    values={"u_time": 1.0}, deadline_s=2.0, budget_ms=50.0)
    took = time.monotonic() - t0
    by = {r.name: r for r in results}
    assert by["trails"].ok and by["finish"].ok, results
    assert by["trails"].ms is not None and by["trails"].ms < 50.0
    assert not by["endless"].ok
    assert "did not finish within 2 s" in by["endless"].reason or "over its budget" in by["endless"].reason
    assert not by["broken"].ok and "does not compile" in by["broken"].reason and "nope" in by["broken"].reason
    assert took < 45.0


def test_closing_the_prober_kills_a_probe_in_flight():
    from live.render.probe import Prober

    prober = Prober(deadline_s=60.0)
    fut = prober.submit([_prog("endless", ENDLESS, (640, 360))], values={"u_time": 1.0})
    time.sleep(1.0)
    t0 = time.monotonic()
    prober.close()
    (r,) = fut.result(timeout=10)
    assert not r.ok and time.monotonic() - t0 < 5.0


def _settle(r, timeout_s=60.0):
    msgs, t_end, draws = [], time.monotonic() + timeout_s, 0
    while True:
        r._last_reload_check = 0.0
        t = time.perf_counter()
        msgs += r.check_reload()
        r.draw(features(), NEUTRAL, time_s=0.0)          # the show keeps drawing while the probe runs
        assert time.perf_counter() - t < 2.0, "the GL thread waited for the probe"
        draws += 1
        if not r.chain.probing or time.monotonic() > t_end:
            return msgs, draws
        time.sleep(0.02)


def test_hot_reload_of_an_endless_pass_keeps_the_last_good_one_and_never_blocks(make_renderer, tmp_path):
    (tmp_path / "finish.glsl").write_text(GREEN)
    r = make_renderer(shader_dirs=[str(tmp_path)])
    r.set_frame(frame(np.full((64, 64, 3), 90, np.uint8), 1), now_s=0.0)
    r.draw(features(), NEUTRAL, time_s=0.0)
    good = r.read_pixels()
    assert good[..., 1].min() == 255
    (tmp_path / "finish.glsl").write_text(ENDLESS)
    r.chain._prober.options["deadline_s"] = 2.0
    msgs, draws = _settle(r)
    assert any("shader refused, keeping the last good finish" in m for m in msgs), msgs
    assert draws >= 3                                          # drew frames while the probe worked
    assert np.array_equal(r.read_pixels(), good)
    assert r.last_error and "finish.glsl" in r.last_error
    # fixing it brings the new version on screen
    (tmp_path / "finish.glsl").write_text(GREEN.replace("vec4(0.0, 1.0, 0.0, 1.0)", "vec4(1.0, 0.0, 0.0, 1.0)"))
    msgs, _ = _settle(r)
    assert any("reloaded shader finish" in m for m in msgs), msgs
    px = r.read_pixels()
    assert px[..., 0].min() == 255 and px[..., 1].max() == 0 and r.last_error is None


def test_an_endless_user_pass_is_refused_before_the_show(make_renderer, tmp_path):
    from live.render.renderer import RenderError

    (tmp_path / "finish.glsl").write_text(HEAVY)
    with pytest.raises(RenderError, match="refused before the show"):
        make_renderer(shader_dirs=[str(tmp_path)], shader_budget_ms=20.0)


def write_click_wav(path, seconds, rate=22050):
    from live.testing.sync_videos import click_track, write_wav

    samples, _ = click_track(duration_s=seconds, sample_rate_hz=rate)
    write_wav(path, samples, sample_rate_hz=rate)


def test_show_with_an_endless_reload_still_ends_on_duration(tmp_path):
    shaders = tmp_path / "shaders"
    shaders.mkdir()
    shutil.copy(BUNDLED_DIR / "finish.glsl", shaders / "finish.glsl")
    wav = tmp_path / "a.wav"
    write_click_wav(wav, 20.0)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "live", "run", "--audio", str(wav), "--no-playback", "--headless",
           "--size", "160x90", "--duration", "8", "--osc-port", "0", "--set", f'render.shader_dirs=["{shaders}"]',
           "--set", "render.fps=20", "--set", "render.hud=false"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []

    def read_and_swap():
        swapped = False
        for line in proc.stderr:
            lines.append(line)
            if not swapped and "running" in line:     # the show is on: save an endless version
                time.sleep(0.5)
                (shaders / "finish.glsl").write_text(ENDLESS)
                swapped = True
    reader = threading.Thread(target=read_and_swap, daemon=True)
    reader.start()
    t0 = time.monotonic()
    proc.wait(timeout=120)
    reader.join(timeout=10)
    err = "".join(lines)
    took = time.monotonic() - t0
    assert proc.returncode == 0, err
    assert "shader refused, keeping the last good finish" in err, err
    assert took < 60.0
    frames = int(err.split("latent-live: ")[-1].split(" frames")[0])
    assert frames >= 60, err                                   # 8 s at 20 fps, drawn throughout


def test_a_stop_request_always_ends_the_process_even_when_the_loop_is_stuck(tmp_path):
    """The watchdog: a loop that never looks at the stop flag (a GL call that never returns)
    is ended grace_s after SIGTERM, with the recording finished by emergency() first."""
    script = tmp_path / "stuck.py"
    script.write_text(
        "import sys, time\n"
        "from live.commands.stopping import StopSignals\n"
        "def emergency():\n"
        "    open(sys.argv[1], 'w').write('finished')\n"
        "with StopSignals(lambda: None, grace_s=1.0, emergency=emergency):\n"
        "    print('ready', flush=True)\n"
        "    while True:\n"
        "        time.sleep(0.05)\n")
    marker = tmp_path / "marker"
    p = subprocess.Popen([sys.executable, str(script), str(marker)], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 143 and marker.read_text() == "finished", err
    assert "still running 1 s after SIGTERM" in err
    assert time.monotonic() - t0 < 10.0


def test_duration_always_ends_the_process_even_when_the_loop_is_stuck(tmp_path):
    script = tmp_path / "stuck.py"
    script.write_text(
        "import sys, time\n"
        "from live.commands.stopping import StopSignals\n"
        "def emergency():\n"
        "    open(sys.argv[1], 'w').write('finished')\n"
        "with StopSignals(lambda: None, grace_s=1.0, emergency=emergency) as s:\n"
        "    s.arm_deadline(1.0)\n"
        "    while True:\n"
        "        time.sleep(0.05)\n")
    marker = tmp_path / "marker"
    r = subprocess.run([sys.executable, str(script), str(marker)], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and marker.read_text() == "finished", r.stderr
    assert "still running --duration" in r.stderr
