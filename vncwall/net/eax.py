"""AES-EAX authenticated encryption (Bellare, Rogaway, Wagner), built from AES-CTR and CMAC."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

TAG_SIZE = 16
BLOCK = 16


class EAXTagError(ValueError):
    """The tag does not match: the data, header or nonce was altered."""


class AESEAX:
    """EAX mode over AES with a 128- or 256-bit key and 16-byte tags."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("AES-EAX needs a 16, 24 or 32 byte key")
        self._key = key

    def _omac(self, t: int, data: bytes) -> bytes:
        mac = CMAC(algorithms.AES(self._key))
        mac.update(t.to_bytes(BLOCK, "big"))
        mac.update(data)
        return mac.finalize()

    def _ctr(self, counter: bytes, data: bytes) -> bytes:
        # CTR in EAX counts over the whole 128-bit block, as cryptography's CTR does.
        ctx = Cipher(algorithms.AES(self._key), modes.CTR(counter)).encryptor()
        return ctx.update(data) + ctx.finalize()

    def encrypt(self, nonce: bytes, plaintext: bytes, header: bytes = b"") -> tuple[bytes, bytes]:
        """(ciphertext, tag)."""
        n = self._omac(0, nonce)
        h = self._omac(1, header)
        ciphertext = self._ctr(n, plaintext)
        c = self._omac(2, ciphertext)
        tag = bytes(a ^ b ^ d for a, b, d in zip(n, h, c, strict=True))
        return ciphertext, tag

    def decrypt(self, nonce: bytes, ciphertext: bytes, tag: bytes, header: bytes = b"") -> bytes:
        """The plaintext; raises EAXTagError (before decrypting) if the tag is wrong."""
        n = self._omac(0, nonce)
        h = self._omac(1, header)
        c = self._omac(2, ciphertext)
        expected = bytes(a ^ b ^ d for a, b, d in zip(n, h, c, strict=True))
        if len(tag) != TAG_SIZE or not hmac.compare_digest(expected, tag):
            raise EAXTagError("AES-EAX tag mismatch")
        return self._ctr(n, ciphertext)
