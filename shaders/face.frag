#version 330 core
// A session's desktop with its label strip composited on top, at the face's opacity.
in vec2 uv;
uniform sampler2D screen;      // the session framebuffer (RGBX)
uniform sampler2D label;       // name/state text, straight alpha
uniform bool has_screen;       // false until the first frame arrives
uniform vec4 label_rect;       // label placement in uv: x0, y0, x1, y1
uniform sampler2D cursor;      // the session's cursor shape, straight alpha
uniform vec4 cursor_rect;      // cursor placement in uv (outside [0,1] when hidden)
uniform vec3 placeholder;      // face colour without a screen
uniform float dim;             // 0 = live, up to 1 = darkened (disconnected)
uniform float opacity;
out vec4 colour;

void main() {
    vec3 rgb = has_screen ? texture(screen, uv).rgb : placeholder;
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
