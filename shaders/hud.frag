#version 330 core
// The status HUD: its pre-rendered text image, straight alpha, over the wall.
in vec2 uv;
uniform sampler2D image;
out vec4 colour;

void main() {
    colour = texture(image, uv);
}
