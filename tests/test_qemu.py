"""Real QEMU (TCG) VNC servers, every security setup, checked pixel-exact against screendump."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.qemu_guest import QemuVnc, qemu_vnc
from tests.test_real_servers import Result, assert_same_pixels, run_capture
from vncwall.capture import capture
from vncwall.net.address import parse_address
from vncwall.net.client import ClientOptions
from vncwall.net.security import Credentials, parse_methods
from vncwall.trust import TrustStore, format_fingerprint

PASSWORD = "qemu-pw1"  # VNC passwords are at most 8 characters
SASL_USER = "alice"
SASL_PASSWORD = "wonder-Land-7"
WRONG = "wrong-pw"
MISSING = [name for name in ("qemu-system-x86_64", "saslpasswd2") if shutil.which(name) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)} "
                                "(qemu-system-x86, sasl2-bin)")


# --- certificates ------------------------------------------------------------------------
@dataclass
class Certs:
    """A server certificate for 127.0.0.1 in QEMU's layout (`dir`), and what a client gets."""

    dir: Path  # ca-cert.pem, server-cert.pem, server-key.pem, as tls-creds-x509 wants them
    ca: Path  # what the client is given as ca_file
    other_ca: Path  # an unrelated CA
    fingerprint: str  # SHA-256 hex of the server certificate (DER)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_certs(d: Path, self_signed: bool = False) -> Certs:
    """A CA and a server certificate it signed; or, `self_signed`, a lone self-signed leaf
    like `openssl req -x509 -subj /CN=127.0.0.1` makes (no CA:TRUE), given as its own CA."""
    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1"))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    )
    if self_signed:
        cert = builder.issuer_name(_name("127.0.0.1")).sign(key, hashes.SHA256())
        ca_cert = cert
    else:
        ca_key, ca_cert = _ca("vncwall QEMU test CA")
        cert = (
            builder.issuer_name(ca_cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
    pem = serialization.Encoding.PEM
    (d / "ca-cert.pem").write_bytes(ca_cert.public_bytes(pem))
    (d / "server-cert.pem").write_bytes(cert.public_bytes(pem))
    (d / "server-key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (d / "server-key.pem").chmod(0o600)
    other = d / "other-ca.pem"
    other.write_bytes(_ca("some other CA")[1].public_bytes(pem))
    ca = d / "server-cert.pem" if self_signed else d / "ca-cert.pem"
    return Certs(d, ca, other, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER))
                 .hexdigest())


def x509_object(certs: Certs) -> str:
    return f"tls-creds-x509,id=tls0,dir={certs.dir},endpoint=server,verify-peer=no"


# --- SASL --------------------------------------------------------------------------------
def sasl_env(d: Path, mechanisms: str) -> dict[str, str]:
    """A SASL config for QEMU's "qemu" service with our user in its own sasldb."""
    d.mkdir(parents=True, exist_ok=True)
    db = d / "passwd.db"
    (d / "qemu.conf").write_text(f"mech_list: {mechanisms}\nsasldb_path: {db}\n")
    subprocess.run(["saslpasswd2", "-p", "-a", "qemu", "-f", str(db), "-c", SASL_USER],
                   input=SASL_PASSWORD.encode() + b"\n", check=True, capture_output=True,
                   timeout=30)
    return {"SASL_CONF_PATH": str(d)}


def self_signed(d: Path, flavour: str, name: str = "127.0.0.1") -> Path:
    """A self-signed server certificate and key in QEMU's layout under `d` (the certificate
    is its own ca-cert.pem): "openssl" is what `openssl req -x509` makes (CA:TRUE, key
    identifiers), "bare" a leaf with no basic constraints at all. Returns the certificate."""
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "server-cert.pem", d / "server-key.pem"
    if flavour == "openssl":
        if shutil.which("openssl") is None:
            pytest.skip("openssl: not installed")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out",
                        str(cert), "-days", "30", "-subj", f"/CN={name}", "-addext",
                        f"subjectAltName=IP:{name}"], check=True, capture_output=True,
                       timeout=60)
    else:
        now = dt.datetime.now(dt.UTC)
        private = ec.generate_private_key(ec.SECP256R1())
        built = (
            x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(private, hashes.SHA256())
        )
        cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    key.chmod(0o600)
    shutil.copy(cert, d / "ca-cert.pem")
    return cert


# --- running QEMU and the client ---------------------------------------------------------
@dataclass
class Server:
    """One QEMU with one security setup, and what a client needs for it."""

    qemu: QemuVnc
    security: str  # the vncwall security type name this setup is reached with
    certs: Certs | None = None
    sasl: bool = False


@contextlib.contextmanager
def start(tmp: pytest.TempPathFactory, name: str, vnc: str, security: str,
          certs: Certs | None = None, anon: bool = False, sasl_mechs: str | None = None,
          extra: str = "") -> Iterator[Server]:
    """Run a QEMU for a module-scoped fixture; a VNC password is set when `vnc` asks."""
    work = tmp.mktemp(name)
    objects = [x509_object(certs) + extra] if certs is not None else []
    if anon:
        objects.append("tls-creds-anon,id=tls0,endpoint=server")
    env = sasl_env(work / "sasl", sasl_mechs) if sasl_mechs is not None else None
    with qemu_vnc(work / "qemu", vnc, objects, env) as qemu:
        if "password=on" in vnc:
            qemu.qmp.execute("change-vnc-password", password=PASSWORD)
        yield Server(qemu, security, certs, sasl_mechs is not None)


def cli(server: Server, tmp_path: Path, *args: str, secret: str | None = None,
        ca: bool = True) -> Result:
    """`vncwall capture` of `server` with its security type; `secret` overrides the right
    password (SASL: the user's); `ca=False` leaves the CA out."""
    argv = ["--security", server.security, "--known-hosts", str(tmp_path / "known_hosts")]
    if server.certs is not None and ca:
        argv += ["--ca-file", str(server.certs.ca)]
    if server.sasl:
        argv += ["--username", SASL_USER]
    right = SASL_PASSWORD if server.sasl else PASSWORD
    pw = tmp_path / "pw"
    pw.write_text((secret or right) + "\n")
    pw.chmod(0o600)
    return run_capture(server.qemu.address, tmp_path / "c.png", *argv, "--password-file",
                       str(pw), *args)


def assert_right(server: Server, result: Result, tmp_path: Path, label: str) -> None:
    """Exit 0 with one line, and the PNG written equals QEMU's own screendump."""
    assert result.returncode == 0, result.stderr + server.qemu.log_tail()
    assert "captured 640x400" in result.one_line()
    assert result.image is not None
    assert_same_pixels(result.image, server.qemu.screendump(), tmp_path, label)


def assert_refused(result: Result, *words: str) -> str:
    """Exit 4 with one line that says why (and never shows a secret)."""
    assert result.returncode == 4, result.stderr
    line = result.one_line()
    for word in words:
        assert word in line, line
    assert PASSWORD not in line and SASL_PASSWORD not in line and WRONG not in line
    return line


def in_process(server: Server, secret: str, trust: TrustStore | None = None,
               username: str | None = None) -> np.ndarray:
    """vncwall's own client, in this process: the decoded framebuffer as (h, w, 3) RGB."""
    address = parse_address(server.qemu.address)
    options = ClientOptions(credentials=Credentials(password=secret, username=username),
                            security=parse_methods([server.security]), trust=trust)
    shot = capture(address, options, timeout=30)
    return shot.pixels[:, :, :3]


# --- 1. VNC password ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def vnc_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start(tmp_path_factory, "qemu-vnc", "password=on", "vncauth") as server:
        yield server


def test_vnc_password_right(vnc_password: Server, tmp_path: Path) -> None:
    assert_right(vnc_password, cli(vnc_password, tmp_path), tmp_path, "qemu-vncauth")


def test_vnc_password_wrong(vnc_password: Server, tmp_path: Path) -> None:
    assert_refused(cli(vnc_password, tmp_path, secret=WRONG), "authentication failed")


def test_vnc_password_framebuffer_in_process(vnc_password: Server, tmp_path: Path) -> None:
    got = in_process(vnc_password, PASSWORD)
    assert_same_pixels(got, vnc_password.qemu.screendump(), tmp_path, "qemu-vncauth-inproc")


def test_vnc_password_changed_over_qmp(vnc_password: Server, tmp_path: Path) -> None:
    vnc_password.qemu.qmp.execute("change-vnc-password", password="n3w-pw")
    try:
        assert_refused(cli(vnc_password, tmp_path), "authentication failed")
        assert cli(vnc_password, tmp_path, secret="n3w-pw").returncode == 0
    finally:
        vnc_password.qemu.qmp.execute("change-vnc-password", password=PASSWORD)


# --- 2. X.509 VeNCrypt -------------------------------------------------------------------
@pytest.fixture(scope="module")
def x509_vnc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    certs = make_certs(tmp_path_factory.mktemp("qemu-x509-certs"))
    with start(tmp_path_factory, "qemu-x509", "tls-creds=tls0,password=on", "x509vnc",
                     certs) as server:
        yield server


def test_x509_right(x509_vnc: Server, tmp_path: Path) -> None:
    assert_right(x509_vnc, cli(x509_vnc, tmp_path), tmp_path, "qemu-x509vnc")


def test_x509_wrong_password(x509_vnc: Server, tmp_path: Path) -> None:
    assert_refused(cli(x509_vnc, tmp_path, secret=WRONG), "authentication failed")


def test_x509_framebuffer_in_process(x509_vnc: Server, tmp_path: Path) -> None:
    assert x509_vnc.certs is not None
    trust = TrustStore(host="127.0.0.1", port=0, ca_file=x509_vnc.certs.ca)
    got = in_process(x509_vnc, PASSWORD, trust)
    assert_same_pixels(got, x509_vnc.qemu.screendump(), tmp_path, "qemu-x509-inproc")


def test_x509_untrusted_without_ca_file(x509_vnc: Server, tmp_path: Path) -> None:
    assert x509_vnc.certs is not None
    line = assert_refused(cli(x509_vnc, tmp_path, ca=False),
                          f"unknown certificate {format_fingerprint(x509_vnc.certs.fingerprint)}",
                          "not signed by a CA in the system CA store", "ca_file", "--ca-file",
                          "fingerprint", "--pin", "trust_on_first_use")
    assert "candidates exhausted" not in line


def test_x509_other_ca(x509_vnc: Server, tmp_path: Path) -> None:
    assert x509_vnc.certs is not None
    other = str(x509_vnc.certs.other_ca)
    assert_refused(cli(x509_vnc, tmp_path, "--ca-file", other, ca=False),
                   f"not signed by a CA in {other}")


def test_x509_pinned_without_ca(x509_vnc: Server, tmp_path: Path) -> None:
    assert x509_vnc.certs is not None
    result = cli(x509_vnc, tmp_path, "--pin", x509_vnc.certs.fingerprint, ca=False)
    assert result.returncode == 0, result.stderr


# --- 2b. a self-signed server certificate given as ca_file ---------------------------------
@pytest.fixture(scope="module")
def x509_self_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """X509None; the certificates are swapped per test (display-reload), so QEMU's own
    sanity check of a CA certificate is off."""
    d = tmp_path_factory.mktemp("qemu-self-signed-certs")
    self_signed(d, "bare")
    certs = Certs(d, d / "server-cert.pem", d / "none.pem", "")
    with start(tmp_path_factory, "qemu-self-signed", "tls-creds=tls0", "x509none", certs,
                     extra=",sanity-check=off") as server:
        yield server


def _reload(server: Server, flavour: str, name: str = "127.0.0.1") -> None:
    assert server.certs is not None
    self_signed(server.certs.dir, flavour, name)
    server.qemu.qmp.execute("display-reload", type="vnc", **{"tls-certs": True})


@pytest.mark.parametrize("flavour", ["openssl", "bare"])
def test_self_signed_certificate_as_ca_file(x509_self_signed: Server, flavour: str,
                                            tmp_path: Path) -> None:
    _reload(x509_self_signed, flavour)
    assert_right(x509_self_signed, cli(x509_self_signed, tmp_path), tmp_path,
                 f"qemu-self-signed-{flavour}")


def test_self_signed_certificate_for_another_name(x509_self_signed: Server,
                                                  tmp_path: Path) -> None:
    _reload(x509_self_signed, "openssl", "127.0.0.2")
    assert_refused(cli(x509_self_signed, tmp_path), "unknown certificate",
                   "issued for another name than 127.0.0.1")


# --- 3. anonymous TLS (VeNCrypt TLSVnc, TLSNone) --------------------------------------------
@pytest.fixture(scope="module")
def anon_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start(tmp_path_factory, "qemu-anon", "tls-creds=tls0,password=on", "tlsvnc",
                     anon=True) as server:
        yield server


def test_anon_tls_right(anon_tls: Server, tmp_path: Path) -> None:
    assert_right(anon_tls, cli(anon_tls, tmp_path), tmp_path, "qemu-tlsvnc")


def test_anon_tls_wrong_password(anon_tls: Server, tmp_path: Path) -> None:
    assert_refused(cli(anon_tls, tmp_path, secret=WRONG), "authentication failed")


def test_anon_tls_framebuffer_in_process(anon_tls: Server, tmp_path: Path) -> None:
    got = in_process(anon_tls, PASSWORD)
    assert_same_pixels(got, anon_tls.qemu.screendump(), tmp_path, "qemu-tlsvnc-inproc")


def test_anon_tls_none(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    with start(tmp_path_factory, "qemu-tlsnone", "tls-creds=tls0", "tlsnone",
                        anon=True) as server:
        assert_right(server, cli(server, tmp_path), tmp_path, "qemu-tlsnone")


# --- 4. SASL: on its own, inside X.509 TLS (X509SASL), inside anonymous TLS (TLSSASL) --------
SASL_SETUPS = {
    # QEMU outside X.509 TLS wants a SASL layer of SSF >= 56: DIGEST-MD5 auth-conf only.
    "sasl-digest-md5": ("sasl=on", "sasl", "digest-md5"),
    "x509sasl-scram-sha-256": ("tls-creds=tls0,sasl=on", "x509sasl", "scram-sha-256"),
    "x509sasl-digest-md5": ("tls-creds=tls0,sasl=on", "x509sasl", "digest-md5"),
    "tlssasl-digest-md5": ("tls-creds=tls0,sasl=on", "tlssasl", "digest-md5"),
}


@pytest.fixture(scope="module", params=list(SASL_SETUPS))
def sasl_server(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    vnc, security, mechs = SASL_SETUPS[request.param]
    certs = (make_certs(tmp_path_factory.mktemp("qemu-sasl-certs"))
             if security == "x509sasl" else None)
    with start(tmp_path_factory, f"qemu-{request.param}", vnc, security, certs,
                     anon=security == "tlssasl", sasl_mechs=mechs) as server:
        yield server


def test_sasl_right(sasl_server: Server, tmp_path: Path) -> None:
    assert_right(sasl_server, cli(sasl_server, tmp_path), tmp_path,
                 f"qemu-{sasl_server.security}")


def test_sasl_wrong_password(sasl_server: Server, tmp_path: Path) -> None:
    assert_refused(cli(sasl_server, tmp_path, secret=WRONG), "authentication failed",
                   "wrong user name or password")


def test_tlssasl_framebuffer_in_process(tmp_path_factory: pytest.TempPathFactory,
                                        tmp_path: Path) -> None:
    """DIGEST-MD5's encryption layer inside the TLS layer, for every byte of the frame."""
    with start(tmp_path_factory, "qemu-tlssasl-inproc", "tls-creds=tls0,sasl=on",
                        "tlssasl", anon=True, sasl_mechs="digest-md5") as server:
        got = in_process(server, SASL_PASSWORD, username=SASL_USER)
        assert_same_pixels(got, server.qemu.screendump(), tmp_path, "qemu-tlssasl-inproc")


def test_sasl_scram_outside_x509_is_not_offered(tmp_path_factory: pytest.TempPathFactory,
                                                tmp_path: Path) -> None:
    """QEMU drops mechanisms without a security layer outside X.509 TLS: an empty list."""
    with start(tmp_path_factory, "qemu-sasl-scram", "sasl=on", "sasl",
                        sasl_mechs="scram-sha-256") as server:
        result = cli(server, tmp_path)
        assert result.returncode == 5, result.stderr
        assert "the server offers no SASL mechanism" in result.one_line()
