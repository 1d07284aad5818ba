"""The README stays true: its OSC table comes from the parameter table, its commands exist."""
import re
from pathlib import Path

from live.cli import build_parser
from live.control import markdown_table

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_osc_table_is_generated_from_the_parameter_table():
    assert markdown_table().strip() in README


def test_setup_commands_match_ci():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pytest -q" in README
    assert ci.strip().splitlines()[-1] == ".venv/bin/python -m pytest -q"
    assert "bash tools/setup.sh && .venv/bin/latent-live run --audio demo/demo_beat.wav" in README


def test_every_documented_subcommand_exists():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in set(re.findall(r"`latent-live (\w+)", README)):
        assert name in sub.choices, f"README mentions 'latent-live {name}' which does not exist"
