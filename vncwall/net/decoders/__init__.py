"""Registry of encoding decoders, built from each class's ENCODING attribute."""

from __future__ import annotations

from .base import DecodeContext, Decoder
from .copyrect import CopyRectDecoder
from .hextile import HextileDecoder
from .raw import RawDecoder
from .rre import CoRREDecoder, RREDecoder
from .tight import TightDecoder, TightPNGDecoder
from .trle import TRLEDecoder
from .zlib import ZlibDecoder
from .zrle import ZRLEDecoder

DECODER_CLASSES: tuple[type[Decoder], ...] = (
    RawDecoder,
    CopyRectDecoder,
    RREDecoder,
    CoRREDecoder,
    HextileDecoder,
    ZlibDecoder,
    TightDecoder,
    TightPNGDecoder,
    TRLEDecoder,
    ZRLEDecoder,
)


def make_decoders() -> dict[int, Decoder]:
    """Fresh decoder instances for one connection (zlib streams are per connection)."""
    return {int(cls.ENCODING): cls() for cls in DECODER_CLASSES}


__all__ = ["DECODER_CLASSES", "DecodeContext", "Decoder", "make_decoders"]
