"""The status HUD overlay: a text table rendered to a texture a few times a second, drawn on top."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from OpenGL import GL

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from ..net.pixelformat import U8Array
from .labels import MAX_TEXT_WIDTH, ImageTexture, fit_line, font
from .shader import Program

REFRESH_SECONDS = 0.25  # the text is rebuilt at most this often
MARGIN = 12  # pixels between the HUD and the window's top-left corner
BOX = (0, 0, 0, 190)
TITLE_COLOUR = (255, 214, 90)
HEADER_COLOUR = (160, 170, 185)
TEXT_COLOUR = (255, 255, 255)

Table = tuple[str, list[list[str]]]
_CELLS: dict[tuple[str, int, tuple[int, int, int]], pygame.Surface] = {}
CELL_CACHE = 1024  # rendered cells kept: names and headers repeat, figures mostly do not
CELL_WIDTH = MAX_TEXT_WIDTH // 4  # pixels a cell may take (a long reason is cut)


def _text(text: str, size: int, colour: tuple[int, int, int]) -> pygame.Surface:
    """One rendered line of text, from the cache when it was rendered lately."""
    key = (text, size, colour)
    surface = _CELLS.get(key)
    if surface is None:
        if len(_CELLS) >= CELL_CACHE:
            _CELLS.clear()
        f = font(size)
        surface = _CELLS[key] = f.render(fit_line(f, text, CELL_WIDTH) or " ", True, colour)
    return surface


def font_size(viewport: tuple[int, int]) -> int:
    """Text height for a window: readable on a wall, not overwhelming in a small window."""
    return int(min(max(viewport[1] / 36.0, 18.0), 34.0))


def render_table(title: str, rows: list[list[str]], size: int = 22, pad: int = 10) -> U8Array:
    """A title line and a table with aligned columns as an (h, w, 4) RGBA image."""
    gap = size
    title_s = _text(title, size, TITLE_COLOUR)
    cells = [[_text(c, size, HEADER_COLOUR if r == 0 else TEXT_COLOUR) for c in row]
             for r, row in enumerate(rows)]
    cols = max((len(row) for row in cells), default=0)
    widths = [max((row[c].get_width() for row in cells if c < len(row)), default=0)
              for c in range(cols)]
    line = font(size).get_linesize()
    w = max(title_s.get_width(), sum(widths) + gap * max(cols - 1, 0)) + 2 * pad
    h = line * (1 + len(cells)) + 2 * pad
    box = pygame.Surface((w, h), pygame.SRCALPHA)
    box.fill(BOX)
    box.blit(title_s, (pad, pad))
    for r, row in enumerate(cells):
        x = pad
        for c, s in enumerate(row):
            box.blit(s, (x, pad + line * (r + 1)))
            x += widths[c] + gap
    data = pygame.image.tobytes(box, "RGBA")
    return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 4)


class Hud:
    """The HUD's GL objects and text cache (render thread only)."""

    def __init__(self, refresh: float = REFRESH_SECONDS) -> None:
        self.refresh = refresh
        self.program = Program("hud.vert", "hud.frag")
        self.vao = int(GL.glGenVertexArrays(1))  # core profile: a VAO must be bound to draw
        self.texture = ImageTexture(nearest=True)
        self.built_at: float | None = None
        self.builds = 0  # how often the table was rebuilt (the cost is bounded by refresh)
        self.table: Table | None = None
        self.size = 0

    def rect(self) -> tuple[int, int, int, int]:
        """Where the HUD is drawn: x0, y0, x1, y1 in window pixels (y down)."""
        w, h = self.texture.size
        return (MARGIN, MARGIN, MARGIN + w, MARGIN + h)

    def draw(self, viewport: tuple[int, int], now: float, build: Callable[[], Table]) -> None:
        """Rebuild the text if it is due (calling `build`), then draw it over the frame."""
        size = font_size(viewport)
        if self.built_at is None or now - self.built_at >= self.refresh or size != self.size:
            self.built_at, self.size = now, size
            table = build()
            self.builds += 1
            if table != self.table or self.texture.key != size:
                self.table = table
                GL.glActiveTexture(GL.GL_TEXTURE0)
                self.texture.key = None  # a new image even when the size stays
                self.texture.upload(size, render_table(*table, size=size))
        if self.texture.size[0] == 0:
            return
        GL.glViewport(0, 0, viewport[0], viewport[1])
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFuncSeparate(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ZERO, GL.GL_ONE)
        p = self.program
        p.use()
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture.id)
        GL.glUniform1i(p.loc("image"), 0)
        GL.glUniform4f(p.loc("rect"), *(float(v) for v in self.rect()))
        GL.glUniform2f(p.loc("viewport"), float(viewport[0]), float(viewport[1]))
        GL.glBindVertexArray(self.vao)
        GL.glDrawArrays(GL.GL_TRIANGLE_FAN, 0, 4)
        GL.glBindVertexArray(0)
