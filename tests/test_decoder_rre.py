"""RRE (2) and CoRRE (4) decoders."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tests.accel_switch import accel_path  # noqa: F401  (the fixture below)
from tests.decoding import decode_bytes, rgb_image, wire32
from vncwall.net.decoders import rre
from vncwall.net.decoders.base import DecodeContext
from vncwall.net.decoders.rre import CoRREDecoder, RREDecoder
from vncwall.net.errors import ProtocolError
from vncwall.net.framebuffer import Framebuffer, Rect
from vncwall.net.pixelformat import BGR233, RGB565, RGBX32
from vncwall.net.stream import ByteFeeder

# Every test runs on the compiled decode path and on the pure-Python one.
pytestmark = pytest.mark.usefixtures("accel_path")

R, G, B, W, K = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def rre_sub(colour: tuple[int, int, int], x: int, y: int, w: int, h: int) -> bytes:
    return wire32(*colour) + struct.pack(">HHHH", x, y, w, h)


def corre_sub(colour: tuple[int, int, int], x: int, y: int, w: int, h: int) -> bytes:
    return wire32(*colour) + bytes((x, y, w, h))


def test_rre_overlapping_subrects_later_wins() -> None:
    data = (
        struct.pack(">I", 3)
        + wire32(*R)
        + rre_sub(G, 0, 0, 3, 2)
        + rre_sub(B, 1, 1, 3, 2)  # overlaps the green one and wins
        + rre_sub(W, 3, 0, 1, 1)  # 1x1
    )
    out = decode_bytes(RREDecoder, [(Rect(1, 1, 4, 3), data)], (6, 5))
    expected = rgb_image(
        [
            [K, K, K, K, K, K],
            [K, G, G, G, W, K],
            [K, G, B, B, B, K],
            [K, R, B, B, B, K],
            [K, K, K, K, K, K],
        ]
    )
    np.testing.assert_array_equal(out, expected)


def test_rre_no_subrects_is_background() -> None:
    data = struct.pack(">I", 0) + wire32(*B)
    out = decode_bytes(RREDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2))
    np.testing.assert_array_equal(out, rgb_image([[B, B], [B, B]]))


def test_rre_empty_rect_reads_header() -> None:
    data = struct.pack(">I", 0) + wire32(*B)
    out = decode_bytes(RREDecoder, [(Rect(1, 1, 0, 0), data)], (2, 2))
    assert not out.any()


def test_rre_single_pixel_runs_keep_order() -> None:
    # Duplicate 1x1 positions inside one run, then a big subrect over some of them,
    # then a 1x1 on top of the big one.
    data = (
        struct.pack(">I", 6)
        + wire32(*K)
        + rre_sub(R, 0, 0, 1, 1)
        + rre_sub(G, 0, 0, 1, 1)  # same pixel: later (green) wins
        + rre_sub(R, 2, 0, 1, 1)
        + rre_sub(W, 1, 0, 2, 1)  # covers (1,0) and (2,0)
        + rre_sub(B, 2, 0, 1, 1)
        + rre_sub(B, 0, 1, 1, 1)
    )
    out = decode_bytes(RREDecoder, [(Rect(0, 0, 3, 2), data)], (3, 2))
    np.testing.assert_array_equal(out, rgb_image([[G, W, B], [B, K, K]]))


def _reference(w: int, h: int, bg: np.ndarray, subs: list[tuple[np.ndarray, int, int, int, int]]):
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[...] = bg
    for colour, x, y, sw, sh in subs:
        img[y : y + sh, x : x + sw] = colour
    return img


@pytest.mark.parametrize("corre", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_random_subrects_match_reference(
    corre: bool, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rre, "_BATCH", 7)  # exercise several batches
    rng = np.random.default_rng(seed)
    w, h = int(rng.integers(1, 20)), int(rng.integers(1, 20))
    count = int(rng.integers(0, min(w * h, 40) + 1))
    palette = rng.integers(0, 256, size=(4, 3)).astype(np.uint8)
    bg = np.append(palette[0], np.uint8(0))
    subs = []
    body = b""
    for _ in range(count):
        colour = np.append(palette[int(rng.integers(0, 4))], np.uint8(0))
        if rng.random() < 0.6:
            sw = sh = 1
        else:
            sw, sh = int(rng.integers(0, w + 1)), int(rng.integers(0, h + 1))
        x, y = int(rng.integers(0, w - sw + 1)), int(rng.integers(0, h - sh + 1))
        subs.append((colour, x, y, sw, sh))
        coords = bytes((x, y, sw, sh)) if corre else struct.pack(">HHHH", x, y, sw, sh)
        body += colour.tobytes() + coords
    data = struct.pack(">I", count) + bg.tobytes() + body
    decoder = CoRREDecoder if corre else RREDecoder
    out = decode_bytes(decoder, [(Rect(0, 0, w, h), data)], (w, h))
    np.testing.assert_array_equal(out, _reference(w, h, bg, subs))


def test_corre_subrects() -> None:
    data = (
        struct.pack(">I", 2)
        + wire32(*W)
        + corre_sub(R, 1, 0, 2, 2)
        + corre_sub(B, 0, 1, 2, 1)
    )
    out = decode_bytes(CoRREDecoder, [(Rect(2, 0, 3, 2), data)], (5, 2))
    np.testing.assert_array_equal(
        out, rgb_image([[K, K, W, R, R], [K, K, B, B, R]])
    )


def test_rre_two_rects() -> None:
    first = struct.pack(">I", 1) + wire32(*R) + rre_sub(G, 0, 0, 1, 1)
    second = struct.pack(">I", 1) + wire32(*B) + rre_sub(W, 1, 0, 1, 1)
    out = decode_bytes(
        RREDecoder, [(Rect(0, 0, 2, 1), first), (Rect(0, 1, 2, 1), second)], (2, 2)
    )
    np.testing.assert_array_equal(out, rgb_image([[G, R], [B, W]]))


def test_rre_rgb565() -> None:
    red, green = struct.pack("<H", 0xF800), struct.pack("<H", 0x07E0)
    data = struct.pack(">I", 1) + red + green + struct.pack(">HHHH", 1, 0, 1, 2)
    out = decode_bytes(RREDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2), pf=RGB565)
    np.testing.assert_array_equal(out, rgb_image([[R, G], [R, G]]))


def test_corre_bgr233() -> None:
    blue, red = bytes((0xC0,)), bytes((0x07,))
    data = struct.pack(">I", 1) + blue + red + bytes((0, 1, 2, 1))
    out = decode_bytes(CoRREDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2), pf=BGR233)
    np.testing.assert_array_equal(out, rgb_image([[B, B], [R, R]]))


@pytest.mark.parametrize(
    ("decoder", "sub"),
    [
        (RREDecoder, rre_sub(G, 1, 0, 2, 1)),  # x + w = 3 > 2
        (RREDecoder, rre_sub(G, 0, 2, 1, 1)),  # y = 2 outside a 2-high rect
        (RREDecoder, rre_sub(G, 0, 0, 1, 3)),
        (CoRREDecoder, corre_sub(G, 2, 0, 1, 1)),
        (CoRREDecoder, corre_sub(G, 0, 1, 1, 2)),
    ],
)
def test_subrect_outside_rect(decoder: type[RREDecoder], sub: bytes) -> None:
    data = struct.pack(">I", 1) + wire32(*R) + sub
    with pytest.raises(ProtocolError, match="outside the 2x2 rectangle"):
        decode_bytes(decoder, [(Rect(0, 0, 2, 2), data)], (4, 4))


@pytest.mark.parametrize("decoder", [RREDecoder, CoRREDecoder])
def test_count_larger_than_area_rejected_before_reading(decoder: type[RREDecoder]) -> None:
    ctx = DecodeContext(Framebuffer(4, 4), RGBX32)
    feeder = ByteFeeder(decoder().decode(Rect(0, 0, 2, 2), ctx))
    with pytest.raises(ProtocolError, match="5 subrectangles in a 2x2"):
        feeder.feed(struct.pack(">I", 5) + wire32(*R))


@pytest.mark.parametrize("decoder", [RREDecoder, CoRREDecoder])
def test_huge_count_rejected(decoder: type[RREDecoder]) -> None:
    data = struct.pack(">I", 0xFFFFFFFF) + wire32(*R)
    with pytest.raises(ProtocolError, match="subrectangles"):
        decode_bytes(decoder, [(Rect(0, 0, 3, 3), data)], (4, 4))


def test_count_on_empty_rect_rejected() -> None:
    data = struct.pack(">I", 1) + wire32(*R)
    with pytest.raises(ProtocolError):
        decode_bytes(RREDecoder, [(Rect(0, 0, 0, 3), data)], (4, 4))


def test_encodings() -> None:
    assert RREDecoder.ENCODING == 2
    assert CoRREDecoder.ENCODING == 4


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("max_size", [1, 3, 12])
def test_paint_subrects_matches_painting_one_by_one(seed: int, max_size: int) -> None:
    """Disjoint, overlapping and heavily overlapping subrectangles: later ones win."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 20)), int(rng.integers(1, 20))
    n = int(rng.integers(1, 60))
    ws = rng.integers(1, min(max_size, w) + 1, n).astype(np.int64)
    hs = rng.integers(1, min(max_size, h) + 1, n).astype(np.int64)
    xs = (rng.integers(0, 1 << 30, n) % (w - ws + 1)).astype(np.int64)
    ys = (rng.integers(0, 1 << 30, n) % (h - hs + 1)).astype(np.int64)
    colours = rng.integers(0, 256, (n, 4)).astype(np.uint8)
    expected = np.zeros((h, w, 4), dtype=np.uint8)
    for i in range(n):
        expected[ys[i] : ys[i] + hs[i], xs[i] : xs[i] + ws[i]] = colours[i]
    block = np.zeros((h, w, 4), dtype=np.uint8)
    rre.paint_subrects(block, colours, xs, ys, ws, hs)
    np.testing.assert_array_equal(block, expected)
