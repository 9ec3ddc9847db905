"""Parse X Window Dump (XWD) files, as written by `xwd`, into RGB numpy arrays."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

XWD_FILE_VERSION = 7
Z_PIXMAP = 2
LSB_FIRST = 0
MSB_FIRST = 1
TRUE_COLOR = 4
DIRECT_COLOR = 5
HEADER_FIELDS = 25
HEADER_STRUCT = struct.Struct(">25I")
COLOR_ENTRY_SIZE = 12


@dataclass(frozen=True)
class XwdHeader:
    """The 25 CARD32 fields of an XWDFileHeader, in file order."""

    header_size: int
    file_version: int
    pixmap_format: int
    pixmap_depth: int
    width: int
    height: int
    xoffset: int
    byte_order: int
    bitmap_unit: int
    bitmap_bit_order: int
    bitmap_pad: int
    bits_per_pixel: int
    bytes_per_line: int
    visual_class: int
    red_mask: int
    green_mask: int
    blue_mask: int
    bits_per_rgb: int
    colormap_entries: int
    ncolors: int
    window_width: int
    window_height: int
    window_x: int
    window_y: int
    window_bdrwidth: int


def read_header(data: bytes) -> XwdHeader:
    """The header of an XWD file; raises ValueError if it is not one we understand."""
    if len(data) < HEADER_STRUCT.size:
        raise ValueError(f"XWD data too short for a header: {len(data)} bytes")
    header = XwdHeader(*HEADER_STRUCT.unpack_from(data))
    if header.file_version != XWD_FILE_VERSION:
        raise ValueError(f"XWD file version {header.file_version}, expected {XWD_FILE_VERSION}")
    if header.header_size < HEADER_STRUCT.size:
        raise ValueError(f"XWD header_size {header.header_size} is too small")
    return header


def _channel(pixels: npt.NDArray[np.uint32], mask: int) -> npt.NDArray[np.uint8]:
    """Extract the channel selected by a contiguous `mask`, scaled to 0..255."""
    shift = (mask & -mask).bit_length() - 1
    top = mask >> shift if mask else 0
    if top == 0 or top & (top + 1):
        raise ValueError(f"XWD colour mask {mask:#x} is not a contiguous run of bits")
    values = (pixels & np.uint32(mask)) >> np.uint32(shift)
    if top == 255:
        return values.astype(np.uint8)
    scaled = (values.astype(np.uint64) * 255 + top // 2) // top
    return scaled.astype(np.uint8)


def read_xwd(data: bytes) -> npt.NDArray[np.uint8]:
    """Decode an XWD file of a TrueColor/DirectColor ZPixmap into (h, w, 3) uint8 RGB.

    Supports 32, 24 (packed) and 16 bits per pixel in either byte order; the colour
    masks say where each channel lives. Channels narrower than 8 bits are scaled up
    with rounding.
    """
    h = read_header(data)
    if h.pixmap_format != Z_PIXMAP:
        raise ValueError(f"XWD pixmap format {h.pixmap_format} is not ZPixmap ({Z_PIXMAP})")
    if h.visual_class not in (TRUE_COLOR, DIRECT_COLOR):
        raise ValueError(f"XWD visual class {h.visual_class} is not TrueColor or DirectColor")
    if h.byte_order not in (LSB_FIRST, MSB_FIRST):
        raise ValueError(f"XWD byte order {h.byte_order} is neither LSBFirst nor MSBFirst")
    bytes_per_pixel, rem = divmod(h.bits_per_pixel, 8)
    if rem or bytes_per_pixel not in (2, 3, 4):
        raise ValueError(f"XWD bits per pixel {h.bits_per_pixel} is not 16, 24 or 32")
    if h.bytes_per_line < h.width * bytes_per_pixel:
        raise ValueError(
            f"XWD bytes_per_line {h.bytes_per_line} < width {h.width} x {bytes_per_pixel}"
        )

    start = h.header_size + h.ncolors * COLOR_ENTRY_SIZE
    size = h.bytes_per_line * h.height
    if len(data) < start + size:
        raise ValueError(f"XWD data truncated: {len(data)} bytes, need {start + size}")
    rows = np.frombuffer(data, dtype=np.uint8, count=size, offset=start)
    rows = rows.reshape(h.height, h.bytes_per_line)[:, : h.width * bytes_per_pixel]
    octets = rows.reshape(h.height, h.width, bytes_per_pixel).astype(np.uint32)

    # Most significant byte first: for LSBFirst the last byte in memory is the top one.
    if h.byte_order == LSB_FIRST:
        octets = octets[..., ::-1]
    weights = np.uint32(1) << (np.arange(bytes_per_pixel - 1, -1, -1, dtype=np.uint32) * 8)
    pixels = (octets * weights).sum(axis=-1, dtype=np.uint32)

    out = np.empty((h.height, h.width, 3), dtype=np.uint8)
    for i, mask in enumerate((h.red_mask, h.green_mask, h.blue_mask)):
        out[..., i] = _channel(pixels, mask)
    return out
