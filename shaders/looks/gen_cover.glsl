// The generator picture cover-fitted to this pass (keeps its aspect, fills, crops), cross-faded
// from u_gen_a to u_gen_b, rows flipped (generator rows are top-down). For a look's first pass.
uniform sampler2D u_gen_a;
uniform sampler2D u_gen_b;
uniform float u_gen_mix;
uniform vec2 u_gen_size;

vec2 gen_uv(vec2 uv, vec2 res, float zoom) {
    float aspect = res.x / max(res.y, 1.0);
    float gen_aspect = u_gen_size.x / max(u_gen_size.y, 1.0);
    vec2 g = uv - 0.5;
    if (aspect > gen_aspect) g.y *= gen_aspect / aspect;
    else g.x *= aspect / gen_aspect;
    g = g / zoom + 0.5;
    g.y = 1.0 - g.y;
    return g;
}

vec3 gen_picture(vec2 uv, vec2 res, float zoom) {
    vec2 g = gen_uv(uv, res, zoom);
    return mix(texture(u_gen_a, g).rgb, texture(u_gen_b, g).rgb, smoothstep(0.0, 1.0, u_gen_mix));
}
