"""TRLE encoding (15): 16x16 RLE tiles read straight off the stream (rfbproto 'TRLE encoding')."""

from __future__ import annotations

from ..constants import Encoding
from ..framebuffer import Rect
from ..stream import Reader
from .base import DecodeContext, Decoder
from .rle_tiles import PaletteMemory, decode_tiles

TILE = 16


class TRLEDecoder(Decoder):
    """Tiles as in ZRLE, uncompressed, and subencodings 127/129 reuse the last palette."""

    ENCODING = Encoding.TRLE

    def __init__(self) -> None:
        self._palette = PaletteMemory()

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        yield from decode_tiles(rect, ctx, TILE, "trle", self._palette)
