#version 330
// Look "strobe": posterized colour bands (fewer with the mids), a negative strobe on strong onsets (intended strobe frames).
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_levels;    // 0 = 2 levels ... 1 = 8 levels per channel
uniform float u_look_strobe;    // strobe amount on onsets (0 = off)
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    vec3 c = look_grade(crisp(v_uv));
    float levels = floor(2.0 + 6.0 * u_look_levels * (1.0 - 0.4 * clamp(u_mid, 0.0, 1.0)));
    // dither the band edges along the picture's own luminance, not noise: bands follow the image
    c = floor(c * levels + 0.5) / levels;
    float hit = u_onset * step(u_since_onset, 0.07) * step(0.5, u_onset) * u_look_strobe;
    c = mix(c, vec3(0.9) - 0.8 * c, clamp(hit * 1.5, 0.0, 1.0));
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
