"""SASL mechanisms against the RFCs' own worked examples (RFC 7677 SCRAM-SHA-256, RFC 2831)."""

from __future__ import annotations

import pytest

from vncwall.net import sasl
from vncwall.net.errors import AuthError

SERVER_FIRST = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")


def test_scram_sha256_rfc7677() -> None:
    m = sasl.Scram("sha256", "user", "pencil", nonce=lambda: "rOprNGfwEbeRWgbNEkqO")
    assert m.start() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert m.step(SERVER_FIRST) == (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert not m.done
    m.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    assert m.done


def test_scram_wrong_server_signature_is_refused() -> None:
    m = sasl.Scram("sha256", "user", "pencil", nonce=lambda: "rOprNGfwEbeRWgbNEkqO")
    m.step(SERVER_FIRST)
    with pytest.raises(AuthError, match="signature is wrong"):
        m.step(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def test_digest_md5_rfc2831() -> None:
    d = sasl.DigestMD5("chris", "secret", "elwood.innosoft.com", service="imap",
                       want_layer=False, nonce=lambda: "OA6MHXh6VqTrRk")
    reply = d.step(b'realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",'
                   b"algorithm=md5-sess,charset=utf-8")
    assert reply is not None and b"response=d388dad90d4bbd760a152321f2143af7" in reply
    with pytest.raises(AuthError, match="rspauth is wrong"):
        d.step(b"rspauth=00000000000000000000000000000000")
    d.step(b"rspauth=ea40f60335c427b5527b84dbabcdfffd")
    assert d.done
    assert d.layer() is None
