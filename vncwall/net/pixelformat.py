"""Pixel formats (RFC 6143 section 7.4) and vectorised conversion of wire pixels to RGBX."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .errors import ProtocolError

U8Array = npt.NDArray[np.uint8]
# Wire pixels as they come: bytes, a view of received bytes, or an array.
PixelData = bytes | memoryview | U8Array

_STRUCT = struct.Struct(">BBBBHHHBBB3x")


def _scale_table(maximum: int) -> U8Array:
    """Lookup table mapping 0..maximum to 0..255 with rounding."""
    values = np.arange(maximum + 1, dtype=np.uint32)
    return ((values * 255 + maximum // 2) // maximum).astype(np.uint8)


@dataclass(frozen=True)
class PixelFormat:
    """An RFB PIXEL_FORMAT; `to_rgbx` turns wire pixels into R, G, B, X bytes."""

    bits_per_pixel: int
    depth: int
    big_endian: bool
    true_colour: bool
    red_max: int
    green_max: int
    blue_max: int
    red_shift: int
    green_shift: int
    blue_shift: int
    _tables: tuple[U8Array, U8Array, U8Array] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )
    # compact_pad and rgb24, worked out once (decoders ask per rectangle).
    _pad: int | None = field(default=None, init=False, repr=False, compare=False, hash=False)
    rgb24: bool = field(default=False, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pad", self._find_compact_pad())
        # True colour, 32 bpp, depth 24, 8-bit channels: Tight sends such pixels as
        # 3 bytes R, G, B whatever the shifts and endianness (rfbproto 'TPIXEL').
        object.__setattr__(self, "rgb24", (
            self.true_colour and self.bits_per_pixel == 32 and self.depth == 24
            and (self.red_max, self.green_max, self.blue_max) == (255, 255, 255)
        ))

    # --- wire form -------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes) -> PixelFormat:
        """Parse and validate the 16-byte wire form."""
        bpp, depth, be, tc, rmax, gmax, bmax, rsh, gsh, bsh = _STRUCT.unpack(data)
        pf = cls(bpp, depth, bool(be), bool(tc), rmax, gmax, bmax, rsh, gsh, bsh)
        pf.validate()
        return pf

    def pack(self) -> bytes:
        """The 16-byte wire form."""
        return _STRUCT.pack(
            self.bits_per_pixel, self.depth, int(self.big_endian), int(self.true_colour),
            self.red_max, self.green_max, self.blue_max,
            self.red_shift, self.green_shift, self.blue_shift,
        )

    def validate(self) -> None:
        """Raise ProtocolError unless this format is one a client can decode."""
        bpp = self.bits_per_pixel
        if bpp not in (8, 16, 32):
            raise ProtocolError(f"unsupported bits-per-pixel {bpp}")
        if not self.true_colour:
            if bpp == 32:
                raise ProtocolError("colour-map mode with 32 bits per pixel")
            return
        for name, mx, sh in (
            ("red", self.red_max, self.red_shift),
            ("green", self.green_max, self.green_shift),
            ("blue", self.blue_max, self.blue_shift),
        ):
            if mx == 0 or mx & (mx + 1):
                raise ProtocolError(f"{name}-max {mx} is not 2^n-1")
            if sh + mx.bit_length() > bpp:
                raise ProtocolError(f"{name} shift {sh} with max {mx} exceeds {bpp} bits")

    # --- sizes -----------------------------------------------------------------
    @property
    def bytes_per_pixel(self) -> int:
        return self.bits_per_pixel // 8

    @property
    def is_native(self) -> bool:
        """True when wire pixels are already R, G, B, X bytes in memory."""
        return (
            self.true_colour and self.bits_per_pixel == 32 and not self.big_endian
            and (self.red_max, self.green_max, self.blue_max) == (255, 255, 255)
            and (self.red_shift, self.green_shift, self.blue_shift) == (0, 8, 16)
        )

    @property
    def compact_pad(self) -> int | None:
        """Where a 3-byte compact pixel gets its zero byte (0 = before, 3 = after), or None."""
        return self._pad

    def _find_compact_pad(self) -> int | None:
        if not (self.true_colour and self.bits_per_pixel == 32 and self.depth <= 24):
            return None
        bits = 0
        for mx, sh in (
            (self.red_max, self.red_shift),
            (self.green_max, self.green_shift),
            (self.blue_max, self.blue_shift),
        ):
            bits |= mx << sh
        in_low = bits < (1 << 24)
        in_high = (bits & 0xFF) == 0
        if in_low:
            return 0 if self.big_endian else 3
        if in_high:
            return 3 if self.big_endian else 0
        return None

    @property
    def compact_size(self) -> int:
        """Size of a ZRLE CPIXEL / Tight TPIXEL: 3 for compactable 32 bpp formats."""
        return 3 if self.compact_pad is not None else self.bytes_per_pixel

    # --- conversion ------------------------------------------------------------
    def _scale_tables(self) -> tuple[U8Array, U8Array, U8Array]:
        tables = self._tables
        if tables is None:
            tables = (
                _scale_table(self.red_max),
                _scale_table(self.green_max),
                _scale_table(self.blue_max),
            )
            object.__setattr__(self, "_tables", tables)
        return tables

    def values(self, data: PixelData, count: int) -> npt.NDArray[np.uint32]:
        """Wire pixels as integer pixel values (for palettes and colour maps)."""
        bpp = self.bytes_per_pixel
        raw = np.frombuffer(data, dtype=np.uint8, count=count * bpp)
        order = ">" if self.big_endian else "<"
        return raw.view(f"{order}u{bpp}").astype(np.uint32)

    def to_rgbx(
        self, data: PixelData, count: int, colour_map: U8Array | None = None
    ) -> U8Array:
        """Convert `count` wire pixels to a (count, 4) uint8 array of R, G, B, X."""
        if self.is_native:
            return np.frombuffer(data, dtype=np.uint8, count=count * 4).reshape(count, 4)
        ints = self.values(data, count)
        return self.values_to_rgbx(ints, colour_map)

    def values_to_rgbx(
        self, ints: npt.NDArray[np.uint32], colour_map: U8Array | None = None
    ) -> U8Array:
        """Convert integer pixel values to (n, 4) RGBX."""
        if not self.true_colour:
            if colour_map is None:
                raise ProtocolError("colour-map pixel before any SetColourMapEntries")
            mapped: U8Array = colour_map[ints & (len(colour_map) - 1)]
            return mapped
        rt, gt, bt = self._scale_tables()
        out = np.empty((len(ints), 4), dtype=np.uint8)
        out[:, 0] = rt[(ints >> self.red_shift) & self.red_max]
        out[:, 1] = gt[(ints >> self.green_shift) & self.green_max]
        out[:, 2] = bt[(ints >> self.blue_shift) & self.blue_max]
        out[:, 3] = 0
        return out

    def compact_to_rgbx(
        self, data: PixelData, count: int, colour_map: U8Array | None = None
    ) -> U8Array:
        """Convert `count` compact (CPIXEL/TPIXEL) pixels to (count, 4) RGBX."""
        pad = self.compact_pad
        if pad is None:
            return self.to_rgbx(data, count, colour_map)
        raw = np.frombuffer(data, dtype=np.uint8, count=count * 3).reshape(count, 3)
        full = np.zeros((count, 4), dtype=np.uint8)
        if pad == 3:
            full[:, :3] = raw
        else:
            full[:, 1:] = raw
        if self.is_native:
            return full
        return self.to_rgbx(full, count, colour_map)


# The format the client asks for by default: memory order R, G, B, X, so GL uploads it as is.
RGBX32 = PixelFormat(32, 24, False, True, 255, 255, 255, 0, 8, 16)
# --depth 16: RGB565 little-endian.
RGB565 = PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0)
# --depth 8: BGR233 (blue in the top two bits).
BGR233 = PixelFormat(8, 8, False, True, 7, 7, 3, 0, 3, 6)

DEPTH_FORMATS: dict[int, PixelFormat] = {24: RGBX32, 16: RGB565, 8: BGR233}
