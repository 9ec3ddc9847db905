"""CopyRect encoding (1): copy a region already on screen (RFC 6143 section 7.7.2)."""

from __future__ import annotations

import struct

from ..constants import Encoding
from ..framebuffer import Rect
from ..stream import Reader
from .base import DecodeContext, Decoder


class CopyRectDecoder(Decoder):
    ENCODING = Encoding.COPYRECT

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        sx, sy = struct.unpack(">HH", (yield 4))
        ctx.fb.check(sx, sy, rect.w, rect.h, "CopyRect source")
        if rect.area:
            ctx.fb.copy(sx, sy, rect.x, rect.y, rect.w, rect.h)
