"""Every bundled shader compiles, declares the uniforms its effect needs, and every
uniform any shader declares is documented in shaders/README.md."""
import re
from pathlib import Path

import pytest

from gl_fixtures import gl_ctx  # noqa: F401 - fixture
from live.render.shaderlib import BUNDLED_DIR, ShaderError, compile_program, load_source, split_source

SHADERS = sorted(p.stem for p in BUNDLED_DIR.glob("*.glsl"))
EXPECTED = {
    "source": {"u_gen_a", "u_gen_b", "u_gen_mix", "u_gen_size", "u_resolution"},
    "feedback": {"u_source", "u_prev", "u_bass", "u_mid", "u_chroma_vec", "u_dt", "u_fx_zoom", "u_fx_rotate",
                 "u_fx_drift", "u_fx_feedback", "u_intensity"},
    "color": {"u_source", "u_centroid_norm", "u_mid", "u_fx_hue", "u_fx_saturation", "u_fx_contrast"},
    "flash": {"u_source", "u_onset", "u_since_onset", "u_treble", "u_fx_flash", "u_fx_sparkle"},
    "output": {"u_source", "u_fx_kaleido", "u_fade", "u_blackout"},
    # the default chain: the five above fused into two passes
    "trails": {"u_gen_a", "u_gen_b", "u_gen_mix", "u_gen_size", "u_prev", "u_prev_valid", "u_bass", "u_mid",
               "u_chroma_vec", "u_dt", "u_fx_zoom", "u_fx_rotate", "u_fx_drift", "u_fx_feedback", "u_intensity",
               "u_resolution"},
    "finish": {"u_source", "u_centroid_norm", "u_mid", "u_fx_hue", "u_fx_saturation", "u_fx_contrast", "u_onset",
               "u_since_onset", "u_treble", "u_fx_flash", "u_fx_sparkle", "u_fx_kaleido", "u_fade", "u_blackout"},
}
DECL = re.compile(r"^\s*uniform\s+\w+\s+(u_\w+)", re.MULTILINE)


def test_default_chain_shaders_exist():
    from live.render.renderer import CLASSIC_CHAIN, DEFAULT_CHAIN

    assert set(EXPECTED) <= set(SHADERS)
    assert set(DEFAULT_CHAIN) | set(CLASSIC_CHAIN) <= set(SHADERS)


def test_bundled_folder_follows_the_env_var(monkeypatch, tmp_path):
    from live.render.shaderlib import SHADERS_ENV, bundled_dir, find_shader, search_dirs

    monkeypatch.delenv(SHADERS_ENV, raising=False)
    assert (bundled_dir() / "trails.glsl").is_file()          # the repo's shaders/ in a checkout
    (tmp_path / "trails.glsl").write_text("void main(){}")
    monkeypatch.setenv(SHADERS_ENV, str(tmp_path))
    assert search_dirs(["~/mine"])[-1] == tmp_path
    assert find_shader("trails", search_dirs()) == tmp_path / "trails.glsl"
    with pytest.raises(ShaderError, match=SHADERS_ENV):
        find_shader("finish", search_dirs())


@pytest.mark.parametrize("name", SHADERS)
def test_shader_compiles_and_declares_its_uniforms(gl_ctx, name):
    src = load_source(name, [BUNDLED_DIR])
    prog = compile_program(gl_ctx, src)
    declared = set(DECL.findall(src.path.read_text()))
    assert EXPECTED.get(name, set()) <= declared
    # the uniforms the effect depends on survive compilation (they are really used)
    active = set(prog)
    for needed in EXPECTED.get(name, set()) - {"u_gen_size", "u_resolution", "u_dt", "u_intensity"}:
        assert needed in active, f"{name}.glsl declares {needed} but never uses it"
    prog.release()


def test_every_declared_uniform_is_documented():
    doc = (BUNDLED_DIR / "README.md").read_text()
    for name in SHADERS:
        for u in DECL.findall((BUNDLED_DIR / f"{name}.glsl").read_text()):
            assert f"`{u}" in doc, f"{u} (used in {name}.glsl) is missing from shaders/README.md"


def test_split_markers_default_vertex_and_vertex_shader_define():
    v, f = split_source("#version 330\nuniform float u_time;\n//--- fragment\nout vec4 c; void main(){c=vec4(u_time);}")
    assert v.startswith("#version 330") and "gl_VertexID" in v and "uniform float u_time" in v
    assert "void main(){c=vec4(u_time);}" in f and "gl_VertexID" not in f
    v, f = split_source("out vec4 c; void main(){c=vec4(1);}")          # no markers: fragment only
    assert "#version 330" in f and "gl_VertexID" in v
    v, f = split_source("#version 330\n#if defined VERTEX_SHADER\nvoid main(){}\n#elif defined FRAGMENT_SHADER\nvoid main(){}\n#endif\n")
    assert "#define VERTEX_SHADER" in v and "#define FRAGMENT_SHADER" in f
    with pytest.raises(ShaderError, match="fragment"):
        split_source("//--- vertex\nvoid main(){}")


def test_compile_error_is_one_readable_message(gl_ctx, tmp_path):
    (tmp_path / "bad.glsl").write_text("#version 330\n//--- fragment\nout vec4 c; void main(){ c = vec4(oops); }\n")
    with pytest.raises(ShaderError) as info:
        compile_program(gl_ctx, load_source("bad", [tmp_path]))
    assert "bad.glsl" in str(info.value) and "oops" in str(info.value)
    assert "\n" not in str(info.value)
