"""Security types a client can run after negotiation (RFC 6143 sections 7.1.2, 7.2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from .constants import Security
from .errors import AuthError
from .stream import Reader
from .vncauth import vnc_response


@dataclass(frozen=True)
class Credentials:
    """Secrets for one session; `repr` never shows them."""

    password: str | None = None
    username: str | None = None

    def __repr__(self) -> str:
        user = f"username={self.username!r}, " if self.username else ""
        return f"Credentials({user}password={'set' if self.password else 'unset'})"


Send = Callable[[bytes], None]


class SecurityHandler:
    """Runs one security type's exchange as a generator over the byte stream."""

    TYPE: ClassVar[Security]

    def usable(self, creds: Credentials) -> bool:
        """Whether this handler can run with the credentials at hand."""
        return True

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        return
        yield 0  # pragma: no cover


class NoneSecurity(SecurityHandler):
    TYPE = Security.NONE


class VncAuthSecurity(SecurityHandler):
    TYPE = Security.VNC_AUTH

    def usable(self, creds: Credentials) -> bool:
        return creds.password is not None

    def run(self, creds: Credentials, send: Send) -> Reader[None]:
        if creds.password is None:
            raise AuthError("the server requires a VNC password")
        challenge = yield 16
        send(vnc_response(creds.password, challenge))


HANDLERS: dict[int, type[SecurityHandler]] = {
    int(Security.NONE): NoneSecurity,
    int(Security.VNC_AUTH): VncAuthSecurity,
}

# Default preference, strongest first; types without credentials are skipped.
DEFAULT_PREFERENCE: tuple[int, ...] = (int(Security.VNC_AUTH), int(Security.NONE))
