"""TLS as a sans-IO layer: ssl.MemoryBIO + SSLObject between the wire and the RFB parser."""

from __future__ import annotations

import ssl
from collections.abc import Callable

from .errors import ConnectError, ProtocolError

CHUNK = 64 * 1024
# Anonymous Diffie-Hellman suites exist only up to TLS 1.2 and need security level 0.
ANON_CIPHERS = "aNULL:!eNULL:@SECLEVEL=0"


def anonymous_context() -> ssl.SSLContext:
    """A client context for VeNCrypt TLS* subtypes: anonymous (EC)DH, TLS 1.2 at most."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ANON_CIPHERS)
    return ctx


def certificate_context() -> ssl.SSLContext:
    """A client context for X509* subtypes; the certificate is judged after the handshake."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # vncwall.trust checks CA, host name, pins, known hosts
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _reason(exc: ssl.SSLError) -> str:
    return exc.reason or exc.strerror or type(exc).__name__


class TLSLayer:
    """Client-side TLS over memory buffers; plaintext queued before the handshake waits."""

    def __init__(
        self,
        context: ssl.SSLContext,
        on_handshake: Callable[[ssl.SSLObject], None] | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._in, self._out, server_side=False,
                                     server_hostname=server_hostname)
        self._on_handshake = on_handshake
        self._ready = False
        self._queued = bytearray()
        self._handshake()

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def holding(self) -> bool:
        return bool(self._queued) or self._in.pending > 0

    @property
    def cipher(self) -> str:
        c = self._ssl.cipher()
        return f"{c[1]} {c[0]}" if c else "no cipher yet"

    def _handshake(self) -> None:
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            return
        except ssl.SSLError as exc:
            raise ProtocolError(f"TLS handshake failed: {_reason(exc)}") from None
        self._ready = True
        if self._on_handshake is not None:
            self._on_handshake(self._ssl)  # may raise AuthError: nothing was sent yet
        if self._queued:
            data = bytes(self._queued)
            self._queued.clear()
            self.send(data)

    def feed(self, data: bytes) -> bytes:
        if data:
            self._in.write(data)
        if not self._ready:
            self._handshake()
            if not self._ready:
                return b""
        out = bytearray()
        while True:
            try:
                chunk = self._ssl.read(CHUNK)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                raise ConnectError("server closed the TLS session") from None
            except ssl.SSLError as exc:
                raise ProtocolError(f"TLS error: {_reason(exc)}") from None
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def send(self, data: bytes) -> None:
        if not self._ready:
            self._queued += data
            return
        view = memoryview(data)
        while view:
            try:
                n = self._ssl.write(view)
            except ssl.SSLError as exc:
                raise ProtocolError(f"TLS error: {_reason(exc)}") from None
            view = view[n:]

    def outgoing(self) -> bytes:
        return self._out.read()
