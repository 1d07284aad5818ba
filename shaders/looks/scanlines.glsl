#version 330
// Look "scanlines": a CRT: curved glass, scan lines and a phosphor mask at the output resolution, a rolling bar on the beat.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_curve;     // barrel curvature of the glass
uniform float u_look_lines;     // scan line depth
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    vec2 d = v_uv - 0.5;
    vec2 uv = v_uv + d * dot(d, d) * (0.25 * u_look_curve) * (1.0 + 0.3 * v_kick);
    float inside = step(0.0, uv.x) * step(uv.x, 1.0) * step(0.0, uv.y) * step(uv.y, 1.0);
    vec3 c = look_grade(crisp(uv)) * inside;
    float px = max(u_resolution.y / 1080.0, 0.34);
    float y = uv.y * u_resolution.y / (3.0 * px);
    float line = 1.0 - u_look_lines * 0.6 * (0.5 - 0.5 * cos(6.2831853 * y));
    float x = floor(v_uv.x * u_resolution.x / max(px, 1.0));
    vec3 mask = vec3(0.75);
    int m = int(mod(x, 3.0));
    if (m == 0) mask.r = 1.25; else if (m == 1) mask.g = 1.25; else mask.b = 1.25;
    c = c * line * mask * 1.3;
    float bar = smoothstep(0.1, 0.0, abs(fract(uv.y - u_beat_phase) - 0.5) - 0.35);
    c *= 1.0 + 0.15 * bar;
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
