#version 330
// Look "halftone": a print screen of coloured dots; dots swell with the bass, the screen turns with the mids.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_dot;       // dot pitch (0 = fine ... 1 = coarse)
uniform float u_look_paper;     // background: 0 = black, 1 = dark paper tone of the picture
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    float px = u_resolution.y / 1080.0;
    float pitch = px * (7.0 + 16.0 * u_look_dot);
    float ang = 0.4 + 0.25 * u_mid + 0.02 * u_time;
    mat2 rot = mat2(cos(ang), -sin(ang), sin(ang), cos(ang));
    vec2 q = rot * (v_uv * u_resolution) / pitch;
    vec2 cell = floor(q) + 0.5;
    vec2 centre_px = transpose(rot) * (cell * pitch);
    vec3 c = look_grade(crisp(centre_px / u_resolution));
    float l = luma(c);
    float radius = clamp(sqrt(l) * (0.62 + 0.12 * v_kick), 0.0, 0.75);
    float d = length(q - cell);
    float aa = 1.0 / pitch;
    float dotm = smoothstep(radius + aa, radius - aa, d);
    vec3 bg = c * 0.18 * u_look_paper;
    vec3 ink = c / max(l, 0.25) * 0.85;              // saturated ink, brightness in the dot size
    c = mix(bg, min(ink, vec3(1.3)), dotm);
    f_color = vec4(look_finish_plain(c, v_uv), 1.0);
}
