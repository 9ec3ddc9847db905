"""A scripted loopback RFB peer for hostile-server tests: replays byte sequences to clients."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from vncwall.net.constants import Encoding
from vncwall.net.pixelformat import RGBX32, PixelFormat

# --- script steps -------------------------------------------------------------------


@dataclass(frozen=True)
class Sleep:
    """Pause the script (the connection stays open)."""

    seconds: float


@dataclass(frozen=True)
class Trickle:
    """Send `data` one byte at a time, `interval` seconds apart."""

    data: bytes
    interval: float


@dataclass(frozen=True)
class Repeat:
    """Send `data` again and again until the client goes away or the server closes."""

    data: bytes
    interval: float = 0.0


@dataclass(frozen=True)
class Close:
    """Close the connection at once (the client sees end-of-stream)."""


@dataclass(frozen=True)
class Hold:
    """Keep the connection open and silent until the client goes away (the default end)."""


Step = bytes | Sleep | Trickle | Repeat | Close | Hold
Script = Sequence[Step]

# --- byte builders ------------------------------------------------------------------

V38_NONE = b"RFB 003.008\n" + b"\x01\x01" + struct.pack(">I", 0)


def server_init(w: int = 64, h: int = 48, name: bytes = b"evil",
                pf: PixelFormat = RGBX32) -> bytes:
    return struct.pack(">HH", w, h) + pf.pack() + struct.pack(">I", len(name)) + name


def handshake(w: int = 64, h: int = 48, name: bytes = b"evil", pf: PixelFormat = RGBX32) -> bytes:
    """RFB 3.8, security None, then ServerInit for a w x h desktop."""
    return V38_NONE + server_init(w, h, name, pf)


def rect(x: int, y: int, w: int, h: int, enc: int, body: bytes = b"") -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, enc) + body


def update(*rects: bytes, count: int | None = None) -> bytes:
    n = len(rects) if count is None else count
    return struct.pack(">BxH", 0, n) + b"".join(rects)


def raw_rect(x: int, y: int, w: int, h: int, colour: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    return rect(x, y, w, h, Encoding.RAW, bytes((*colour, 0)) * (w * h))


def full_frame(w: int = 64, h: int = 48) -> bytes:
    """One valid update painting the whole w x h desktop (one Raw rectangle)."""
    return update(raw_rect(0, 0, w, h))


def compact_length(n: int) -> bytes:
    """Tight's 1-3 byte compact length."""
    out = bytearray([n & 0x7F])
    if n > 0x7F:
        out[0] |= 0x80
        out.append((n >> 7) & 0x7F)
        if n > 0x3FFF:
            out[1] |= 0x80
            out.append((n >> 14) & 0xFF)
    return bytes(out)


def zlib_flushed(data: bytes, level: int = 6) -> bytes:
    """`data` as the first chunk of a sync-flushed zlib stream, as VNC servers send it."""
    z = zlib.compressobj(level)
    return z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)


# --- the server ---------------------------------------------------------------------


class EvilServer:
    """Listens on 127.0.0.1 and plays `script` to every client that connects.

    Whatever the client sends is read (and kept in `received`) so that closing never
    turns into a reset that hides the data already sent. `script` may also be a
    callable taking the connection's index (0, 1, ...) and returning its script.
    """

    def __init__(self, script: Script | Callable[[int], Script]) -> None:
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0
        self.received: list[bytearray] = []
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accept = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"evil-accept:{self.port}")
        self._accept.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1::{self.port}"

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
                inbox = bytearray()
                self.received.append(inbox)
                self._socks.append(sock)
            script = self._script(index) if callable(self._script) else self._script
            gone = threading.Event()
            for target, args in ((self._drain, (sock, inbox, gone)),
                                 (self._play, (sock, script, gone))):
                t = threading.Thread(target=target, args=args, daemon=True)
                t.start()
                self._threads.append(t)

    def _drain(self, sock: socket.socket, inbox: bytearray, gone: threading.Event) -> None:
        try:
            while not self._closing.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                if len(inbox) < 1 << 20:
                    inbox += data
        except OSError:
            pass
        gone.set()

    def _wait(self, seconds: float, gone: threading.Event) -> bool:
        """Sleep; False when the client left or the server is closing."""
        end = time.monotonic() + seconds
        while True:
            if gone.is_set() or self._closing.is_set():
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.05))

    def _play(self, sock: socket.socket, script: Script, gone: threading.Event) -> None:
        sock.settimeout(1.0)
        try:
            for step in script:
                if not self._step(sock, step, gone):
                    break
            else:
                while self._wait(0.2, gone):  # Hold at the end
                    pass
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            # Give the drain thread the client's last bytes, then close.
            gone.wait(2.0)
            with contextlib.suppress(OSError):
                sock.close()

    def _send(self, sock: socket.socket, data: bytes, gone: threading.Event) -> bool:
        view = memoryview(data)
        while view:
            if gone.is_set() or self._closing.is_set():
                return False
            try:
                n = sock.send(view[: 1 << 16])
            except TimeoutError:
                continue  # the client is not reading: keep trying until it leaves
            view = view[n:]
        return True

    def _step(self, sock: socket.socket, step: Step, gone: threading.Event) -> bool:
        if isinstance(step, bytes):
            return self._send(sock, step, gone)
        if isinstance(step, Sleep):
            return self._wait(step.seconds, gone)
        if isinstance(step, Trickle):
            for i in range(len(step.data)):
                if not (self._send(sock, step.data[i : i + 1], gone)
                        and self._wait(step.interval, gone)):
                    return False
            return True
        if isinstance(step, Repeat):
            while self._send(sock, step.data, gone):
                if step.interval and not self._wait(step.interval, gone):
                    return False
            return False
        if isinstance(step, Close):
            return False
        while self._wait(0.2, gone):  # Hold
            pass
        return False

    def close(self) -> None:
        self._closing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._accept.join(2)
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(3)

    def __enter__(self) -> EvilServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def evil_server(script: Script | Callable[[int], Script]) -> Iterator[EvilServer]:
    server = EvilServer(script)
    try:
        yield server
    finally:
        server.close()


# --- the bug classes ----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile server: its script, the exit code `vncwall capture` must give, and a
    regular expression the one-line reason must match (also the session's reason)."""

    script: Script
    exit_code: int
    reason: str
    timeout: float = 10.0  # the --timeout / session read timeout to run it with


def _pixel(r: int = 200, g: int = 10, b: int = 10) -> bytes:
    return bytes((r, g, b, 0))


def _fake_jpeg(w: int, h: int) -> bytes:
    """A JPEG start with a baseline SOF0 frame header for w x h, then garbage."""
    sof = struct.pack(">BBHBHHB", 0xFF, 0xC0, 11, 8, h, w, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\x00" * 32


def png_image(rgb: bytes, w: int, h: int) -> bytes:
    """A minimal RGB PNG (filter 0 rows, one IDAT), as TightPNG servers send."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    rows = b"".join(b"\0" + rgb[y * w * 3 : (y + 1) * w * 3] for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# A 4096x4096 desktop and whole-screen operations that cost a few bytes each.
BIG = 4096
_BIG_COPY = rect(0, 0, BIG, BIG, Encoding.COPYRECT, struct.pack(">HH", 0, 0))
_BIG_FILL = rect(0, 0, BIG, BIG, Encoding.RRE, struct.pack(">I", 0) + bytes(4))
_FLIPS = (rect(0, 0, BIG, BIG, Encoding.DESKTOP_SIZE)
          + rect(0, 0, BIG, BIG - 1, Encoding.DESKTOP_SIZE))
_OVERLAPS = rect(0, 0, BIG, BIG, Encoding.RRE, struct.pack(">I", 6000) + bytes(4)
                 + (bytes(4) + struct.pack(">HHHH", 0, 0, BIG, BIG)) * 6000)
PNG_PIXELS = bytes(range(48)) * (8 * 8 * 3 // 48)  # an 8x8 RGB picture


def _unknown_types(n: int, width: int) -> bytes:
    """n security types (width 1) or VeNCrypt subtypes (width 4) that nobody knows."""
    start = 200 if width == 1 else 1000  # 200-254 are unassigned RFB types
    return b"".join(((start + i % 55) if width == 1 else start + i).to_bytes(width, "big")
                    for i in range(n))


def _cases() -> dict[str, Case]:
    h = handshake()
    px = _pixel()
    tp = px[:3]  # a Tight/ZRLE compact pixel for the default RGBX32 format
    bomb = zlib.compress(b"\0" * 1_000_000, 9)  # under 1 KiB
    whole = zlib.compress(bytes(8 * 8 * 4))
    palette_data = zlib_flushed(bytes([5] * 16))
    bad_pf = PixelFormat(24, 24, False, True, 255, 255, 255, 16, 8, 0)
    bad_shift = PixelFormat(32, 24, False, True, 255, 255, 255, 30, 8, 0)
    return {
        # oversize and misplaced rectangles
        "raw-outside": Case([h, update(rect(60, 40, 10, 10, Encoding.RAW))], 5, "outside"),
        "copyrect-source-outside": Case(
            [h, update(rect(0, 0, 16, 16, Encoding.COPYRECT, struct.pack(">HH", 60, 40)))],
            5, "CopyRect source"),
        "rre-count": Case([h, update(rect(0, 0, 4, 4, Encoding.RRE,
                                          struct.pack(">I", 17) + px))], 5, "subrectangles"),
        "rre-subrect-outside": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.RRE, struct.pack(">I", 1) + px + px
                            + struct.pack(">HHHH", 2, 2, 3, 3)))], 5, "outside"),
        "corre-subrect-outside": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.CORRE, struct.pack(">I", 1) + px + px
                            + bytes((3, 0, 2, 1))))], 5, "outside"),
        "hextile-subrect-outside": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.HEXTILE, bytes([2 | 4 | 8]) + px + px
                            + bytes([1, 0x70, 0x10])))], 5, "outside"),
        "hextile-no-background": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.HEXTILE, bytes([8, 1, 0, 0])))],
            5, "background"),
        "tight-too-wide": Case(
            [handshake(3000, 2), update(rect(0, 0, 2049, 1, Encoding.TIGHT, b"\x00"))],
            5, "width 2049"),
        "framebuffer-too-big": Case([handshake(65535, 65535)], 5, "exceeds"),
        "desktop-size-too-big": Case(
            [h, update(rect(0, 0, 65535, 65535, Encoding.DESKTOP_SIZE))], 5, "exceeds"),
        "extended-desktop-size-too-big": Case(
            [h, update(rect(0, 0, 65535, 65535, Encoding.EXTENDED_DESKTOP_SIZE,
                            struct.pack(">B3x", 1) + bytes(16)))], 5, "exceeds"),
        # huge lengths
        "huge-refusal-reason": Case([b"RFB 003.008\n\x00" + struct.pack(">I", 1 << 31)],
                                    5, "too long"),
        "huge-auth-reason": Case([V38_NONE[:-4] + struct.pack(">II", 1, 0xFFFFFFFF)],
                                 5, "too long"),
        "huge-desktop-name": Case(
            [V38_NONE + struct.pack(">HH", 64, 48) + RGBX32.pack() + b"\xff\xff\xff\xff"],
            5, "too long"),
        "huge-desktop-name-pseudo": Case(
            [h, update(rect(0, 0, 0, 0, Encoding.DESKTOP_NAME, b"\x7f\xff\xff\xff"))],
            5, "too long"),
        "negative-cut-text": Case([h, struct.pack(">B3xi", 3, -1)], 5, "clipboard"),
        # bad palette indices and runs
        "tight-palette-index": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.TIGHT, b"\x40\x01\x02" + tp * 3
                            + compact_length(len(palette_data)) + palette_data))],
            5, "palette index 5"),
        "tight-palette-of-one": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.TIGHT, b"\x40\x01\x00"))], 5, "palette of 1"),
        "zrle-palette-index": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.ZRLE, _length_prefixed(
                zlib_flushed(b"\x03" + tp * 3 + b"\xff" * 16))))], 5, "palette index 3"),
        "trle-palette-rle-index": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.TRLE, bytes([130]) + tp * 2 + b"\x05\x00"))],
            5, "palette index 5"),
        "trle-overlong-run": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.TRLE, bytes([128]) + tp + b"\x14"))],
            5, "overflows"),
        "zrle-overlong-run": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.ZRLE, _length_prefixed(
                zlib_flushed(bytes([128]) + tp + b"\xff\xff\x00"))))], 5, "overflows"),
        "trle-bad-subencoding": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.TRLE, bytes([17])))], 5, "subencoding 17"),
        # zlib bombs, trailing and missing data
        "zlib-bomb": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.ZLIB, _length_prefixed(bomb)))],
            5, "more than its size"),
        "zlib-trailing": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.ZLIB, _length_prefixed(whole + b"junk")))],
            5, "after the end"),
        "zlib-missing": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.ZLIB, _length_prefixed(
                zlib_flushed(bytes(100)))))], 5, "100 of 256"),
        "zlib-length-too-big": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.ZLIB, struct.pack(">I", 0xFFFFFFFF)))],
            5, "compressed bytes"),
        "zrle-bomb": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.ZRLE, _length_prefixed(bomb)))],
            5, "exceeds the"),
        "zrle-length-too-big": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.ZRLE, struct.pack(">I", 0xFFFFFFFF)))],
            5, "exceeds the"),
        "zrle-trailing": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.ZRLE, _length_prefixed(
                zlib_flushed(b"\x01" + tp + b"junk"))))], 5, "trailing"),
        "tight-zlib-bomb": Case(
            [h, update(rect(0, 0, 16, 16, Encoding.TIGHT, b"\x00" + compact_length(len(bomb))
                            + bomb))], 5, "trailing zlib"),
        "tight-zlib-missing": Case(
            [h, update(rect(0, 0, 16, 16, Encoding.TIGHT, b"\x00" + _tight_z(bytes(100))))],
            5, "gave 100 of 768"),
        "tight-length-too-big": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.TIGHT, b"\x00" + compact_length(0x3FFFFF)))],
            5, "zlib bytes"),
        "tight-bad-control": Case(
            [h, update(rect(0, 0, 4, 4, Encoding.TIGHT, b"\xa0"))], 5, "compression control"),
        "tight-jpeg-wrong-size": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.TIGHT, b"\x90" + compact_length(47)
                            + _fake_jpeg(4000, 3000)))], 5, "JPEG is 4000x3000"),
        "tight-jpeg-garbage": Case(
            [h, update(rect(0, 0, 8, 8, Encoding.TIGHT, b"\x90" + compact_length(47)
                            + _fake_jpeg(8, 8)))], 5, "bad JPEG"),
        # cursors and colour maps
        "cursor-too-big": Case([h, update(rect(0, 0, 300, 300, Encoding.CURSOR))],
                               5, "cursor of 300x300"),
        "cursor-hotspot-outside": Case([h, update(rect(9, 0, 4, 4, Encoding.CURSOR))],
                                       5, "hotspot"),
        "xcursor-too-big": Case([h, update(rect(0, 0, 257, 1, Encoding.X_CURSOR))],
                                5, "257x1"),
        "colour-map-overflow": Case(
            [h, struct.pack(">BxHH", 1, 65535, 2) + bytes(12)], 5, "colour map entries"),
        # pixel formats and plain nonsense
        "bad-bits-per-pixel": Case([handshake(pf=bad_pf)], 5, "bits-per-pixel 24"),
        "bad-shift": Case([handshake(pf=bad_shift)], 5, "shift 30"),
        "not-rfb": Case([b"SSH-2.0-OpenSSH_9.6\r\n"], 5, "not an RFB server"),
        "unknown-message": Case([h, b"\x07"], 5, "message type 7"),
        "unsupported-encoding": Case([h, update(rect(0, 0, 1, 1, 99))], 5, "encoding 99"),
        "no-common-security": Case([b"RFB 003.008\n\x02\xc8\xfe"], 5, "in common"),
        # endless, trickling, silent and flooding servers
        "endless-update-without-lastrect": Case(
            [h, update(count=0xFFFF), Repeat(rect(0, 0, 0, 0, Encoding.RAW) * 4096)],
            3, "timed out", timeout=2.0),
        # Clipboard text without end: 2 MiB messages (twice what the client keeps) forever.
        # (One 2 GiB message is not endless: on loopback the client gets through it in ~2 s.)
        "endless-cut-text": Case(
            [h, Repeat(struct.pack(">B3xI", 3, 2 << 20) + b"A" * (2 << 20))],
            3, "timed out", timeout=2.0),
        "trickling-handshake": Case([Trickle(h, 0.3)], 3, "timed out|handshake not finished",
                                    timeout=2.0),
        "never-finishing-handshake": Case([b"RFB 003.008\n"], 3,
                                          "timed out|stopped sending|handshake not finished",
                                          timeout=2.0),
        "silent": Case([], 3, "timed out|stopped sending", timeout=2.0),
        "closed-mid-update": Case(
            [h, update(raw_rect(0, 0, 64, 48))[:500], Close()], 3, "closed the connection"),
        "closed-at-once": Case([Close()], 3, "closed the connection"),
        "update-flood": Case([h, Repeat(full_frame())], 0, "captured 64x48"),
        # long lists that once made a reason too wide for a GL texture
        "many-security-types": Case([b"RFB 003.008\n\xff" + _unknown_types(255, 1)],
                                    5, r"in common .*and 47 more unknown\)"),
        "many-vencrypt-subtypes": Case(
            [b"RFB 003.008\n\x01\x13\x00\x02\x00\xff" + _unknown_types(255, 4)],
            5, r"no VeNCrypt subtype in common .*and 247 more unknown\)"),
        # empty desktops: nothing to capture (the wall shows them as empty)
        "empty-desktop": Case([handshake(100, 0), update()], 5, r"desktop is empty \(100x0\)"),
        "empty-desktop-0x0": Case([handshake(0, 0), update()], 5, r"desktop is empty \(0x0\)"),
        "empty-after-resize": Case(
            [h, update(rect(0, 0, 100, 0, Encoding.EXTENDED_DESKTOP_SIZE,
                            struct.pack(">B3x", 1) + struct.pack(">IHHHHI", 0, 0, 0, 100, 0, 0))),
             update()], 5, r"desktop is empty \(100x0\)"),
        # work amplification: whole-screen operations for a few bytes each, one update
        "copyrect-amplification": Case(
            [handshake(BIG, BIG), update(count=0xFFFF), _BIG_COPY * 50000],
            5, "costs far more than its bytes", timeout=8.0),
        "rre-fill-amplification": Case(
            [handshake(BIG, BIG), update(count=0xFFFF), _BIG_FILL * 50000],
            5, "costs far more than its bytes", timeout=8.0),
        "desktop-size-flips": Case(
            [handshake(BIG, BIG), update(count=0xFFFF), _FLIPS * 25000],
            5, "costs far more than its bytes", timeout=8.0),
        "rre-overlapping-subrects": Case(
            [handshake(BIG, BIG), update(_OVERLAPS)], 5, "costs far more than its bytes",
            timeout=8.0),
        # ... and across updates nobody asked for
        "unasked-update-chain": Case(
            [handshake(BIG, BIG), update(_BIG_COPY, _BIG_COPY) * 4,
             Repeat(update(_BIG_COPY, _BIG_COPY))],
            5, "costs far more than its bytes", timeout=8.0),
        # unasked pseudo-encodings that real servers send: handled, not fatal
        "qemu-pointer-type-change": Case(
            [h, update(rect(0, 0, 0, 0, Encoding.QEMU_POINTER_MOTION_CHANGE),
                       raw_rect(0, 0, 64, 48))],
            0, "captured 64x48"),
        "tight-png": Case(
            [handshake(8, 8), update(rect(0, 0, 8, 8, Encoding.TIGHT_PNG, b"\xa0"
                                          + compact_length(len(png_image(PNG_PIXELS, 8, 8)))
                                          + png_image(PNG_PIXELS, 8, 8)))],
            0, "captured 8x8"),
    }


def _length_prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _tight_z(data: bytes) -> bytes:
    z = zlib_flushed(data)
    return compact_length(len(z)) + z


CASES: dict[str, Case] = _cases()
