"""Raw encoding (0): w*h wire pixels, row by row (RFC 6143 section 7.7.1)."""

from __future__ import annotations

from ..constants import Encoding
from ..framebuffer import Rect
from ..stream import Reader
from .base import DecodeContext, Decoder


class RawDecoder(Decoder):
    ENCODING = Encoding.RAW

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        if rect.area == 0:
            return
        # Large rectangles arrive in bands so a slow link shows progress and the
        # buffer never holds much more than one band.
        rows_per_band = max(1, (1 << 20) // max(1, rect.w * ctx.bpp))
        y = rect.y
        end = rect.y + rect.h
        while y < end:
            rows = min(rows_per_band, end - y)
            data = yield rect.w * rows * ctx.bpp
            ctx.fb.put(rect.x, y, rect.w, rows, ctx.pixels(data, rect.w * rows))
            y += rows
