"""Encoders for client-to-server messages (RFC 6143 section 7.5)."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from .constants import ClientMsg
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
