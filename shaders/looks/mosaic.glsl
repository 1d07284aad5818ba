#version 330
// Look "mosaic": pixelate: tiles grow on the kick and shrink with the treble, each with a bevel.
// Final pass (output resolution). Shared code: look_uniforms / look_vertex / look_fragment.
#include "look_uniforms.glsl"
uniform float u_look_tile;      // tile size (0 = fine ... 1 = coarse)
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    float px = u_resolution.y / 1080.0;                               // tiles scale with the output
    float tile = px * (10.0 + 40.0 * u_look_tile) * (1.0 + 0.6 * v_kick) / (1.0 + 0.6 * clamp(u_treble, 0.0, 1.0));
    tile = max(floor(tile), 3.0);
    vec2 cell = floor(v_uv * u_resolution / tile);
    vec2 f = fract(v_uv * u_resolution / tile);
    vec2 centre = (cell + 0.5) * tile / u_resolution;
    vec3 c = look_grade(texture(u_source, centre).rgb);
    // bevel: lit top-left edge, shaded bottom-right, a dark 1-pixel grout
    float e = 1.0 / tile;
    float bevel = 0.12 * (step(f.y, 2.0 * e) + step(1.0 - 2.0 * e, f.x)) - 0.12 * (step(f.x, 2.0 * e) + step(1.0 - 2.0 * e, f.y));
    float grout = step(e, f.x) * step(e, f.y);
    c = c * (1.0 + bevel) * (0.55 + 0.45 * grout);
    f_color = vec4(look_finish_plain(c, v_uv), 1.0);
}
