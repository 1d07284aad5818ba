"""#include in shader files: the fused and single-effect passes share shaders/lib/ code."""
from __future__ import annotations

import pytest

from live.render.shaderlib import BUNDLED_DIR, ShaderError, load_source


def test_an_include_is_pasted_once_and_found_beside_or_in_the_folders(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.glsl").write_text("float twice(float x) { return 2.0 * x; }\n")
    (lib / "b.glsl").write_text('#include "a.glsl"\nfloat four(float x) { return twice(twice(x)); }\n')
    (tmp_path / "p.glsl").write_text('#include "lib/a.glsl"\n#include "lib/b.glsl"\n'
                                     "//--- fragment\nin vec2 v_uv; out vec4 f_color;\n"
                                     "void main() { f_color = vec4(four(v_uv.x)); }\n")
    src = load_source("p", [tmp_path])
    assert src.fragment.count("float twice(") == 1 and src.fragment.count("float four(") == 1
    (tmp_path / "q.glsl").write_text('#include "lib/missing.glsl"\nvoid main() {}\n')
    with pytest.raises(ShaderError, match="missing.glsl"):
        load_source("q", [tmp_path])


def test_the_bundled_passes_share_their_library_code():
    for name, lib in (("source", "picture"), ("trails", "picture"), ("feedback", "feedback"),
                      ("trails", "feedback"), ("color", "grade"), ("flash", "grade"), ("output", "grade"),
                      ("finish", "grade")):
        text = (BUNDLED_DIR / f"{name}.glsl").read_text()
        assert f'#include "lib/{lib}.glsl"' in text, (name, lib)
    # the code is in the library only, not copied into the passes
    for name in ("source", "trails"):
        assert "vec3 bicubic(" not in (BUNDLED_DIR / f"{name}.glsl").read_text()
        assert "vec3 bicubic(" in load_source(name, [BUNDLED_DIR]).fragment


def test_a_user_pass_finds_the_bundled_library(tmp_path):
    (tmp_path / "mine.glsl").write_text('//--- fragment\n#include "lib/grade.glsl"\n'
                                        "uniform sampler2D u_source; in vec2 v_uv; out vec4 f_color;\n"
                                        "void main() { f_color = vec4(s_curve(texture(u_source, v_uv).rgb), 1.0); }\n")
    src = load_source("mine", [tmp_path, BUNDLED_DIR])
    assert "vec3 s_curve(" in src.fragment
