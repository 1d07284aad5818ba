#version 330
// Default pass 1 of 2, "trails": source.glsl + feedback.glsl fused into one ping-pong pass
// (same look, one framebuffer round trip less). The generator picture, cross-faded from
// u_gen_a to u_gen_b and cover-fitted, with the last output of this pass (u_prev) zoomed
// with the bass, rotated with the mids, drifted towards the dominant pitch class and
// blended over it. Everything that depends only on uniforms is computed per vertex (3
// times a frame, not once per pixel): on a software rasteriser that is most of the cost.
// Runs at the internal resolution on software GL; finish.glsl upscales. Output alpha = edge
// strength (see the end of main).

uniform sampler2D u_gen_a;      // previous generator frame
uniform sampler2D u_gen_b;      // newest generator frame
uniform sampler2D u_prev;       // this pass's own output of the last frame
uniform float u_prev_valid;     // 0 on the first frame (empty history), else 1
uniform float u_gen_mix;        // 0 = u_gen_a, 1 = u_gen_b
uniform vec2 u_gen_size;        // generator frame size in pixels
uniform vec2 u_resolution;      // this pass's target size in pixels
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

//--- vertex
out vec2 v_uv;
out vec2 v_gen_uv;              // generator texture coordinate (cover fit, bass push-in, row flip)
out vec2 v_prev_uv;             // where this pixel was last frame (zoom, rotation, drift)
flat out float v_mix;
flat out float v_keep;
flat out int v_bicubic;

void main() {
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    v_uv = p * 0.5 + 0.5;
    gl_Position = vec4(p, 0.0, 1.0);
    float k = u_intensity;
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);

    // source: cover-fit (keep the generator's aspect, fill, crop), gentle bass push-in
    float gen_aspect = u_gen_size.x / max(u_gen_size.y, 1.0);
    vec2 g = v_uv - 0.5;
    if (aspect > gen_aspect) g.y *= gen_aspect / aspect;
    else g.x *= aspect / gen_aspect;
    g /= 1.0 + 0.03 * u_fx_zoom * k * clamp(u_bass_att - 0.8, 0.0, 1.5);
    g += 0.5;
    g.y = 1.0 - g.y;             // generator rows are top-down, GL textures bottom-up
    v_gen_uv = g;
    v_mix = smoothstep(0.0, 1.0, u_gen_mix);
    v_bicubic = (u_resolution.y > 2.2 * u_gen_size.y) ? 1 : 0;

    // feedback transform (an affine map of v_uv, so it interpolates exactly)
    float dt = clamp(u_dt, 0.0, 0.1);
    float drive = clamp(0.5 * u_bass + 0.6 * max(u_bass_att - 0.8, 0.0), 0.0, 1.5);
    float zoom = exp(dt * k * u_fx_zoom * (0.08 + 1.6 * drive));
    float dir = mod(floor(u_beat_count / 8.0), 2.0) * 2.0 - 1.0;     // flips every 8 beats
    float angle = dt * dir * k * u_fx_rotate * (0.05 + 0.9 * clamp(u_mid + 0.3 * max(u_mid_att - 1.0, 0.0), 0.0, 1.5));
    vec2 drift = dt * k * u_fx_drift * 0.12 * clamp(u_rms * 4.0, 0.0, 1.0) * u_chroma_vec;
    vec2 q = v_uv - 0.5;
    q.x *= aspect;
    float c = cos(angle), s = sin(angle);
    q = mat2(c, -s, s, c) * q / zoom;
    q.x /= aspect;
    v_prev_uv = q + 0.5 - drift;
    // blend weight, frame-rate independent: fx.feedback 0.6 keeps ~0.86 per 60 Hz frame
    float keep = clamp(u_fx_feedback * k, 0.0, 1.0) * 0.97;
    keep = clamp(pow(keep, dt * 60.0 * 0.25), 0.0, 0.97);
    v_keep = keep * clamp(u_prev_valid, 0.0, 1.0);
}

//--- fragment
in vec2 v_uv;
in vec2 v_gen_uv;
in vec2 v_prev_uv;
flat in float v_mix;
flat in float v_keep;
flat in int v_bicubic;
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
    vec3 src;
    if (v_bicubic == 1) {        // strong magnification (full-resolution passes on a GPU)
        src = mix(bicubic(u_gen_a, v_gen_uv, u_gen_size), bicubic(u_gen_b, v_gen_uv, u_gen_size), v_mix);
    } else {                     // up to ~2x (internal resolution on software GL): bilinear
        src = mix(texture(u_gen_a, v_gen_uv).rgb, texture(u_gen_b, v_gen_uv).rgb, v_mix);
    }
    vec3 prev = texture(u_prev, v_prev_uv).rgb;
    // outside the old frame there is no history: use the fresh picture
    vec2 inside2 = step(vec2(0.0), v_prev_uv) * step(v_prev_uv, vec2(1.0));
    float keep = v_keep * inside2.x * inside2.y;
    vec3 c = mix(src, prev * 0.995, keep);
    // alpha: edge strength for finish.glsl's edge emphasis, taken here at the internal
    // resolution where the picture is smooth (derivatives of the upscaled picture would show
    // the texel grid), per 1/360 of the height, stored as a square root for 8-bit precision
    vec3 fw = fwidth(c);
    float edge = max(fw.r, max(fw.g, fw.b)) * (u_resolution.y / 360.0);
    f_color = vec4(c, sqrt(clamp(edge, 0.0, 1.0)));
}
