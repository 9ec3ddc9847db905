"""Carousel and status file on a real Wall (no window) against the built-in demo server."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import XDisplay, xvfb
from tests.waiting import wait
from tests.wallkit import demo_wall
from vncwall.carousel import Carousel
from vncwall.cli import _kiosk
from vncwall.config import Config, SessionConfig, WallConfig
from vncwall.demo.server import DemoServer
from vncwall.net.address import parse_address
from vncwall.session import State
from vncwall.status_json import StatusWriter
from vncwall.wall import Wall


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(name="demo_wall")
def demo_wall_fixture() -> Iterator[tuple[Wall, list[DemoServer]]]:
    """A started wall: two demo servers (320x200, 400x300) and one address nobody serves."""
    with demo_wall() as started:
        yield started


def test_carousel_on_the_wall_skips_down_sessions(demo_wall: tuple[Wall, list[DemoServer]]
                                                  ) -> None:
    wall, _ = demo_wall
    clock = Clock()
    wall.carousel = Carousel(10, resume_after=30, skip_down=True, clock=clock)
    wall.autorotate(105.0)
    assert wall.front == 0
    wall.autorotate(110.0)
    assert wall.front == 2  # session 1 is down: passed over
    wall.autorotate(120.0)
    assert wall.front == 0
    wall.carousel.touch(121.0)  # someone used the wall
    for t in (130.0, 140.0, 150.0):
        wall.autorotate(t)
        assert wall.front == 0
    wall.autorotate(151.0)
    assert wall.front == 2


def test_carousel_is_configured_from_the_wall_table() -> None:
    cfg = Config(WallConfig(autorotate_seconds=7, autorotate_resume_seconds=12, skip_down=True),
                 (SessionConfig(name="x", address=parse_address("127.0.0.1::1")),))
    c = Wall(cfg).carousel
    assert c is not None and (c.interval, c.resume_after, c.skip_down) == (7, 12, True)
    off = Wall(Config(WallConfig(), cfg.sessions)).carousel
    assert off is not None and not off.enabled


def test_user_input_event_pauses_the_carousel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    import pygame

    pygame.display.init()
    try:
        pygame.display.set_mode((64, 64))
        cfg = Config(WallConfig(autorotate_seconds=5),
                     (SessionConfig(name="x", address=parse_address("127.0.0.1::1")),
                      SessionConfig(name="y", address=parse_address("127.0.0.1::2"))))
        wall = Wall(cfg)
        wall.carousel = Carousel(5, resume_after=30, clock=Clock())
        pygame.event.clear()
        assert wall._handle_events(101.0)
        assert wall.carousel.last_input is None  # no input, no pause
        pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(3, 4), rel=(1, 1),
                                             buttons=(0, 0, 0)))
        assert wall._handle_events(102.0)
        assert wall.carousel.last_input == 102.0 and wall.carousel.paused(120.0)
        wall.autorotate(131.0)
        assert wall.front == 0
        wall.autorotate(132.0)
        assert wall.front == 1
    finally:
        pygame.display.quit()


def test_status_json_from_a_real_wall(demo_wall: tuple[Wall, list[DemoServer]],
                                      tmp_path: Path) -> None:
    wall, servers = demo_wall
    path = tmp_path / "status.json"
    with contextlib.ExitStack() as stack:
        _kiosk(wall, argparse.Namespace(status_json=path, no_control=True), stack)
        assert len(wall.tickers) == 1
        for _ in range(12):  # what the run loop does each frame, for about 1.2 s
            for tick in wall.tickers:
                tick(wall, time.monotonic())
            wall.frames += 1
            time.sleep(0.1)
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["frames"] >= 1 and doc["fps"] > 1.0
    assert doc["front"] == 0
    a, down, b = doc["sessions"]
    assert a["name"] == "a" and a["address"] == servers[0].address
    assert a["state"] == "live" and a["reason"] == "" and a["desktop_name"] == "alpha"
    assert a["framebuffer"] == [320, 200] and a["first_frame"] is True
    assert a["updates"] >= 1 and a["bytes_received"] > 1000  # compressed frames
    assert a["encoding"] and a["updates_per_s"] >= 0 and a["bytes_per_s"] >= 0
    assert a["latency_ms"] is None or a["latency_ms"] >= 0
    assert down["encoding"] == "" and down["bytes_per_s"] == 0 and down["latency_ms"] is None
    assert b["framebuffer"] == [400, 300] and b["desktop_name"] == "beta"
    assert down["name"] == "down" and down["state"] in ("retrying", "connecting")
    assert down["framebuffer"] is None and down["bytes_received"] == 0
    assert "refused" in down["reason"].lower()
    assert not [p for p in tmp_path.iterdir() if p.name != "status.json"]  # no temp left


def test_status_writer_rate_limits_counters_but_not_state_changes(
    demo_wall: tuple[Wall, list[DemoServer]], tmp_path: Path
) -> None:
    wall, servers = demo_wall
    clock = Clock()
    path = tmp_path / "t.json"
    writer = StatusWriter(path, interval=1.0, clock=clock)
    assert writer.update(wall.sessions, 0, 0)  # the first: at once
    clock.t += 0.3
    assert not writer.update(wall.sessions, 10, 0)  # only counters moved: wait
    servers[0].close()  # session "a" goes down: a state change, written at once
    wait(lambda: wall.sessions[0].status().state is not State.LIVE, "never noticed")
    clock.t += 0.1
    assert writer.update(wall.sessions, 13, 0)
    doc = json.loads(path.read_text())
    assert doc["sessions"][0]["state"] != "live" and doc["sessions"][0]["reason"]
    clock.t += 1.0
    assert writer.update(wall.sessions, 40, 0)  # a second on: counters refreshed anyway
    doc = json.loads(path.read_text())
    assert doc["frames"] == 40 and doc["fps"] == pytest.approx(40 / 1.4, abs=0.01)
    assert writer.writes == 3


@pytest.fixture(scope="module")
def gl_display() -> Iterator[XDisplay]:
    if not Path("/usr/bin/Xvfb").exists():
        pytest.skip("Xvfb not installed")
    with xvfb(width=1024, height=768) as display:
        yield display


def test_demo_keeps_status_json_while_running(gl_display: XDisplay, tmp_path: Path) -> None:
    env = gl_display.env()
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    path = tmp_path / "status.json"
    result = subprocess.run(
        [sys.executable, "-m", "vncwall", "demo", "--sides", "2", "--window", "--size",
         "320x200", "--duration", "4", "--status-json", str(path)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(path.read_text())
    assert [s["name"] for s in doc["sessions"]] == ["demo-1", "demo-2"]
    assert all(s["state"] == "live" and s["framebuffer"] == [1280, 800] for s in doc["sessions"])
    assert doc["fps"] > 1.0, doc
    assert os.stat(path).st_mode & 0o777 == 0o644
