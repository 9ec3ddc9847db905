"""The decoded desktop: an RGBX numpy array plus the damaged region since the last take."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .errors import ProtocolError
from .pixelformat import U8Array

MAX_SIDE = 16384  # widest or tallest desktop accepted
MAX_PIXELS = 8192 * 8192  # 256 MiB of RGBX; ClientOptions.max_pixels can change it


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in framebuffer pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def union(self, other: Rect) -> Rect:
        if self.area == 0:
            return other
        if other.area == 0:
            return self
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1 = max(self.x + self.w, other.x + other.w)
        y1 = max(self.y + self.h, other.y + other.h)
        return Rect(x0, y0, x1 - x0, y1 - y0)


class Framebuffer:
    """Holds the session's pixels; writers record damage, the renderer takes it.

    Writes and `take_damage` are serialised by `lock`, so the render thread sees a
    consistent array and size; pixel tearing inside one frame is accepted, as in any
    VNC viewer.
    """

    def __init__(self, width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
        self.lock = threading.Lock()
        self.max_pixels = max_pixels
        self.pixels: U8Array = np.zeros((0, 0, 4), dtype=np.uint8)
        self.generation = 0
        # Damaged bounds as x0, y0, x1, y1 (kept as ints: decoders add damage per rectangle).
        self._damage: tuple[int, int, int, int] | None = None
        self.resize(width, height)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def resize(self, width: int, height: int) -> None:
        """Reallocate for a new desktop size; old content is kept where it still fits."""
        if not (0 <= width <= MAX_SIDE and 0 <= height <= MAX_SIDE):
            raise ProtocolError(
                f"framebuffer size {width}x{height} exceeds the {MAX_SIDE}-pixel side limit"
            )
        if width * height > self.max_pixels:
            raise ProtocolError(
                f"framebuffer size {width}x{height} exceeds the limit of "
                f"{self.max_pixels * 4 >> 20} MiB"
            )
        new = np.zeros((height, width, 4), dtype=np.uint8)
        with self.lock:
            h = min(height, self.pixels.shape[0])
            w = min(width, self.pixels.shape[1])
            new[:h, :w] = self.pixels[:h, :w]
            self.pixels = new
            self.generation += 1
            self._damage = (0, 0, width, height)

    def check(self, x: int, y: int, w: int, h: int, what: str = "rectangle") -> None:
        """Raise ProtocolError unless the rectangle lies inside the framebuffer."""
        if x + w > self.width or y + h > self.height:
            raise ProtocolError(
                f"{what} {w}x{h}+{x}+{y} outside the {self.width}x{self.height} framebuffer"
            )

    def damage(self, x: int, y: int, w: int, h: int) -> None:
        """Record that a region changed (caller holds `lock` or is the only writer)."""
        d = self._damage
        if d is None or d[0] == d[2] or d[1] == d[3]:  # none yet, or an empty one
            self._damage = (x, y, x + w, y + h)
        elif w and h:
            self._damage = (
                min(d[0], x), min(d[1], y), max(d[2], x + w), max(d[3], y + h)
            )

    def put(self, x: int, y: int, w: int, h: int, rgbx: U8Array) -> None:
        """Write a block of w*h RGBX pixels (any shape that reshapes to (h, w, 4))."""
        with self.lock:
            self.pixels[y : y + h, x : x + w] = rgbx.reshape(h, w, 4)
            self.damage(x, y, w, h)

    def fill(self, x: int, y: int, w: int, h: int, colour: U8Array) -> None:
        """Fill a rectangle with one RGBX colour."""
        # As one uint32 word per pixel: numpy fills words far faster than 4-byte rows.
        word = np.ascontiguousarray(colour, dtype=np.uint8).view(np.uint32)[0]
        with self.lock:
            self.pixels[y : y + h, x : x + w].view(np.uint32)[..., 0] = word
            self.damage(x, y, w, h)

    def copy(self, sx: int, sy: int, x: int, y: int, w: int, h: int) -> None:
        """CopyRect: copy a region inside the framebuffer (overlap safe)."""
        with self.lock:
            src = self.pixels[sy : sy + h, sx : sx + w].copy()
            self.pixels[y : y + h, x : x + w] = src
            self.damage(x, y, w, h)

    def take_damage(self) -> Rect | None:
        """Return and clear the damaged region (the renderer calls this once per frame)."""
        with self.lock:
            return self.take_damage_locked()

    def take_damage_locked(self) -> Rect | None:
        """`take_damage` for a caller that already holds `lock`."""
        d, self._damage = self._damage, None
        return None if d is None else Rect(d[0], d[1], d[2] - d[0], d[3] - d[1])


class Coverage:
    """Which pixels a run of updates has painted: tells when a first full frame is in."""

    def __init__(self, width: int, height: int) -> None:
        self.mask = np.zeros((height, width), dtype=bool)

    def add(self, rects: Iterable[Rect]) -> bool:
        """Mark rectangles painted; True once every pixel has been."""
        for r in rects:
            self.mask[r.y : r.y + r.h, r.x : r.x + r.w] = True
        return bool(self.mask.all())
