"""The control surface's HTTP/WebSocket API and its guards, against a real server on a free port."""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from live.control.params import GROUPS, PARAMS
from live.control.showfile import ShowFile
from live.control.state import ControlStore
from live.surface import Surface, SurfaceSources, contact_sheet_thumbs
from live.types import FeatureFrame, Latest

try:
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def call(url, body=None, headers=None, method=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        body = e.read() or b"{}"
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {"text": body.decode()}


@pytest.fixture
def surface(tmp_path):
    show = tmp_path / "show.toml"
    show.write_text('# my show\n[audio]\ndevice = "Scarlett" # the card\n\n[presets.old]\nintensity = 0.5\n'
                    '\n[osc]\nport = 9100\n')
    store = ControlStore(presets={"old": {"intensity": 0.5}})
    feats = Latest(FeatureFrame(bass=0.5, bpm=128.0, beat_count=3, tempo_source="tracker"))
    sf = ShowFile(show)

    def save(presets):
        sf.save(presets=presets)
        return ""

    bank = ROOT / "latent_banks" / "default"
    src = SurfaceSources(store=store, features=feats.get, save_presets=save,
                         banks=lambda: [{"name": "default", "count": 32, "path": str(bank)}],
                         playing=lambda: {"bank": "default", "bank_index": 0, "entry_a": 3})
    s = Surface(src, port=0, meter_hz=40).start()
    s.show_path, s.feats = show, feats
    yield s
    s.close()


def test_state_params_and_controls(surface):
    st, table = call(surface.url + "api/params")
    names = [p["name"] for g in table["groups"] for p in g["params"]]
    assert sorted(names) == sorted(p.name for p in PARAMS) and len(table["groups"]) == len(GROUPS)
    st, state = call(surface.url + "api/state")
    assert st == 200 and state["controls"]["fade"] == 1.0 and state["meters"]["bpm"] == 128.0
    assert state["banks"] == [{"index": 0, "name": "default", "count": 32, "sheet": True}]
    st, r = call(surface.url + "api/control", {"name": "fade", "value": 0.25})
    assert st == 200 and r["value"] == 0.25 and surface.store.state["fade"] == 0.25
    st, r = call(surface.url + "api/control", {"name": "fade", "value": 7})
    assert st == 200 and r["clamped"] and surface.store.state["fade"] == 1.0
    n = surface.store.state.entry_next_count
    assert call(surface.url + "api/control", {"name": "entry.next"})[0] == 200
    assert surface.store.state.entry_next_count == n + 1
    assert call(surface.url + "api/control", {"name": "entry.select", "value": 5})[0] == 200
    assert surface.store.state["entry.select"] == 5 and surface.store.state.count("entry.select") == 1
    # refused, never applied
    st, r = call(surface.url + "api/control", {"name": "nope", "value": 1})
    assert st == 400 and "unknown control" in r["error"]
    st, r = call(surface.url + "api/control", {"name": "fade", "value": "loud"})
    assert st == 400
    assert call(surface.url + "api/control", b"{not json")[0] == 400
    assert call(surface.url + "api/control", b"[1, 2]")[0] == 400
    assert call(surface.url + "api/control", b'{"name": "fade", "value": ' + b"1" * 20000 + b"}")[0] == 413
    assert surface.store.state["fade"] == 1.0
    assert surface.stats.rejected == 2 and surface.stats.malformed == 3
    # thumbnails cut from the contact sheet
    with urllib.request.urlopen(surface.url + "api/banks/0/thumb/3.jpg") as r:
        assert r.headers["Content-Type"] == "image/jpeg" and r.read()[:2] == b"\xff\xd8"
    assert call(surface.url + "api/banks/0/thumb/99.jpg")[0] == 404
    # the page and its assets are served, nothing from elsewhere
    html = urllib.request.urlopen(surface.url).read().decode()
    js = urllib.request.urlopen(surface.url + "static/app.js").read().decode()
    assert "/static/app.js" in html and "http" not in html.replace('http-equiv', '')
    assert "https://" not in js and "http://" not in js


def test_contact_sheet_thumbs_match_the_bank_grid():
    from PIL import Image
    import io
    thumbs = contact_sheet_thumbs(str(ROOT / "latent_banks" / "default"), 32)
    assert len(thumbs) == 32
    sheet = Image.open(ROOT / "latent_banks" / "default" / "contact_sheet.png").convert("RGB")
    # entry 9 of a 6-column grid of 128 px tiles: column 3, row 1
    tile = sheet.crop((4 + 3 * 132, 4 + 1 * 148, 4 + 3 * 132 + 128, 4 + 148 + 128))
    got = Image.open(io.BytesIO(thumbs[9])).convert("RGB")
    import numpy as np
    assert got.size == (128, 128)
    assert np.abs(np.asarray(got, float) - np.asarray(tile, float)).mean() < 6    # JPEG loss only


def test_presets_persist_atomically_and_keep_the_rest_of_the_file(surface):
    surface.store.set("fx.hue", 0.9)
    st, r = call(surface.url + "api/preset/save", {"name": "late night"})
    assert st == 200 and r["persisted"] and r["presets"] == ["old", "late night"]
    text = surface.show_path.read_text()
    data = tomllib.loads(text)
    assert data["presets"]["late night"]["fx"]["hue"] == 0.9
    assert data["audio"]["device"] == "Scarlett" and data["osc"]["port"] == 9100
    assert "# my show" in text and "# the card" in text
    assert not [p for p in surface.show_path.parent.iterdir() if p.name.endswith(".tmp")]
    surface.store.set("fx.hue", 0.1)
    assert call(surface.url + "api/preset/recall", {"name": "late night"})[0] == 200
    assert surface.store.state["fx.hue"] == 0.9
    assert call(surface.url + "api/preset/delete", {"name": "old"})[0] == 200
    assert list(tomllib.loads(surface.show_path.read_text())["presets"]) == ["late night"]
    st, r = call(surface.url + "api/preset/recall", {"name": "gone"})
    assert st == 400 and "late night" in r["error"]
    # the show file loads as a show file
    from live.config import load_config
    assert list(load_config(surface.show_path).presets) == ["late night"]


def test_a_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    from live.control.showfile import ShowFileError
    path = tmp_path / "show.toml"
    path.write_text("[presets.a]\nfade = 0.5\n")
    before = path.read_text()
    sf = ShowFile(path)

    def crash(src, dst):                     # the machine dies between writing and renaming
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ShowFileError, match="No space left"):
        sf.save(presets={"b": {"fade": 0.25}})
    monkeypatch.undo()
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["show.toml"]
    # a file broken by hand is not made worse: refused before anything is written
    path.write_text("presets = 1\n[presets.a]\nfade = 0.5\n")
    before = path.read_text()
    with pytest.raises(ShowFileError, match="valid TOML|read back"):
        sf.save(presets={"b": {"fade": 0.25}})
    assert path.read_text() == before
    # and a good save replaces it whole
    path.write_text("[render]\nfps = 30.0\n")
    sf.save(presets={"b": {"fade": 0.25}})
    assert tomllib.loads(path.read_text()) == {"render": {"fps": 30.0}, "presets": {"b": {"fade": 0.25}}}


def test_websocket_meters_controls_and_floods(surface):
    import aiohttp

    async def go():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(surface.url + "api/ws") as ws:
                first = json.loads((await ws.receive()).data)
                assert first["type"] == "state"
                t0, n = time.monotonic(), 0
                while time.monotonic() - t0 < 1.0:
                    m = json.loads((await ws.receive()).data)
                    n += m["type"] == "meters"
                assert n >= 20, f"{n} meter messages in 1 s"
                await ws.send_str(json.dumps({"type": "control", "name": "fx.zoom", "value": 0.125}))
                for _ in range(100):
                    if surface.store.state["fx.zoom"] == 0.125:
                        break
                    await asyncio.sleep(0.01)
                assert surface.store.state["fx.zoom"] == 0.125
                # a flood: 2000 messages at once; the show sees at most the allowed rate
                v0 = surface.store.version
                for i in range(2000):
                    await ws.send_str(json.dumps({"type": "control", "name": "fx.zoom", "value": (i % 100) / 100}))
                await ws.send_str("not json")
                await ws.send_str(json.dumps({"type": "control", "name": "fx.zoom", "value": [1]}))
                await asyncio.sleep(0.5)
                applied = surface.store.version - v0
                assert surface.stats.flood_dropped >= 1500 and applied <= 400
                assert not ws.closed
            # cross-site WebSocket refused
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await http.ws_connect(surface.url + "api/ws", headers={"Origin": "http://evil.example"})

    asyncio.run(go())
    assert surface.stats.forbidden == 1


def test_cross_site_and_rebinding_requests_are_refused(surface):
    st, r = call(surface.url + "api/control", {"name": "fade", "value": 0}, headers={"Origin": "http://evil.example"})
    assert st == 403 and surface.store.state["fade"] == 1.0
    st, r = call(surface.url + "api/state", headers={"Host": "evil.example:8765"})
    assert st == 403
    host = surface.url.split("/")[2]
    st, r = call(surface.url + "api/control", {"name": "fade", "value": 0}, headers={"Origin": f"http://{host}"})
    assert st == 200 and surface.store.state["fade"] == 0.0
    assert surface.stats.forbidden == 2


REMOTE_SCRIPT = textwrap.dedent('''
    import json, sys, urllib.request, urllib.error
    from live.control.state import ControlStore
    from live.surface import Surface, SurfaceSources
    store = ControlStore()
    s = Surface(SurfaceSources(store=store), host="0.0.0.0", port=0).start()
    base = f"http://10.77.0.1:{s.port}/"
    def call(path, body=None, headers={}):
        req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.headers.get("Set-Cookie", "")
        except urllib.error.HTTPError as e:
            return e.code, ""
    out = {"no_token": call("api/control", {"name": "fade", "value": 0}),
           "wrong_token": call("api/state", headers={"Authorization": "Bearer nope"}),
           "page_no_token": call(""),
           "fade_after_refused": store.state["fade"],
           "bearer": call("api/control", {"name": "fade", "value": 0.5}, {"Authorization": "Bearer " + s.token}),
           "query": call("?token=" + s.token),
           "fade": store.state["fade"], "refused": s.stats.refused, "remote": s.remote,
           "token_url_has_token": s.token in s.token_url}
    s.close()
    print(json.dumps(out))
''')


def test_remote_requests_need_the_token():
    """A client on another address (10.77.0.1 on lo, in a private network namespace)."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("unshare / ip not available")
    cmd = f"ip link set lo up && ip addr add 10.77.0.1/32 dev lo && {sys.executable} -c \"$SCRIPT\""
    p = subprocess.run(["unshare", "-n", "sh", "-c", cmd], capture_output=True, text=True, timeout=60,
                       cwd=ROOT, env={**os.environ, "SCRIPT": REMOTE_SCRIPT})
    if p.returncode != 0 and ("Operation not permitted" in p.stderr or "unshare failed" in p.stderr):
        pytest.skip(f"no private network namespace here: {p.stderr.strip()[:200]}")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["no_token"][0] == 401 and out["wrong_token"][0] == 401 and out["page_no_token"][0] == 401
    assert out["fade_after_refused"] == 1.0
    assert out["bearer"][0] == 200 and out["fade"] == 0.5
    assert out["query"][0] == 200 and "ll_token=" in out["query"][1] and "HttpOnly" in out["query"][1]
    assert out["refused"] == 3 and out["remote"] and out["token_url_has_token"]


def test_midi_learn_from_the_page(tmp_path):
    import mido
    from live.control.midi import MidiController, MidiMapping, MidiSettings
    store = ControlStore()
    show = tmp_path / "show.toml"
    show.write_text("[midi]\ninput = \"\"\n")
    sf = ShowFile(show)
    midi = MidiController(store, MidiSettings(mappings=(MidiMapping("fade", "cc", 7, 1),)),
                          on_change=lambda: sf.save(midi_maps=midi.mappings)).start()
    s = Surface(SurfaceSources(store=store, midi=midi), port=0).start()
    try:
        assert call(s.url + "api/midi/learn", {"control": "nope"})[0] == 400
        st, r = call(s.url + "api/midi/learn", {"control": "fx.hue"})
        assert st == 200 and r["armed"] == "fx.hue"
        midi.feed(mido.Message("control_change", channel=0, control=7, value=127))   # the fader moved
        for _ in range(100):
            if midi.armed is None and midi.last_learn is not None:
                break
            time.sleep(0.01)
        st, state = call(s.url + "api/state")
        learned = state["midi"]["last_learn"]
        assert learned["control"] == "fx.hue" and "fade" in learned["conflicts"][0]
        assert tomllib.loads(show.read_text())["midi"]["map"] == [
            {"control": "fx.hue", "type": "cc", "number": 7, "channel": 1}]
        assert call(s.url + "api/midi/unmap", {"control": "fx.hue"})[1]["removed"] == 1
    finally:
        s.close()
        midi.close()
    s = Surface(SurfaceSources(store=store), port=0).start()
    try:
        st, r = call(s.url + "api/midi/learn", {"control": "fx.hue"})
        assert st == 409 and "no MIDI controller" in r["error"]
    finally:
        s.close()


def test_bench_control_matches_each_toggle_to_the_first_frame_showing_it():
    from live.bench.control import _latencies
    sent = [(10.0, 1), (10.3, 0), (10.6, 1), (10.9, 0)]
    flips = [(9.0, False), (10.025, True), (10.33, False), (10.31, True),   # out of order: ignored
             (11.2, True)]                                                   # after the next send: missed
    assert _latencies(sent, flips) == pytest.approx([25.0, 30.0])


def test_every_control_is_in_exactly_one_group():
    from live.control.params import group_of
    grouped = [n for _, names in GROUPS for n in names]
    assert sorted(grouped) == sorted(p.name for p in PARAMS) and len(grouped) == len(set(grouped))
    assert group_of("fx.hue") == "effects" and group_of("fade") == "master"
