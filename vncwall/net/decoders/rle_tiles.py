"""Tile parsing shared by TRLE and ZRLE (rfbproto 'TRLE encoding', 'ZRLE encoding').

Both encodings cut the rectangle into tiles (16x16 for TRLE, 64x64 for ZRLE, smaller at
the right and bottom edges) and send each as a subencoding byte plus its data. There is
one implementation, `decode_tiles`, written as a stream generator (`data = yield n`):
TRLE runs it straight off the connection, ZRLE inflates a rectangle's whole payload
(bounded) and drives the same generator over the bytes in memory with `run_in_memory`,
which is a slice per request, so the two can never disagree about the tile format.

Run-length tiles cannot say how long they are, and TRLE must not read past a tile, so
the run parsers ask for the fewest bytes the rest of the tile can possibly take (a run
of n pixels needs at least 2 + (n - 1) // 255 bytes) and parse each batch in one tight
loop over bytes; a tile costs a few dozen requests, not one per run. The pixels are then
built with one gather and one `np.repeat` per tile; packed palettes unpack with shifts.
"""

from __future__ import annotations

import numpy as np

from ..errors import ProtocolError
from ..framebuffer import Rect
from ..pixelformat import U8Array
from ..stream import Reader
from .base import DecodeContext

# Largest palette a palette-RLE tile can carry (subencoding 255 - 128).
MAX_RLE_PALETTE = 127


class PaletteMemory:
    """TRLE's previous palette, which subencodings 127 and 129 reuse (one per connection)."""

    def __init__(self) -> None:
        self.colours: U8Array | None = None


def tile_data_bound(w: int, h: int, tile: int, cpp: int) -> int:
    """The most bytes a valid encoding of a w x h rectangle's tiles can take.

    Per tile of n pixels: 1 subencoding byte plus the larger of plain RLE with runs of
    one (n * (cpp + 1)) and a 127-colour palette RLE with runs of one (127 * cpp + 2n);
    raw (n * cpp) and packed palettes are smaller.
    """
    widths = [(tile, w // tile), (w % tile, 1)]
    heights = [(tile, h // tile), (h % tile, 1)]
    total = 0
    for tw, nw in widths:
        for th, nh in heights:
            n = tw * th
            if n and nw and nh:
                total += nw * nh * (1 + max(n * (cpp + 1), MAX_RLE_PALETTE * cpp + 2 * n))
    return total


def decode_tiles(
    rect: Rect, ctx: DecodeContext, tile: int, name: str, memory: PaletteMemory | None
) -> Reader[None]:
    """Decode every tile of `rect`, left to right, top to bottom, into `ctx.fb`.

    `memory` is TRLE's previous palette; None (ZRLE) makes subencodings 127 and 129
    invalid. `name` prefixes error messages.
    """
    x_end = rect.x + rect.w
    y_end = rect.y + rect.h
    for y in range(rect.y, y_end, tile):
        th = min(tile, y_end - y)
        for x in range(rect.x, x_end, tile):
            yield from decode_tile(x, y, min(tile, x_end - x), th, ctx, name, memory)


def decode_tile(
    x: int, y: int, tw: int, th: int, ctx: DecodeContext, name: str,
    memory: PaletteMemory | None,
) -> Reader[None]:
    """Decode one tile (subencoding byte and data) into `ctx.fb` at (x, y)."""
    sub = (yield 1)[0]
    n = tw * th
    cpp = ctx.cpp
    fb = ctx.fb
    if sub == 0:
        fb.put(x, y, tw, th, ctx.cpixels((yield n * cpp), n))
        return
    if sub == 1:
        fb.fill(x, y, tw, th, ctx.cpixels((yield cpp), 1)[0])
        return
    if 2 <= sub <= 16 or sub >= 130:
        size = sub if sub <= 16 else sub - 128
        palette = ctx.cpixels((yield size * cpp), size)
        if memory is not None:
            memory.colours = palette
    elif sub == 128:
        run_pixels, lengths = yield from _plain_runs(n, cpp, name)
        colours = ctx.cpixels(run_pixels, len(lengths))
        fb.put(x, y, tw, th, _repeat_rows(colours, lengths))
        return
    elif sub in (127, 129) and memory is not None:
        if memory.colours is None:
            raise ProtocolError(f"{name}: subencoding {sub} reuses a palette before any was sent")
        palette = memory.colours
    else:
        raise ProtocolError(f"{name}: invalid tile subencoding {sub}")

    if sub <= 127:
        indices = yield from _packed_indices(tw, th, len(palette), sub, name)
        fb.put(x, y, tw, th, palette[indices])
    else:
        run_indices, lengths = yield from _palette_runs(n, len(palette), name)
        fb.put(x, y, tw, th, _repeat_rows(palette[run_indices], lengths))


def _packed_indices(tw: int, th: int, size: int, sub: int, name: str) -> Reader[U8Array]:
    """Read a packed-palette tile's indices: 1, 2 or 4 bits each, rows padded to a byte."""
    if size > 16:
        raise ProtocolError(f"{name}: subencoding {sub} packs indices into a {size}-colour palette")
    bits = 1 if size <= 2 else 2 if size <= 4 else 4
    row_bytes = (tw * bits + 7) // 8
    data = yield th * row_bytes
    packed = np.frombuffer(data, dtype=np.uint8).reshape(th, row_bytes)
    indices: U8Array
    if bits == 1:
        indices = np.unpackbits(packed, axis=1)
    else:
        shifts = np.arange(8 - bits, -1, -bits, dtype=np.uint8)
        split = (packed[:, :, None] >> shifts) & ((1 << bits) - 1)
        indices = split.astype(np.uint8, copy=False).reshape(th, -1)
    indices = indices[:, :tw]
    if size != 1 << bits:
        top = int(indices.max())
        if top >= size:
            raise ProtocolError(
                f"{name}: palette index {top} out of range for a {size}-colour palette"
            )
    return indices.reshape(-1)


def _overflow(name: str, run: int, remaining: int) -> ProtocolError:
    return ProtocolError(
        f"{name}: run of {run} pixels overflows the tile ({remaining} pixels left)"
    )


def _plain_runs(n: int, cpp: int, name: str) -> Reader[tuple[bytes, list[int]]]:
    """Read plain-RLE runs covering exactly n pixels: (CPIXEL bytes, run lengths)."""
    pixels = bytearray()
    lengths: list[int] = []
    remaining = n
    need = cpp  # CPIXEL bytes still due for the current run; 0 while reading its length
    acc = 0
    while remaining:
        # The least the rest can take: the pending CPIXEL bytes and one run to the end.
        chunk = yield (need + 1 + (remaining - 1) // 255) if need else 1
        i = 0
        end = len(chunk)
        while i < end:
            if need:
                take = min(need, end - i)
                pixels += chunk[i : i + take]
                i += take
                need -= take
                continue
            b = chunk[i]
            i += 1
            acc += b
            if acc >= remaining:
                raise _overflow(name, acc + 1, remaining)
            if b != 255:
                lengths.append(acc + 1)
                remaining -= acc + 1
                acc = 0
                need = cpp
    return bytes(pixels), lengths


def _palette_runs(n: int, size: int, name: str) -> Reader[tuple[U8Array, list[int]]]:
    """Read palette-RLE runs covering exactly n pixels: (palette indices, run lengths)."""
    indices = bytearray()
    lengths: list[int] = []
    remaining = n
    in_run = False  # an index with the top bit set was read; its length bytes follow
    acc = 0
    while remaining:
        # The least the rest can take: a pending length byte, or one run to the end.
        want = 1 if in_run or remaining == 1 else 2 + (remaining - 1) // 255
        for b in (yield want):
            if in_run:
                acc += b
                if acc >= remaining:
                    raise _overflow(name, acc + 1, remaining)
                if b != 255:
                    lengths.append(acc + 1)
                    remaining -= acc + 1
                    in_run = False
                continue
            index = b & 0x7F
            if index >= size:
                raise ProtocolError(
                    f"{name}: palette index {index} out of range for a {size}-colour palette"
                )
            indices.append(index)
            if b & 0x80:
                in_run = True
                acc = 0
            else:
                lengths.append(1)
                remaining -= 1
    return np.frombuffer(bytes(indices), dtype=np.uint8), lengths


def _repeat_rows(colours: U8Array, lengths: list[int]) -> U8Array:
    """Repeat each RGBX row of `colours` by its run length, as one uint32 np.repeat."""
    words = np.ascontiguousarray(colours).view(np.uint32).reshape(-1)
    return np.repeat(words, lengths).view(np.uint8).reshape(-1, 4)


def run_in_memory(parser: Reader[None], data: bytes, name: str) -> int:
    """Drive a stream parser over bytes already in memory; returns how many it consumed.

    Raises ProtocolError when the parser wants more than `data` holds.
    """
    pos = 0
    size = len(data)
    try:
        need = next(parser)
        while True:
            end = pos + need
            if end > size:
                raise ProtocolError(
                    f"{name}: tile data ends early (wanted {need} bytes, {size - pos} left)"
                )
            chunk = data[pos:end]
            pos = end
            need = parser.send(chunk)
    except StopIteration:
        return pos
