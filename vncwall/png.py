"""Write RGB images as PNG files with zlib (no imaging library needed)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from .net.pixelformat import U8Array


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(rgb: U8Array, level: int = 6) -> bytes:
    """Encode an (h, w, 3) or (h, w, 4) uint8 array as an 8-bit RGB PNG (X/alpha dropped)."""
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8:
        raise ValueError("expected an (h, w, 3|4) uint8 array")
    h, w = rgb.shape[:2]
    rows = np.empty((h, 1 + 3 * w), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None for every row
    rows[:, 1:] = rgb[:, :, :3].reshape(h, 3 * w)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
            _chunk(b"IEND", b""),
        )
    )


def write_png(path: str | Path, rgb: U8Array) -> None:
    """Write the image to `path` atomically (a temporary file renamed into place)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(encode_png(rgb))
    tmp.replace(target)
