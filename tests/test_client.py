"""The sans-IO client fed literal server byte streams, whole and one byte at a time."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from vncwall.net import events as ev
from vncwall.net.client import ClientOptions, RFBClient
from vncwall.net.constants import Encoding
from vncwall.net.errors import AuthError, ProtocolError
from vncwall.net.pixelformat import BGR233, RGBX32, PixelFormat
from vncwall.net.security import Credentials
from vncwall.net.vncauth import vnc_key, vnc_response

SERVER_PF = PixelFormat(32, 24, False, True, 255, 255, 255, 16, 8, 0)


def server_init(
    w: int = 4, h: int = 2, name: bytes = b"desk", pf: PixelFormat = SERVER_PF
) -> bytes:
    return struct.pack(">HH", w, h) + pf.pack() + struct.pack(">I", len(name)) + name


def run(
    stream: bytes, options: ClientOptions | None = None
) -> tuple[RFBClient, list[ev.Event]]:
    """Feed whole and byte by byte; both must agree; return the byte-by-byte client."""
    results = []
    for chunked in (False, True):
        client = RFBClient(options)
        if chunked:
            for i in range(len(stream)):
                client.receive_data(stream[i : i + 1])
        else:
            client.receive_data(stream)
        events = []
        while (e := client.next_event()) is not None:
            events.append(e)
        results.append((client, events))
    assert [type(e) for e in results[0][1]] == [type(e) for e in results[1][1]]
    np.testing.assert_array_equal(
        results[0][0].framebuffer.pixels if results[0][0].framebuffer else 0,
        results[1][0].framebuffer.pixels if results[1][0].framebuffer else 0,
    )
    return results[1]


def raises(
    stream: bytes, exc: type[Exception], match: str, options: ClientOptions | None = None
) -> None:
    for chunked in (False, True):
        client = RFBClient(options)
        with pytest.raises(exc, match=match):
            if chunked:
                for i in range(len(stream)):
                    client.receive_data(stream[i : i + 1])
            else:
                client.receive_data(stream)


V38_NONE = b"RFB 003.008\n" + b"\x01\x01" + struct.pack(">I", 0)


def test_handshake_38_none() -> None:
    client, events = run(V38_NONE + server_init())
    out = client.data_to_send()
    encs = ClientOptions().encoding_list()
    expected = (
        b"RFB 003.008\n" + b"\x01" + b"\x01"
        + b"\x00\x00\x00\x00" + RGBX32.pack()
        + struct.pack(f">BxH{len(encs)}i", 2, len(encs), *encs)
    )
    assert out == expected
    assert events == [ev.SecurityChosen((3, 8), 1), ev.Connected(4, 2, "desk", SERVER_PF)]
    assert client.framebuffer is not None and client.framebuffer.pixels.shape == (2, 4, 4)


@pytest.mark.parametrize(
    ("greeting", "reply"),
    [
        (b"RFB 003.003\n", b"RFB 003.003\n"),
        (b"RFB 003.005\n", b"RFB 003.003\n"),
        (b"RFB 003.007\n", b"RFB 003.007\n"),
        (b"RFB 003.889\n", b"RFB 003.008\n"),
        (b"RFB 004.001\n", b"RFB 003.008\n"),
        (b"RFB 005.000\n", b"RFB 003.008\n"),
    ],
)
def test_version_choice(greeting: bytes, reply: bytes) -> None:
    client, _ = run(greeting)
    assert client.data_to_send() == reply


def test_not_rfb() -> None:
    raises(b"HTTP/1.1 200 OK\r\n", ProtocolError, "not an RFB server")
    raises(b"RFB 002.000\n", ProtocolError, "unsupported RFB version")


def test_33_vnc_auth_and_37_none_without_result() -> None:
    challenge = bytes(range(16))
    stream = (
        b"RFB 003.003\n" + struct.pack(">I", 2) + challenge + struct.pack(">I", 0) + server_init()
    )
    client, events = run(stream, ClientOptions(credentials=Credentials(password="secret")))
    out = client.data_to_send()
    assert out[:12] == b"RFB 003.003\n"
    assert out[12:28] == vnc_response("secret", challenge)
    assert out[28:29] == b"\x01"  # shared
    assert isinstance(events[-1], ev.Connected)
    # 3.7 with None: no SecurityResult at all.
    client, events = run(b"RFB 003.007\n" + b"\x01\x01" + server_init())
    assert isinstance(events[-1], ev.Connected)


def test_vnc_auth_known_answer() -> None:
    # DES test vector: key 0, plaintext 0 -> 8CA64DE9C1B123A7; an empty password is key 0.
    assert vnc_response("", bytes(16)) == bytes.fromhex("8ca64de9c1b123a7") * 2
    # Key bytes are bit-reversed: 'a' = 0x61 = 01100001 -> 10000110 = 0x86.
    assert vnc_key("a") == b"\x86" + bytes(7)
    assert vnc_key("123456789") == vnc_key("12345678")


def test_auth_failure_reason_38() -> None:
    reason = b"Authentication failed: bad password"
    stream = (
        b"RFB 003.008\n" + b"\x01\x02" + bytes(16)
        + struct.pack(">I", 1) + struct.pack(">I", len(reason)) + reason
    )
    raises(stream, AuthError, "bad password", ClientOptions(credentials=Credentials("x")))


def test_server_refuses_with_reason() -> None:
    reason = b"Too many security failures"
    raises(b"RFB 003.008\n\x00" + struct.pack(">I", len(reason)) + reason, AuthError, "Too many")
    raises(b"RFB 003.003\n" + struct.pack(">II", 0, len(reason)) + reason, AuthError, "Too many")


def test_security_choice() -> None:
    raises(b"RFB 003.008\n\x02\x10\x11", ProtocolError, "no security type in common")
    raises(b"RFB 003.008\n\x01\x02", AuthError, "requires a password")
    # With a password and both offered, VNC auth is preferred; without, None.
    c, _ = run(b"RFB 003.008\n\x02\x01\x02", ClientOptions(credentials=Credentials("pw")))
    assert c.data_to_send()[12:] == b"\x02"
    c, _ = run(b"RFB 003.008\n\x02\x02\x01")
    assert c.data_to_send()[12:] == b"\x01"


def test_reason_length_capped() -> None:
    raises(b"RFB 003.008\n\x00" + struct.pack(">I", 1 << 30), ProtocolError, "too long")


def live(
    extra: bytes, options: ClientOptions | None = None, **init: object
) -> tuple[RFBClient, list[ev.Event]]:
    return run(V38_NONE + server_init(**init) + extra, options)  # type: ignore[arg-type]


def update(*rects: bytes) -> bytes:
    return struct.pack(">BxH", 0, len(rects)) + b"".join(rects)


def rect(x: int, y: int, w: int, h: int, enc: int, body: bytes = b"") -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, enc) + body


def test_raw_update_bell_cut_text() -> None:
    pixels = bytes([10, 20, 30, 0, 40, 50, 60, 0])
    text = "caf\u00e9".encode("latin-1")
    stream = (
        update(rect(1, 1, 2, 1, Encoding.RAW, pixels))
        + b"\x02"
        + struct.pack(">B3xI", 3, len(text)) + text
    )
    client, events = live(stream)
    assert client.framebuffer is not None
    assert client.framebuffer.pixels[1, 1:3, :3].tolist() == [[10, 20, 30], [40, 50, 60]]
    end = next(e for e in events if isinstance(e, ev.UpdateEnd))
    assert end.encodings == frozenset({0})
    assert ev.Bell() in events
    assert ev.CutText("caf\u00e9") in events


def test_last_rect_and_pseudo_encodings() -> None:
    name = b"new name"
    cursor_pixels = bytes([255, 0, 0, 0]) * 4
    mask = bytes([0b10000000, 0b01000000])
    stream = update(
        rect(0, 0, 6, 3, Encoding.DESKTOP_SIZE),
        rect(0, 0, 0, 0, Encoding.DESKTOP_NAME, struct.pack(">I", len(name)) + name),
        rect(1, 0, 2, 2, Encoding.CURSOR, cursor_pixels + mask),
        rect(5, 2, 0, 0, Encoding.POINTER_POS),
        rect(0, 0, 0, 0, Encoding.LAST_RECT),
    )
    stream = stream[:2] + b"\xff\xff" + stream[4:]  # count 0xFFFF: LastRect ends it
    client, events = live(stream)
    assert client.framebuffer is not None and client.framebuffer.pixels.shape == (3, 6, 4)
    assert ev.Resized(6, 3) in events
    assert client.name == "new name"
    shape = next(e for e in events if isinstance(e, ev.CursorShape))
    assert (shape.hot_x, shape.hot_y) == (1, 0)
    assert shape.rgba[..., 3].tolist() == [[255, 0], [0, 255]]
    assert ev.PointerMoved(5, 2) in events


def test_x_cursor() -> None:
    body = bytes([255, 255, 255, 0, 0, 0]) + bytes([0b10000000]) + bytes([0b11000000])
    _, events = live(update(rect(0, 0, 2, 1, Encoding.X_CURSOR, body)))
    shape = next(e for e in events if isinstance(e, ev.CursorShape))
    assert shape.rgba.tolist() == [[[255, 255, 255, 255], [0, 0, 0, 255]]]


def test_colour_map_mode() -> None:
    cmap_pf = PixelFormat(8, 8, False, False, 0, 0, 0, 0, 0, 0)
    entries = struct.pack(">BxHH", 1, 3, 2) + struct.pack(">6H", 0xFFFF, 0, 0, 0, 0x8000, 0)
    stream = entries + update(rect(0, 0, 2, 1, Encoding.RAW, bytes([3, 4])))
    client, _ = live(stream, ClientOptions(pixel_format=None), pf=cmap_pf)
    assert client.framebuffer is not None
    assert client.framebuffer.pixels[0, :2, :3].tolist() == [[255, 0, 0], [0, 128, 0]]
    raises(V38_NONE + server_init(pf=cmap_pf) + struct.pack(">BxHH", 1, 255, 2) + bytes(12),
           ProtocolError, "colour map entries", ClientOptions(pixel_format=None))


def test_low_depth_format() -> None:
    # BGR233: blue in the top two bits. 0b11_000_111 = full blue + full red.
    client, _ = live(update(rect(0, 0, 1, 1, Encoding.RAW, bytes([0b11000111]))),
                     ClientOptions(pixel_format=BGR233))
    assert client.framebuffer is not None
    assert client.framebuffer.pixels[0, 0, :3].tolist() == [255, 0, 255]


@pytest.mark.parametrize(
    ("stream", "match"),
    [
        (update(rect(3, 0, 2, 1, Encoding.RAW, bytes(8))), "outside"),
        (update(rect(0, 0, 1, 1, 99)), "unsupported encoding 99"),
        (b"\x07", "unknown server message type 7"),
        (update(rect(0, 0, 0, 0, Encoding.DESKTOP_NAME, struct.pack(">I", 1 << 31))), "too long"),
        (update(rect(0, 0, 300, 2, Encoding.CURSOR)), "cursor of 300x2"),
        (update(rect(5, 0, 2, 2, Encoding.CURSOR)), "hotspot"),
        (update(rect(0, 0, 100000 // 2, 40000, Encoding.DESKTOP_SIZE)), "exceeds the 16384"),
        (update(rect(0, 0, 16384, 16384, Encoding.DESKTOP_SIZE)), "exceeds the limit of"),
        (struct.pack(">B3xiI", 3, -4, 1 << 27), "extended clipboard message before"),
    ],
)
def test_malformed_updates(stream: bytes, match: str) -> None:
    raises(V38_NONE + server_init() + stream, ProtocolError, match)


def test_cut_text_capped_but_consumed() -> None:
    from vncwall.net.client import MAX_CUT_TEXT

    big = b"a" * (MAX_CUT_TEXT + 10)
    client = RFBClient()
    cut = struct.pack(">B3xI", 3, len(big)) + big
    client.receive_data(V38_NONE + server_init() + cut + b"\x02")
    got = []
    while (e := client.next_event()) is not None:
        got.append(e)
    got_cut = next(e for e in got if isinstance(e, ev.CutText))
    assert len(got_cut.text) == MAX_CUT_TEXT
    assert isinstance(got[-1], ev.Bell)  # the stream stayed in step after the excess


def test_client_messages() -> None:
    client, _ = live(b"")
    client.data_to_send()
    client.request_update(incremental=True)
    client.key_event(True, 0xFF0D)
    client.pointer_event(1, 10, -3)  # clamped into the 4x2 framebuffer
    client.cut_text("hi")
    assert client.data_to_send() == (
        struct.pack(">BBHHHH", 3, 1, 0, 0, 4, 2)
        + struct.pack(">BBxxI", 4, 1, 0xFF0D)
        + struct.pack(">BBHH", 5, 1, 3, 0)
        + struct.pack(">B3xI", 6, 2) + b"hi"
    )


def test_qemu_extended_keys_and_led_state() -> None:
    stream = update(rect(0, 0, 0, 0, Encoding.QEMU_EXTENDED_KEY),
                    rect(0, 0, 0, 0, Encoding.QEMU_LED_STATE, b"\x06"))
    client, events = live(stream)
    assert client.qemu_keys
    assert ev.LedState(6) in events
    client.data_to_send()
    client.key_event(True, 0x61, 0x1E)
    assert client.data_to_send() == struct.pack(">BBHII", 255, 0, 1, 0x61, 0x1E)
    plain, _ = live(b"")
    plain.data_to_send()
    plain.key_event(True, 0x61, 0x1E)  # server never offered it: a plain KeyEvent
    assert plain.data_to_send() == struct.pack(">BBxxI", 4, 1, 0x61)


def test_server_init_offset_marks_server_init() -> None:
    stream = V38_NONE + server_init()
    client, _ = run(stream)
    assert client.server_init_offset == len(V38_NONE)
