"""The work budget (vncwall/net/budget.py), TightPNG and QEMU's pointer type change, sans-IO."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.evil_server import (
    PNG_PIXELS,
    compact_length,
    handshake,
    png_image,
    raw_rect,
    rect,
    update,
)
from vncwall.bench import load
from vncwall.net import events as ev
from vncwall.net.budget import MIN_FRAME, PER_BYTE, PER_UPDATE, RESERVE, WorkBudget
from vncwall.net.client import RFBClient
from vncwall.net.constants import Encoding
from vncwall.net.errors import ProtocolError

ROOT = Path(__file__).resolve().parents[1]


def _events(client: RFBClient) -> list[ev.Event]:
    out = []
    while (e := client.next_event()) is not None:
        out.append(e)
    return out


def test_bytes_and_asked_updates_earn_credit() -> None:
    stream = SimpleNamespace(consumed=0)
    budget = WorkBudget(stream)
    budget.frame(1000, 1000, fill=True)  # 1,000,000 pixels: under MIN_FRAME
    assert budget.balance == RESERVE * MIN_FRAME
    assert budget.pay(RESERVE * MIN_FRAME)  # the whole reserve, to the last pixel
    assert not budget.pay(1)
    budget.balance = 0
    stream.consumed = 100  # 100 bytes arrive: 100 * PER_BYTE
    assert budget.pay(100 * PER_BYTE) and not budget.pay(1)
    budget.balance = 0
    budget.update_begun(asked=False, now=0.0)  # nobody asked: nothing
    assert budget.balance == 0
    budget.update_begun(asked=True, now=1.0)
    assert budget.balance == PER_UPDATE * MIN_FRAME
    budget.update_begun(asked=True, now=1.001)  # faster than CONTINUOUS_HZ: not again
    assert budget.balance == PER_UPDATE * MIN_FRAME
    stream.consumed = 10**9  # never more than the reserve
    budget.update_begun(asked=True, now=2.0)
    assert budget.balance == RESERVE * MIN_FRAME


@pytest.mark.parametrize("name", ["raw", "hextile", "rre", "zrle", "tight", "tight-jpeg"])
def test_real_recordings_stay_well_inside(name: str) -> None:
    """Streams recorded from a busy Xvnc, replayed without any request (credit from
    bytes alone), never take more than half the reserve."""
    from tools.budget_margin import margin

    updates, spent, lowest, error = margin(load(ROOT / "recordings" / f"{name}.rfb.gz"),
                                           asked=False)
    assert not error and updates > 20 and spent > 0
    assert lowest > 0.5, lowest


def test_whole_screen_raw_at_the_largest_size_passes() -> None:
    """A legitimate worst case: one Raw update covering a 16384x1024 desktop, twice."""
    w, h = 16384, 1024
    client = RFBClient()
    client.receive_data(handshake(w, h))
    body = update(rect(0, 0, w, h, Encoding.RAW, bytes(4 * w * h)))
    client.receive_data(body + body)
    assert sum(isinstance(e, ev.UpdateEnd) for e in _events(client)) == 2


def test_overdraw_is_cut_at_the_reserve() -> None:
    """Whole-screen copies cost their area. After ServerInit the reserve is full (an
    asked-for update's allowance cannot raise it further): RESERVE copies are paid,
    the next is refused before it is done. A later asked update pays PER_UPDATE more."""
    w, h = 2048, 1024  # 2 MiP: above MIN_FRAME, so a screen is its own area
    now = [0.0]
    client = RFBClient(clock=lambda: now[0])
    client.receive_data(handshake(w, h))
    copy = rect(0, 0, w, h, Encoding.COPYRECT, struct.pack(">HH", 0, 0))
    client.request_update()
    client.receive_data(update(*[copy] * RESERVE))
    assert client.budget.balance < w * h  # what a few hundred bytes earned
    now[0] = 1.0  # allowances come at most CONTINUOUS_HZ times a second
    client.request_update()
    with pytest.raises(ProtocolError, match=r"costs far more than its bytes"):
        client.receive_data(update(*[copy] * (PER_UPDATE + 1)))
    assert client.budget.spent == (RESERVE + PER_UPDATE + 1) * w * h


def test_tight_png_rectangle_is_decoded() -> None:
    png = png_image(PNG_PIXELS, 8, 8)
    client = RFBClient()
    client.receive_data(handshake(8, 8) + update(rect(0, 0, 8, 8, Encoding.TIGHT_PNG,
                                                      b"\xa0" + compact_length(len(png)) + png)))
    end = [e for e in _events(client) if isinstance(e, ev.UpdateEnd)]
    assert end and Encoding.TIGHT_PNG in end[0].encodings
    fb = client.framebuffer
    assert fb is not None
    expected = np.frombuffer(PNG_PIXELS, dtype=np.uint8).reshape(8, 8, 3)
    assert np.array_equal(fb.pixels[..., :3], expected)


def test_tight_png_header_size_is_checked() -> None:
    png = png_image(PNG_PIXELS, 8, 8)
    client = RFBClient()
    with pytest.raises(ProtocolError, match="PNG is 8x8, rectangle is 4x4"):
        client.receive_data(handshake(8, 8) + update(rect(0, 0, 4, 4, Encoding.TIGHT_PNG,
                                                          b"\xa0" + compact_length(len(png))
                                                          + png)))
    plain = RFBClient()  # Tight proper has no PNG rectangles
    with pytest.raises(ProtocolError, match="compression control 0xa0"):
        plain.receive_data(handshake(8, 8) + update(rect(0, 0, 8, 8, Encoding.TIGHT,
                                                         b"\xa0" + compact_length(len(png))
                                                         + png)))


def test_qemu_pointer_type_change() -> None:
    client = RFBClient()
    client.receive_data(handshake() + update(
        rect(0, 0, 0, 0, Encoding.QEMU_POINTER_MOTION_CHANGE), raw_rect(0, 0, 64, 48)))
    modes = [e for e in _events(client) if isinstance(e, ev.PointerMode)]
    assert modes == [ev.PointerMode(absolute=False)] and not client.pointer_absolute
    client.receive_data(update(rect(1, 0, 0, 0, Encoding.QEMU_POINTER_MOTION_CHANGE)))
    assert [e for e in _events(client) if isinstance(e, ev.PointerMode)] == [
        ev.PointerMode(absolute=True)]


def test_deadline_is_checked_while_decoding() -> None:
    now = [0.0]
    client = RFBClient(clock=lambda: now[0])
    client.receive_data(handshake())
    client.deadline = 5.0
    client.receive_data(update(raw_rect(0, 0, 8, 8)))
    now[0] = 6.0
    from vncwall.net.errors import ConnectError

    with pytest.raises(ConnectError, match="timed out"):
        client.receive_data(update(raw_rect(0, 0, 8, 8)))
