"""Address forms: display numbers, ports, IPv6 brackets, RFC 7869 URIs, Unix sockets."""

from __future__ import annotations

import pytest

from vncwall.net.address import Address, AddressError, parse_address


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("example.org", "example.org", 5900),
        ("example.org:1", "example.org", 5901),
        ("example.org:99", "example.org", 5999),
        ("example.org:5901", "example.org", 5901),
        ("example.org::5", "example.org", 5),
        ("10.0.0.1::443", "10.0.0.1", 443),
        (":2", "localhost", 5902),
        ("::6000", "localhost", 6000),
        ("[::1]", "::1", 5900),
        ("[::1]:3", "::1", 5903),
        ("[fe80::1%eth0]::5000", "fe80::1%eth0", 5000),
        ("vnc://example.org", "example.org", 5900),
        ("vnc://example.org:5", "example.org", 5),
        ("VNC://[::1]:5902", "::1", 5902),
    ],
)
def test_tcp_forms(text: str, host: str, port: int) -> None:
    a = parse_address(text)
    assert (a.host, a.port, a.unix_path) == (host, port, None)


def test_uri_user_and_params() -> None:
    a = parse_address("vnc://alice@host:5901?ConnectionName=build&VncPassword=x")
    assert a.username == "alice"
    assert a.param("connectionname") == "build"


def test_unix() -> None:
    assert parse_address("unix:/run/vnc.sock") == Address(unix_path="/run/vnc.sock")


@pytest.mark.parametrize(
    "text", ["", "unix:", "host:x", "fe80::1:2", "[::1", "[::1]x", "host::70000", "vnc://h:0"]
)
def test_bad(text: str) -> None:
    with pytest.raises(AddressError):
        parse_address(text)


def test_str_round_trip() -> None:
    for text in ("host:3", "[::1]::5000", "unix:/x"):
        a = parse_address(text)
        assert parse_address(str(a)) == a


@pytest.mark.parametrize(
    ("text", "uri", "domain", "host", "port", "user"),
    [
        ("libvirt:///system?domain=web", "qemu:///system", "web", "", 0, None),
        ("libvirt:///session?domain=a%20b", "qemu:///session", "a b", "", 0, None),
        ("libvirt:web", "qemu:///system", "web", "", 0, None),
        ("LIBVIRT:///system?domain=6f1c0d3e-1b2a-4c5d-8e9f-0a1b2c3d4e5f", "qemu:///system",
         "6f1c0d3e-1b2a-4c5d-8e9f-0a1b2c3d4e5f", "", 0, None),
        ("libvirt://kvm1/system?domain=db", "qemu+ssh://kvm1/system?no_tty=1", "db",
         "kvm1", 0, None),
        ("libvirt://ops@kvm1:2222/system?domain=db",
         "qemu+ssh://ops@kvm1:2222/system?no_tty=1", "db", "kvm1", 2222, "ops"),
        ("libvirt://[fd00::2]/session?domain=x", "qemu+ssh://[fd00::2]/session?no_tty=1", "x",
         "fd00::2", 0, None),
    ],
)
def test_libvirt_forms(
    text: str, uri: str, domain: str, host: str, port: int, user: str | None
) -> None:
    a = parse_address(text)
    assert (a.libvirt_uri, a.domain, a.host, a.port, a.username) == (uri, domain, host, port, user)
    assert a.unix_path is None
    assert parse_address(str(a)) == a


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("libvirt:", "bad libvirt domain name"),
        ("libvirt:///system", "without \\?domain=NAME"),
        ("libvirt:///system?domain=", "bad libvirt domain name"),
        ("libvirt:///system?domain=a/b", "bad libvirt domain name"),
        ("libvirt:///qemu?domain=x", "/system or /session"),
        ("libvirt://h?domain=x", "/system or /session"),
        ("libvirt:///system?domain=x&uri=y", "unknown libvirt address parameter 'uri'"),
        ("libvirt://u@/system?domain=x", "user or port without a host"),
        ("libvirt://-oProxyCommand=x/system?domain=x", "bad libvirt host"),
        ("libvirt:/system?domain=x", "write libvirt:///system"),
        ("libvirt://h:99999/system?domain=x", "bad port"),
    ],
)
def test_bad_libvirt(text: str, why: str) -> None:
    with pytest.raises(AddressError, match=why):
        parse_address(text)


def test_trust_keys_are_stable_names() -> None:
    # The known-hosts key: a plain address as before; behind a gateway, the gateway
    # (without the user) and the address as it sees it; a libvirt guest by its name,
    # since its port changes when it restarts.
    assert parse_address("[::1]:1").trust_key() == "[::1]::5901"
    assert parse_address("unix:/run/v.sock").trust_key() == "unix:/run/v.sock"
    assert parse_address("localhost:1").trust_key("ops@gw:2222") == "gw:2222/localhost::5901"
    assert parse_address("localhost:1").trust_key("gw") == "gw/localhost::5901"
    guest = parse_address("libvirt://ops@kvm1/system?domain=db%201")
    assert guest.trust_key() == "libvirt://kvm1/system?domain=db%201"
    assert guest.trust_key("other") == guest.trust_key()
    assert " " not in guest.trust_key()  # one field of a known-hosts line
