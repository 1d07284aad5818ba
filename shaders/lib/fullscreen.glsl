// Vertex stage only (include it after the vertex marker): one triangle that covers the
// target, (-1,-1) (3,-1) (-1,3), drawn from 3 vertices and no buffer. Sets gl_Position and
// returns the 0..1 texture coordinate.
vec2 fullscreen_triangle() {
    vec2 p = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    gl_Position = vec4(p, 0.0, 1.0);
    return p * 0.5 + 0.5;
}
