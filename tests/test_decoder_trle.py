"""TRLE decoder tests: hand-built tiles, palette reuse, malformed data, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.accel_switch import accel_path  # noqa: F401  (the fixture below)
from tests.decoding import decode_bytes, rgb_image
from tests.test_decoder_zrle import (
    B16,
    G16,
    K16,
    R16,
    W16,
    B,
    G,
    K,
    R,
    W,
    cp,
    encode_tiles,
    image,
    random_image,
    run_len,
)
from vncwall.net.decoders.trle import TRLEDecoder
from vncwall.net.errors import ProtocolError
from vncwall.net.framebuffer import Rect
from vncwall.net.pixelformat import RGB565

# Every test runs on the compiled decode path and on the pure-Python one.
pytestmark = pytest.mark.usefixtures("accel_path")


def decode(rects: list[tuple[Rect, bytes]], size: tuple[int, int], **kw: object) -> np.ndarray:
    return decode_bytes(TRLEDecoder, rects, size, **kw)  # type: ignore[arg-type]


def one(rect: Rect, data: bytes, size: tuple[int, int], **kw: object) -> np.ndarray:
    return decode([(rect, data)], size, **kw)


def rows(seq: list[tuple[int, int, int]], w: int) -> np.ndarray:
    return rgb_image([seq[i : i + w] for i in range(0, len(seq), w)])


# --- subencodings ----------------------------------------------------------------------
def test_raw_tile() -> None:
    got = one(Rect(1, 1, 3, 2), b"\x00" + cp(R, G, B, W, K, R), (5, 4))
    want = image(4, 5)
    want[1:3, 1:4] = rgb_image([[R, G, B], [W, K, R]])
    np.testing.assert_array_equal(got, want)


def test_solid_tile() -> None:
    np.testing.assert_array_equal(one(Rect(0, 0, 4, 3), b"\x01" + cp(G), (4, 3)), image(3, 4, G))


def test_packed_two_colours_odd_width() -> None:
    data = b"\x02" + cp(R, B) + bytes([0b01011111, 0b11111000, 0b00001000])
    got = one(Rect(0, 0, 5, 3), data, (5, 3))
    want = rgb_image([[R, B, R, B, B], [B, B, B, B, B], [R, R, R, R, B]])
    np.testing.assert_array_equal(got, want)


def test_packed_three_colours_odd_width() -> None:
    data = b"\x03" + cp(R, G, B) + bytes([0b00011001, 0b00111111, 0b10101010, 0b10000000])
    got = one(Rect(0, 0, 5, 2), data, (5, 2))
    np.testing.assert_array_equal(got, rgb_image([[R, G, B, G, R], [B, B, B, B, B]]))


def test_packed_sixteen_colours_odd_width() -> None:
    palette = [(i * 16, 255 - i * 16, i) for i in range(16)]
    data = b"\x10" + cp(*palette) + bytes([0x0F, 0x7F, 0x81, 0xE0])
    got = one(Rect(0, 0, 3, 2), data, (3, 2))
    want = rgb_image([[palette[0], palette[15], palette[7]], [palette[8], palette[1], palette[14]]])
    np.testing.assert_array_equal(got, want)


def test_plain_rle() -> None:
    # 16x16: R x1, G x254, B x1; then a tile that is one run of 256 (length bytes ff 00).
    data = b"\x80" + cp(R) + b"\x00" + cp(G) + b"\xfd" + cp(B) + b"\x00"
    data += b"\x80" + cp(W) + b"\xff\x00"
    got = one(Rect(0, 0, 32, 16), data, (32, 16))
    want = image(16, 32, W)
    want[:, :16] = rows([R] + [G] * 254 + [B], 16)
    np.testing.assert_array_equal(got, want)


def test_palette_rle() -> None:
    # 4x4 tile: R single, G run of 2, B single, R run of 12.
    data = b"\x83" + cp(R, G, B) + b"\x00" + b"\x81\x01" + b"\x02" + b"\x80\x0b"
    got = one(Rect(0, 0, 4, 4), data, (4, 4))
    np.testing.assert_array_equal(got, rows([R, G, G, B] + [R] * 12, 4))


def test_rect_of_several_tiles_with_partial_edges() -> None:
    # 20x18 at (2, 1): tiles 16x16 solid, 4x16 raw, 16x2 plain RLE, 4x2 palette RLE.
    raw = [R, G, B, W] * 16
    data = b"\x01" + cp(R)
    data += b"\x00" + cp(*raw)
    data += b"\x80" + cp(G) + run_len(10) + cp(B) + run_len(22)
    data += b"\x82" + cp(W, K) + b"\x81\x06" + b"\x00"
    got = one(Rect(2, 1, 20, 18), data, (24, 20))
    want = image(20, 24)
    want[1:17, 2:18] = image(16, 16, R)
    want[1:17, 18:22] = rows(raw, 4)
    want[17:19, 2:18] = rows([G] * 10 + [B] * 22, 16)
    want[17:19, 18:22] = rows([K] * 7 + [W], 4)
    np.testing.assert_array_equal(got, want)


def test_palette_reuse_127_and_129() -> None:
    # Rect 1, four 16x16 tiles: packed [R, G]; 127 reuses it; palette RLE [B, W]; 129
    # reuses that. Rect 2: 127 packs with the last palette, [B, W], across rects.
    first = b"\x02" + cp(R, G) + b"\x55" * 32
    first += b"\x7f" + b"\xaa" * 32
    first += b"\x82" + cp(B, W) + b"\x80\x7f" + b"\x81\x7f"
    first += b"\x81" + b"\x81\xff\x00"
    second = b"\x7f" + b"\x0f" * 32
    got = decode([(Rect(0, 0, 64, 16), first), (Rect(64, 0, 16, 16), second)], (80, 16))
    want = image(16, 80)
    want[:, 0:16] = rows([R, G] * 128, 16)
    want[:, 16:32] = rows([G, R] * 128, 16)
    want[:, 32:48] = rows([B] * 128 + [W] * 128, 16)
    want[:, 48:64] = image(16, 16, W)
    want[:, 64:80] = rows(([B] * 4 + [W] * 4) * 32, 16)
    np.testing.assert_array_equal(got, want)


def test_palette_survives_non_palette_tiles() -> None:
    # raw, solid and plain-RLE tiles in between do not replace the remembered palette.
    tiles = [
        b"\x02" + cp(R, G) + b"\x40\x80",
        b"\x00" + cp(B, B, B, B),
        b"\x01" + cp(W),
        b"\x80" + cp(K) + b"\x03",
        b"\x81\x80\x03",
    ]
    got = decode([(Rect(0, 0, 2, 2), tile) for tile in tiles], (2, 2))
    np.testing.assert_array_equal(got, image(2, 2, R))


def test_sixteen_bpp_two_byte_cpixels() -> None:
    # 34x2: a 16x2 plain-RLE tile, a 16x2 packed tile, a 2x2 raw tile.
    data = b"\x80" + R16 + run_len(10) + B16 + run_len(22)
    data += b"\x02" + G16 + W16 + b"\x0f\xf0" * 2
    data += b"\x00" + G16 + W16 + K16 + R16
    got = one(Rect(0, 0, 34, 2), data, (34, 2), pf=RGB565)
    want = image(2, 34)
    want[:, 0:16] = rows([R] * 10 + [B] * 22, 16)
    want[:, 16:32] = rows(([G] * 4 + [W] * 8 + [G] * 4) * 2, 16)
    want[:, 32:34] = rgb_image([[G, W], [K, R]])
    np.testing.assert_array_equal(got, want)


def test_empty_rect_reads_nothing() -> None:
    np.testing.assert_array_equal(decode([(Rect(0, 0, 0, 5), b"")], (2, 2)), image(2, 2))


# --- malformed data --------------------------------------------------------------------
TILE4 = Rect(0, 0, 4, 4)


def fails(data: bytes, match: str, rect: Rect = TILE4) -> None:
    with pytest.raises(ProtocolError, match=match):
        one(rect, data, (rect.w, rect.h))


@pytest.mark.parametrize("sub", [17, 64, 126])
def test_invalid_subencoding(sub: int) -> None:
    fails(bytes([sub]) + b"\x00" * 64, f"trle: invalid tile subencoding {sub}$")


@pytest.mark.parametrize("sub", [127, 129])
def test_reuse_without_previous_palette(sub: int) -> None:
    fails(bytes([sub]) + b"\x00" * 16, f"trle: subencoding {sub} reuses a palette before any")


def test_packed_reuse_of_a_palette_too_large_to_pack() -> None:
    palette = [(i, i, i) for i in range(17)]
    rects = [(Rect(0, 0, 4, 4), b"\x91" + cp(*palette) + b"\x80\x0f"), (Rect(0, 0, 4, 4), b"\x7f")]
    with pytest.raises(ProtocolError, match="subencoding 127 packs indices into a 17-colour"):
        decode(rects, (4, 4))


def test_packed_palette_index_out_of_range() -> None:
    fails(b"\x03" + cp(R, G, B) + bytes([0b00011011, 0, 0, 0]), "palette index 3 out of range")


def test_palette_rle_index_out_of_range() -> None:
    fails(b"\x82" + cp(R, G) + b"\x00\x02", "trle: palette index 2 out of range")
    fails(b"\x82" + cp(R, G) + b"\x85\x03", "trle: palette index 5 out of range")


def test_reused_palette_index_out_of_range() -> None:
    rects = [
        (Rect(0, 0, 4, 4), b"\x82" + cp(R, G) + b"\x80\x0f"),
        (Rect(0, 0, 4, 4), b"\x81\x82\x0f"),
    ]
    with pytest.raises(ProtocolError, match="palette index 2 out of range for a 2-colour"):
        decode(rects, (4, 4))


def test_plain_rle_run_overflows_tile() -> None:
    fails(b"\x80" + cp(R) + run_len(17), "trle: run of 17 pixels overflows the tile")


def test_palette_rle_run_overflows_tile() -> None:
    data = b"\x82" + cp(R, G) + b"\x80\x0a" + b"\x81\x05"
    fails(data, "trle: run of 6 pixels overflows the tile")


def test_run_of_255s_overflows_early() -> None:
    fails(b"\x80" + cp(R) + b"\xff" * 100, "overflows the tile", Rect(0, 0, 16, 16))


def test_never_reads_past_the_tile() -> None:
    # The decoder must stop exactly at the end of each tile: nothing left over, and the
    # next rectangle's bytes are not consumed early.
    tile = b"\x82" + cp(R, G) + b"\x81" + run_len(255) + b"\x00"
    got = decode([(Rect(0, 0, 16, 16), tile), (Rect(0, 0, 1, 1), b"\x01" + cp(B))], (16, 16))
    want = rows([G] * 255 + [R], 16)
    want[0, 0] = [*B, 0]
    np.testing.assert_array_equal(got, want)


# --- round trips against the reference encoder -----------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    w=st.integers(1, 40),
    h=st.integers(1, 40),
    ncolours=st.integers(1, 20),
)
def test_round_trip(seed: int, w: int, h: int, ncolours: int) -> None:
    rng = np.random.default_rng(seed)
    img = random_image(rng, h, w, ncolours)
    half, prev = encode_tiles(img[: h // 2], 16, rng, [])
    rest, _ = encode_tiles(img[h // 2 :], 16, rng, prev)
    got = decode([(Rect(0, 0, w, h // 2), half), (Rect(0, h // 2, w, h - h // 2), rest)], (w, h))
    want = np.zeros((h, w, 4), dtype=np.uint8)
    want[..., :3] = img
    np.testing.assert_array_equal(got, want)
