"""The sans-IO RFB client: feed it the server's bytes, take events and bytes to send.

States follow RFC 6143 section 7: ProtocolVersion -> Security -> SecurityResult ->
ClientInit/ServerInit -> normal messages. The whole conversation is one generator
(`_conversation`) driven by a ByteFeeder, so the code reads top to bottom.
"""

from __future__ import annotations

import logging
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import events as ev
from . import messages
from .budget import WorkBudget
from .constants import MAX_FENCE_PAYLOAD, Encoding, ServerMsg, encoding_name
from .decoders import DecodeContext, Decoder, make_decoders
from .errors import AuthError, ConnectError, ProtocolError, VncError, server_text
from .flow import Flow
from .framebuffer import MAX_PIXELS, Framebuffer, Rect
from .messages import Screen
from .pixelformat import RGBX32, PixelFormat, U8Array
from .security import (
    DEFAULT_PREFERENCE,
    NONE,
    Credentials,
    Layer,
    Policy,
    SecurityHandler,
    Trust,
    handler_types,
    method_name,
    top_level_choice,
)
from .stream import ByteFeeder, Reader

log = logging.getLogger("vncwall.security")

_VERSION_RE = re.compile(rb"RFB (\d{3})\.(\d{3})\n")

MAX_REASON = 64 * 1024  # failure reasons are read whole up to this, then refused
MAX_NAME = 64 * 1024
MAX_CUT_TEXT = 1024 * 1024  # clipboard text kept; the rest is read and dropped
MAX_CURSOR = 256
# Extended Clipboard (rfbproto "Extended Clipboard Pseudo-Encoding"): flags in the header.
CLIP_TEXT = 1 << 0
CLIP_CAPS = 1 << 24
CLIP_REQUEST = 1 << 25
CLIP_PEEK = 1 << 26
CLIP_NOTIFY = 1 << 27
CLIP_PROVIDE = 1 << 28
CLIP_ACTIONS = CLIP_REQUEST | CLIP_PEEK | CLIP_NOTIFY | CLIP_PROVIDE
MAX_CLIP_BYTES = 4 * MAX_CUT_TEXT + 1  # UTF-8 text inflated, at most; the rest is dropped
MAX_CLIP_CONTROL = 4 + 16 * 4  # the largest caps message; other non-provide ones are smaller
# Cursor With Alpha pixels: always 32 bits, bytes R, G, B, A in memory (alpha premultiplied).
_RGBA32 = PixelFormat(32, 32, False, True, 255, 255, 255, 0, 8, 16)
CHUNK = 64 * 1024
MAX_PAINTED = 4096  # painted rectangles listed per update before merging into one
MAX_RECTS = 1 << 20  # rectangles in one LastRect-terminated update

_PSEUDO_QUALITY = range(Encoding.JPEG_QUALITY_0, Encoding.JPEG_QUALITY_9 + 1)
_PSEUDO_COMPRESS = range(Encoding.COMPRESS_LEVEL_0, Encoding.COMPRESS_LEVEL_9 + 1)


@dataclass(frozen=True)
class ClientOptions:
    """What the client asks the server for."""

    credentials: Credentials = field(default_factory=Credentials)
    shared: bool = True
    encodings: tuple[int, ...] = (
        Encoding.TIGHT, Encoding.ZRLE, Encoding.TRLE, Encoding.HEXTILE, Encoding.ZLIB,
        Encoding.CORRE, Encoding.RRE, Encoding.COPYRECT, Encoding.RAW,
    )
    pixel_format: PixelFormat | None = RGBX32  # None keeps the server's own format
    quality: int | None = None  # JPEG quality 0-9; None = lossless
    compress_level: int | None = None
    local_cursor: bool = True
    extended_clipboard: bool = True  # UTF-8 clipboard (Extended Clipboard pseudo-encoding)
    fence: bool = True  # advertise Fence: the server may then ask us to answer fences
    continuous_updates: bool = True  # switch to continuous updates where the server can
    security: tuple[int, ...] = DEFAULT_PREFERENCE  # methods, preferred first (security.py)
    minimum_security: int = NONE  # refuse methods ranked below this one
    allow_insecure_plain: bool = False  # VeNCrypt Plain (password in clear) outside TLS
    trust: Trust | None = None  # judges certificates and server keys (vncwall.trust)
    max_pixels: int = MAX_PIXELS

    def encoding_list(self) -> list[int]:
        """The SetEncodings list: pixel encodings in preference order, then pseudo ones."""
        encs = [int(e) for e in self.encodings]
        if self.quality is not None:
            encs.append(Encoding.JPEG_QUALITY_0 + self.quality)
        if self.compress_level is not None:
            encs.append(Encoding.COMPRESS_LEVEL_0 + self.compress_level)
        encs += [Encoding.EXTENDED_DESKTOP_SIZE, Encoding.DESKTOP_SIZE, Encoding.LAST_RECT,
                 Encoding.DESKTOP_NAME]
        if self.local_cursor:
            encs += [Encoding.CURSOR_WITH_ALPHA, Encoding.CURSOR, Encoding.X_CURSOR,
                     Encoding.POINTER_POS]
        encs += [Encoding.QEMU_EXTENDED_KEY, Encoding.QEMU_LED_STATE]
        if self.fence:
            encs.append(Encoding.FENCE)
            if self.continuous_updates:  # servers take EnableContinuousUpdates only with Fence
                encs.append(Encoding.CONTINUOUS_UPDATES)
        if self.extended_clipboard:
            encs.append(Encoding.EXTENDED_CLIPBOARD)
        return encs


def _choose_version(major: int, minor: int) -> tuple[int, int]:
    if major < 3:
        raise ProtocolError(f"unsupported RFB version {major}.{minor}")
    if major > 3 or minor >= 8:  # 3.889 (Apple), 4.x, 5.x speak 3.8
        return (3, 8)
    if minor == 7:
        return (3, 7)
    return (3, 3)


class RFBClient:
    """One RFB connection's protocol state; no sockets, no threads."""

    def __init__(
        self, options: ClientOptions | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.options = options or ClientOptions()
        self.clock = clock
        self.version: tuple[int, int] | None = None
        self.security: int | None = None
        self.name = ""
        self.framebuffer: Framebuffer | None = None
        self.pixel_format: PixelFormat = RGBX32
        self.colour_map: U8Array | None = None
        self.state = "waiting for the server's greeting"
        self.idle = False  # True between server messages, when silence is normal
        self.qemu_keys = False  # the server accepts QEMU Extended Key Events
        self.pointer_absolute = True  # QEMU says otherwise with a pointer type change
        self.server_init_offset: int | None = None  # stream offset of ServerInit
        self.clip_caps = 0  # the server's Extended Clipboard caps flags; 0 = classic only
        self.clip_text_max = 0  # the largest text the server takes unasked (provide)
        self._clip_local: str | None = None  # our clipboard, to provide when asked
        self.tap: Callable[[bytes], None] | None = None  # sees every byte received
        # ExtendedDesktopSize: the server's screen layout, once it has sent one.
        self.screens: tuple[Screen, ...] | None = None
        self._out = bytearray()
        self._events: deque[ev.Event] = deque()
        opts = self.options
        self.flow = Flow(self._send, self._events.append, clock,
                         want_continuous=opts.fence and opts.continuous_updates)
        self._received_at = 0.0  # clock when the latest chunk arrived
        self._decoders: dict[int, Decoder] = make_decoders()
        # Security layering (TLS, AES-EAX): until the security handshake is over, input is
        # fed only as far as the parser asks, so bytes after a switch reach the new layer.
        self.security_info = ""  # how the connection is protected, once known
        self.security_weak = False  # True: no protection against eavesdropping or a MITM
        self.rejection_hint: str | None = None  # how a silent rejection of the login looks
        self._layer: Layer | None = None
        self._careful = True
        self._raw_in = bytearray()
        self._plain_in = bytearray()
        self._wire = bytearray()
        # Deadlines (clock values) checked while parsing, so that a stream that is
        # expensive to decode cannot run past them between two socket reads:
        # `deadline` always (a capture's --timeout), `handshake_deadline` until connected.
        self.deadline: float | None = None
        self.handshake_deadline: float | None = None
        self._feeder = ByteFeeder(self._conversation())
        self.budget = WorkBudget(self._feeder)

    # --- I/O surface -------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Parse bytes from the server; raises a VncError subclass on failure."""
        self._received_at = self.clock()
        self._check_deadlines(self._received_at)
        if not self._careful and self._layer is None and not self._raw_in:
            self._deliver(data)
            return
        self._raw_in += data
        while True:
            if self._layer is not None and self._raw_in:
                raw = bytes(self._raw_in)
                self._raw_in.clear()
                self._plain_in += self._layer.feed(raw)
            source = self._plain_in if self._layer is not None else self._raw_in
            if not source:
                return
            if self._careful:
                n = max(1, self._feeder.wanted)
                chunk = bytes(source[:n])
                del source[:n]
            else:
                chunk = bytes(source)
                source.clear()
            self._deliver(chunk)

    def _check_deadlines(self, now: float) -> None:
        """ConnectError once a deadline has passed (see `deadline`)."""
        if self.deadline is not None and now > self.deadline:
            raise ConnectError(f"timed out while {self.state}")
        if (self.handshake_deadline is not None and self.framebuffer is None
                and now > self.handshake_deadline):
            raise ConnectError(f"handshake not finished in time (while {self.state})")

    def _deliver(self, plain: bytes) -> None:
        if self.tap is not None:
            self.tap(plain)
        self._feeder.feed(plain)

    @property
    def wanted(self) -> int:
        """How many more bytes the parser needs before it can make progress."""
        return self._feeder.wanted

    def next_event(self) -> ev.Event | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        if self._layer is None and not self._wire:
            out = bytes(self._out)
            self._out.clear()
            return out
        if self._layer is not None:
            if self._out:
                self._layer.send(bytes(self._out))
                self._out.clear()
            self._wire += self._layer.outgoing()
        else:
            self._wire += self._out
            self._out.clear()
        out = bytes(self._wire)
        self._wire.clear()
        return out

    # --- security layers (used by the security handlers through _Channel) -------------
    def _start_layer(self, layer: Layer) -> None:
        if self._feeder.buffered or self._plain_in:
            raise ProtocolError("unprotected data arrived where the secure layer starts")
        self._wire += self.data_to_send()  # what was queued so far goes out as it was
        self._layer = layer
        self._wire += layer.outgoing()

    def _stop_layer(self) -> None:
        layer = self._layer
        if layer is None:
            return
        if layer.holding or self._feeder.buffered or self._plain_in:
            raise ProtocolError("protected data arrived where the secure layer ends")
        self._wire += self.data_to_send()
        self._layer = None

    def _note(self, text: str, warn: bool = False) -> None:
        # INFO, not WARNING: an unconfigured logger would print it as a second stderr line.
        self.security_info = text
        self.security_weak = self.security_weak or warn
        self.state = f"authenticating ({text})"
        log.info("%s", text)

    @property
    def connected(self) -> bool:
        return self.framebuffer is not None

    # --- client messages -----------------------------------------------------------
    def _send(self, data: bytes) -> None:
        self._out += data

    def request_update(self, incremental: bool = True, rect: Rect | None = None) -> None:
        fb = self._require_fb()
        self.flow.request(incremental, rect or Rect(0, 0, fb.width, fb.height))

    def next_update(self) -> None:
        """Make sure another update will come: an incremental request for the whole
        framebuffer, or nothing while updates are continuous."""
        fb = self._require_fb()
        self.flow.next_update(fb.width, fb.height)

    def set_max_rate(self, fps: float) -> None:
        """Cap updates at `fps` a second (0: no cap); see Flow.set_max_rate."""
        fb = self._require_fb()
        self.flow.set_max_rate(fps, fb.width, fb.height)

    def tick(self) -> float:
        """Send a paced update request that is due; seconds until the next one is (0:
        none waits). The session's worker calls it between reads."""
        fb = self.framebuffer
        if fb is None:
            return 0.0
        now = self.clock()
        self.flow.tick(now, fb.width, fb.height)
        return self.flow.due_in(now)

    @property
    def continuous(self) -> bool:
        """Whether the server sends updates continuously (no requests needed)."""
        return self.flow.continuous

    @property
    def can_resize(self) -> bool:
        """Whether the server takes SetDesktopSize (it has sent ExtendedDesktopSize)."""
        return bool(self.screens)

    def set_desktop_size(self, width: int, height: int) -> None:
        """Ask the server for a `width` x `height` desktop (SetDesktopSize).

        One screen covering it all, keeping the id and flags of the server's first screen.
        The answer is an ExtendedDesktopSize rectangle: Resized, or ResizeRefused.
        """
        self._require_fb()
        if not self.screens:
            raise RuntimeError("the server has not sent its screen layout (ExtendedDesktopSize)")
        if not (0 < width < 65536 and 0 < height < 65536):
            raise ValueError(f"desktop size {width}x{height} out of range")
        first = self.screens[0]
        screen = Screen(first.id, 0, 0, width, height, first.flags)
        self._send(messages.set_desktop_size(width, height, [screen]))

    def key_event(self, down: bool, keysym: int, keycode: int | None = None) -> None:
        """A key press or release; with the XT `keycode` as well when the server takes it."""
        self._require_fb()
        if keycode is not None and self.qemu_keys:
            self._send(messages.qemu_key_event(down, keysym, keycode))
        else:
            self._send(messages.key_event(down, keysym))

    def pointer_event(self, buttons: int, x: int, y: int) -> None:
        fb = self._require_fb()
        x = min(max(x, 0), max(fb.width - 1, 0))
        y = min(max(y, 0), max(fb.height - 1, 0))
        self._send(messages.pointer_event(buttons, x, y))

    def cut_text(self, text: str) -> None:
        """The local clipboard changed: announce it (Extended Clipboard) or send it (Latin-1)."""
        self._require_fb()
        text = text[:MAX_CUT_TEXT]
        self._clip_local = text
        if not self.clip_caps:
            data = text.encode("latin-1", errors="replace")
            self._send(messages.client_cut_text(data))
        elif self.clip_caps & CLIP_PROVIDE and len(_clip_utf8(text)) <= self.clip_text_max:
            self._clip_provide()
        elif self.clip_caps & CLIP_NOTIFY:
            self._clip_send(CLIP_NOTIFY | CLIP_TEXT)

    def _clip_send(self, flags: int, payload: bytes = b"") -> None:
        """An extended ClientCutText: negative length, flags, payload."""
        self._send(struct.pack(">B3xiI", 6, -(4 + len(payload)), flags) + payload)

    def _clip_provide(self) -> None:
        text = self._clip_local
        if text is None:
            return
        data = _clip_utf8(text)
        self._clip_send(CLIP_PROVIDE | CLIP_TEXT,
                        zlib.compress(struct.pack(">I", len(data)) + data))

    def _require_fb(self) -> Framebuffer:
        if self.framebuffer is None:
            raise RuntimeError("the session is not connected yet")
        return self.framebuffer

    # --- the conversation ------------------------------------------------------------
    def _conversation(self) -> Reader[None]:
        yield from self._handshake()
        self.state = "live"
        while True:
            self.idle = True
            (kind,) = yield 1
            self.idle = False
            if kind == ServerMsg.FRAMEBUFFER_UPDATE:
                yield from self._framebuffer_update()
            elif kind == ServerMsg.SET_COLOUR_MAP_ENTRIES:
                yield from self._colour_map_entries()
            elif kind == ServerMsg.BELL:
                self._events.append(ev.Bell())
            elif kind == ServerMsg.SERVER_CUT_TEXT:
                yield from self._server_cut_text()
            elif kind == ServerMsg.SERVER_FENCE and self.options.fence:
                yield from self._server_fence()
            elif kind == ServerMsg.END_OF_CONTINUOUS_UPDATES and self.options.fence:
                fb = self._require_fb()
                self.flow.end_of_continuous_updates(fb.width, fb.height)
            else:
                raise ProtocolError(f"unknown server message type {kind}")

    def _read_reason(self, what: str) -> Reader[str]:
        (length,) = struct.unpack(">I", (yield 4))
        if length > MAX_REASON:
            raise ProtocolError(f"{what} of {length} bytes is too long")
        return server_text((yield length))

    def _handshake(self) -> Reader[None]:
        greeting = yield 12
        m = _VERSION_RE.fullmatch(greeting)
        if m is None:
            raise ProtocolError(f"not an RFB server (greeting {server_text(greeting, 40)!r})")
        self.version = _choose_version(int(m.group(1)), int(m.group(2)))
        self._send(b"RFB %03d.%03d\n" % self.version)
        self.state = "negotiating security"

        handler = yield from self._negotiate_security()
        self._events.append(ev.SecurityChosen(self.version, int(handler.TYPE)))
        self.state = "authenticating"
        yield from handler.run(self.options.credentials, self._send)
        if handler.result_expected(self.version):
            (result,) = struct.unpack(">I", (yield 4))
            if result != 0:
                reason = ""
                if self.version >= (3, 8):
                    reason = yield from self._read_reason("failure reason")
                if not reason:
                    reason = "too many attempts" if result == 2 else "wrong credentials"
                raise AuthError(f"authentication failed: {reason}")
        handler.authenticated()
        self._careful = False
        if not self.security_info:
            self.security_info = method_name(int(handler.TYPE))

        self.state = "initialising"
        self._send(struct.pack(">B", int(self.options.shared)))
        self.server_init_offset = self._feeder.consumed
        try:
            w, h, server_pf = yield from self._server_init()
        except ProtocolError as exc:
            if self.rejection_hint is None:
                raise
            raise ProtocolError(f"{exc} ({self.rejection_hint})") from None
        self.rejection_hint = None
        wanted = self.options.pixel_format
        if wanted is not None:
            self.pixel_format = wanted
            self._send(messages.set_pixel_format(wanted))
        else:
            self.pixel_format = server_pf
        self._send(messages.set_encodings(self.options.encoding_list()))
        self._events.append(ev.Connected(w, h, self.name, server_pf))

    def _server_init(self) -> Reader[tuple[int, int, PixelFormat]]:
        w, h = struct.unpack(">HH", (yield 4))
        server_pf = PixelFormat.parse((yield 16))
        (name_len,) = struct.unpack(">I", (yield 4))
        if name_len > MAX_NAME:
            raise ProtocolError(f"desktop name of {name_len} bytes is too long")
        self.name = server_text((yield name_len))
        self.budget.frame(w, h, fill=True)
        self.handshake_deadline = None  # met
        self.framebuffer = Framebuffer(w, h, self.options.max_pixels)
        return w, h, server_pf

    def closed_error(self, reason: str) -> VncError:
        """The error for a server that closed the connection now: an AuthError when its
        security type rejects logins by closing (SASL on QEMU), else ConnectError(reason)."""
        if self.rejection_hint is not None and not self.connected:
            return AuthError(f"authentication failed: {self.rejection_hint}")
        return ConnectError(reason)

    def _negotiate_security(self) -> Reader[SecurityHandler]:
        assert self.version is not None
        if self.version == (3, 3):
            (offered_type,) = struct.unpack(">I", (yield 4))
            if offered_type == 0:
                reason = yield from self._read_reason("failure reason")
                raise AuthError(f"server refused the connection: {reason}")
            offered = [offered_type]
        else:
            (count,) = yield 1
            if count == 0:
                reason = yield from self._read_reason("failure reason")
                raise AuthError(f"server refused the connection: {reason}")
            offered = list((yield count))
        opts = self.options
        policy = Policy(opts.security, opts.minimum_security, opts.allow_insecure_plain,
                        opts.trust)
        handlers = handler_types()
        usable = [t for t in offered if t in handlers]
        st, _ = top_level_choice(policy, usable or offered, opts.credentials)
        if st not in handlers:  # pragma: no cover - choose() only returns known methods
            raise ProtocolError(f"security type {st} is not supported")
        handler = handlers[st](policy, _Channel(self))
        if self.version != (3, 3):
            self._send(struct.pack(">B", st))
        self.security = st
        return handler

    # --- server messages ---------------------------------------------------------------
    def _framebuffer_update(self) -> Reader[None]:
        fb = self._require_fb()
        (count,) = struct.unpack(">xH", (yield 3))
        self.budget.update_begun(self.flow.update_begun(), self.clock())
        self._events.append(ev.UpdateBegin(count))
        painted: list[Rect] = []
        used: set[int] = set()
        ctx = DecodeContext(fb, self.pixel_format, self.colour_map, self.budget)
        i = 0
        while count == 0xFFFF or i < count:
            i += 1
            x, y, w, h, enc = struct.unpack(">HHHHi", (yield 12))
            if self.deadline is not None:
                self._check_deadlines(self.clock())
            if enc == Encoding.LAST_RECT:
                break
            if i > MAX_RECTS:
                raise ProtocolError(f"update of more than {MAX_RECTS} rectangles without LastRect")
            decoder = self._decoders.get(enc)
            if decoder is not None:
                fb = self._require_fb()
                ctx.fb = fb
                fb.check(x, y, w, h)
                if w and h and not self.budget.pay(w * h):
                    raise self.budget.error(f"a {w}x{h} {encoding_name(enc)} rectangle")
                rect = Rect(x, y, w, h)
                yield from decoder.decode(rect, ctx)
                painted.append(rect)
                if len(painted) > MAX_PAINTED:  # keep memory bounded on endless updates
                    painted = [_bounds(painted)]
                used.add(enc)
            else:
                yield from self._pseudo_rect(x, y, w, h, enc)
        self._require_fb().end_update()  # its mipmap levels, when the renderer keeps them
        now = self.clock()
        latency = self.flow.update_ended(now)
        self._events.append(
            ev.UpdateEnd(tuple(painted), frozenset(used), latency, self._received_at, now)
        )

    def _pseudo_rect(self, x: int, y: int, w: int, h: int, enc: int) -> Reader[None]:
        if enc == Encoding.DESKTOP_SIZE:
            self._resize(w, h)
        elif enc == Encoding.EXTENDED_DESKTOP_SIZE:
            (count,) = struct.unpack(">B3x", (yield 4))
            data = (yield 16 * count) if count else b""
            if x == 1 and y != 0:  # answer to our own SetDesktopSize, with an error
                self._events.append(ev.ResizeRefused(y))
            else:
                self.screens = tuple(
                    Screen.parse(data[i : i + 16]) for i in range(0, len(data), 16)
                )
                self._resize(w, h)
        elif enc == Encoding.DESKTOP_NAME:
            self.name = yield from self._read_reason("desktop name")
            self._events.append(ev.NameChanged(self.name))
        elif enc == Encoding.POINTER_POS:
            self._events.append(ev.PointerMoved(x, y))
        elif enc == Encoding.CURSOR:
            yield from self._cursor(x, y, w, h)
        elif enc == Encoding.X_CURSOR:
            yield from self._x_cursor(x, y, w, h)
        elif enc == Encoding.CURSOR_WITH_ALPHA:
            yield from self._alpha_cursor(x, y, w, h)
        elif enc == Encoding.QEMU_EXTENDED_KEY:
            self.qemu_keys = True
        elif enc == Encoding.QEMU_LED_STATE:
            (state,) = yield 1
            self._events.append(ev.LedState(state & 7))
        elif enc == Encoding.QEMU_POINTER_MOTION_CHANGE:
            # No payload: x is 1 for an absolute pointer, 0 for a relative one. Without
            # our asking, QEMU takes our absolute positions either way (as differences
            # from the last one when relative), so there is nothing to change here.
            self.pointer_absolute = x != 0
            self._events.append(ev.PointerMode(self.pointer_absolute))
        else:
            raise ProtocolError(f"unsupported encoding {enc} in a framebuffer update")

    def _resize(self, w: int, h: int) -> None:
        fb = self._require_fb()
        if (w, h) == (fb.width, fb.height):
            return
        fb.resize(w, h)  # refuses sizes beyond the limits first
        self.budget.charge(w * h, f"a resize to {w}x{h}")
        self.budget.frame(w, h)
        self._events.append(ev.Resized(w, h))
        self.flow.resized(w, h)

    def _check_cursor(self, x: int, y: int, w: int, h: int) -> None:
        if w > MAX_CURSOR or h > MAX_CURSOR:
            raise ProtocolError(f"cursor of {w}x{h} exceeds {MAX_CURSOR}x{MAX_CURSOR}")
        if w and h and (x >= w or y >= h):
            raise ProtocolError(f"cursor hotspot {x},{y} outside its {w}x{h} image")
        self.budget.charge(w * h, f"a {w}x{h} cursor")

    def _cursor(self, x: int, y: int, w: int, h: int) -> Reader[None]:
        self._check_cursor(x, y, w, h)
        n = w * h
        pixels = yield n * self.pixel_format.bytes_per_pixel
        mask_bytes = yield ((w + 7) // 8) * h
        rgba = np.empty((h, w, 4), dtype=np.uint8)
        if n:
            rgba[..., :3] = self.pixel_format.to_rgbx(pixels, n, self.colour_map)[:, :3].reshape(
                h, w, 3
            )
            rgba[..., 3] = _bitmap(mask_bytes, w, h) * 255
        self._events.append(ev.CursorShape(x, y, rgba))

    def _x_cursor(self, x: int, y: int, w: int, h: int) -> Reader[None]:
        self._check_cursor(x, y, w, h)
        rgba = np.zeros((h, w, 4), dtype=np.uint8)
        if w and h:
            colours = np.frombuffer((yield 6), dtype=np.uint8)
            row = (w + 7) // 8
            source = _bitmap((yield row * h), w, h)
            mask = _bitmap((yield row * h), w, h)
            rgba[..., :3] = np.where(source[..., None] == 1, colours[:3], colours[3:])
            rgba[..., 3] = mask * 255
        self._events.append(ev.CursorShape(x, y, rgba))

    def _alpha_cursor(self, x: int, y: int, w: int, h: int) -> Reader[None]:
        """Cursor With Alpha: an S32 encoding, then w*h RGBA pixels (premultiplied) in it."""
        self._check_cursor(x, y, w, h)
        (enc,) = struct.unpack(">i", (yield 4))
        decoder = self._decoders.get(enc)
        if decoder is None or enc == Encoding.COPYRECT:
            raise ProtocolError(f"cursor with alpha in unsupported encoding {enc}")
        image = Framebuffer(w, h)
        if w and h:
            # The decoder's state (zlib streams) is the session's own, as rfbproto says.
            yield from decoder.decode(Rect(0, 0, w, h), DecodeContext(image, _RGBA32))
        premul = image.pixels.astype(np.uint16)
        alpha = premul[..., 3:4]
        rgba = np.empty((h, w, 4), dtype=np.uint8)
        straight = (premul[..., :3] * 255 + alpha // 2) // np.maximum(alpha, 1)
        rgba[..., :3] = np.where(alpha > 0, np.minimum(straight, 255), 0)
        rgba[..., 3] = premul[..., 3]
        self._events.append(ev.CursorShape(x, y, rgba))

    def _server_fence(self) -> Reader[None]:
        flags, length = struct.unpack(">3xIB", (yield 8))
        if length > MAX_FENCE_PAYLOAD:
            raise ProtocolError(f"fence payload of {length} bytes exceeds {MAX_FENCE_PAYLOAD}")
        payload = (yield length) if length else b""
        self.flow.server_fence(flags, payload)

    def _colour_map_entries(self) -> Reader[None]:
        first, count = struct.unpack(">xHH", (yield 5))
        data = yield count * 6
        size = 1 << min(self.pixel_format.bits_per_pixel, 16)
        if first + count > size:
            raise ProtocolError(f"colour map entries {first}..{first + count - 1} exceed {size}")
        if self.colour_map is None or len(self.colour_map) != size:
            self.colour_map = np.zeros((size, 4), dtype=np.uint8)
        rgb16 = np.frombuffer(data, dtype=">u2").reshape(count, 3)
        self.colour_map[first : first + count, :3] = (rgb16 >> 8).astype(np.uint8)
        self._events.append(ev.ColourMapChanged(first, count))

    def _server_cut_text(self) -> Reader[None]:
        (length,) = struct.unpack(">3xi", (yield 7))
        if length < 0:
            if not self.options.extended_clipboard:
                raise ProtocolError("extended clipboard message without negotiating it")
            yield from self._extended_cut_text(-length)
            return
        kept = bytearray()
        remaining = length
        while remaining:
            chunk = yield min(CHUNK, remaining)
            remaining -= len(chunk)
            if len(kept) < MAX_CUT_TEXT:
                kept += chunk[: MAX_CUT_TEXT - len(kept)]
        self._events.append(ev.CutText(kept.decode("latin-1")))

    def _extended_cut_text(self, length: int) -> Reader[None]:
        if length < 4:
            raise ProtocolError(f"extended clipboard message of {length} bytes")
        (flags,) = struct.unpack(">I", (yield 4))
        remaining = length - 4
        if not flags & CLIP_CAPS and not self.clip_caps:
            raise ProtocolError("extended clipboard message before the server's caps")
        if flags & CLIP_CAPS or not flags & CLIP_PROVIDE:
            body = bytearray()
            while remaining:  # control messages are small: keep the start, drop the rest
                chunk = yield min(CHUNK, remaining)
                remaining -= len(chunk)
                body += chunk[: MAX_CLIP_CONTROL - len(body)]
            self._clip_control(flags, bytes(body))
            return
        # provide: a zlib stream of (U32 size, data) per format, in bit order; text is bit 0.
        inflate = zlib.decompressobj()
        wanted = 4 + MAX_CLIP_BYTES
        out = bytearray()
        while remaining:
            chunk = yield min(CHUNK, remaining)
            remaining -= len(chunk)
            if flags & CLIP_TEXT and len(out) < wanted:
                try:
                    out += inflate.decompress(chunk, wanted - len(out))
                except zlib.error as exc:
                    raise ProtocolError(f"extended clipboard data: {exc}") from None
        if not flags & CLIP_TEXT:
            return
        if len(out) < 4:
            raise ProtocolError("extended clipboard text without its size")
        (size,) = struct.unpack(">I", out[:4])
        data = bytes(out[4 : 4 + size]).split(b"\0", 1)[0]
        text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        self._events.append(ev.CutText(text[:MAX_CUT_TEXT]))

    def _clip_control(self, flags: int, body: bytes) -> None:
        """caps, request, peek or notify from the server."""
        if flags & CLIP_CAPS:
            formats = [bit for bit in range(16) if flags & (1 << bit)]
            if len(body) < 4 * len(formats):
                raise ProtocolError("extended clipboard caps without their sizes")
            sizes = struct.unpack(f">{len(formats)}I", body[: 4 * len(formats)])
            self.clip_caps = flags
            self.clip_text_max = sizes[0] if flags & CLIP_TEXT else 0
            # Ours: text only, up to the cap, with every action.
            ours = CLIP_CAPS | CLIP_TEXT | CLIP_ACTIONS
            self._clip_send(ours, struct.pack(">I", MAX_CUT_TEXT))
        elif flags & CLIP_REQUEST:
            if flags & CLIP_TEXT:
                self._clip_provide()
        elif flags & CLIP_PEEK:
            self._clip_send(CLIP_NOTIFY | (CLIP_TEXT if self._clip_local is not None else 0))
        elif flags & CLIP_NOTIFY and flags & CLIP_TEXT and self.clip_caps & CLIP_REQUEST:
            self._clip_send(CLIP_REQUEST | CLIP_TEXT)  # text there: ask for it


class _Channel:
    """What a security handler may do to its client: switch layers, describe the link."""

    def __init__(self, client: RFBClient) -> None:
        self._client = client

    def start_layer(self, layer: Layer) -> None:
        self._client._start_layer(layer)

    def stop_layer(self) -> None:
        self._client._stop_layer()

    def note(self, text: str, warn: bool = False) -> None:
        self._client._note(text, warn)

    def rejection_hint(self, text: str) -> None:
        self._client.rejection_hint = text


def _bounds(rects: list[Rect]) -> Rect:
    """The bounding box of some rectangles."""
    box = rects[0]
    for r in rects[1:]:
        box = box.union(r)
    return box


def _clip_utf8(text: str) -> bytes:
    """Extended Clipboard text: UTF-8, CR LF line ends, a terminating NUL."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8") + b"\0"


def _bitmap(data: bytes, w: int, h: int) -> U8Array:
    """A 1-bit-per-pixel, row-padded, MSB-first bitmap as an (h, w) array of 0/1."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8).reshape(h, (w + 7) // 8), axis=1)
    return bits[:, :w]
