#version 330
// Pass 5, "output": optional kaleidoscope, a soft vignette, master fade and blackout.

uniform sampler2D u_source;
uniform vec2 u_resolution;
uniform float u_time;
uniform float u_bar_phase;
uniform float u_fx_kaleido;     // 0 = off; more = more mirror segments
uniform float u_fade;           // master level 0..1
uniform float u_blackout;       // 1 = black

//--- fragment
in vec2 v_uv;
out vec4 f_color;

void main() {
    vec2 uv = v_uv;
    if (u_fx_kaleido > 0.001) {
        float aspect = u_resolution.x / max(u_resolution.y, 1.0);
        vec2 p = (uv - 0.5) * vec2(aspect, 1.0);
        float r = length(p);
        float a = atan(p.y, p.x) + 0.2 * u_time;
        float seg = 6.2831853 / floor(2.0 + u_fx_kaleido * 10.0);
        a = mod(a, seg);
        a = min(a, seg - a);                           // mirror inside each segment
        vec2 q = vec2(cos(a), sin(a)) * r / vec2(aspect, 1.0) + 0.5;
        uv = mix(uv, q, clamp(u_fx_kaleido * 4.0, 0.0, 1.0));
    }
    vec3 c = texture(u_source, uv).rgb;
    vec2 d = v_uv - 0.5;
    c *= 1.0 - 0.35 * dot(d, d);                     // soft vignette
    c *= clamp(u_fade, 0.0, 1.0) * (1.0 - step(0.5, u_blackout));
    f_color = vec4(c, 1.0);
}
