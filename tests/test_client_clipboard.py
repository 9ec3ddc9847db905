"""Extended Clipboard and Cursor With Alpha as literal byte vectors, whole and byte by byte."""

from __future__ import annotations

import struct
import zlib

import pytest

from tests.test_client import V38_NONE, live, raises, rect, server_init, update
from vncwall.net import events as ev
from vncwall.net.client import MAX_CUT_TEXT, ClientOptions, RFBClient
from vncwall.net.constants import Encoding
from vncwall.net.errors import ProtocolError

# Server caps: text, request|peek|notify|provide, text size 0 (TigerVNC's Xvnc sends this).
SERVER_CAPS = bytes.fromhex("03 000000 fffffff8  1f000001 00000000")
# Our caps answer: caps|text|request|peek|notify|provide, text up to MAX_CUT_TEXT.
CLIENT_CAPS = bytes.fromhex("06 000000 fffffff8  1f000001") + struct.pack(">I", MAX_CUT_TEXT)
# "h\u00e9\u20ac\ny" provided: zlib of U32 10 + "h\xc3\xa9\xe2\x82\xac\r\ny\0".
PROVIDE = bytes.fromhex("789c636060e0ca38bcf251d31a5eae4a06001e89047f")
SERVER_PROVIDE = bytes.fromhex("03 000000") + struct.pack(">iI", -(4 + len(PROVIDE)),
                                                          0x10000001) + PROVIDE


def sent(client: RFBClient) -> bytes:
    return client.data_to_send()


def test_encoding_list_asks_for_both() -> None:
    encs = ClientOptions().encoding_list()
    assert encs[-1] == Encoding.EXTENDED_CLIPBOARD
    assert encs.index(Encoding.CURSOR_WITH_ALPHA) < encs.index(Encoding.CURSOR)
    assert Encoding.EXTENDED_CLIPBOARD not in ClientOptions(
        extended_clipboard=False).encoding_list()


def test_caps_answered_and_notify_requested() -> None:
    notify = bytes.fromhex("03 000000 fffffffc 08000001")
    client, events = live(SERVER_CAPS + notify)
    assert client.clip_caps == 0x1F000001 and client.clip_text_max == 0
    out = sent(client)
    request = bytes.fromhex("06 000000 fffffffc 02000001")
    assert out.endswith(CLIENT_CAPS + request)
    assert not [e for e in events if isinstance(e, ev.CutText)]


def test_provide_decoded_utf8_lf() -> None:
    _, events = live(SERVER_CAPS + SERVER_PROVIDE + b"\x02")
    assert ev.CutText("h\u00e9\u20ac\ny") in events
    assert isinstance(events[-1], ev.Bell)


def test_local_text_notified_then_provided_on_request() -> None:
    request = bytes.fromhex("03 000000 fffffffc 02000001")
    client, _ = live(SERVER_CAPS)
    sent(client)
    client.cut_text("h\u00e9\u20ac\ny")
    assert sent(client) == bytes.fromhex("06 000000 fffffffc 08000001")  # notify: text
    client.receive_data(request)
    out = sent(client)
    assert out[:12] == bytes.fromhex("06 000000") + struct.pack(">iI", -(len(out) - 8),
                                                                0x10000001)
    assert zlib.decompress(out[12:]) == b"\x00\x00\x00\x0ah\xc3\xa9\xe2\x82\xac\r\ny\x00"


def test_local_text_provided_at_once_when_small_enough() -> None:
    caps = bytes.fromhex("03 000000 fffffff8 1f000001 00000100")  # text up to 256 bytes
    client, _ = live(caps)
    sent(client)
    client.cut_text("ok")
    out = sent(client)
    assert struct.unpack(">I", out[8:12]) == (0x10000001,)
    assert zlib.decompress(out[12:]) == b"\x00\x00\x00\x03ok\x00"


def test_peek_answers_notify() -> None:
    peek = bytes.fromhex("03 000000 fffffffc 04000000")
    client, _ = live(SERVER_CAPS + peek)
    assert sent(client).endswith(bytes.fromhex("06 000000 fffffffc 08000000"))  # nothing yet


def test_classic_latin1_without_caps() -> None:
    client, _ = live(b"")
    sent(client)
    client.cut_text("a\u20ac")
    assert sent(client) == bytes.fromhex("06 000000 00000002") + b"a?"


def test_provide_capped_and_stream_stays_in_step() -> None:
    big = "\u00e9" * (MAX_CUT_TEXT + 5)
    data = big.encode() + b"\0"
    body = zlib.compress(struct.pack(">I", len(data)) + data)
    msg = struct.pack(">B3xiI", 3, -(4 + len(body)), 0x10000001) + body
    client = RFBClient()
    client.receive_data(V38_NONE + server_init() + SERVER_CAPS + msg + b"\x02")
    got = []
    while (e := client.next_event()) is not None:
        got.append(e)
    cut = next(e for e in got if isinstance(e, ev.CutText))
    assert cut.text == "\u00e9" * MAX_CUT_TEXT
    assert isinstance(got[-1], ev.Bell)


@pytest.mark.parametrize(
    ("stream", "match"),
    [
        (struct.pack(">B3xi", 3, -2) + b"\0\0", "extended clipboard message of 2 bytes"),
        (bytes.fromhex("03 000000 fffffffc 1f000001"), "caps without their sizes"),
        (SERVER_CAPS + struct.pack(">B3xiI", 3, -7, 0x10000001) + b"bad", "clipboard data"),
        (SERVER_CAPS + struct.pack(">B3xiI", 3, -4, 0x10000001), "without its size"),
    ],
)
def test_bad_extended_clipboard(stream: bytes, match: str) -> None:
    raises(V38_NONE + server_init() + stream, ProtocolError, match)


def test_extended_refused_when_not_asked() -> None:
    raises(V38_NONE + server_init() + SERVER_CAPS, ProtocolError, "without negotiating",
           ClientOptions(extended_clipboard=False))


def test_cursor_with_alpha_raw() -> None:
    # 2x1, hotspot (1, 0): premultiplied (128, 64, 0, 128) = straight (255, 128, 0, 128),
    # and a fully transparent pixel.
    body = struct.pack(">i", Encoding.RAW) + bytes([128, 64, 0, 128, 0, 0, 0, 0])
    _, events = live(update(rect(1, 0, 2, 1, Encoding.CURSOR_WITH_ALPHA, body)) + b"\x02")
    shape = next(e for e in events if isinstance(e, ev.CursorShape))
    assert (shape.hot_x, shape.hot_y) == (1, 0)
    assert shape.rgba.tolist() == [[[255, 128, 0, 128], [0, 0, 0, 0]]]
    assert isinstance(events[-1], ev.Bell)


def test_cursor_with_alpha_zrle_keeps_alpha() -> None:
    # ZRLE, one 2x1 tile of raw CPIXELs: depth 32 keeps all four bytes.
    tile = b"\x00" + bytes([255, 255, 255, 255, 10, 20, 30, 40])
    z = zlib.compress(tile)
    body = struct.pack(">iI", Encoding.ZRLE, len(z)) + z
    _, events = live(update(rect(0, 0, 2, 1, Encoding.CURSOR_WITH_ALPHA, body)))
    shape = next(e for e in events if isinstance(e, ev.CursorShape))
    assert shape.rgba.tolist() == [[[255, 255, 255, 255], [64, 128, 191, 40]]]


def test_cursor_with_alpha_refusals() -> None:
    base = V38_NONE + server_init()
    raises(base + update(rect(0, 0, 1, 1, Encoding.CURSOR_WITH_ALPHA,
                              struct.pack(">i", Encoding.COPYRECT))),
           ProtocolError, "cursor with alpha in unsupported encoding 1")
    raises(base + update(rect(0, 0, 300, 1, Encoding.CURSOR_WITH_ALPHA)), ProtocolError,
           "cursor of 300x1")
