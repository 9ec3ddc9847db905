"""Security types, their names and strength, and the handlers that run them (RFC 6143 7.2)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from .constants import Security
from .errors import AuthError, ProtocolError
from .stream import Reader
from .vncauth import vnc_response

if TYPE_CHECKING:
    import ssl


@dataclass(frozen=True)
class Credentials:
    """Secrets for one session; `repr` never shows them."""

    password: str | None = None
    username: str | None = None

    def __repr__(self) -> str:
        user = f"username={self.username!r}, " if self.username else ""
        return f"Credentials({user}password={'set' if self.password else 'unset'})"


# --- methods: top-level security types (< 256) and VeNCrypt subtypes (256..264) ---------
NONE = int(Security.NONE)
VNC_AUTH = int(Security.VNC_AUTH)
RA2 = int(Security.RA2)
RA2NE = int(Security.RA2NE)
VENCRYPT = int(Security.VENCRYPT)
ANON_TLS = int(Security.TLS)
SASL = int(Security.SASL)
DH = int(Security.DH)
RA256 = int(Security.RA256)
RANE256 = int(Security.RANE256)
PLAIN = 256
TLS_NONE = 257
TLS_VNC = 258
TLS_PLAIN = 259
X509_NONE = 260
X509_VNC = 261
X509_PLAIN = 262
# 263 is X509SASL and 264 TLSSASL, as QEMU, gtk-vnc and libvncserver number them.
X509_SASL = 263
TLS_SASL = 264

# Config / command-line names, strongest first: this order is the default preference.
METHOD_NAMES: dict[str, int] = {
    "x509vnc": X509_VNC,
    "x509plain": X509_PLAIN,
    "x509sasl": X509_SASL,
    "ra256": RA256,
    "ra2": RA2,
    "x509none": X509_NONE,
    "rane256": RANE256,
    "ra2ne": RA2NE,
    "tlsvnc": TLS_VNC,
    "tlsplain": TLS_PLAIN,
    "tlssasl": TLS_SASL,
    "sasl": SASL,
    "anontls": ANON_TLS,
    "tlsnone": TLS_NONE,
    "dh": DH,
    "vncauth": VNC_AUTH,
    "plain": PLAIN,
    "none": NONE,
}
NAME_ALIASES = {"ard": "dh", "vnc": "vncauth", "ra2_256": "ra256", "ra2ne_256": "rane256",
                "tls": "anontls"}
DISPLAY_NAMES: dict[int, str] = {
    NONE: "None", VNC_AUTH: "VncAuth", RA2: "RA2", RA2NE: "RA2ne", RA256: "RA256",
    RANE256: "RAne256", DH: "DH", VENCRYPT: "VeNCrypt", PLAIN: "Plain", TLS_NONE: "TLSNone",
    TLS_VNC: "TLSVnc", TLS_PLAIN: "TLSPlain", X509_NONE: "X509None", X509_VNC: "X509Vnc",
    X509_PLAIN: "X509Plain", TLS_SASL: "TLSSASL", X509_SASL: "X509SASL", SASL: "SASL",
    ANON_TLS: "AnonTLS", int(Security.TIGHT): "Tight", int(Security.INVALID): "Invalid",
    7: "SecureVNCPlugin", 8: "MSLogonII", 13: "RealVNC", 21: "XVP", 22: "MSLogon",
}

# How much each method protects; `minimum_security` refuses anything ranked lower.
#   0 nothing; 1 password in clear; 2 DES challenge; 3 encrypted credentials only (DH);
#   3 also SASL on its own: whether the session is then encrypted depends on the mechanism
#     (DIGEST-MD5 auth-conf is; SCRAM is not), which is only known after the choice;
#   4 encrypted session, server not authenticated (anonymous TLS, AnonTLS 18, TLSSASL);
#   5 authenticated server key, session in clear after the login (RA2ne, RAne256);
#   6 authenticated server and encrypted session (X509*, RA2, RA256).
RANK: dict[int, int] = {
    NONE: 0, PLAIN: 1, VNC_AUTH: 2, DH: 3, SASL: 3, TLS_NONE: 4, TLS_VNC: 4, TLS_PLAIN: 4,
    TLS_SASL: 4, ANON_TLS: 4, RA2NE: 5, RANE256: 5, X509_NONE: 6, X509_VNC: 6, X509_PLAIN: 6,
    X509_SASL: 6, RA2: 6, RA256: 6,
}
VENCRYPT_SUBTYPES = frozenset({PLAIN, TLS_NONE, TLS_VNC, TLS_PLAIN, X509_NONE, X509_VNC,
                               X509_PLAIN, TLS_SASL, X509_SASL})
ANONYMOUS_TLS = frozenset({TLS_NONE, TLS_VNC, TLS_PLAIN, TLS_SASL})
X509 = frozenset({X509_NONE, X509_VNC, X509_PLAIN, X509_SASL})
SASL_METHODS = frozenset({SASL, TLS_SASL, X509_SASL})
NEEDS_PASSWORD = frozenset({VNC_AUTH, TLS_VNC, X509_VNC, RA2, RA2NE, RA256, RANE256})
NEEDS_USER_AND_PASSWORD = frozenset({PLAIN, TLS_PLAIN, X509_PLAIN, DH} | SASL_METHODS)

DEFAULT_PREFERENCE: tuple[int, ...] = tuple(METHOD_NAMES.values())


def method_name(method: int) -> str:
    """'SASL' for 20; an unknown number as itself."""
    return DISPLAY_NAMES.get(method, str(method))


def method_label(method: int) -> str:
    """Name and number, as refusals show them: 'SASL (20)', 'unknown (77)'."""
    name = DISPLAY_NAMES.get(method)
    return f"{name} ({method})" if name else f"unknown ({method})"


MAX_LISTED = 8  # unknown types named in a refusal; the rest are counted


def offered_labels(offered: Sequence[int]) -> str:
    """What a server offers, for a refusal: every known type, the first few unknown
    ones, and how many more (a hostile list of 255 stays one short line)."""
    unique = list(dict.fromkeys(offered))
    known = [t for t in unique if t in DISPLAY_NAMES]
    unknown = [t for t in unique if t not in DISPLAY_NAMES]
    shown = known + unknown[:MAX_LISTED]
    text = ", ".join(method_label(t) for t in shown)
    if len(unknown) > MAX_LISTED:
        text += f" and {len(unknown) - MAX_LISTED} more unknown"
    return text


def parse_method(text: str) -> int:
    """A security method by name (case-insensitive); raises ValueError naming the known ones."""
    key = text.strip().lower().replace("-", "")
    key = NAME_ALIASES.get(key, key)
    if key not in METHOD_NAMES:
        raise ValueError(f"unknown security type {text!r} (known: {', '.join(METHOD_NAMES)})")
    return METHOD_NAMES[key]


def parse_methods(names: Iterable[str]) -> tuple[int, ...]:
    out: list[int] = []
    for n in names:
        m = parse_method(n)
        if m not in out:
            out.append(m)
    if not out:
        raise ValueError("at least one security type is needed")
    return tuple(out)


def missing_credentials(method: int, creds: Credentials) -> str | None:
    """What the method needs but `creds` lacks ('a password', ...), or None."""
    if method in NEEDS_USER_AND_PASSWORD and (creds.username is None or creds.password is None):
        return "a username and password"
    if method in NEEDS_PASSWORD and creds.password is None:
        return "a password"
    return None


# --- what handlers may ask of the client and of the trust store ------------------------
class Trust(Protocol):
    """Decides whether a server's certificate or public key is accepted (see vncwall.trust)."""

    def check_certificate(self, der: bytes) -> str:
        """Accept the leaf certificate (DER) or raise AuthError; returns how it was trusted."""
        ...

    def check_server_key(self, kind: str, key: bytes) -> str:
        """Accept a raw server public key or raise AuthError; returns how it was trusted."""
        ...

    def configure_tls(self, context: ssl.SSLContext) -> None:
        """Load a client certificate into `context` when one is configured."""
        ...


class Layer(Protocol):
    """A transform between the wire and the RFB byte stream (TLS, AES-EAX framing)."""

    def feed(self, data: bytes) -> bytes:
        """Wire bytes in, plaintext out (possibly empty); raises a VncError on bad data."""
        ...

    def send(self, data: bytes) -> None:
        """Queue plaintext to be protected and sent."""
        ...

    def outgoing(self) -> bytes:
        """Wire bytes ready to be written."""
        ...

    @property
    def holding(self) -> bool:
        """Whether partial input or unsent plaintext is held inside."""
        ...


class Channel(Protocol):
    """The client side a handler talks to beyond plain send/receive."""

    def start_layer(self, layer: Layer) -> None: ...

    def stop_layer(self) -> None: ...

    def note(self, text: str, warn: bool = False) -> None: ...

    def rejection_hint(self, text: str) -> None:
        """How this server rejects a login silently (closing, or garbage for ServerInit)."""
        ...


@dataclass(frozen=True)
class Policy:
    """The session's security choices, as the handlers need them."""

    preference: tuple[int, ...] = DEFAULT_PREFERENCE
    minimum: int = NONE
    allow_insecure_plain: bool = False
    trust: Trust | None = None

    def allowed(self) -> list[int]:
        """Methods in preference order that the minimum and the plain rule let through."""
        floor = RANK.get(self.minimum, 0)
        out = []
        for m in self.preference:
            if m not in RANK or RANK[m] < floor:
                continue
            if m == PLAIN and not self.allow_insecure_plain:
                continue
            out.append(m)
        return out

    def choose(
        self, offered: Sequence[int], creds: Credentials, what: str,
        shown: Sequence[int] | None = None,
    ) -> int:
        """The first allowed, offered method the credentials can run; raises otherwise."""
        missing: str | None = None
        for m in self.allowed():
            if m not in offered:
                continue
            lack = missing_credentials(m, creds)
            if lack is not None:
                missing = missing or lack
                continue
            return m
        names = offered_labels(offered if shown is None else shown)
        if missing is not None:
            raise AuthError(f"the server requires {missing} and none was given")
        known = [t for t in offered if t in RANK]
        if known and all(RANK[t] < RANK.get(self.minimum, 0) for t in known):
            raise ProtocolError(
                f"refusing to downgrade: the server offers only {names}, below the "
                f"minimum {method_label(self.minimum)}"
            )
        raise ProtocolError(f"no {what} in common (server offers {names})")


Send = Callable[[bytes], None]


class SecurityHandler:
    """Runs one security type's exchange as a generator over the (plaintext) byte stream."""

    TYPE: ClassVar[int]

    def __init__(self, policy: Policy | None = None, channel: Channel | None = None) -> None:
        self.policy = policy or Policy()
        self.channel = channel

    def usable(self, creds: Credentials) -> bool:
        """Whether this handler can run with the credentials at hand."""
        return True

    def result_expected(self, version: tuple[int, int]) -> bool:
        """Whether a SecurityResult follows (RFC 6143: not for None before 3.8)."""
        return version >= (3, 8) or self.TYPE != NONE

    def authenticated(self) -> None:
        """Called once the server's SecurityResult said OK (a layer may start here)."""

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        return
        yield 0  # pragma: no cover

    def _channel(self) -> Channel:
        if self.channel is None:
            raise ProtocolError(f"{method_name(self.TYPE)} needs a client channel")
        return self.channel


class NoneSecurity(SecurityHandler):
    TYPE = NONE


def vnc_auth(creds: Credentials, send: Send) -> Reader[None]:
    """The VNC authentication exchange: DES of the 16-byte challenge."""
    if creds.password is None:
        raise AuthError("the server requires a VNC password")
    challenge = yield 16
    send(vnc_response(creds.password, challenge))


def plain_auth(creds: Credentials, send: Send) -> None:
    """VeNCrypt Plain: username and password lengths, then both, as UTF-8."""
    if creds.username is None or creds.password is None:
        raise AuthError("the server requires a username and password")
    user = creds.username.encode()
    password = creds.password.encode()
    send(struct.pack(">II", len(user), len(password)) + user + password)


class VncAuthSecurity(SecurityHandler):
    TYPE = VNC_AUTH

    def usable(self, creds: Credentials) -> bool:
        return creds.password is not None

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        yield from vnc_auth(creds, send)


def handler_types() -> dict[int, type[SecurityHandler]]:
    """Every top-level security type the client can run."""
    from .dh_auth import DHSecurity
    from .rsaaes import RA2NESecurity, RA256Security, RANE256Security, RSAAESSecurity
    from .sasl_auth import AnonTLSSecurity, SaslSecurity
    from .vencrypt import VeNCryptSecurity

    return {
        NONE: NoneSecurity, VNC_AUTH: VncAuthSecurity, VENCRYPT: VeNCryptSecurity, DH: DHSecurity,
        RA2: RSAAESSecurity, RA2NE: RA2NESecurity, RA256: RA256Security, RANE256: RANE256Security,
        SASL: SaslSecurity, ANON_TLS: AnonTLSSecurity,
    }


def top_level_choice(policy: Policy, offered: Sequence[int], creds: Credentials) -> tuple[int, int]:
    """(security type to send, method it stands for); VeNCrypt stands for all its subtypes."""
    expanded: list[int] = []
    for t in offered:
        expanded += sorted(VENCRYPT_SUBTYPES) if t == VENCRYPT else [t]
    method = policy.choose(expanded, creds, "security type", shown=offered)
    return (VENCRYPT if method in VENCRYPT_SUBTYPES else method), method
