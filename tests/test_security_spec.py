"""Apple DH and RSA-AES against in-test servers written from the spec; EAX vectors; policy."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.secure_servers import SpecServer, spec_image, spec_server
from tests.test_real_servers import Result, run_capture
from vncwall.net.eax import AESEAX, EAXTagError
from vncwall.net.errors import AuthError, ProtocolError
from vncwall.net.security import (
    DEFAULT_PREFERENCE,
    NONE,
    PLAIN,
    TLS_NONE,
    TLS_VNC,
    VENCRYPT,
    VNC_AUTH,
    X509_VNC,
    Credentials,
    Policy,
    parse_method,
    top_level_choice,
)
from vncwall.trust import TrustStore, format_fingerprint, parse_fingerprint

USER, PASSWORD = "alice", "correct horse"


def capture(server: SpecServer, tmp_path: Path, *args: str, password: str = PASSWORD) -> Result:
    secret = tmp_path / "pw"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    return run_capture(server.address, tmp_path / "c.png", "--password-file", str(secret),
                       "--known-hosts", str(tmp_path / "known_hosts"), "--timeout", "20",
                       *args)


def assert_ok(result: Result) -> None:
    assert result.returncode == 0, result.stderr
    assert result.image is not None
    assert (result.image == spec_image()).all()


def assert_fails(result: Result, code: int, pattern: str) -> str:
    assert result.returncode == code, result.stderr
    line = result.one_line()
    assert re.search(pattern, line, re.IGNORECASE), line
    assert PASSWORD not in line and "wrong-secret" not in line
    return line


def pin(server: SpecServer) -> str:
    return hashlib.sha256(server.server_key_blob()).hexdigest()


# --- AES-EAX ---------------------------------------------------------------------------
EAX_VECTORS = [  # from the EAX paper (Bellare, Rogaway, Wagner), appendix
    ("233952DEE4D5ED5F9B9C6D6FF80FF478", "62EC67F9C3A4A407FCB2A8C49031A8B3", "6BFB914FD07EAE6B",
     "", "E037830E8389F27B025A2D6527E79D01"),
    ("91945D3F4DCBEE0BF45EF52255F095A4", "BECAF043B0A23D843194BA972C66DEBD", "FA3BFD4806EB53FA",
     "F7FB", "19DD5C4C9331049D0BDAB0277408F67967E5"),
]


@pytest.mark.parametrize(("key", "nonce", "header", "msg", "out"), EAX_VECTORS)
def test_eax_vectors(key: str, nonce: str, header: str, msg: str, out: str) -> None:
    h = bytes.fromhex
    eax = AESEAX(h(key))
    ct, tag = eax.encrypt(h(nonce), h(msg), h(header))
    assert (ct + tag).hex().upper() == out
    assert eax.decrypt(h(nonce), ct, tag, h(header)) == h(msg)
    with pytest.raises(EAXTagError):
        eax.decrypt(h(nonce), ct, bytes([tag[0] ^ 1]) + tag[1:], h(header))
    with pytest.raises(EAXTagError):
        eax.decrypt(h(nonce), ct, tag, h(header) + b"x")


# --- choosing a type ---------------------------------------------------------------------
def test_preference_strongest_first_and_minimum() -> None:
    creds = Credentials(password="pw")
    assert top_level_choice(Policy(), [NONE, VNC_AUTH, VENCRYPT], creds) == (VENCRYPT, X509_VNC)
    assert top_level_choice(Policy(), [NONE, VNC_AUTH], creds) == (VNC_AUTH, VNC_AUTH)
    assert top_level_choice(Policy(), [NONE, VNC_AUTH], Credentials()) == (NONE, NONE)
    strict = Policy(minimum=TLS_NONE)
    with pytest.raises(ProtocolError, match=r"refusing to downgrade.*below the minimum TLSNone"):
        top_level_choice(strict, [NONE, VNC_AUTH], creds)
    # Plain is never picked outside TLS unless allowed.
    user = Credentials(password="pw", username="u")
    with pytest.raises(ProtocolError, match="no VeNCrypt subtype"):
        Policy().choose([PLAIN], user, "VeNCrypt subtype")
    assert Policy(allow_insecure_plain=True).choose([PLAIN], user, "x") == PLAIN
    assert Policy(preference=(TLS_VNC, NONE)).choose([NONE, TLS_VNC], creds, "x") == TLS_VNC
    with pytest.raises(AuthError, match="requires a password"):
        Policy().choose([TLS_VNC], Credentials(), "x")
    assert DEFAULT_PREFERENCE[0] == parse_method("X509Vnc")
    assert parse_method("ard") == 30


def test_fingerprints_and_known_hosts(tmp_path: Path) -> None:
    fp = "ab" * 32
    assert parse_fingerprint(format_fingerprint(fp)) == fp
    assert parse_fingerprint(fp.upper()) == fp
    with pytest.raises(ValueError):
        parse_fingerprint("SHA256:12")
    known = tmp_path / "kh"
    store = TrustStore("example.test", 5901, trust_on_first_use=True, known_hosts=known)
    assert "first use" in store.check_server_key("rsa", b"key-1")
    assert "known host" in store.check_server_key("rsa", b"key-1")
    assert known.stat().st_mode & 0o077 == 0
    with pytest.raises(AuthError) as err:
        store.check_server_key("rsa", b"key-2")
    text = str(err.value)
    assert format_fingerprint(hashlib.sha256(b"key-1").hexdigest()) in text
    assert format_fingerprint(hashlib.sha256(b"key-2").hexdigest()) in text
    strict = TrustStore("example.test", 5902, known_hosts=known)
    with pytest.raises(AuthError, match="unknown server key SHA256:"):
        strict.check_server_key("rsa", b"key-3")


# --- Diffie-Hellman (30) -----------------------------------------------------------------
def test_dh_right_and_wrong_password(tmp_path: Path) -> None:
    with spec_server(30) as server:
        assert_ok(capture(server, tmp_path, "--username", USER))
        assert_fails(capture(server, tmp_path, "--username", USER, password="wrong-secret"), 4,
                     "authentication failed: wrong user name or password")
        assert_fails(capture(server, tmp_path), 4, "requires a username and password")


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"dh_key_bytes": 64}, "DH modulus of 512 bits is outside 1024..4096"),
    ({"dh_key_bytes": 2048}, "DH modulus of 16384 bits is outside"),
    # 8192 bits froze every face for seconds per attempt (two pow() calls under the GIL)
    ({"dh_key_bytes": 1024}, "DH modulus of 8192 bits is outside 1024..4096"),
    ({"dh_generator": 1}, "DH generator 1 is out of range"),
])
def test_dh_bad_parameters(tmp_path: Path, kwargs: dict[str, int], pattern: str) -> None:
    with spec_server(30, **kwargs) as server:
        assert_fails(capture(server, tmp_path, "--username", USER), 5, pattern)


# --- RSA-AES (5, 6, 129, 130) --------------------------------------------------------------
def test_rsa_aes_huge_public_exponent(tmp_path: Path) -> None:
    """A trusted key whose exponent OpenSSL would refuse: a protocol error (5), not an
    internal one."""
    with spec_server(129, exponent=(1 << 100) + 1) as server:
        assert_fails(capture(server, tmp_path, "--username", USER, "--pin", pin(server)), 5,
                     "public exponent has 101 bits")


@pytest.mark.parametrize("security", [5, 6, 129, 130])
def test_rsa_aes_types(tmp_path: Path, security: int) -> None:
    with spec_server(security) as server:
        assert_ok(capture(server, tmp_path, "--username", USER, "--pin", pin(server)))
        assert_fails(capture(server, tmp_path, "--username", USER, "--pin", pin(server),
                             password="wrong-secret"), 4, "authentication failed")
        assert "refused" in server.results


def test_rsa_aes_password_only_subtype(tmp_path: Path) -> None:
    with spec_server(5, subtype=2) as server:
        assert_ok(capture(server, tmp_path, "--pin", pin(server)))


def test_rsa_aes_key_trust(tmp_path: Path) -> None:
    with spec_server(129) as server:
        fp = format_fingerprint(pin(server))
        line = assert_fails(capture(server, tmp_path, "--username", USER), 4, "unknown server key")
        assert fp in line
        assert_ok(capture(server, tmp_path, "--username", USER, "--trust-on-first-use"))
        assert pin(server) in (tmp_path / "known_hosts").read_text()
        assert_ok(capture(server, tmp_path, "--username", USER))  # now a known host
        other = "cd" * 32
        line = assert_fails(capture(server, tmp_path, "--username", USER, "--pin", other), 4,
                            "does not match the pinned")
        assert fp in line and format_fingerprint(other) in line
    with spec_server(129) as changed:
        kh = tmp_path / "known_hosts"
        kh.write_text(f"127.0.0.1::{changed.port} rsa {'ef' * 32}\n")
        line = assert_fails(capture(changed, tmp_path, "--username", USER,
                                    "--trust-on-first-use"), 4, "server key changed")
        assert format_fingerprint("ef" * 32) in line and format_fingerprint(pin(changed)) in line


def test_rsa_aes_tampered_mac(tmp_path: Path) -> None:
    with spec_server(5, tamper=True) as server:
        assert_fails(capture(server, tmp_path, "--username", USER, "--pin", pin(server)), 5,
                     "message authentication failed")


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"rsa_bits": 1024}, "server RSA key of 1024 bits is outside 2048..8192"),
    ({"rsa_bits": 2048, "declared_bits": 3072}, "RSA key is malformed"),
])
def test_rsa_aes_bad_key_sizes(tmp_path: Path, kwargs: dict[str, int], pattern: str) -> None:
    with spec_server(5, **kwargs) as server:
        assert_fails(capture(server, tmp_path, "--username", USER, "--trust-on-first-use"), 5,
                     pattern)


# --- the sans-IO client, one byte at a time, through the layer switches -------------------
@pytest.mark.parametrize("security", [5, 6, 30])
def test_client_byte_by_byte(security: int) -> None:
    import socket
    import threading

    from vncwall.net import events as ev
    from vncwall.net.client import ClientOptions, RFBClient

    with spec_server(security) as server:
        ours, theirs = socket.socketpair()
        threading.Thread(target=server._serve, args=(theirs,), daemon=True).start()
        trust = TrustStore("127.0.0.1", server.port, pins=(pin(server),) if security != 30 else ())
        client = RFBClient(ClientOptions(credentials=Credentials(PASSWORD, USER), trust=trust))
        ours.settimeout(20)
        connected = False
        try:
            while not connected:
                ours.sendall(client.data_to_send())
                for byte in ours.recv(65536):
                    client.receive_data(bytes([byte]))
                while (event := client.next_event()) is not None:
                    connected = connected or isinstance(event, ev.Connected)
            client.request_update(incremental=False)
            ours.sendall(client.data_to_send())
            done = False
            while not done:
                for byte in ours.recv(65536):
                    client.receive_data(bytes([byte]))
                while (event := client.next_event()) is not None:
                    done = done or isinstance(event, ev.UpdateEnd)
        finally:
            ours.close()
        assert client.framebuffer is not None
        assert (client.framebuffer.pixels[..., :3] == spec_image()).all()
        assert client.security_info
        assert client.security_weak == (security != 5)


def test_config_security_keys(tmp_path: Path) -> None:
    from vncwall.config import ConfigError, parse_config

    text = """
[[session]]
address = "vnc://10.0.0.5:5901"
security = ["X509Vnc", "tlsvnc"]
minimum_security = "tlsnone"
username = "bob"
ca_file = "ca.pem"
fingerprint = "SHA256:PIN"
trust_on_first_use = true
known_hosts = "kh"
client_cert = "me.pem"
client_key = "me.key"
""".replace("PIN", ":".join(["ab"] * 32))
    s = parse_config(text, "wall.toml", tmp_path).sessions[0]
    assert s.security == (X509_VNC, TLS_VNC) and s.minimum_security == TLS_NONE
    assert s.ca_file == tmp_path / "ca.pem" and s.fingerprints == ("ab" * 32,)
    opts = s.client_options()
    assert opts.trust is not None and opts.trust.known_hosts == tmp_path / "kh"  # type: ignore[attr-defined]
    assert opts.credentials.username == "bob" and opts.minimum_security == TLS_NONE
    bad = text.replace('"tlsvnc"', '"tls-foo"')
    with pytest.raises(ConfigError, match=r"session\[0\]\.security: unknown security type"):
        parse_config(bad, "wall.toml", tmp_path)
    with pytest.raises(ConfigError, match=r"session\[0\]\.fingerprint: .* is not a SHA-256"):
        parse_config(text.replace("SHA256:ab", "SHA256:zz"), "wall.toml", tmp_path)
