"""A small RFB server (RFC 6143) serving one animated demo Scene to any number of viewers."""

from __future__ import annotations

import contextlib
import logging
import re
import selectors
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..net.constants import ClientMsg, Encoding, Security, ServerMsg
from ..net.errors import ProtocolError, VncError
from ..net.framebuffer import Rect
from ..net.pixelformat import RGBX32, PixelFormat, U8Array
from ..net.stream import ByteFeeder, Reader
from .scenes import Frame, FrameSource, Scroll, bounds, intersect, make_scene

log = logging.getLogger(__name__)

U32Array = npt.NDArray[np.uint32]

SERVER_FORMAT = RGBX32  # what ServerInit advertises; viewers usually keep or ask for it
RECV_SIZE = 64 * 1024
SEND_TIMEOUT = 30.0  # a viewer that takes no data for this long is dropped
MAX_CUT_TEXT = 1024 * 1024  # clipboard text kept; the rest is read and dropped
MAX_DAMAGE = 64  # pending rectangles per viewer before they collapse into their bounds
MAX_RECTS = 48  # rectangles per update before they collapse into their bounds
MERGE_SLACK = 1024  # pixels two rectangles may waste when merged into one (~ a rect's cost)
ZRLE_TILE = 64
DEFAULT_ZLIB_LEVEL = 1
_VERSION_RE = re.compile(rb"RFB (\d{3})\.(\d{3})\n")
_KEYS_KEPT = 1024

# --- rectangles --------------------------------------------------------------------------


def contains(outer: Rect, inner: Rect) -> bool:
    """Whether `inner` lies entirely inside `outer`."""
    return (outer.x <= inner.x and outer.y <= inner.y
            and inner.x + inner.w <= outer.x + outer.w
            and inner.y + inner.h <= outer.y + outer.h)


def subtract(a: Rect, b: Rect) -> list[Rect]:
    """The parts of `a` outside `b` (at most four rectangles)."""
    i = intersect(a, b)
    if i is None:
        return [a] if a.area else []
    out = []
    if i.y > a.y:
        out.append(Rect(a.x, a.y, a.w, i.y - a.y))
    if i.y + i.h < a.y + a.h:
        out.append(Rect(a.x, i.y + i.h, a.w, a.y + a.h - i.y - i.h))
    if i.x > a.x:
        out.append(Rect(a.x, i.y, i.x - a.x, i.h))
    if i.x + i.w < a.x + a.w:
        out.append(Rect(i.x + i.w, i.y, a.x + a.w - i.x - i.w, i.h))
    return out


def coalesce(rects: list[Rect], slack: int = MERGE_SLACK, limit: int = MAX_RECTS) -> list[Rect]:
    """Merge rectangles that overlap or nearly touch; one bounding box past `limit`."""
    out: list[Rect] = []
    for r in sorted((r for r in rects if r.area), key=lambda r: (r.y, r.x)):
        for i, o in enumerate(out):
            if contains(o, r):
                break
            u = o.union(r)
            if u.area <= o.area + r.area + slack:
                out[i] = u
                break
        else:
            out.append(r)
    if len(out) > limit:
        box = bounds(out)
        return [box] if box is not None else []
    return out


def crop(pixels: U8Array, r: Rect) -> U8Array:
    """A copy of `r` from an (h, w, 3) image; parts outside the image are black."""
    h, w = pixels.shape[:2]
    if r.x + r.w <= w and r.y + r.h <= h:
        return pixels[r.y : r.y + r.h, r.x : r.x + r.w].copy()
    out = np.zeros((r.h, r.w, 3), dtype=np.uint8)
    i = intersect(r, Rect(0, 0, w, h))
    if i is not None:
        dy, dx = i.y - r.y, i.x - r.x
        out[dy : dy + i.h, dx : dx + i.w] = pixels[i.y : i.y + i.h, i.x : i.x + i.w]
    return out


# --- pixel formats ---------------------------------------------------------------------


def colour_map_format(pf: PixelFormat) -> PixelFormat:
    """The true-colour layout the server uses for a colour-map viewer: index = RRRGGGBB."""
    return PixelFormat(pf.bits_per_pixel, pf.depth, pf.big_endian, True, 7, 7, 3, 5, 2, 0)


def colour_map_entries() -> bytes:
    """SetColourMapEntries filling indices 0-255 with the RRRGGGBB palette."""
    i = np.arange(256, dtype=np.uint32)
    rgb = np.stack([(i >> 5) & 7, (i >> 2) & 7, i & 3], axis=1)
    scaled = (rgb * 65535 // np.array([7, 7, 3], dtype=np.uint32)).astype(">u2")
    return struct.pack(">BxHH", ServerMsg.SET_COLOUR_MAP_ENTRIES, 0, 256) + scaled.tobytes()


class PixelEncoder:
    """Converts scene RGB (h, w, 3) to one viewer's wire pixels and ZRLE CPIXELs."""

    def __init__(self, pf: PixelFormat) -> None:
        self.pf = pf
        conv = pf if pf.true_colour else colour_map_format(pf)
        self.bpp = pf.bytes_per_pixel
        levels = np.arange(256, dtype=np.uint32)
        self._tables: list[U32Array] = [
            ((levels * mx + 127) // 255 << sh).astype(np.uint32)
            for mx, sh in ((conv.red_max, conv.red_shift), (conv.green_max, conv.green_shift),
                           (conv.blue_max, conv.blue_shift))
        ]
        order = ">" if pf.big_endian else "<"
        self._dtype = np.dtype(np.uint8) if self.bpp == 1 else np.dtype(f"{order}u{self.bpp}")
        # 32-bit formats with whole-byte channels are a byte shuffle, no arithmetic.
        self._bytes: tuple[int, int, int] | None = None
        shifts = (conv.red_shift, conv.green_shift, conv.blue_shift)
        if (self.bpp == 4 and (conv.red_max, conv.green_max, conv.blue_max) == (255, 255, 255)
                and all(s % 8 == 0 for s in shifts) and len(set(shifts)) == 3):
            pos = [s // 8 for s in shifts]
            if pf.big_endian:
                pos = [3 - p for p in pos]
            self._bytes = (pos[0], pos[1], pos[2])
        # ZRLE CPIXEL: a 32-bit true-colour pixel whose colour fits in three bytes drops
        # the fourth, the most (colour in the low bytes) or least significant one.
        self.drop: int | None = None
        if pf.true_colour and self.bpp == 4 and pf.depth <= 24:
            mask = ((pf.red_max << pf.red_shift) | (pf.green_max << pf.green_shift)
                    | (pf.blue_max << pf.blue_shift))
            if mask < 1 << 24:
                self.drop = 0 if pf.big_endian else 3
            elif mask & 0xFF == 0:
                self.drop = 3 if pf.big_endian else 0
        self.cpp = 3 if self.drop is not None else self.bpp
        assert self.cpp == pf.compact_size

    def values(self, rgb: U8Array) -> U32Array:
        """Pixel values (h, w) as integers."""
        if self._bytes is not None:
            return self.wire(rgb).view(self._dtype)[..., 0].astype(np.uint32)
        rt, gt, bt = self._tables
        out: U32Array = rt[rgb[..., 0]]
        out |= gt[rgb[..., 1]]
        out |= bt[rgb[..., 2]]
        return out

    def wire(self, rgb: U8Array, values: U32Array | None = None) -> U8Array:
        """Wire pixels (h, w, bytes per pixel)."""
        h, w = rgb.shape[:2]
        if self._bytes is not None:
            out = np.empty((h, w, 4), dtype=np.uint8)
            if self._bytes == (0, 1, 2):
                out[..., :3] = rgb
                out[..., 3] = 0
            else:
                out[...] = 0
                for channel, pos in enumerate(self._bytes):
                    out[..., pos] = rgb[..., channel]
            return out
        v = self.values(rgb) if values is None else values
        return v.astype(self._dtype).view(np.uint8).reshape(h, w, self.bpp)

    def zrle(self, rgb: U8Array) -> bytes:
        """A rectangle's ZRLE tile data, before compression."""
        values: U32Array
        if self.bpp == 4:  # tiles only compare pixels: any one-to-one form will do
            wire = self.wire(rgb)
            values = wire.view(np.uint32)[..., 0]
        else:
            values = self.values(rgb)
            wire = self.wire(rgb, values)
        if self._bytes == (0, 1, 2) and self.drop == 3:
            cpix = rgb  # CPIXELs are the scene's own R, G, B bytes
        else:
            cpix = np.ascontiguousarray(self.compact(wire))
        return zrle_data(values, cpix)

    def compact(self, wire: U8Array) -> U8Array:
        """ZRLE CPIXELs (h, w, cpp) from wire pixels."""
        if self.drop is None:
            return wire
        keep = [i for i in range(4) if i != self.drop]
        return wire[..., keep[0] : keep[-1] + 1]


# --- ZRLE ------------------------------------------------------------------------------


def _packed_palette(indices: U8Array, size: int) -> bytes:
    """Palette indices (th, tw) packed 1, 2 or 4 bits each, MSB first, rows byte-padded."""
    bits = 1 if size <= 2 else 2 if size <= 4 else 4
    per = 8 // bits
    th, tw = indices.shape
    pad = -tw % per
    if pad:
        indices = np.pad(indices, ((0, 0), (0, pad)))
    groups = indices.reshape(th, -1, per)
    shifts = np.arange(8 - bits, -1, -bits, dtype=np.uint8)
    packed = np.bitwise_or.reduce(groups << shifts, axis=2).astype(np.uint8)
    data: bytes = packed.tobytes()
    return data


def zrle_tile(values: U32Array, cpix: U8Array) -> bytes:
    """One ZRLE tile: solid, packed palette (2-16 colours) or raw, whichever is smallest.

    The palette is guessed from every 8th pixel of every 8th row and kept only if it
    covers the whole tile. Run-length subencodings are not used: zlib squeezes runs
    as well, and viewers unpack raw and palette tiles in bulk but runs one by one.
    """
    th, tw = values.shape
    first = values[0, 0]
    if not (values != first).any():
        solid: bytes = cpix[0, 0].tobytes()
        return b"\x01" + solid
    cpp = cpix.shape[2]
    sample = values[::8, ::8]
    palette, where = np.unique(sample, return_index=True)
    size = len(palette)
    if size <= 16:
        bits = 1 if size <= 2 else 2 if size <= 4 else 4
        if size * cpp + th * ((tw * bits + 7) // 8) < th * tw * cpp:
            indices = np.searchsorted(palette, values)
            np.minimum(indices, size - 1, out=indices)
            if (palette[indices] == values).all():
                wy, wx = np.divmod(where, sample.shape[1])
                colours: bytes = cpix[wy * 8, wx * 8].tobytes()
                return bytes([size]) + colours + _packed_palette(indices.astype(np.uint8), size)
    raw: bytes = cpix.tobytes()
    return b"\x00" + raw


def zrle_data(values: U32Array, cpix: U8Array) -> bytes:
    """The uncompressed tile stream of a rectangle, 64x64 tiles left to right, top down."""
    h, w = values.shape
    parts = []
    for y in range(0, h, ZRLE_TILE):
        for x in range(0, w, ZRLE_TILE):
            parts.append(zrle_tile(values[y : y + ZRLE_TILE, x : x + ZRLE_TILE],
                                   cpix[y : y + ZRLE_TILE, x : x + ZRLE_TILE]))
    return b"".join(parts)


# --- one viewer --------------------------------------------------------------------------


@dataclass(frozen=True)
class _SizeOp:
    width: int
    height: int


@dataclass(frozen=True)
class _CopyOp:
    dst: Rect
    sx: int
    sy: int


@dataclass(frozen=True)
class _PixelsOp:
    rect: Rect
    rgb: U8Array


_Op = _SizeOp | _CopyOp | _PixelsOp


class _Session:
    """One connected viewer: its thread, protocol state and what it has not seen yet.

    The update state (damage, pending copy, requests, size) is guarded by the server's
    lock because other viewers' threads advance the shared scene and add damage.
    """

    def __init__(self, server: DemoServer, sock: socket.socket, peer: str) -> None:
        self.server = server
        self.sock = sock
        self.peer = peer
        self.live = False
        self.pf = SERVER_FORMAT
        self.encoder = PixelEncoder(self.pf)
        self.preferred = Encoding.RAW
        self.copyrect = False
        self.desktop_size = False
        self.zlib_level = DEFAULT_ZLIB_LEVEL
        self._zlib: zlib._Compress | None = None
        # guarded by server._lock
        self.size = (0, 0)
        self.damage: list[Rect] = []
        self.copy: Scroll | None = None
        self.resize_pending = False
        self.request: Rect | None = None
        self.full: Rect | None = None
        self.answer_now = False
        # owned by this session's thread
        self.next_send = 0.0
        self._out = bytearray()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._feeder: ByteFeeder | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"vncwall-demo-client:{server.port}:{peer}", daemon=True
        )

    # --- thread ----------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Ask the thread to end (from any thread)."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        try:
            self.sock.settimeout(SEND_TIMEOUT)
            sel.register(self.sock, selectors.EVENT_READ, "sock")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            self._feeder = ByteFeeder(self._conversation())
            self._flush()
            while not self.server.closing:
                for key, _ in sel.select(self._timeout(time.monotonic())):
                    if key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                        continue
                    data = self.sock.recv(RECV_SIZE)
                    if not data:
                        log.debug("demo viewer %s disconnected", self.peer)
                        return
                    self._feeder.feed(data)
                    self._flush()
                self._maybe_send(time.monotonic())
        except VncError as exc:
            log.info("demo viewer %s dropped: %s", self.peer, exc)
            with contextlib.suppress(OSError):
                self._flush()
        except OSError as exc:
            log.debug("demo viewer %s: %s", self.peer, exc)
        finally:
            sel.close()
            for s in (self.sock, self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    s.close()
            self.server._forget(self)

    def _flush(self) -> None:
        if self._out:
            data = bytes(self._out)
            self._out.clear()
            self.sock.sendall(data)

    def _timeout(self, now: float) -> float:
        server = self.server
        with server._lock:
            if not self.live or self.request is None:
                return 1.0
            ready = self.answer_now or bool(self.damage) or self.copy is not None or (
                self.resize_pending
            )
        if ready:
            return max(0.0, self.next_send - now)
        if server.paused:
            return 0.25
        return min(1.0, max(0.0, max(self.next_send, server._next_tick) - now))

    def _maybe_send(self, now: float) -> None:
        server = self.server
        if not self.live or now < self.next_send:
            return
        with server._lock:
            if self.request is None:
                return
        server._advance(now)
        with server._lock:
            ops = self._take_update(server._pixels)
        if ops is None:
            return
        self.next_send = now + server.interval
        self.sock.sendall(self._encode(ops))
        server._count_update()

    # --- damage bookkeeping (server lock held) ------------------------------------------
    def reset(self, width: int, height: int) -> None:
        self.size = (width, height)
        self.damage = [Rect(0, 0, width, height)]
        self.copy = None
        self.resize_pending = False

    def add_frame(self, frame: Frame, resized: bool) -> None:
        """Record what a new scene frame changed."""
        if resized:
            self.resize_pending = True
            h, w = frame.pixels.shape[:2]
            self.damage = [Rect(0, 0, w, h)]
            self.copy = None
            return
        s = frame.scroll
        if s is not None:
            same_size = self.size == (frame.pixels.shape[1], frame.pixels.shape[0])
            if not (self.copyrect and same_size):
                self.damage.append(s.region)
            elif self.copy is None or self.copy.region == s.region:
                dy = s.dy + (self.copy.dy if self.copy is not None else 0)
                self._shift_damage(s.region, s.dy)
                if abs(dy) >= s.region.h:
                    self.copy = None
                    self.damage.append(s.region)
                else:
                    self.copy = Scroll(s.region, dy)
            else:
                self.damage.append(s.region)
            self.damage.append(s.exposed())
        self.damage.extend(frame.dirty)
        if len(self.damage) > MAX_DAMAGE:
            box = bounds(self.damage)
            self.damage = [box] if box is not None else []

    def _shift_damage(self, region: Rect, dy: int) -> None:
        """Stale pixels inside a scrolled region move with it: mark where they went too."""
        moved = []
        for d in self.damage:
            inside = intersect(d, region)
            if inside is not None:
                shifted = intersect(Rect(inside.x, inside.y + dy, inside.w, inside.h), region)
                if shifted is not None:
                    moved.append(shifted)
        self.damage.extend(moved)

    def _take_update(self, pixels: U8Array) -> list[_Op] | None:
        """What to send for the pending request, or None to keep waiting for changes."""
        req = self.request
        if req is None:
            return None
        ops: list[_Op] = []
        full = self.full
        if self.resize_pending:
            self.resize_pending = False
            if self.desktop_size:
                h, w = pixels.shape[:2]
                self.size = (w, h)
                ops.append(_SizeOp(w, h))
                req = full = Rect(0, 0, w, h)
                self.damage = []
        screen = Rect(0, 0, *self.size)
        area = intersect(req, screen)
        full = intersect(full, screen) if full is not None else None
        if self.copy is not None:
            c, self.copy = self.copy, None
            terms = c.copy()
            if (self.copyrect and terms is not None and area is not None
                    and contains(area, c.region) and contains(screen, c.region)
                    and (full is None or intersect(full, c.region) is None)):
                ops.append(_CopyOp(*terms))
            else:
                self.damage.append(c.region)
        todo: list[Rect] = []
        keep: list[Rect] = []
        for d in self.damage:
            d2 = intersect(d, screen)
            if d2 is None:
                continue
            inside = intersect(d2, area) if area is not None else None
            if inside is None:
                keep.append(d2)
                continue
            if full is None or not contains(full, inside):
                todo.append(inside)
            keep.extend(subtract(d2, inside))
        if full is not None:
            todo.append(full)
        todo = coalesce(todo)
        if not ops and not todo and not self.answer_now:
            return None
        self.damage = keep
        self.request = self.full = None
        self.answer_now = False
        ops.extend(_PixelsOp(r, crop(pixels, r)) for r in todo)
        return ops

    # --- encoding (this thread only) ------------------------------------------------------
    def _encode(self, ops: list[_Op]) -> bytes:
        parts = [struct.pack(">BxH", ServerMsg.FRAMEBUFFER_UPDATE, len(ops))]
        for op in ops:
            if isinstance(op, _SizeOp):
                parts.append(struct.pack(">HHHHi", 0, 0, op.width, op.height,
                                         Encoding.DESKTOP_SIZE))
            elif isinstance(op, _CopyOp):
                d = op.dst
                parts.append(struct.pack(">HHHHiHH", d.x, d.y, d.w, d.h, Encoding.COPYRECT,
                                         op.sx, op.sy))
            else:
                r = op.rect
                parts.append(struct.pack(">HHHHi", r.x, r.y, r.w, r.h, self.preferred))
                parts.append(self._pixels(op.rgb))
        return b"".join(parts)

    def _pixels(self, rgb: U8Array) -> bytes:
        enc = self.encoder
        if self.preferred != Encoding.ZRLE:
            return enc.wire(rgb).tobytes()
        if self._zlib is None:
            self._zlib = zlib.compressobj(self.zlib_level)
        z = self._zlib
        data = z.compress(enc.zrle(rgb)) + z.flush(zlib.Z_SYNC_FLUSH)
        return struct.pack(">I", len(data)) + data

    # --- the protocol (sans-IO, fed by ByteFeeder) ---------------------------------------
    def _send(self, data: bytes) -> None:
        self._out += data

    def _conversation(self) -> Reader[None]:
        self._send(b"RFB 003.008\n")
        m = _VERSION_RE.fullmatch((yield 12))
        if m is None or int(m.group(1)) != 3:
            raise ProtocolError("not an RFB 3.x viewer")
        minor = int(m.group(2))
        version = 8 if minor >= 8 else 7 if minor == 7 else 3
        if version == 3:
            self._send(struct.pack(">I", Security.NONE))
        else:
            self._send(bytes([1, Security.NONE]))
            (choice,) = yield 1
            if choice != Security.NONE:
                if version == 8:
                    reason = b"only security type None (1) is offered"
                    self._send(struct.pack(">II", 1, len(reason)) + reason)
                raise ProtocolError(f"viewer chose security type {choice}")
            if version == 8:
                self._send(struct.pack(">I", 0))
        yield 1  # ClientInit: the shared flag (every viewer shares)
        server = self.server
        with server._lock:
            h, w = server._pixels.shape[:2]
            self.reset(w, h)
            name = server.name.encode()
        self._send(struct.pack(">HH", w, h) + SERVER_FORMAT.pack()
                   + struct.pack(">I", len(name)) + name)
        self.live = True
        log.debug("demo viewer %s connected (RFB 3.%d)", self.peer, version)
        while True:
            (kind,) = yield 1
            if kind == ClientMsg.SET_PIXEL_FORMAT:
                self._set_pixel_format(PixelFormat.parse((yield 19)[3:]))
            elif kind == ClientMsg.SET_ENCODINGS:
                (count,) = struct.unpack(">xH", (yield 3))
                data = (yield 4 * count) if count else b""
                self._set_encodings(struct.unpack(f">{count}i", data))
            elif kind == ClientMsg.FRAMEBUFFER_UPDATE_REQUEST:
                inc, x, y, w, h = struct.unpack(">BHHHH", (yield 9))
                self._request(bool(inc), Rect(x, y, w, h))
            elif kind == ClientMsg.KEY_EVENT:
                down, key = struct.unpack(">BxxI", (yield 7))
                server._record_key(key, bool(down))
            elif kind == ClientMsg.POINTER_EVENT:
                buttons, x, y = struct.unpack(">BHH", (yield 5))
                server._record_pointer(x, y, buttons)
            elif kind == ClientMsg.CLIENT_CUT_TEXT:
                (length,) = struct.unpack(">3xI", (yield 7))
                if length & 0x80000000:
                    raise ProtocolError("extended clipboard message without negotiating it")
                kept = bytearray()
                while length:
                    chunk = yield min(length, RECV_SIZE)
                    length -= len(chunk)
                    kept += chunk[: MAX_CUT_TEXT - len(kept)]
                server._record_cut_text(kept.decode("latin-1"))
            else:
                raise ProtocolError(f"unknown client message type {kind}")

    def _set_pixel_format(self, pf: PixelFormat) -> None:
        self.pf = pf
        self.encoder = PixelEncoder(pf)
        if not pf.true_colour:
            self._send(colour_map_entries())

    def _set_encodings(self, encodings: tuple[int, ...]) -> None:
        self.preferred = Encoding.RAW
        for e in encodings:
            if e in (Encoding.RAW, Encoding.ZRLE):
                self.preferred = Encoding(e)
                break
        levels = [e - Encoding.COMPRESS_LEVEL_0 for e in encodings
                  if Encoding.COMPRESS_LEVEL_0 <= e <= Encoding.COMPRESS_LEVEL_9]
        if levels and self._zlib is None:
            self.zlib_level = levels[0]
        with self.server._lock:
            self.copyrect = Encoding.COPYRECT in encodings
            self.desktop_size = Encoding.DESKTOP_SIZE in encodings

    def _request(self, incremental: bool, rect: Rect) -> None:
        with self.server._lock:
            self.request = rect if self.request is None else self.request.union(rect)
            if not incremental:
                self.full = rect if self.full is None else self.full.union(rect)
                self.answer_now = True


# --- the server ----------------------------------------------------------------------------


class DemoServer:
    """Serves one animated scene over RFB on a local port, each viewer in its own thread.

    `scene` is a Scene (or anything with a `name` and `frame(t)`), a demo index
    (`make_scene(index, width, height)`) or a scene kind name; `width` and `height`
    apply to the last two. Security type None only. The scene advances at most `fps`
    times a second, and only while some viewer has an update request pending; each
    viewer gets at most `fps` updates a second.
    """

    def __init__(
        self, scene: FrameSource | int | str = 0, width: int = 1280, height: int = 800,
        host: str = "127.0.0.1", port: int = 0, fps: float = 30.0, name: str | None = None,
    ) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        if isinstance(scene, int):
            scene = make_scene(scene, width, height)
        elif isinstance(scene, str):
            scene = make_scene(0, width, height, kind=scene)
        self.scene: FrameSource = scene
        self.name = name or scene.name
        self.fps = fps
        self.interval = 1.0 / fps
        self.frames = 0
        self.updates = 0
        self.last_pointer: tuple[int, int, int] | None = None  # x, y, button mask
        self.keys: list[tuple[int, bool]] = []  # (keysym, down), the latest few
        self.cut_text: str | None = None
        self.paused = False
        self._lock = threading.Lock()
        self._sessions: set[_Session] = set()
        self._closing = threading.Event()
        self._t0 = time.monotonic()
        self._pixels: U8Array = self.scene.frame(0.0).pixels
        h, w, *depth = self._pixels.shape
        if depth != [3] or self._pixels.dtype != np.uint8 or not (0 < w < 65536 and 0 < h < 65536):
            raise ValueError(f"a scene frame must be (h, w, 3) uint8, not {self._pixels.shape}")
        self._next_tick = self._t0 + self.interval

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family)
        self._listener.setblocking(False)
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"vncwall-demo-accept:{self.port}", daemon=True
        )
        self._accept_thread.start()

    # --- public ----------------------------------------------------------------------
    @property
    def address(self) -> str:
        """The server's address in vncwall's host::port form."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}::{self.port}"

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    @property
    def clients(self) -> int:
        """Viewers connected right now."""
        with self._lock:
            return len(self._sessions)

    def snapshot(self) -> U8Array:
        """A copy of the scene's current (h, w, 3) RGB picture."""
        with self._lock:
            return self._pixels.copy()

    def pause(self) -> None:
        """Stop advancing the scene (viewers keep being served the frozen picture)."""
        with self._lock:
            self.paused = True

    def resume(self) -> None:
        with self._lock:
            self.paused = False

    def close(self) -> None:
        """Stop accepting, disconnect every viewer and wait for all threads to end."""
        with self._lock:
            if self._closing.is_set():
                return
            self._closing.set()
            sessions = list(self._sessions)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        for s in sessions:
            s.stop()
        if threading.current_thread() is not self._accept_thread:
            self._accept_thread.join(5.0)
        for s in sessions:
            if threading.current_thread() is not s.thread:
                s.thread.join(5.0)
        for sock in (self._listener, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ---------------------------------------------------------------------
    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ, "listen")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._closing.is_set():
                for key, _ in sel.select(1.0):
                    if key.data == "wake":
                        return
                    try:
                        sock, addr = self._listener.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:
                        log.warning("demo server %s: accept failed: %s", self.address, exc)
                        time.sleep(0.1)
                        continue
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
                    with self._lock:
                        if self._closing.is_set():
                            sock.close()
                            return
                        session = _Session(self, sock, peer)
                        self._sessions.add(session)
                    session.start()

    def _forget(self, session: _Session) -> None:
        with self._lock:
            self._sessions.discard(session)

    def _advance(self, now: float) -> None:
        """Step the scene if a frame is due, and tell every viewer what changed."""
        with self._lock:
            if self.paused or now < self._next_tick:
                return
            self._next_tick = now + self.interval
            frame = self.scene.frame(now - self._t0)
            resized = frame.pixels.shape != self._pixels.shape
            self._pixels = frame.pixels
            self.frames += 1
            for s in self._sessions:
                s.add_frame(frame, resized)

    def _count_update(self) -> None:
        with self._lock:
            self.updates += 1

    def _record_key(self, keysym: int, down: bool) -> None:
        with self._lock:
            self.keys.append((keysym, down))
            del self.keys[:-_KEYS_KEPT]

    def _record_pointer(self, x: int, y: int, buttons: int) -> None:
        with self._lock:
            self.last_pointer = (x, y, buttons)

    def _record_cut_text(self, text: str) -> None:
        with self._lock:
            self.cut_text = text
