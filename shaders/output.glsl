#version 330
// Pass 5, "output": optional kaleidoscope, a soft vignette, master fade and blackout.

uniform sampler2D u_source;
uniform vec2 u_resolution;
uniform float u_time;
uniform float u_bar_phase;
uniform float u_fx_kaleido;     // 0 = off; more = more mirror segments
uniform float u_fade;           // master level 0..1
uniform float u_blackout;       // 1 = black

//--- fragment
#include "lib/grade.glsl"

in vec2 v_uv;
out vec4 f_color;

void main() {
    vec2 uv = v_uv;
    float seg = kaleido_segment(u_fx_kaleido);
    if (seg > 0.0) uv = kaleido_uv(uv, u_resolution.x / max(u_resolution.y, 1.0), seg, 0.2 * u_time, u_fx_kaleido);
    vec3 c = texture(u_source, uv).rgb;
    f_color = vec4(c * vignette(v_uv) * master_level(u_fade, u_blackout), 1.0);   // vignette, fade, blackout
}
