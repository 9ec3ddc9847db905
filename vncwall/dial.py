"""Open a session's connection: direct, through an ssh gateway, or to a libvirt guest."""

from __future__ import annotations

from .config import SessionConfig
from .libvirt import resolve
from .net.address import Address
from .net.client import RFBClient
from .net.transport import Connection
from .tunnel import Gateway, TunnelError, open_tunnel, parse_gateway


def open_connection(config: SessionConfig, client: RFBClient, timeout: float) -> Connection:
    """Connect `client` to the session's server; raises VncError with a one-line reason."""
    return dial(config.address, config.via, client, timeout)


def route(address: Address, via: str | None, timeout: float) -> tuple[Address, Gateway | None]:
    """The server to connect to now, and the ssh gateway to go through (None: direct)."""
    if address.domain is not None:
        if via is not None:
            raise TunnelError(
                f"via {via}: does not combine with a libvirt address; name the libvirt "
                "host in it instead: libvirt://[user@]host/system?domain=NAME"
            )
        return resolve(address, timeout)
    return address, (parse_gateway(via) if via is not None else None)


def dial(address: Address, via: str | None, client: RFBClient, timeout: float) -> Connection:
    """Connect `client` to `address`, through `via` ("[user@]gateway[:port]") if given."""
    target, gateway = route(address, via, timeout)
    if gateway is None:
        return Connection.open(target, client, timeout)
    sock, tunnel = open_tunnel(gateway, target, timeout)
    return Connection(sock, client, timeout, link=tunnel)
