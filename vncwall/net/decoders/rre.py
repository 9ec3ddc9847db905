"""RRE (2, RFC 6143 section 7.7.3) and CoRRE (4, rfbproto 'CoRRE Encoding') decoders."""

from __future__ import annotations

import struct
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from ..constants import Encoding
from ..errors import ProtocolError
from ..framebuffer import Rect
from ..pixelformat import U8Array
from ..stream import Reader
from .base import DecodeContext, Decoder

_U32 = struct.Struct(">I")

# Subrectangles are read and painted in batches of at most this many, so one read
# stays bounded (12 bytes each at 32 bpp: 768 KiB) however large the count.
_BATCH = 1 << 16

I64Array = npt.NDArray[np.int64]


def paint_subrects(
    block: U8Array,
    colours: U8Array,
    xs: I64Array,
    ys: I64Array,
    ws: I64Array,
    hs: I64Array,
) -> None:
    """Paint subrectangles in order (later ones win) into an (h, w, 4) block.

    The caller has checked every subrectangle lies inside the block. Runs of
    consecutive 1x1 subrectangles, the common case for noisy content, are painted
    with one fancy-indexed assignment; larger ones with one slice assignment each.
    """
    n = len(xs)
    if n == 0:
        return
    width = block.shape[1]
    flat = block.reshape(-1, 4)
    single = (ws == 1) & (hs == 1)
    # Boundaries between runs of equal `single`.
    cuts = np.flatnonzero(single[1:] != single[:-1]) + 1
    starts = [0, *cuts.tolist()]
    ends = [*cuts.tolist(), n]
    for a, b in zip(starts, ends, strict=True):
        if single[a]:
            pos = ys[a:b] * width + xs[a:b]
            if b - a > 1:
                # NumPy leaves the winner of duplicate indices unspecified: keep only
                # the last occurrence of each position explicitly.
                _, first_rev = np.unique(pos[::-1], return_index=True)
                keep = (b - 1) - first_rev
                flat[pos[keep - a]] = colours[keep]
            else:
                flat[pos] = colours[a:b]
        else:
            for i, x, y, w, h in zip(
                range(a, b),
                xs[a:b].tolist(),
                ys[a:b].tolist(),
                ws[a:b].tolist(),
                hs[a:b].tolist(),
                strict=True,
            ):
                block[y : y + h, x : x + w] = colours[i]


class RREDecoder(Decoder):
    """u32 count, background pixel, then count * (pixel, u16 x, y, w, h)."""

    ENCODING = Encoding.RRE
    COORD: ClassVar[str] = ">u2"
    NAME: ClassVar[str] = "RRE"

    def decode(self, rect: Rect, ctx: DecodeContext) -> Reader[None]:
        bpp = ctx.bpp
        head = yield 4 + bpp
        (count,) = _U32.unpack_from(head)
        if count > rect.area:
            raise ProtocolError(
                f"{self.NAME}: {count} subrectangles in a {rect.w}x{rect.h} rectangle"
            )
        if rect.area == 0:
            return
        block = np.empty((rect.h, rect.w, 4), dtype=np.uint8)
        block[...] = ctx.pixel(head[4:])
        record = np.dtype([("pixel", np.uint8, (bpp,)), ("geom", self.COORD, (4,))])
        done = 0
        while done < count:
            n = min(_BATCH, count - done)
            data = yield n * record.itemsize
            recs = np.frombuffer(data, dtype=record, count=n)
            geom = recs["geom"].astype(np.int64)
            xs, ys, ws, hs = geom[:, 0], geom[:, 1], geom[:, 2], geom[:, 3]
            bad = (xs + ws > rect.w) | (ys + hs > rect.h)
            if bad.any():
                i = int(np.argmax(bad))
                raise ProtocolError(
                    f"{self.NAME}: subrectangle {ws[i]}x{hs[i]}+{xs[i]}+{ys[i]}"
                    f" outside the {rect.w}x{rect.h} rectangle"
                )
            colours = ctx.pixels(np.ascontiguousarray(recs["pixel"]), n)
            paint_subrects(block, colours, xs, ys, ws, hs)
            done += n
        ctx.fb.put(rect.x, rect.y, rect.w, rect.h, block)


class CoRREDecoder(RREDecoder):
    """RRE with u8 subrectangle coordinates; servers send rectangles of at most 255x255."""

    ENCODING = Encoding.CORRE
    COORD = "u1"
    NAME = "CoRRE"
