#version 330
// Default pass 2 of 2, "finish": color.glsl + flash.glsl + output.glsl fused into one
// full-resolution pass (same look): one texture read (the bilinear upscale of trails.glsl's
// picture), then hue rotation (centroid + chroma), saturation (mids) and contrast (bass) as
// one 3x3 colour matrix, edge emphasis and sparkles with the treble, a white flash on
// onsets, optional kaleidoscope, soft vignette, master fade and blackout. Everything that
// depends only on uniforms (the colour matrix, the flash level...) is computed per vertex.

uniform sampler2D u_source;     // the trails picture (internal resolution); alpha = edge strength
uniform vec2 u_resolution;      // output size in pixels
uniform float u_time;
uniform float u_mid;
uniform float u_mid_att;
uniform float u_bass_att;
uniform float u_treble;
uniform float u_treble_att;
uniform float u_centroid_norm;  // spectral centroid, 0..1 on a log scale 100 Hz..10 kHz, smoothed
uniform vec2 u_chroma_vec;
uniform float u_onset;          // strength of the latest onset, 0..1 (held until the next)
uniform float u_since_onset;    // seconds since the latest onset (large when none yet)
uniform float u_beat_phase;     // 0..1 within the current beat (0 = on the beat)
uniform float u_bpm;            // 0 when no tempo is known
uniform float u_intensity;
uniform float u_fx_hue;
uniform float u_fx_saturation;
uniform float u_fx_contrast;
uniform float u_fx_flash;
uniform float u_fx_sparkle;
uniform float u_fx_kaleido;     // 0 = off; more = more mirror segments
uniform float u_fx_detail;      // contour lines of the picture at the output resolution
uniform float u_fade;           // master level 0..1
uniform float u_blackout;       // 1 = black
uniform vec4 u_view;            // wall tile: (u0, v0, du, dv) of the canvas drawn here; 0 = the whole picture

#include "lib/grade.glsl"

//--- vertex
#include "lib/fullscreen.glsl"

out vec2 v_uv;
flat out mat3 v_color;          // hue rotation then saturation
flat out float v_contrast;
flat out float v_sparkle;
flat out float v_flash;
flat out float v_level;         // fade x blackout
flat out float v_kaleido_seg;   // 0 = kaleidoscope off
flat out float v_spin;
flat out float v_detail;

void main() {
    v_uv = fullscreen_triangle();
    if (u_view.z > 0.0) v_uv = u_view.xy + v_uv * u_view.zw;   // a tile of a video wall
    float k = u_intensity;
    // hue (color.glsl) as a rotation around the grey axis (Rodrigues), then saturation: one matrix
    float hue = hue_angle(k, u_fx_hue, u_time, u_centroid_norm, u_chroma_vec);
    float ca = cos(hue), sa = sin(hue);
    const float a = 0.57735027;
    mat3 cross_k = mat3(0.0, a, -a,  -a, 0.0, a,  a, -a, 0.0);     // c -> cross(k, c)
    mat3 rot = ca * mat3(1.0) + sa * cross_k + (1.0 - ca) * outerProduct(vec3(a), vec3(a));
    float sat = saturation_factor(k, u_fx_saturation, u_mid, u_mid_att);
    mat3 satm = sat * mat3(1.0) + (1.0 - sat) * outerProduct(vec3(1.0), vec3(0.2126, 0.7152, 0.0722));
    v_color = satm * rot;
    v_contrast = contrast_amount(k, u_fx_contrast, u_bass_att);
    v_sparkle = u_fx_sparkle * k * treble_drive(u_treble, u_treble_att);
    v_flash = flash_level(k, u_fx_flash, u_onset, u_since_onset, u_bpm, u_beat_phase);    // flash.glsl
    v_level = master_level(u_fade, u_blackout);
    v_kaleido_seg = kaleido_segment(u_fx_kaleido);
    v_spin = 0.2 * u_time;
    v_detail = clamp(u_fx_detail * k * (0.7 + 0.5 * treble_drive(u_treble, u_treble_att)), 0.0, 1.5);
}

//--- fragment
in vec2 v_uv;
flat in mat3 v_color;
flat in float v_contrast;
flat in float v_sparkle;
flat in float v_flash;
flat in float v_level;
flat in float v_kaleido_seg;
flat in float v_spin;
flat in float v_detail;
out vec4 f_color;

#include "lib/detail.glsl"

void main() {
    vec2 uv = v_uv;
    if (v_kaleido_seg > 0.0)
        uv = kaleido_uv(uv, u_resolution.x / max(u_resolution.y, 1.0), v_kaleido_seg, v_spin, u_fx_kaleido);
    vec4 t = texture(u_source, uv);
    vec3 c = clamp(v_color * t.rgb, 0.0, 1.0);
    c = mix(c, s_curve(c), v_contrast);
    if (v_sparkle > 0.001) {
        // edges: trails.glsl leaves its edge strength (screen-space derivatives at the
        // internal resolution, per 1/360 of the height) in alpha, squared back here
        c += vec3(t.a * t.a * v_sparkle * 2.0);
        // sparkles: a sparse grid of cells (1/160 of the height) light up on bright spots,
        // re-rolled 12 times a second
        float h = hash(floor(uv * u_resolution * (160.0 / u_resolution.y)) + floor(u_time * 12.0));
        c += sparkle_light(h, v_sparkle, c);
    }
    c = engrave(c, v_detail);
    c = add_flash(c, v_flash);
    f_color = vec4(c * vignette(v_uv) * v_level, 1.0);       // soft vignette, fade, blackout
}
