#version 330
// Pass 4, "flash": a white flash on every onset that decays in ~0.15 s, edge emphasis and
// twinkling sparkles with the treble, contour lines of the picture (fx.detail, lib/detail.glsl).

uniform sampler2D u_source;
uniform vec2 u_resolution;
uniform float u_time;
uniform float u_onset;          // strength of the latest onset, 0..1 (held until the next)
uniform float u_since_onset;    // seconds since the latest onset (large when none yet)
uniform float u_treble;
uniform float u_treble_att;
uniform float u_beat_phase;
uniform float u_bpm;
uniform float u_intensity;
uniform float u_fx_flash;
uniform float u_fx_sparkle;
uniform float u_fx_detail;

//--- fragment
#include "lib/grade.glsl"

in vec2 v_uv;
out vec4 f_color;

#include "lib/detail.glsl"

void main() {
    vec3 c = texture(u_source, v_uv).rgb;
    float k = u_intensity;
    float sparkle = u_fx_sparkle * k * treble_drive(u_treble, u_treble_att);
    if (sparkle > 0.001) {
        // edge emphasis from screen-space derivatives: free, no extra texture reads
        c += fwidth(c) * sparkle * 2.0;
        // sparkles: a sparse grid of cells light up on bright spots, re-rolled 12 times a second
        float h = hash(floor(v_uv * u_resolution / 3.0) + floor(u_time * 12.0));
        c += sparkle_light(h, sparkle, c);
    }
    c = engrave(c, clamp(u_fx_detail * k * (0.7 + 0.5 * treble_drive(u_treble, u_treble_att)), 0.0, 1.5));
    f_color = vec4(add_flash(c, flash_level(k, u_fx_flash, u_onset, u_since_onset, u_bpm, u_beat_phase)), 1.0);
}
