#version 330
// Pass 3, "color": hue rotation from the spectral centroid and the chroma, saturation
// with the mids, contrast (an S-curve that tightens with the bass).

uniform sampler2D u_source;
uniform float u_time;
uniform float u_mid;
uniform float u_mid_att;
uniform float u_bass_att;
uniform float u_centroid_norm;  // spectral centroid, 0..1 on a log scale 100 Hz..10 kHz, smoothed
uniform vec2 u_chroma_vec;
uniform float u_intensity;
uniform float u_fx_hue;
uniform float u_fx_saturation;
uniform float u_fx_contrast;

//--- fragment
#include "lib/grade.glsl"

// rotate the hue around the grey axis (Rodrigues rotation in RGB)
vec3 hue_rotate(vec3 c, float a) {
    const vec3 k = vec3(0.57735);
    float ca = cos(a);
    return c * ca + cross(k, c) * sin(a) + k * dot(k, c) * (1.0 - ca);
}

in vec2 v_uv;
out vec4 f_color;

void main() {
    vec3 c = texture(u_source, v_uv).rgb;
    float k = u_intensity;
    c = hue_rotate(c, hue_angle(k, u_fx_hue, u_time, u_centroid_norm, u_chroma_vec));
    float luma = dot(c, vec3(0.2126, 0.7152, 0.0722));
    c = clamp(mix(vec3(luma), c, saturation_factor(k, u_fx_saturation, u_mid, u_mid_att)), 0.0, 1.0);
    c = mix(c, s_curve(c), contrast_amount(k, u_fx_contrast, u_bass_att));
    f_color = vec4(c, 1.0);
}
