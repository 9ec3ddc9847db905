"""Fences, continuous updates, latency, SetDesktopSize: literal bytes, whole and byte by byte."""

from __future__ import annotations

import struct

import pytest

from vncwall.net import events as ev
from vncwall.net.client import ClientOptions, RFBClient
from vncwall.net.constants import Encoding
from vncwall.net.errors import ProtocolError
from vncwall.net.pixelformat import RGBX32
from vncwall.net.security import NONE

W, H = 4, 2
HANDSHAKE = b"RFB 003.008\n\x01\x01" + bytes(4)
SERVER_INIT = struct.pack(">HH", W, H) + RGBX32.pack() + struct.pack(">I", 4) + b"desk"
OPTIONS = ClientOptions(security=(NONE,), extended_clipboard=False, local_cursor=False)

REQUEST, BLOCK_BEFORE, BLOCK_AFTER, SYNC_NEXT = 1 << 31, 1, 2, 4
EOCU = b"\x96"  # EndOfContinuousUpdates: the message type alone


def server_fence(flags: int, payload: bytes) -> bytes:
    return b"\xf8\x00\x00\x00" + struct.pack(">I", flags) + bytes([len(payload)]) + payload


def raw_update(x: int = 0, y: int = 0, w: int = 1, h: int = 1) -> bytes:
    """A FramebufferUpdate with one Raw rectangle of white pixels."""
    head = b"\x00\x00" + struct.pack(">H", 1) + struct.pack(">HHHHi", x, y, w, h, 0)
    return head + b"\xff\xff\xff\x00" * (w * h)


def eds_update(w: int, h: int, screens: list[tuple[int, int, int, int, int, int]],
               x: int = 0, y: int = 0) -> bytes:
    """A FramebufferUpdate with one ExtendedDesktopSize rectangle."""
    body = struct.pack(">B3x", len(screens)) + b"".join(
        struct.pack(">IHHHHI", *s) for s in screens)
    rect = struct.pack(">HHHHi", x, y, w, h, Encoding.EXTENDED_DESKTOP_SIZE)
    return b"\x00\x00" + struct.pack(">H", 1) + rect + body


class Clock:
    """A settable clock for the client."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def connected(options: ClientOptions = OPTIONS,
              clock: Clock | None = None) -> tuple[RFBClient, list[ev.Event]]:
    client = RFBClient(options, clock=clock or Clock())
    client.receive_data(HANDSHAKE + SERVER_INIT)
    client.data_to_send()  # the handshake's answers
    return client, drain(client)


def drain(client: RFBClient) -> list[ev.Event]:
    events = []
    while (e := client.next_event()) is not None:
        events.append(e)
    return events


def both_ways(stream: bytes,
              options: ClientOptions = OPTIONS) -> list[tuple[RFBClient, list[ev.Event], bytes]]:
    """Feed `stream` after the handshake whole and byte by byte; both must agree."""
    results = []
    for chunked in (False, True):
        client, _ = connected(options)
        pieces = [stream[i : i + 1] for i in range(len(stream))] if chunked else [stream]
        for piece in pieces:
            client.receive_data(piece)
        results.append((client, drain(client), client.data_to_send()))
    (_, e0, out0), (_, e1, out1) = results
    assert e0 == e1 and out0 == out1
    return results


def test_both_pseudo_encodings_are_advertised() -> None:
    encs = ClientOptions().encoding_list()
    assert Encoding.FENCE in encs and Encoding.CONTINUOUS_UPDATES in encs
    assert Encoding.FENCE not in ClientOptions(fence=False).encoding_list()
    # Continuous updates are only offered together with fences (servers require both).
    assert Encoding.CONTINUOUS_UPDATES not in ClientOptions(fence=False).encoding_list()
    off = ClientOptions(continuous_updates=False).encoding_list()
    assert Encoding.FENCE in off and Encoding.CONTINUOUS_UPDATES not in off


def test_fence_request_is_answered_with_supported_flags_and_payload_echoed() -> None:
    flags = REQUEST | BLOCK_BEFORE | BLOCK_AFTER | SYNC_NEXT | (1 << 9)
    for client, events, out in both_ways(server_fence(flags, b"\x00pay\xffload")):
        assert out == (b"\xf8\x00\x00\x00" + struct.pack(">I", BLOCK_BEFORE | BLOCK_AFTER)
                       + b"\x09\x00pay\xffload")
        assert events == []
        assert client.flow.fence_supported and client.flow.fences_answered == 1
        assert client.idle


def test_empty_fence_request_and_a_response_to_nothing() -> None:
    stream = server_fence(REQUEST, b"") + server_fence(BLOCK_BEFORE, b"stale")
    for client, _, out in both_ways(stream):
        assert out == b"\xf8\x00\x00\x00\x00\x00\x00\x00\x00"  # flags 0, no payload
        assert client.flow.fences_answered == 1 and client.flow.round_trip_s is None


def test_fence_is_answered_only_after_the_update_before_it_is_decoded() -> None:
    update = raw_update(1, 1, 3, 1)
    stream = update + server_fence(REQUEST | BLOCK_BEFORE, b"\x01")
    client, _ = connected()
    answered_at = None
    for i in range(len(stream)):
        client.receive_data(stream[i : i + 1])
        got = drain(client)
        out = client.data_to_send()
        if any(isinstance(e, ev.UpdateEnd) for e in got):
            assert answered_at is None, "answered before the update was decoded"
            fb = client.framebuffer
            assert fb is not None and fb.pixels[1, 1:4].tolist() == [[255, 255, 255, 0]] * 3
        if out.startswith(b"\xf8"):
            answered_at = i
    assert answered_at == len(stream) - 1  # with the fence's last byte, not before


def test_end_of_continuous_updates_switches_to_continuous_and_back() -> None:
    for client, events, out in both_ways(EOCU):
        # EnableContinuousUpdates, enabled, for the whole 4x2 framebuffer.
        assert out == b"\x96\x01" + struct.pack(">HHHH", 0, 0, W, H)
        assert events == [ev.ContinuousUpdates(True)]
        assert client.continuous
        client.next_update()
        assert client.data_to_send() == b""  # nothing to ask: updates come by themselves
        client.receive_data(EOCU)  # the server stopped them
        assert drain(client) == [ev.ContinuousUpdates(False)]
        assert not client.continuous
        client.next_update()
        assert client.data_to_send() == b"\x03\x01" + struct.pack(">HHHH", 0, 0, W, H)


def test_without_the_extension_updates_are_requested() -> None:
    # A server without continuous updates (x11vnc, TightVNC): every next_update asks.
    for client, events, out in both_ways(raw_update()):
        assert out == b"" and isinstance(events[-1], ev.UpdateEnd)
        assert not client.continuous
        client.next_update()
        assert client.data_to_send() == b"\x03\x01" + struct.pack(">HHHH", 0, 0, W, H)


def test_continuous_updates_not_wanted() -> None:
    options = ClientOptions(security=(NONE,), continuous_updates=False)
    for client, events, out in both_ways(EOCU, options):
        assert out == b"" and events == [] and not client.continuous


def test_continuous_updates_follow_a_resize() -> None:
    stream = EOCU + eds_update(8, 6, [(7, 0, 0, 8, 6, 0)])
    for _, events, out in both_ways(stream):
        assert out == (b"\x96\x01" + struct.pack(">HHHH", 0, 0, W, H)
                       + b"\x96\x01" + struct.pack(">HHHH", 0, 0, 8, 6))
        assert ev.Resized(8, 6) in events


def test_fences_are_refused_when_not_advertised_and_when_oversized() -> None:
    off = ClientOptions(security=(NONE,), fence=False)
    for chunked in (False, True):
        for stream, options, match in (
            (server_fence(REQUEST, b""), off, "unknown server message type 248"),
            (EOCU, off, "unknown server message type 150"),
            (server_fence(REQUEST, bytes(65)), OPTIONS, "fence payload of 65 bytes"),
        ):
            client, _ = connected(options)
            with pytest.raises(ProtocolError, match=match):
                if chunked:
                    for i in range(len(stream)):
                        client.receive_data(stream[i : i + 1])
                else:
                    client.receive_data(stream)


def test_update_latency_runs_from_its_request_to_its_decoding() -> None:
    clock = Clock()
    client, _ = connected(clock=clock)
    client.request_update(incremental=False)  # at 100.0
    clock.now = 100.5
    client.next_update()  # a second request at 100.5
    clock.now = 101.25
    client.receive_data(raw_update())
    (end1,) = [e for e in drain(client) if isinstance(e, ev.UpdateEnd)]
    assert end1.latency_s == pytest.approx(1.25)
    assert end1.received_at == end1.decoded_at == 101.25
    clock.now = 102.0
    client.receive_data(raw_update())
    (end2,) = [e for e in drain(client) if isinstance(e, ev.UpdateEnd)]
    assert end2.latency_s == pytest.approx(1.5)
    clock.now = 103.0
    client.receive_data(raw_update())  # answers no request
    (end3,) = [e for e in drain(client) if isinstance(e, ev.UpdateEnd)]
    assert end3.latency_s is None


def test_our_fences_measure_the_round_trip_while_continuous() -> None:
    clock = Clock()
    client, _ = connected(clock=clock)
    client.receive_data(server_fence(REQUEST, b"\x00") + EOCU)
    client.data_to_send()
    assert client.continuous and drain(client) == [ev.ContinuousUpdates(True)]
    client.receive_data(raw_update())
    ours = client.data_to_send()
    payload = b"vwrt" + struct.pack(">I", 1)
    flags = struct.pack(">I", REQUEST | BLOCK_BEFORE)
    assert ours == b"\xf8\x00\x00\x00" + flags + b"\x08" + payload
    client.receive_data(raw_update())  # one fence at a time: no second one yet
    assert client.data_to_send() == b""
    clock.now += 0.04
    reply = server_fence(BLOCK_BEFORE, payload)
    for i in range(len(reply)):
        client.receive_data(reply[i : i + 1])
    trips = [e for e in drain(client) if isinstance(e, ev.RoundTrip)]
    assert len(trips) == 1 and trips[0].seconds == pytest.approx(0.04)
    assert client.flow.fences_sent == 1 and client.flow.round_trip_s == pytest.approx(0.04)
    client.receive_data(raw_update())  # the next decoded update sends the next fence
    assert client.data_to_send().endswith(b"vwrt" + struct.pack(">I", 2))


def test_no_fences_of_ours_without_the_server_speaking_fence() -> None:
    client, _ = connected()
    client.receive_data(EOCU + raw_update())
    assert client.data_to_send() == b"\x96\x01" + struct.pack(">HHHH", 0, 0, W, H)


def test_set_desktop_size_keeps_the_screen_id_and_flags() -> None:
    screens = [(0x12345678, 0, 0, W, H, 0xABCD), (9, 0, 0, 2, 2, 0)]
    for client, events, _ in both_ways(eds_update(W, H, screens)):
        assert client.can_resize and len(client.screens or ()) == 2
        assert not any(isinstance(e, ev.Resized) for e in events)  # same size: no resize
        client.set_desktop_size(1024, 640)
        assert client.data_to_send() == (
            b"\xfb\x00" + struct.pack(">HHBx", 1024, 640, 1)
            + struct.pack(">IHHHHI", 0x12345678, 0, 0, 1024, 640, 0xABCD))


def test_set_desktop_size_needs_the_layout_and_reports_refusal() -> None:
    client, _ = connected()
    with pytest.raises(RuntimeError, match="screen layout"):
        client.set_desktop_size(640, 480)
    refusal = eds_update(0, 0, [], x=1, y=3)  # our request, status 3: invalid layout
    for client, events, _ in both_ways(eds_update(W, H, [(1, 0, 0, W, H, 0)]) + refusal):
        assert ev.ResizeRefused(3) in events and client.screens is not None
        with pytest.raises(ValueError, match="out of range"):
            client.set_desktop_size(0, 480)


REQUEST_ALL = b"\x03\x01" + struct.pack(">HHHH", 0, 0, W, H)


def test_a_rate_cap_paces_requests() -> None:
    clock = Clock()
    client, _ = connected(clock=clock)
    client.set_max_rate(4.0)  # at most one request every 0.25 s
    client.next_update()
    assert client.data_to_send() == REQUEST_ALL
    clock.now += 0.1
    client.next_update()  # too soon: held back
    assert client.data_to_send() == b""
    assert client.tick() == pytest.approx(0.15)
    assert client.data_to_send() == b""
    clock.now += 0.15
    assert client.tick() == 0.0  # sent now, nothing else waiting
    assert client.data_to_send() == REQUEST_ALL
    client.next_update()
    assert client.data_to_send() == b""  # paced again
    client.set_max_rate(0.0)  # the cap lifted (the face came to the front): asked at once
    assert client.data_to_send() == REQUEST_ALL
    client.next_update()
    assert client.data_to_send() == REQUEST_ALL  # and no more pacing


def test_a_rate_cap_switches_continuous_updates_off_and_lifting_it_back_on() -> None:
    clock = Clock()
    client, _ = connected(clock=clock)
    client.receive_data(EOCU)
    assert client.data_to_send() == b"\x96\x01" + struct.pack(">HHHH", 0, 0, W, H)
    assert drain(client) == [ev.ContinuousUpdates(True)]
    client.set_max_rate(2.0)
    assert client.data_to_send() == b"\x96\x00" + struct.pack(">HHHH", 0, 0, W, H)
    assert drain(client) == [ev.ContinuousUpdates(False)] and not client.continuous
    client.next_update()  # what the session does on ContinuousUpdates(False)
    assert client.data_to_send() == REQUEST_ALL
    client.receive_data(EOCU)  # the server's answer to our switching off: expected
    assert drain(client) == [] and not client.continuous
    client.receive_data(raw_update())
    assert isinstance(drain(client)[-1], ev.UpdateEnd)
    client.next_update()
    assert client.data_to_send() == b""  # within 0.5 s of the last request
    client.set_max_rate(0.0)
    assert client.data_to_send() == REQUEST_ALL + b"\x96\x01" + struct.pack(">HHHH", 0, 0, W, H)
    assert drain(client) == [ev.ContinuousUpdates(True)] and client.continuous


def test_a_session_capped_from_the_start_waits_for_the_cap_to_lift() -> None:
    client, _ = connected()
    client.set_max_rate(1.0)
    client.receive_data(EOCU)  # the server supports continuous updates...
    assert client.data_to_send() == b"" and not client.continuous  # ...not used while capped
    client.set_max_rate(0.0)
    assert client.data_to_send() == b"\x96\x01" + struct.pack(">HHHH", 0, 0, W, H)
    assert client.continuous
