"""Tight encoding (7) decoder: literal byte vectors built with zlib and pygame's JPEG writer."""

from __future__ import annotations

import io
import os
import zlib

import numpy as np
import pytest

from tests.decoding import decode_bytes, rgb_image
from vncwall.net.decoders.tight import TightDecoder
from vncwall.net.errors import ProtocolError
from vncwall.net.framebuffer import Rect
from vncwall.net.pixelformat import BGR233, RGB565, RGBX32, PixelFormat, U8Array

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from tests.accel_switch import accel_path  # noqa: F401  (the fixture below)

# Every test runs on the compiled decode path and on the pure-Python one.
pytestmark = pytest.mark.usefixtures("accel_path")

# Little-endian, red in the high byte: TPIXELs are still R, G, B on the wire.
BGRX32 = PixelFormat(32, 24, False, True, 255, 255, 255, 16, 8, 0)


# --- building wire data ------------------------------------------------------------
def compact(n: int) -> bytes:
    """rfbproto compact length: 7 bits per byte, the third byte 8 bits."""
    assert 0 <= n <= 4194303
    if n < 0x80:
        return bytes([n])
    if n < 0x4000:
        return bytes([0x80 | (n & 0x7F), n >> 7])
    return bytes([0x80 | (n & 0x7F), 0x80 | ((n >> 7) & 0x7F), n >> 14])


def zchunk(comp: zlib._Compress, data: bytes) -> bytes:
    """One rectangle's worth of a persistent zlib stream (ends with a sync flush)."""
    return comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)


def payload(data: bytes, comp: zlib._Compress | None = None) -> bytes:
    """Filtered data as sent: raw below 12 bytes, else compact length + zlib."""
    if len(data) < 12:
        return data
    z = zchunk(comp or zlib.compressobj(), data)
    return compact(len(z)) + z


def decode(
    rects: list[tuple[Rect, bytes]], size: tuple[int, int], pf: PixelFormat = RGBX32
) -> U8Array:
    return decode_bytes(TightDecoder, rects, size, pf)


def rgb24(img: U8Array) -> bytes:
    """(h, w, 4) RGBX image as 3-byte TPIXELs."""
    return img[..., :3].tobytes()


def random_image(rng: np.random.Generator, w: int, h: int) -> U8Array:
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[..., :3] = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return img


def expected565(values: np.ndarray) -> U8Array:
    """(h, w) RGB565 pixel values as the decoder's RGBX."""
    h, w = values.shape
    rgbx = RGB565.values_to_rgbx(values.reshape(-1).astype(np.uint32))
    return rgbx.reshape(h, w, 4)


# --- fill -------------------------------------------------------------------------
def test_fill_rgb24() -> None:
    out = decode([(Rect(1, 1, 3, 2), b"\x80\x10\x20\x30")], (5, 4))
    assert (out[1:3, 1:4, :3] == (0x10, 0x20, 0x30)).all()
    assert (out[0] == 0).all() and (out[:, 0] == 0).all() and (out[3] == 0).all()


def test_fill_may_be_wider_than_2048() -> None:
    out = decode([(Rect(0, 0, 3000, 1), b"\x80\x01\x02\x03")], (3000, 1))
    assert (out[..., :3] == (1, 2, 3)).all()


def test_tpixel_is_rgb_whatever_the_shifts() -> None:
    out = decode([(Rect(0, 0, 2, 2), b"\x80\xc8\x64\x0a")], (2, 2), BGRX32)
    assert (out[..., :3] == (200, 100, 10)).all()


def test_fill_rgb565() -> None:
    value = (31 << 11) | (0 << 5) | 15
    out = decode([(Rect(0, 0, 2, 2), b"\x80" + value.to_bytes(2, "little"))], (2, 2), RGB565)
    np.testing.assert_array_equal(out, expected565(np.full((2, 2), value)))


def test_fill_bgr233() -> None:
    out = decode([(Rect(0, 0, 1, 1), b"\x80\xff")], (1, 1), BGR233)
    assert tuple(out[0, 0, :3]) == (255, 255, 255)


# --- copy filter --------------------------------------------------------------------
def test_copy_raw_below_12_bytes() -> None:
    img = rgb_image([[(1, 2, 3), (4, 5, 6)]])
    data = b"\x00" + rgb24(img)  # 6 bytes: no length, no zlib
    out = decode([(Rect(0, 0, 2, 1), data)], (2, 1))
    np.testing.assert_array_equal(out, img)


def test_copy_raw_with_explicit_filter_id() -> None:
    img = rgb_image([[(1, 2, 3), (4, 5, 6), (7, 8, 9)]])  # 9 bytes
    out = decode([(Rect(0, 0, 3, 1), b"\x40\x00" + rgb24(img))], (3, 1))
    np.testing.assert_array_equal(out, img)


def test_copy_zlib() -> None:
    img = random_image(np.random.default_rng(1), 9, 5)
    data = b"\x60\x00" + payload(rgb24(img))  # stream 2, explicit copy filter
    out = decode([(Rect(2, 1, 9, 5), data)], (12, 7))
    np.testing.assert_array_equal(out[1:6, 2:11], img)


def test_copy_zlib_two_byte_compact_length() -> None:
    rng = np.random.default_rng(2)
    img = random_image(rng, 20, 10)  # 600 random bytes: length needs 2 bytes
    z = zchunk(zlib.compressobj(), rgb24(img))
    assert len(z) >= 128
    out = decode([(Rect(0, 0, 20, 10), b"\x00" + compact(len(z)) + z)], (20, 10))
    np.testing.assert_array_equal(out, img)


def test_copy_rgb565_zlib() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1 << 16, size=(4, 6), dtype=np.uint16)
    data = b"\x10" + payload(values.astype("<u2").tobytes())  # stream 1, no filter id
    out = decode([(Rect(0, 0, 6, 4), data)], (6, 4), RGB565)
    np.testing.assert_array_equal(out, expected565(values))


def test_copy_bgrx_tpixels() -> None:
    img = random_image(np.random.default_rng(4), 5, 3)
    out = decode([(Rect(0, 0, 5, 3), b"\x00" + payload(rgb24(img)))], (5, 3), BGRX32)
    np.testing.assert_array_equal(out, img)


def test_zero_area_rect_consumes_its_bytes() -> None:
    img = rgb_image([[(9, 8, 7)]])
    rects = [(Rect(0, 0, 0, 5), b"\x00"), (Rect(0, 0, 1, 1), b"\x00" + rgb24(img))]
    np.testing.assert_array_equal(decode(rects, (1, 1)), img)


# --- palette filter -----------------------------------------------------------------
def test_palette_two_colours_odd_width() -> None:
    rng = np.random.default_rng(5)
    w, h = 11, 3
    bits = rng.integers(0, 2, size=(h, w), dtype=np.uint8)
    colours = np.array([(10, 20, 30), (200, 150, 100)], dtype=np.uint8)
    rows = np.packbits(bits, axis=1)  # each row padded to a byte, MSB first
    assert rows.shape == (h, 2)
    data = b"\x40\x01\x01" + colours.tobytes() + rows.tobytes()  # 6 bytes: raw
    out = decode([(Rect(0, 0, w, h), data)], (w, h))
    np.testing.assert_array_equal(out[..., :3], colours[bits])


def test_palette_two_colours_zlib() -> None:
    rng = np.random.default_rng(6)
    w, h = 13, 9
    bits = rng.integers(0, 2, size=(h, w), dtype=np.uint8)
    colours = np.array([(0, 0, 0), (255, 255, 255)], dtype=np.uint8)
    rows = np.packbits(bits, axis=1).tobytes()
    assert len(rows) == 18
    data = b"\x70\x01\x01" + colours.tobytes() + payload(rows)  # stream 3
    out = decode([(Rect(0, 0, w, h), data)], (w, h))
    np.testing.assert_array_equal(out[..., :3], colours[bits])


def test_palette_five_colours() -> None:
    rng = np.random.default_rng(7)
    w, h = 7, 4
    index = rng.integers(0, 5, size=(h, w), dtype=np.uint8)
    colours = rng.integers(0, 256, size=(5, 3), dtype=np.uint8)
    data = b"\x40\x01\x04" + colours.tobytes() + payload(index.tobytes())
    out = decode([(Rect(0, 0, w, h), data)], (w, h))
    np.testing.assert_array_equal(out[..., :3], colours[index])


def test_palette_rgb565() -> None:
    values = np.array([0xF800, 0x07E0, 0x001F], dtype=np.uint16)
    index = np.array([[0, 1, 2, 1], [2, 1, 0, 0], [1, 1, 1, 2]], dtype=np.uint8)
    data = b"\x40\x01\x02" + values.astype("<u2").tobytes() + payload(index.tobytes())
    out = decode([(Rect(0, 0, 4, 3), data)], (4, 3), RGB565)
    np.testing.assert_array_equal(out, expected565(values[index]))


# --- gradient filter ------------------------------------------------------------------
def gradient_encode(values: np.ndarray, maxes: tuple[int, ...]) -> np.ndarray:
    """Reference gradient filter (rfbproto pseudo-code), one pixel at a time."""
    h, w, c = values.shape
    v = values.astype(int)
    diff = np.zeros_like(v)
    for y in range(h):
        for x in range(w):
            for k in range(c):
                left = v[y, x - 1, k] if x else 0
                up = v[y - 1, x, k] if y else 0
                upleft = v[y - 1, x - 1, k] if x and y else 0
                pred = min(max(left + up - upleft, 0), maxes[k])
                diff[y, x, k] = (v[y, x, k] - pred) & maxes[k]
    return diff


@pytest.mark.parametrize(("w", "h"), [(13, 7), (7, 13), (1, 9), (9, 1), (1, 1), (40, 3)])
def test_gradient_rgb24(w: int, h: int) -> None:
    img = random_image(np.random.default_rng(w * 100 + h), w, h)
    diff = gradient_encode(img[..., :3], (255, 255, 255)).astype(np.uint8)
    data = b"\x50\x02" + payload(diff.tobytes())  # stream 1, gradient
    out = decode([(Rect(0, 0, w, h), data)], (w, h))
    np.testing.assert_array_equal(out, img)


def test_gradient_smooth_image_rgb24() -> None:
    """A photo-like image, where predictions are mostly in range (few clamps)."""
    w, h = 17, 11
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[..., 0] = xx * 15
    img[..., 1] = yy * 23
    img[..., 2] = (xx * yy) % 256
    diff = gradient_encode(img[..., :3], (255, 255, 255)).astype(np.uint8)
    out = decode([(Rect(0, 0, w, h), b"\x40\x02" + payload(diff.tobytes()))], (w, h))
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize(("w", "h"), [(13, 7), (5, 11)])
def test_gradient_rgb565(w: int, h: int) -> None:
    rng = np.random.default_rng(w + h)
    maxes = (31, 63, 31)
    chans = np.stack([rng.integers(0, m + 1, size=(h, w)) for m in maxes], axis=-1)
    diff = gradient_encode(chans, maxes)
    wire = (diff[..., 0] << 11) | (diff[..., 1] << 5) | diff[..., 2]
    values = (chans[..., 0] << 11) | (chans[..., 1] << 5) | chans[..., 2]
    data = b"\x40\x02" + payload(wire.astype("<u2").tobytes())
    out = decode([(Rect(0, 0, w, h), data)], (w, h), RGB565)
    np.testing.assert_array_equal(out, expected565(values))


def test_gradient_32bpp_four_byte_tpixel() -> None:
    """Depth 32 means no 3-byte TPIXEL: the filter works on 4-byte big-endian pixels."""
    pf = PixelFormat(32, 32, True, True, 255, 255, 255, 0, 8, 16)
    img = random_image(np.random.default_rng(8), 6, 4)
    diff = gradient_encode(img[..., :3], (255, 255, 255))
    wire = diff[..., 0] | (diff[..., 1] << 8) | (diff[..., 2] << 16)
    data = b"\x40\x02" + payload(wire.astype(">u4").tobytes())
    out = decode([(Rect(0, 0, 6, 4), data)], (6, 4), pf)
    np.testing.assert_array_equal(out, img)


def test_gradient_rejected_at_8bpp() -> None:
    with pytest.raises(ProtocolError, match="gradient"):
        decode([(Rect(0, 0, 2, 2), b"\x40\x02" + bytes(4))], (2, 2), BGR233)


# --- zlib streams ----------------------------------------------------------------------
def test_zlib_stream_persists_across_rects() -> None:
    img = random_image(np.random.default_rng(9), 8, 4)
    raw = rgb24(img)
    comp = zlib.compressobj()
    first = b"\x10" + payload(raw, comp)
    second_z = zchunk(comp, raw)  # back-references into the first rect's data
    assert len(second_z) < len(raw) // 2
    second = b"\x10" + compact(len(second_z)) + second_z
    rects = [(Rect(0, 0, 8, 4), first), (Rect(0, 4, 8, 4), second)]
    out = decode(rects, (8, 8))
    np.testing.assert_array_equal(out[:4], img)
    np.testing.assert_array_equal(out[4:], img)


def test_other_streams_are_independent() -> None:
    rng = np.random.default_rng(10)
    a, b = random_image(rng, 5, 3), random_image(rng, 5, 3)
    comp0, comp3 = zlib.compressobj(), zlib.compressobj()
    rects = [
        (Rect(0, 0, 5, 3), b"\x00" + payload(rgb24(a), comp0)),
        (Rect(0, 3, 5, 3), b"\x30" + payload(rgb24(b), comp3)),
        (Rect(0, 6, 5, 3), b"\x00" + payload(rgb24(b), comp0)),
        (Rect(0, 9, 5, 3), b"\x30" + payload(rgb24(a), comp3)),
    ]
    out = decode(rects, (5, 12))
    for i, img in enumerate((a, b, b, a)):
        np.testing.assert_array_equal(out[3 * i : 3 * i + 3], img)


def test_reset_bit_starts_a_fresh_stream() -> None:
    rng = np.random.default_rng(11)
    a, b = random_image(rng, 5, 3), random_image(rng, 5, 3)
    rects = [
        (Rect(0, 0, 5, 3), b"\x20" + payload(rgb24(a), zlib.compressobj())),
        # bit 2 resets stream 2: the server starts a new zlib stream, header included
        (Rect(0, 3, 5, 3), b"\x24" + payload(rgb24(b), zlib.compressobj())),
    ]
    out = decode(rects, (5, 6))
    np.testing.assert_array_equal(out[:3], a)
    np.testing.assert_array_equal(out[3:], b)


def test_reset_bits_apply_to_fill_rects_too() -> None:
    rng = np.random.default_rng(12)
    a, b = random_image(rng, 5, 3), random_image(rng, 5, 3)
    rects = [
        (Rect(0, 0, 5, 3), b"\x00" + payload(rgb24(a), zlib.compressobj())),
        (Rect(0, 0, 1, 1), b"\x8f\x00\x00\x00"),  # fill, resetting all four streams
        (Rect(0, 3, 5, 3), b"\x00" + payload(rgb24(b), zlib.compressobj())),
    ]
    out = decode(rects, (5, 6))
    np.testing.assert_array_equal(out[3:], b)


def test_fresh_stream_without_reset_is_an_error() -> None:
    rng = np.random.default_rng(13)
    a, b = random_image(rng, 5, 3), random_image(rng, 5, 3)
    rects = [
        (Rect(0, 0, 5, 3), b"\x00" + payload(rgb24(a), zlib.compressobj())),
        (Rect(0, 3, 5, 3), b"\x00" + payload(rgb24(b), zlib.compressobj())),
    ]
    with pytest.raises(ProtocolError, match="zlib"):
        decode(rects, (5, 6))


# --- JPEG ------------------------------------------------------------------------------
def jpeg_bytes(img: U8Array) -> bytes:
    h, w = img.shape[:2]
    surf = pygame.image.frombuffer(np.ascontiguousarray(img[..., :3]).tobytes(), (w, h), "RGB")
    buf = io.BytesIO()
    pygame.image.save(surf, buf, "x.jpg")
    return buf.getvalue()


def smooth_image(w: int, h: int) -> U8Array:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[..., 0] = 40 + xx * 8
    img[..., 1] = 200 - yy * 10
    img[..., 2] = 120
    return img


@pytest.mark.parametrize("pf", [RGBX32, RGB565], ids=["32bpp", "16bpp"])
def test_jpeg(pf: PixelFormat) -> None:
    w, h = 16, 8
    img = smooth_image(w, h)
    jpeg = jpeg_bytes(img)
    out = decode([(Rect(1, 2, w, h), b"\x90" + compact(len(jpeg)) + jpeg)], (w + 2, h + 3), pf)
    got = out[2 : 2 + h, 1 : 1 + w].astype(int)
    assert np.abs(got - img.astype(int)).max() <= 24
    assert np.abs(got - img.astype(int)).mean() <= 4
    # Exactly what pygame's decoder makes of the same bytes.
    ref = pygame.image.tobytes(pygame.image.load(io.BytesIO(jpeg), "x.jpg"), "RGB")
    np.testing.assert_array_equal(got[..., :3].reshape(-1), np.frombuffer(ref, dtype=np.uint8))


def test_jpeg_size_mismatch() -> None:
    jpeg = jpeg_bytes(smooth_image(16, 8))
    with pytest.raises(ProtocolError, match="JPEG is 16x8"):
        decode([(Rect(0, 0, 8, 8), b"\x90" + compact(len(jpeg)) + jpeg)], (16, 8))


def test_jpeg_garbage() -> None:
    junk = b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x02\x00\x02\x03" + bytes(40)
    with pytest.raises(ProtocolError, match="bad JPEG"):
        decode([(Rect(0, 0, 2, 2), b"\x90" + compact(len(junk)) + junk)], (2, 2))
    with pytest.raises(ProtocolError, match="bad JPEG"):
        decode([(Rect(0, 0, 2, 2), b"\x90\x05hello")], (2, 2))


def test_jpeg_rejected_at_8bpp() -> None:
    jpeg = jpeg_bytes(smooth_image(2, 2))
    with pytest.raises(ProtocolError, match="JPEG"):
        decode([(Rect(0, 0, 2, 2), b"\x90" + compact(len(jpeg)) + jpeg)], (2, 2), BGR233)


# --- malformed data -----------------------------------------------------------------------
@pytest.mark.parametrize("ctl", [0xA0, 0xB0, 0xC3, 0xF0])
def test_invalid_compression_control(ctl: int) -> None:
    with pytest.raises(ProtocolError, match=f"invalid compression control 0x{ctl:02x}"):
        decode([(Rect(0, 0, 1, 1), bytes([ctl]) + bytes(8))], (1, 1))


def test_invalid_filter_id() -> None:
    with pytest.raises(ProtocolError, match="invalid filter id 3"):
        decode([(Rect(0, 0, 1, 1), b"\x40\x03" + bytes(3))], (1, 1))


def test_palette_index_out_of_range() -> None:
    index = bytes([0, 1, 2, 5, 1, 0])
    data = b"\x40\x01\x02" + bytes(9) + index
    with pytest.raises(ProtocolError, match="palette index 5 with 3 colours"):
        decode([(Rect(0, 0, 3, 2), data)], (3, 2))


def test_palette_of_one_colour() -> None:
    with pytest.raises(ProtocolError, match="palette"):
        decode([(Rect(0, 0, 2, 1), b"\x40\x01\x00\x01\x02\x03" + bytes(2))], (2, 1))


def test_truncated_zlib_data() -> None:
    img = random_image(np.random.default_rng(14), 6, 4)
    z = zchunk(zlib.compressobj(), rgb24(img))
    short = z[: len(z) // 2]
    with pytest.raises(ProtocolError, match="gave"):
        decode([(Rect(0, 0, 6, 4), b"\x00" + compact(len(short)) + short)], (6, 4))


def test_zlib_data_for_a_smaller_rect() -> None:
    img = random_image(np.random.default_rng(15), 6, 4)
    z = zchunk(zlib.compressobj(), rgb24(img)[:30])  # 10 pixels of 24
    with pytest.raises(ProtocolError, match="gave 30 of 72"):
        decode([(Rect(0, 0, 6, 4), b"\x00" + compact(len(z)) + z)], (6, 4))


def test_trailing_zlib_data() -> None:
    img = random_image(np.random.default_rng(16), 6, 4)
    z = zchunk(zlib.compressobj(), rgb24(img) + b"extra pixels")
    with pytest.raises(ProtocolError, match="trailing zlib data"):
        decode([(Rect(0, 0, 6, 4), b"\x00" + compact(len(z)) + z)], (6, 4))


def test_zlib_back_reference_running_past_the_rect() -> None:
    z = zchunk(zlib.compressobj(), b"a" * 1000)  # one long match covers the rect and more
    with pytest.raises(ProtocolError, match="trailing zlib data"):
        decode([(Rect(0, 0, 6, 4), b"\x00" + compact(len(z)) + z)], (6, 4))


def test_trailing_bytes_after_a_finished_zlib_stream() -> None:
    img = random_image(np.random.default_rng(17), 6, 4)
    z = zlib.compress(rgb24(img)) + b"junk"
    with pytest.raises(ProtocolError, match="trailing zlib data"):
        decode([(Rect(0, 0, 6, 4), b"\x00" + compact(len(z)) + z)], (6, 4))


def test_corrupt_zlib_data() -> None:
    data = b"\x00" + compact(20) + b"\xff" * 20
    with pytest.raises(ProtocolError, match="zlib error on stream 0"):
        decode([(Rect(0, 0, 6, 4), data)], (6, 4))


def test_width_over_2048() -> None:
    with pytest.raises(ProtocolError, match="width 2049"):
        decode([(Rect(0, 0, 2049, 1), b"\x00" + compact(10) + bytes(10))], (2049, 1))


def test_width_2048_is_fine() -> None:
    raw = bytes(range(256)) * 24
    data = b"\x00" + payload(raw)
    out = decode([(Rect(0, 0, 2048, 1), data)], (2048, 1))
    np.testing.assert_array_equal(out[0, :, :3].reshape(-1), np.frombuffer(raw, np.uint8))


def test_compact_length_too_big() -> None:
    # 4x4 copy rect = 48 bytes of pixels; 4194303 compressed bytes is absurd.
    data = b"\x00" + compact(4194303)
    with pytest.raises(ProtocolError, match="zlib bytes"):
        decode([(Rect(0, 0, 4, 4), data)], (4, 4))


def test_compact_length_encoding() -> None:
    assert compact(10000) == b"\x90\x4e"  # rfbproto's worked example
    assert compact(4194303) == b"\xff\xff\xff"
