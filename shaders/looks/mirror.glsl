#version 330
// Look "mirror": four-way mirror; the bass bends it in waves.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_wave;      // bass wave displacement
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    vec2 uv = v_uv;
    float w = u_look_wave * (0.01 + 0.03 * v_kick + 0.02 * clamp(u_bass, 0.0, 1.0));
    uv.x += w * sin(uv.y * 18.0 + u_time * 2.3);
    uv.y += w * sin(uv.x * 14.0 - u_time * 1.7);
    vec2 q = abs(uv - 0.5) * 2.0;                    // 0 at the centre, 1 at the edges
    q = 1.0 - q * 0.9;                               // the middle of the picture in the corners
    q = abs(fract(q * 0.5) * 2.0 - 1.0);
    vec3 c = look_grade(crisp(q));
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
