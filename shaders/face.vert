#version 330 core
// One prism face: rest-frame position and texture coordinate, placed by the MVP matrix.
layout(location = 0) in vec3 position;
layout(location = 1) in vec2 texcoord;
uniform mat4 mvp;
out vec2 uv;

void main() {
    uv = texcoord;
    gl_Position = mvp * vec4(position, 1.0);
}
