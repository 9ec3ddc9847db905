"""Security types SASL (20, also inside VeNCrypt TLSSASL/X509SASL) and AnonTLS (18)."""

from __future__ import annotations

import re
import struct

from . import sasl
from .errors import AuthError, ProtocolError, server_text
from .security import (
    ANON_TLS,
    MAX_LISTED,
    NONE,
    SASL,
    VNC_AUTH,
    Channel,
    Credentials,
    Policy,
    SecurityHandler,
    Send,
    method_label,
    offered_labels,
    vnc_auth,
)
from .stream import Reader
from .tlslayer import TLSLayer, anonymous_context

MAX_MECHLIST = 4096
MAX_MECH_NAME = 100  # QEMU's limit (rfbproto: 1..100 characters)
MAX_ROUNDS = 16


def _data(payload: bytes | None) -> bytes:
    """Start/step data as sent: U32 0 for none, else U32 length with a terminating NUL."""
    if payload is None:
        return struct.pack(">I", 0)
    return struct.pack(">I", len(payload) + 1) + payload + b"\0"


class SaslExchange:
    """One SASL login over the RFB stream (rfbproto 'SASL'), QEMU's wire format:

    server: U32 length, mechanism list (comma- or space-separated);
    client: U32 length, mechanism name, then start data;
    server: U32 length, data (with a NUL), U8 complete; client: step data; until complete.
    """

    def __init__(self, policy: Policy, channel: Channel, within_tls: bool) -> None:
        self.policy = policy
        self.channel = channel
        self.within_tls = within_tls
        self.mechanism: sasl.Mechanism | None = None

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        if creds.username is None or creds.password is None:
            raise AuthError("the server requires a username and password (SASL)")
        (length,) = struct.unpack(">I", (yield 4))
        if length == 0:
            raise ProtocolError(
                "the server offers no SASL mechanism (QEMU offers none that lacks an "
                "encryption layer outside X509 TLS: use digest-md5, or X509SASL)")
        if length > MAX_MECHLIST:
            raise ProtocolError(f"SASL mechanism list of {length} bytes")
        text = server_text((yield length).rstrip(b"\0"), MAX_MECHLIST)
        offered = [m.upper() for m in re.split(r"[\s,]+", text) if m]
        ours = [m for m in sasl.MECHANISMS if m in offered and (m != "PLAIN" or self.within_tls)]
        if not ours:
            listed = ", ".join(offered[:MAX_LISTED]) or "none"
            if len(offered) > MAX_LISTED:
                listed += f" and {len(offered) - MAX_LISTED} more"
            raise ProtocolError(f"no SASL mechanism in common (server offers "
                                f"{listed}; we run "
                                f"{', '.join(sasl.MECHANISMS[:-1])}, and PLAIN inside TLS)")
        name = ours[0]
        host = getattr(self.policy.trust, "host", "") or "localhost"
        mech = sasl.make_mechanism(name, creds.username, creds.password, host,
                                   want_layer=not self.within_tls)
        self.mechanism = mech
        self.channel.note(f"SASL {name}")
        self.channel.rejection_hint(f"SASL {name}: wrong user name or password? (the server "
                                    "closed the connection during the login)")
        send(struct.pack(">I", len(name)) + name.encode() + _data(mech.start()))
        for _ in range(MAX_ROUNDS):
            (length,) = struct.unpack(">I", (yield 4))
            if length > sasl.MAX_CHALLENGE:
                raise ProtocolError(f"SASL challenge of {length} bytes")
            raw = (yield length) if length else None
            (complete,) = yield 1
            if complete > 1:
                raise ProtocolError(f"SASL step with completion flag {complete}")
            data = raw[:-1] if raw and raw.endswith(b"\0") else raw
            reply = mech.step(data or b"") if data is not None or not mech.done else None
            if complete:
                if not mech.done:
                    raise AuthError(f"SASL {name}: the server ended the login without proving "
                                    "it knows the password")
                return
            send(_data(reply))
        raise ProtocolError(f"SASL login not complete after {MAX_ROUNDS} rounds")

    def start_layer(self) -> None:
        """After the SecurityResult: the mechanism's layer, or a note that there is none."""
        mech = self.mechanism
        if mech is None or self.within_tls:
            return
        layer = mech.layer()
        if layer is None:
            self.channel.note(f"SASL {mech.name}: no security layer, the session is not "
                              "encrypted", warn=True)
            return
        self.channel.start_layer(layer)
        assert isinstance(mech, sasl.DigestMD5)
        if mech.cipher is None:
            self.channel.note(f"SASL {mech.name} auth-int: signed, not encrypted", warn=True)
            return
        weak = mech.ssf < 112
        self.channel.note(f"SASL {mech.name} auth-conf, {mech.cipher} (SSF {mech.ssf})"
                          + (": a weak cipher" if weak else ""), warn=weak)


class SaslSecurity(SecurityHandler):
    """Type 20 on its own: the session is protected only by the mechanism's layer."""

    TYPE = SASL

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        self._exchange = SaslExchange(self.policy, self._channel(), within_tls=False)
        yield from self._exchange.run(creds, send)

    def authenticated(self) -> None:
        self._exchange.start_layer()


class AnonTLSSecurity(SecurityHandler):
    """Type 18 (vino): anonymous DH TLS at once, then the security types again inside it."""

    TYPE = ANON_TLS
    inner = NONE

    def result_expected(self, version: tuple[int, int]) -> bool:
        return version >= (3, 8) or self.inner != NONE

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        channel = self._channel()
        channel.note("AnonTLS: anonymous TLS, encrypted but the server is not authenticated "
                     "(no protection against a man in the middle)", warn=True)
        tls = TLSLayer(anonymous_context())
        channel.start_layer(tls)
        (count,) = yield 1
        if count == 0:
            (length,) = struct.unpack(">I", (yield 4))
            reason = server_text((yield min(length, 64 * 1024)))
            raise AuthError(f"server refused the connection: {reason or 'no reason given'}")
        offered = list((yield count))
        wanted = [m for m in self.policy.preference if m in (VNC_AUTH, NONE)]
        wanted += [m for m in (VNC_AUTH, NONE) if m not in wanted]
        for m in wanted:
            if m in offered and (m != VNC_AUTH or creds.password is not None):
                break
        else:
            names = offered_labels(offered)
            if VNC_AUTH in offered:
                raise AuthError("the server requires a password and none was given")
            raise ProtocolError(f"no security type in common inside AnonTLS "
                                f"(server offers {names})")
        self.inner = m
        send(bytes([m]))
        channel.note(f"AnonTLS ({tls.cipher}) + {method_label(m)}: encrypted, but the "
                     "server is not authenticated", warn=True)
        if m == VNC_AUTH:
            yield from vnc_auth(creds, send)
