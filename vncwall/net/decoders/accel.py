"""Whether the compiled decode accelerator runs, and the pixel-format tuple it is given.

`vncwall.net.decoders._accel` (built from _accel.c when a compiler is there) does the
per-tile loops of Hextile, RRE/CoRRE and ZRLE/TRLE, and Tight's per-pixel palette and
RGB loops. Without it, or with the environment variable VNCWALL_PURE=1, the decoders
run their pure-Python/numpy paths, which stay the reference: tests run both, compare.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..errors import ProtocolError
from ..framebuffer import Framebuffer, Rect
from ..pixelformat import PixelFormat, U8Array
from ..stream import Reader, peek, skip
from .base import DecodeContext

_compiled: Accel | None
try:
    from . import _accel as _compiled
except ImportError:  # no compiler at install time: the pure paths run
    _compiled = None

FmtSpec = tuple[int, int, int, object, int, int, int, int, int, int]
Buffer = memoryview | bytes
U32Array = npt.NDArray[np.uint32]


class Accel(Protocol):
    """The compiled module's functions (documented in _accel.c)."""

    def hextile(
        self, data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int,
        index: int, bg: int, fg: int, flags: int, fmt: FmtSpec, /,
    ) -> tuple[int, int, int, int, int, int]: ...

    def rre(
        self, data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int,
        count: int, coord: int, fmt: FmtSpec, name: str, background: Buffer | None, /,
    ) -> None: ...

    def rle_tiles(
        self, data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int,
        tile: int, index: int, memory: U32Array | None, memory_size: int, fmt: FmtSpec,
        name: str, /,
    ) -> tuple[int, int, int, int, int, int]: ...

    def tight_palette(
        self, data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int,
        palette: Buffer | U32Array, count: int, rgb: bool, /,
    ) -> None: ...

    def tight_rgb(self, data: Buffer, fb: U8Array, x: int, y: int, w: int, h: int, /) -> None: ...

    def box2x2(self, src: U8Array, dst: U8Array, x: int, y: int, w: int, h: int, /) -> None: ...


_pure = os.environ.get("VNCWALL_PURE") == "1"
_specs: dict[PixelFormat, FmtSpec] = {}


def available() -> bool:
    """True when the compiled module was built and imports."""
    return _compiled is not None


def set_pure(pure: bool) -> bool:
    """Force the pure-Python paths on or off (tests switch between the two); the old setting."""
    global _pure
    before, _pure = _pure, pure
    return before


def module() -> Accel | None:
    """The compiled module, or None when the pure paths must run."""
    return None if _pure else _compiled


def fmt_spec(pf: PixelFormat, colour_map: U8Array | None) -> FmtSpec | None:
    """The accelerator's view of a pixel format, or None when only the pure path applies.

    8 and 16 bpp pixels go through a lookup table of every value's RGBX word (which
    also covers colour-map mode); 32 bpp true colour is converted from its shifts. A
    colour-map format without a colour map yet is left to the pure path and its error.
    """
    cached = _specs.get(pf) if pf.true_colour else None
    if cached is not None:
        return cached
    bpp = pf.bytes_per_pixel
    lut: object = None
    if bpp < 4:
        if not pf.true_colour and colour_map is None:
            return None
        values = np.arange(1 << pf.bits_per_pixel, dtype=np.uint32)
        rgbx = np.ascontiguousarray(pf.values_to_rgbx(values, colour_map))
        lut = rgbx.view(np.uint32).reshape(-1)
    elif not pf.true_colour:
        return None
    pad = pf.compact_pad
    # With a lookup table the shifts are not used; in colour-map mode a server may send
    # any value there (they mean nothing), so they are not passed on to be checked.
    shifts = (0, 0, 0) if lut is not None else (pf.red_shift, pf.green_shift, pf.blue_shift)
    spec: FmtSpec = (
        bpp, -1 if pad is None else pad, int(pf.big_endian), lut,
        *shifts, pf.red_max, pf.green_max, pf.blue_max,
    )
    if pf.true_colour:
        _specs[pf] = spec
    return spec


_NONE: tuple[None, None] = (None, None)


def prepare(ctx: DecodeContext) -> tuple[Accel, FmtSpec] | tuple[None, None]:
    """The module and pixel-format tuple to decode with in `ctx`, or (None, None).

    Worked out once per context: a context lives for one update, whose pixel format
    and colour map do not change.
    """
    acc = module()
    if acc is None:
        return _NONE
    cached = ctx.accel_cache
    if cached is not None and cached[0] is acc:
        return cached[1]  # type: ignore[no-any-return]
    spec = fmt_spec(ctx.pf, ctx.colour_map)
    answer: tuple[Accel, FmtSpec] | tuple[None, None] = _NONE if spec is None else (acc, spec)
    ctx.accel_cache = (acc, answer)
    return answer


# One step of a compiled tile loop: (buffered bytes, next tile index) -> (bytes used, next
# tile index, bytes the next tile needs at least).
TileStep = Callable[[memoryview, int], tuple[int, int, int]]


def drive_tiles(name: str, fb: Framebuffer, rect: Rect, ntiles: int,
                step: TileStep) -> Reader[None]:
    """Show a compiled tile loop every buffered byte until the rectangle's tiles are done.

    The bytes are peeked, not read: only what the tiles took is then skipped, so nothing
    past the rectangle is consumed, and the next peek waits for at least what the next
    tile was shown to need. The rectangle is marked damaged however the loop ends.
    """
    index, need = 0, 1
    try:
        while index < ntiles:
            data = yield from peek(need)
            try:
                used, index, need = step(data, index)
            except ValueError as exc:
                raise ProtocolError(str(exc)) from None
            if not used and need <= len(data):  # a compiled-loop bug must not spin for ever
                raise ProtocolError(f"{name}: decoder made no progress on {len(data)} bytes")
            yield from skip(used)
    finally:
        with fb.lock:
            fb.damage(rect.x, rect.y, rect.w, rect.h)
