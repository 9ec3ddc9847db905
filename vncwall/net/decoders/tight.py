"""Tight encoding (7): fill, JPEG, zlib with copy/palette/gradient (rfbproto 'Tight Encoding'),
and TightPNG (-260), which adds PNG rectangles."""

from __future__ import annotations

import io
import os
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

from ..constants import Encoding
from ..errors import ProtocolError
from ..framebuffer import Rect
from ..pixelformat import PixelData, PixelFormat, U8Array
from ..stream import Reader, peek, skip
from . import accel
from .base import DecodeContext, Decoder, empty_rgbx

# Set before pygame is first imported, or it prints a banner.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

IntArray = npt.NDArray[np.signedinteger[Any]]
U32Array = npt.NDArray[np.uint32]

MAX_WIDTH = 2048  # rfbproto: Tight rectangles are at most 2048 pixels wide (fill excepted)
MIN_TO_COMPRESS = 12  # filtered data shorter than this is sent without zlib
NUM_STREAMS = 4

# compression-control, high nibble
_FILL = 0x8
_JPEG = 0x9
_PNG = 0xA  # TightPNG only
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# filter-id
_FILTER_COPY = 0
_FILTER_PALETTE = 1
_FILTER_GRADIENT = 2

# JPEG markers that are SOFn frame headers (C4 = DHT, C8 = JPG, CC = DAC are not).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _tpixel_size(pf: PixelFormat) -> int:
    """A TPIXEL's size: 3 bytes (R, G, B) for `pf.rgb24` formats (rfbproto 'TPIXEL')."""
    return 3 if pf.rgb24 else pf.bytes_per_pixel


def _tpixel_colour(ctx: DecodeContext, data: PixelData) -> U8Array:
    """One TPIXEL as an RGBX colour of shape (4,)."""
    if ctx.pf.rgb24:
        return np.frombuffer(bytes(data[:3]) + b"\0", dtype=np.uint8)
    colour: U8Array = ctx.pixels(data, 1)[0]
    return colour


def _tpixel_words(ctx: DecodeContext, data: PixelData, count: int) -> U32Array:
    """`count` TPIXELs as RGBX words (one uint32 each: a gather then moves words)."""
    if ctx.pf.rgb24 and count <= 16:  # small palettes: plain integers beat numpy calls
        raw = bytes(data[: count * 3])
        return np.array(
            [int.from_bytes(raw[i : i + 3], "little") for i in range(0, count * 3, 3)],
            dtype=np.uint32,
        )
    rgbx = np.ascontiguousarray(_tpixels(ctx, data, count))
    words: U32Array = rgbx.view(np.uint32).reshape(count)
    return words


def _tpixels(ctx: DecodeContext, data: PixelData, count: int) -> U8Array:
    """`count` TPIXELs as (count, 4) RGBX."""
    if ctx.pf.rgb24:
        out = empty_rgbx(count)
        out[:, :3] = np.frombuffer(data, dtype=np.uint8, count=count * 3).reshape(count, 3)
        out[:, 3] = 0
        return out
    return ctx.pixels(data, count)


def _zlib_cap(expected: int) -> int:
    """The most compressed bytes we accept for `expected` output bytes.

    Deflate never grows data by more than about 5 bytes per 16-64 KiB stored block,
    plus a 2-byte header and the 4-6 byte sync-flush marker ending each rectangle;
    half again the output plus 1 KiB is far beyond that yet still bounded.
    """
    return expected + expected // 2 + 1024


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's first SOFn frame header, or None when there is none."""
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        seg_len = (data[pos + 2] << 8) | data[pos + 3]
        if marker in _SOF_MARKERS:
            if seg_len < 7 or pos + 9 > n:
                return None
            height = (data[pos + 5] << 8) | data[pos + 6]
            width = (data[pos + 7] << 8) | data[pos + 8]
            return width, height
        if marker in (0xD9, 0xDA) or seg_len < 2:  # EOI or scan data before any frame
            return None
        pos += 2 + seg_len
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None when it does not start with one."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _gradient(diff: IntArray, maxes: tuple[int, ...]) -> IntArray:
    """Undo the gradient filter: (h, w, c) differences to (h, w, c) channel values.

    V[y, x] = (D[y, x] + clamp(V[y, x-1] + V[y-1, x] - V[y-1, x-1], 0, max)) & max, with
    V = 0 outside the rectangle. Every pixel on one anti-diagonal (x + y = d) depends
    only on the two diagonals before it, so the work is one short run of numpy calls
    per diagonal, w + h - 1 in all, and none per pixel.
    """
    h, w, c = diff.shape
    if h > w:  # the predictor is symmetric in x and y: put the short side across diagonals
        return _gradient(diff.transpose(1, 0, 2), maxes).transpose(1, 0, 2)
    # Values stay in [-max, 2 * max]; int16 halves the memory when that fits.
    dtype = np.int16 if max(maxes) < 1 << 14 else np.int64
    # Diagonal-major skewed store: pixel (y, x) lives at skew[x + y + 2, y + 1], so each
    # diagonal is one contiguous (n, c) block. Diagonals 0-1 and row 0 stay zero, as do
    # the cells off the image: exactly the "outside is zero" rule for the neighbours.
    skew = np.zeros((w + h + 1, h + 1, c), dtype=dtype)
    s0, s1, s2 = skew.strides
    view = np.lib.stride_tricks.as_strided(skew[2:, 1:], (h, w, c), (s0 + s1, s0, s2))
    view[...] = diff
    # Full-size operands: broadcasting a (c,) vector or a Python scalar on every call
    # costs more than the arithmetic on these short vectors.
    top = np.empty((h, c), dtype=dtype)
    top[...] = maxes
    zero = np.zeros((h, c), dtype=dtype)
    pred = np.empty((h, c), dtype=dtype)
    add, sub, band = np.add, np.subtract, np.bitwise_and
    maximum, minimum = np.maximum, np.minimum
    for d in range(w + h - 1):
        y0 = max(0, d - w + 1)
        y1 = min(h - 1, d) + 1
        n = y1 - y0
        p = pred[:n]
        add(skew[d + 1, y0 + 1 : y1 + 1], skew[d + 1, y0:y1], out=p)  # left + up
        sub(p, skew[d, y0:y1], out=p)  # - up-left
        maximum(p, zero[:n], out=p)
        minimum(p, top[:n], out=p)
        cur = skew[d + 2, y0 + 1 : y1 + 1]
        add(cur, p, out=cur)
        band(cur, top[:n], out=cur)
    return np.ascontiguousarray(view)


class TightDecoder(Decoder):
    ENCODING = Encoding.TIGHT
    LAST_KIND = _JPEG  # the highest compression-control kind this encoding has

    def __init__(self) -> None:
        self._streams: list[zlib._Decompress] = [zlib.decompressobj() for _ in range(NUM_STREAMS)]

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        # Most rectangles are a few header bytes and a short payload that are all
        # buffered already: parse them from a view in one go, else read field by field.
        view = yield from peek(1)
        used = self._decode_buffered(rect, ctx, view)
        if used:
            yield from skip(used)
            return
        ctl = (yield 1)[0]
        self._reset(ctl)
        kind = ctl >> 4
        if kind == _FILL:
            yield from self._fill(rect, ctx)
            return
        if kind > self.LAST_KIND:
            raise ProtocolError(f"tight: invalid compression control 0x{ctl:02x}")
        if rect.w > MAX_WIDTH:
            raise ProtocolError(f"tight: rectangle width {rect.w} exceeds {MAX_WIDTH}")
        if kind == _JPEG:
            yield from self._image(rect, ctx, "JPEG")
        elif kind == _PNG:
            yield from self._image(rect, ctx, "PNG")
        else:
            yield from self._basic(rect, ctx, kind)

    def _reset(self, ctl: int) -> None:
        """Start afresh the zlib streams whose bits the compression-control byte sets."""
        if ctl & 0xF:
            for i in range(NUM_STREAMS):
                if ctl & (1 << i):
                    self._streams[i] = zlib.decompressobj()

    def _decode_buffered(self, rect: Rect, ctx: DecodeContext, view: memoryview) -> int:
        """Decode a fill, copy or palette rectangle held whole in `view`; the bytes used.

        0 means "take the field-by-field path": the bytes are not all there yet, or the
        rectangle is of another kind (JPEG, gradient) or malformed, whose error that path
        raises. Nothing is changed before the whole rectangle is known to be in `view`.
        """
        n = len(view)
        ctl = view[0]
        kind = ctl >> 4
        tpx = _tpixel_size(ctx.pf)
        if kind == _FILL:
            if n < 1 + tpx:
                return 0
            self._reset(ctl)
            if rect.area:
                ctx.fb.fill(rect.x, rect.y, rect.w, rect.h, _tpixel_colour(ctx, view[1 : 1 + tpx]))
            return 1 + tpx
        w, h = rect.w, rect.h
        if kind >= _FILL or w > MAX_WIDTH or n < 3:
            return 0
        pos = 1
        filter_id = _FILTER_COPY
        if kind & 0x4:
            filter_id = view[1]
            pos = 2
        count = 0
        palette = view[0:0]
        words: U32Array | None = None
        if filter_id == _FILTER_COPY:
            size = w * h * tpx
        elif filter_id == _FILTER_PALETTE:
            count = view[pos] + 1
            pos += 1
            if count < 2 or n < pos + count * tpx:
                return 0
            palette = view[pos : pos + count * tpx]
            pos += count * tpx
            if not ctx.pf.rgb24:
                words = _tpixel_words(ctx, palette, count)
            size = (w + 7) // 8 * h if count == 2 else w * h
        else:
            return 0
        if size < MIN_TO_COMPRESS:
            if n < pos + size:
                return 0
            packed = view[pos : pos + size]
            pos += size
        else:
            if n < pos + 3:
                return 0
            b = view[pos]
            length = b & 0x7F
            pos += 1
            if b & 0x80:
                b = view[pos]
                length |= (b & 0x7F) << 7
                pos += 1
                if b & 0x80:
                    length |= view[pos] << 14
                    pos += 1
            if length > _zlib_cap(size) or n < pos + length:
                return 0
            packed = view[pos : pos + length]
            pos += length
        self._reset(ctl)
        stream = kind & 0x3
        data = self._inflate(stream, packed, size) if size >= MIN_TO_COMPRESS else packed
        if filter_id == _FILTER_COPY:
            if rect.area:
                self._paint_copy(rect, ctx, data)
        elif rect.area:
            self._paint_palette(rect, ctx, palette, words, count, data)
        return pos

    # --- fill and JPEG ------------------------------------------------------------
    def _fill(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        data = yield _tpixel_size(ctx.pf)
        if rect.area:
            ctx.fb.fill(rect.x, rect.y, rect.w, rect.h, _tpixel_colour(ctx, data))

    def _image(self, rect: Rect, ctx: DecodeContext, kind: str) -> Reader[None]:
        """A JPEG or PNG rectangle: compact length, then the image file."""
        if ctx.pf.bits_per_pixel not in (16, 32):
            raise ProtocolError(
                f"tight: {kind} rectangle with {ctx.pf.bits_per_pixel} bits per pixel"
            )
        # The compact length itself bounds an image to 4 MiB; no tighter cap is sound
        # since tiny high-quality images can be larger than their raw pixels.
        length = yield from self._compact_length()
        data = (yield length) if length else b""
        if rect.area == 0:
            return
        size = _jpeg_size(data) if kind == "JPEG" else _png_size(data)
        if size is None:
            raise ProtocolError(f"tight: bad {kind} data: no frame header")
        # Checked before decoding so a forged header cannot make us allocate a huge image.
        if size != (rect.w, rect.h):
            raise ProtocolError(
                f"tight: {kind} is {size[0]}x{size[1]}, rectangle is {rect.w}x{rect.h}"
            )
        try:
            surf = pygame.image.load(io.BytesIO(data), "x.jpg" if kind == "JPEG" else "x.png")
            rgb = pygame.image.tobytes(surf, "RGB")
        except pygame.error as exc:
            raise ProtocolError(f"tight: bad {kind} data: {exc}") from exc
        if surf.get_size() != (rect.w, rect.h) or len(rgb) != rect.area * 3:
            raise ProtocolError(
                f"tight: {kind} decoded to {surf.get_width()}x{surf.get_height()}, "
                f"rectangle is {rect.w}x{rect.h}"
            )
        self._paint_copy(rect, ctx, rgb, rgb=True)

    # --- basic compression ----------------------------------------------------------
    def _basic(self, rect: Rect, ctx: DecodeContext, kind: int) -> Reader[None]:
        stream = kind & 0x3
        filter_id = (yield 1)[0] if kind & 0x4 else _FILTER_COPY
        tpx = _tpixel_size(ctx.pf)
        w, h = rect.w, rect.h
        if filter_id == _FILTER_COPY:
            data = yield from self._data(stream, w * h * tpx)
            if rect.area:
                self._paint_copy(rect, ctx, data)
        elif filter_id == _FILTER_PALETTE:
            count = (yield 1)[0] + 1
            if count < 2:
                raise ProtocolError("tight: palette of 1 colour (rfbproto allows 2..256)")
            palette = yield count * tpx
            # 3-byte RGB colours cannot be wrong; others are converted (and checked) now.
            words = None if ctx.pf.rgb24 else _tpixel_words(ctx, palette, count)
            data = yield from self._data(stream, (w + 7) // 8 * h if count == 2 else w * h)
            if rect.area:
                self._paint_palette(rect, ctx, palette, words, count, data)
        elif filter_id == _FILTER_GRADIENT:
            pf = ctx.pf
            if not pf.true_colour or pf.bits_per_pixel not in (16, 32):
                raise ProtocolError(
                    "tight: gradient filter needs a 16 or 32 bpp true-colour pixel format"
                )
            data = yield from self._data(stream, w * h * tpx)
            if rect.area:
                ctx.fb.put(rect.x, rect.y, w, h, self._ungradient(ctx, data, w, h))
        else:
            raise ProtocolError(f"tight: invalid filter id {filter_id}")

    @staticmethod
    def _paint_copy(
        rect: Rect, ctx: DecodeContext, data: bytes | memoryview, rgb: bool = False
    ) -> None:
        """Copy-filter pixels (TPIXELs), or with `rgb` 3-byte R, G, B ones, into the rectangle."""
        fb = ctx.fb
        rgb = rgb or ctx.pf.rgb24
        acc = accel.module()
        if acc is not None and rgb:
            with fb.lock:
                acc.tight_rgb(data, fb.pixels, rect.x, rect.y, rect.w, rect.h)
                fb.damage(rect.x, rect.y, rect.w, rect.h)
        elif rgb:
            out = empty_rgbx(rect.area)
            out[:, :3] = np.frombuffer(data, dtype=np.uint8).reshape(rect.area, 3)
            out[:, 3] = 0
            fb.put(rect.x, rect.y, rect.w, rect.h, out)
        else:
            fb.put(rect.x, rect.y, rect.w, rect.h, _tpixels(ctx, data, rect.area))

    @staticmethod
    def _paint_palette(
        rect: Rect,
        ctx: DecodeContext,
        palette: bytes | memoryview,
        words: U32Array | None,
        count: int,
        data: bytes | memoryview,
    ) -> None:
        """Palette-filter indices (1 bit each for 2 colours, else a byte) into the rectangle.

        `palette` is the colours' TPIXELs; `words` the same as RGBX words, or None for
        3-byte RGB TPIXELs, which the compiled loop reads as they are.
        """
        fb = ctx.fb
        w, h = rect.w, rect.h
        acc = accel.module()
        if acc is not None:
            rgb = words is None
            colours = palette if words is None else words
            with fb.lock:
                try:
                    acc.tight_palette(data, fb.pixels, rect.x, rect.y, w, h, colours, count, rgb)
                except ValueError as exc:
                    raise ProtocolError(str(exc)) from None
                fb.damage(rect.x, rect.y, w, h)
            return
        if words is None:
            words = _tpixel_words(ctx, palette, count)
        if count == 2:
            row_bytes = (w + 7) // 8
            bits = np.frombuffer(data, dtype=np.uint8).reshape(h, row_bytes)
            out = words.take(np.unpackbits(bits, axis=1)[:, :w])
        else:
            index = np.frombuffer(data, dtype=np.uint8)
            if count < 256:
                top = int(index.max())
                if top >= count:
                    raise ProtocolError(f"tight: palette index {top} with {count} colours")
            out = words.take(index)
        fb.put(rect.x, rect.y, w, h, out.view(np.uint8))

    @staticmethod
    def _ungradient(ctx: DecodeContext, data: bytes, w: int, h: int) -> U8Array:
        pf = ctx.pf
        if pf.rgb24:
            raw = np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3).astype(np.int16)
            values = _gradient(raw, (255, 255, 255))
            out = empty_rgbx(w * h)
            out[:, :3] = values.reshape(w * h, 3)
            out[:, 3] = 0
            return out
        ints = pf.values(data, w * h).astype(np.int64)
        shifts = (pf.red_shift, pf.green_shift, pf.blue_shift)
        maxes = (pf.red_max, pf.green_max, pf.blue_max)
        diff = np.empty((h, w, 3), dtype=np.int64)
        for i in range(3):
            diff[..., i] = ((ints >> shifts[i]) & maxes[i]).reshape(h, w)
        values = _gradient(diff, maxes).reshape(w * h, 3).astype(np.uint32)
        pixels = np.zeros(w * h, dtype=np.uint32)
        for i in range(3):
            pixels |= values[:, i] << np.uint32(shifts[i])
        return pf.values_to_rgbx(pixels)

    # --- data: raw below 12 bytes, else compact length + zlib ------------------------
    def _compact_length(self) -> Reader[int]:
        b = (yield 1)[0]
        length = b & 0x7F
        if b & 0x80:
            b = (yield 1)[0]
            length |= (b & 0x7F) << 7
            if b & 0x80:
                length |= (yield 1)[0] << 14
        return length

    def _data(self, stream: int, size: int) -> Reader[bytes]:
        """`size` bytes of filtered pixel data from zlib stream `stream` (or raw if small)."""
        if size < MIN_TO_COMPRESS:
            return (yield size) if size else b""
        length = yield from self._compact_length()
        cap = _zlib_cap(size)
        if length > cap:
            raise ProtocolError(
                f"tight: {length} zlib bytes for {size} bytes of pixel data (limit {cap})"
            )
        packed = (yield length) if length else b""
        return self._inflate(stream, packed, size)

    def _inflate(self, stream: int, packed: bytes | memoryview, size: int) -> bytes:
        """Exactly `size` bytes from zlib stream `stream`, which must end with `packed`."""
        inflater = self._streams[stream]
        try:
            data = inflater.decompress(packed, size)
            # Anything left, in the input or pending inside zlib (a back-reference
            # running past the end), belongs to no rectangle.
            extra = bool(inflater.unconsumed_tail or inflater.unused_data)
            if not extra and len(data) == size:
                extra = bool(inflater.decompress(b"", 1))
        except zlib.error as exc:
            raise ProtocolError(f"tight: zlib error on stream {stream}: {exc}") from exc
        if len(data) != size:
            raise ProtocolError(
                f"tight: zlib stream {stream} gave {len(data)} of {size} bytes"
            )
        if extra:
            raise ProtocolError(f"tight: trailing zlib data on stream {stream}")
        return data


class TightPNGDecoder(TightDecoder):
    """TightPNG (-260): Tight whose rectangles may also be PNG images (control 0xA).

    We never ask for it, but some servers (VMware ESXi) send it anyway."""

    ENCODING = Encoding.TIGHT_PNG
    LAST_KIND = _PNG
