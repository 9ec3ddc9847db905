"""In-test RFB servers for Apple DH (30) and RSA-AES (5, 6, 129, 130), written from the spec."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from vncwall.net.eax import AESEAX, EAXTagError
from vncwall.net.pixelformat import RGBX32

# RFC 2409 Oakley group 2: a 1024-bit safe prime, generator 2 (what macOS sends).
OAKLEY2 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    16,
)
WIDTH, HEIGHT = 48, 32


def spec_image() -> npt.NDArray[np.uint8]:
    """The (h, w, 3) picture every spec server shows."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    img = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    img[..., 0] = (x * 5) % 256
    img[..., 1] = (y * 7) % 256
    img[..., 2] = ((x + y) * 3) % 256
    return img


class ClosedError(Exception):
    """The client went away."""


class Wire:
    """Blocking reads and writes, optionally inside AES-EAX messages (server side)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.eax: tuple[AESEAX, AESEAX] | None = None  # (send, receive)
        self.counters = [0, 0]
        self.plain = bytearray()
        self.tamper_next = False

    def raw_read(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ClosedError
            data += chunk
        return bytes(data)

    def read(self, n: int) -> bytes:
        if self.eax is None:
            return self.raw_read(n)
        while len(self.plain) < n:
            header = self.raw_read(2)
            (length,) = struct.unpack(">H", header)
            body = self.raw_read(length)
            tag = self.raw_read(16)
            nonce = self.counters[1].to_bytes(16, "little")
            self.counters[1] += 1
            self.plain += self.eax[1].decrypt(nonce, body, tag, header)
        out = bytes(self.plain[:n])
        del self.plain[:n]
        return out

    def write(self, data: bytes) -> None:
        if self.eax is not None:
            header = struct.pack(">H", len(data))
            nonce = self.counters[0].to_bytes(16, "little")
            self.counters[0] += 1
            body, tag = self.eax[0].encrypt(nonce, data, header)
            if self.tamper_next:
                self.tamper_next = False
                body = bytes([body[0] ^ 1]) + body[1:]
            data = header + body + tag
        self.sock.sendall(data)


@dataclass
class SpecServer:
    """Serves one small picture behind security type `security`; see `serve()`."""

    security: int
    username: str = "alice"
    password: str = "correct horse"
    rsa_bits: int = 2048  # server RSA key size (RSA-AES)
    declared_bits: int | None = None  # lie about the key size on the wire
    exponent: int | None = None  # RSA-AES: send this public exponent instead of the key's
    subtype: int = 1  # RSA-AES: 1 username + password, 2 password only
    tamper: bool = False  # RSA-AES: alter the server's hash message in transit
    dh_key_bytes: int = 128
    dh_generator: int = 2
    rsa_key: rsa.RSAPrivateKey | None = None
    results: list[str] = field(default_factory=list)  # what each connection ended with

    def __post_init__(self) -> None:
        if self.security in (5, 6, 129, 130) and self.rsa_key is None:
            self.rsa_key = rsa.generate_private_key(65537, self.rsa_bits)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = int(self._sock.getsockname()[1])
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1::{self.port}"

    def server_key_blob(self) -> bytes:
        """The RSA public key exactly as sent (what fingerprints are taken of)."""
        assert self.rsa_key is not None
        nums = self.rsa_key.public_key().public_numbers()
        bits = self.declared_bits or self.rsa_bits
        size = (bits + 7) // 8
        e = nums.e if self.exponent is None else self.exponent
        return struct.pack(">I", bits) + nums.n.to_bytes(size, "big") + e.to_bytes(size, "big")

    def close(self) -> None:
        self._stop = True
        with suppress(OSError):
            self._sock.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        wire = Wire(conn)
        try:
            self.results.append(self._session(wire))
        except (ClosedError, OSError):
            self.results.append("closed")
        except EAXTagError:
            self.results.append("client MAC failed")
        finally:
            with suppress(OSError):
                conn.close()

    def _session(self, wire: Wire) -> str:
        wire.write(b"RFB 003.008\n")
        wire.raw_read(12)
        wire.write(bytes([1, self.security]))
        if wire.raw_read(1)[0] != self.security:
            return "wrong type chosen"
        if self.security == 30:
            user, password = self._dh(wire)
        else:
            user, password = self._rsa_aes(wire)
        want_user = self.username if self.security == 30 or self.subtype == 1 else ""
        if (user, password) != (want_user, self.password):
            reason = b"wrong user name or password"
            wire.write(struct.pack(">II", 1, len(reason)) + reason)
            return "refused"
        wire.write(struct.pack(">I", 0))
        wire.read(1)  # ClientInit
        name = b"spec-server"
        init = struct.pack(">HH", WIDTH, HEIGHT) + RGBX32.pack() + struct.pack(">I", len(name))
        wire.write(init + name)
        pixels = np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8)
        pixels[..., :3] = spec_image()
        while True:
            kind = wire.read(1)[0]
            if kind == 0:
                wire.read(19)
            elif kind == 2:
                (count,) = struct.unpack(">xH", wire.read(3))
                wire.read(4 * count)
            elif kind == 3:
                wire.read(9)
                header = struct.pack(">BxHHHHHi", 0, 1, 0, 0, WIDTH, HEIGHT, 0)
                wire.write(header + pixels.tobytes())
            elif kind == 4:
                wire.read(7)
            elif kind == 5:
                wire.read(5)
            elif kind == 6:
                (length,) = struct.unpack(">3xI", wire.read(7))
                wire.read(length)
            else:
                return f"unknown client message {kind}"

    # --- Diffie-Hellman (type 30) -------------------------------------------------------
    def _dh(self, wire: Wire) -> tuple[str, str]:
        size = self.dh_key_bytes
        top = 1 << (8 * size - 1)  # any odd number of the right width: only sizes are tested
        prime = OAKLEY2 if size == 128 else (OAKLEY2 % top) | top | 1
        private = int.from_bytes(os.urandom(32), "big") | 1
        public = pow(self.dh_generator, private, prime) if size == 128 else 5
        wire.write(struct.pack(">HH", self.dh_generator, size) + prime.to_bytes(size, "big")
                   + public.to_bytes(size, "big"))
        encrypted = wire.raw_read(128)
        client_public = int.from_bytes(wire.raw_read(size), "big")
        shared = pow(client_public, private, prime)
        key = hashlib.md5(shared.to_bytes(size, "big")).digest()
        dec = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
        block = dec.update(encrypted) + dec.finalize()
        user = block[:64].split(b"\0", 1)[0].decode(errors="replace")
        password = block[64:].split(b"\0", 1)[0].decode(errors="replace")
        return user, password

    # --- RSA-AES (5, 6, 129, 130) -------------------------------------------------------
    def _rsa_aes(self, wire: Wire) -> tuple[str, str]:
        assert self.rsa_key is not None
        key_bits = 256 if self.security in (129, 130) else 128
        server_key = self.server_key_blob()
        wire.write(server_key)
        (client_bits,) = struct.unpack(">I", wire.raw_read(4))
        csize = (client_bits + 7) // 8
        cn = wire.raw_read(csize)
        ce = wire.raw_read(csize)
        client_key = struct.pack(">I", client_bits) + cn + ce
        client_public = rsa.RSAPublicNumbers(int.from_bytes(ce, "big"),
                                             int.from_bytes(cn, "big")).public_key()
        server_random = os.urandom(key_bits // 8)
        enc = client_public.encrypt(server_random, padding.PKCS1v15())
        wire.write(struct.pack(">H", len(enc)) + enc)
        (length,) = struct.unpack(">H", wire.raw_read(2))
        client_random = self.rsa_key.decrypt(wire.raw_read(length), padding.PKCS1v15())
        digest = hashlib.sha1 if key_bits == 128 else hashlib.sha256
        klen = key_bits // 8
        send_key = digest(client_random + server_random).digest()[:klen]
        receive_key = digest(server_random + client_random).digest()[:klen]
        wire.eax = (AESEAX(send_key), AESEAX(receive_key))
        got = wire.read(digest().digest_size)
        if got != digest(client_key + server_key).digest():
            raise ClosedError
        wire.tamper_next = self.tamper
        wire.write(digest(server_key + client_key).digest())
        wire.write(bytes([self.subtype]))
        ulen = wire.read(1)[0]
        user = wire.read(ulen).decode(errors="replace")
        plen = wire.read(1)[0]
        password = wire.read(plen).decode(errors="replace")
        if self.security in (6, 130):
            if wire.plain:
                raise ClosedError
            wire.eax = None
        return user, password


@contextmanager
def spec_server(security: int, **kwargs: object) -> Iterator[SpecServer]:
    server = SpecServer(security, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.close()
