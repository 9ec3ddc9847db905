"""Open the connection a configured session talks over (direct today; tunnels plug in here)."""

from __future__ import annotations

from .config import SessionConfig
from .net.client import RFBClient
from .net.transport import Connection


def open_connection(config: SessionConfig, client: RFBClient, timeout: float) -> Connection:
    """Connect `client` to the session's server; raises VncError with a one-line reason."""
    return Connection.open(config.address, client, timeout)
