"""VeNCrypt against a real TigerVNC Xvnc: every TLS/X509 subtype, certificates made here."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.servers import (
    VncServer,
    _display_answers,
    _wait_for,
    build_scene,
    free_tcp_port,
    missing_binaries,
    port_accepts,
    reserve_display,
)
from tests.test_real_servers import Result, assert_same_pixels, capture_static, run_capture
from vncwall.trust import format_fingerprint

PASSWORD = "s3cr3t!"
PAM_USER = "vncwallsec"
PAM_PASSWORD = "pam-Secret-42"
SUBTYPES = ("VncAuth", "TLSNone", "TLSVnc", "TLSPlain", "X509None", "X509Vnc", "X509Plain")


@dataclass
class Certs:
    ca: Path
    cert: Path
    key: Path
    other_ca: Path
    fingerprint: str  # SHA-256 hex of the server certificate (DER)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_certs(d: Path) -> Certs:
    """A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    now = dt.datetime.now(dt.UTC)

    def ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    ca_key, ca_cert = ca("vncwall test CA")
    _, other_cert = ca("some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                     False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    certs = Certs(d / "ca.pem", d / "server.pem", d / "server.key", d / "other-ca.pem",
                  hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest())
    certs.ca.write_bytes(ca_cert.public_bytes(pem))
    certs.other_ca.write_bytes(other_cert.public_bytes(pem))
    certs.cert.write_bytes(cert.public_bytes(pem))
    certs.key.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    certs.key.chmod(0o600)
    return certs


@contextlib.contextmanager
def pam_user() -> Iterator[str | None]:
    """A throwaway local user for Plain logins (root only); None with the reason printed."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        print("TLSPlain/X509Plain: not root or no useradd; cannot create a PAM user")
        yield None
        return
    created = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                              PAM_USER], capture_output=True, check=False).returncode == 0
    try:
        subprocess.run(["chpasswd"], input=f"{PAM_USER}:{PAM_PASSWORD}\n".encode(),
                       capture_output=True, check=True)
        yield PAM_USER
    finally:
        if created:
            subprocess.run(["userdel", PAM_USER], capture_output=True, check=False)


@dataclass
class Setup:
    server: VncServer
    certs: Certs
    plain_user: str | None


@pytest.fixture(scope="module")
def xvnc() -> Iterator[Setup]:
    """One Xvnc offering every VeNCrypt subtype and VncAuth, with our certificate."""
    missing = missing_binaries("tigervnc", scene=False)
    if missing:
        pytest.skip(f"tigervnc: not installed: {', '.join(missing)}")
    with (
        tempfile.TemporaryDirectory(prefix="vncwall-sec-") as tmp,
        reserve_display() as display,
        pam_user() as user,
    ):
        work = Path(tmp)
        certs = make_certs(work)
        passwd = work / "passwd"
        passwd.write_bytes(subprocess.run(["vncpasswd", "-f"], input=PASSWORD.encode() + b"\n",
                                          capture_output=True, check=True).stdout)
        passwd.chmod(0o600)
        port = free_tcp_port()
        server = VncServer(display, work, kind="tigervnc", port=port, password=PASSWORD)
        args = [
            "Xvnc", f":{display}", "-rfbport", str(port), "-localhost", "-nolisten", "tcp",
            "-geometry", "320x200", "-depth", "24", "-BlacklistThreshold", "1000000",
            "-AlwaysShared", "-SecurityTypes", ",".join(SUBTYPES), "-rfbauth", str(passwd),
            "-X509Cert", str(certs.cert), "-X509Key", str(certs.key),
            "-PAMService", "tigervnc", "-PlainUsers", user or "nobody-at-all",
        ]
        try:
            server.spawn(args, "xvnc")
            _wait_for(lambda: _display_answers(server), f"X display :{display}", server, 20)
            _wait_for(lambda: port_accepts(port), f"RFB on port {port}", server, 20)
            build_scene(server, rich=False)
            yield Setup(server, certs, user)
        finally:
            server.close()


def secret_args(setup: Setup, method: str, tmp_path: Path, wrong: bool = False) -> list[str]:
    args = ["--security", method.lower(), "--known-hosts", str(tmp_path / "known_hosts")]
    if method.startswith("X509"):
        args += ["--ca-file", str(setup.certs.ca)]
    if method.endswith("Plain"):
        if setup.plain_user is None:
            pytest.skip("no PAM user for Plain logins (needs root and useradd)")
        args += ["--username", setup.plain_user]
        secret = PAM_PASSWORD
    elif method.endswith("Vnc") or method == "VncAuth":
        secret = PASSWORD
    else:
        return args
    f = tmp_path / "pw"
    f.write_text(("wrong-pw" if wrong else secret) + "\n")
    f.chmod(0o600)
    return [*args, "--password-file", str(f)]


def last_line(result: Result) -> str:
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("method", SUBTYPES)
def test_right_secret(xvnc: Setup, method: str, tmp_path: Path) -> None:
    args = secret_args(xvnc, method, tmp_path)
    result, shot = capture_static(xvnc.server, tmp_path / "c.png", *args)
    assert result.returncode == 0, result.stderr
    result.one_line()
    assert result.image is not None
    assert_same_pixels(result.image, shot, tmp_path, f"tigervnc-{method}")


@pytest.mark.parametrize("method", [m for m in SUBTYPES if not m.endswith("None")])
def test_wrong_secret_exits_4(xvnc: Setup, method: str, tmp_path: Path) -> None:
    args = secret_args(xvnc, method, tmp_path, wrong=True)
    result = run_capture(xvnc.server.address, tmp_path / "c.png", *args)
    assert result.returncode == 4, result.stderr
    line = result.one_line()
    assert re.search(r"authentication failed", line, re.IGNORECASE), line
    assert "wrong-pw" not in line and PASSWORD not in line and PAM_PASSWORD not in line


@pytest.mark.parametrize("method", ["X509None", "X509Vnc"])
def test_unknown_certificate_refused(xvnc: Setup, method: str, tmp_path: Path) -> None:
    args = secret_args(xvnc, method, tmp_path)
    args[args.index("--ca-file") + 1] = str(xvnc.certs.other_ca)
    result = run_capture(xvnc.server.address, tmp_path / "c.png", *args)
    assert result.returncode == 4, result.stderr
    line = result.one_line()
    assert "unknown certificate" in line and format_fingerprint(xvnc.certs.fingerprint) in line


def test_pinned_and_first_use_certificate(xvnc: Setup, tmp_path: Path) -> None:
    base = ["--security", "x509none", "--ca-file", str(xvnc.certs.other_ca),
            "--known-hosts", str(tmp_path / "kh")]
    out = tmp_path / "c.png"
    ok = run_capture(xvnc.server.address, out, *base, "--pin", xvnc.certs.fingerprint)
    assert ok.returncode == 0, ok.stderr
    first = run_capture(xvnc.server.address, out, *base, "--trust-on-first-use")
    assert first.returncode == 0, first.stderr
    assert xvnc.certs.fingerprint in (tmp_path / "kh").read_text()
    again = run_capture(xvnc.server.address, out, *base)
    assert again.returncode == 0, again.stderr


def test_changed_certificate_refused(xvnc: Setup, tmp_path: Path) -> None:
    kh = tmp_path / "kh"
    old = "12" * 32
    kh.write_text(f"{xvnc.server.address} x509 {old}\n")
    args = ["--security", "x509none", "--ca-file", str(xvnc.certs.ca), "--known-hosts", str(kh),
            "--trust-on-first-use"]
    result = run_capture(xvnc.server.address, tmp_path / "c.png", *args)
    assert result.returncode == 4, result.stderr
    line = result.one_line()
    assert "certificate changed" in line
    assert format_fingerprint(old) in line and format_fingerprint(xvnc.certs.fingerprint) in line
    pinned = run_capture(xvnc.server.address, tmp_path / "c.png", "--security", "x509none",
                         "--pin", old)
    assert pinned.returncode == 4 and "does not match the pinned" in pinned.one_line()


def test_minimum_security_refuses_downgrade(xvnc: Setup, tmp_path: Path) -> None:
    args = secret_args(xvnc, "VncAuth", tmp_path)
    args[1] = "vncauth,none"
    result = run_capture(xvnc.server.address, tmp_path / "c.png", *args,
                         "--min-security", "tlsvnc")
    assert result.returncode == 5, result.stderr
    assert "no security type in common" in result.one_line()


def test_default_preference_picks_x509(xvnc: Setup, tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text(PASSWORD + "\n")
    result = run_capture(xvnc.server.address, tmp_path / "c.png", "--password-file", str(f),
                         "--ca-file", str(xvnc.certs.ca), "--known-hosts", str(tmp_path / "kh"))
    assert result.returncode == 0, result.stderr
