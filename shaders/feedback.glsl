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
in vec2 v_uv;
out vec4 f_color;

void main() {
    float dt = clamp(u_dt, 0.0, 0.1);
    float k = u_intensity;
    // zoom: how fast the old picture grows outwards (per second), driven by the bass
    float drive = clamp(0.5 * u_bass + 0.6 * max(u_bass_att - 0.8, 0.0), 0.0, 1.5);
    float zoom = exp(dt * k * u_fx_zoom * (0.08 + 1.6 * drive));
    // rotation with the mids; direction flips every 8 beats
    float dir = mod(floor(u_beat_count / 8.0), 2.0) * 2.0 - 1.0;
    float angle = dt * dir * k * u_fx_rotate * (0.05 + 0.9 * clamp(u_mid + 0.3 * max(u_mid_att - 1.0, 0.0), 0.0, 1.5));
    // drift along the dominant chroma direction
    vec2 drift = dt * k * u_fx_drift * 0.12 * clamp(u_rms * 4.0, 0.0, 1.0) * u_chroma_vec;

    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = v_uv - 0.5;
    p.x *= aspect;
    float c = cos(angle), s = sin(angle);
    p = mat2(c, -s, s, c) * p / zoom;
    p.x /= aspect;
    vec2 uv = p + 0.5 - drift;
    vec3 prev = texture(u_prev, uv).rgb;
    // outside the old frame: no history, use the fresh picture
    float inside = step(0.0, uv.x) * step(uv.x, 1.0) * step(0.0, uv.y) * step(uv.y, 1.0);
    vec3 src = texture(u_source, v_uv).rgb;
    prev = mix(src, prev, inside);
    // blend weight per second, frame-rate independent: fx.feedback 0.6 keeps ~0.86 per 60 Hz frame
    float keep = clamp(u_fx_feedback * k, 0.0, 1.0) * 0.97;
    keep = pow(keep, dt * 60.0 * 0.25);
    keep = clamp(keep, 0.0, 0.97);
    f_color = vec4(mix(src, prev * 0.995, keep), 1.0);
}
