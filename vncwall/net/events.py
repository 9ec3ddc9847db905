"""Events the sans-IO client emits while it parses the server's byte stream."""

from __future__ import annotations

from dataclasses import dataclass, field

from .framebuffer import Rect
from .pixelformat import PixelFormat, U8Array


@dataclass(frozen=True)
class SecurityChosen:
    """The security type the client picked (and the protocol version agreed)."""

    version: tuple[int, int]
    security: int


@dataclass(frozen=True)
class Connected:
    """ServerInit arrived: the session is live and the framebuffer exists."""

    width: int
    height: int
    name: str
    server_format: PixelFormat


@dataclass(frozen=True)
class UpdateBegin:
    """A FramebufferUpdate started arriving (time to pipeline the next request)."""

    rects: int


@dataclass(frozen=True)
class UpdateEnd:
    """A FramebufferUpdate was fully decoded; `rects` are the pixel rectangles it painted.

    `received_at` is the client clock when the chunk holding the update's last byte was
    handed to the client, `decoded_at` when its decoding ended; `latency_s` runs from
    sending the request this update answers to `decoded_at` (None when it answered no
    request: continuous updates).
    """

    rects: tuple[Rect, ...]
    encodings: frozenset[int]
    latency_s: float | None = field(default=None, compare=False, repr=False)
    received_at: float = field(default=0.0, compare=False, repr=False)
    decoded_at: float = field(default=0.0, compare=False, repr=False)


@dataclass(frozen=True)
class ContinuousUpdates:
    """Continuous updates started (True) or the server ended them (False)."""

    active: bool


@dataclass(frozen=True)
class RoundTrip:
    """The server answered one of our fences: `seconds` from sending it to the answer,
    with every update the server sent before the answer decoded."""

    seconds: float


@dataclass(frozen=True)
class Resized:
    """The desktop changed size (DesktopSize / ExtendedDesktopSize)."""

    width: int
    height: int


@dataclass(frozen=True)
class ResizeRefused:
    """The server answered our SetDesktopSize with an error status."""

    status: int


@dataclass(frozen=True)
class NameChanged:
    name: str


@dataclass(frozen=True)
class CursorShape:
    """A new local cursor image: (h, w, 4) RGBA with straight alpha, and its hotspot."""

    hot_x: int
    hot_y: int
    rgba: U8Array


@dataclass(frozen=True)
class PointerMoved:
    """The server moved the pointer (PointerPos pseudo-encoding)."""

    x: int
    y: int


@dataclass(frozen=True)
class Bell:
    pass


@dataclass(frozen=True)
class CutText:
    """Server clipboard text (from Latin-1, or UTF-8 with the Extended Clipboard; capped)."""

    text: str


@dataclass(frozen=True)
class LedState:
    """QEMU LED state: bit 0 Scroll Lock, bit 1 Num Lock, bit 2 Caps Lock."""

    state: int


@dataclass(frozen=True)
class PointerMode:
    """QEMU's pointer type change (sent by QEMU before 8.2 even unasked): whether the
    guest's pointer is absolute (a tablet) or relative (a mouse, moved by differences)."""

    absolute: bool


@dataclass(frozen=True)
class ColourMapChanged:
    first: int
    count: int


Event = (
    SecurityChosen | Connected | UpdateBegin | UpdateEnd | Resized | ResizeRefused
    | ContinuousUpdates | RoundTrip | NameChanged | CursorShape | PointerMoved | Bell | CutText
    | ColourMapChanged | LedState | PointerMode
)
