"""Type stub for the optional compiled decode accelerator (_accel.c)."""

from ..pixelformat import U8Array
from .accel import Buffer, FmtSpec, U32Array

def hextile(
    data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int,
    index: int, bg: int, fg: int, flags: int, fmt: FmtSpec, /,
) -> tuple[int, int, int, int, int, int]: ...
def rre(
    data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int,
    count: int, coord: int, fmt: FmtSpec, name: str, background: Buffer | None, /,
) -> None: ...
def rle_tiles(
    data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int,
    tile: int, index: int, memory: U32Array | None, memory_size: int, fmt: FmtSpec,
    name: str, /,
) -> tuple[int, int, int, int, int, int]: ...
def tight_palette(
    data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int,
    palette: Buffer | U32Array, count: int, rgb: bool, /,
) -> None: ...
def tight_rgb(data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int, /) -> None: ...
def box2x2(src: U8Array, dst: U8Array, x: int, y: int, w: int, h: int, /) -> None: ...
