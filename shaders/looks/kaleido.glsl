#version 330
// Look "kaleido": a kaleidoscope: mirror segments turn with the mids, zoom with the bass.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_segments;  // 0 = 3 segments ... 1 = 12
uniform float u_look_spin;      // turning speed
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float r = length(p) * (1.0 - 0.18 * v_kick);
    float seg = 6.2831853 / floor(3.0 + 9.0 * u_look_segments);
    float a = atan(p.y, p.x) + u_time * 0.2 * u_look_spin + 0.35 * u_mid;
    a = mod(a, seg);
    a = min(a, seg - a);
    vec2 q = vec2(cos(a), sin(a)) * r;
    q = q / vec2(aspect, 1.0) * 1.3 + 0.5;
    q = abs(fract(q * 0.5) * 2.0 - 1.0);
    vec3 c = look_grade(crisp(q));
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
