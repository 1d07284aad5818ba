// Shared by source.glsl and trails.glsl: how the generator picture is put on screen.
// Pure functions of their arguments (no uniforms), so a pass of yours can include them too.

// Cover fit: keep the generator's aspect, fill the target, crop the overflow (centre crop);
// `push` > 0 zooms in by that fraction (the gentle bass push-in). The result is a generator
// texture coordinate: its rows are top-down, GL textures bottom-up, so y is flipped.
vec2 cover_uv(vec2 uv, vec2 resolution, vec2 gen_size, float push) {
    float aspect = resolution.x / max(resolution.y, 1.0);
    float gen_aspect = gen_size.x / max(gen_size.y, 1.0);
    vec2 g = uv - 0.5;
    if (aspect > gen_aspect) g.y *= gen_aspect / aspect;
    else g.x *= aspect / gen_aspect;
    g /= 1.0 + push;
    g += 0.5;
    g.y = 1.0 - g.y;
    return g;
}

// The bass push-in of the picture: a breathing zoom, so even a still picture moves.
float bass_push(float amount, float intensity, float bass_att) {
    return 0.03 * amount * intensity * clamp(bass_att - 0.8, 0.0, 1.5);
}

// Magnify with a sharp bicubic only when the picture is enlarged more than 2.2x.
bool wants_bicubic(vec2 resolution, vec2 gen_size) {
    return resolution.y > 2.2 * gen_size.y;
}

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
