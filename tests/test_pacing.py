"""background_fps against a real Xvnc whose screen changes all the time: the sessions the
wall does not show in front ask for (and receive) updates at the capped rate only."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.servers import VncServer, missing_binaries, vnc_server
from tests.waiting import wait
from vncwall.config import Config, SessionConfig, WallConfig
from vncwall.net.address import parse_address
from vncwall.wall import Wall

SECONDS = 3.0
CAP = 2.0


@pytest.fixture(scope="module")
def busy() -> Iterator[VncServer]:
    """A bare Xvnc whose root window flips between two colours as fast as it can."""
    missing = missing_binaries("tigervnc", scene=False)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    with vnc_server("tigervnc", scene=False) as server:
        loop = "while :; do xsetroot -solid '#204080'; xsetroot -solid '#806020'; done"
        flipper = subprocess.Popen(["sh", "-c", loop], env=server.env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            yield server
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(flipper.pid, signal.SIGKILL)
            flipper.wait(5)


def measure(server: VncServer, wall_cfg: WallConfig,
            own: tuple[float | None, ...]) -> list[tuple[int, int]]:
    """(updates, bytes) each session received over SECONDS with the wall pacing them."""
    sessions = tuple(
        SessionConfig(name=f"s{i}", address=parse_address(server.address), background_fps=fps)
        for i, fps in enumerate(own))
    wall = Wall(Config(wall_cfg, sessions))
    wall.start()
    try:
        wait(lambda: all(s.status().first_frame for s in wall.sessions), "no first frames", 20)
        wall.pace_updates()  # what every frame does
        time.sleep(1.0)  # the caps take hold (a request already out is answered)
        before = [(s.status().updates, s.bytes_received) for s in wall.sessions]
        time.sleep(SECONDS)
        after = [(s.status().updates, s.bytes_received) for s in wall.sessions]
    finally:
        wall.stop()
    return [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after, before, strict=True)]


def test_background_sessions_are_paced_and_the_front_one_is_not(busy: VncServer) -> None:
    uncapped = measure(busy, WallConfig(), (None, None, None))
    capped = measure(busy, WallConfig(background_fps=CAP), (None, None, 0.0))
    for name, got in (("no cap", uncapped), (f"background_fps = {CAP:g}", capped)):
        print(f"{name}: " + ", ".join(
            f"s{i} {u / SECONDS:.1f} updates/s, {b / SECONDS / 1e3:.0f} kB/s"
            for i, (u, b) in enumerate(got)))
    # Without a cap every session follows the flipping screen (many updates a second).
    assert all(u > 4 * CAP * SECONDS for u, _ in uncapped), uncapped
    front, background, own_zero = capped
    assert front[0] > 4 * CAP * SECONDS  # the front session is never capped
    assert own_zero[0] > 4 * CAP * SECONDS  # its own background_fps = 0: no cap
    assert background[0] <= CAP * SECONDS + 2, background  # paced: 2 a second
    assert background[1] < front[1] / 3, (background, front)
