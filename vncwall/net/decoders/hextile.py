"""Hextile encoding (5): 16x16 tiles, each raw or RRE-like (RFC 6143 section 7.7.4).

The compiled accelerator, when built, parses whole tiles from the buffered bytes;
otherwise each tile is read and painted with numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..constants import Encoding
from ..errors import ProtocolError
from ..framebuffer import Rect
from ..pixelformat import U8Array
from ..stream import Reader
from . import accel
from .base import DecodeContext, Decoder

RAW = 1
BACKGROUND_SPECIFIED = 2
FOREGROUND_SPECIFIED = 4
ANY_SUBRECTS = 8
SUBRECTS_COLOURED = 16
_VALID = RAW | BACKGROUND_SPECIFIED | FOREGROUND_SPECIFIED | ANY_SUBRECTS | SUBRECTS_COLOURED

TILE = 16
# From this many single-pixel subrectangles of one colour on, a tile paints them
# with one fancy-indexed assignment instead of a slice assignment each.
_VECTOR_MIN = 16

U32Array = npt.NDArray[np.uint32]


def _words(rgbx: U8Array) -> list[int]:
    """RGBX colours as the native uint32 values a uint32 view of the pixels holds."""
    words: list[int] = np.ascontiguousarray(rgbx).view(np.uint32).reshape(-1).tolist()
    return words


def _paint_tile(tile: U32Array, xy: bytes, wh: bytes, colours: list[int]) -> None:
    """Paint subrectangles into a tile in order, later ones winning.

    `xy` and `wh` hold one byte per subrectangle (x, y and w-1, h-1 as nibbles);
    `colours` one colour per subrectangle, or a single one for all of them. A tile
    has at most 255 subrectangles, so a slice assignment each is bounded work.
    """
    th, tw = tile.shape
    n = len(xy)
    if len(colours) == 1:
        if n >= _VECTOR_MIN and wh.count(0) == n:
            # All 1x1 in one colour (text, thin lines): order does not matter.
            pos = np.frombuffer(xy, dtype=np.uint8)
            xs, ys = pos >> 4, pos & 15
            if (xs >= tw).any() or (ys >= th).any():
                i = int(np.argmax((xs >= tw) | (ys >= th)))
                raise _outside(int(xs[i]), int(ys[i]), 1, 1, tw, th)
            tile[ys, xs] = colours[0]
            return
        colours = colours * n
    for p, s, c in zip(xy, wh, colours, strict=True):
        x, y = p >> 4, p & 15
        xe, ye = x + (s >> 4) + 1, y + (s & 15) + 1
        if xe > tw or ye > th:
            raise _outside(x, y, xe - x, ye - y, tw, th)
        tile[y:ye, x:xe] = c


def _outside(x: int, y: int, w: int, h: int, tw: int, th: int) -> ProtocolError:
    return ProtocolError(f"hextile: subrectangle {w}x{h}+{x}+{y} outside the {tw}x{th} tile")


class HextileDecoder(Decoder):
    ENCODING = Encoding.HEXTILE

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        if rect.area == 0:
            return
        acc, spec = accel.prepare(ctx)
        if acc is not None and spec is not None:
            yield from _decode_compiled(acc, spec, rect, ctx)
        else:
            yield from _decode_pure(rect, ctx)


def _decode_compiled(
    acc: accel.Accel, spec: accel.FmtSpec, rect: Rect, ctx: DecodeContext
) -> Reader[None]:
    """Whole tiles from the buffered bytes by the compiled loop (see accel.drive_tiles);
    the background, foreground and last subencoding carry from one call to the next."""
    fb = ctx.fb
    state = (0, 0, 0)  # bg, fg, flags

    def step(data: memoryview, index: int) -> tuple[int, int, int]:
        nonlocal state
        used, index, bg, fg, flags, need = acc.hextile(
            data, fb.pixels, rect.x, rect.y, rect.w, rect.h, index, *state, spec)
        state = (bg, fg, flags)
        return used, index, need

    ntiles = ((rect.w + TILE - 1) // TILE) * ((rect.h + TILE - 1) // TILE)
    yield from accel.drive_tiles("hextile", fb, rect, ntiles, step)


def _decode_pure(rect: Rect, ctx: DecodeContext) -> Reader[None]:
    """Tile by tile in Python and numpy: the reference the compiled path is tested against."""
    bpp = ctx.bpp
    bg: int | None = None
    fg: int | None = None
    cache: dict[bytes, int] = {}

    def colour(raw: bytes) -> int:
        c = cache.get(raw)
        if c is None:
            if len(cache) >= 256:
                cache.clear()
            c = cache[raw] = _words(ctx.pixels(raw, 1))[0]
        return c

    cols = (rect.w + TILE - 1) // TILE
    rows = (rect.h + TILE - 1) // TILE
    remaining = cols * rows
    # Each tile's last read also fetches the next tile's subencoding byte, so a
    # solid tile costs one read and a tile with subrectangles two.
    sub = (yield 1)[0]
    for row in range(rows):
        ty = row * TILE
        th = min(TILE, rect.h - ty)
        band = np.empty((th, rect.w, 4), dtype=np.uint8)
        # The same pixels as one uint32 each: a colour is then a plain integer.
        band32: U32Array = band.view(np.uint32).reshape(th, rect.w)
        for col in range(cols):
            tx = col * TILE
            tw = min(TILE, rect.w - tx)
            remaining -= 1
            more = 1 if remaining else 0
            if sub & ~_VALID:
                raise ProtocolError(f"hextile: invalid subencoding 0x{sub:02x}")
            if sub & RAW:
                n = tw * th
                data = yield n * bpp + more
                band[:, tx : tx + tw] = ctx.pixels(data, n).reshape(th, tw, 4)
                if more:
                    sub = data[-1]
                continue
            head = 0
            if sub & BACKGROUND_SPECIFIED:
                head += bpp
            if sub & FOREGROUND_SPECIFIED:
                head += bpp
            any_subrects = sub & ANY_SUBRECTS
            coloured = sub & SUBRECTS_COLOURED
            need = head + (1 if any_subrects else more)
            data = (yield need) if need else b""
            pos = 0
            if sub & BACKGROUND_SPECIFIED:
                bg = colour(data[:bpp])
                pos = bpp
            if sub & FOREGROUND_SPECIFIED:
                fg = colour(data[pos : pos + bpp])
            if bg is None:
                raise ProtocolError("hextile: tile without a background colour")
            tile = band32[:, tx : tx + tw]
            tile[...] = bg
            if not any_subrects:
                if more:
                    sub = data[-1]
                continue
            count = data[-1]
            if count == 0:
                if more:
                    sub = (yield 1)[0]
                continue
            size = 2 + (bpp if coloured else 0)
            data = yield count * size + more
            if more:
                sub = data[-1]
            if coloured:
                recs = np.frombuffer(data, dtype=np.uint8, count=count * size)
                pixels = np.ascontiguousarray(recs.reshape(count, size)[:, :bpp])
                colours = _words(ctx.pixels(pixels, count))
                end = count * size
                _paint_tile(tile, data[bpp:end:size], data[bpp + 1 : end : size], colours)
                # Decoders in the wild (and the encoders that rely on them) take
                # the last coloured subrectangle's colour as the next foreground.
                fg = colours[-1]
            else:
                if fg is None:
                    raise ProtocolError("hextile: subrectangles without a foreground colour")
                end = count * 2
                _paint_tile(tile, data[0:end:2], data[1:end:2], [fg])
        ctx.fb.put(rect.x, rect.y + ty, rect.w, th, band)
