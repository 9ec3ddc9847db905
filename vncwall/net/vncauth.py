"""VNC authentication (RFC 6143 section 7.2.2): DES of the challenge with the password."""

from __future__ import annotations

# cryptography >= 43 keeps DES among the "decrepit" algorithms.
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

# Bit-reversal of every byte: VNC feeds the password to DES with each key byte mirrored.
_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def vnc_key(password: str) -> bytes:
    """The 8-byte DES key VNC derives from a password (truncated/NUL-padded, bit-reversed)."""
    raw = password.encode("latin-1", errors="replace")[:8].ljust(8, b"\0")
    return raw.translate(_REVERSED)


def vnc_response(password: str, challenge: bytes) -> bytes:
    """Encrypt the server's 16-byte challenge as the VNC authentication response."""
    if len(challenge) != 16:
        raise ValueError("VNC challenge must be 16 bytes")
    key = vnc_key(password)
    # Single DES expressed as TripleDES with K1 = K2 = K3.
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()
