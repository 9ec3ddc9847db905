"""SASL client mechanisms (SCRAM-SHA-256/-1, DIGEST-MD5 with its security layer, PLAIN)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
import unicodedata
from collections.abc import Callable
from typing import Protocol

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, modes

from .errors import AuthError, ProtocolError, server_text

MAX_CHALLENGE = 64 * 1024
MAX_ITERATIONS = 1_000_000  # SCRAM iteration counts beyond this are refused (CPU bomb)
MAX_FRAME = 16 * 1024 * 1024 - 1  # the largest SASL security-layer frame (24-bit maxbuf)
OUR_MAXBUF = 65536  # what we ask the server to keep its frames within (DIGEST-MD5 maxbuf)


class Mechanism(Protocol):
    """One SASL mechanism's client side: initial response, then one answer per challenge."""

    name: str

    def start(self) -> bytes | None:
        """The initial response (None: the mechanism has none)."""
        ...

    def step(self, challenge: bytes) -> bytes | None:
        """The answer to a server challenge; raises AuthError when the server is wrong."""
        ...

    @property
    def done(self) -> bool:
        """Whether the server has been verified (mutual authentication complete)."""
        ...

    def layer(self) -> SaslLayer | None:
        """The negotiated security layer, once done; None: no layer."""
        ...


def saslprep(text: str) -> str:
    """A simplified SASLprep (RFC 4013): non-ASCII spaces to space, map-to-nothing removed,
    NFKC; refuses control characters."""
    mapped = "".join(
        " " if unicodedata.category(c) == "Zs" else c
        for c in text if c not in "\u00ad\u1806\u200b\u2060\ufeff\u034f\u180b\u180c\u180d"
        and not "\ufe00" <= c <= "\ufe0f"
    )
    out = unicodedata.normalize("NFKC", mapped)
    if any(unicodedata.category(c) == "Cc" for c in out):
        raise AuthError("the user name or password contains control characters")
    return out


def _nonce() -> str:
    return base64.b64encode(os.urandom(24)).decode()


# --- SCRAM (RFC 5802, RFC 7677) -------------------------------------------------------------
class Scram:
    """SCRAM-SHA-256 or SCRAM-SHA-1 without channel binding (gs2 header 'n,,')."""

    def __init__(self, hash_name: str, username: str, password: str,
                 nonce: Callable[[], str] = _nonce) -> None:
        self.hash_name = hash_name
        self.name = "SCRAM-" + hash_name.upper().replace("SHA", "SHA-")
        user = saslprep(username).replace("=", "=3D").replace(",", "=2C")
        self._password = saslprep(password).encode()
        self._cnonce = nonce()
        self._first_bare = f"n={user},r={self._cnonce}"
        self._server_signature: bytes | None = None
        self._done = False

    def _h(self, data: bytes) -> bytes:
        return hashlib.new(self.hash_name, data).digest()

    def _hmac(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, self.hash_name).digest()

    @property
    def done(self) -> bool:
        return self._done

    def layer(self) -> SaslLayer | None:
        return None

    def start(self) -> bytes | None:
        return ("n,," + self._first_bare).encode()

    def step(self, challenge: bytes) -> bytes | None:
        if self._server_signature is None:
            return self._client_final(challenge)
        attrs = self._attrs(challenge)
        try:
            signature = base64.b64decode(attrs.get("v", ""), validate=True)
        except ValueError:
            signature = b""
        if not hmac.compare_digest(signature, self._server_signature):
            raise AuthError(f"{self.name}: the server's signature is wrong (it does not know "
                            "the password: an impostor?)")
        self._done = True
        return None

    def _attrs(self, message: bytes) -> dict[str, str]:
        """A SCRAM message's one-letter attributes; e=... is the server's refusal."""
        out: dict[str, str] = {}
        for part in message.decode("utf-8", "replace").split(","):
            key, eq, value = part.partition("=")
            if eq and len(key) == 1 and key not in out:
                out[key] = value
        if "e" in out:
            why = server_text(out["e"].encode())
            raise AuthError(f"authentication failed: {self.name}: {why}")
        return out

    def _client_final(self, challenge: bytes) -> bytes:
        first = challenge.decode("utf-8", "replace")
        attrs = self._attrs(challenge)
        nonce, salt_b64, count = attrs.get("r", ""), attrs.get("s", ""), attrs.get("i", "")
        if not nonce.startswith(self._cnonce) or len(nonce) == len(self._cnonce):
            raise ProtocolError(f"{self.name}: the server's nonce does not extend ours")
        if not count.isdigit() or not 0 < int(count) <= MAX_ITERATIONS:
            raise ProtocolError(f"{self.name}: iteration count {server_text(count.encode(), 20)!r} "
                                f"out of range (1..{MAX_ITERATIONS})")
        try:
            salt = base64.b64decode(salt_b64, validate=True)
        except ValueError:
            raise ProtocolError(f"{self.name}: the server's salt is not base64") from None
        salted = hashlib.pbkdf2_hmac(self.hash_name, self._password, salt, int(count))
        client_key = self._hmac(salted, b"Client Key")
        stored = self._h(client_key)
        without_proof = f"c=biws,r={nonce}"
        auth_message = f"{self._first_bare},{first},{without_proof}".encode()
        signature = self._hmac(stored, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()




# --- PLAIN (RFC 4616): only ever offered inside TLS ----------------------------------------
class PlainMechanism:
    name = "PLAIN"

    def __init__(self, username: str, password: str) -> None:
        self._message = b"\0" + username.encode() + b"\0" + password.encode()

    @property
    def done(self) -> bool:
        return True

    def layer(self) -> SaslLayer | None:
        return None

    def start(self) -> bytes | None:
        return self._message

    def step(self, challenge: bytes) -> bytes | None:
        raise ProtocolError("PLAIN: the server sent a challenge")


# --- DIGEST-MD5 (RFC 2831), with integrity and confidentiality layers ---------------------
_DIRECTIVE = re.compile(r'\s*([A-Za-z0-9-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)')
# cipher -> (SSF, bytes of H(A1) in the sealing keys); strongest first.
DIGEST_CIPHERS: dict[str, tuple[int, int]] = {
    "rc4": (128, 16), "3des": (112, 16), "rc4-56": (56, 7), "des": (56, 16), "rc4-40": (40, 5),
}
_C2S = b"Digest session key to client-to-server signing key magic constant"
_S2C = b"Digest session key to server-to-client signing key magic constant"
_SEAL_C2S = b"Digest H(A1) to client-to-server sealing key magic constant"
_SEAL_S2C = b"Digest H(A1) to server-to-client sealing key magic constant"


def parse_directives(text: bytes) -> dict[str, list[str]]:
    """A DIGEST-MD5 challenge: name=value or name="quoted", comma-separated; repeats kept."""
    s = text.decode("utf-8", "replace")
    out: dict[str, list[str]] = {}
    pos = 0
    while pos < len(s):
        if s[pos] in ", \t":
            pos += 1
            continue
        m = _DIRECTIVE.match(s, pos)
        if m is None:
            raise ProtocolError(f"DIGEST-MD5: unreadable challenge {server_text(text, 80)!r}")
        value = m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.setdefault(m.group(1).lower(), []).append(value.strip())
        pos = m.end()
    return out


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _des_key(seven: bytes) -> bytes:
    """56 key bits to an 8-byte DES key: 7 bits per byte, the low (parity) bit left 0."""
    bits = int.from_bytes(seven, "big")
    return bytes(((bits >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


class DigestMD5:
    """DIGEST-MD5: qop auth-conf (strongest cipher both sides have) when a layer is wanted,
    else auth-int, else auth."""

    name = "DIGEST-MD5"

    def __init__(self, username: str, password: str, host: str, service: str = "vnc",
                 want_layer: bool = True, nonce: Callable[[], str] = _nonce) -> None:
        self._user = username
        self._password = password
        self._uri = f"{service}/{host}"
        self._want_layer = want_layer
        self._cnonce = nonce()
        self._ha1 = b""
        self._expect = ""
        self.qop = "auth"
        self.cipher: str | None = None
        self._server_maxbuf = 65536
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def ssf(self) -> int:
        if self.qop == "auth-conf" and self.cipher is not None:
            return DIGEST_CIPHERS[self.cipher][0]
        return 1 if self.qop == "auth-int" else 0

    def start(self) -> bytes | None:
        return None

    def step(self, challenge: bytes) -> bytes | None:
        d = parse_directives(challenge)
        if not self._ha1:
            return self._response(d)
        rspauth = d.get("rspauth", [""])[0]
        if not hmac.compare_digest(rspauth.encode(), self._expect.encode()):
            raise AuthError("DIGEST-MD5: the server's rspauth is wrong (it does not know the "
                            "password: an impostor?)")
        self._done = True
        return None

    def _response(self, d: dict[str, list[str]]) -> bytes:
        nonce = d.get("nonce", [""])[0]
        if not nonce or len(d.get("nonce", [])) != 1:
            raise ProtocolError("DIGEST-MD5: the challenge has no single nonce")
        algorithm = d.get("algorithm", [""])[0]
        if algorithm.lower() != "md5-sess":
            raise ProtocolError(f"DIGEST-MD5: algorithm {algorithm!r}, not md5-sess")
        qops = [q.strip().lower() for v in d.get("qop", ["auth"]) for q in v.split(",")]
        ciphers = [c.strip().lower() for v in d.get("cipher", []) for c in v.split(",")]
        if "maxbuf" in d:
            mb = d["maxbuf"][0]
            if not mb.isdigit() or not 16 < int(mb) <= MAX_FRAME:
                raise ProtocolError(f"DIGEST-MD5: maxbuf {server_text(mb.encode(), 20)!r} "
                                    "out of range")
            self._server_maxbuf = int(mb)
        common = [c for c in DIGEST_CIPHERS if c in ciphers]
        if self._want_layer and "auth-conf" in qops and common:
            self.qop, self.cipher = "auth-conf", common[0]
        elif self._want_layer and "auth-int" in qops:
            self.qop = "auth-int"
        elif "auth" in qops:
            self.qop = "auth"
        else:
            offered = ", ".join(qops)
            raise ProtocolError(f"DIGEST-MD5: no protection level in common (server offers "
                                f"{offered}; ciphers {', '.join(ciphers) or 'none'})")
        realm = d.get("realm", [""])[0]
        utf8 = d.get("charset", [""])[0].lower() == "utf-8"
        enc = "utf-8" if utf8 else "latin-1"
        try:
            secret = hashlib.md5(f"{self._user}:{realm}:{self._password}".encode(enc)).digest()
        except UnicodeEncodeError:
            raise AuthError("DIGEST-MD5: the server takes only Latin-1 user names and "
                            "passwords") from None
        self._ha1 = hashlib.md5(secret + f":{nonce}:{self._cnonce}".encode()).digest()
        tail = ":00000000000000000000000000000000" if self.qop != "auth" else ""
        response = self._kd(nonce, f"AUTHENTICATE:{self._uri}{tail}")
        self._expect = self._kd(nonce, f":{self._uri}{tail}")
        fields = [
            f"username={_quote(self._user)}", f"realm={_quote(realm)}" if realm else "",
            f"nonce={_quote(nonce)}", f"cnonce={_quote(self._cnonce)}", "nc=00000001",
            f"qop={self.qop}", f"digest-uri={_quote(self._uri)}", f"response={response}",
            f"maxbuf={OUR_MAXBUF}", "charset=utf-8" if utf8 else "",
            f"cipher={self.cipher}" if self.cipher else "",
        ]
        return ",".join(f for f in fields if f).encode(enc)

    def _kd(self, nonce: str, a2: str) -> str:
        ha1 = self._ha1.hex()
        ha2 = hashlib.md5(a2.encode()).hexdigest()
        return hashlib.md5(f"{ha1}:{nonce}:00000001:{self._cnonce}:{self.qop}:{ha2}"
                           .encode()).hexdigest()

    def layer(self) -> SaslLayer | None:
        if not self._done or self.qop == "auth":
            return None
        return DigestLayer(self._ha1, self.cipher, self._server_maxbuf)


class _Seal:
    """One direction's cipher state (continues across messages) and padding rule."""

    def __init__(self, cipher: str, key: bytes, encrypt: bool) -> None:
        self.block = 1 if cipher.startswith("rc4") else 8
        algo: ARC4 | TripleDES
        mode: modes.CBC | None = None
        if self.block == 1:
            algo = ARC4(key)
        else:
            k1 = _des_key(key[:7])
            k2 = _des_key(key[7:14]) if cipher == "3des" else k1
            algo = TripleDES(k1 + k2 + k1)
            mode = modes.CBC(key[8:16])
        c = Cipher(algo, mode)
        self.ctx: CipherContext = c.encryptor() if encrypt else c.decryptor()


class DigestLayer:
    """RFC 2831 security layer: frames of U32 length, then (sealed) message, MAC, type, seq."""

    def __init__(self, ha1: bytes, cipher: str | None, server_maxbuf: int) -> None:
        self._ki_send = hashlib.md5(ha1 + _C2S).digest()
        self._ki_recv = hashlib.md5(ha1 + _S2C).digest()
        self._send_seal: _Seal | None = None
        self._recv_seal: _Seal | None = None
        if cipher is not None:
            n = DIGEST_CIPHERS[cipher][1]
            self._send_seal = _Seal(cipher, hashlib.md5(ha1[:n] + _SEAL_C2S).digest(), True)
            self._recv_seal = _Seal(cipher, hashlib.md5(ha1[:n] + _SEAL_S2C).digest(), False)
        self._send_seq = 0
        self._recv_seq = 0
        self._chunk = server_maxbuf - 16 - 8  # MAC, type, seq and padding fit within maxbuf
        self._in = bytearray()
        self._out = bytearray()

    @property
    def holding(self) -> bool:
        return bool(self._in)

    def _mac(self, key: bytes, seq: int, msg: bytes) -> bytes:
        return hmac.new(key, struct.pack(">I", seq) + msg, "md5").digest()[:10]

    def send(self, data: bytes) -> None:
        for i in range(0, len(data), self._chunk):
            msg = data[i : i + self._chunk]
            seq = struct.pack(">I", self._send_seq)
            mac = self._mac(self._ki_send, self._send_seq, msg)
            self._send_seq = (self._send_seq + 1) & 0xFFFFFFFF
            seal = self._send_seal
            if seal is None:
                body = msg + mac
            else:
                pad = seal.block - (len(msg) + 10) % seal.block if seal.block > 1 else 0
                body = seal.ctx.update(msg + bytes([pad]) * pad + mac)
            frame = body + b"\x00\x01" + seq
            self._out += struct.pack(">I", len(frame)) + frame

    def outgoing(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def feed(self, data: bytes) -> bytes:
        self._in += data
        plain = bytearray()
        while len(self._in) >= 4:
            (length,) = struct.unpack(">I", self._in[:4])
            if not 16 <= length <= OUR_MAXBUF + 64:
                raise ProtocolError(f"SASL frame of {length} bytes (the limit is {OUR_MAXBUF})")
            if len(self._in) < 4 + length:
                break
            frame = bytes(self._in[4 : 4 + length])
            del self._in[: 4 + length]
            plain += self._open(frame)
        return bytes(plain)

    def _open(self, frame: bytes) -> bytes:
        body, kind, seq = frame[:-6], frame[-6:-4], struct.unpack(">I", frame[-4:])[0]
        if kind != b"\x00\x01" or seq != self._recv_seq:
            raise ProtocolError(f"SASL frame out of sequence (got {seq}, expected "
                                f"{self._recv_seq})")
        seal = self._recv_seal
        if seal is not None:
            if len(body) % seal.block:
                raise ProtocolError("SASL frame is not a whole number of cipher blocks")
            body = seal.ctx.update(body)
        msg, mac = body[:-10], body[-10:]
        if seal is not None and seal.block > 1:
            pad = msg[-1] if msg else 0
            if not 1 <= pad <= 8 or len(msg) < pad or msg[-pad:] != bytes([pad]) * pad:
                raise ProtocolError("SASL frame with bad padding (wrong key?)")
            msg = msg[:-pad]
        if not hmac.compare_digest(mac, self._mac(self._ki_recv, seq, msg)):
            raise ProtocolError("SASL frame failed its integrity check")
        self._recv_seq = (self._recv_seq + 1) & 0xFFFFFFFF
        return msg


SaslLayer = DigestLayer

# Mechanisms we run, strongest first.
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1", "DIGEST-MD5", "PLAIN")


def make_mechanism(name: str, username: str, password: str, host: str,
                   want_layer: bool) -> Mechanism:
    if name == "SCRAM-SHA-256":
        return Scram("sha256", username, password)
    if name == "SCRAM-SHA-1":
        return Scram("sha1", username, password)
    if name == "DIGEST-MD5":
        return DigestMD5(username, password, host, want_layer=want_layer)
    if name == "PLAIN":
        return PlainMechanism(username, password)
    raise ProtocolError(f"SASL mechanism {name} is not supported")  # pragma: no cover
