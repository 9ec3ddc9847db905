"""Text labels for faces: pygame.font renders, the result becomes a GL texture."""

from __future__ import annotations

import os

import numpy as np
from OpenGL import GL

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from ..net.pixelformat import U8Array

_FONTS: dict[int, pygame.font.Font] = {}


def font(size: int) -> pygame.font.Font:
    """pygame's default font at `size` pixels, loaded once."""
    if not pygame.font.get_init():
        pygame.font.init()
    loaded = _FONTS.get(size)
    if loaded is None:
        loaded = _FONTS[size] = pygame.font.Font(None, size)
    return loaded


MAX_LINE_CHARS = 200  # a label line is cut (with an ellipsis) beyond this
MAX_TEXT_WIDTH = 4096  # nor may it be wider than this many pixels (any GL 3 texture holds it)


def fit_line(f: pygame.font.Font, text: str, width: int) -> str:
    """`text` on one line, cut with an ellipsis to MAX_LINE_CHARS and to `width` pixels."""
    text = " ".join(text.split())  # one line: server text may carry any whitespace
    if len(text) > MAX_LINE_CHARS:
        text = text[: MAX_LINE_CHARS - 1] + "\u2026"
    if f.size(text)[0] <= width:
        return text
    lo, hi = 0, len(text)  # the longest prefix that fits with its ellipsis: binary search
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if f.size(text[:mid] + "\u2026")[0] <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "\u2026"


def render_text(lines: list[str], size: int = 40, pad: int = 10,
                max_width: int = MAX_TEXT_WIDTH) -> U8Array:
    """Lines of white text on a translucent dark box as an (h, w, 4) RGBA array, each
    line cut to fit `max_width` pixels."""
    f = font(size)
    room = max(1, max_width - 2 * pad)
    rendered = [f.render(fit_line(f, line, room) or " ", True, (255, 255, 255))
                for line in lines]
    w = max(s.get_width() for s in rendered) + 2 * pad
    h = sum(s.get_height() for s in rendered) + 2 * pad
    box = pygame.Surface((w, h), pygame.SRCALPHA)
    box.fill((0, 0, 0, 170))
    y = pad
    for s in rendered:
        box.blit(s, (pad, y))
        y += s.get_height()
    data = pygame.image.tobytes(box, "RGBA")
    return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 4)


_MAX_TEXTURE: list[int] = []


def max_texture_size() -> int:
    """GL_MAX_TEXTURE_SIZE of the current context, asked once."""
    if not _MAX_TEXTURE:
        _MAX_TEXTURE.append(int(GL.glGetIntegerv(GL.GL_MAX_TEXTURE_SIZE)))
    return _MAX_TEXTURE[0]


class ImageTexture:
    """A small RGBA texture replaced whole whenever its source changes."""

    def __init__(self, nearest: bool = False) -> None:
        self.id = int(GL.glGenTextures(1))
        self.key: object = None
        self.size = (0, 0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        filt = GL.GL_NEAREST if nearest else GL.GL_LINEAR
        for pname, value in (
            (GL.GL_TEXTURE_MIN_FILTER, filt),
            (GL.GL_TEXTURE_MAG_FILTER, filt),
            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
        ):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, pname, value)

    def upload(self, key: object, rgba: U8Array) -> None:
        """Replace the image (bound on the active unit) unless `key` is unchanged; an
        image larger than GL textures can be is cropped to what fits."""
        if key == self.key:
            return
        self.key = key
        rgba = rgba[: max_texture_size(), : max_texture_size()]
        h, w = rgba.shape[:2]
        self.size = (w, h)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
        GL.glPixelStorei(GL.GL_UNPACK_ROW_LENGTH, 0)
        GL.glPixelStorei(GL.GL_UNPACK_SKIP_PIXELS, 0)
        GL.glPixelStorei(GL.GL_UNPACK_SKIP_ROWS, 0)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGBA,
                        GL.GL_UNSIGNED_BYTE, np.ascontiguousarray(rgba))

    def delete(self) -> None:
        GL.glDeleteTextures([self.id])


class LabelTexture(ImageTexture):
    """A texture holding one label; re-rendered only when its text changes."""

    def set(self, lines: list[str]) -> None:
        if lines != self.key:
            self.upload(list(lines), render_text(lines))
