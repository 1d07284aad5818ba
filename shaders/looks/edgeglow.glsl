#version 330
// Look "edgeglow": neon outlines of the picture over its dimmed self; the treble lights the edges, the centroid colours them.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_glow;      // edge brightness
uniform float u_look_dim;       // how dark the picture under the lines is (1 = black)
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    vec2 tx = 1.0 / vec2(textureSize(u_source, 0));
    float tl = luma(texture(u_source, v_uv + vec2(-tx.x, tx.y)).rgb);
    float tr = luma(texture(u_source, v_uv + vec2(tx.x, tx.y)).rgb);
    float bl = luma(texture(u_source, v_uv + vec2(-tx.x, -tx.y)).rgb);
    float br = luma(texture(u_source, v_uv + vec2(tx.x, -tx.y)).rgb);
    vec3 base = crisp(v_uv);
    float gx = (tr + br) - (tl + bl);
    float gy = (tl + tr) - (bl + br);
    float edge = smoothstep(0.03, 0.18, length(vec2(gx, gy)));
    float hue = 6.2831853 * (u_centroid_norm + 0.1 * u_time);
    vec3 neon = 0.5 + 0.5 * cos(hue + vec3(0.0, 2.094, 4.188));
    vec3 c = look_grade(base) * (1.0 - 0.85 * u_look_dim);
    float tre = clamp(u_treble + 0.5 * max(u_treble_att - 1.0, 0.0), 0.0, 1.5);
    c += edge * neon * u_look_glow * (0.6 + 0.5 * tre + 0.5 * v_kick);
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
