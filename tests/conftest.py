"""Shared fixtures: real VNC servers showing a static scene, started once per session;
an Xvfb display for real GL; a test sshd."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from tests.servers import (
    SERVER_KINDS,
    ServerPool,
    VncServer,
    XDisplay,
    missing_binaries,
    missing_xvfb_binaries,
    xvfb,
)
from tests.sshd import NO_SSHD, SshGateway, ssh_gateway
from tests.wallkit import WallOpener, live_wall

# Hostile-server tests run on both decode paths (compiled accelerator and pure Python).
pytest_plugins = ["tests.accel_switch"]


@pytest.fixture(scope="session")
def server_pool() -> Iterator[ServerPool]:
    """Lazily started VNC servers, all stopped at the end of the session."""
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="module", params=SERVER_KINDS)
def vnc_server(request: pytest.FixtureRequest, server_pool: ServerPool) -> VncServer:
    """Each kind of VNC server in turn, showing the rich static scene, without a password."""
    return server_pool.get(request.param)


@pytest.fixture(scope="module")
def gl_display() -> Iterator[XDisplay]:
    """A 1280x1024 Xvfb display for real GL (Mesa), next to bare Xvnc servers."""
    missing = missing_binaries("tigervnc", scene=False) + missing_xvfb_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    with xvfb(width=1280, height=1024) as display:
        yield display


@pytest.fixture
def open_wall(gl_display: XDisplay, monkeypatch: pytest.MonkeyPatch) -> WallOpener:
    """`open_wall(servers, **wall)`: a live_wall (tests/wallkit.py) on the GL display."""
    return functools.partial(live_wall, gl_display, monkeypatch=monkeypatch)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshGateway]:
    """A test sshd on a free loopback port (see tests/sshd.py), one per module."""
    if NO_SSHD is not None:
        pytest.skip(NO_SSHD)
    with ssh_gateway(tmp_path_factory.mktemp("sshd")) as gw:
        yield gw
