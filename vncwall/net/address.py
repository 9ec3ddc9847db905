"""Parse VNC server addresses: host[:display], host::port, [v6], vnc:// (RFC 7869), unix:."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

BASE_PORT = 5900


class AddressError(ValueError):
    """The address text cannot be understood."""


@dataclass(frozen=True)
class Address:
    """Where a server listens: a TCP host and port, or a Unix socket path."""

    host: str = ""
    port: int = BASE_PORT
    unix_path: str | None = None
    username: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        if self.unix_path is not None:
            return f"unix:{self.unix_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}::{self.port}"

    def param(self, name: str) -> str | None:
        """An RFC 7869 query parameter, matched case-insensitively."""
        for key, value in self.params:
            if key.lower() == name.lower():
                return value
        return None


_TAIL = re.compile(r"(?P<sep>::?)(?P<num>\d+)")


def _port(sep: str, num: str, text: str) -> int:
    n = int(num)
    # host:N is a display number (5900+N); like other viewers, N >= 100 is taken as a port.
    port = n if sep == "::" or n >= 100 else BASE_PORT + n
    if not 0 < port < 65536:
        raise AddressError(f"port {port} out of range in {text!r}")
    return port


def parse_address(text: str) -> Address:
    """Parse one address; raises AddressError with a one-line reason."""
    s = text.strip()
    if not s:
        raise AddressError("empty address")
    if s.startswith("unix:"):
        path = s[5:]
        if not path:
            raise AddressError("unix: address without a socket path")
        return Address(unix_path=path)
    if s.lower().startswith("vnc://"):
        return _parse_uri(s)
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise AddressError(f"unclosed '[' in {text!r}")
        host, rest = s[1:end], s[end + 1 :]
        if not host:
            raise AddressError(f"empty IPv6 address in {text!r}")
        if not rest:
            return Address(host, BASE_PORT)
        m = _TAIL.fullmatch(rest)
        if m is None:
            raise AddressError(f"cannot read display or port {rest!r} in {text!r}")
        return Address(host, _port(m["sep"], m["num"], text))
    if "::" in s:
        host, _, num = s.rpartition("::")
        sep = "::"
    elif ":" in s:
        host, _, num = s.rpartition(":")
        sep = ":"
        if ":" in host:
            raise AddressError(f"IPv6 addresses need brackets: [{host}]:{num} in {text!r}")
    else:
        return Address(s, BASE_PORT)
    if not num.isdigit():
        raise AddressError(f"cannot read display or port {num!r} in {text!r}")
    return Address(host or "localhost", _port(sep, num, text))


def _parse_uri(s: str) -> Address:
    parts = urlsplit(s)
    try:
        port = parts.port
    except ValueError as exc:
        raise AddressError(f"bad port in {s!r}: {exc}") from None
    host = parts.hostname or "localhost"
    params = tuple(
        (k, v[-1]) for k, v in parse_qs(parts.query, keep_blank_values=True).items()
    )
    user = unquote(parts.username) if parts.username else None
    if port == 0:
        raise AddressError(f"port 0 in {s!r}")
    return Address(host, port if port is not None else BASE_PORT, None, user, params)
