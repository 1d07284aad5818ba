#version 330
// The final pass of the feedback looks (slitscan, spiral) (output resolution): the feedback picture upscaled edge-aware, graded,
// flashed and tone-mapped like every look.
#include "look_uniforms.glsl"
//--- vertex
#include "look_vertex.glsl"
void main() { look_vertex(); }
//--- fragment
#include "look_fragment.glsl"
void main() {
    vec3 c = look_grade(crisp(v_uv));
    f_color = vec4(look_finish(c, v_uv), 1.0);
}
