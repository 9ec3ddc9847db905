"""Error hierarchy for RFB sessions: connection, authentication, protocol."""

from __future__ import annotations


class VncError(Exception):
    """Base class of every error a session can end with; its text is one line."""

    exit_code = 1


class ConnectError(VncError):
    """The server could not be reached (refused, unreachable, timed out, closed)."""

    exit_code = 3


class AuthError(VncError):
    """Authentication failed or needs credentials we do not have."""

    exit_code = 4


class ProtocolError(VncError):
    """The server broke the protocol or we share nothing with it."""

    exit_code = 5


MAX_TEXT = 512


def server_text(raw: bytes, limit: int = MAX_TEXT) -> str:
    """Render a server-supplied string as one line of plain, length-capped text."""
    text = raw.decode("utf-8", errors="replace")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text
