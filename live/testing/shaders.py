"""Shader passes that misbehave on purpose, for the fault tests and the soak's attack mode."""

# On Mesa llvmpipe a loop is cut after 65535 iterations per pixel, so `while (true)` ends after
# seconds to minutes per frame; on a GPU it never ends. Either way the shader probe refuses it.
ENDLESS_PASS = """#version 330
uniform sampler2D u_source;
uniform float u_time;
//--- fragment
in vec2 v_uv; out vec4 f_color;
void main() {
    float x = u_time + 1.0;
    while (true) { x += 1.0; if (x < 0.0) break; }
    f_color = vec4(texture(u_source, v_uv).rgb, x);
}
"""
