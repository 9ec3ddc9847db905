"""Hextile encoding (5): 16x16 tiles, each raw or RRE-like (RFC 6143 section 7.7.4)."""

from __future__ import annotations

import numpy as np

from ..constants import Encoding
from ..errors import ProtocolError
from ..framebuffer import Rect
from ..pixelformat import U8Array
from ..stream import Reader
from .base import DecodeContext, Decoder

RAW = 1
BACKGROUND_SPECIFIED = 2
FOREGROUND_SPECIFIED = 4
ANY_SUBRECTS = 8
SUBRECTS_COLOURED = 16
_VALID = RAW | BACKGROUND_SPECIFIED | FOREGROUND_SPECIFIED | ANY_SUBRECTS | SUBRECTS_COLOURED

TILE = 16
# Up to this many subrectangles a tile is painted with one slice assignment each;
# beyond it a vectorised coverage test over the tile's 256 pixels is cheaper.
_LOOP_MAX = 6
_COORDS = np.arange(TILE, dtype=np.int16)


def _paint_tile(tile: U8Array, xy: U8Array, wh: U8Array, colours: U8Array) -> None:
    """Paint subrectangles (packed x/y and w-1/h-1 nibbles) into a tile, later ones winning.

    `colours` is (n, 4), one per subrectangle, or (4,), the foreground for all of them.
    """
    th, tw = tile.shape[:2]
    xs = (xy >> 4).astype(np.int16)
    ys = (xy & 15).astype(np.int16)
    ws = (wh >> 4).astype(np.int16) + 1
    hs = (wh & 15).astype(np.int16) + 1
    x1 = xs + ws
    y1 = ys + hs
    if bool(((x1 > tw) | (y1 > th)).any()):
        i = int(np.argmax((x1 > tw) | (y1 > th)))
        raise ProtocolError(
            f"hextile: subrectangle {ws[i]}x{hs[i]}+{xs[i]}+{ys[i]}"
            f" outside the {tw}x{th} tile"
        )
    n = len(xy)
    mono = colours.ndim == 1
    if n <= _LOOP_MAX:
        for i, x, y, xe, ye in zip(
            range(n), xs.tolist(), ys.tolist(), x1.tolist(), y1.tolist(), strict=True
        ):
            tile[y:ye, x:xe] = colours if mono else colours[i]
        return
    cx = _COORDS[:tw]
    cy = _COORDS[:th]
    in_x = (cx >= xs[:, None]) & (cx < x1[:, None])  # (n, tw)
    in_y = (cy >= ys[:, None]) & (cy < y1[:, None])  # (n, th)
    cover = in_y[:, :, None] & in_x[:, None, :]  # (n, th, tw)
    hit = cover.any(axis=0)
    if mono:
        tile[hit] = colours
        return
    # Index of the last subrectangle covering each pixel.
    last = (n - 1) - np.argmax(cover[::-1], axis=0)
    tile[hit] = colours[last[hit]]


class HextileDecoder(Decoder):
    ENCODING = Encoding.HEXTILE

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        if rect.area == 0:
            return
        bpp = ctx.bpp
        bg: U8Array | None = None
        fg: U8Array | None = None
        cache: dict[bytes, U8Array] = {}

        def colour(raw: bytes) -> U8Array:
            c = cache.get(raw)
            if c is None:
                if len(cache) >= 256:
                    cache.clear()
                c = cache[raw] = ctx.pixel(raw)
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
            for col in range(cols):
                tx = col * TILE
                tw = min(TILE, rect.w - tx)
                remaining -= 1
                more = 1 if remaining else 0
                tile = band[:, tx : tx + tw]
                if sub & ~_VALID:
                    raise ProtocolError(f"hextile: invalid subencoding 0x{sub:02x}")
                if sub & RAW:
                    n = tw * th
                    data = yield n * bpp + more
                    tile[...] = ctx.pixels(data, n).reshape(th, tw, 4)
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
                recs = np.frombuffer(data, dtype=np.uint8, count=count * size)
                recs = recs.reshape(count, size)
                if more:
                    sub = data[-1]
                if coloured:
                    colours = ctx.pixels(np.ascontiguousarray(recs[:, :bpp]), count)
                    _paint_tile(tile, recs[:, bpp], recs[:, bpp + 1], colours)
                    # Decoders in the wild (and the encoders that rely on them) take
                    # the last coloured subrectangle's colour as the next foreground.
                    fg = colours[-1].copy()
                else:
                    if fg is None:
                        raise ProtocolError("hextile: subrectangles without a foreground colour")
                    _paint_tile(tile, recs[:, 0], recs[:, 1], fg)
            ctx.fb.put(rect.x, rect.y + ty, rect.w, th, band)
