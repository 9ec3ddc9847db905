"""Zlib encoding (6): Raw pixels through one zlib stream per connection (rfbproto 'Zlib')."""

from __future__ import annotations

import struct
import zlib

from ..constants import Encoding
from ..errors import ProtocolError
from ..framebuffer import Rect
from ..stream import Reader, read_view
from .base import DecodeContext, Decoder

_U32 = struct.Struct(">I")

# Compressed input is read and inflated in pieces of at most this size, and finished
# rows are written as they come, so large rectangles show progress like Raw does.
_CHUNK = 1 << 20


def max_compressed(raw_size: int) -> int:
    """A generous upper bound on the compressed size of `raw_size` bytes of output.

    Deflate's worst case is stored blocks: 5 header bytes per block of at most 65535
    bytes; zlib's own bound (deflateBound) adds about raw/4096 + raw/16384 + 13. A
    flushed chunk of a continuing stream adds the 2-byte zlib header (first rect
    only) and a 5-byte sync-flush marker. raw/1024 + 1024 covers all of that with
    room to spare while still stopping a length that no honest server can send.
    """
    return raw_size + (raw_size >> 10) + 1024


class ZlibDecoder(Decoder):
    """u32 length, then that many bytes of the connection's zlib stream (a Raw rect)."""

    ENCODING = Encoding.ZLIB

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj()

    def _inflate(self, data: bytes | memoryview, room: int) -> bytes:
        """Inflate `data`, which must produce at most `room` bytes and leave nothing over."""
        z = self._inflater
        try:
            # max_length 0 means unlimited; with no room left, ask for one byte so
            # that any output at all shows up as an overrun.
            out = z.decompress(data, room or 1)
            if len(out) > room:
                raise ProtocolError("zlib: rectangle data inflates to more than its size")
            # Once output is full, what input remains (typically the sync-flush
            # marker) and any output zlib still holds back must come to nothing.
            if (
                room
                and len(out) == room
                and (z.decompress(z.unconsumed_tail, 1) or z.unconsumed_tail)
            ):
                raise ProtocolError("zlib: rectangle data inflates to more than its size")
        except zlib.error as exc:
            raise ProtocolError(f"zlib: {exc}") from None
        if z.unused_data:
            raise ProtocolError("zlib: data after the end of the compressed stream")
        return out

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        (length,) = _U32.unpack((yield 4))
        bpp = ctx.bpp
        row_bytes = rect.w * bpp
        need = rect.h * row_bytes
        if length > max_compressed(need):
            raise ProtocolError(
                f"zlib: {length} compressed bytes for a {rect.w}x{rect.h} rectangle"
            )
        pending = bytearray()  # inflated bytes of rows not yet written
        produced = 0
        y = rect.y
        left = length
        while left:
            chunk = yield from read_view(min(left, _CHUNK))
            left -= len(chunk)
            out = self._inflate(chunk, need - produced)
            produced += len(out)
            pending += out
            rows = len(pending) // row_bytes if row_bytes else 0
            if rows:
                block = bytes(pending[: rows * row_bytes])
                del pending[: rows * row_bytes]
                ctx.fb.put(rect.x, y, rect.w, rows, ctx.pixels(block, rect.w * rows))
                y += rows
        if produced < need:
            raise ProtocolError(f"zlib: rectangle data inflates to {produced} of {need} bytes")
