"""ZRLE decoder tests: hand-built tiles in zlib payloads, malformed data, round trips."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.accel_switch import accel_path  # noqa: F401  (the fixture below)
from tests.decoding import decode_bytes, rgb_image
from vncwall.net.decoders.zrle import ZRLEDecoder
from vncwall.net.errors import ProtocolError
from vncwall.net.framebuffer import Rect
from vncwall.net.pixelformat import RGB565

# Every test runs on the compiled decode path and on the pure-Python one.
pytestmark = pytest.mark.usefixtures("accel_path")

R = (255, 0, 0)
G = (0, 255, 0)
B = (0, 0, 255)
W = (255, 255, 255)
K = (0, 0, 0)

# RGB565 little-endian CPIXELs (2 bytes) for the same colours.
R16, G16, B16, W16, K16 = b"\x00\xf8", b"\xe0\x07", b"\x1f\x00", b"\xff\xff", b"\x00\x00"


# --- helpers shared with the TRLE tests ------------------------------------------------
def cp(*colours: tuple[int, int, int]) -> bytes:
    """Compact 3-byte CPIXELs of the default RGBX32 format."""
    return b"".join(bytes(c) for c in colours)


def run_len(n: int) -> bytes:
    """An RLE run length of n pixels: 255s summed, then a final byte below 255, plus one."""
    return b"\xff" * ((n - 1) // 255) + bytes([(n - 1) % 255])


def image(h: int, w: int, colour: tuple[int, int, int] = K) -> np.ndarray:
    """An (h, w, 4) expected image filled with one colour."""
    return rgb_image([[colour] * w for _ in range(h)])


def encode_tile(
    tile: np.ndarray, kind: str, rng: np.random.Generator, prev: list[bytes] | None
) -> tuple[bytes, list[bytes] | None]:
    """A reference encoder for one RGBX32 tile ((th, tw, 3) uint8) in the given kind.

    Returns the tile bytes and the palette it sent (None when it sent none). `prev` is
    TRLE's last palette: palette kinds reuse it (127 / 129) when it covers the tile.
    """
    th, tw = tile.shape[:2]
    flat = [bytes(p) for p in tile.reshape(-1, 3)]
    if kind == "raw":
        return b"\x00" + tile.tobytes(), None
    if kind == "solid":
        return b"\x01" + flat[0], None
    if kind == "plain":
        out = bytearray(b"\x80")
        i = 0
        while i < len(flat):
            j = i + 1
            while j < len(flat) and flat[j] == flat[i]:
                j += 1
            out += flat[i] + run_len(j - i)
            i = j
        return bytes(out), None
    colours = sorted(set(flat))
    limit = 16 if kind == "packed" else 127
    sent: list[bytes] | None
    if prev and set(colours) <= set(prev) and len(prev) <= limit and rng.random() < 0.7:
        palette, sent = prev, None
        head = b"\x7f" if kind == "packed" else b"\x81"
    else:
        # Sometimes pad the palette with unused colours, to vary the packing width.
        while len(colours) < 2 or (len(colours) < limit and rng.random() < 0.3):
            extra = bytes(rng.integers(0, 256, 3, dtype=np.uint8))
            if extra not in colours:
                colours.append(extra)
        palette = sent = colours
        size = len(palette)
        head = bytes([size if kind == "packed" else 128 + size]) + b"".join(palette)
    index = {c: i for i, c in enumerate(palette)}
    out = bytearray(head)
    if kind == "packed":
        bits = 1 if len(palette) <= 2 else 2 if len(palette) <= 4 else 4
        for row in range(th):
            acc = 0
            for col in range(tw):
                acc = (acc << bits) | index[flat[row * tw + col]]
            pad = -(tw * bits) % 8
            junk = int(rng.integers(0, 1 << pad)) if pad else 0  # padding bits are ignored
            out += ((acc << pad) | junk).to_bytes((tw * bits + pad) // 8, "big")
    else:
        i = 0
        while i < len(flat):
            j = i + 1
            while j < len(flat) and flat[j] == flat[i]:
                j += 1
            if j - i == 1 and rng.random() < 0.8:
                out.append(index[flat[i]])
            else:
                out.append(0x80 | index[flat[i]])
                out += run_len(j - i)
            i = j
    return bytes(out), sent


def encode_tiles(
    img: np.ndarray, tile: int, rng: np.random.Generator, prev: list[bytes] | None = None
) -> tuple[bytes, list[bytes] | None]:
    """Encode an (h, w, 3) image as TRLE / ZRLE tile data, picking kinds at random.

    Pass `prev` (TRLE: [] before any palette) to allow palette reuse; returns the tile
    data and the last palette sent.
    """
    h, w = img.shape[:2]
    out = bytearray()
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            t = np.ascontiguousarray(img[y : y + tile, x : x + tile])
            ncol = len({bytes(p) for p in t.reshape(-1, 3)})
            kinds = ["raw", "plain"]
            if ncol == 1:
                kinds.append("solid")
            if ncol <= 16:
                kinds.append("packed")
            if ncol <= 127:
                kinds.append("prle")
            data, sent = encode_tile(t, str(rng.choice(kinds)), rng, prev)
            if prev is not None and sent is not None:
                prev = sent
            out += data
    return bytes(out), prev


def random_image(rng: np.random.Generator, h: int, w: int, ncolours: int) -> np.ndarray:
    """An (h, w, 3) image of runs drawn from a few random colours."""
    colours = rng.integers(0, 256, (ncolours, 3), dtype=np.uint8)
    n = h * w
    lengths = rng.geometric(rng.uniform(0.02, 0.9), n)
    picks = rng.integers(0, ncolours, n)
    seq = np.repeat(picks, lengths)[:n]
    return np.ascontiguousarray(colours[seq].reshape(h, w, 3))


# --- ZRLE framing ----------------------------------------------------------------------
def zrle_payloads(*tile_data: bytes) -> list[bytes]:
    """Wire bytes for consecutive rectangles' tile data on one zlib stream."""
    z = zlib.compressobj()
    out = []
    for data in tile_data:
        comp = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
        out.append(struct.pack(">I", len(comp)) + comp)
    return out


def framed(comp: bytes) -> bytes:
    return struct.pack(">I", len(comp)) + comp


def decode(rects: list[tuple[Rect, bytes]], size: tuple[int, int], **kw: object) -> np.ndarray:
    return decode_bytes(ZRLEDecoder, rects, size, **kw)  # type: ignore[arg-type]


def one(rect: Rect, tile_data: bytes, size: tuple[int, int], **kw: object) -> np.ndarray:
    return decode([(rect, zrle_payloads(tile_data)[0])], size, **kw)


# --- subencodings ----------------------------------------------------------------------
def test_raw_tile() -> None:
    got = one(Rect(1, 1, 3, 2), b"\x00" + cp(R, G, B, W, K, R), (5, 4))
    want = image(4, 5)
    want[1:3, 1:4] = rgb_image([[R, G, B], [W, K, R]])
    np.testing.assert_array_equal(got, want)


def test_solid_tile() -> None:
    got = one(Rect(0, 1, 4, 2), b"\x01" + cp(G), (4, 3))
    want = image(3, 4)
    want[1:3] = image(2, 4, G)
    np.testing.assert_array_equal(got, want)


def test_packed_two_colours_odd_width() -> None:
    # 5 pixels of 1 bit per row, MSB first; the 3 padding bits of row 0 are set.
    data = b"\x02" + cp(R, B) + bytes([0b01011111, 0b11111000, 0b00001000])
    got = one(Rect(0, 0, 5, 3), data, (5, 3))
    want = rgb_image([[R, B, R, B, B], [B, B, B, B, B], [R, R, R, R, B]])
    np.testing.assert_array_equal(got, want)


def test_packed_three_colours_odd_width() -> None:
    # 5 pixels of 2 bits = 10 bits, padded to 2 bytes per row.
    data = b"\x03" + cp(R, G, B) + bytes([0b00011001, 0b00111111, 0b10101010, 0b10000000])
    got = one(Rect(0, 0, 5, 2), data, (5, 2))
    want = rgb_image([[R, G, B, G, R], [B, B, B, B, B]])
    np.testing.assert_array_equal(got, want)


def test_packed_sixteen_colours_odd_width() -> None:
    palette = [(i * 16, 255 - i * 16, i) for i in range(16)]
    data = b"\x10" + cp(*palette) + bytes([0x0F, 0x7F, 0x81, 0xE0])
    got = one(Rect(0, 0, 3, 2), data, (3, 2))
    want = rgb_image([[palette[0], palette[15], palette[7]], [palette[8], palette[1], palette[14]]])
    np.testing.assert_array_equal(got, want)


def test_plain_rle_with_long_runs() -> None:
    # 64x64 = 4096 pixels: R x1, G x255 (one byte, 254), B x3000 (255*11 + 194), W x840.
    data = b"\x80" + cp(R) + b"\x00" + cp(G) + b"\xfe" + cp(B) + run_len(3000) + cp(W)
    data += run_len(840)
    assert run_len(3000) == b"\xff" * 11 + bytes([194])
    got = one(Rect(0, 0, 64, 64), data, (64, 64))
    seq = [R] + [G] * 255 + [B] * 3000 + [W] * 840
    want = rgb_image([seq[i * 64 : (i + 1) * 64] for i in range(64)])
    np.testing.assert_array_equal(got, want)


def test_palette_rle() -> None:
    # 4x4: R single, G run of 2, B single, R run of 12 (index byte with top bit set).
    data = b"\x83" + cp(R, G, B) + b"\x00" + b"\x81\x01" + b"\x02" + b"\x80\x0b"
    got = one(Rect(0, 0, 4, 4), data, (4, 4))
    seq = [R, G, G, B] + [R] * 12
    want = rgb_image([seq[i * 4 : (i + 1) * 4] for i in range(4)])
    np.testing.assert_array_equal(got, want)


def test_palette_rle_run_of_a_whole_tile() -> None:
    # 16x16 = 256 pixels in one run: length bytes 255, 0.
    data = b"\x82" + cp(W, B) + b"\x81\xff\x00"
    got = one(Rect(0, 0, 16, 16), data, (16, 16))
    np.testing.assert_array_equal(got, image(16, 16, B))


def test_rect_of_several_tiles_with_partial_edges() -> None:
    # 70x20: a 64x20 tile (1280 pixels) and a 6x20 edge tile.
    tile0 = b"\x82" + cp(R, G) + b"\x80" + run_len(640) + b"\x81" + run_len(640)
    # 6 pixels of 2 bits = 12 bits per row: 0,1,2,0 | 1,2 + 4 padding bits.
    tile1 = b"\x03" + cp(R, G, B) + bytes([0b00011000, 0b01100000]) * 20
    got = one(Rect(3, 2, 70, 20), tile0 + tile1, (80, 24))
    want = image(24, 80)
    want[2:12, 3:67] = image(10, 64, R)
    want[12:22, 3:67] = image(10, 64, G)
    want[2:22, 67:73] = rgb_image([[R, G, B, R, G, B]] * 20)
    np.testing.assert_array_equal(got, want)


def test_zlib_stream_continues_across_rects() -> None:
    first, second = zrle_payloads(b"\x01" + cp(R), b"\x01" + cp(B))
    # The second payload has no zlib header: it only inflates on the first one's stream.
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(second[4:])
    got = decode([(Rect(0, 0, 2, 1), first), (Rect(2, 0, 2, 1), second)], (4, 1))
    np.testing.assert_array_equal(got, rgb_image([[R, R, B, B]]))


def test_sixteen_bpp_two_byte_cpixels() -> None:
    # 66x2: a 64x2 plain-RLE tile, then a 2x2 raw tile.
    tile0 = b"\x80" + R16 + run_len(10) + B16 + run_len(118)
    tile1 = b"\x00" + G16 + W16 + K16 + R16
    got = one(Rect(0, 0, 66, 2), tile0 + tile1, (66, 2), pf=RGB565)
    seq = [R] * 10 + [B] * 118
    want = rgb_image([[*seq[:64], G, W], [*seq[64:], K, R]])
    np.testing.assert_array_equal(got, want)


def test_sixteen_bpp_palettes() -> None:
    tile = b"\x02" + G16 + W16 + bytes([0b01000000, 0b10000000])
    got = one(Rect(0, 0, 2, 2), tile, (2, 2), pf=RGB565)
    np.testing.assert_array_equal(got, rgb_image([[G, W], [W, G]]))
    tile = b"\x82" + K16 + B16 + b"\x81\x02\x00"
    got = one(Rect(0, 0, 2, 2), tile, (2, 2), pf=RGB565)
    np.testing.assert_array_equal(got, rgb_image([[B, B], [B, K]]))


def test_empty_rect() -> None:
    got = decode([(Rect(0, 0, 0, 0), struct.pack(">I", 0))], (2, 2))
    np.testing.assert_array_equal(got, image(2, 2))


# --- malformed data --------------------------------------------------------------------
TILE4 = Rect(0, 0, 4, 4)


def fails(tile_data: bytes, match: str, rect: Rect = TILE4) -> None:
    with pytest.raises(ProtocolError, match=match):
        one(rect, tile_data, (rect.w, rect.h))


@pytest.mark.parametrize("sub", [17, 100, 126, 127, 129])
def test_invalid_subencoding(sub: int) -> None:
    fails(bytes([sub]) + cp(R, G) + b"\x00" * 16, f"zrle: invalid tile subencoding {sub}$")


def test_packed_palette_index_out_of_range() -> None:
    # 3 colours in 2 bits: index 3 does not exist.
    fails(b"\x03" + cp(R, G, B) + bytes([0b00011011, 0, 0, 0]), "palette index 3 out of range")


def test_palette_rle_index_out_of_range() -> None:
    fails(b"\x82" + cp(R, G) + b"\x00\x02", "palette index 2 out of range")
    fails(b"\x82" + cp(R, G) + b"\x85\x03", "palette index 5 out of range")


def test_plain_rle_run_overflows_tile() -> None:
    fails(b"\x80" + cp(R) + run_len(10) + cp(G) + run_len(7), "run of 7 pixels overflows the tile")


def test_palette_rle_run_overflows_tile() -> None:
    fails(b"\x82" + cp(R, G) + b"\x00\x81" + run_len(16), "run of 16 pixels overflows the tile")


def test_run_of_255s_overflows_early() -> None:
    fails(b"\x80" + cp(R) + b"\xff" * 100, "overflows the tile", Rect(0, 0, 16, 16))


def test_truncated_zlib_data() -> None:
    comp = zrle_payloads(b"\x00" + bytes(range(48)))[0][4:]
    with pytest.raises(ProtocolError, match="zrle: tile data ends early"):
        decode([(Rect(0, 0, 4, 4), framed(comp[: len(comp) // 2]))], (4, 4))


def test_tile_data_missing() -> None:
    fails(b"\x00" + cp(R) * 15, "tile data ends early")


def test_corrupt_zlib_data() -> None:
    with pytest.raises(ProtocolError, match="zrle: zlib error"):
        decode([(Rect(0, 0, 4, 4), framed(b"\x12\x34\x56\x78"))], (4, 4))


def test_trailing_decompressed_bytes() -> None:
    fails(b"\x01" + cp(R) + b"\x00\x00", "zrle: 2 trailing bytes$")


def test_oversize_length_field() -> None:
    with pytest.raises(ProtocolError, match="zrle: 4294967295-byte payload exceeds"):
        decode([(Rect(0, 0, 1, 1), struct.pack(">I", 0xFFFFFFFF))], (1, 1))


def test_decompressed_data_over_the_bound() -> None:
    # Zeros compress to almost nothing: a zlib bomb for a 1x1 rect (bound 1 + 127*3 + 2).
    with pytest.raises(ProtocolError, match="exceeds the 384-byte bound"):
        one(Rect(0, 0, 1, 1), bytes(100_000), (1, 1))


def test_data_after_end_of_zlib_stream() -> None:
    comp = zlib.compress(b"\x01" + cp(R)) + b"junk"
    with pytest.raises(ProtocolError, match="4 bytes after the end of the zlib stream"):
        decode([(Rect(0, 0, 1, 1), framed(comp))], (1, 1))


# --- round trips against the reference encoder -----------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    w=st.integers(1, 140),
    h=st.integers(1, 70),
    ncolours=st.integers(1, 24),
)
def test_round_trip(seed: int, w: int, h: int, ncolours: int) -> None:
    rng = np.random.default_rng(seed)
    img = random_image(rng, h, w, ncolours)
    half, _ = encode_tiles(img[: h // 2], 64, rng)
    rest, _ = encode_tiles(img[h // 2 :], 64, rng)
    p1, p2 = zrle_payloads(half, rest)
    got = decode([(Rect(0, 0, w, h // 2), p1), (Rect(0, h // 2, w, h - h // 2), p2)], (w, h))
    want = np.zeros((h, w, 4), dtype=np.uint8)
    want[..., :3] = img
    np.testing.assert_array_equal(got, want)
