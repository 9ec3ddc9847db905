"""display = N on a real two-monitor X server, and a fullscreen window following its monitor.

TigerVNC's Xvnc grows RandR outputs when a client asks for a multi-screen layout
(SetDesktopSize, rfbproto "ExtendedDesktopSize"); SDL sees them as monitors, and Mesa
renders on it. The wall runs in-process; a ticker records what SDL says each frame.
"""

from __future__ import annotations

import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from tests.servers import VncServer, missing_binaries, vnc_server
from vncwall.config import Config, SessionConfig, WallConfig
from vncwall.net.address import parse_address
from vncwall.render.window import sdl_window
from vncwall.wall import Wall

Screen = tuple[int, int, int, int]  # x, y, width, height
TWO = [(0, 0, 800, 600), (800, 0, 640, 480)]


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the server hung up"
        data += chunk
    return data


def set_monitors(server: VncServer, screens: list[Screen]) -> None:
    """Ask Xvnc for this monitor layout over RFB, then wait until xrandr shows it."""
    width = max(x + w for x, _, w, _ in screens)
    height = max(y + h for _, y, _, h in screens)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        _recv(sock, 12)
        sock.sendall(b"RFB 003.008\n")
        types = _recv(sock, _recv(sock, 1)[0])
        assert 1 in types, types  # security None
        sock.sendall(b"\x01")
        assert _recv(sock, 4) == b"\0\0\0\0"
        sock.sendall(b"\x01")  # shared
        _recv(sock, 20)
        _recv(sock, struct.unpack(">I", _recv(sock, 4))[0])
        sock.sendall(struct.pack(">BxHi", 2, 1, -308))  # SetEncodings: ExtendedDesktopSize
        sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, 16, 16))
        msg = struct.pack(">BxHHBx", 251, width, height, len(screens))
        for i, (x, y, w, h) in enumerate(screens):
            msg += struct.pack(">IHHHHI", i, x, y, w, h, 0)
        sock.sendall(msg)
        want = [f"{w}x{h}+{x}+{y}" for x, y, w, h in screens]
        deadline = time.monotonic() + 10
        while True:
            out = server.x("xrandr").stdout.decode()
            got = re.findall(r" connected (?:primary )?(\d+x\d+\+\d+\+\d+)", out)
            if got == want:
                return
            assert time.monotonic() < deadline, out
            time.sleep(0.1)


@pytest.fixture(scope="module")
def monitors() -> Iterator[VncServer]:
    if missing_binaries("tigervnc", scene=False):
        pytest.skip("Xvnc not installed")
    with vnc_server("tigervnc", scene=False) as server:
        if server.x("xrandr").returncode != 0:
            pytest.skip("xrandr not installed")
        yield server


Seen = list[tuple[int, tuple[int, int]]]


def run_wall(server: VncServer, monkeypatch: pytest.MonkeyPatch, seconds: float,
             on_frame: object = None, **wall: object) -> tuple[Wall, Seen]:
    """Run a wall on the server's display; (SDL's display index, viewport) per frame."""
    monkeypatch.setenv("DISPLAY", server.display_name)
    monkeypatch.delenv("XAUTHORITY", raising=False)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    cfg = Config(WallConfig(**({"size": (320, 200)} | wall)),  # type: ignore[arg-type]
                 (SessionConfig(name="nobody", address=parse_address("127.0.0.1::1")),))
    w = Wall(cfg)
    seen: Seen = []

    def record(wall: Wall, now: float) -> None:
        seen.append((sdl_window().display_index, wall.viewport))
        if callable(on_frame):
            on_frame(len(seen))

    w.tickers.append(record)
    w.run(duration=seconds)
    return w, seen


@pytest.mark.parametrize(("display", "size"), [(1, (640, 480)), (0, (800, 600))])
def test_fullscreen_on_the_chosen_monitor(monitors: VncServer, monkeypatch: pytest.MonkeyPatch,
                                          display: int, size: tuple[int, int]) -> None:
    set_monitors(monitors, TWO)
    wall, seen = run_wall(monitors, monkeypatch, 1.0, display=display, fullscreen=True)
    assert len(seen) > 5 and wall.frames >= len(seen)
    assert all(s == (display, size) for s in seen), seen[:3]


def test_window_opens_on_the_chosen_monitor(monitors: VncServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    set_monitors(monitors, TWO)
    _, seen = run_wall(monitors, monkeypatch, 0.5, display=1, fullscreen=False)
    assert seen and all(s == (1, (320, 200)) for s in seen), seen[:3]


def test_missing_monitor_warns_once_and_uses_the_first(
    monitors: VncServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    set_monitors(monitors, TWO)
    with caplog.at_level(logging.WARNING, logger="vncwall.window"):
        _, seen = run_wall(monitors, monkeypatch, 0.5, display=5, fullscreen=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "vncwall.window"]
    assert lines == ["display 5 does not exist (2 monitors); using display 0"]
    assert seen and all(s == (0, (800, 600)) for s in seen), seen[:3]


def test_fullscreen_window_follows_its_monitor_changing(
    monitors: VncServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_monitors(monitors, TWO)
    smaller = [(0, 0, 800, 600), (800, 0, 560, 420)]
    changer: list[threading.Thread] = []

    def change(frame: int) -> None:
        if frame == 10:  # while the wall runs, monitor 1 changes its mode
            changer.append(threading.Thread(target=set_monitors, args=(monitors, smaller)))
            changer[0].start()

    wall, seen = run_wall(monitors, monkeypatch, 4.0, change, display=1, fullscreen=True)
    changer[0].join()
    assert seen[0] == (1, (640, 480))
    assert seen[-1] == (1, (560, 420)), seen[-5:]
    assert wall.viewport == (560, 420)


def test_fullscreen_window_survives_its_monitor_going_away(
    monitors: VncServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_monitors(monitors, TWO)
    changer: list[threading.Thread] = []

    def unplug(frame: int) -> None:
        if frame == 10:  # monitor 1 goes away while the wall runs on it
            changer.append(threading.Thread(target=set_monitors,
                                            args=(monitors, [(0, 0, 800, 600)])))
            changer[0].start()

    wall, seen = run_wall(monitors, monkeypatch, 4.0, unplug, display=1, fullscreen=True)
    changer[0].join()
    assert seen[0] == (1, (640, 480))
    assert seen[-1] == (0, (800, 600)), seen[-5:]
    assert wall.frames >= len(seen)
