"""VeNCrypt (security type 19, version 0.2): TLS or X.509 TLS, then None, VNC, Plain or SASL."""

from __future__ import annotations

import hashlib
import ssl
import struct
from typing import TYPE_CHECKING

from .errors import AuthError, ProtocolError, server_text
from .security import (
    ANONYMOUS_TLS,
    NONE,
    PLAIN,
    SASL_METHODS,
    TLS_PLAIN,
    TLS_SASL,
    TLS_VNC,
    VENCRYPT,
    VNC_AUTH,
    X509,
    X509_PLAIN,
    X509_VNC,
    Channel,
    Credentials,
    Layer,
    SecurityHandler,
    Send,
    method_name,
    plain_auth,
    vnc_auth,
)
from .stream import Reader
from .tlslayer import TLSLayer, anonymous_context, certificate_context

if TYPE_CHECKING:
    from .sasl_auth import SaslExchange

MAX_SUBTYPES = 255
MAX_REASON = 64 * 1024


def fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate or key, as 'SHA256:ab:cd:...'."""
    digest = hashlib.sha256(der).hexdigest()
    return "SHA256:" + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class VeNCryptSecurity(SecurityHandler):
    TYPE = VENCRYPT
    _exchange: SaslExchange | None = None

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        major, minor = yield 2
        if (major, minor) < (0, 2):
            raise ProtocolError(f"the server speaks VeNCrypt {major}.{minor}; 0.2 is needed")
        send(b"\x00\x02")
        (status,) = yield 1
        if status != 0:
            raise ProtocolError("the server refused VeNCrypt version 0.2")
        (count,) = yield 1
        if count == 0:
            raise ProtocolError("the server offers no VeNCrypt subtypes")
        subtypes = list(struct.unpack(f">{count}I", (yield 4 * count)))
        method = self.policy.choose(subtypes, creds, "VeNCrypt subtype")
        send(struct.pack(">I", method))
        channel = self._channel()
        tls: TLSLayer | None = None
        if method in ANONYMOUS_TLS or method in X509:
            (ack,) = yield 1
            if ack == 0:
                (result,) = struct.unpack(">I", (yield 4))
                reason = "the server could not start TLS"
                if result in (1, 2):
                    (length,) = struct.unpack(">I", (yield 4))
                    if length > MAX_REASON:
                        raise ProtocolError(f"failure reason of {length} bytes is too long")
                    reason = server_text((yield length)) or reason
                raise AuthError(f"authentication failed: {reason}")
            if ack != 1:
                raise ProtocolError(f"unexpected VeNCrypt TLS acknowledgement {ack}")
            name = method_name(method)
            if method in ANONYMOUS_TLS:
                channel.note(f"VeNCrypt {name}: anonymous TLS, encrypted but the server is not "
                             "authenticated (no protection against a man in the middle)",
                             warn=True)
                tls = TLSLayer(anonymous_context())
                channel.start_layer(tls)
            else:
                context = certificate_context()
                if self.policy.trust is not None:
                    self.policy.trust.configure_tls(context)
                tls = TLSLayer(context, self._verify(name))
                channel.start_layer(tls)
        elif method == PLAIN:
            channel.note("VeNCrypt Plain: the password is sent in the clear", warn=True)
        if method in (TLS_VNC, X509_VNC, VNC_AUTH):
            yield from vnc_auth(creds, send)
        elif method in (PLAIN, TLS_PLAIN, X509_PLAIN):
            plain_auth(creds, send)
            channel.rejection_hint(f"VeNCrypt {method_name(method)}: the server may have "
                                   "rejected the login")
        elif method in SASL_METHODS:
            from .sasl_auth import SaslExchange

            # QEMU, the one TLSSASL server, takes anonymous TLS as too weak on its own: it
            # wants a SASL security layer (SSF >= 56) inside it. X509SASL needs none.
            if method == TLS_SASL and tls is not None:
                self._exchange = SaslExchange(self.policy, _InsideTLS(channel, tls),
                                              within_tls=False)
            else:
                self._exchange = SaslExchange(self.policy, channel, within_tls=True)
            yield from self._exchange.run(creds, send)
        elif method != NONE and method not in (ANONYMOUS_TLS | X509):
            raise ProtocolError(f"VeNCrypt subtype {method_name(method)} is not supported")

    def authenticated(self) -> None:
        exchange = self._exchange
        if exchange is None or exchange.within_tls:
            return
        mech = exchange.mechanism
        if mech is not None and mech.layer() is None:
            return  # SCRAM inside TLS: the TLS layer alone protects the session
        exchange.start_layer()

    def _verify(self, name: str) -> _Verifier:
        return _Verifier(self, name)


class _Stacked:
    """A SASL security layer inside the TLS layer: plaintext -> SASL -> TLS -> wire."""

    def __init__(self, outer: Layer, inner: Layer) -> None:
        self.outer = outer
        self.inner = inner

    def feed(self, data: bytes) -> bytes:
        return self.inner.feed(self.outer.feed(data))

    def send(self, data: bytes) -> None:
        self.inner.send(data)
        self.outer.send(self.inner.outgoing())

    def outgoing(self) -> bytes:
        pending = self.inner.outgoing()
        if pending:
            self.outer.send(pending)
        return self.outer.outgoing()

    @property
    def holding(self) -> bool:
        return self.outer.holding or self.inner.holding


class _InsideTLS:
    """The client channel for a SASL exchange inside TLS: its layer goes inside the TLS."""

    def __init__(self, channel: Channel, tls: Layer) -> None:
        self.channel = channel
        self.tls = tls

    def start_layer(self, layer: Layer) -> None:
        self.channel.stop_layer()
        self.channel.start_layer(_Stacked(self.tls, layer))

    def stop_layer(self) -> None:
        self.channel.stop_layer()

    def note(self, text: str, warn: bool = False) -> None:
        self.channel.note(text, warn)

    def rejection_hint(self, text: str) -> None:
        self.channel.rejection_hint(text)


class _Verifier:
    """Judges the server's certificate once the TLS handshake is done."""

    def __init__(self, handler: VeNCryptSecurity, name: str) -> None:
        self.handler = handler
        self.name = name

    def __call__(self, tls: ssl.SSLObject) -> None:
        der = tls.getpeercert(binary_form=True)
        if not der:
            raise AuthError("the server sent no certificate")
        trust = self.handler.policy.trust
        if trust is None:
            raise AuthError(f"unknown server certificate {fingerprint(der)} (no trust "
                            "settings): set ca_file (--ca-file), pin it with fingerprint "
                            "(--pin), or enable trust_on_first_use (--trust-on-first-use)")
        how = trust.check_certificate(der)
        cipher = tls.cipher()
        suite = f", {cipher[1]}" if cipher else ""
        self.handler._channel().note(f"VeNCrypt {self.name}: certificate {how}{suite}")
