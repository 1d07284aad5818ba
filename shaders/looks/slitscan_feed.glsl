#version 330
// Look "slitscan", pass 1 (internal resolution, feedback): time smear. Each row keeps more of
// its own past the higher it sits, and the history streams upward, so motion in the picture
// is stretched into streaks: the bottom row is now, the top rows are the last second or so.
#include "gen_cover.glsl"
uniform sampler2D u_prev;
uniform float u_prev_valid;
uniform vec2 u_resolution;
uniform float u_dt;
uniform float u_bass;
uniform float u_look_lag;       // how far back in time the top rows reach
uniform float u_look_flow;      // how fast the history streams upward (bass pushes it)
uniform float u_look_vertical;  // 0 = rows (streams up), 1 = columns (streams sideways)
//--- fragment
in vec2 v_uv;
out vec4 f_color;
void main() {
    vec3 src = gen_picture(v_uv, u_resolution, 1.0);
    float dt60 = clamp(u_dt, 0.0, 0.1) * 60.0;
    bool cols = u_look_vertical > 0.5;
    float pos = cols ? v_uv.x : v_uv.y;
    vec2 dir = cols ? vec2(1.0, 0.0) : vec2(0.0, 1.0);
    vec2 from = v_uv - dir * dt60 * u_look_flow * (0.002 + 0.006 * clamp(u_bass, 0.0, 1.0));
    vec3 prev = texture(u_prev, from).rgb;
    float keep = pow(clamp(pos, 0.0, 1.0), 0.6) * (0.8 + 0.19 * u_look_lag);
    keep = pow(keep, dt60) * u_prev_valid;
    vec3 c = mix(src, prev, keep);
    vec3 fw = fwidth(c);
    f_color = vec4(c, sqrt(clamp(max(fw.r, max(fw.g, fw.b)) * (u_resolution.y / 360.0), 0.0, 1.0)));
}
