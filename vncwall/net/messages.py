"""Encoders for client-to-server messages (RFC 6143 section 7.5)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .constants import MAX_FENCE_PAYLOAD, ClientMsg
from .pixelformat import PixelFormat


def set_pixel_format(pf: PixelFormat) -> bytes:
    return struct.pack(">B3x", ClientMsg.SET_PIXEL_FORMAT) + pf.pack()


def set_encodings(encodings: Iterable[int]) -> bytes:
    encs = list(encodings)
    return struct.pack(f">BxH{len(encs)}i", ClientMsg.SET_ENCODINGS, len(encs), *encs)


def update_request(incremental: bool, x: int, y: int, w: int, h: int) -> bytes:
    return struct.pack(
        ">BBHHHH", ClientMsg.FRAMEBUFFER_UPDATE_REQUEST, int(incremental), x, y, w, h
    )


def key_event(down: bool, keysym: int) -> bytes:
    return struct.pack(">BBxxI", ClientMsg.KEY_EVENT, int(down), keysym & 0xFFFFFFFF)


def pointer_event(buttons: int, x: int, y: int) -> bytes:
    return struct.pack(">BBHH", ClientMsg.POINTER_EVENT, buttons & 0xFF, x, y)


def qemu_key_event(down: bool, keysym: int, keycode: int) -> bytes:
    """QEMU Extended Key Event (message 255, submessage 0): keysym plus XT scan code."""
    return struct.pack(">BBHII", ClientMsg.QEMU, 0, int(down), keysym & 0xFFFFFFFF, keycode)


def client_cut_text(text: bytes) -> bytes:
    return struct.pack(">B3xI", ClientMsg.CLIENT_CUT_TEXT, len(text)) + text


def enable_continuous_updates(enable: bool, x: int, y: int, w: int, h: int) -> bytes:
    """EnableContinuousUpdates (rfbproto, message 150)."""
    return struct.pack(
        ">BBHHHH", ClientMsg.ENABLE_CONTINUOUS_UPDATES, int(enable), x, y, w, h
    )


def client_fence(flags: int, payload: bytes = b"") -> bytes:
    """ClientFence (rfbproto, message 248): flags, then a payload of at most 64 bytes."""
    if len(payload) > MAX_FENCE_PAYLOAD:
        raise ValueError(f"fence payload of {len(payload)} bytes exceeds {MAX_FENCE_PAYLOAD}")
    return struct.pack(">B3xIB", ClientMsg.CLIENT_FENCE, flags, len(payload)) + payload


@dataclass(frozen=True)
class Screen:
    """One SCREEN of an ExtendedDesktopSize rectangle or SetDesktopSize message."""

    id: int
    x: int
    y: int
    w: int
    h: int
    flags: int

    def pack(self) -> bytes:
        return struct.pack(">IHHHHI", self.id, self.x, self.y, self.w, self.h, self.flags)

    @classmethod
    def parse(cls, data: bytes) -> Screen:
        return cls(*struct.unpack(">IHHHHI", data))


def set_desktop_size(width: int, height: int, screens: Sequence[Screen]) -> bytes:
    """SetDesktopSize (rfbproto, message 251): the framebuffer size and its screen layout."""
    head = struct.pack(">BxHHBx", ClientMsg.SET_DESKTOP_SIZE, width, height, len(screens))
    return head + b"".join(s.pack() for s in screens)
