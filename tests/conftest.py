"""Shared fixtures: real VNC servers showing a static scene, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import SERVER_KINDS, ServerPool, VncServer


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
