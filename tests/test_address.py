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
