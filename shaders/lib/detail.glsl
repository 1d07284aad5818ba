// Fine structure made at the output resolution that moves with the picture (included by
// finish.glsl and every look's final pass; not a pass of its own).
//
// engrave(c, amount): contour lines of the picture's luminance, like the lines of a map:
// where the picture changes they crowd together, where it is flat they part; each line is
// about one output pixel wide at any resolution (screen-space derivatives), darker on bright
// parts. They are the picture's own level sets, so they move and morph with it (no noise).

float engrave_luma(vec3 c) { return dot(c, vec3(0.2126, 0.7152, 0.0722)); }

vec3 engrave(vec3 c, float amount) {
    if (amount <= 0.001) return c;
    float l = engrave_luma(c);
    // levels: ~22 over the luminance range, plus a colour term so that hue borders of equal
    // brightness get lines too
    float s = l * (24.0 + 24.0 * amount) + 4.0 * (c.r - c.b);
    float w = max(fwidth(s), 1e-4);
    float f = fract(s);
    float dist = min(f, 1.0 - f) / w;                 // distance to the nearest level, in pixels
    float line = 1.0 - smoothstep(0.5, 1.5, dist);
    line *= smoothstep(0.9, 0.35, w);                 // where lines would merge, leave the picture
    float a = clamp(amount, 0.0, 1.0) * line;
    // dark lines on light parts, light lines on dark parts: visible everywhere
    return mix(c, mix(vec3(0.75) * (1.0 - l), c * 0.3, step(0.3, l)), 0.6 * a);
}
