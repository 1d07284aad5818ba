#version 330
// Default pass 1 of 2, "trails": source.glsl + feedback.glsl fused into one ping-pong pass
// (same look, one framebuffer round trip less). The generator picture, cross-faded from
// u_gen_a to u_gen_b and cover-fitted, with the last output of this pass (u_prev) zoomed
// with the bass, rotated with the mids, drifted towards the dominant pitch class and
// blended over it. Everything that depends only on uniforms is computed per vertex (3
// times a frame, not once per pixel): on a software rasteriser that is most of the cost.
// Runs at the internal resolution on software GL; finish.glsl upscales. Output alpha = edge
// strength (see the end of main).

uniform sampler2D u_gen_a;      // previous generator frame
uniform sampler2D u_gen_b;      // newest generator frame
uniform sampler2D u_prev;       // this pass's own output of the last frame
uniform float u_prev_valid;     // 0 on the first frame (empty history), else 1
uniform float u_gen_mix;        // 0 = u_gen_a, 1 = u_gen_b
uniform vec2 u_gen_size;        // generator frame size in pixels
uniform vec2 u_resolution;      // this pass's target size in pixels
uniform float u_dt;             // seconds since the last drawn frame
uniform float u_bass;
uniform float u_bass_att;
uniform float u_mid;
uniform float u_mid_att;
uniform float u_rms;
uniform float u_beat_count;
uniform vec2 u_chroma_vec;      // chroma-weighted direction of the pitch-class circle
uniform float u_intensity;
uniform float u_fx_zoom;
uniform float u_fx_rotate;
uniform float u_fx_drift;
uniform float u_fx_feedback;

#include "lib/picture.glsl"
#include "lib/feedback.glsl"

//--- vertex
#include "lib/fullscreen.glsl"

out vec2 v_uv;
out vec2 v_gen_uv;              // generator texture coordinate (cover fit, bass push-in, row flip)
out vec2 v_prev_uv;             // where this pixel was last frame (zoom, rotation, drift)
flat out float v_mix;
flat out float v_keep;
flat out int v_bicubic;

void main() {
    v_uv = fullscreen_triangle();
    float k = u_intensity;
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);

    // source: cover-fit, gentle bass push-in (source.glsl)
    v_gen_uv = cover_uv(v_uv, u_resolution, u_gen_size, bass_push(u_fx_zoom, k, u_bass_att));
    v_mix = smoothstep(0.0, 1.0, u_gen_mix);
    v_bicubic = wants_bicubic(u_resolution, u_gen_size) ? 1 : 0;

    // feedback transform (feedback.glsl; an affine map of v_uv, so it interpolates exactly)
    float dt = clamp(u_dt, 0.0, 0.1);
    v_prev_uv = feedback_uv(v_uv, aspect,
                            feedback_zoom(dt, k, u_fx_zoom, u_bass, u_bass_att),
                            feedback_angle(dt, k, u_fx_rotate, u_mid, u_mid_att, u_beat_count),
                            feedback_drift(dt, k, u_fx_drift, u_rms, u_chroma_vec));
    v_keep = feedback_keep(dt, k, u_fx_feedback) * clamp(u_prev_valid, 0.0, 1.0);
}

//--- fragment
in vec2 v_uv;
in vec2 v_gen_uv;
in vec2 v_prev_uv;
flat in float v_mix;
flat in float v_keep;
flat in int v_bicubic;
out vec4 f_color;

void main() {
    vec3 src;
    if (v_bicubic == 1) {        // strong magnification (full-resolution passes on a GPU)
        src = mix(bicubic(u_gen_a, v_gen_uv, u_gen_size), bicubic(u_gen_b, v_gen_uv, u_gen_size), v_mix);
    } else {                     // up to ~2x (internal resolution on software GL): bilinear
        src = mix(texture(u_gen_a, v_gen_uv).rgb, texture(u_gen_b, v_gen_uv).rgb, v_mix);
    }
    vec3 prev = texture(u_prev, v_prev_uv).rgb;
    float keep = v_keep * feedback_inside(v_prev_uv);   // outside the old frame: no history
    vec3 c = mix(src, prev * 0.995, keep);
    // alpha: edge strength for finish.glsl's edge emphasis, taken here at the internal
    // resolution where the picture is smooth (derivatives of the upscaled picture would show
    // the texel grid), per 1/360 of the height, stored as a square root for 8-bit precision
    vec3 fw = fwidth(c);
    float edge = max(fw.r, max(fw.g, fw.b)) * (u_resolution.y / 360.0);
    f_color = vec4(c, sqrt(clamp(edge, 0.0, 1.0)));
}
