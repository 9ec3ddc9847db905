"""What every encoding decoder shares: the decode context and the Decoder interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..constants import Encoding
from ..framebuffer import Framebuffer, Rect
from ..pixelformat import PixelData, PixelFormat, U8Array
from ..stream import Reader

if TYPE_CHECKING:
    from ..budget import WorkBudget


@dataclass
class DecodeContext:
    """What a decoder writes into and how it reads pixels off the wire."""

    fb: Framebuffer
    pf: PixelFormat
    colour_map: U8Array | None = None
    budget: WorkBudget | None = None  # charged for work beyond the rectangle's own area
    # accel.prepare's answer for this context (pixel format and colour map are fixed).
    accel_cache: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def bpp(self) -> int:
        """Bytes per wire pixel."""
        return self.pf.bytes_per_pixel

    @property
    def cpp(self) -> int:
        """Bytes per compact pixel (ZRLE CPIXEL, Tight TPIXEL)."""
        return self.pf.compact_size

    def pixels(self, data: PixelData, count: int) -> U8Array:
        """`count` wire pixels as (count, 4) RGBX."""
        return self.pf.to_rgbx(data, count, self.colour_map)

    def cpixels(self, data: PixelData, count: int) -> U8Array:
        """`count` compact pixels as (count, 4) RGBX."""
        return self.pf.compact_to_rgbx(data, count, self.colour_map)

    def charge(self, pixels: int, what: str) -> None:
        """Pay for `pixels` writes the client could not see coming (overlapping
        subrectangles); ProtocolError when the connection's work budget is spent."""
        if self.budget is not None:
            self.budget.charge(pixels, what)

    def pixel(self, data: bytes) -> U8Array:
        """One wire pixel as an RGBX colour of shape (4,)."""
        colour: U8Array = self.pixels(data, 1)[0]
        return colour


class Decoder:
    """Decodes one encoding's rectangles; one instance per connection (zlib state).

    `decode` is a generator: it yields byte counts, receives the bytes, and writes the
    decoded pixels into `ctx.fb`. The client has already checked that `rect` lies
    inside the framebuffer; anything else wrong raises ProtocolError.
    """

    ENCODING: ClassVar[Encoding]

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        raise NotImplementedError
        yield 0  # pragma: no cover


def empty_rgbx(count: int) -> U8Array:
    """A scratch (count, 4) RGBX array."""
    return np.empty((count, 4), dtype=np.uint8)
