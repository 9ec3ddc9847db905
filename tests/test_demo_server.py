"""The built-in demo RFB server and its scenes, driven by vncwall's own client."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import TypeVar

import numpy as np
import pytest

from vncwall.demo import SCENE_KINDS, DemoServer, Frame, Scroll, make_scene, make_scenes
from vncwall.demo.scenes import life_step
from vncwall.demo.server import PixelEncoder, coalesce, subtract
from vncwall.net import events as ev
from vncwall.net.address import Address
from vncwall.net.client import ClientOptions, RFBClient
from vncwall.net.constants import Encoding
from vncwall.net.framebuffer import Rect
from vncwall.net.pixelformat import BGR233, RGB565, RGBX32, PixelFormat
from vncwall.net.transport import Connection

RAW = (Encoding.COPYRECT, Encoding.RAW)
ZRLE = (Encoding.ZRLE, Encoding.COPYRECT, Encoding.RAW)
BGRX_BE = PixelFormat(32, 24, True, True, 255, 255, 255, 16, 8, 0)
RGB444_BE = PixelFormat(16, 12, True, True, 15, 15, 15, 8, 4, 0)
HIGH24 = PixelFormat(32, 24, False, True, 255, 255, 255, 24, 16, 8)  # ZRLE drops the low byte
COLOUR_MAP8 = PixelFormat(8, 8, False, False, 0, 0, 0, 0, 0, 0)

E = TypeVar("E")


class Viewer:
    """vncwall's client on a blocking loop, for tests."""

    def __init__(
        self, server: DemoServer, encodings: tuple[int, ...] = RAW,
        pixel_format: PixelFormat | None = RGBX32,
    ) -> None:
        options = ClientOptions(encodings=encodings, pixel_format=pixel_format, local_cursor=False)
        self.client = RFBClient(options)
        self.conn = Connection.open(Address("127.0.0.1", server.port), self.client, timeout=5.0)
        self.connected = self.wait_for(ev.Connected)

    def wait_for(self, kind: type[E], timeout: float = 5.0) -> E:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.conn.pump(0.02):
                if isinstance(event, kind):
                    return event
        raise AssertionError(f"no {kind.__name__} within {timeout} s")

    def update(self, incremental: bool = True, timeout: float = 5.0) -> ev.UpdateEnd:
        self.client.request_update(incremental)
        return self.wait_for(ev.UpdateEnd, timeout)

    def settle(self, quiet: float = 0.3) -> list[ev.UpdateEnd]:
        """After pausing the server: ask for what is left until nothing more comes."""
        self.client.request_update(True)
        got = []
        while True:
            try:
                got.append(self.wait_for(ev.UpdateEnd, quiet))
            except AssertionError:
                return got
            self.client.request_update(True)

    @property
    def rgb(self) -> np.ndarray:
        fb = self.client.framebuffer
        assert fb is not None
        return fb.pixels[..., :3]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def viewers() -> Iterator[list[Viewer]]:
    made: list[Viewer] = []
    yield made
    for v in made:
        v.close()


def reduced(rgb: np.ndarray, pf: PixelFormat) -> np.ndarray:
    """What a viewer in format `pf` shows for scene pixels: each channel to pf's
    precision (rounded), then back to 0..255 the way the client scales."""
    if not pf.true_colour:  # the server's 3-3-2 colour map, 16-bit entries cut to 8
        maxima = (7, 7, 3)
        out = np.empty_like(rgb)
        for c, mx in enumerate(maxima):
            level = (rgb[..., c].astype(np.uint32) * mx + 127) // 255
            out[..., c] = (level * 65535 // mx) >> 8
        return out
    out = np.empty_like(rgb)
    for c, mx in enumerate((pf.red_max, pf.green_max, pf.blue_max)):
        level = (rgb[..., c].astype(np.uint32) * mx + 127) // 255
        out[..., c] = (level * 255 + mx // 2) // mx
    return out


def assert_same(viewer: Viewer, server: DemoServer, pf: PixelFormat = RGBX32) -> None:
    expected = reduced(server.snapshot(), pf)
    got = viewer.rgb
    bad = np.argwhere((got != expected).any(axis=-1))
    assert len(bad) == 0, f"{len(bad)} pixels differ, first at (y, x) {tuple(bad[0])}"


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# --- test scenes with known damage -----------------------------------------------------


class StripScene:
    """A 160x120 desktop where only a 12x12 patterned square moves, along rows 40-51."""

    name = "strip"
    strip = Rect(0, 40, 160, 12)

    def __init__(self) -> None:
        yy, xx = np.mgrid[0:120, 0:160]
        self.background = np.stack([xx, yy, (xx ^ yy) & 255], axis=-1).astype(np.uint8)
        self.pixels = self.background.copy()
        self.square = np.arange(12 * 12 * 3, dtype=np.uint8).reshape(12, 12, 3) * 7
        self.x = -1

    def frame(self, t: float) -> Frame:
        if self.x < 0:
            self.x = 0
            self.pixels[40:52, 0:12] = self.square
            return Frame(self.pixels, (Rect(0, 0, 160, 120),))
        old = Rect(self.x, 40, 12, 12)
        self.pixels[40:52, self.x : self.x + 12] = self.background[40:52, self.x : self.x + 12]
        self.x = (self.x + 5) % 148
        self.pixels[40:52, self.x : self.x + 12] = self.square
        return Frame(self.pixels, (old, Rect(self.x, 40, 12, 12)))


class ScrollScene:
    """A 96x80 desktop whose area (8, 16, 80, 56) scrolls up 4 rows a frame, plus a counter."""

    name = "scroll"
    area = Rect(8, 16, 80, 56)

    def __init__(self, step: int = 4) -> None:
        self.pixels = np.full((80, 96, 3), 40, dtype=np.uint8)
        self.step = step
        self.n = -1

    def _rows(self, count: int) -> np.ndarray:
        rng = np.random.default_rng(self.n)
        return rng.integers(0, 256, (count, self.area.w, 3), dtype=np.uint8)

    def frame(self, t: float) -> Frame:
        a = self.area
        self.n += 1
        if self.n == 0:
            self.pixels[a.y : a.y + a.h, a.x : a.x + a.w] = self._rows(a.h)
            return Frame(self.pixels, (Rect(0, 0, 96, 80),))
        s = self.step
        px = self.pixels
        px[a.y : a.y + a.h - s, a.x : a.x + a.w] = px[a.y + s : a.y + a.h, a.x : a.x + a.w].copy()
        px[a.y + a.h - s : a.y + a.h, a.x : a.x + a.w] = self._rows(s)
        px[2:10, 2:10] = self.n * 13 % 256
        counter = Rect(2, 2, 8, 8)
        return Frame(px, (Rect(a.x, a.y + a.h - s, a.w, s), counter), Scroll(a, -s))


class ResizeScene:
    """Switches between 64x48 and 80x40 every third frame."""

    name = "resize"

    def __init__(self) -> None:
        self.n = 0

    def frame(self, t: float) -> Frame:
        self.n += 1
        w, h = (64, 48) if (self.n // 3) % 2 == 0 else (80, 40)
        yy, xx = np.mgrid[0:h, 0:w]
        px = np.stack([xx * 3, yy * 5, np.full_like(xx, self.n)], axis=-1).astype(np.uint8)
        return Frame(px, (Rect(0, 0, w, h),))


# --- handshake ---------------------------------------------------------------------------


def test_handshake_38_with_project_client(viewers: list[Viewer]) -> None:
    with DemoServer(0, 320, 200, fps=30) as server:
        v = Viewer(server)
        viewers.append(v)
        assert (v.connected.width, v.connected.height) == (320, 200)
        assert v.connected.name == "demo-1"
        assert v.client.version == (3, 8)
        assert v.client.security == 1
        assert v.connected.server_format.true_colour
        assert server.address == f"127.0.0.1::{server.port}"


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _server_init(sock: socket.socket) -> tuple[int, int, str]:
    w, h = struct.unpack(">HH", _recv(sock, 4))
    PixelFormat.parse(_recv(sock, 16))
    (n,) = struct.unpack(">I", _recv(sock, 4))
    return w, h, _recv(sock, n).decode()


@pytest.mark.parametrize("version", [b"RFB 003.003\n", b"RFB 003.005\n", b"RFB 003.007\n"])
def test_handshake_older_versions(version: bytes) -> None:
    with DemoServer(1, 96, 64) as server, socket.create_connection(
        ("127.0.0.1", server.port), timeout=5
    ) as s:
        assert _recv(s, 12) == b"RFB 003.008\n"
        s.sendall(version)
        if version == b"RFB 003.007\n":
            assert _recv(s, 2) == b"\x01\x01"
            s.sendall(b"\x01")
        else:
            assert _recv(s, 4) == struct.pack(">I", 1)
        s.sendall(b"\x01")  # ClientInit; no SecurityResult for None before 3.8
        assert _server_init(s) == (96, 64, "demo-2")
        # a raw update in the server's own format
        s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, 96, 64))
        head = _recv(s, 4)
        assert head[0] == 0
        (count,) = struct.unpack(">H", head[2:])
        total = 0
        for _ in range(count):
            _, _, w, h, enc = struct.unpack(">HHHHi", _recv(s, 12))
            assert enc == Encoding.RAW
            _recv(s, w * h * 4)
            total += w * h
        assert total == 96 * 64


def test_handshake_refuses_other_security() -> None:
    with DemoServer(0, 64, 48) as server, socket.create_connection(
        ("127.0.0.1", server.port), timeout=5
    ) as s:
        _recv(s, 12)
        s.sendall(b"RFB 003.008\n")
        assert _recv(s, 2) == b"\x01\x01"
        s.sendall(b"\x02")  # VNC authentication, which is not offered
        status, length = struct.unpack(">II", _recv(s, 8))
        assert status == 1
        assert b"None" in _recv(s, length)
        assert s.recv(1) == b""


# --- pixels --------------------------------------------------------------------------------


@pytest.mark.parametrize("encodings", [RAW, ZRLE], ids=["raw", "zrle"])
@pytest.mark.parametrize(
    "pf", [RGBX32, RGB565, BGRX_BE, RGB444_BE, BGR233, HIGH24, COLOUR_MAP8],
    ids=["rgbx32", "rgb565", "bgrx-be", "rgb444-be", "bgr233", "high24", "colourmap8"],
)
def test_framebuffer_matches_scene(
    encodings: tuple[int, ...], pf: PixelFormat, viewers: list[Viewer]
) -> None:
    with DemoServer("terminal", 320, 200, fps=60) as server:
        v = Viewer(server, encodings, pf)
        viewers.append(v)
        pixel_encoding = Encoding.ZRLE if Encoding.ZRLE in encodings else Encoding.RAW
        assert v.update(incremental=False).encodings == {pixel_encoding}
        used: set[int] = set()
        for _ in range(12):
            used |= v.update().encodings
        server.pause()
        for end in v.settle():
            used |= end.encodings
        assert pixel_encoding in used
        assert_same(v, server, pf)


@pytest.mark.parametrize("kind", SCENE_KINDS)
@pytest.mark.parametrize("encodings", [RAW, ZRLE], ids=["raw", "zrle"])
def test_every_scene_served_exactly(
    kind: str, encodings: tuple[int, ...], viewers: list[Viewer]
) -> None:
    with DemoServer(kind, 400, 260, fps=60) as server:
        v = Viewer(server, encodings)
        viewers.append(v)
        v.update(incremental=False)
        for _ in range(8):
            v.update()
        server.pause()
        v.settle()
        assert_same(v, server)


def test_full_size_zrle_matches(viewers: list[Viewer]) -> None:
    with DemoServer(3, fps=30) as server:
        v = Viewer(server, ZRLE)
        viewers.append(v)
        assert (v.connected.width, v.connected.height) == (1280, 800)
        v.update(incremental=False)
        v.update()
        server.pause()
        v.settle()
        assert_same(v, server)


def test_pixel_encoder_round_trips_through_the_client_format() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    for pf in (RGBX32, RGB565, BGRX_BE, RGB444_BE, BGR233, HIGH24,
               PixelFormat(32, 30, True, True, 1023, 1023, 1023, 20, 10, 0),
               PixelFormat(16, 15, False, True, 31, 31, 31, 0, 5, 10)):
        wire = PixelEncoder(pf).wire(rgb)
        assert wire.shape == (7, 9, pf.bytes_per_pixel)
        back = pf.to_rgbx(wire.tobytes(), 63)[:, :3].reshape(7, 9, 3)
        np.testing.assert_array_equal(back, reduced(rgb, pf), err_msg=repr(pf))


# --- damage, CopyRect, resize ----------------------------------------------------------------


def test_incremental_updates_cover_only_changes(viewers: list[Viewer]) -> None:
    with DemoServer(StripScene(), fps=60) as server:
        v = Viewer(server, RAW)
        viewers.append(v)
        first = v.update(incremental=False)
        assert sum(r.area for r in first.rects) == 160 * 120
        for _ in range(10):
            end = v.update()
            assert end.rects
            for r in end.rects:
                assert StripScene.strip.y <= r.y and r.y + r.h <= 52, r
            assert sum(r.area for r in end.rects) < 160 * 12
        server.pause()
        v.settle()
        assert_same(v, server)


def test_no_update_without_request_or_change(viewers: list[Viewer]) -> None:
    with DemoServer(StripScene(), fps=60) as server:
        v = Viewer(server, RAW)
        viewers.append(v)
        v.update(incremental=False)
        time.sleep(0.2)  # no request pending: nothing may arrive
        assert not [e for e in v.conn.pump(0.1) if isinstance(e, ev.UpdateBegin)]
        server.pause()
        v.settle()
        v.client.request_update(True)  # frozen scene: an incremental request waits
        with pytest.raises(AssertionError):
            v.wait_for(ev.UpdateEnd, 0.3)
        server.resume()
        v.wait_for(ev.UpdateEnd)


@pytest.mark.parametrize("step", [4, 20])
def test_scroll_is_sent_as_copyrect(step: int, viewers: list[Viewer]) -> None:
    with DemoServer(ScrollScene(step), fps=60) as server:
        v = Viewer(server, ZRLE)
        viewers.append(v)
        v.update(incremental=False)
        copies = 0
        for i in range(15):
            end = v.update()
            copies += Encoding.COPYRECT in end.encodings
            if i == 7:
                time.sleep(0.1)  # several scrolls pile up for one update
        assert copies >= 10
        server.pause()
        v.settle()
        assert_same(v, server)


def test_scroll_without_copyrect_support(viewers: list[Viewer]) -> None:
    with DemoServer(ScrollScene(), fps=60) as server:
        v = Viewer(server, (Encoding.RAW,))
        viewers.append(v)
        v.update(incremental=False)
        for _ in range(8):
            assert Encoding.COPYRECT not in v.update().encodings
        server.pause()
        v.settle()
        assert_same(v, server)


def test_terminal_scene_scrolls_with_copyrect(viewers: list[Viewer]) -> None:
    with DemoServer("terminal", 400, 260, fps=30) as server:
        v = Viewer(server, RAW)
        viewers.append(v)
        v.update(incremental=False)
        deadline = time.monotonic() + 5
        while Encoding.COPYRECT not in v.update().encodings:
            assert time.monotonic() < deadline, "no CopyRect from the terminal scene"
        server.pause()
        v.settle()
        assert_same(v, server)


def test_desktop_size_follows_a_resizing_scene(viewers: list[Viewer]) -> None:
    with DemoServer(ResizeScene(), fps=60) as server:
        v = Viewer(server, ZRLE)
        viewers.append(v)
        sizes = set()
        v.update(incremental=False)
        for _ in range(12):
            v.update()
            fb = v.client.framebuffer
            assert fb is not None
            sizes.add((fb.width, fb.height))
        assert sizes == {(64, 48), (80, 40)}
        server.pause()
        v.settle()
        assert_same(v, server)


# --- several viewers, bad viewers, input, pacing, shutdown -----------------------------------


def test_two_viewers_at_once(viewers: list[Viewer]) -> None:
    with DemoServer("bounce", 320, 200, fps=60) as server:
        a = Viewer(server, RAW)
        b = Viewer(server, ZRLE, RGB565)
        viewers += [a, b]
        wait_until(lambda: server.clients == 2)
        a.update(incremental=False)
        b.update(incremental=False)
        for _ in range(6):
            a.update()
            b.update()
        server.pause()
        a.settle()
        b.settle()
        assert_same(a, server)
        assert_same(b, server, RGB565)


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\n\r\n", b"RFB 003.008\n\x01\x01" + b"\xee" * 32,
     b"RFB 003.008\n\x01\x01\x00" + b"\x00" * 19],  # the last: a pixel format with bpp 0
    ids=["http", "unknown-message", "bad-pixel-format"],
)
def test_garbage_drops_only_that_viewer(garbage: bytes, viewers: list[Viewer]) -> None:
    with DemoServer("clock", 200, 150, fps=60) as server:
        good = Viewer(server, ZRLE)
        viewers.append(good)
        good.update(incremental=False)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as bad:
            wait_until(lambda: server.clients == 2)
            bad.sendall(garbage)
            bad.settimeout(5)
            with pytest.raises(ConnectionError):  # the server hangs up on it
                while True:
                    if not bad.recv(65536):
                        raise ConnectionError("closed")
        wait_until(lambda: server.clients == 1)
        for _ in range(3):
            good.update()
        server.pause()
        good.settle()
        assert_same(good, server)


def test_input_is_recorded(viewers: list[Viewer]) -> None:
    with DemoServer(0, 160, 100) as server:
        v = Viewer(server)
        viewers.append(v)
        v.client.key_event(True, 0x61)
        v.client.key_event(False, 0x61)
        v.client.pointer_event(5, 17, 42)
        v.client.cut_text("hello, wall")
        v.conn.flush()
        wait_until(lambda: server.cut_text is not None)
        assert server.keys == [(0x61, True), (0x61, False)]
        assert server.last_pointer == (17, 42, 5)
        assert server.cut_text == "hello, wall"


def test_updates_are_paced(viewers: list[Viewer]) -> None:
    with DemoServer("bounce", 160, 100, fps=10) as server:
        v = Viewer(server, RAW)
        viewers.append(v)
        v.update(incremental=False)
        start = time.monotonic()
        count = 0
        while time.monotonic() - start < 1.0:
            v.update()
            count += 1
        assert 5 <= count <= 12
        assert server.frames <= 13


def _demo_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("vncwall-demo")]


def test_close_stops_every_thread(viewers: list[Viewer]) -> None:
    server = DemoServer("plasma", 160, 100, fps=60)
    port = server.port
    a, b = Viewer(server, RAW), Viewer(server, ZRLE)
    viewers += [a, b]
    a.update(incremental=False)
    b.client.request_update(False)  # one request left pending
    wait_until(lambda: server.clients == 2)
    assert len(_demo_threads()) == 3
    server.close()
    server.close()  # idempotent
    assert _demo_threads() == []
    assert server.clients == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_context_manager_closes() -> None:
    with DemoServer(2, 96, 64) as server, socket.create_connection(
        ("127.0.0.1", server.port), timeout=5
    ) as s:
        assert _recv(s, 12) == b"RFB 003.008\n"
        wait_until(lambda: server.clients == 1)
    assert _demo_threads() == []


# --- scenes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCENE_KINDS)
@pytest.mark.parametrize("size", [(1280, 800), (200, 120), (32, 32)], ids=["full", "small", "tiny"])
def test_scene_damage_is_complete(kind: str, size: tuple[int, int]) -> None:
    """Replaying scroll + dirty rectangles onto a copy reproduces every frame exactly."""
    w, h = size
    scene = make_scene(SCENE_KINDS.index(kind), w, h)
    first = scene.frame(0.0)
    assert first.pixels.shape == (h, w, 3) and first.pixels.dtype == np.uint8
    assert first.dirty == (Rect(0, 0, w, h),)
    shadow = first.pixels.copy()
    times = [i / 30 for i in range(1, 90)] + [5.0, 5.01, 9.0, 9.5, 30.0, 30.04, 61.0]
    changed = 0
    for t in times:
        f = scene.frame(t)
        if f.scroll is not None:
            terms = f.scroll.copy()
            if terms is not None:
                d, sx, sy = terms
                src = shadow[sy : sy + d.h, sx : sx + d.w].copy()
                shadow[d.y : d.y + d.h, d.x : d.x + d.w] = src
        for r in f.dirty:
            assert r.x >= 0 and r.y >= 0 and r.x + r.w <= w and r.y + r.h <= h, r
            shadow[r.y : r.y + r.h, r.x : r.x + r.w] = f.pixels[r.y : r.y + r.h, r.x : r.x + r.w]
        changed += bool(f.dirty)
        if not np.array_equal(shadow, f.pixels):
            np.testing.assert_array_equal(shadow, f.pixels, err_msg=f"{kind} at t={t}")
    assert changed >= 5


def test_scenes_are_distinct() -> None:
    scenes = make_scenes(6, 320, 200)
    assert [s.name for s in scenes] == [f"demo-{i}" for i in range(1, 7)]
    assert len({s.colour for s in scenes}) == 6
    assert len({s.kind for s in scenes}) == 6
    with pytest.raises(ValueError, match="unknown scene kind"):
        make_scene(0, kind="nope")


def test_scene_changes_only_part_of_the_screen() -> None:
    for i, kind in enumerate(SCENE_KINDS):
        scene = make_scene(i, 1280, 800)
        scene.frame(0.0)
        area = 0
        for k in range(1, 61):
            area += sum(r.area for r in scene.frame(k / 30).dirty)
        assert area / 60 < 0.15 * 1280 * 800, kind


def test_life_step_blinker() -> None:
    g = np.zeros((5, 5), dtype=bool)
    g[2, 1:4] = True
    nxt = life_step(g)
    assert nxt[1:4, 2].all() and nxt.sum() == 3
    np.testing.assert_array_equal(life_step(nxt), g)


# --- rectangle helpers ----------------------------------------------------------------------


def test_subtract_and_coalesce() -> None:
    a = Rect(0, 0, 10, 10)
    pieces = subtract(a, Rect(3, 3, 4, 4))
    assert sum(p.area for p in pieces) == 100 - 16
    assert subtract(a, Rect(20, 20, 5, 5)) == [a]
    assert subtract(a, Rect(-1, -1, 20, 20)) == []
    assert coalesce([Rect(0, 0, 10, 10), Rect(5, 5, 10, 10)]) == [Rect(0, 0, 15, 15)]
    far = [Rect(0, 0, 10, 10), Rect(500, 500, 10, 10)]
    assert coalesce(far) == far
    many = [Rect(i * 100, 0, 1, 1) for i in range(100)]
    assert coalesce(many, limit=10) == [Rect(0, 0, 9901, 1)]
