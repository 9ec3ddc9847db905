#version 330 core
// A session's desktop with its label strip composited on top, at the face's opacity.
in vec2 uv;
uniform sampler2D screen;      // the session framebuffer (RGBX), minified as configured
uniform sampler2D screen_exact; // the same texture, level 0 bilinear (no mipmaps, no anisotropy)
uniform sampler2D label;       // name/state text, straight alpha
uniform bool has_screen;       // false until the first frame arrives
uniform vec4 label_rect;       // label placement in uv: x0, y0, x1, y1
uniform sampler2D cursor;      // the session's cursor shape, straight alpha
uniform vec4 cursor_rect;      // cursor placement in uv (outside [0,1] when hidden)
uniform vec3 placeholder;      // face colour without a screen
uniform float dim;             // 0 = live, up to 1 = darkened (disconnected)
uniform float opacity;
out vec4 colour;

// Texels per pixel at most: at 1 or less the face is not shrunk (1:1 zoom, magnified),
// and level 0 is sampled alone, so those pixels are exact whatever the filter does.
const float NOT_SHRUNK = 1.01;

void main() {
    vec2 texels = uv * vec2(textureSize(screen, 0));
    float shrink = max(length(dFdx(texels)), length(dFdy(texels)));
    vec3 rgb = placeholder;
    if (has_screen) {
        rgb = shrink <= NOT_SHRUNK ? texture(screen_exact, uv).rgb : texture(screen, uv).rgb;
    }
    rgb *= 1.0 - 0.6 * dim;
    if (uv.x >= label_rect.x && uv.x <= label_rect.z && uv.y >= label_rect.y
            && uv.y <= label_rect.w) {
        vec2 luv = (uv - label_rect.xy) / (label_rect.zw - label_rect.xy);
        vec4 text = texture(label, luv);
        rgb = mix(rgb, text.rgb, text.a);
    }
    if (uv.x >= cursor_rect.x && uv.x < cursor_rect.z && uv.y >= cursor_rect.y
            && uv.y < cursor_rect.w) {
        vec4 c = texture(cursor, (uv - cursor_rect.xy) / (cursor_rect.zw - cursor_rect.xy));
        rgb = mix(rgb, c.rgb, c.a);
    }
    colour = vec4(rgb, opacity);
}
