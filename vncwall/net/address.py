"""Parse VNC server addresses: host[:display], host::port, [v6], vnc://, unix:, libvirt:."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

BASE_PORT = 5900


class AddressError(ValueError):
    """The address text cannot be understood."""


@dataclass(frozen=True)
class Address:
    """Where a server listens: a TCP host and port, a Unix socket path, or a libvirt guest.

    A libvirt guest (`domain` set) is found at connect time with `virsh -c libvirt_uri
    domdisplay`; `host`, `port` and `username` then name the remote libvirt host (port 0:
    ssh's default), or are empty for the local one.
    """

    host: str = ""
    port: int = BASE_PORT
    unix_path: str | None = None
    username: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    libvirt_uri: str | None = None  # e.g. "qemu:///system", "qemu+ssh://host/system"
    domain: str | None = None  # the libvirt guest's name or UUID

    def __str__(self) -> str:
        if self.domain is not None:
            return self.libvirt_text()
        if self.unix_path is not None:
            return f"unix:{self.unix_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}::{self.port}"

    def libvirt_text(self, with_user: bool = True) -> str:
        """The libvirt: address this was parsed from, in canonical form."""
        assert self.domain is not None and self.libvirt_uri is not None
        where = ""
        if self.host:
            user = f"{quote(self.username, safe='')}@" if self.username and with_user else ""
            host = f"[{self.host}]" if ":" in self.host else self.host
            where = f"{user}{host}" + (f":{self.port}" if self.port else "")
        path = urlsplit(self.libvirt_uri).path
        return f"libvirt://{where}{path}?domain={quote(self.domain, safe='')}"

    def trust_key(self, via: str | None = None) -> str:
        """A stable name for this server in the known-hosts file.

        A libvirt guest is named by its libvirt address (its port changes as it restarts);
        a server behind an ssh gateway by the gateway (without the user) and the address
        as the gateway sees it, so two gateways' "localhost:1" stay apart.
        """
        if self.domain is not None:
            return self.libvirt_text(with_user=False)
        if via is not None:
            return f"{via.rpartition('@')[2]}/{self}"
        return str(self)

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
    if s.lower().startswith("libvirt:"):
        return _parse_libvirt(s)
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


LIBVIRT_PATHS = ("/system", "/session")


def _parse_libvirt(s: str) -> Address:
    """libvirt:NAME, libvirt:///system?domain=NAME, libvirt://[user@]host[:port]/system?...

    The local forms ask the local libvirtd (qemu:///system or qemu:///session); the remote
    form asks qemu+ssh://[user@]host[:port]/PATH and reaches the display through that host.
    """
    rest = s[len("libvirt:") :]
    if not rest.startswith("//"):
        if rest.startswith(("/", "?")):
            raise AddressError(f"cannot read {s!r}: write libvirt:///system?domain=NAME")
        return Address(host="", port=0, libvirt_uri="qemu:///system",
                       domain=_domain(unquote(rest), s))
    parts = urlsplit(s)
    if parts.path not in LIBVIRT_PATHS:
        raise AddressError(
            f"libvirt address needs /system or /session after the host in {s!r} "
            "(e.g. libvirt:///system?domain=NAME)"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"domain"})
    if unknown:
        raise AddressError(f"unknown libvirt address parameter {unknown[0]!r} in {s!r}")
    if "domain" not in query:
        raise AddressError(f"libvirt address without ?domain=NAME in {s!r}")
    domain = _domain(query["domain"][-1], s)
    try:
        port = parts.port or 0
    except ValueError as exc:
        raise AddressError(f"bad port in {s!r}: {exc}") from None
    host = parts.hostname or ""
    if not host:
        if parts.username or port:
            raise AddressError(f"user or port without a host in {s!r}")
        return Address(host="", port=0, libvirt_uri=f"qemu://{parts.path}", domain=domain)
    user = unquote(parts.username) if parts.username else None
    if host.startswith("-") or (user is not None and (not user or user.startswith("-"))):
        raise AddressError(f"bad libvirt host or user in {s!r}")
    netloc = f"[{host}]" if ":" in host else host
    if user:
        netloc = f"{quote(user, safe='')}@{netloc}"
    if port:
        netloc += f":{port}"
    # no_tty: libvirt's ssh must fail rather than ask for a password on the wall's terminal.
    uri = f"qemu+ssh://{netloc}{parts.path}?no_tty=1"
    return Address(host=host, port=port, username=user, libvirt_uri=uri, domain=domain)


def _domain(name: str, text: str) -> str:
    if not name or "/" in name or any(not ch.isprintable() for ch in name):
        raise AddressError(f"bad libvirt domain name {name!r} in {text!r}")
    return name
