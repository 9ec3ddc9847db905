"""ZRLE encoding (16): zlib-compressed 64x64 RLE tiles (rfbproto 'ZRLE encoding')."""

from __future__ import annotations

import struct
import zlib

from ..constants import Encoding
from ..errors import ProtocolError
from ..framebuffer import Rect
from ..stream import Reader, read_view
from . import accel
from .base import DecodeContext, Decoder
from .rle_tiles import MemorySource, decode_tiles, paint_tiles, tile_data_bound

TILE = 64
CHUNK = 1 << 20  # compressed bytes read (and inflated) at a time
_U32 = struct.Struct(">I")


def compressed_bound(raw: int) -> int:
    """The largest zlib payload accepted for at most `raw` bytes of tile data.

    Deflate never needs more than about 0.1% over stored blocks; a quarter plus a fixed
    allowance for the stream header and flush markers leaves room for any sane encoder.
    """
    return raw + raw // 4 + 1024


class ZRLEDecoder(Decoder):
    """A u32 length, then zlib data on one stream kept for the whole connection."""

    ENCODING = Encoding.ZRLE

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj()

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        (length,) = _U32.unpack((yield 4))
        raw_bound = tile_data_bound(rect.w, rect.h, TILE, ctx.cpp)
        cap = compressed_bound(raw_bound)
        if length > cap:
            raise ProtocolError(
                f"zrle: {length}-byte payload exceeds the {cap}-byte bound "
                f"for a {rect.w}x{rect.h} rectangle"
            )
        # The payload is read and inflated a chunk at a time, so the connection never
        # buffers more than one chunk of it; the output is bounded by the rectangle.
        if length <= CHUNK:  # the usual case: one piece, inflated straight from the buffer
            payload = (yield from read_view(length)) if length else b""
            tiles = self._inflate(payload, raw_bound, raw_bound)
        else:
            pieces = bytearray()
            left = length
            while left:
                chunk = yield from read_view(min(CHUNK, left))
                left -= len(chunk)
                pieces += self._inflate(chunk, raw_bound - len(pieces), raw_bound)
            tiles = bytes(pieces)
        acc, spec = accel.prepare(ctx) if rect.area else (None, None)
        if acc is not None and spec is not None:
            paint_tiles(acc, spec, rect, ctx, TILE, "zrle", tiles)
            return
        src = MemorySource(tiles, "zrle")
        # From memory the tile decoder never yields: this runs it to the end at once.
        yield from decode_tiles(rect, ctx, TILE, "zrle", None, src)
        if src.left:
            raise ProtocolError(f"zrle: {src.left} trailing bytes")

    def _inflate(self, payload: bytes | memoryview, limit: int, bound: int) -> bytes:
        """Decompress a piece of the payload, refusing more than `limit` bytes of output."""
        z = self._zlib
        if z.eof:
            if payload:
                raise ProtocolError("zrle: data after the end of the zlib stream")
            return b""
        try:
            data = z.decompress(payload, limit + 1)
        except zlib.error as exc:
            raise ProtocolError(f"zrle: zlib error: {exc}") from None
        if len(data) > limit or z.unconsumed_tail:
            raise ProtocolError(f"zrle: decompressed data exceeds the {bound}-byte bound")
        if z.unused_data:
            raise ProtocolError(
                f"zrle: {len(z.unused_data)} bytes after the end of the zlib stream"
            )
        return data
