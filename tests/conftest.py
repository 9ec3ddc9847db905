"""Shared fixtures: real VNC servers showing a static scene, started once per session."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.servers import SERVER_KINDS, VncServer, missing_binaries, vnc_server


class ServerPool:
    """Starts each (kind, password, scene) server on first use and keeps it for the session."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._servers: dict[tuple[str, str | None, bool], VncServer] = {}

    def get(self, kind: str, password: str | None = None, scene: bool = True) -> VncServer:
        """The running server; skips the test if a binary it needs is not installed."""
        missing = missing_binaries(kind, scene=scene)
        if missing:
            pytest.skip(f"{kind}: not installed: {', '.join(missing)}")
        key = (kind, password, scene)
        if key not in self._servers:
            self._servers[key] = self._stack.enter_context(vnc_server(kind, password, scene))
        return self._servers[key]

    def close(self) -> None:
        self._servers.clear()
        self._stack.close()


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
