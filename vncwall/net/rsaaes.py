"""RSA-AES security types (5 RA2, 6 RA2ne, 129 RA256, 130 RAne256): RSA key exchange, AES-EAX."""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .eax import AESEAX, TAG_SIZE, EAXTagError
from .errors import AuthError, ProtocolError
from .security import RA2, RA2NE, RA256, RANE256, Credentials, SecurityHandler, Send, method_name
from .stream import Reader

MIN_KEY_BITS = 2048
MAX_KEY_BITS = 8192
MAX_EXPONENT_BITS = 64  # public exponent; OpenSSL refuses larger ones for big moduli
CLIENT_KEY_BITS = 2048
MAX_FRAME = 8192  # plaintext bytes per AES-EAX message we send
SUBTYPE_USER_PASS = 1
SUBTYPE_PASS = 2

# type -> (AES key bits, whole session encrypted)
VARIANTS: dict[int, tuple[int, bool]] = {
    RA2: (128, True), RA2NE: (128, False), RA256: (256, True), RANE256: (256, False),
}


def session_keys(key_bits: int, client_random: bytes, server_random: bytes) -> tuple[bytes, bytes]:
    """(client-to-server key, server-to-client key)."""
    if key_bits == 128:
        out = hashlib.sha1(server_random + client_random).digest()[:16]
        into = hashlib.sha1(client_random + server_random).digest()[:16]
    else:
        out = hashlib.sha256(server_random + client_random).digest()
        into = hashlib.sha256(client_random + server_random).digest()
    return out, into


def key_hash(key_bits: int, first: bytes, second: bytes) -> bytes:
    """The handshake hash over two wire-format public keys (SHA-1 or SHA-256)."""
    algo = hashlib.sha1 if key_bits == 128 else hashlib.sha256
    return algo(first + second).digest()


def encode_key(bits: int, n: int, e: int) -> bytes:
    """A public key as sent: U32 bit length, modulus and exponent in ceil(bits/8) bytes each."""
    size = (bits + 7) // 8
    return struct.pack(">I", bits) + n.to_bytes(size, "big") + e.to_bytes(size, "big")


class EAXLayer:
    """AES-EAX messages: U16 length (authenticated), ciphertext, 16-byte tag; counter nonces."""

    def __init__(self, send_key: bytes, receive_key: bytes) -> None:
        self._send = AESEAX(send_key)
        self._receive = AESEAX(receive_key)
        self._send_counter = 0
        self._receive_counter = 0
        self._in = bytearray()
        self._out = bytearray()

    @property
    def holding(self) -> bool:
        return bool(self._in)

    @staticmethod
    def _nonce(counter: int) -> bytes:
        return counter.to_bytes(16, "little")

    def feed(self, data: bytes) -> bytes:
        self._in += data
        plain = bytearray()
        while len(self._in) >= 2:
            (length,) = struct.unpack(">H", self._in[:2])
            if len(self._in) < 2 + length + TAG_SIZE:
                break
            header = bytes(self._in[:2])
            body = bytes(self._in[2 : 2 + length])
            tag = bytes(self._in[2 + length : 2 + length + TAG_SIZE])
            del self._in[: 2 + length + TAG_SIZE]
            try:
                plain += self._receive.decrypt(self._nonce(self._receive_counter), body, tag,
                                               header)
            except EAXTagError:
                raise ProtocolError("RSA-AES: message authentication failed "
                                    "(the data was altered in transit)") from None
            self._receive_counter += 1
        return bytes(plain)

    def send(self, data: bytes) -> None:
        for i in range(0, len(data), MAX_FRAME):
            chunk = data[i : i + MAX_FRAME]
            header = struct.pack(">H", len(chunk))
            body, tag = self._send.encrypt(self._nonce(self._send_counter), chunk, header)
            self._send_counter += 1
            self._out += header + body + tag

    def outgoing(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out


class RSAAESSecurity(SecurityHandler):
    """The client side; which of the four types it runs is the one negotiated."""

    TYPE = RA2

    def usable(self, creds: Credentials) -> bool:
        return creds.password is not None

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        key_bits, all_encrypted = VARIANTS[self.TYPE]
        name = method_name(self.TYPE)
        if creds.password is None:
            raise AuthError("the server requires a password")
        (bits,) = struct.unpack(">I", (yield 4))
        if not MIN_KEY_BITS <= bits <= MAX_KEY_BITS:
            raise ProtocolError(f"{name}: server RSA key of {bits} bits is outside "
                                f"{MIN_KEY_BITS}..{MAX_KEY_BITS}")
        size = (bits + 7) // 8
        n_raw = yield size
        e_raw = yield size
        n = int.from_bytes(n_raw, "big")
        e = int.from_bytes(e_raw, "big")
        if n.bit_length() != bits or n % 2 == 0 or not (3 <= e < n and e % 2 == 1):
            raise ProtocolError(f"{name}: the server's RSA key is malformed")
        if e.bit_length() > MAX_EXPONENT_BITS:  # real keys use 65537; OpenSSL refuses more
            raise ProtocolError(f"{name}: the server's RSA public exponent has "
                                f"{e.bit_length()} bits (at most {MAX_EXPONENT_BITS})")
        server_key = struct.pack(">I", bits) + n_raw + e_raw
        trust = self.policy.trust
        if trust is None:
            raise AuthError(f"{name}: unknown server key (no trust settings: pin it or enable "
                            "trust on first use)")
        how = trust.check_server_key("rsa", server_key)
        try:
            server_public = rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError:
            raise ProtocolError(f"{name}: the server's RSA key is malformed") from None

        client_private = rsa.generate_private_key(65537, CLIENT_KEY_BITS)
        numbers = client_private.public_key().public_numbers()
        client_key = encode_key(CLIENT_KEY_BITS, numbers.n, numbers.e)
        send(client_key)
        client_random = os.urandom(key_bits // 8)
        try:
            encrypted = server_public.encrypt(client_random, padding.PKCS1v15())
        except ValueError as exc:
            raise ProtocolError(f"{name}: cannot encrypt to the server's RSA key ({exc})") from None
        send(struct.pack(">H", len(encrypted)) + encrypted)

        (length,) = struct.unpack(">H", (yield 2))
        if length != CLIENT_KEY_BITS // 8:
            raise ProtocolError(f"{name}: encrypted server random has {length} bytes, "
                                f"expected {CLIENT_KEY_BITS // 8}")
        try:
            server_random = client_private.decrypt((yield length), padding.PKCS1v15())
        except ValueError:
            raise ProtocolError(f"{name}: cannot decrypt the server's random") from None
        if len(server_random) != key_bits // 8:
            raise ProtocolError(f"{name}: server random of {len(server_random)} bytes")

        out_key, in_key = session_keys(key_bits, client_random, server_random)
        channel = self._channel()
        channel.start_layer(EAXLayer(out_key, in_key))
        send(key_hash(key_bits, client_key, server_key))
        got = yield (20 if key_bits == 128 else 32)
        if not hmac.compare_digest(got, key_hash(key_bits, server_key, client_key)):
            raise ProtocolError(f"{name}: key hash mismatch (a man in the middle?)")
        (subtype,) = yield 1
        password = creds.password.encode()
        if len(password) > 255:
            raise AuthError("the password is too long for RSA-AES (255 bytes at most)")
        if subtype == SUBTYPE_USER_PASS:
            if creds.username is None:
                raise AuthError("the server requires a username and password")
            user = creds.username.encode()
            if len(user) > 255:
                raise AuthError("the username is too long for RSA-AES (255 bytes at most)")
            send(bytes([len(user)]) + user + bytes([len(password)]) + password)
        elif subtype == SUBTYPE_PASS:
            send(b"\0" + bytes([len(password)]) + password)
        else:
            raise ProtocolError(f"{name}: unknown credentials subtype {subtype}")
        if all_encrypted:
            channel.note(f"{name}: AES-{key_bits}-EAX session, server key {how}")
        else:
            channel.stop_layer()
            channel.note(f"{name}: credentials encrypted (AES-{key_bits}-EAX), the session is "
                         f"not; server key {how}", warn=True)


class RA2NESecurity(RSAAESSecurity):
    TYPE = RA2NE


class RA256Security(RSAAESSecurity):
    TYPE = RA256


class RANE256Security(RSAAESSecurity):
    TYPE = RANE256
