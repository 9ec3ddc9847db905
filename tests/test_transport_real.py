"""Real connections over IPv6 loopback and a Unix socket, end to end through capture."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.servers import reserve_display
from vncwall.capture import capture
from vncwall.demo.server import DemoServer
from vncwall.net.address import parse_address
from vncwall.net.client import ClientOptions
from vncwall.net.errors import ConnectError


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback_capture() -> None:
    with DemoServer(0, width=320, height=200, host="::1") as server:
        server.pause()
        for text in (f"[::1]::{server.port}", f"vnc://[::1]:{server.port}"):
            shot = capture(parse_address(text), ClientOptions(), timeout=10)
            np.testing.assert_array_equal(shot.pixels[..., :3], server.snapshot())


def test_every_resolved_address_is_tried() -> None:
    # "localhost" resolves to ::1 and/or 127.0.0.1; a server on IPv4 only must still be reached.
    with DemoServer(1, width=160, height=100, host="127.0.0.1") as server:
        server.pause()
        shot = capture(parse_address(f"localhost::{server.port}"), ClientOptions(), timeout=10)
        np.testing.assert_array_equal(shot.pixels[..., :3], server.snapshot())


def test_unreachable_and_refused_are_connect_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ConnectError, match="refused"):
            capture(parse_address(f"127.0.0.1::{port}"), ClientOptions(), timeout=5)
    with pytest.raises(ConnectError, match="cannot resolve"):
        capture(parse_address("no-such-host.invalid"), ClientOptions(), timeout=5)


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(ConnectError, match=r"timed out|stopped sending"):
            capture(parse_address(f"127.0.0.1::{port}"), ClientOptions(), timeout=1.5)
        assert time.monotonic() - start < 5


@pytest.mark.skipif(shutil.which("Xvnc") is None, reason="Xvnc not installed")
def test_unix_socket_capture(tmp_path: Path) -> None:
    path = tmp_path / "vnc.sock"
    with reserve_display() as display:
        proc = subprocess.Popen(
            ["Xvnc", f":{display}", "-rfbport", "-1", "-rfbunixpath", str(path),
             "-geometry", "320x200", "-depth", "24", "-SecurityTypes", "None"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 15
            while not path.exists():
                assert time.monotonic() < deadline and proc.poll() is None, "Xvnc did not start"
                time.sleep(0.1)
            env = dict(os.environ, DISPLAY=f":{display}")
            subprocess.run(["xsetroot", "-solid", "#336699"], env=env, check=True, timeout=10)
            out = tmp_path / "u.png"
            result = subprocess.run(
                [sys.executable, "-m", "vncwall", "capture", f"unix:{path}", str(out)],
                capture_output=True, text=True, timeout=30, check=False,
            )
            assert result.returncode == 0, result.stderr
            os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
            import pygame

            img = pygame.surfarray.array3d(pygame.image.load(str(out))).transpose(1, 0, 2)
            assert img.shape == (200, 320, 3)
            assert (img == np.array([0x33, 0x66, 0x99])).all()
        finally:
            proc.terminate()
            proc.wait(10)


class _ExitedCarrier:
    """A Link whose carrier has failed with a known reason (what an ssh Tunnel reports)."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason
        self.closed = 0

    def why_closed(self) -> str | None:
        return self.reason

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("reason", ["via gw: ssh killed by signal 9", None])
def test_link_reason_replaces_a_bare_eof(reason: str | None) -> None:
    from vncwall.net.client import RFBClient
    from vncwall.net.transport import Connection

    ours, theirs = socket.socketpair()
    link = _ExitedCarrier(reason)
    conn = Connection(ours, RFBClient(ClientOptions()), 5.0, link=link)
    theirs.close()
    with pytest.raises(ConnectError) as info:
        conn.pump(2.0)
    assert str(info.value) == (reason or f"server closed the connection while {conn.client.state}")
    conn.close()
    conn.close()
    assert link.closed == 1
