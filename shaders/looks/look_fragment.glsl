// The fragment half of a look's final pass: helpers every look shares.
//   crisp(uv)     the previous pass upscaled to the output with its edges re-sharpened
//                 (edge-aware: each channel is pushed towards the min or max of its
//                 neighbourhood, so soft edges become 1-2 px transitions that move with
//                 the picture, never overshooting into halos); treble sharpens more.
//   engrave(c, a) fine structure that moves with the picture: contour lines of its
//                 luminance (a topographic map of the picture), about one output pixel
//                 wide at any resolution; stronger with fx.detail and the treble.
//   look_finish(c, uv)  colour matrix, contrast, flash, soft-knee highlight compression
//                 (stacked flashes never clip flat), vignette, fade, blackout.
// Use: in the fragment section, #include of look_fragment.glsl.
in vec2 v_uv;
flat in mat3 v_color;
flat in float v_contrast;
flat in float v_flash;
flat in float v_sharp;
flat in float v_level;
flat in float v_kick;
flat in float v_detail;
out vec4 f_color;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float luma(vec3 c) { return dot(c, vec3(0.2126, 0.7152, 0.0722)); }

// the previous pass at uv, upscaled edge-aware (4 taps 1.5 source texels away + the centre)
vec3 crisp_at(vec2 uv, float amount) {
    vec2 tx = 1.5 / vec2(textureSize(u_source, 0));
    vec3 c = texture(u_source, uv).rgb;
    vec3 n = texture(u_source, uv + vec2(0.0, tx.y)).rgb;
    vec3 s = texture(u_source, uv - vec2(0.0, tx.y)).rgb;
    vec3 e = texture(u_source, uv + vec2(tx.x, 0.0)).rgb;
    vec3 w = texture(u_source, uv - vec2(tx.x, 0.0)).rgb;
    vec3 mn = min(min(min(n, s), min(e, w)), c);
    vec3 mx = max(max(max(n, s), max(e, w)), c);
    vec3 range = mx - mn;
    vec3 t = clamp((c - mn) / max(range, vec3(1e-3)), 0.0, 1.0);
    // steepen the transition around its middle: gain 1 + 3 * amount
    vec3 g = clamp((t - 0.5) * (1.0 + 3.0 * amount) + 0.5, 0.0, 1.0);
    vec3 sharp = mn + range * g;
    // a little unsharp mask on top (local contrast at the source texel scale), kept in range
    vec3 avg = 0.25 * (n + s + e + w);
    sharp = clamp(sharp + amount * 0.6 * (c - avg), mn, mx);
    return mix(c, sharp, clamp(amount, 0.0, 1.0));
}

vec3 crisp(vec2 uv) { return crisp_at(uv, v_sharp); }

// soft shoulder: identity below `knee`, then an exponential approach to 1 that never
// reaches it, so bright additions (glow, rings) compress instead of clipping flat
vec3 soft_knee(vec3 c, float knee) {
    vec3 over = max(c - knee, 0.0);
    vec3 shoulder = knee + (1.0 - knee) * (1.0 - exp(-over / (1.0 - knee)));
    return mix(c, shoulder, step(knee, c));
}

vec3 look_grade(vec3 c) {
    c = max(v_color * c, 0.0);
    return mix(c, s_curve(clamp(c, 0.0, 1.0)), v_contrast);
}

#include "../lib/detail.glsl"

vec3 look_finish_plain(vec3 c, vec2 uv) {
    c = add_flash(soft_knee(max(c, 0.0), 0.9), v_flash);
    c *= vignette(uv) * v_level;
    return c;
}

vec3 look_finish(vec3 c, vec2 uv) {
    c = engrave(c, v_detail);
    c = add_flash(soft_knee(max(c, 0.0), 0.9), v_flash);
    c *= vignette(uv) * v_level;
    return c;
}
