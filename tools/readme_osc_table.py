"""Rewrite README.md's OSC address table from the parameter table (tests/test_readme.py keeps
them equal): PYTHONPATH=. python tools/readme_osc_table.py"""
from pathlib import Path

from live.control import markdown_table

readme = Path(__file__).resolve().parents[1] / "README.md"
lines = readme.read_text().split("\n")
start = next(i for i, line in enumerate(lines) if line.startswith("| OSC address |"))
end = start
while end < len(lines) and lines[end].startswith("|"):
    end += 1
lines[start:end] = markdown_table().split("\n")
readme.write_text("\n".join(lines))
