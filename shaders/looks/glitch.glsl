#version 330
// Look "glitch": RGB split with the bass, torn blocks on every onset.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_split;     // colour channel separation
uniform float u_look_tear;      // block tearing on onsets
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    vec2 uv = v_uv;
    float hit = exp(-u_since_onset * 7.0) * u_onset;
    // torn bands: rows in blocks, some shifted sideways for a moment after an onset
    float band = floor(uv.y * 18.0);
    float h = hash12(vec2(band, u_onset_count));
    float tear = step(0.62, h) * hit * u_look_tear;
    uv.x += (hash12(vec2(band + 7.0, u_onset_count)) - 0.5) * 0.25 * tear;
    float blockh = hash12(floor(uv * vec2(12.0, 9.0)) + u_onset_count);
    uv += step(0.93, blockh) * hit * u_look_tear * vec2(0.04, 0.0);
    float off = u_look_split * (0.003 + 0.012 * clamp(u_bass_att - 0.7, 0.0, 1.5) + 0.02 * hit);
    vec3 c = crisp(uv);
    c.r = texture(u_source, uv + vec2(off, 0.0)).r;
    c.b = texture(u_source, uv - vec2(off, 0.0)).b;
    c = look_grade(c);
    // a thin bright scan line crawling down, on the beat
    float line = smoothstep(0.004, 0.0, abs(fract(v_uv.y + u_bar_phase) - 0.5));
    c += line * 0.3 * v_kick;
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
