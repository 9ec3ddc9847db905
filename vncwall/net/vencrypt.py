"""VeNCrypt (security type 19, version 0.2): TLS or X.509 TLS, then None, VNC or Plain auth."""

from __future__ import annotations

import hashlib
import ssl
import struct

from .errors import AuthError, ProtocolError, server_text
from .security import (
    ANONYMOUS_TLS,
    NONE,
    PLAIN,
    SASL_METHODS,
    TLS_PLAIN,
    TLS_VNC,
    VENCRYPT,
    VNC_AUTH,
    X509,
    X509_PLAIN,
    X509_VNC,
    Credentials,
    SecurityHandler,
    Send,
    method_name,
    plain_auth,
    vnc_auth,
)
from .stream import Reader
from .tlslayer import TLSLayer, anonymous_context, certificate_context

MAX_SUBTYPES = 255
MAX_REASON = 64 * 1024


def fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate or key, as 'SHA256:ab:cd:...'."""
    digest = hashlib.sha256(der).hexdigest()
    return "SHA256:" + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class VeNCryptSecurity(SecurityHandler):
    TYPE = VENCRYPT

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
                channel.start_layer(TLSLayer(anonymous_context()))
            else:
                context = certificate_context()
                if self.policy.trust is not None:
                    self.policy.trust.configure_tls(context)
                channel.start_layer(TLSLayer(context, self._verify(name)))
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

            yield from SaslExchange(self.policy, channel, within_tls=True).run(creds, send)
        elif method != NONE and method not in (ANONYMOUS_TLS | X509):
            raise ProtocolError(f"VeNCrypt subtype {method_name(method)} is not supported")

    def _verify(self, name: str) -> _Verifier:
        return _Verifier(self, name)


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
            raise AuthError(f"unknown server certificate {fingerprint(der)} "
                            "(no trust settings: pin it or enable trust on first use)")
        how = trust.check_certificate(der)
        cipher = tls.cipher()
        suite = f", {cipher[1]}" if cipher else ""
        self.handler._channel().note(f"VeNCrypt {self.name}: certificate {how}{suite}")
