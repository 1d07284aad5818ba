"""The control page in a real browser (Debian chromium, headless, driven by chromium-driver through
selenium) against a running headless show: faders move the show and its pixels, thumbnails cut,
presets land in the show file and survive a restart, meters move with the music."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [pytest.mark.gl]


def _need_browser():
    if not CHROMIUM or not DRIVER:
        pytest.skip("chromium / chromium-driver not installed (tools/setup.sh installs them)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium not installed (pip install selenium)")


def _music(path: Path, seconds: float = 8.0, sr: int = 22050) -> None:
    from live.testing.signals import synth_mix
    x = synth_mix(seconds=seconds, sample_rate_hz=sr, bpm=120.0, seed=3)
    pcm = (np.clip(x, -1, 1) * 32000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


class RunningShow:
    """``latent-live run`` headless in a subprocess; ``url`` read from what it prints."""

    def __init__(self, show_file: Path, audio: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "live", "run", "--audio", str(audio), "--loop", "--no-playback",
             "--headless", "--size", "320x180", "--config", str(show_file), "--duration", "120"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url, lines = None, []
        end = time.monotonic() + 60
        while time.monotonic() < end and self.url is None:
            line = self.proc.stderr.readline()
            if not line:
                if self.proc.poll() is not None:
                    break
                continue
            lines.append(line)
            m = re.search(r"control surface on (http://\S+)", line)
            if m:
                self.url = m.group(1)
        if self.url is None:
            self.stop()
            raise AssertionError("the show did not start:\n" + "".join(lines))

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return r.status, r.read()

    def state(self) -> dict:
        return json.loads(self.get("api/state")[1])

    def brightness(self) -> float:
        """Mean level (0..255) of the newest preview frame: what the show renders."""
        from PIL import Image
        end = time.monotonic() + 10
        while time.monotonic() < end:
            status, body = self.get("api/preview.jpg")
            if status == 200:
                return float(np.asarray(Image.open(io.BytesIO(body)).convert("L"), float).mean())
            time.sleep(0.1)
        raise AssertionError("no preview frame")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def click(b, element):
    """Scroll ``element`` to the middle of the page (clear of the sticky header), then click it."""
    b.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def wait_for(pred, timeout_s=8.0, every=0.1):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(every)
    return pred()


@pytest.fixture
def browser():
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    os.environ.setdefault("SE_OFFLINE", "true")          # never let selenium fetch a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=900,1200", "--disable-extensions", "--no-first-run"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_control_page_drives_the_show(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    audio = tmp_path / "music.wav"
    _music(audio)
    show_file = tmp_path / "show.toml"
    show_file.write_text("# rehearsal\n[osc]\nenabled = false\n\n[web]\nport = 0\npreview_fps = 10\n"
                         "\n[render]\nfps = 30.0\n")
    show = RunningShow(show_file, audio)
    try:
        b = browser
        b.get(show.url)
        assert wait_for(lambda: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        # every control of the table is on the page
        sliders = b.find_elements(By.CSS_SELECTOR, "input[type=range][data-control]")
        assert {"fade", "fx.hue", "intensity", "speed"} <= {s.get_attribute("data-control") for s in sliders}

        # meters move with the music (pushed over the WebSocket, 20+ a second)
        body = b.find_element(By.TAG_NAME, "body")
        n0 = int(body.get_attribute("data-meters") or 0)
        basses = set()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:
            basses.add(body.get_attribute("data-bass"))
            time.sleep(0.05)
        rate = (int(body.get_attribute("data-meters")) - n0) / (time.monotonic() - t0)
        assert rate >= 20, f"meters at {rate:.1f} Hz"
        assert len(basses) >= 5, f"bass meter did not move: {basses}"

        # fade to black with the fader: the control changes in the show, the picture goes dark
        lit = show.brightness()
        assert lit > 10, f"the picture is dark before the fade ({lit:.1f})"
        fade = b.find_element(By.CSS_SELECTOR, "input[data-control=fade]")
        b.execute_script("arguments[0].scrollIntoView({block: 'center'})", fade)
        width = fade.size["width"]
        ActionChains(b).move_to_element_with_offset(fade, -width // 2 + 1, 0).click().perform()
        assert wait_for(lambda: show.state()["controls"]["fade"] < 0.01), show.state()["controls"]["fade"]
        dark = wait_for(lambda: (lambda v: v if v < 3 else None)(show.brightness()), timeout_s=10)
        assert dark is not None and dark < 3, f"still lit after the fade: {show.brightness():.1f} (was {lit:.1f})"
        ActionChains(b).move_to_element_with_offset(fade, width // 2 - 1, 0).click().perform()
        assert wait_for(lambda: show.state()["controls"]["fade"] > 0.99)

        # click a bank thumbnail: the show cuts to that entry
        thumb = b.find_element(By.CSS_SELECTOR, "img[data-bank='0'][data-entry='7']")
        click(b, thumb)
        assert wait_for(lambda: show.state()["playing"]["entry_a"] == 7), show.state()["playing"]
        assert show.state()["counts"]["entry.select"] == 1

        # save a preset: it is in the show file (the rest of the file kept)
        hue = b.find_element(By.CSS_SELECTOR, "input[data-control='fx.hue']")
        b.execute_script("arguments[0].scrollIntoView({block: 'center'})", hue)
        ActionChains(b).move_to_element_with_offset(hue, hue.size["width"] // 2 - 1, 0).click().perform()
        assert wait_for(lambda: show.state()["controls"]["fx.hue"] > 0.99)
        name = b.find_element(By.ID, "preset-name")
        name.send_keys("warm up")
        click(b, b.find_element(By.ID, "preset-save"))
        assert wait_for(lambda: "presets.\"warm up\"" in show_file.read_text())
        assert wait_for(lambda: b.find_elements(By.CSS_SELECTOR, "[data-recall='warm up']"))
        assert "# rehearsal" in show_file.read_text()
    finally:
        show.stop()

    # ... and after a restart the show has it, and it recalls
    show = RunningShow(show_file, audio)
    try:
        s = show.state()
        assert s["presets"]["warm up"]["fx.hue"] == 1.0
        b.get(show.url)
        assert wait_for(lambda: b.find_elements(By.CSS_SELECTOR, "[data-recall='warm up']"))
        click(b, b.find_element(By.CSS_SELECTOR, "[data-recall='warm up']"))
        assert wait_for(lambda: show.state()["preset"] == "warm up")
        assert show.state()["controls"]["fx.hue"] == 1.0
    finally:
        show.stop()
