"""The one module that owns sockets: connect to an Address and pump bytes to a client."""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import time
from typing import Protocol

from . import events as ev
from .address import Address
from .client import RFBClient
from .errors import ConnectError
from .framebuffer import Rect

RECV_SIZE = 256 * 1024


def open_socket(address: Address, timeout: float) -> socket.socket:
    """Connect to a server, trying every resolved address; raises ConnectError."""
    if address.unix_path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address.unix_path)
        except OSError as exc:
            sock.close()
            raise ConnectError(f"cannot connect to {address}: {_reason(exc)}") from None
        return sock
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {address.host!r}: {exc.strerror}") from None
    deadline = time.monotonic() + timeout
    reasons: list[str] = []
    for family, kind, proto, _, sockaddr in infos:
        left = deadline - time.monotonic()
        if left <= 0:
            reasons.append("timed out")
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(left)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            reasons.append(_reason(exc))
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    why = "; ".join(dict.fromkeys(reasons)) or "no address"
    raise ConnectError(f"cannot connect to {address}: {why}")


class Link(Protocol):
    """What carries a connection's bytes besides the socket (an ssh process, say)."""

    def why_closed(self) -> str | None:
        """Why the bytes stopped, when the link knows better than the socket; else None."""

    def close(self) -> None:
        """Stop and release it; called once, when the connection closes."""


def _reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if exc.errno is not None:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


class Connection:
    """A connected socket driving an RFBClient; blocking I/O with timeouts.

    `wake()` may be called from another thread to interrupt a `pump` in progress,
    for instance when input is queued for this session.
    """

    def __init__(
        self, sock: socket.socket, client: RFBClient, read_timeout: float,
        link: Link | None = None,
    ) -> None:
        self.sock = sock
        self.client = client
        self.read_timeout = read_timeout
        self.link = link
        self.bytes_in = 0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        sock.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(sock, selectors.EVENT_READ, "sock")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._last_data = time.monotonic()
        self._opened = self._last_data
        self._probe_at: float | None = None  # when we asked a silent server to answer
        client.handshake_deadline = self._opened + read_timeout  # checked while parsing too

    @classmethod
    def open(
        cls, address: Address, client: RFBClient, timeout: float = 10.0
    ) -> Connection:
        return cls(open_socket(address, timeout), client, timeout)

    @classmethod
    def accepted(cls, sock: socket.socket, client: RFBClient, timeout: float = 10.0) -> Connection:
        """Drive `client` over a socket a server opened to us (a reverse connection)."""
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, client, timeout)

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def flush(self) -> None:
        """Send everything the client has queued."""
        data = self.client.data_to_send()
        view = memoryview(data)
        deadline = time.monotonic() + self.read_timeout
        while view:
            try:
                n = self.sock.send(view)
                view = view[n:]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConnectError("timed out sending to the server") from None
                self._wait_writable(left)
            except OSError as exc:
                raise self._lost(f"connection lost while sending: {_reason(exc)}") from None

    def _wait_writable(self, timeout: float) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_WRITE)
            sel.select(timeout)

    def pump(self, timeout: float) -> list[ev.Event]:
        """Flush, wait up to `timeout` for data (or a wake), feed it, return new events.

        Raises ConnectError when the server closes or stays silent longer than the
        read timeout while the parser is waiting for it.
        """
        self.flush()
        for key, _ in self._sel.select(timeout):
            if key.data == "wake":
                with contextlib.suppress(OSError):
                    self._wake_r.recv(4096)
                continue
            try:
                data = self.sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    continue
                raise self._lost(
                    f"connection lost while {self.client.state}: {_reason(exc)}"
                ) from None
            if not data:
                why = self.link.why_closed() if self.link is not None else None
                raise self.client.closed_error(
                    why or f"server closed the connection while {self.client.state}")
            self._last_data = time.monotonic()
            self._probe_at = None
            self.bytes_in += len(data)
            self.client.receive_data(data)
        self._check_liveness(time.monotonic())
        self.flush()
        out: list[ev.Event] = []
        while (event := self.client.next_event()) is not None:
            out.append(event)
        return out

    def _lost(self, reason: str) -> ConnectError:
        """The error for bytes that stopped: the link's reason when it has one."""
        why = self.link.why_closed() if self.link is not None else None
        return ConnectError(why or reason)

    def _check_liveness(self, now: float) -> None:
        """Raise ConnectError for a server that trickles, stalls, or has silently gone.

        - The handshake must finish within the read timeout, however the bytes trickle.
        - Mid-message, the server must not fall silent for longer than the read timeout.
        - Between messages silence is normal (nothing changed), so after a read timeout's
          worth of it we ask for a 1x1 non-incremental update, which any server answers;
          no answer within another read timeout means the server is gone (half-open).
        """
        t = self.read_timeout
        silent = now - self._last_data
        if not self.client.idle:
            if silent > t:
                raise ConnectError(
                    f"server stopped sending while {self.client.state} ({t:g} s without data)"
                )
            if not self.client.connected and now - self._opened > t:
                raise ConnectError(
                    f"handshake not finished within {t:g} s (while {self.client.state})"
                )
            return
        if self._probe_at is None:
            fb = self.client.framebuffer
            if silent > t and fb is not None:
                self._probe_at = now
                probe = Rect(0, 0, min(1, fb.width), min(1, fb.height))
                self.client.request_update(incremental=False, rect=probe)
                self.flush()
        elif now - self._probe_at > t:
            raise ConnectError(f"server not responding ({silent:.0f} s without data)")

    def close(self) -> None:
        self._sel.close()
        for s in (self.sock, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                s.close()
        link, self.link = self.link, None
        if link is not None:
            link.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
