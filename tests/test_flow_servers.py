"""Flow control against real servers: TigerVNC switches to continuous updates and fences,
x11vnc and TightVNC keep request/response; desktop changes reach the framebuffer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import VncServer, missing_binaries, vnc_server
from tests.waiting import waiter
from tests.wallkit import same_as_screen
from vncwall.config import SessionConfig
from vncwall.net.address import parse_address
from vncwall.session import Session, State

COLOURS = ("#c0392b", "#27ae60", "#2980b9")


wait = waiter(20.0)


@pytest.fixture(scope="module", params=["tigervnc", "x11vnc", "tightvnc"])
def server(request: pytest.FixtureRequest) -> Iterator[VncServer]:
    missing = missing_binaries(request.param, scene=False)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    with vnc_server(request.param, scene=False) as srv:
        yield srv


def test_updates_flow_and_reach_the_framebuffer(server: VncServer) -> None:
    cfg = SessionConfig(name=server.kind, address=parse_address(server.address))
    session = Session(cfg, reconnect_cap=2.0, timeout=10.0)
    session.start()
    try:
        wait(lambda: session.status().first_frame, "no first frame")
        assert session.status().state is State.LIVE
        tiger = server.kind == "tigervnc"
        # TigerVNC speaks Fence and ContinuousUpdates: its fence requests are answered
        # and updates stop being requested; the others stay request/response.
        wait(lambda: session.continuous == tiger, "continuous mode not as expected", 5.0)
        if tiger:
            wait(lambda: session.fences_answered > 0, "no fence request answered")
        else:
            assert session.fences_answered == 0 and session.fences_sent == 0
        for colour in COLOURS:
            result = server.x("xsetroot", "-solid", colour)
            assert result.returncode == 0, result.stderr
            wait(lambda: same_as_screen(session, server), f"{colour} never reached the client")
        assert session.continuous == tiger  # still: nothing switched it off on the way
        if tiger:
            # Our own fences went out after decoded updates and came back: a round trip.
            assert session.fences_sent > 0
        latency = session.stats().latency_ms
        assert latency is not None and 0.0 <= latency < 10_000.0
    finally:
        session.stop()
