"""resize_remote: SetDesktopSize against TigerVNC's Xvnc, checked with xdpyinfo and xwd."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.servers import VncServer, missing_binaries, vnc_server
from tests.waiting import waiter
from tests.wallkit import same_as_screen
from vncwall.config import SessionConfig
from vncwall.net import events as ev
from vncwall.net.address import parse_address
from vncwall.session import Session

wait = waiter(20.0)


@pytest.fixture(scope="module")
def tigervnc() -> Iterator[VncServer]:
    missing = missing_binaries("tigervnc", scene=False)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    with vnc_server("tigervnc", scene=False) as srv:
        yield srv


def server_size(server: VncServer) -> tuple[int, int]:
    out = server.x("xdpyinfo", "-display", server.display_name).stdout.decode()
    m = re.search(r"dimensions:\s+(\d+)x(\d+) pixels", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def fb_size(session: Session) -> tuple[int, int] | None:
    fb = session.framebuffer
    return None if fb is None else (fb.width, fb.height)


def session_for(server: VncServer, resize: bool) -> tuple[Session, list[ev.Event]]:
    cfg = SessionConfig(name="resize", address=parse_address(server.address),
                        resize_remote=resize)
    session = Session(cfg, reconnect_cap=2.0, timeout=10.0)
    seen: list[ev.Event] = []
    session.listeners.append(lambda _s, e: seen.append(e))
    session.start()
    wait(lambda: session.status().first_frame, "no first frame")
    return session, seen


def test_desktop_follows_the_requested_size(tigervnc: VncServer) -> None:
    start = server_size(tigervnc)
    session, seen = session_for(tigervnc, resize=True)
    try:
        assert fb_size(session) == start
        assert session.continuous  # the updates after each resize come without requests
        steps = [((1024, 640), "#8e44ad"), ((1024, 640), "#16a085"), ((800, 600), "#d35400"),
                 (start, "#2c3e50")]  # asking twice changes nothing; the last grows it back
        for size, colour in steps:
            session.request_desktop_size(*size)
            wait(lambda s=size: fb_size(session) == s, f"framebuffer never became {size}")
            assert server_size(tigervnc) == size
            # Updates keep flowing, continuously, over the whole of each new size.
            assert tigervnc.x("xsetroot", "-solid", colour).returncode == 0
            wait(lambda: same_as_screen(session, tigervnc), f"{colour} at {size} not shown")
        resizes = [e for e in seen if isinstance(e, ev.Resized)]
        assert resizes == [ev.Resized(1024, 640), ev.Resized(800, 600), ev.Resized(*start)]
        assert not any(isinstance(e, ev.ResizeRefused) for e in seen)
        assert session.continuous
    finally:
        session.stop()


def test_no_resize_unless_configured(tigervnc: VncServer) -> None:
    start = server_size(tigervnc)
    session, seen = session_for(tigervnc, resize=False)
    try:
        session.request_desktop_size(640, 480)
        time.sleep(1.5)
        assert fb_size(session) == start and server_size(tigervnc) == start
        assert not any(isinstance(e, ev.Resized) for e in seen)
    finally:
        session.stop()
