"""resize_remote: the wall asks a real TigerVNC server to match its face's pixel size."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.servers import VncServer, missing_binaries, vnc_server
from vncwall.config import Config, SessionConfig, WallConfig
from vncwall.net.address import parse_address
from vncwall.wall import Wall


@pytest.fixture
def server() -> Iterator[VncServer]:
    if missing_binaries("tigervnc", scene=False):
        pytest.skip("Xvnc not installed")
    with vnc_server("tigervnc", scene=False) as s:
        yield s


def desktop(wall: Wall, i: int) -> tuple[int, int] | None:
    fb = wall.sessions[i].framebuffer
    return None if fb is None else (fb.width, fb.height)


def settle(wall: Wall, viewport: tuple[int, int], want: dict[int, tuple[int, int]],
           timeout: float = 15.0) -> None:
    """Run the wall's resize logic as the run loop does until the desktops match."""
    deadline = time.monotonic() + timeout
    while {i: desktop(wall, i) for i in want} != want:
        assert time.monotonic() < deadline, ({i: desktop(wall, i) for i in want}, want)
        wall.request_sizes(viewport, time.monotonic())
        time.sleep(0.05)


def test_faces_ask_for_their_pixel_size(server: VncServer) -> None:
    sessions = (
        SessionConfig(name="fits", address=parse_address(server.address), resize_remote=True),
        SessionConfig(name="fixed", address=parse_address(server.address)),
    )
    wall = Wall(Config(WallConfig(layout="grid"), sessions))
    wall.start()
    try:
        deadline = time.monotonic() + 20
        while not wall.all_first_frames():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        viewport = (1000, 640)
        cell = wall.grid(viewport).cells[0]
        tile = (round(cell.w), round(cell.h))
        assert tile != (1280, 800)
        # Nothing is asked while the wall is moving, however long that lasts.
        wall.toggle_zoom(time.monotonic())
        wall.zoom.duration = 3600.0
        wall.zoom.retarget(1.0, time.monotonic())
        for _ in range(15):
            wall.request_sizes(viewport, time.monotonic())
            time.sleep(0.05)
        time.sleep(1.0)
        assert desktop(wall, 0) == (1280, 800)
        wall.zoom.jump(1.0, time.monotonic())
        # At rest: session 0 (resize_remote) gets its tile's size. Both sessions watch the
        # same server, so session 1 follows; it never asked (it has no resize_remote).
        settle(wall, viewport, {0: tile, 1: tile})
        # On the prism, a face zoomed to fit shows the whole window.
        wall.toggle_layout(time.monotonic())
        wall.switch.jump(0.0, time.monotonic())
        settle(wall, viewport, {0: viewport})
    finally:
        wall.stop()
