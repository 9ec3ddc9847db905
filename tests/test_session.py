"""Session workers: states, first frames, reconnect with capped backoff after a server dies."""

from __future__ import annotations

import random
import time

import pytest

from vncwall.config import SessionConfig
from vncwall.demo.server import DemoServer
from vncwall.net.address import parse_address
from vncwall.session import Session, State, backoff_delay


def wait(predicate: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_backoff_is_capped_exponential_with_jitter() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        for _ in range(50):
            d = backoff_delay(attempt, 30.0, rng)
            base = min(30.0, 2.0 ** (attempt - 1))
            assert 0.5 * base <= d <= base
    delays = {round(backoff_delay(3, 30.0, rng), 6) for _ in range(20)}
    assert len(delays) > 10  # jittered, so many sessions do not retry in lockstep


def test_live_then_reconnect_after_server_restarts() -> None:
    server = DemoServer(2, width=320, height=200)
    port = server.port
    cfg = SessionConfig(name="demo", address=parse_address(f"127.0.0.1::{port}"))
    session = Session(cfg, reconnect_cap=2.0, timeout=3.0)
    session.start()
    try:
        wait(lambda: session.status().first_frame, "no first frame")
        assert session.status().state is State.LIVE
        fb = session.framebuffer
        assert fb is not None and (fb.width, fb.height) == (320, 200)
        server.close()
        wait(lambda: session.status().state is State.RETRYING, "never noticed the server died")
        status = session.status()
        assert status.reason and "retrying in" in status.line()
        server = DemoServer(2, width=320, height=200, port=port)
        wait(lambda: session.framebuffer is not fb and session.status().state is State.LIVE
             and session.status().first_frame, "did not reconnect within the cap", 10.0)
    finally:
        session.stop()
        server.close()


def test_stop_ends_the_thread_promptly() -> None:
    cfg = SessionConfig(name="nowhere", address=parse_address("127.0.0.1::1"))
    session = Session(cfg, reconnect_cap=30.0, timeout=1.0)
    session.start()
    wait(lambda: session.status().state is State.RETRYING, "no retry state")
    start = time.monotonic()
    session.stop()
    assert time.monotonic() - start < 2.5
    assert not session._thread.is_alive()


@pytest.mark.parametrize("reason", ["refused"])
def test_state_line_names_the_reason(reason: str) -> None:
    cfg = SessionConfig(name="nowhere", address=parse_address("127.0.0.1::1"))
    session = Session(cfg, reconnect_cap=5.0, timeout=1.0)
    session.start()
    try:
        wait(lambda: session.status().state is State.RETRYING, "no retry state")
        assert reason in session.status().line().lower()
    finally:
        session.stop()


def test_desktop_size_requests_need_the_option_and_the_servers_layout() -> None:
    # The demo server sends no ExtendedDesktopSize: asking is a no-op, the session goes on.
    server = DemoServer(1, width=320, height=200)
    cfg = SessionConfig(name="demo", address=parse_address(server.address), resize_remote=True)
    session = Session(cfg, reconnect_cap=2.0, timeout=3.0)
    session.start()
    try:
        wait(lambda: session.status().first_frame, "no first frame")
        assert not session.continuous  # the demo server has no continuous updates
        session.request_desktop_size(640, 480)
        before = session.status().updates
        wait(lambda: session.status().updates > before + 3, "updates stopped")
        fb = session.framebuffer
        assert fb is not None and (fb.width, fb.height) == (320, 200)
        assert session.status().state is State.LIVE
        latency = session.stats().latency_ms  # request to decoded, measured per update
        assert latency is not None and latency > 0
    finally:
        session.stop()
        server.close()
