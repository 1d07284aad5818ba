#version 330
// Pass 1, "source": the generator picture, cross-faded from the previous generator frame
// (u_gen_a) to the newest one (u_gen_b) by u_gen_mix, upscaled with a sharp bicubic
// (Catmull-Rom, 5 bilinear taps) when magnifying more than 2.2x, and fitted to cover the screen (centre crop).

uniform sampler2D u_gen_a;      // previous generator frame
uniform sampler2D u_gen_b;      // newest generator frame
uniform float u_gen_mix;        // 0 = u_gen_a, 1 = u_gen_b
uniform vec2 u_gen_size;        // generator frame size in pixels
uniform vec2 u_resolution;      // this pass's target size in pixels
uniform float u_time;
uniform float u_bass_att;
uniform float u_intensity;
uniform float u_fx_zoom;

//--- fragment
#include "lib/picture.glsl"

in vec2 v_uv;
out vec4 f_color;

void main() {
    vec2 uv = cover_uv(v_uv, u_resolution, u_gen_size, bass_push(u_fx_zoom, u_intensity, u_bass_att));
    vec3 a, b;
    if (wants_bicubic(u_resolution, u_gen_size)) {
        // strong magnification: sharp bicubic (10 taps)
        a = bicubic(u_gen_a, uv, u_gen_size);
        b = bicubic(u_gen_b, uv, u_gen_size);
    } else {
        // up to ~2x (e.g. half-resolution effect passes on a software rasteriser): bilinear
        a = texture(u_gen_a, uv).rgb;
        b = texture(u_gen_b, uv).rgb;
    }
    f_color = vec4(mix(a, b, smoothstep(0.0, 1.0, u_gen_mix)), 1.0);
}
