#version 330
// Look "spiral", pass 1 (internal resolution, feedback): the last frame zoomed in and turned a
// little every frame, so the picture pours into a spiral; the bass speeds the zoom, the mids
// the turn. Frame-rate independent through u_dt.
#include "gen_cover.glsl"
uniform sampler2D u_prev;
uniform float u_prev_valid;
uniform vec2 u_resolution;
uniform float u_dt;
uniform float u_bass;
uniform float u_bass_att;
uniform float u_mid;
uniform float u_beat_count;
uniform float u_look_twist;     // turn per second
uniform float u_look_pull;      // zoom per second
uniform float u_look_trail;     // how much of the old picture stays
//--- vertex
out vec2 v_uv;
out vec2 v_prev_uv;
flat out float v_keep;
void main() {
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    v_uv = p * 0.5 + 0.5;
    gl_Position = vec4(p, 0.0, 1.0);
    float dt = clamp(u_dt, 0.0, 0.1);
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    float drive = clamp(0.5 * u_bass + 0.5 * max(u_bass_att - 0.8, 0.0), 0.0, 1.5);
    float zoom = exp(dt * u_look_pull * (0.3 + 2.0 * drive));
    float dir = mod(floor(u_beat_count / 16.0), 2.0) * 2.0 - 1.0;
    float angle = dt * dir * u_look_twist * (0.4 + 1.6 * clamp(u_mid, 0.0, 1.0));
    vec2 q = v_uv - 0.5;
    q.x *= aspect;
    float c = cos(angle), s = sin(angle);
    q = mat2(c, -s, s, c) * q / zoom;
    q.x /= aspect;
    v_prev_uv = q + 0.5;
    float keep = clamp(0.8 + 0.18 * u_look_trail, 0.0, 0.985);
    v_keep = pow(keep, dt * 60.0) * clamp(u_prev_valid, 0.0, 1.0);
}
//--- fragment
in vec2 v_uv;
in vec2 v_prev_uv;
flat in float v_keep;
out vec4 f_color;
void main() {
    vec3 src = gen_picture(v_uv, u_resolution, 1.0);
    vec3 prev = texture(u_prev, v_prev_uv).rgb;
    vec2 inside2 = step(vec2(0.0), v_prev_uv) * step(v_prev_uv, vec2(1.0));
    // the fresh picture shows through in a soft ring at the rim, the spiral pours inward
    float rim = smoothstep(0.25, 0.5, length(v_uv - 0.5));
    float keep = v_keep * inside2.x * inside2.y * (1.0 - 0.5 * rim);
    vec3 c = mix(src, prev * 0.998, keep);
    vec3 fw = fwidth(c);
    f_color = vec4(c, sqrt(clamp(max(fw.r, max(fw.g, fw.b)) * (u_resolution.y / 360.0), 0.0, 1.0)));
}
