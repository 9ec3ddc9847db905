"""Test helper: run one decoder over literal bytes, whole and one byte at a time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vncwall.net.decoders.base import DecodeContext, Decoder
from vncwall.net.framebuffer import Framebuffer, Rect
from vncwall.net.pixelformat import RGBX32, PixelFormat, U8Array
from vncwall.net.stream import ByteFeeder, Reader


def _rects(decoder: Decoder, rects: list[tuple[Rect, bytes]], ctx: DecodeContext) -> Reader[None]:
    for rect, _ in rects:
        yield from decoder.decode(rect, ctx)


def decode_bytes(
    make_decoder: Callable[[], Decoder],
    rects: list[tuple[Rect, bytes]],
    size: tuple[int, int],
    pf: PixelFormat = RGBX32,
    colour_map: U8Array | None = None,
    initial: U8Array | None = None,
) -> U8Array:
    """Decode `rects` (each with its wire bytes) into a fresh framebuffer of `size`.

    Runs twice, feeding everything at once and then one byte at a time, asserts both
    give the same pixels and that every byte was consumed, and returns the (h, w, 4)
    pixels with the X channel zeroed.
    """
    results = []
    stream = b"".join(data for _, data in rects)
    for chunked in (False, True):
        fb = Framebuffer(*size)
        if initial is not None:
            fb.pixels[...] = initial
        ctx = DecodeContext(fb, pf, colour_map)
        feeder = ByteFeeder(_rects(make_decoder(), rects, ctx))
        if chunked:
            for i in range(len(stream)):
                feeder.feed(stream[i : i + 1])
        else:
            feeder.feed(stream)
        assert feeder.finished, f"decoder wants {feeder.wanted} more bytes"
        assert feeder.buffered == 0, f"{feeder.buffered} bytes left unread"
        out = fb.pixels.copy()
        out[..., 3] = 0
        results.append(out)
    np.testing.assert_array_equal(results[0], results[1])
    return results[0]


def rgb_image(rows: list[list[tuple[int, int, int]]]) -> U8Array:
    """An (h, w, 4) RGBX array from nested lists of (r, g, b)."""
    arr = np.zeros((len(rows), len(rows[0]), 4), dtype=np.uint8)
    arr[..., :3] = np.array(rows, dtype=np.uint8)
    return arr


def wire32(r: int, g: int, b: int) -> bytes:
    """One pixel in the default RGBX32 wire format."""
    return bytes((r, g, b, 0))
