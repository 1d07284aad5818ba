// Shared by color.glsl, flash.glsl, output.glsl and finish.glsl: colour, flash, sparkles,
// kaleidoscope and the master level. Pure functions of their arguments (no uniforms).

// Hue angle (radians): a slow walk, plus the brightness of the sound (centroid), plus the key
// (the direction of the chroma vector).
float hue_angle(float intensity, float amount, float time, float centroid_norm, vec2 chroma_vec) {
    float chroma_angle = (dot(chroma_vec, chroma_vec) > 1e-6) ? atan(chroma_vec.y, chroma_vec.x) : 0.0;
    return amount * intensity * (0.15 * time + 2.4 * (centroid_norm - 0.4) + 0.35 * chroma_angle);
}

// Saturation factor: amount 0.5 keeps the picture at rest, higher pushes, the mids push further.
float saturation_factor(float intensity, float amount, float mid, float mid_att) {
    float sat = 1.0 + intensity * ((amount - 0.5) * 1.6 + amount * 0.6 * clamp(mid + 0.5 * (mid_att - 1.0), 0.0, 1.2));
    return max(sat, 0.0);
}

// Contrast: how far towards an S-curve around mid grey (0..1), tightening with the bass.
float contrast_amount(float intensity, float amount, float bass_att) {
    return clamp(intensity * amount * (0.35 + 0.35 * clamp(bass_att - 0.7, 0.0, 1.5)), 0.0, 1.0);
}

vec3 s_curve(vec3 c) {
    return c * c * (3.0 - 2.0 * c);
}

// Treble drive of the edge emphasis and the sparkles.
float treble_drive(float treble, float treble_att) {
    return clamp(treble + 0.5 * max(treble_att - 1.0, 0.0), 0.0, 1.5);
}

// Flash level: additive white with a fast decay on every onset (strong onsets brighter) and a
// smaller kick on every beat of the tracker, visible where the beat's onset is weak or missed.
float flash_level(float intensity, float amount, float onset, float since_onset, float bpm, float beat_phase) {
    float since_beat = bpm > 0.0 ? beat_phase * 60.0 / bpm : 1000.0;
    return amount * intensity * (onset * exp(-since_onset * 9.0) + 0.35 * exp(-since_beat * 12.0));
}

// The flash as light on a screen: 1 - (1 - c) * exp(-f). No flash leaves the picture as it
// is; stacked flashes approach white without ever clipping flat (highlights compress).
vec3 add_flash(vec3 c, float flash) {
    c = clamp(c, 0.0, 1.0);
    return 1.0 - (1.0 - c) * exp(-flash * 1.6 * (0.55 + 0.45 * c));
}

float hash(vec2 p) {
    p = fract(p * vec2(123.34, 456.21));
    p += dot(p, p + 45.32);
    return fract(p.x * p.y);
}

// Sparkle light of a cell with hash `h`: a few cells light up on bright spots.
vec3 sparkle_light(float h, float amount, vec3 c) {
    return vec3(step(1.0 - 0.012 * amount, h) * smoothstep(0.35, 0.9, dot(c, vec3(0.333)))) * 1.2;
}

// Kaleidoscope: the angle of one mirror segment (0 = off), and the mirrored coordinate.
float kaleido_segment(float amount) {
    return amount > 0.001 ? 6.2831853 / floor(2.0 + amount * 10.0) : 0.0;
}

vec2 kaleido_uv(vec2 uv, float aspect, float segment, float spin, float amount) {
    vec2 p = (uv - 0.5) * vec2(aspect, 1.0);
    float r = length(p);
    float a = mod(atan(p.y, p.x) + spin, segment);
    a = min(a, segment - a);                           // mirror inside each segment
    vec2 q = vec2(cos(a), sin(a)) * r / vec2(aspect, 1.0) + 0.5;
    return mix(uv, q, clamp(amount * 4.0, 0.0, 1.0));
}

// Soft vignette times the master level (fade, blackout).
float vignette(vec2 uv) {
    vec2 d = uv - 0.5;
    return 1.0 - 0.35 * dot(d, d);
}

float master_level(float fade, float blackout) {
    return clamp(fade, 0.0, 1.0) * (1.0 - step(0.5, blackout));
}
