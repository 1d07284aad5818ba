#version 330
// Default pass 2 of 2, "finish": color.glsl + flash.glsl + output.glsl fused into one
// full-resolution pass (same look): one texture read (the bilinear upscale of trails.glsl's
// picture), then hue rotation (centroid + chroma), saturation (mids) and contrast (bass) as
// one 3x3 colour matrix, edge emphasis and sparkles with the treble, a white flash on
// onsets, optional kaleidoscope, soft vignette, master fade and blackout. Everything that
// depends only on uniforms (the colour matrix, the flash level...) is computed per vertex.

uniform sampler2D u_source;     // the trails picture (internal resolution); alpha = edge strength
uniform vec2 u_resolution;      // output size in pixels
uniform float u_time;
uniform float u_mid;
uniform float u_mid_att;
uniform float u_bass_att;
uniform float u_treble;
uniform float u_treble_att;
uniform float u_centroid_norm;  // spectral centroid, 0..1 on a log scale 100 Hz..10 kHz, smoothed
uniform vec2 u_chroma_vec;
uniform float u_onset;          // strength of the latest onset, 0..1 (held until the next)
uniform float u_since_onset;    // seconds since the latest onset (large when none yet)
uniform float u_beat_phase;     // 0..1 within the current beat (0 = on the beat)
uniform float u_bpm;            // 0 when no tempo is known
uniform float u_intensity;
uniform float u_fx_hue;
uniform float u_fx_saturation;
uniform float u_fx_contrast;
uniform float u_fx_flash;
uniform float u_fx_sparkle;
uniform float u_fx_kaleido;     // 0 = off; more = more mirror segments
uniform float u_fade;           // master level 0..1
uniform float u_blackout;       // 1 = black

//--- vertex
out vec2 v_uv;
flat out mat3 v_color;          // hue rotation then saturation
flat out float v_contrast;
flat out float v_sparkle;
flat out float v_flash;
flat out float v_level;         // fade x blackout
flat out float v_kaleido_seg;   // 0 = kaleidoscope off
flat out float v_spin;

void main() {
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    v_uv = p * 0.5 + 0.5;
    gl_Position = vec4(p, 0.0, 1.0);
    float k = u_intensity;
    // hue: a slow walk plus the brightness of the sound (centroid) plus the key (chroma);
    // rotation around the grey axis (Rodrigues) as a matrix
    float chroma_angle = (dot(u_chroma_vec, u_chroma_vec) > 1e-6) ? atan(u_chroma_vec.y, u_chroma_vec.x) : 0.0;
    float hue = u_fx_hue * k * (0.15 * u_time + 2.4 * (u_centroid_norm - 0.4) + 0.35 * chroma_angle);
    float ca = cos(hue), sa = sin(hue);
    const float a = 0.57735027;
    mat3 cross_k = mat3(0.0, a, -a,  -a, 0.0, a,  a, -a, 0.0);     // c -> cross(k, c)
    mat3 rot = ca * mat3(1.0) + sa * cross_k + (1.0 - ca) * outerProduct(vec3(a), vec3(a));
    // saturation: 0.5 keeps the picture, higher pushes, the mids push further
    float sat = 1.0 + k * ((u_fx_saturation - 0.5) * 1.6 + u_fx_saturation * 0.6 * clamp(u_mid + 0.5 * (u_mid_att - 1.0), 0.0, 1.2));
    sat = max(sat, 0.0);
    mat3 satm = sat * mat3(1.0) + (1.0 - sat) * outerProduct(vec3(1.0), vec3(0.2126, 0.7152, 0.0722));
    v_color = satm * rot;
    // contrast: S-curve around mid grey, tightening with the bass
    v_contrast = clamp(k * u_fx_contrast * (0.35 + 0.35 * clamp(u_bass_att - 0.7, 0.0, 1.5)), 0.0, 1.0);
    float tre = clamp(u_treble + 0.5 * max(u_treble_att - 1.0, 0.0), 0.0, 1.5);
    v_sparkle = u_fx_sparkle * k * tre;
    // flash: additive white with a fast decay; strong onsets flash brighter. A smaller kick on
    // every beat of the tracker makes the beat visible where its onset is weak or missed
    float since_beat = u_bpm > 0.0 ? u_beat_phase * 60.0 / u_bpm : 1000.0;
    v_flash = u_fx_flash * k * (u_onset * exp(-u_since_onset * 9.0) + 0.35 * exp(-since_beat * 12.0));
    v_level = clamp(u_fade, 0.0, 1.0) * (1.0 - step(0.5, u_blackout));
    v_kaleido_seg = u_fx_kaleido > 0.001 ? 6.2831853 / floor(2.0 + u_fx_kaleido * 10.0) : 0.0;
    v_spin = 0.2 * u_time;
}

//--- fragment
in vec2 v_uv;
flat in mat3 v_color;
flat in float v_contrast;
flat in float v_sparkle;
flat in float v_flash;
flat in float v_level;
flat in float v_kaleido_seg;
flat in float v_spin;
out vec4 f_color;

float hash(vec2 p) {
    p = fract(p * vec2(123.34, 456.21));
    p += dot(p, p + 45.32);
    return fract(p.x * p.y);
}

void main() {
    vec2 uv = v_uv;
    if (v_kaleido_seg > 0.0) {
        float aspect = u_resolution.x / max(u_resolution.y, 1.0);
        vec2 p = (uv - 0.5) * vec2(aspect, 1.0);
        float r = length(p);
        float a = mod(atan(p.y, p.x) + v_spin, v_kaleido_seg);
        a = min(a, v_kaleido_seg - a);                 // mirror inside each segment
        vec2 q = vec2(cos(a), sin(a)) * r / vec2(aspect, 1.0) + 0.5;
        uv = mix(uv, q, clamp(u_fx_kaleido * 4.0, 0.0, 1.0));
    }
    vec4 t = texture(u_source, uv);
    vec3 c = clamp(v_color * t.rgb, 0.0, 1.0);
    c = mix(c, c * c * (3.0 - 2.0 * c), v_contrast);
    if (v_sparkle > 0.001) {
        // edges: trails.glsl leaves its edge strength (screen-space derivatives at the
        // internal resolution, per 1/360 of the height) in alpha, squared back here
        c += vec3(t.a * t.a * v_sparkle * 2.0);
        // sparkles: a sparse grid of cells (1/160 of the height) light up on bright spots,
        // re-rolled 12 times a second
        float h = hash(floor(uv * u_resolution * (160.0 / u_resolution.y)) + floor(u_time * 12.0));
        c += vec3(step(1.0 - 0.012 * v_sparkle, h) * smoothstep(0.35, 0.9, dot(c, vec3(0.333)))) * 1.2;
    }
    c = min(c + v_flash * (0.55 + 0.45 * c), vec3(1.0));
    vec2 d = v_uv - 0.5;
    c *= (1.0 - 0.35 * dot(d, d)) * v_level;       // soft vignette, fade, blackout
    f_color = vec4(c, 1.0);
}
