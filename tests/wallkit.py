"""Helpers for tests that run a real Wall in this process: waiting, demo and GL walls."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager

import numpy as np
import pytest

from tests.servers import VncServer, XDisplay
from tests.waiting import wait
from vncwall.config import Config, SessionConfig, WallConfig
from vncwall.demo.server import DemoServer
from vncwall.net.address import parse_address
from vncwall.session import Session, State
from vncwall.wall import Wall

# open_wall(servers, **wall settings): the conftest fixture binding live_wall's display.
WallOpener = Callable[..., AbstractContextManager[Wall]]
# The grid with the focused tile fully opaque: tiles show their framebuffers as they are.
OPAQUE_GRID: dict[str, object] = {"layout": "grid", "front_opacity": 1.0}


def same_as_screen(session: Session, server: VncServer) -> bool:
    """Whether the session's framebuffer holds exactly the server's screen now."""
    fb = session.framebuffer
    if fb is None:
        return False
    with fb.lock:
        got = fb.pixels[..., :3].copy()
    want = server.screenshot()
    return got.shape == want.shape and bool(np.array_equal(got, want))


@contextlib.contextmanager
def demo_wall() -> Iterator[tuple[Wall, list[DemoServer]]]:
    """A started wall (no window): two demo servers (320x200 "alpha", 400x300 "beta") as
    sessions a and b, both live, and between them "down", an address nobody serves, retrying."""
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(DemoServer(0, width=320, height=200, name="alpha")),
                   stack.enter_context(DemoServer(1, width=400, height=300, name="beta"))]
        sessions = (
            SessionConfig(name="a", address=parse_address(servers[0].address)),
            SessionConfig(name="down", address=parse_address("127.0.0.1::1")),
            SessionConfig(name="b", address=parse_address(servers[1].address)),
        )
        wall = Wall(Config(WallConfig(reconnect_max_seconds=2.0, connect_timeout=2.0), sessions))
        wall.start()
        stack.callback(wall.stop)
        wait(lambda: wall.sessions[0].status().first_frame
             and wall.sessions[2].status().first_frame, "demo sessions never went live")
        wait(lambda: wall.sessions[1].status().state is State.RETRYING, "no retry state")
        yield wall, servers


@contextlib.contextmanager
def live_wall(display: XDisplay, servers: Sequence[VncServer | str],
              monkeypatch: pytest.MonkeyPatch, **wall: object) -> Iterator[Wall]:
    """A started wall with a hidden window (GL context) whose sessions all have a picture;
    a session is a test server or an address (e.g. `libvirt:NAME`)."""
    monkeypatch.setenv("DISPLAY", display.display_name)
    monkeypatch.delenv("XAUTHORITY", raising=False)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    import pygame

    from vncwall.wall import open_window

    settings: dict[str, object] = {"labels": False, "fullscreen": False,
                                   "background": (0.0, 0.0, 0.0)} | wall
    cfg = Config(WallConfig(**settings),  # type: ignore[arg-type]
                 tuple(SessionConfig(name=f"s{i}", address=parse_address(
                           s if isinstance(s, str) else s.address))
                       for i, s in enumerate(servers)))
    w = Wall(cfg)
    open_window((64, 64), fullscreen=False, hidden=True)
    try:
        w.start()
        deadline = time.monotonic() + 30
        while not w.all_first_frames():
            assert time.monotonic() < deadline, [s.status() for s in w.sessions]
            pygame.event.pump()
            time.sleep(0.05)
        yield w
    finally:
        w.stop()
        pygame.display.quit()


def render(wall: Wall, size: tuple[int, int], now: float) -> np.ndarray:
    """Frames until nothing more arrives, then one more at `now`; the image, top row first."""
    from vncwall.render.renderer import OffscreenTarget

    target = OffscreenTarget(*size)
    target.bind()
    quiet = 0
    deadline = time.monotonic() + 20
    while quiet < 5:
        assert time.monotonic() < deadline, "the sessions never settled"
        quiet = quiet + 1 if wall.frame(size, now) == 0 else 0
        time.sleep(0.05)
    wall.frame(size, now)
    return target.read()
