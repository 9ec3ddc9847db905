"""Diffie-Hellman authentication (security type 30, Apple Remote Desktop style)."""

from __future__ import annotations

import hashlib
import os
import secrets
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import AuthError, ProtocolError
from .modexp import mod_exp
from .security import DH, Credentials, SecurityHandler, Send
from .stream import Reader

MIN_KEY_BYTES = 128  # 1024-bit modulus: what macOS sends; anything smaller is refused
# 4096 bits: four times what macOS (the servers of this type) sends, room for a hardened
# server; larger moduli only make the exchange slower for a hostile server's benefit.
MAX_KEY_BYTES = 512
# Our private exponent: 512 random bits, twice the ~150-bit strength of a 4096-bit
# group (NIST SP 800-56A's short-exponent rule), instead of one as long as the modulus:
# a tenth of the work, done by libcrypto without holding the GIL (modexp.py).
PRIVATE_BITS = 512
FIELD = 64  # username and password each get 64 bytes, NUL-terminated


def credentials_block(username: str, password: str) -> bytes:
    """128 bytes: username and password, each NUL-terminated in 64, random padding."""
    block = bytearray(os.urandom(2 * FIELD))
    for i, (what, text) in enumerate((("username", username), ("password", password))):
        raw = text.encode()
        if len(raw) >= FIELD:
            raise AuthError(f"the {what} is too long for DH authentication (63 bytes at most)")
        block[i * FIELD : i * FIELD + len(raw) + 1] = raw + b"\0"
    return bytes(block)


def aes128_ecb(key: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(data) + enc.finalize()


def check_group(generator: int, prime: int, server_public: int, key_bytes: int) -> None:
    """Refuse parameters that make the exchange trivial to break."""
    if not MIN_KEY_BYTES <= key_bytes <= MAX_KEY_BYTES:
        raise ProtocolError(f"DH modulus of {key_bytes * 8} bits is outside "
                            f"{MIN_KEY_BYTES * 8}..{MAX_KEY_BYTES * 8}")
    if prime.bit_length() <= 8 * (key_bytes - 1) or prime % 2 == 0:
        raise ProtocolError(f"DH modulus is not a {key_bytes * 8}-bit odd number")
    if not 2 <= generator <= prime - 2:
        raise ProtocolError(f"DH generator {generator} is out of range")
    if not 2 <= server_public <= prime - 2:
        raise ProtocolError("DH server public value is out of range")


class DHSecurity(SecurityHandler):
    TYPE = DH

    def usable(self, creds: Credentials) -> bool:
        return creds.username is not None and creds.password is not None

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        if creds.username is None or creds.password is None:
            raise AuthError("the server requires a username and password")
        generator, key_bytes = struct.unpack(">HH", (yield 4))
        if not MIN_KEY_BYTES <= key_bytes <= MAX_KEY_BYTES:
            raise ProtocolError(f"DH modulus of {key_bytes * 8} bits is outside "
                                f"{MIN_KEY_BYTES * 8}..{MAX_KEY_BYTES * 8}")
        prime = int.from_bytes((yield key_bytes), "big")
        server_public = int.from_bytes((yield key_bytes), "big")
        check_group(generator, prime, server_public, key_bytes)
        private = secrets.randbits(PRIVATE_BITS) | (1 << (PRIVATE_BITS - 1))
        public = mod_exp(generator, private, prime)
        shared = mod_exp(server_public, private, prime)
        if shared in (0, 1, prime - 1):
            raise ProtocolError("DH shared secret is degenerate")
        key = hashlib.md5(shared.to_bytes(key_bytes, "big")).digest()
        block = credentials_block(creds.username, creds.password)
        send(aes128_ecb(key, block) + public.to_bytes(key_bytes, "big"))
        if self.channel is not None:
            self.channel.note("DH: credentials encrypted, the session is not; the server is "
                              "not authenticated", warn=True)
