// The vertex half of a look's final pass: a fullscreen triangle, and everything that depends
// only on uniforms computed once per vertex (3 times a frame) and handed on flat:
// colour matrix (hue from centroid + chroma, saturation from the mids), contrast (bass),
// flash level (onset + a small kick on each beat), sharpening (treble), master level.
// Use: in the vertex section, #include of look_vertex.glsl then call look_vertex() in main.
out vec2 v_uv;
flat out mat3 v_color;
flat out float v_contrast;
flat out float v_flash;
flat out float v_sharp;
flat out float v_level;
flat out float v_kick;
flat out float v_detail;        // contour-line strength (fx.detail, more with the treble)          // 1 on the beat, decaying over the beat (bass-weighted)

void look_vertex() {
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    v_uv = p * 0.5 + 0.5;
    gl_Position = vec4(p, 0.0, 1.0);
    float k = u_intensity;
    float hue = hue_angle(k, u_fx_hue, u_time, u_centroid_norm, u_chroma_vec);
    float ca = cos(hue), sa = sin(hue);
    const float a = 0.57735027;
    mat3 cross_k = mat3(0.0, a, -a,  -a, 0.0, a,  a, -a, 0.0);
    mat3 rot = ca * mat3(1.0) + sa * cross_k + (1.0 - ca) * outerProduct(vec3(a), vec3(a));
    float sat = saturation_factor(k, u_fx_saturation, u_mid, u_mid_att);
    mat3 satm = sat * mat3(1.0) + (1.0 - sat) * outerProduct(vec3(1.0), vec3(0.2126, 0.7152, 0.0722));
    v_color = satm * rot;
    v_contrast = contrast_amount(k, u_fx_contrast, u_bass_att);
    float tre = treble_drive(u_treble, u_treble_att);
    v_sharp = 0.55 + 0.9 * u_fx_sparkle * k * tre;
    v_flash = flash_level(k, u_fx_flash, u_onset, u_since_onset, u_bpm, u_beat_phase);
    float since_beat = u_bpm > 0.0 ? u_beat_phase * 60.0 / u_bpm : 1000.0;
    v_kick = exp(-since_beat * 6.0) * clamp(0.4 + 0.6 * u_bass_att, 0.0, 2.0) * k;
    v_detail = clamp(u_fx_detail * k * (0.7 + 0.5 * tre), 0.0, 1.5);
    v_level = master_level(u_fade, u_blackout);
}
