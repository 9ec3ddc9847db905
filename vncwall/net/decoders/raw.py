"""Raw encoding (0): w*h wire pixels, row by row (RFC 6143 section 7.7.1)."""

from __future__ import annotations

from ..constants import Encoding
from ..framebuffer import Rect
from ..stream import Reader, peek, read_view, skip
from .base import DecodeContext, Decoder

# Rectangles up to this many bytes are read whole (a view, copied only if it straddles
# two received chunks); larger ones are written as their rows arrive.
SMALL = 64 * 1024
BAND = 1 << 20  # the most bytes converted in one go


class RawDecoder(Decoder):
    ENCODING = Encoding.RAW

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        if rect.area == 0:
            return
        fb = ctx.fb
        row_bytes = rect.w * ctx.bpp
        if row_bytes * rect.h <= SMALL:
            data = yield from read_view(row_bytes * rect.h)
            fb.put(rect.x, rect.y, rect.w, rect.h, ctx.pixels(data, rect.area))
            return
        # Whole rows straight from the received bytes: a slow link shows progress, and
        # the pixels are copied once, into the framebuffer.
        rows_per_band = max(1, BAND // row_bytes)
        y = rect.y
        end = rect.y + rect.h
        while y < end:
            data = yield from peek(row_bytes)
            rows = min(len(data) // row_bytes, end - y, rows_per_band)
            fb.put(rect.x, y, rect.w, rows, ctx.pixels(data, rect.w * rows))
            yield from skip(rows * row_bytes)
            y += rows
