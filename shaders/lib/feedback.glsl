// Shared by feedback.glsl and trails.glsl: the MilkDrop-style feedback transform. Pure
// functions of their arguments (no uniforms); `dt` is clamped to 0..0.1 s by the caller.

// How much the old picture grows per frame: exp(per-second rate * dt), driven by the bass.
float feedback_zoom(float dt, float intensity, float amount, float bass, float bass_att) {
    float drive = clamp(0.5 * bass + 0.6 * max(bass_att - 0.8, 0.0), 0.0, 1.5);
    return exp(dt * intensity * amount * (0.08 + 1.6 * drive));
}

// Rotation this frame, with the mids; the direction flips every 8 beats.
float feedback_angle(float dt, float intensity, float amount, float mid, float mid_att, float beat_count) {
    float dir = mod(floor(beat_count / 8.0), 2.0) * 2.0 - 1.0;
    return dt * dir * intensity * amount * (0.05 + 0.9 * clamp(mid + 0.3 * max(mid_att - 1.0, 0.0), 0.0, 1.5));
}

// Drift this frame along the chroma direction (the dominant pitch class), with the level.
vec2 feedback_drift(float dt, float intensity, float amount, float rms, vec2 chroma_vec) {
    return dt * intensity * amount * 0.12 * clamp(rms * 4.0, 0.0, 1.0) * chroma_vec;
}

// Where a pixel of this frame was in the last one (an affine map of uv).
vec2 feedback_uv(vec2 uv, float aspect, float zoom, float angle, vec2 drift) {
    vec2 q = uv - 0.5;
    q.x *= aspect;
    float c = cos(angle), s = sin(angle);
    q = mat2(c, -s, s, c) * q / zoom;
    q.x /= aspect;
    return q + 0.5 - drift;
}

// Blend weight of the old picture, frame-rate independent: 0.6 keeps ~0.86 per 60 Hz frame.
float feedback_keep(float dt, float intensity, float amount) {
    float keep = clamp(amount * intensity, 0.0, 1.0) * 0.97;
    return clamp(pow(keep, dt * 60.0 * 0.25), 0.0, 0.97);
}

// 1 inside the old frame, 0 outside (there is no history there: use the fresh picture).
float feedback_inside(vec2 uv) {
    vec2 inside2 = step(vec2(0.0), uv) * step(uv, vec2(1.0));
    return inside2.x * inside2.y;
}
