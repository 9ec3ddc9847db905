"""Pure geometry of the grid layout: rows and columns, tile rectangles, aspect fit, picking."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

# Screen coordinates are window pixels, origin at the top-left corner, y growing
# downwards, continuous as in prism.py: pixel (x, y) covers [x, x + 1) x [y, y + 1).
# Texture coordinates (u, v) put (0, 0) at a session's top-left corner, (1, 1) bottom-right.

DEFAULT_ASPECT = 1280 / 800
"""The face shape assumed when choosing rows and columns before sessions report sizes."""


def default_gap(viewport: tuple[int, int]) -> int:
    """Pixels between tiles and round the edge: 1% of the shorter side, at least 4."""
    return max(4, round(0.01 * min(viewport)))


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in window pixels: left, top, width, height."""

    x: float
    y: float
    w: float
    h: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    def contains(self, sx: float, sy: float) -> bool:
        return self.x <= sx < self.x + self.w and self.y <= sy < self.y + self.h

    def uv(self, sx: float, sy: float) -> tuple[float, float]:
        """Texture coordinate of a screen point (not clamped)."""
        return ((sx - self.x) / self.w, (sy - self.y) / self.h)

    def point(self, u: float, v: float) -> tuple[float, float]:
        """Screen point of a texture coordinate."""
        return (self.x + u * self.w, self.y + v * self.h)

    def grown(self, by: float) -> Rect:
        return Rect(self.x - by, self.y - by, self.w + 2 * by, self.h + 2 * by)

    def lerp(self, other: Rect, t: float) -> Rect:
        """The rectangle a fraction t of the way from this one to `other`."""
        return Rect(self.x + (other.x - self.x) * t, self.y + (other.y - self.y) * t,
                    self.w + (other.w - self.w) * t, self.h + (other.h - self.h) * t)


def grid_shape(n: int, viewport_aspect: float,
               aspects: Sequence[float] | None = None) -> tuple[int, int]:
    """(rows, cols) that make n faces as large as possible in a window of that aspect.

    Each candidate column count c gives r = ceil(n / c) rows; the score is the area a
    face of the mean aspect covers when fitted in one cell. Ties go to fewer empty cells,
    then to more columns (a wide wall).
    """
    if n < 1:
        raise ValueError("a grid needs at least one face")
    if not (math.isfinite(viewport_aspect) and viewport_aspect > 0):
        raise ValueError(f"bad viewport aspect {viewport_aspect}")
    face = sum(aspects) / len(aspects) if aspects else DEFAULT_ASPECT
    best: tuple[float, int, int] | None = None
    shape = (1, 1)
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        cell_w, cell_h = viewport_aspect / cols, 1.0 / rows
        scale = min(cell_w / face, cell_h)
        key = (round(scale * scale * face, 12), -(rows * cols - n), cols)
        if best is None or key > best:
            best, shape = key, (rows, cols)
    return shape


def fit(outer: Rect, width: int, height: int) -> Rect:
    """The largest rectangle of aspect width/height centred in `outer`, on whole pixels.

    Its size is rounded down, so it never pokes out of `outer` by more than half a pixel.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"bad size {width}x{height}")
    scale = min(outer.w / width, outer.h / height)
    w = max(1, math.floor(width * scale + 1e-9))
    h = max(1, math.floor(height * scale + 1e-9))
    x = round(outer.x + (outer.w - w) / 2.0)
    y = round(outer.y + (outer.h - h) / 2.0)
    return Rect(float(x), float(y), float(w), float(h))


def one_to_one(viewport: tuple[int, int], width: int, height: int) -> Rect:
    """A session shown at 1:1 pixels in the window's centre, or fitted if it is bigger."""
    vw, vh = viewport
    if width <= vw and height <= vh:
        return Rect(float((vw - width) // 2), float((vh - height) // 2), float(width),
                    float(height))
    return fit(Rect(0.0, 0.0, float(vw), float(vh)), width, height)


class GridHit(NamedTuple):
    """A tile under a screen point and the texture coordinate there (v = 0 at the top)."""

    tile: int
    u: float
    v: float


@dataclass(frozen=True)
class Grid:
    """N faces in rows and columns: `cells` are the tiles, `contents` each session fitted."""

    viewport: tuple[int, int]
    rows: int
    cols: int
    gap: int
    cells: tuple[Rect, ...]
    contents: tuple[Rect, ...]

    @classmethod
    def layout(cls, sizes: Sequence[tuple[int, int]], viewport: tuple[int, int],
               gap: int | None = None) -> Grid:
        """Tiles for sessions of these (width, height) sizes; a short last row is centred."""
        if not sizes:
            raise ValueError("a grid needs at least one face")
        vw, vh = viewport
        if vw <= 0 or vh <= 0:
            raise ValueError(f"bad viewport {viewport}")
        if not all(w > 0 and h > 0 for w, h in sizes):
            raise ValueError(f"session sizes must be positive: {list(sizes)}")
        n = len(sizes)
        g = default_gap(viewport) if gap is None else gap
        rows, cols = grid_shape(n, vw / vh, [w / h for w, h in sizes])
        # Never let the gaps eat the tiles in a tiny window.
        g = min(g, int(vw / (4 * cols + 1)), int(vh / (4 * rows + 1)))
        cell_w = (vw - (cols + 1) * g) / cols
        cell_h = (vh - (rows + 1) * g) / rows
        # Cells take the faces' mean shape, and the block of them sits in the middle:
        # no wide bands of background between rows (or columns) of letterboxed tiles.
        face = sum(w / h for w, h in sizes) / n
        if cell_w / cell_h > face:
            cell_w = cell_h * face
        else:
            cell_h = cell_w / face
        x0 = (vw - cols * cell_w - (cols - 1) * g) / 2.0
        y0 = (vh - rows * cell_h - (rows - 1) * g) / 2.0
        cells = []
        for i in range(n):
            row, col = divmod(i, cols)
            in_row = min(cols, n - row * cols)
            shift = (cols - in_row) * (cell_w + g) / 2.0  # centre a short last row
            cells.append(Rect(x0 + col * (cell_w + g) + shift, y0 + row * (cell_h + g),
                              cell_w, cell_h))
        contents = tuple(fit(c, w, h) for c, (w, h) in zip(cells, sizes, strict=True))
        return cls((vw, vh), rows, cols, g, tuple(cells), contents)

    @property
    def n(self) -> int:
        return len(self.cells)

    def tile_at(self, sx: float, sy: float) -> int | None:
        """The tile whose cell holds a screen point (gaps between tiles: None)."""
        for i, cell in enumerate(self.cells):
            if cell.contains(sx, sy):
                return i
        return None

    def pick(self, sx: float, sy: float) -> GridHit | None:
        """The session picture under a screen point and the texture coordinate there."""
        for i, rect in enumerate(self.contents):
            if rect.contains(sx, sy):
                u, v = rect.uv(sx, sy)
                return GridHit(i, u, v)
        return None

    def project(self, tile: int, u: float, v: float) -> tuple[float, float]:
        """Screen point of texture coordinate (u, v) of a tile's picture."""
        return self.contents[tile].point(u, v)
