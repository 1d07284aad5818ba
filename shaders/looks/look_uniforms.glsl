// Uniforms every look's final pass may use (see shaders/README.md for their meaning).
// Included in the common part of a look pass: #include of look_uniforms.glsl.
uniform sampler2D u_source;     // previous pass (internal resolution on software GL); alpha = edge strength
uniform vec2 u_resolution;      // output size in pixels
uniform float u_time;
uniform float u_dt;
uniform float u_rms;
uniform float u_bass;
uniform float u_bass_att;
uniform float u_mid;
uniform float u_mid_att;
uniform float u_treble;
uniform float u_treble_att;
uniform float u_centroid_norm;
uniform vec2 u_chroma_vec;
uniform float u_onset;
uniform float u_since_onset;
uniform float u_onset_count;
uniform float u_beat_phase;
uniform float u_bar_phase;
uniform float u_beat_count;
uniform float u_bpm;
uniform float u_intensity;
uniform float u_fx_hue;
uniform float u_fx_saturation;
uniform float u_fx_contrast;
uniform float u_fx_flash;
uniform float u_fx_sparkle;
uniform float u_fx_detail;     // fine structure at the output resolution (contour lines)
uniform float u_fade;
uniform float u_blackout;

#include "../lib/grade.glsl"
