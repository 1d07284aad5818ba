#version 330
// Pass 1, "source": the generator picture, cross-faded from the previous generator frame
// (u_gen_a) to the newest one (u_gen_b) by u_gen_mix, upscaled with a sharp bicubic
// (Catmull-Rom, 5 bilinear taps) when magnifying more than 2.2x, and fitted to cover the screen (centre crop).

uniform sampler2D u_gen_a;      // previous generator frame
uniform sampler2D u_gen_b;      // newest generator frame
uniform float u_gen_mix;        // 0 = u_gen_a, 1 = u_gen_b
uniform vec2 u_gen_size;        // generator frame size in pixels
uniform vec2 u_resolution;      // this pass's target size in pixels
uniform float u_time;
uniform float u_bass_att;
uniform float u_intensity;
uniform float u_fx_zoom;

//--- fragment
in vec2 v_uv;
out vec4 f_color;

// Catmull-Rom bicubic from 5 bilinear taps (corners dropped; error is invisible).
vec3 bicubic(sampler2D tex, vec2 uv, vec2 size) {
    vec2 pos = uv * size;
    vec2 c = floor(pos - 0.5) + 0.5;
    vec2 f = pos - c;
    vec2 w0 = f * (-0.5 + f * (1.0 - 0.5 * f));
    vec2 w1 = 1.0 + f * f * (-2.5 + 1.5 * f);
    vec2 w2 = f * (0.5 + f * (2.0 - 1.5 * f));
    vec2 w3 = f * f * (-0.5 + 0.5 * f);
    vec2 w12 = w1 + w2;
    vec2 tc0 = (c - 1.0) / size;
    vec2 tc3 = (c + 2.0) / size;
    vec2 tc12 = (c + w2 / w12) / size;
    vec3 r = texture(tex, vec2(tc12.x, tc0.y)).rgb * (w12.x * w0.y)
           + texture(tex, vec2(tc0.x, tc12.y)).rgb * (w0.x * w12.y)
           + texture(tex, tc12).rgb * (w12.x * w12.y)
           + texture(tex, vec2(tc3.x, tc12.y)).rgb * (w3.x * w12.y)
           + texture(tex, vec2(tc12.x, tc3.y)).rgb * (w12.x * w3.y);
    float wsum = w12.x * w0.y + w0.x * w12.y + w12.x * w12.y + w3.x * w12.y + w12.x * w3.y;
    return max(r / wsum, 0.0);
}

void main() {
    // cover-fit: keep the generator's aspect, fill the screen, crop the overflow
    float screen_aspect = u_resolution.x / max(u_resolution.y, 1.0);
    float gen_aspect = u_gen_size.x / max(u_gen_size.y, 1.0);
    vec2 uv = v_uv - 0.5;
    if (screen_aspect > gen_aspect) uv.y *= gen_aspect / screen_aspect;
    else uv.x *= screen_aspect / gen_aspect;
    // a gentle breathing push-in with the bass, so even a still picture moves
    uv /= 1.0 + 0.03 * u_fx_zoom * u_intensity * clamp(u_bass_att - 0.8, 0.0, 1.5);
    uv += 0.5;
    uv.y = 1.0 - uv.y;   // generator rows are top-down, GL textures bottom-up
    vec3 a, b;
    if (u_resolution.y > 2.2 * u_gen_size.y) {
        // strong magnification: sharp bicubic (10 taps)
        a = bicubic(u_gen_a, uv, u_gen_size);
        b = bicubic(u_gen_b, uv, u_gen_size);
    } else {
        // up to ~2x (e.g. half-resolution effect passes on a software rasteriser): bilinear
        a = texture(u_gen_a, uv).rgb;
        b = texture(u_gen_b, uv).rgb;
    }
    f_color = vec4(mix(a, b, smoothstep(0.0, 1.0, u_gen_mix)), 1.0);
}
