#version 330
// Pass 2, "feedback": MilkDrop/Deforum-style feedback. The previous output of this pass
// (u_prev) is zoomed with the bass, rotated with the mids and drifted towards the dominant
// pitch class, then blended over the fresh picture (u_source); the trails decay over time.

uniform sampler2D u_source;     // output of the previous pass (the generator picture)
uniform sampler2D u_prev;       // this pass's own output of the last frame
uniform vec2 u_resolution;
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

//--- fragment
#include "lib/feedback.glsl"

in vec2 v_uv;
out vec4 f_color;

void main() {
    float dt = clamp(u_dt, 0.0, 0.1);
    float k = u_intensity;
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 uv = feedback_uv(v_uv, aspect,
                          feedback_zoom(dt, k, u_fx_zoom, u_bass, u_bass_att),          // bass: zoom
                          feedback_angle(dt, k, u_fx_rotate, u_mid, u_mid_att, u_beat_count),  // mids: rotation
                          feedback_drift(dt, k, u_fx_drift, u_rms, u_chroma_vec));   // chroma: drift
    vec3 src = texture(u_source, v_uv).rgb;
    vec3 prev = mix(src, texture(u_prev, uv).rgb, feedback_inside(uv));   // no history outside
    f_color = vec4(mix(src, prev * 0.995, feedback_keep(dt, k, u_fx_feedback)), 1.0);
}
