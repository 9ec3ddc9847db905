"""Text labels for faces: pygame.font renders, the result becomes a GL texture."""

from __future__ import annotations

import os

import numpy as np
from OpenGL import GL

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from ..net.pixelformat import U8Array

_FONTS: dict[int, pygame.font.Font] = {}


def _font(size: int) -> pygame.font.Font:
    if not pygame.font.get_init():
        pygame.font.init()
    font = _FONTS.get(size)
    if font is None:
        font = _FONTS[size] = pygame.font.Font(None, size)
    return font


def render_text(lines: list[str], size: int = 40, pad: int = 10) -> U8Array:
    """Lines of white text on a translucent dark box as an (h, w, 4) RGBA array."""
    font = _font(size)
    rendered = [font.render(line or " ", True, (255, 255, 255)) for line in lines]
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


class LabelTexture:
    """A texture holding one label; re-rendered only when its text changes."""

    def __init__(self) -> None:
        self.id = int(GL.glGenTextures(1))
        self.lines: list[str] | None = None
        self.size = (1, 1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        for pname, value in (
            (GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR),
            (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR),
            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
        ):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, pname, value)

    def set(self, lines: list[str]) -> None:
        if lines == self.lines:
            return
        self.lines = list(lines)
        rgba = render_text(lines)
        h, w = rgba.shape[:2]
        self.size = (w, h)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGBA,
                        GL.GL_UNSIGNED_BYTE, np.ascontiguousarray(rgba))

    def delete(self) -> None:
        GL.glDeleteTextures([self.id])
