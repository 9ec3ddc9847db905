#version 330 core
// A screen-space quad from a pixel rectangle, no vertex buffer: corners from gl_VertexID.
uniform vec4 rect;        // x0, y0, x1, y1 in window pixels, y down
uniform vec2 viewport;    // window size in pixels
out vec2 uv;

void main() {
    vec2 corner = vec2(gl_VertexID == 1 || gl_VertexID == 2 ? 1.0 : 0.0,
                       gl_VertexID >= 2 ? 1.0 : 0.0);
    vec2 pixel = mix(rect.xy, rect.zw, corner);
    uv = corner;
    gl_Position = vec4(2.0 * pixel.x / viewport.x - 1.0, 1.0 - 2.0 * pixel.y / viewport.y,
                       0.0, 1.0);
}
