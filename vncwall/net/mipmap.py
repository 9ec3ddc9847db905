"""A framebuffer's mipmap levels, kept up to date for damaged rectangles only.

Level l is (max(1, w >> l), max(1, h >> l)) pixels, as GL sizes it; each of its pixels is
the rounded mean of the 2x2 block under it on level l-1 (a box filter: repeated, it is
the area average of level 0 over a 2^l block). A level whose width (or height) is 1 on
a side that still halves averages that column (row) with itself. The last column or
row of an odd-sized level has no pixel above it and is dropped, as GL's own
generateMipmap does for such sizes.

Each damaged rectangle on level 0 becomes the (smaller) rectangle of every level that
covers it, so the work per update is about 4/3 of the damage whatever the texture size.
The 2x2 means run in the compiled accelerator when it is built, else in numpy; both give
the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .decoders import accel
from .pixelformat import U8Array
from .rect import Rect


def level_count(width: int, height: int) -> int:
    """How many levels a full chain for a width x height texture has (level 0 included)."""
    return max(width, height, 1).bit_length()


def level_size(width: int, height: int, level: int) -> tuple[int, int]:
    """Width and height of `level` of a width x height texture."""
    return max(1, width >> level), max(1, height >> level)


def parent_rect(rect: Rect, size: tuple[int, int]) -> Rect:
    """The rectangle of the next level (of `size`) that a changed `rect` below touches."""
    w, h = size
    x0, y0 = min(rect.x >> 1, w), min(rect.y >> 1, h)
    x1, y1 = min((rect.x + rect.w + 1) >> 1, w), min((rect.y + rect.h + 1) >> 1, h)
    if x1 <= x0 or y1 <= y0:
        return Rect(0, 0, 0, 0)
    return Rect(x0, y0, x1 - x0, y1 - y0)


def _pairs(lo: int, hi: int, below: int) -> tuple[slice, slice]:
    """Slices of the lower level's first and second pixel of each pair in [lo, hi)."""
    if below == 1:  # this side no longer halves: the one pixel is its own pair
        return slice(0, 1), slice(0, 1)
    return slice(2 * lo, 2 * hi, 2), slice(2 * lo + 1, 2 * hi, 2)


def box_numpy(src: U8Array, dst: U8Array, rect: Rect) -> None:
    """dst[rect] = rounded 2x2 means of src under it (the numpy path)."""
    (ya, yb), (xa, xb) = (
        _pairs(rect.y, rect.y + rect.h, src.shape[0]),
        _pairs(rect.x, rect.x + rect.w, src.shape[1]),
    )
    acc = src[ya, xa].astype(np.uint16)
    acc += src[ya, xb]
    acc += src[yb, xa]
    acc += src[yb, xb]
    acc += 2
    acc >>= 2
    dst[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w] = acc


def box_filter(src: U8Array, dst: U8Array, rect: Rect) -> None:
    """dst[rect] = rounded 2x2 means of src under it (compiled when built)."""
    compiled = accel.module()
    if compiled is None:
        box_numpy(src, dst, rect)
    else:
        compiled.box2x2(src, dst, rect.x, rect.y, rect.w, rect.h)


@dataclass
class MipChain:
    """Levels 1.. of one texture, on the CPU, for uploading what changed."""

    width: int
    height: int
    levels: list[U8Array]

    @classmethod
    def allocate(cls, width: int, height: int) -> MipChain:
        levels = []
        for level in range(1, level_count(width, height)):
            w, h = level_size(width, height, level)
            levels.append(np.zeros((h, w, 4), dtype=np.uint8))
        return cls(width, height, levels)

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.levels)

    def update(self, base: U8Array, rect: Rect) -> list[Rect]:
        """Recompute every level over what `rect` of level 0 (`base`) changed.

        Returns the changed rectangle of level 1, 2, ... (empty ones ending the list).
        """
        changed: list[Rect] = []
        below = base
        for dst in self.levels:
            rect = parent_rect(rect, (dst.shape[1], dst.shape[0]))
            if rect.area == 0:
                break
            box_filter(below, dst, rect)
            changed.append(rect)
            below = dst
        return changed
