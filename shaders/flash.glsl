#version 330
// Pass 4, "flash": a white flash on every onset that decays in ~0.15 s, edge emphasis and
// twinkling sparkles with the treble.

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

//--- fragment
in vec2 v_uv;
out vec4 f_color;

float hash(vec2 p) {
    p = fract(p * vec2(123.34, 456.21));
    p += dot(p, p + 45.32);
    return fract(p.x * p.y);
}

void main() {
    vec2 px = 1.0 / u_resolution;
    vec3 c = texture(u_source, v_uv).rgb;
    float k = u_intensity;
    // edge emphasis, scaled by the treble
    float tre = clamp(u_treble + 0.5 * max(u_treble_att - 1.0, 0.0), 0.0, 1.5);
    float sparkle = u_fx_sparkle * k * tre;
    if (sparkle > 0.001) {
        // edges from screen-space derivatives: free, no extra texture reads
        vec3 edge = fwidth(c);
        c += edge * sparkle * 2.0;
        // sparkles: a sparse grid of cells light up on bright spots, re-rolled 12 times a second
        vec2 cell = floor(v_uv * u_resolution / 3.0);
        float h = hash(cell + floor(u_time * 12.0));
        float lum = dot(c, vec3(0.333));
        c += vec3(step(1.0 - 0.012 * sparkle, h) * smoothstep(0.35, 0.9, lum)) * 1.2;
    }
    // flash: additive white with a fast decay; strong onsets flash brighter
    // ... and a smaller kick on every beat of the tracker (visible where the beat's onset is weak)
    float since_beat = u_bpm > 0.0 ? u_beat_phase * 60.0 / u_bpm : 1000.0;
    float flash = u_fx_flash * k * (u_onset * exp(-u_since_onset * 9.0) + 0.35 * exp(-since_beat * 12.0));
    c = c + flash * (0.55 + 0.45 * c);
    f_color = vec4(min(c, vec3(1.0)), 1.0);
}
