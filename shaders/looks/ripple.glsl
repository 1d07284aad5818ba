#version 330
// Look "ripple": water: rings run out from the centre on the bass, light catches their crests.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_depth;     // ripple height
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float r = length(p);
    float amp = u_look_depth * (0.004 + 0.012 * v_kick + 0.006 * clamp(u_bass, 0.0, 1.0));
    float phase = r * 46.0 - u_time * 5.0;
    float h = sin(phase);
    vec2 dir = p / max(r, 1e-3);
    vec2 uv = v_uv + dir / vec2(aspect, 1.0) * amp * h;
    vec3 c = look_grade(crisp(uv));
    float crest = pow(max(cos(phase), 0.0), 6.0) * amp * 30.0;
    c += crest * (0.3 + 0.7 * c);
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
