"""Fuzzing the sans-IO client: structure-aware server streams and mutated real recordings."""

from __future__ import annotations

import contextlib
import os
import random
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tests.accel_switch import accel_path  # noqa: F401  (the fixture below)
from tests.evil_server import compact_length, rect, server_init
from vncwall.demo.server import DemoServer
from vncwall.net import events as ev
from vncwall.net.address import parse_address
from vncwall.net.client import ClientOptions, RFBClient
from vncwall.net.constants import Encoding
from vncwall.net.errors import VncError
from vncwall.net.pixelformat import BGR233, RGB565, RGBX32, PixelFormat
from vncwall.net.transport import Connection

# Every test runs on the compiled decode path and on the pure-Python one.
pytestmark = pytest.mark.usefixtures("accel_path")

# VNCWALL_FUZZ_EXAMPLES=20000 for a long run; the default keeps CI to seconds.
EXAMPLES = int(os.environ.get("VNCWALL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="VNCWALL_FUZZ_EXAMPLES"
                not in os.environ, suppress_health_check=list(HealthCheck))

T = TypeVar("T")

MAX_SINGLE_READ = 8 << 20  # no read may ask for more than this (bytes) in these small streams
MAX_FB_BYTES = 16384 * 16384 * 4
COLOUR_MAP_8 = PixelFormat(8, 8, False, False, 0, 0, 0, 0, 0, 0)
FORMATS = [RGBX32, RGB565, BGR233, COLOUR_MAP_8,
           PixelFormat(32, 24, True, True, 255, 255, 255, 0, 8, 16),
           PixelFormat(16, 15, True, True, 31, 31, 31, 10, 5, 0)]

# --- the property -------------------------------------------------------------------


@dataclass
class Outcome:
    error: str | None = None
    events: list[str] = field(default_factory=list)
    pixels: bytes = b""
    shape: tuple[int, ...] = ()
    name: str = ""


def _event_key(e: ev.Event) -> str:
    if isinstance(e, ev.CursorShape):
        return f"CursorShape({e.hot_x},{e.hot_y},{e.rgba.shape},{e.rgba.tobytes().hex()})"
    return repr(e)


def feed(data: bytes, chunks: list[int] | None, pf: PixelFormat | None) -> Outcome:
    """Feed `data` cut at `chunks` (None: whole); check the invariants on the way."""
    client = RFBClient(ClientOptions(pixel_format=pf))
    out = Outcome()
    pieces = [data] if chunks is None else []
    if chunks is not None:
        pos = 0
        for size in chunks:
            pieces.append(data[pos : pos + size])
            pos += size
        pieces.append(data[pos:])
    try:
        for piece in pieces:
            client.receive_data(piece)
            assert client._feeder._need <= MAX_SINGLE_READ, client._feeder._need
            while (e := client.next_event()) is not None:
                out.events.append(_event_key(e))
    except VncError as exc:
        text = str(exc)
        assert "\n" not in text and 0 < len(text) < 1000, text
        out.error = f"{type(exc).__name__}: {text}"
        while (e := client.next_event()) is not None:
            out.events.append(_event_key(e))
    fb = client.framebuffer
    if fb is not None:
        assert fb.pixels.nbytes <= MAX_FB_BYTES
        out.pixels, out.shape = fb.pixels.tobytes(), fb.pixels.shape
    out.name = client.name
    if out.error is None and fb is not None and client.state == "live" and client.idle:
        # Nothing left behind that breaks the next message: a Bell and a 1x1 update.
        client.receive_data(b"\x02")
        if fb.width and fb.height and client.pixel_format.true_colour:
            px = bytes(client.pixel_format.bytes_per_pixel)
            client.receive_data(struct.pack(">BxH", 0, 1) + rect(0, 0, 1, 1, 0, px))
        got = []
        while (e := client.next_event()) is not None:
            got.append(type(e).__name__)
        assert "Bell" in got, got
    return out


def check(data: bytes, pf: PixelFormat | None, rng: random.Random, byte_by_byte: bool) -> None:
    """Whole, in random chunks and (for short streams) byte by byte: the same outcome."""
    whole = feed(data, None, pf)
    with contextlib.suppress(InvalidArgument):  # statistics, inside hypothesis only
        event(whole.error.split(":")[1].strip()[:40] if whole.error else "decoded")
    cuts = []
    left = len(data)
    while left > 0:
        n = rng.choice((1, 2, 3, 7, 64, 1000, 4096))
        cuts.append(n)
        left -= n
    variants = [feed(data, cuts, pf)]
    if byte_by_byte:
        variants.append(feed(data, [1] * len(data), pf))
    for other in variants:
        assert other.error == whole.error
        assert other.events == whole.events
        assert other.shape == whole.shape and other.pixels == whole.pixels
        assert other.name == whole.name


# --- structure-aware server streams ---------------------------------------------------


@dataclass
class Ctx:
    """What the stream generator knows while it builds a stream."""

    w: int
    h: int
    pf: PixelFormat
    draw: st.DrawFn
    zlib_streams: dict[str, zlib._Compress] = field(default_factory=dict)

    def z(self, key: str, data: bytes) -> bytes:
        comp = self.zlib_streams.get(key)
        if comp is None:
            comp = self.zlib_streams[key] = zlib.compressobj(1)
        return comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)

    def ints(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def pick(self, options: Sequence[T]) -> T:
        return options[self.ints(0, len(options) - 1)]

    def data(self, n: int) -> bytes:
        n = max(0, n)
        if n > 512:
            seed = self.ints(0, 255)
            return bytes((seed + i * 7) & 0xFF for i in range(n))
        return self.draw(st.binary(min_size=n, max_size=n))

    def maybe(self, p: int = 8) -> bool:
        """True about one time in p."""
        return self.ints(1, p) == 1

    @property
    def bpp(self) -> int:
        return self.pf.bytes_per_pixel

    @property
    def cpp(self) -> int:
        return self.pf.compact_size


def _geom(c: Ctx, max_side: int = 40) -> tuple[int, int, int, int]:
    """A rectangle, inside the framebuffer most of the time."""
    if c.maybe(10) or c.w == 0 or c.h == 0:
        return c.ints(0, 70), c.ints(0, 70), c.ints(0, 70), c.ints(0, 70)
    w = c.ints(0, min(c.w, max_side))
    h = c.ints(0, min(c.h, max_side))
    return c.ints(0, c.w - w), c.ints(0, c.h - h), w, h


def _runs(c: Ctx, n: int, unit: Callable[[int], bytes]) -> bytes:
    """Run-length data covering n pixels (occasionally too many or too few)."""
    out = bytearray()
    left = n + (c.ints(-3, 3) if c.maybe(6) else 0)
    while left > 0:
        run = c.ints(1, max(1, min(left, 600)))
        out += unit(run)
        rest = run - 1
        while rest >= 255:
            out.append(255)
            rest -= 255
        out.append(rest)
        left -= run
    return bytes(out)


def _rle_tile(c: Ctx, tw: int, th: int, trle: bool) -> bytes:
    n = tw * th
    cpp = c.cpp
    sub = c.pick([0, 1, 2, 3, 5, 16, 17, 127, 128, 129, 130, 133, 200, 255])
    out = bytearray([sub])
    if sub == 0:
        out += c.data(n * cpp)
    elif sub == 1:
        out += c.data(cpp)
    elif 2 <= sub <= 16:
        bits = 1 if sub <= 2 else 2 if sub <= 4 else 4
        out += c.data(sub * cpp) + c.data(th * ((tw * bits + 7) // 8))
    elif sub == 128:
        out += _runs(c, n, lambda run: c.data(cpp))
    elif sub >= 129:
        size = 2 if sub == 129 and trle else sub - 128
        if sub != 129:
            out += c.data(size * cpp)

        def index(run: int) -> bytes:
            i = c.ints(0, size - 1)
            return bytes([i | 0x80 if run > 1 else i])

        for _ in range(min(n, 40)):
            if c.maybe(3):
                out += _runs(c, c.ints(1, 20), index)[:2]
            else:
                out.append(c.ints(0, size))
        out += bytes(n)
    elif sub == 127:
        out += c.data(th * ((tw + 7) // 8))
    return bytes(out)


def _tiles(c: Ctx, w: int, h: int, tile: int, trle: bool) -> bytes:
    out = bytearray()
    for ty in range(0, h, tile):
        for tx in range(0, w, tile):
            out += _rle_tile(c, min(tile, w - tx), min(tile, h - ty), trle)
            if len(out) > 20000:
                return bytes(out)
    return bytes(out)


def _hextile(c: Ctx, w: int, h: int) -> bytes:
    out = bytearray()
    for ty in range(0, h, 16):
        for tx in range(0, w, 16):
            tw, th = min(16, w - tx), min(16, h - ty)
            sub = c.pick([1, 2, 2 | 8, 2 | 4 | 8, 2 | 8 | 16, 0, 8, 4 | 8, 32])
            out.append(sub)
            if sub & 1:
                out += c.data(tw * th * c.bpp)
                continue
            if sub & 2:
                out += c.data(c.bpp)
            if sub & 4:
                out += c.data(c.bpp)
            if sub & 8:
                count = c.ints(0, 6)
                out.append(count)
                for _ in range(count):
                    if sub & 16:
                        out += c.data(c.bpp)
                    x, y = c.ints(0, tw - 1), c.ints(0, th - 1)
                    sw = c.ints(1, tw - x + (1 if c.maybe(10) else 0))
                    sh = c.ints(1, th - y)
                    out += bytes([(x << 4) | y, ((min(sw, 16) - 1) << 4) | (sh - 1)])
    return bytes(out)


def _rre(c: Ctx, w: int, h: int, corre: bool) -> bytes:
    count = c.ints(0, 8) if not c.maybe(20) else c.ints(0, 1 << 20)
    out = bytearray(struct.pack(">I", count) + c.data(c.bpp))
    fmt = ">BBBB" if corre else ">HHHH"
    for _ in range(min(count, 8)):
        x, y = c.ints(0, max(0, w - 1)), c.ints(0, max(0, h - 1))
        sw = c.ints(0, max(0, w - x) + (1 if c.maybe(10) else 0))
        sh = c.ints(0, max(0, h - y))
        out += c.data(c.bpp) + struct.pack(fmt, x, y, min(sw, 255), min(sh, 255))
    return bytes(out)


def _tight(c: Ctx, w: int, h: int) -> bytes:
    tpx = 3 if (c.pf.true_colour and c.pf.bits_per_pixel == 32 and c.pf.depth == 24
                and c.pf.red_max == 255) else c.bpp
    kind = c.pick(["fill", "jpeg", "copy", "palette", "gradient", "bad"])
    stream = c.ints(0, 3)
    reset = c.ints(0, 15) if c.maybe(6) else 0
    for i in range(4):
        if reset & (1 << i):
            c.zlib_streams.pop(f"tight{i}", None)

    def body(raw: bytes) -> bytes:
        if len(raw) < 12:
            return raw
        if c.maybe(10):  # a plain lie
            return compact_length(c.ints(0, 5000)) + c.data(c.ints(0, 40))
        z = c.z(f"tight{stream}", raw)
        return compact_length(len(z)) + z

    if kind == "fill":
        return bytes([0x80 | reset]) + c.data(tpx)
    if kind == "jpeg":
        data = c.data(c.ints(0, 64))
        if c.maybe(2):
            sof = struct.pack(">BBHBHHB", 0xFF, 0xC0, 11, 8, h, w, 1) + b"\x01\x11\x00"
            data = b"\xff\xd8" + sof + data
        return bytes([0x90 | reset]) + compact_length(len(data)) + data
    if kind == "copy":
        return bytes([(stream << 4) | reset]) + body(c.data(w * h * tpx))
    if kind == "palette":
        n = c.ints(1, 6) if not c.maybe(5) else 256
        head = bytes([((4 | stream) << 4) | reset, 1, n - 1]) + c.data(n * tpx)
        if n == 2:
            return head + body(c.data(((w + 7) // 8) * h))
        top = n if c.maybe(5) else n - 1
        return head + body(bytes(c.ints(0, min(top, 255)) for _ in range(w * h)))
    if kind == "gradient":
        return bytes([((4 | stream) << 4) | reset, 2]) + body(c.data(w * h * tpx))
    return bytes([c.ints(0xA0, 0xFF)])


def _cursor(c: Ctx, x: int, y: int, w: int, h: int, xcursor: bool) -> tuple[bytes, bytes]:
    w, h = c.ints(0, 9), c.ints(0, 9)
    if c.maybe(10):
        w = c.ints(250, 300)
    x, y = c.ints(0, max(0, w - 1)), c.ints(0, max(0, h - 1))
    if xcursor:
        body = c.data(6) + c.data(2 * ((w + 7) // 8) * h) if w and h else b""
    else:
        body = c.data(w * h * c.bpp) + c.data(((w + 7) // 8) * h)
    enc = Encoding.X_CURSOR if xcursor else Encoding.CURSOR
    return rect(x, y, w, h, enc), body[:70000]


def _rect(c: Ctx) -> bytes:
    kind: int = c.pick([
        Encoding.RAW, Encoding.COPYRECT, Encoding.RRE, Encoding.CORRE, Encoding.HEXTILE,
        Encoding.ZLIB, Encoding.TIGHT, Encoding.TRLE, Encoding.ZRLE, Encoding.DESKTOP_SIZE,
        Encoding.EXTENDED_DESKTOP_SIZE, Encoding.CURSOR, Encoding.X_CURSOR,
        Encoding.POINTER_POS, Encoding.DESKTOP_NAME, Encoding.QEMU_LED_STATE,
        Encoding.QEMU_EXTENDED_KEY, 99])
    x, y, w, h = _geom(c)
    if kind == Encoding.RAW:
        body = c.data(w * h * c.bpp)
    elif kind == Encoding.COPYRECT:
        body = struct.pack(">HH", c.ints(0, max(0, c.w - w) + 2), c.ints(0, max(0, c.h - h) + 2))
    elif kind in (Encoding.RRE, Encoding.CORRE):
        body = _rre(c, w, h, kind == Encoding.CORRE)
    elif kind == Encoding.HEXTILE:
        body = _hextile(c, w, h)
    elif kind == Encoding.ZLIB:
        raw = c.data(w * h * c.bpp + (c.ints(-3, 3) if c.maybe(6) else 0))
        z = c.z("zlib", raw)
        body = struct.pack(">I", len(z)) + z
    elif kind == Encoding.TIGHT:
        body = _tight(c, w, h)
    elif kind == Encoding.TRLE:
        body = _tiles(c, w, h, 16, True)
    elif kind == Encoding.ZRLE:
        z = c.z("zrle", _tiles(c, w, h, 64, False))
        body = struct.pack(">I", len(z)) + z
    elif kind == Encoding.DESKTOP_SIZE:
        w, h = c.ints(0, 50), c.ints(0, 50)
        body = b""
        c.w, c.h = w, h
    elif kind == Encoding.EXTENDED_DESKTOP_SIZE:
        screens = c.ints(0, 3)
        w, h = c.ints(0, 50), c.ints(0, 50)
        x, y = c.ints(0, 2), c.ints(0, 3)
        body = struct.pack(">B3x", screens) + c.data(16 * screens)
        if not (x == 1 and y != 0):
            c.w, c.h = w, h
    elif kind in (Encoding.CURSOR, Encoding.X_CURSOR):
        head, body = _cursor(c, x, y, w, h, kind == Encoding.X_CURSOR)
        return head + body
    elif kind == Encoding.DESKTOP_NAME:
        name = c.data(c.ints(0, 40))
        body = struct.pack(">I", len(name)) + name
    elif kind == Encoding.QEMU_LED_STATE:
        body = c.data(1)
    else:
        body = b""
    return rect(x, y, w, h, kind) + body


def _message(c: Ctx) -> bytes:
    kind = c.ints(0, 9)
    if kind <= 5:
        rects = [_rect(c) for _ in range(c.ints(0, 4))]
        if c.maybe(5):
            rects.append(rect(0, 0, 0, 0, Encoding.LAST_RECT))
            return struct.pack(">BxH", 0, 0xFFFF) + b"".join(rects)
        return struct.pack(">BxH", 0, len(rects)) + b"".join(rects)
    if kind == 6:
        first, count = c.ints(0, 300), c.ints(0, 20)
        return struct.pack(">BxHH", 1, first, count) + c.data(6 * count)
    if kind == 7:
        return b"\x02"
    if kind == 8:
        text = c.data(c.ints(0, 50))
        n = len(text) if not c.maybe(10) else c.ints(-5, 100)
        return struct.pack(">B3xi", 3, n) + text
    return bytes([c.ints(4, 255)])


@st.composite
def server_streams(draw: st.DrawFn) -> tuple[bytes, PixelFormat | None]:
    """A whole server stream: greeting, security, ServerInit, then messages."""
    pf_choice = draw(st.sampled_from([*FORMATS, None]))
    server_pf = draw(st.sampled_from(FORMATS))
    c = Ctx(draw(st.integers(0, 48)), draw(st.integers(0, 48)),
            pf_choice if pf_choice is not None else server_pf, draw)
    version = draw(st.sampled_from([b"003.003", b"003.007", b"003.008", b"004.001"]))
    out = bytearray(b"RFB " + version + b"\n")
    if version == b"003.003":
        out += struct.pack(">I", 1)
    else:
        out += b"\x01\x01"
        if version != b"003.007":
            out += struct.pack(">I", 0)
    name = draw(st.binary(max_size=20))
    out += server_init(c.w, c.h, name, server_pf)
    if not server_pf.true_colour and pf_choice is None:
        out += struct.pack(">BxHH", 1, 0, 256) + bytes(range(256)) * 6
    for _ in range(draw(st.integers(0, 5))):
        out += _message(c)
    return bytes(out), pf_choice


def _position(draw: st.DrawFn, size: int) -> int:
    """A byte position, past the handshake (about 60 bytes) nine times in ten."""
    if size <= 64 or draw(st.integers(0, 9)) == 0:
        return int(draw(st.integers(0, max(0, size - 1))))
    return int(draw(st.integers(60, size - 1)))


@st.composite
def mutated(draw: st.DrawFn, streams: list[bytes]) -> bytes:
    """One of `streams`, with a few byte-level mutations (after the ServerInit mostly)."""
    data = bytearray(draw(st.sampled_from(streams)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "dup", "truncate"]))
        pos = _position(draw, len(data))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "dup":
            n = draw(st.integers(1, 64))
            data[pos:pos] = data[pos : pos + n]
        else:
            del data[pos:]
    return bytes(data)


@FUZZ
@given(server_streams(), st.randoms(use_true_random=False))
def test_structured_streams(stream: tuple[bytes, PixelFormat | None], rng: random.Random) -> None:
    data, pf = stream
    check(data, pf, rng, byte_by_byte=len(data) < 30000)


@FUZZ
@given(server_streams(), st.integers(0, 1 << 30), st.randoms(use_true_random=False))
def test_structured_streams_mutated(
    stream: tuple[bytes, PixelFormat | None], seed: int, rng: random.Random
) -> None:
    data, pf = stream
    r = random.Random(seed)
    buf = bytearray(data)
    for _ in range(r.randint(1, 4)):
        if len(buf) > 70 and r.random() < 0.9:
            buf[r.randrange(60, len(buf))] = r.randrange(256)
        elif buf:
            buf[r.randrange(len(buf))] = r.randrange(256)
    check(bytes(buf), pf, rng, byte_by_byte=len(buf) < 30000)


# --- mutated recordings of the demo server ---------------------------------------------------


RECORDED_OPTIONS = {
    "zrle-rgbx32": ClientOptions(encodings=(Encoding.ZRLE, Encoding.COPYRECT, Encoding.RAW)),
    "raw-rgb565": ClientOptions(encodings=(Encoding.RAW,), pixel_format=RGB565),
    "zrle-bgr233": ClientOptions(encodings=(Encoding.ZRLE, Encoding.RAW), pixel_format=BGR233),
    "raw-colour-map": ClientOptions(encodings=(Encoding.RAW,), pixel_format=COLOUR_MAP_8),
}


def record(address: str, options: ClientOptions, limit: int = 64 << 10) -> bytes:
    """The first `limit` bytes a live demo server sends us, via `RFBClient.tap`."""
    client = RFBClient(options)
    got = bytearray()
    client.tap = got.extend
    with Connection.open(parse_address(address), client, 5.0) as conn:
        deadline = time.monotonic() + 3
        while len(got) < limit and time.monotonic() < deadline:
            for e in conn.pump(0.1):
                if isinstance(e, ev.Connected | ev.UpdateEnd):
                    client.request_update(incremental=isinstance(e, ev.UpdateEnd))
    return bytes(got[:limit])


@pytest.fixture(scope="module")
def recordings() -> dict[str, bytes]:
    out = {}
    with DemoServer(0, 160, 120, fps=60) as server:
        for name, options in RECORDED_OPTIONS.items():
            out[name] = record(server.address, options)
    return out


def test_recordings_decode_cleanly(recordings: dict[str, bytes]) -> None:
    for name, data in recordings.items():
        pf = RECORDED_OPTIONS[name].pixel_format
        out = feed(data, None, pf)
        assert out.error is None, (name, out.error)
        assert sum("UpdateEnd" in e for e in out.events) >= 1, name
        check(data, pf, random.Random(1), byte_by_byte=False)


def test_recordings_mutated(recordings: dict[str, bytes]) -> None:
    names = sorted(recordings)

    @FUZZ
    @given(st.sampled_from(names), st.data(), st.randoms(use_true_random=False))
    def run(name: str, data: st.DataObject, rng: random.Random) -> None:
        stream = data.draw(mutated([recordings[name]]))
        check(stream, RECORDED_OPTIONS[name].pixel_format, rng, byte_by_byte=False)

    run()


def test_pixels_match_decoder_for_recording(recordings: dict[str, bytes]) -> None:
    """Sanity: the recorded ZRLE stream paints a non-trivial picture."""
    out = feed(recordings["zrle-rgbx32"], None, RGBX32)
    pixels = np.frombuffer(out.pixels, dtype=np.uint8).reshape(out.shape)
    assert len(np.unique(pixels.reshape(-1, 4), axis=0)) > 4
