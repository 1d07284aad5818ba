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
in vec2 v_uv;
out vec4 f_color;

// rotate the hue around the grey axis (Rodrigues rotation in RGB)
vec3 hue_rotate(vec3 c, float a) {
    const vec3 k = vec3(0.57735);
    float ca = cos(a);
    return c * ca + cross(k, c) * sin(a) + k * dot(k, c) * (1.0 - ca);
}

void main() {
    vec3 c = texture(u_source, v_uv).rgb;
    float k = u_intensity;
    // hue: a slow walk plus the brightness of the sound (centroid) plus the key (chroma)
    float chroma_angle = (dot(u_chroma_vec, u_chroma_vec) > 1e-6) ? atan(u_chroma_vec.y, u_chroma_vec.x) : 0.0;
    float hue = u_fx_hue * k * (0.15 * u_time + 2.4 * (u_centroid_norm - 0.4) + 0.35 * chroma_angle);
    c = hue_rotate(c, hue);
    // saturation: 0.5 keeps the picture, higher pushes, the mids push further
    float luma = dot(c, vec3(0.2126, 0.7152, 0.0722));
    float sat = 1.0 + k * ((u_fx_saturation - 0.5) * 1.6 + u_fx_saturation * 0.6 * clamp(u_mid + 0.5 * (u_mid_att - 1.0), 0.0, 1.2));
    c = mix(vec3(luma), c, max(sat, 0.0));
    // contrast: S-curve around mid grey
    float con = k * u_fx_contrast * (0.35 + 0.35 * clamp(u_bass_att - 0.7, 0.0, 1.5));
    c = clamp(c, 0.0, 1.0);
    vec3 s = c * c * (3.0 - 2.0 * c);
    c = mix(c, s, clamp(con, 0.0, 1.0));
    f_color = vec4(c, 1.0);
}
