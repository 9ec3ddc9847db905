"""Reverse connections: accept servers that connect in (x11vnc -connect) as new wall sessions."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import deque

from .config import ListenConfig, SessionConfig
from .net.address import Address
from .net.client import RFBClient
from .net.errors import ConnectError
from .net.transport import Connection
from .session import Session

log = logging.getLogger("vncwall.listen")

DEFAULT_LISTEN_PORT = 5500  # the port viewers listen on for reverse connections


class ListenError(ValueError):
    """A --listen value or socket that cannot be used."""


def parse_listen(text: str) -> tuple[str, int]:
    """`PORT`, `HOST:PORT`, `[V6]:PORT`, `HOST` or `[V6]` -> (host, port); '' = every interface."""
    s = text.strip()
    host, port_text = "", ""
    if s.startswith("["):
        end = s.find("]")
        if end < 0 or (s[end + 1:] and not s[end + 1:].startswith(":")):
            raise ListenError(f"cannot read {text!r}: expected [IPV6]:PORT")
        host, port_text = s[1:end], s[end + 2:]
    elif s.isdigit():
        port_text = s
    elif s.count(":") == 1:
        host, port_text = s.split(":")
    elif ":" in s:
        raise ListenError(f"cannot read {text!r}: write IPv6 addresses as [ADDRESS]:PORT")
    else:
        host = s
    if not port_text:
        return host, DEFAULT_LISTEN_PORT
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ListenError(f"{port_text!r} is not a port number 0-65535")
    return host, int(port_text)


class ReverseSession(Session):
    """A session on a socket a server opened to us; it does not reconnect when that ends.

    Its face is named by the desktop name once the server has sent it.
    """

    def __init__(self, sock: socket.socket, peer: tuple[str, int], config: ListenConfig,
                 timeout: float = 10.0) -> None:
        host, port = peer[0], int(peer[1])
        super().__init__(SessionConfig(name=f"{host}:{port}", address=Address(host, port),
                                       view_only=config.view_only), timeout=timeout)
        self.reconnect = False
        self._sock: socket.socket | None = sock

    @property
    def name(self) -> str:
        return self.status().desktop_name or self.config.name

    def _open(self, client: RFBClient) -> Connection:
        sock, self._sock = self._sock, None
        if sock is None:
            raise ConnectError("the server's connection has ended")
        return Connection.accepted(sock, client, self.timeout)

    def stop(self, join: float = 2.0) -> None:
        super().stop(join)
        sock, self._sock = self._sock, None  # never started: do not leak the socket
        if sock is not None:
            sock.close()


class Listener:
    """Accepts reverse connections on (host, port) in a thread; the wall `take`s them."""

    def __init__(self, host: str, port: int, config: ListenConfig | None = None,
                 timeout: float = 10.0) -> None:
        self.config = config or ListenConfig()
        self.timeout = timeout
        self.refused = 0
        self.accepted = 0
        self._pending: deque[ReverseSession] = deque()
        self._stop = threading.Event()
        try:
            if host == "" and socket.has_dualstack_ipv6():
                sock = socket.create_server(("", port), family=socket.AF_INET6,
                                            dualstack_ipv6=True)
            else:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = socket.create_server((host, port), family=family)
        except OSError as exc:
            where = f"[{host}]:{port}" if ":" in host else f"{host or '*'}:{port}"
            raise ListenError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        sock.settimeout(0.2)
        self._sock = sock
        self.host = host
        self.port = int(sock.getsockname()[1])
        self._thread = threading.Thread(target=self._accept_loop,
                                        name=f"vncwall-listen:{self.port}", daemon=True)
        self._thread.start()

    def take(self) -> list[ReverseSession]:
        """Sessions accepted since the last call (not yet started)."""
        out = []
        while self._pending:
            out.append(self._pending.popleft())
        return out

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    return
                log.warning("listener: accept failed: %s", exc)
                self._stop.wait(0.5)
                continue
            host = str(peer[0])
            if host.startswith("::ffff:") and "." in host:  # IPv4 on a dual-stack socket
                host = host[7:]
            if not self.config.allows(host):
                self.refused += 1
                log.warning("refused a reverse connection from %s (not in [listen] allow)", host)
                with contextlib.suppress(OSError):
                    conn.close()
                continue
            conn.settimeout(None)
            log.info("reverse connection from %s:%s", host, peer[1])
            self._pending.append(ReverseSession(conn, (host, int(peer[1])), self.config,
                                                self.timeout))
            self.accepted += 1  # after the append: whoever sees the count finds the session

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        with contextlib.suppress(OSError):
            self._sock.close()
        for session in self.take():
            session.stop()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
