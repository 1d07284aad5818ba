#version 330
// Look "tunnel": an endless tunnel of the picture; the bass pushes you in, onsets ring the walls.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_speed;     // travel speed
uniform float u_look_twist;     // how far the walls twist with the mids
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float r = max(length(p), 1e-3);
    float a = atan(p.y, p.x);
    float depth = 0.28 / r + u_time * (0.15 + 0.9 * u_look_speed) + 0.12 * v_kick;
    float ang = a / 3.14159265 + u_look_twist * (0.6 * u_mid + 0.1 * sin(u_time * 0.3)) / (r + 0.3);
    vec2 t = vec2(ang, depth * 0.5);
    t = abs(fract(t * 0.5) * 2.0 - 1.0);            // mirrored repeat: no seams
    vec3 c = crisp(t);
    c = look_grade(c);
    // rings travelling down the tunnel, brighter on the beat
    float ring = smoothstep(0.88, 1.0, abs(fract(depth * 2.0) * 2.0 - 1.0));
    c += ring * (0.08 + 0.25 * v_kick) * c;
    c *= smoothstep(0.0, 0.22, r);                   // depth fog at the vanishing point
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
