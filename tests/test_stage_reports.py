"""Issue 14 item 10: honest reports. (The real duration and exit code 130 after Ctrl+C are in
test_stage_recording.py; analyze's sample rate and --json on a full disk in test_stage_heavy.py.)"""
from __future__ import annotations

import numpy as np
import pytest

from live.cli import main


@pytest.mark.parametrize("command", [
    ["run", "--headless", "--duration", "1", "--osc-port", "0", "--audio"],
    ["render", "-o", "out.mp4"],
    ["analyze"],
])
def test_a_folder_given_as_audio_is_not_a_file_rather_than_not_found(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "music"
    folder.mkdir()
    args = [*command, str(folder)] if command[0] != "render" else ["render", str(folder), *command[1:]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "is a folder, not an audio file" in err and "not found" not in err, err


def test_a_bank_for_another_backend_names_its_folder_and_model_and_counts(tmp_path):
    from live import assemble
    from live.gen import get_generator
    from live.gen.bank import LatentBank, load_bank, save_bank
    from live.telemetry import Telemetry

    folder = save_bank(LatentBank(name="sd-bank", backend="vae", model_id="stabilityai/sd-vae", model_hash="abc123",
                                  latents=np.zeros((2, 4, 8, 8), np.float32)), tmp_path / "sd-bank")
    gen = get_generator("embedded", size=32)
    gen.load()
    try:
        tel = Telemetry()
        fitting = assemble.fit_banks(gen, {"sd-bank": load_bank(folder)}, tel, default_for_embedded=False)
        assert fitting == {} and tel.bank_errors == 1
        (note,) = [m for _, m in tel.messages]
        assert str(folder) in note and "vae / model stabilityai/sd-vae sha abc123" in note, note
        assert "latent-live bank build --backend embedded" in note
    finally:
        gen.close()
