"""The decoded desktop: an RGBX numpy array plus the damaged region since the last take."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from .errors import ProtocolError
from .pixelformat import U8Array
from .rect import Rect as Rect

if TYPE_CHECKING:  # mipmap's box filter lives in the decoders' accelerator, which imports us
    from .mipmap import MipChain

MAX_SIDE = 16384  # widest or tallest desktop accepted
MAX_PIXELS = 8192 * 8192  # 256 MiB of RGBX; ClientOptions.max_pixels can change it


class Framebuffer:
    """Holds the session's pixels; writers record damage, the renderer takes it.

    Writes and `take_damage` are serialised by `lock`, so the render thread sees a
    consistent array and size; pixel tearing inside one frame is accepted, as in any
    VNC viewer.

    While `keep_levels` is set (the renderer sets it for a mipmapped texture), the
    writer's `end_update` recomputes the mipmap levels (`mips`) over what the update
    damaged, on the writer's thread, and records each level's changed rectangle for
    `take_level_damage_locked`: the render thread only uploads.
    """

    def __init__(self, width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
        self.lock = threading.Lock()
        self.max_pixels = max_pixels
        self.pixels: U8Array = np.zeros((0, 0, 4), dtype=np.uint8)
        self.generation = 0
        # Damaged bounds as x0, y0, x1, y1 (kept as ints: decoders add damage per rectangle).
        self._damage: tuple[int, int, int, int] | None = None
        self.keep_levels = False
        self.mips: MipChain | None = None
        self._level_pending: tuple[int, int, int, int] | None = None  # not yet in `mips`
        self._level_damage: list[Rect] = []  # per level 1, 2, ...: changed, not yet taken
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
            self._damage = self._level_pending = (0, 0, width, height)
            self.mips = None
            self._level_damage = []

    def check(self, x: int, y: int, w: int, h: int, what: str = "rectangle") -> None:
        """Raise ProtocolError unless the rectangle lies inside the framebuffer."""
        if x + w > self.width or y + h > self.height:
            raise ProtocolError(
                f"{what} {w}x{h}+{x}+{y} outside the {self.width}x{self.height} framebuffer"
            )

    def damage(self, x: int, y: int, w: int, h: int) -> None:
        """Record that a region changed (caller holds `lock` or is the only writer)."""
        self._damage = _grow(self._damage, x, y, w, h)
        self._level_pending = _grow(self._level_pending, x, y, w, h)

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

    def end_update(self) -> None:
        """The writer finished a batch of writes (one FramebufferUpdate): bring the
        mipmap levels up to date while `keep_levels` is set, else drop them."""
        with self.lock:
            self.refresh_levels_locked()

    def refresh_levels_locked(self) -> None:
        """`end_update`'s work for a caller that holds `lock`; the renderer calls it for
        a texture it (re)allocates before the writer has run it."""
        if not self.keep_levels:
            self.mips = None
            self._level_damage = []
            return
        from .mipmap import MipChain

        h, w = self.pixels.shape[:2]
        if self.mips is None or (self.mips.width, self.mips.height) != (w, h):
            self.mips = MipChain.allocate(w, h)
            self._level_pending = (0, 0, w, h)
            self._level_damage = []
        d, self._level_pending = self._level_pending, None
        if d is None or d[2] <= d[0] or d[3] <= d[1]:
            return
        changed = self.mips.update(self.pixels, Rect(d[0], d[1], d[2] - d[0], d[3] - d[1]))
        kept = self._level_damage
        for level, rect in enumerate(changed):
            if level < len(kept):
                kept[level] = kept[level].union(rect)
            else:
                kept.append(rect)

    def take_level_damage_locked(self) -> list[Rect]:
        """Return and clear the changed rectangle of mipmap level 1, 2, ... (caller holds
        `lock`); what is in `mips` over them is what to upload."""
        taken, self._level_damage = self._level_damage, []
        return taken


def _grow(d: tuple[int, int, int, int] | None, x: int, y: int, w: int,
          h: int) -> tuple[int, int, int, int] | None:
    """Bounds `d` (x0, y0, x1, y1) grown by a w x h rectangle at x, y."""
    if d is None or d[0] == d[2] or d[1] == d[3]:  # none yet, or an empty one
        return (x, y, x + w, y + h)
    if w and h:
        return (min(d[0], x), min(d[1], y), max(d[2], x + w), max(d[3], y + h))
    return d


class Coverage:
    """Which pixels a run of updates has painted: tells when a first full frame is in."""

    def __init__(self, width: int, height: int) -> None:
        self.mask = np.zeros((height, width), dtype=bool)

    def add(self, rects: Iterable[Rect]) -> bool:
        """Mark rectangles painted; True once every pixel has been."""
        for r in rects:
            self.mask[r.y : r.y + r.h, r.x : r.x + r.w] = True
        return bool(self.mask.all())
