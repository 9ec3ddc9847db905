"""Zlib (6) decoder."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from tests.accel_switch import accel_path  # noqa: F401  (the fixture below)
from tests.decoding import decode_bytes, rgb_image, wire32
from vncwall.net.decoders import zlib as zlib_decoder
from vncwall.net.decoders.base import DecodeContext
from vncwall.net.decoders.zlib import ZlibDecoder, max_compressed
from vncwall.net.errors import ProtocolError
from vncwall.net.framebuffer import Framebuffer, Rect
from vncwall.net.pixelformat import RGB565, RGBX32
from vncwall.net.stream import ByteFeeder

# Every test runs on the compiled decode path and on the pure-Python one.
pytestmark = pytest.mark.usefixtures("accel_path")

R, G, B, W, K = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


class Server:
    """One server-side deflate stream, flushed per rectangle as servers do."""

    def __init__(self) -> None:
        self.z = zlib.compressobj()

    def rect(self, raw: bytes) -> bytes:
        comp = self.z.compress(raw) + self.z.flush(zlib.Z_SYNC_FLUSH)
        return struct.pack(">I", len(comp)) + comp


def test_two_rects_share_one_stream() -> None:
    server = Server()
    first = wire32(*R) + wire32(*G) + wire32(*B) + wire32(*W)
    second = wire32(*B) + wire32(*W) + wire32(*R) + wire32(*G)
    rects = [(Rect(0, 0, 2, 2), server.rect(first)), (Rect(2, 0, 2, 2), server.rect(second))]
    # The second chunk alone is not a valid zlib stream: it needs the first's state.
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(rects[1][1][4:])
    out = decode_bytes(ZlibDecoder, rects, (4, 2))
    np.testing.assert_array_equal(out, rgb_image([[R, G, B, W], [B, W, R, G]]))


def test_repeated_content_uses_history() -> None:
    server = Server()
    raw = bytes(range(256)) * 4  # 16x16 RGBX32 pixels
    first = server.rect(raw)
    second = server.rect(raw)
    assert len(second) < len(first)
    out = decode_bytes(
        ZlibDecoder, [(Rect(0, 0, 16, 16), first), (Rect(0, 16, 16, 16), second)], (16, 32)
    )
    pixels = np.frombuffer(raw, dtype=np.uint8).reshape(16, 16, 4).copy()
    pixels[..., 3] = 0
    np.testing.assert_array_equal(out[:16], pixels)
    np.testing.assert_array_equal(out[16:], pixels)


def test_rgb565() -> None:
    raw = struct.pack("<4H", 0xF800, 0x07E0, 0x001F, 0xFFFF)
    out = decode_bytes(ZlibDecoder, [(Rect(0, 0, 2, 2), Server().rect(raw))], (2, 2), pf=RGB565)
    np.testing.assert_array_equal(out, rgb_image([[R, G], [B, W]]))


def test_large_rect_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zlib_decoder, "_CHUNK", 7)
    rng = np.random.default_rng(1)
    pixels = np.zeros((9, 11, 4), dtype=np.uint8)
    pixels[..., :3] = rng.integers(0, 4, size=(9, 11, 3)) * 60
    server = Server()
    rects = [
        (Rect(0, 0, 11, 9), server.rect(pixels.tobytes())),
        (Rect(0, 9, 11, 9), server.rect(pixels[::-1].tobytes())),
    ]
    out = decode_bytes(ZlibDecoder, rects, (11, 18))
    np.testing.assert_array_equal(out[:9], pixels)
    np.testing.assert_array_equal(out[9:], pixels[::-1])


def test_empty_rects() -> None:
    server = Server()
    rects = [
        (Rect(0, 0, 0, 0), struct.pack(">I", 0)),
        (Rect(0, 0, 0, 3), server.rect(b"")),  # zlib header + sync-flush marker only
        (Rect(0, 0, 1, 1), server.rect(wire32(*G))),
    ]
    out = decode_bytes(ZlibDecoder, rects, (1, 1))
    np.testing.assert_array_equal(out, rgb_image([[G]]))


def test_truncated_output() -> None:
    data = Server().rect(wire32(*R) * 3)  # 3 pixels for a 2x2 rect
    with pytest.raises(ProtocolError, match="zlib: rectangle data inflates to 12 of 16"):
        decode_bytes(ZlibDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2))


def test_trailing_output() -> None:
    data = Server().rect(wire32(*R) * 5)  # 5 pixels for a 2x2 rect
    with pytest.raises(ProtocolError, match="zlib: rectangle data inflates to more"):
        decode_bytes(ZlibDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2))


def test_output_for_empty_rect() -> None:
    data = Server().rect(wire32(*R))
    with pytest.raises(ProtocolError, match="inflates to more"):
        decode_bytes(ZlibDecoder, [(Rect(0, 0, 0, 1), data)], (2, 2))


def test_trailing_output_in_later_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zlib_decoder, "_CHUNK", 3)
    z = zlib.compressobj(level=0)  # stored blocks: output appears as input arrives
    comp = z.compress(bytes(range(40))) + z.flush(zlib.Z_SYNC_FLUSH)
    data = struct.pack(">I", len(comp)) + comp
    with pytest.raises(ProtocolError, match="inflates to more"):
        decode_bytes(ZlibDecoder, [(Rect(0, 0, 2, 2), data)], (2, 2))


def test_data_after_end_of_stream() -> None:
    z = zlib.compressobj()
    comp = z.compress(wire32(*R)) + z.flush(zlib.Z_FINISH) + b"junk"
    data = struct.pack(">I", len(comp)) + comp
    with pytest.raises(ProtocolError, match="zlib: data after the end"):
        decode_bytes(ZlibDecoder, [(Rect(0, 0, 1, 1), data)], (1, 1))


def test_corrupt_stream() -> None:
    data = struct.pack(">I", 6) + b"\x78\x9c\xff\xff\xff\xff"
    with pytest.raises(ProtocolError, match="zlib: "):
        decode_bytes(ZlibDecoder, [(Rect(0, 0, 1, 1), data)], (1, 1))


def test_oversize_length_rejected_before_reading() -> None:
    ctx = DecodeContext(Framebuffer(4, 4), RGBX32)
    feeder = ByteFeeder(ZlibDecoder().decode(Rect(0, 0, 2, 2), ctx))
    with pytest.raises(ProtocolError, match="zlib: 1041 compressed bytes for a 2x2"):
        feeder.feed(struct.pack(">I", max_compressed(16) + 1))


def test_huge_length_rejected() -> None:
    data = struct.pack(">I", 0xFFFFFFFF)
    with pytest.raises(ProtocolError, match="compressed bytes"):
        decode_bytes(ZlibDecoder, [(Rect(0, 0, 100, 100), data)], (100, 100))


def test_bound_covers_incompressible_data() -> None:
    rng = np.random.default_rng(7)
    for size in (0, 1, 100, 65535, 65536, 300_000):
        raw = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        z = zlib.compressobj(level=9)
        comp = z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)
        assert len(comp) <= max_compressed(size)


def test_encoding() -> None:
    assert ZlibDecoder.ENCODING == 6
