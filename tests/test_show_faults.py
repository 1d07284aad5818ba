"""Never go black: inject each fault into a short headless show and check what is on screen."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from gl_fixtures import egl_unavailable_reason
from live.config import Config, build_config
from live.gen import get_generator
from live.gen.bank import LatentBank, save_bank

SR = 22050


@pytest.fixture(autouse=True)
def _need_egl():
    reason = egl_unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def bank_dir(tmp_path):
    gen = get_generator("embedded", size=64)
    gen.load()
    spec = gen.bank_spec()
    gen.close()
    rng = np.random.default_rng(3)
    bank = LatentBank(name="faulty-test", backend=spec.backend, model_id=spec.model_id,
                      model_hash=spec.model_hash or "", latents=rng.standard_normal((6, *spec.latent_shape)))
    save_bank(bank, tmp_path / "bank")
    return tmp_path / "bank"


def click_track(seconds: float, bpm: float = 120.0) -> np.ndarray:
    x = np.zeros(int(seconds * SR), np.float32)
    for t in np.arange(0.0, seconds, 60.0 / bpm):
        i = int(t * SR)
        x[i:i + 200] += np.hanning(200).astype(np.float32) * 0.8
    return x


def make_cfg(banks, **gen) -> Config:
    cfg = build_config({
        "render": {"width": 160, "height": 90, "headless": "yes", "fps": 30.0, "hud": False},
        "osc": {"enabled": False},
        "audio": {"sample_rate_hz": SR},
    })
    return dataclasses.replace(cfg, gen=dataclasses.replace(cfg.gen, banks=tuple(str(b) for b in banks), size=64, **gen))


class Failing:
    """Wraps the embedded generator; misbehaves from the ``after``-th render on."""

    def __init__(self, mode: str, after: int, **kw):
        self.inner = get_generator("embedded", **kw)
        self.name = f"failing-{mode}"
        self.mode, self.after, self.n = mode, after, 0

    def __getattr__(self, item):
        return getattr(self.inner, item)

    def render(self, ctl):
        self.n += 1
        if self.n > self.after:
            if self.mode == "raise":
                raise RuntimeError("CUDA out of memory (injected)")
            time.sleep(30.0)  # a stall: the show must not wait for this
        return self.inner.render(ctl)


def run_show(cfg, *, factory=None, seconds=2.5):
    from live.app import Show
    from live.audio import ArraySource

    means = []
    drawn_during_stall = [0]

    def on_frame(show, now):
        means.append(float(show.renderer.read_pixels().mean()))
        w = show.gen_worker
        if w is not None and w.busy_since is not None and now - w.busy_since > 0.2:
            drawn_during_stall[0] += 1  # the GL loop drew while the generator was stuck

    show = Show(cfg, source=ArraySource(click_track(seconds + 2), sample_rate_hz=SR, realtime=True),
                duration_s=seconds, on_frame=on_frame, generator_factory=factory)
    result = show.run()
    show.drawn_during_stall = drawn_during_stall[0]
    return show, result, np.array(means)


def factory_for(mode, after):
    def make(name, **kw):
        if name == "embedded":
            return get_generator("embedded", **kw)
        return Failing(mode, after, **kw)
    return make


@pytest.mark.parametrize("mode", ["raise", "stall"])
def test_generator_fault_keeps_picture_and_falls_back(bank_dir, mode):
    cfg = make_cfg([bank_dir], backend="broken", timeout_s=0.4)
    show, result, means = run_show(cfg, factory=factory_for(mode, after=5))
    assert result.fallbacks >= 1
    assert show.generator.name == "embedded"
    assert any("failing-" + mode in m and "embedded" in m for m in result.messages), result.messages
    # the picture never went black once the first generated frame was up
    first = int(np.argmax(means > 5.0))
    assert means[first:].min() > 5.0, means
    if mode == "stall":
        # the GL loop kept drawing while the generator was stuck inside render()
        assert show.drawn_during_stall >= 1
    # the embedded generator took over: the newest frame on screen came from the replacement
    assert show.gen_worker.generation >= 2
    assert show.frames.get().index // 1_000_000_000 == show.gen_worker.generation


def test_bank_that_fails_to_load_leaves_others_playing(bank_dir, tmp_path):
    broken = tmp_path / "broken_bank"
    broken.mkdir()
    (broken / "bank.toml").write_text((bank_dir / "bank.toml").read_text())
    data = (bank_dir / "bank.safetensors").read_bytes()
    (broken / "bank.safetensors").write_bytes(data[: len(data) // 2])  # truncated
    cfg = make_cfg([broken, bank_dir])
    show, result, means = run_show(cfg, seconds=1.5)
    assert result.bank_errors == 1
    assert any(str(broken) in m for m in result.messages), result.messages
    assert list(show.banks) == ["faulty-test"]
    assert means[-1] > 5.0 and result.gen_frames > 3


def test_no_usable_bank_is_a_clear_start_error(tmp_path):
    from live.app import Show, ShowError
    from live.audio import ArraySource

    cfg = make_cfg([tmp_path / "missing"])
    show = Show(cfg, source=ArraySource(click_track(1.0), sample_rate_hz=SR),
                generator_factory=lambda name, **kw: get_generator(name, **kw))
    # the bundled default bank is the fallback; if it is missing too the error says how to build one
    try:
        show.start()
    except ShowError as exc:
        assert "bank build" in str(exc)
    else:
        assert show.banks, "fell back to the bundled default bank"
    finally:
        show.stop()


def test_crossfade_runs_on_the_same_clock_as_the_effects(bank_dir):
    """Renderer.set_frame(now_s) and draw(time_s) must share one clock, or the cross-fade
    between generator frames is stuck at one end (it was: monotonic vs audio time)."""
    from live.app import Show
    from live.audio import ArraySource

    cfg = make_cfg([bank_dir])
    show = Show(cfg, source=ArraySource(click_track(4.0), sample_rate_hz=SR, realtime=True), duration_s=1.5)
    show.start()
    seen = {"set": [], "draw": []}
    r = show.renderer
    set_frame, draw = r.set_frame, r.draw
    r.set_frame = lambda frame, *, now_s: (seen["set"].append(now_s), set_frame(frame, now_s=now_s))[1]
    r.draw = lambda *a, time_s, **k: (seen["draw"].append(time_s), draw(*a, time_s=time_s, **k))[1]
    show.run()
    assert seen["set"] and seen["draw"]
    assert abs(seen["set"][-1] - seen["draw"][-1]) < 0.5


def test_bpm_zero_after_tapping_releases_to_the_tracker():
    """Tapping leaves the bpm control at 0, so '/live/bpm 0' does not change its value; the
    release must still reach the analyzer (it is counted, not compared)."""
    import threading

    from live.app import AnalysisWorker, Telemetry
    from live.control import ControlStore
    from live.types import Latest

    calls = []

    class Recorder:
        def tap(self, *, t_s):
            calls.append(("tap", round(t_s, 3)))

        def set_manual_bpm(self, bpm):
            calls.append(("manual", bpm))

        def release_tap(self):
            calls.append(("release",))

    store = ControlStore()
    w = AnalysisWorker(None, Recorder(), Latest(), Telemetry(), control_store=store, stop=threading.Event())
    w.clock_anchor = (100.0, 10.0)                 # wall 100 s = audio 10 s
    w._forward_control()                           # start value 0: the tracker leads
    assert calls == [("manual", None), ("release",)]
    calls.clear()
    for t in (100.0, 100.5, 101.0, 101.5):
        store.tap(t_s=t)
    w._forward_control()
    assert calls == [("tap", 10.0), ("tap", 10.5), ("tap", 11.0), ("tap", 11.5)]
    calls.clear()
    store.set("bpm", 0.0)                          # the value was already 0
    w._forward_control()
    assert calls == [("manual", None), ("release",)]
    calls.clear()
    store.set("bpm", 5.0)                          # below the analyzer's range: clamped, not fatal
    w._forward_control()
    assert calls == [("manual", 20.0)]
    w._forward_control()                           # nothing new: nothing forwarded
    assert calls == [("manual", 20.0)]


def test_osc_settings_reach_the_osc_server_and_sender(bank_dir):
    """osc.recv_buffer_bytes and osc.bands_hz were in the config but never passed on."""
    import random
    import socket

    from live.app import Show
    from live.audio import ArraySource

    base = make_cfg([bank_dir])
    port = random.randint(20000, 60000)
    small = 8192
    cfg = dataclasses.replace(base, osc=dataclasses.replace(base.osc, enabled=True, port=port,
                                                            recv_buffer_bytes=small, bands_hz=7.0,
                                                            targets=("127.0.0.1:9",)))
    show = Show(cfg, source=ArraySource(click_track(1.0), sample_rate_hz=SR))
    try:
        show.start()
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, small)
        expected = probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)   # what the OS makes of it
        probe.close()
        assert show.osc_server.recv_buffer_bytes == expected
        assert show.osc_out.bands_interval_s == pytest.approx(1 / 7.0)
    finally:
        show.stop()
