"""Hextile (5) decoder."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tests.accel_switch import accel_path  # noqa: F401  (the fixture below)
from tests.decoding import decode_bytes, rgb_image, wire32
from vncwall.net.decoders.hextile import HextileDecoder
from vncwall.net.errors import ProtocolError
from vncwall.net.framebuffer import Rect
from vncwall.net.pixelformat import BGR233, RGB565, PixelFormat

# Every test runs on the compiled decode path and on the pure-Python one.
pytestmark = pytest.mark.usefixtures("accel_path")

RAW, BG, FG, ANY, COLOURED = 1, 2, 4, 8, 16
R, G, B, W, K = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)
Y = (255, 255, 0)


def xy(x: int, y: int) -> int:
    return (x << 4) | y


def wh(w: int, h: int) -> int:
    return ((w - 1) << 4) | (h - 1)


def solid(w: int, h: int, colour: tuple[int, int, int]) -> np.ndarray:
    return rgb_image([[colour] * w for _ in range(h)])


def test_raw_tile() -> None:
    data = bytes((RAW,)) + b"".join(wire32(*c) for c in (R, G, B, W, K, Y))
    out = decode_bytes(HextileDecoder, [(Rect(1, 0, 3, 2), data)], (4, 2))
    np.testing.assert_array_equal(out, rgb_image([[K, R, G, B], [K, W, K, Y]]))


def test_raw_bit_ignores_other_bits() -> None:
    data = bytes((RAW | BG | ANY,)) + wire32(*R) + wire32(*G)
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 2, 1), data)], (2, 1))
    np.testing.assert_array_equal(out, rgb_image([[R, G]]))


def test_background_only() -> None:
    data = bytes((BG,)) + wire32(*B)
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 5, 4), data)], (5, 4))
    np.testing.assert_array_equal(out, solid(5, 4, B))


def test_background_foreground_subrects() -> None:
    data = (
        bytes((BG | FG | ANY,)) + wire32(*K) + wire32(*W) + bytes((2,))
        + bytes((xy(0, 0), wh(2, 1)))
        + bytes((xy(3, 1), wh(1, 2)))
    )
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 4, 3), data)], (4, 3))
    np.testing.assert_array_equal(
        out, rgb_image([[W, W, K, K], [K, K, K, W], [K, K, K, W]])
    )


def test_coloured_subrects_later_wins() -> None:
    data = (
        bytes((BG | ANY | COLOURED,)) + wire32(*K) + bytes((3,))
        + wire32(*R) + bytes((xy(0, 0), wh(3, 2)))
        + wire32(*G) + bytes((xy(1, 1), wh(2, 2)))
        + wire32(*B) + bytes((xy(2, 0), wh(1, 1)))
    )
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 4, 3), data)], (4, 3))
    np.testing.assert_array_equal(
        out, rgb_image([[R, R, B, K], [R, G, G, K], [K, G, G, K]])
    )


def test_many_coloured_subrects_later_wins() -> None:
    # A diagonal of 1x1s, then one 2x2 over part of it, then a 1x1 on top of that.
    subs = b"".join(wire32(*R) + bytes((xy(i, i), wh(1, 1))) for i in range(8))
    subs += wire32(*G) + bytes((xy(1, 1), wh(2, 2)))
    subs += wire32(*B) + bytes((xy(2, 2), wh(1, 1)))
    data = bytes((BG | ANY | COLOURED,)) + wire32(*K) + bytes((10,)) + subs
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 8, 8), data)], (8, 8))
    expected = solid(8, 8, K)
    for i in range(8):
        expected[i, i, :3] = R
    expected[1:3, 1:3, :3] = G
    expected[2, 2, :3] = B
    np.testing.assert_array_equal(out, expected)


def test_many_mono_subrects() -> None:
    subs = b"".join(bytes((xy(i, 0), wh(1, i + 1))) for i in range(10))
    data = bytes((BG | FG | ANY,)) + wire32(*K) + wire32(*W) + bytes((10,)) + subs
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 10, 10), data)], (10, 10))
    expected = solid(10, 10, K)
    for i in range(10):
        expected[: i + 1, i, :3] = W
    np.testing.assert_array_equal(out, expected)


def test_many_single_pixel_mono_subrects() -> None:
    # Enough 1x1s in one colour for the vectorised path, with repeats.
    cells = [(i % 5, (i * 3) % 7) for i in range(40)]
    subs = b"".join(bytes((xy(x, y), wh(1, 1))) for x, y in cells)
    data = bytes((BG | FG | ANY,)) + wire32(*K) + wire32(*Y) + bytes((len(cells),)) + subs
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 5, 7), data)], (5, 7))
    expected = solid(5, 7, K)
    for x, y in cells:
        expected[y, x, :3] = Y
    np.testing.assert_array_equal(out, expected)


def test_full_tile_subrect() -> None:
    data = bytes((BG | FG | ANY,)) + wire32(*K) + wire32(*G) + bytes((1, xy(0, 0), wh(16, 16)))
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 16, 16), data)], (16, 16))
    np.testing.assert_array_equal(out, solid(16, 16, G))


def test_background_and_foreground_carry_over() -> None:
    # A 48x1 rect has three 16x1 tiles.
    t1 = bytes((BG | FG | ANY,)) + wire32(*R) + wire32(*G) + bytes((1, xy(0, 0), wh(1, 1)))
    t2 = bytes((ANY,)) + bytes((1, xy(1, 0), wh(1, 1)))  # red bg, green fg carried
    t3 = bytes((0,))  # red bg carried, nothing else
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 48, 1), t1 + t2 + t3)], (48, 1))
    expected = solid(48, 1, R)
    expected[0, 0, :3] = G
    expected[0, 17, :3] = G
    np.testing.assert_array_equal(out, expected)


def test_foreground_after_coloured_tile_is_last_subrect_colour() -> None:
    t1 = (
        bytes((BG | ANY | COLOURED,)) + wire32(*K) + bytes((2,))
        + wire32(*R) + bytes((xy(0, 0), wh(1, 1)))
        + wire32(*B) + bytes((xy(1, 0), wh(1, 1)))
    )
    t2 = bytes((ANY,)) + bytes((1, xy(0, 0), wh(1, 1)))
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 32, 1), t1 + t2)], (32, 1))
    expected = solid(32, 1, K)
    expected[0, 0, :3] = R
    expected[0, 1, :3] = B
    expected[0, 16, :3] = B
    np.testing.assert_array_equal(out, expected)


def test_background_carries_over_raw_tile_and_zero_subrect_count() -> None:
    t1 = bytes((BG,)) + wire32(*G)
    t2 = bytes((RAW,)) + wire32(*R) * 16
    t3 = bytes((ANY,)) + bytes((0,))  # AnySubrects with a count of 0
    t4 = bytes((0,))
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 64, 1), t1 + t2 + t3 + t4)], (64, 1))
    expected = solid(64, 1, G)
    expected[0, 16:32, :3] = R
    np.testing.assert_array_equal(out, expected)


def test_partial_edge_tiles_20x18() -> None:
    # Tiles: 16x16 at (0,0), 4x16 at (16,0), 16x2 at (0,16), 4x2 at (16,16).
    t1 = bytes((BG | FG | ANY,)) + wire32(*R) + wire32(*W) + bytes((1, xy(15, 15), wh(1, 1)))
    t2 = bytes((BG | ANY,)) + wire32(*G) + bytes((1, xy(3, 0), wh(1, 16)))  # fg W carried
    t3 = bytes((BG,)) + wire32(*B)
    t4 = bytes((RAW,)) + b"".join(wire32(i * 10, 0, 0) for i in range(8))
    rect = Rect(2, 1, 20, 18)
    out = decode_bytes(HextileDecoder, [(rect, t1 + t2 + t3 + t4)], (24, 20))
    expected = np.zeros((20, 24, 4), dtype=np.uint8)
    body = expected[1:19, 2:22]
    body[:16, :16, :3] = R
    body[15, 15, :3] = W
    body[:16, 16:, :3] = G
    body[:16, 19, :3] = W
    body[16:, :16, :3] = B
    body[16:, 16:, 0] = (np.arange(8) * 10).reshape(2, 4)
    np.testing.assert_array_equal(out, expected)


def test_two_rects_do_not_share_background() -> None:
    first = bytes((BG,)) + wire32(*R)
    second = bytes((0,))
    with pytest.raises(ProtocolError, match="without a background"):
        decode_bytes(
            HextileDecoder, [(Rect(0, 0, 1, 1), first), (Rect(1, 0, 1, 1), second)], (2, 1)
        )


def test_two_rects() -> None:
    first = bytes((BG,)) + wire32(*R)
    second = bytes((BG | FG | ANY,)) + wire32(*G) + wire32(*B) + bytes((1, xy(0, 0), wh(1, 1)))
    out = decode_bytes(
        HextileDecoder, [(Rect(0, 0, 1, 2), first), (Rect(1, 0, 1, 2), second)], (2, 2)
    )
    np.testing.assert_array_equal(out, rgb_image([[R, B], [R, G]]))


def test_empty_rect_reads_nothing() -> None:
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 0, 5), b"")], (2, 2))
    assert not out.any()


def test_rgb565() -> None:
    red, green, blue = (struct.pack("<H", v) for v in (0xF800, 0x07E0, 0x001F))
    data = (
        bytes((BG | ANY | COLOURED,)) + red + bytes((2,))
        + green + bytes((xy(1, 0), wh(1, 1)))
        + blue + bytes((xy(0, 1), wh(2, 1)))
    )
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2), pf=RGB565)
    np.testing.assert_array_equal(out, rgb_image([[R, G], [B, B]]))


def test_bgr233() -> None:
    t1 = bytes((BG | FG | ANY,)) + bytes((0x07, 0xC0)) + bytes((1, xy(0, 0), wh(1, 1)))
    t2 = bytes((RAW,)) + bytes((0x38, 0xFF))
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, 18, 1), t1 + t2)], (18, 1), pf=BGR233)
    expected = solid(18, 1, R)
    expected[0, 0, :3] = B
    expected[0, 16, :3] = G
    expected[0, 17, :3] = W
    np.testing.assert_array_equal(out, expected)


def test_colour_map() -> None:
    pf = PixelFormat(8, 8, False, False, 0, 0, 0, 0, 0, 0)
    colour_map = np.zeros((256, 4), dtype=np.uint8)
    colour_map[1, :3] = R
    colour_map[2, :3] = G
    colour_map[3, :3] = B
    t1 = bytes((BG | FG | ANY, 1, 2, 1, xy(0, 0), wh(1, 1)))
    t2 = bytes((ANY | COLOURED, 1, 3, xy(1, 0), wh(1, 1)))
    t3 = bytes((RAW, 2, 3))
    out = decode_bytes(
        HextileDecoder, [(Rect(0, 0, 34, 1), t1 + t2 + t3)], (34, 1), pf=pf, colour_map=colour_map
    )
    expected = solid(34, 1, R)
    expected[0, 0, :3] = G
    expected[0, 17, :3] = B
    expected[0, 32, :3] = G
    expected[0, 33, :3] = B
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("seed", range(6))
def test_random_tiles_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, h = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    palette = rng.integers(0, 256, size=(5, 3)).astype(np.uint8)
    expected = np.zeros((h, w, 4), dtype=np.uint8)
    data = b""
    bg = fg = None
    for ty in range(0, h, 16):
        for tx in range(0, w, 16):
            tw, th = min(16, w - tx), min(16, h - ty)
            tile = expected[ty : ty + th, tx : tx + tw]
            kind = int(rng.integers(0, 4))
            if kind == 0:
                pix = np.zeros((th, tw, 4), dtype=np.uint8)
                pix[..., :3] = palette[rng.integers(0, 5, size=(th, tw))]
                data += bytes((RAW,)) + pix.tobytes()
                tile[...] = pix
                continue
            sub = ANY
            head = b""
            if bg is None or rng.random() < 0.5:
                bg = np.append(palette[int(rng.integers(0, 5))], np.uint8(0))
                sub |= BG
                head += bg.tobytes()
            coloured = kind == 3
            if coloured:
                sub |= COLOURED
            elif fg is None or rng.random() < 0.5:
                fg = np.append(palette[int(rng.integers(0, 5))], np.uint8(0))
                sub |= FG
                head += fg.tobytes()
            tile[...] = bg
            count = int(rng.integers(0, 30))
            body = b""
            for _ in range(count):
                sw, sh = (1, 1) if rng.random() < 0.5 else (
                    int(rng.integers(1, tw + 1)), int(rng.integers(1, th + 1))
                )
                x, y = int(rng.integers(0, tw - sw + 1)), int(rng.integers(0, th - sh + 1))
                if coloured:
                    fg = np.append(palette[int(rng.integers(0, 5))], np.uint8(0))
                    body += fg.tobytes()
                body += bytes((xy(x, y), wh(sw, sh)))
                assert fg is not None
                tile[y : y + sh, x : x + sw] = fg
            data += bytes((sub,)) + head + bytes((count,)) + body
    out = decode_bytes(HextileDecoder, [(Rect(0, 0, w, h), data)], (w, h))
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("sub", [0x20, 0x40, 0x80, 0x21, 0xFF])
def test_invalid_subencoding(sub: int) -> None:
    data = bytes((sub,)) + wire32(*R)
    with pytest.raises(ProtocolError, match=f"hextile: invalid subencoding 0x{sub:02x}"):
        decode_bytes(HextileDecoder, [(Rect(0, 0, 1, 1), data)], (1, 1))


def test_invalid_subencoding_in_second_tile() -> None:
    data = bytes((BG,)) + wire32(*R) + bytes((0x30,))
    with pytest.raises(ProtocolError, match="invalid subencoding 0x30"):
        decode_bytes(HextileDecoder, [(Rect(0, 0, 17, 1), data)], (17, 1))


@pytest.mark.parametrize(
    ("rect", "subrect"),
    [
        (Rect(0, 0, 4, 3), (xy(3, 0), wh(2, 1))),  # x + w = 5 > 4
        (Rect(0, 0, 4, 3), (xy(0, 2), wh(1, 2))),  # y + h = 4 > 3
        (Rect(0, 0, 4, 3), (xy(5, 0), wh(1, 1))),
        (Rect(0, 0, 16, 16), (xy(15, 15), wh(2, 1))),
        (Rect(0, 0, 20, 18), (xy(0, 0), wh(16, 16))),  # fits; the last tile overflows
    ],
)
def test_subrect_outside_tile(rect: Rect, subrect: tuple[int, int]) -> None:
    tile = bytes((BG | FG | ANY,)) + wire32(*K) + wire32(*W) + bytes((1, *subrect))
    if rect.w > 16:
        # Fill the remaining tiles of a 20x18 rect with carried-over background,
        # the last one with a subrect that overflows its 4x2 size.
        data = tile + bytes((0,)) * 2 + bytes((ANY, 1, xy(0, 1), wh(1, 2)))
        with pytest.raises(ProtocolError, match="outside the 4x2 tile"):
            decode_bytes(HextileDecoder, [(rect, data)], (rect.w, rect.h))
        return
    with pytest.raises(ProtocolError, match=f"outside the {rect.w}x{rect.h} tile"):
        decode_bytes(HextileDecoder, [(rect, tile)], (rect.w, rect.h))


def test_many_subrects_outside_tile() -> None:
    subs = bytes((xy(0, 0), wh(1, 1))) * 9 + bytes((xy(2, 0), wh(2, 1)))
    data = bytes((BG | FG | ANY,)) + wire32(*K) + wire32(*W) + bytes((10,)) + subs
    with pytest.raises(ProtocolError, match="outside the 3x3 tile"):
        decode_bytes(HextileDecoder, [(Rect(0, 0, 3, 3), data)], (3, 3))


def test_many_single_pixel_subrects_outside_tile() -> None:
    subs = bytes((xy(1, 1), wh(1, 1))) * 20 + bytes((xy(1, 3), wh(1, 1)))
    data = bytes((BG | FG | ANY,)) + wire32(*K) + wire32(*W) + bytes((21,)) + subs
    with pytest.raises(ProtocolError, match="1x1\\+1\\+3 outside the 3x3 tile"):
        decode_bytes(HextileDecoder, [(Rect(0, 0, 3, 3), data)], (3, 3))


def test_first_tile_without_background() -> None:
    data = bytes((FG | ANY,)) + wire32(*W) + bytes((0,))
    with pytest.raises(ProtocolError, match="hextile: tile without a background"):
        decode_bytes(HextileDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2))


def test_raw_tile_does_not_supply_background() -> None:
    data = bytes((RAW,)) + wire32(*R) * 16 + bytes((0,))
    with pytest.raises(ProtocolError, match="without a background"):
        decode_bytes(HextileDecoder, [(Rect(0, 0, 17, 1), data)], (17, 1))


def test_subrects_without_foreground() -> None:
    data = bytes((BG | ANY,)) + wire32(*K) + bytes((1, xy(0, 0), wh(1, 1)))
    with pytest.raises(ProtocolError, match="without a foreground"):
        decode_bytes(HextileDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2))


def test_encoding() -> None:
    assert HextileDecoder.ENCODING == 5
