"""Tile parsing shared by TRLE and ZRLE (rfbproto 'TRLE encoding', 'ZRLE encoding').

Both encodings cut the rectangle into tiles (16x16 for TRLE, 64x64 for ZRLE, smaller at
the right and bottom edges) and send each as a subencoding byte plus its data, so there
is one tile decoder, `decode_tiles`. It is a stream generator (`data = yield n`) that
TRLE runs straight off the connection. ZRLE inflates a rectangle's whole payload first
(bounded) and passes it in as a `MemorySource`: every read then becomes a slice of that
buffer and the generator never actually yields.

Run-length tiles do not say how long they are. Their runs are parsed by one scanner per
kind (`_PlainRuns`, `_PaletteRuns`), a tight loop over runs, not pixels. From memory it
scans straight to the end of the tile in one call. From the stream (TRLE, which must not
read past a tile) it is fed batches of the fewest bytes the rest of the tile can possibly
take (a run of n pixels needs at least 2 + (n - 1) // 255 bytes), and a run cut by a
batch's end is held and scanned again with the next. The pixels are then built with one
gather and one `np.repeat` per tile, and packed palettes are unpacked with shifts.

With the compiled accelerator (accel.py) the same tiles are decoded by one C call per
rectangle from memory (`paint_tiles`), or from the stream per batch of buffered bytes;
the Python scanners above remain the reference and the fallback.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from ..errors import ProtocolError
from ..framebuffer import Rect
from ..pixelformat import U8Array
from ..stream import Reader
from . import accel
from .base import DecodeContext

U32Array = npt.NDArray[np.uint32]

# Largest palette a palette-RLE tile can carry (subencoding 255 - 128).
MAX_RLE_PALETTE = 127


class PaletteMemory:
    """TRLE's previous palette, which subencodings 127 and 129 reuse (one per connection).

    Held as native uint32 words in a fixed buffer the compiled decoder writes too;
    `size` 0 means none yet. A change of pixel format comes with new palettes.
    """

    def __init__(self) -> None:
        self.words: U32Array = np.zeros(MAX_RLE_PALETTE, dtype=np.uint32)
        self.size = 0

    def get(self) -> U32Array | None:
        return self.words[: self.size].copy() if self.size else None

    def put(self, palette: U32Array) -> None:
        self.words[: len(palette)] = palette
        self.size = len(palette)


class MemorySource:
    """Tile data already in memory (ZRLE's inflated payload), read with a cursor."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.pos = 0
        self.name = name

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.left:
            raise self.short(n)
        start = self.pos
        self.pos = start + n
        return self.data[start : self.pos]

    def short(self, n: int) -> ProtocolError:
        return ProtocolError(
            f"{self.name}: tile data ends early (wanted {n} bytes, {self.left} left)"
        )


@functools.lru_cache(maxsize=4096)  # servers send the same few rectangle sizes over and over
def tile_data_bound(w: int, h: int, tile: int, cpp: int) -> int:
    """The most bytes a valid encoding of a w x h rectangle's tiles can take.

    Per tile of n pixels: 1 subencoding byte plus the larger of plain RLE with runs of
    one (n * (cpp + 1)) and a 127-colour palette RLE with runs of one (127 * cpp + 2n);
    raw (n * cpp) and packed palettes are smaller.
    """
    total = 0
    for tw, nw in ((tile, w // tile), (w % tile, 1)):
        for th, nh in ((tile, h // tile), (h % tile, 1)):
            n = tw * th
            if n and nw and nh:
                total += nw * nh * (1 + max(n * (cpp + 1), MAX_RLE_PALETTE * cpp + 2 * n))
    return total


# byte -> its 8 / bits palette indices, most significant first, for bits 1, 2 and 4.
_SPLIT: dict[int, U8Array] = {
    bits: (
        np.arange(256, dtype=np.uint8)[:, None]
        >> np.arange(8 - bits, -1, -bits, dtype=np.uint8)
    ).astype(np.uint8)
    & np.uint8((1 << bits) - 1)
    for bits in (1, 2, 4)
}


class _Pixels:
    """Compact pixels to native uint32 words (RGBX in memory) for one rectangle's tiles."""

    def __init__(self, ctx: DecodeContext) -> None:
        self.ctx = ctx
        self.cpp = ctx.cpp
        # RGBX32 with 3-byte CPIXELs: the bytes are R, G, B; the word adds a zero X byte.
        self.native3 = self.cpp == 3 and ctx.pf.is_native

    def words(self, data: bytes, count: int) -> U32Array:
        if self.native3:
            out = np.zeros(count, dtype=np.uint32)
            out.view(np.uint8).reshape(count, 4)[:, :3] = np.frombuffer(
                data, dtype=np.uint8, count=count * 3
            ).reshape(count, 3)
            return out
        rgbx = np.ascontiguousarray(self.ctx.cpixels(data, count))
        words: U32Array = rgbx.view(np.uint32).reshape(count)
        return words

    def word(self, data: bytes) -> int:
        if self.native3:
            return int.from_bytes(data[:3], "little")
        return int(self.words(data, 1)[0])


def decode_tiles(
    rect: Rect,
    ctx: DecodeContext,
    tile: int,
    name: str,
    memory: PaletteMemory | None,
    src: MemorySource | None = None,
) -> Reader[None]:
    """Decode every tile of `rect`, left to right, top to bottom, into `ctx.fb`.

    `memory` is TRLE's previous palette; None (ZRLE) makes subencodings 127 and 129
    invalid. With `src`, tile data comes from memory and nothing is yielded. `name`
    prefixes error messages. Tiles are written straight into the framebuffer (only
    this thread writes or resizes it; tearing within a frame is accepted), and each
    row of tiles is recorded as damaged once it is done, or when a tile fails.
    """
    acc, spec = accel.prepare(ctx) if rect.area else (None, None)
    if acc is not None and spec is not None:
        if src is None:
            yield from _decode_compiled(acc, spec, rect, ctx, tile, name, memory)
        else:
            paint_tiles(acc, spec, rect, ctx, tile, name, src.data[src.pos :])
            src.pos = len(src.data)
        return
    fb = ctx.fb
    pixels = _Pixels(ctx)
    x_end = rect.x + rect.w
    y_end = rect.y + rect.h
    for y in range(rect.y, y_end, tile):
        th = min(tile, y_end - y)
        fb32: U32Array = fb.pixels.view(np.uint32).reshape(fb.height, fb.width)
        try:
            for x in range(rect.x, x_end, tile):
                tw = min(tile, x_end - x)
                yield from decode_tile(fb32[y : y + th, x : x + tw], pixels, name, memory, src)
        finally:
            with fb.lock:
                fb.damage(rect.x, y, rect.w, th)


def paint_tiles(
    acc: accel.Accel, spec: accel.FmtSpec, rect: Rect, ctx: DecodeContext, tile: int,
    name: str, data: bytes,
) -> None:
    """Decode all tiles of `rect` from `data` (ZRLE's inflated payload) by the compiled loop.

    Every byte must belong to a tile: short or trailing data is a ProtocolError.
    """
    fb = ctx.fb
    ntiles = ((rect.w + tile - 1) // tile) * ((rect.h + tile - 1) // tile)
    try:
        used, index, _, _, at, want = acc.rle_tiles(
            data, fb.pixels, rect.x, rect.y, rect.w, rect.h,
            tile, 0, None, 0, spec, name,
        )
    except ValueError as exc:
        raise ProtocolError(str(exc)) from None
    finally:
        with fb.lock:
            fb.damage(rect.x, rect.y, rect.w, rect.h)
    if index < ntiles:
        left = len(data) - at
        raise ProtocolError(f"{name}: tile data ends early (wanted {want} bytes, {left} left)")
    if used < len(data):
        raise ProtocolError(f"{name}: {len(data) - used} trailing bytes")


def _decode_compiled(
    acc: accel.Accel,
    spec: accel.FmtSpec,
    rect: Rect,
    ctx: DecodeContext,
    tile: int,
    name: str,
    memory: PaletteMemory | None,
) -> Reader[None]:
    """`decode_tiles` from the stream by the compiled loop (see accel.drive_tiles); the
    ZRLE palette memory carries from one call to the next."""
    fb = ctx.fb
    words = memory.words if memory is not None else None

    def step(data: memoryview, index: int) -> tuple[int, int, int]:
        used, index, size, need, _, _ = acc.rle_tiles(
            data, fb.pixels, rect.x, rect.y, rect.w, rect.h,
            tile, index, words, memory.size if memory is not None else 0, spec, name,
        )
        if memory is not None:
            memory.size = size
        return used, index, need

    ntiles = ((rect.w + tile - 1) // tile) * ((rect.h + tile - 1) // tile)
    yield from accel.drive_tiles(name, fb, rect, ntiles, step)


def decode_tile(
    out: U32Array,
    pixels: _Pixels,
    name: str,
    memory: PaletteMemory | None,
    src: MemorySource | None,
) -> Reader[None]:
    """Decode one tile (subencoding byte and data) into `out`, its (th, tw) place."""
    sub = (src.take(1) if src else (yield 1))[0]
    th, tw = out.shape
    n = tw * th
    cpp = pixels.cpp
    if sub == 0:
        data = src.take(n * cpp) if src else (yield n * cpp)
        out[...] = pixels.words(data, n).reshape(th, tw)
        return
    if sub == 1:
        data = src.take(cpp) if src else (yield cpp)
        out[...] = pixels.word(data)
        return
    if sub == 128:
        plain = _PlainRuns(n, cpp, name)
        yield from plain.read(src)
        colours = pixels.words(bytes(plain.pixels), len(plain.lengths))
        out[...] = np.repeat(colours, plain.lengths).reshape(th, tw)
        return
    palette: U32Array
    if 2 <= sub <= 16 or sub >= 130:
        size = sub if sub <= 16 else sub - 128
        data = src.take(size * cpp) if src else (yield size * cpp)
        palette = pixels.words(data, size)
        if memory is not None:
            memory.put(palette)
    elif sub in (127, 129) and memory is not None:
        remembered = memory.get()
        if remembered is None:
            raise ProtocolError(f"{name}: subencoding {sub} reuses a palette before any was sent")
        palette = remembered
    else:
        raise ProtocolError(f"{name}: invalid tile subencoding {sub}")

    size = len(palette)
    if sub <= 127:
        if size > 16:
            raise ProtocolError(
                f"{name}: subencoding {sub} packs indices into a {size}-colour palette"
            )
        bits = 1 if size <= 2 else 2 if size <= 4 else 4
        row_bytes = (tw * bits + 7) // 8
        data = src.take(th * row_bytes) if src else (yield th * row_bytes)
        out[...] = palette.take(_unpack_indices(data, tw, th, bits, size, name))
    else:
        runs = _PaletteRuns(n, size, name)
        yield from runs.read(src)
        indices = np.frombuffer(bytes(runs.indices), dtype=np.uint8)
        out[...] = np.repeat(palette.take(indices), runs.lengths).reshape(th, tw)


def _unpack_indices(data: bytes, tw: int, th: int, bits: int, size: int, name: str) -> U8Array:
    """A packed tile's (th, tw) palette indices: `bits` each, MSB first, rows byte-padded."""
    packed = np.frombuffer(data, dtype=np.uint8).reshape(th, -1)
    indices: U8Array = _SPLIT[bits][packed].reshape(th, -1)[:, :tw]
    if size != 1 << bits:
        top = int(indices.max())
        if top >= size:
            raise ProtocolError(
                f"{name}: palette index {top} out of range for a {size}-colour palette"
            )
    return indices


class _Runs:
    """A scanner for one tile's runs, which must cover exactly `remaining` pixels.

    `scan` parses whole runs from data[pos:end] and returns where it stopped: at the end
    of the tile, or at the start of a run that `data` holds only part of.
    """

    def __init__(self, n: int, name: str) -> None:
        self.remaining = n
        self.name = name
        self.lengths: list[int] = []

    def want(self) -> int:
        """The fewest bytes the rest of the tile can take, counted from a run's start."""
        raise NotImplementedError

    def scan(self, data: bytes, pos: int, end: int) -> int:
        raise NotImplementedError

    def read(self, src: MemorySource | None) -> Reader[None]:
        """Parse the runs from memory (never yields) or from the stream in safe batches.

        A stream batch is never more than the tile can still take, so it never reads
        past the tile; a run cut by the batch's end is held and scanned again whole.
        """
        if src is not None:
            src.pos = self.scan(src.data, src.pos, len(src.data))
            if self.remaining:
                raise src.short(self.want())
            return
        held = b""
        while self.remaining:
            chunk = yield max(1, self.want() - len(held))
            data = held + chunk if held else chunk
            held = data[self.scan(data, 0, len(data)) :]
        assert not held, "a run batch went past the tile"

    def overflow(self, run: int, remaining: int) -> ProtocolError:
        return ProtocolError(
            f"{self.name}: run of {run} pixels overflows the tile ({remaining} pixels left)"
        )


class _PlainRuns(_Runs):
    """Plain RLE (128): runs of a CPIXEL and a length; collects CPIXEL bytes and lengths."""

    def __init__(self, n: int, cpp: int, name: str) -> None:
        super().__init__(n, name)
        self.cpp = cpp
        self.pixels = bytearray()

    def want(self) -> int:
        return self.cpp + 1 + (self.remaining - 1) // 255

    def scan(self, data: bytes, pos: int, end: int) -> int:
        remaining, cpp = self.remaining, self.cpp
        pixels, lengths = self.pixels, self.lengths
        while remaining:
            start = pos
            pos += cpp
            run = 1
            while pos < end:
                b = data[pos]
                pos += 1
                run += b
                if b != 255:
                    break
                if run > remaining:  # at least; more length bytes may follow
                    raise self.overflow(run, remaining)
            else:
                pos = start  # this run is not all there yet
                break
            if run > remaining:
                raise self.overflow(run, remaining)
            pixels += data[start : start + cpp]
            lengths.append(run)
            remaining -= run
        self.remaining = remaining
        return pos


class _PaletteRuns(_Runs):
    """Palette RLE (129-255): index bytes, top bit set when a run length follows."""

    def __init__(self, n: int, size: int, name: str) -> None:
        super().__init__(n, name)
        self.size = size
        self.indices = bytearray()

    def want(self) -> int:
        return 1 if self.remaining == 1 else 2 + (self.remaining - 1) // 255

    def scan(self, data: bytes, pos: int, end: int) -> int:
        remaining, size = self.remaining, self.size
        indices, lengths = self.indices, self.lengths
        while remaining and pos < end:
            b = data[pos]
            pos += 1
            if b < size:  # the common case: one pixel, no length
                indices.append(b)
                lengths.append(1)
                remaining -= 1
                continue
            index = b & 0x7F
            if index >= size:
                raise ProtocolError(
                    f"{self.name}: palette index {index} out of range for a {size}-colour palette"
                )
            start = pos - 1
            run = 1
            while pos < end:
                b = data[pos]
                pos += 1
                run += b
                if b != 255:
                    break
                if run > remaining:  # at least; more length bytes may follow
                    raise self.overflow(run, remaining)
            else:
                pos = start  # this run is not all there yet
                break
            if run > remaining:
                raise self.overflow(run, remaining)
            indices.append(index)
            lengths.append(run)
            remaining -= run
        self.remaining = remaining
        return pos
