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
    """Paint subrectangles in order (later ones win) into a contiguous (h, w, 4) block.

    The caller has checked every subrectangle lies inside the block. Larger
    subrectangles get one slice assignment each; the 1x1 ones, the common case for
    noisy content, are painted together with one fancy-indexed assignment, keeping
    only those that no later subrectangle paints over.
    """
    height, width = block.shape[:2]
    # One uint32 per pixel, so a colour is a plain integer to assign.
    block32 = block.view(np.uint32).reshape(height, width)
    words = np.ascontiguousarray(colours).view(np.uint32).reshape(-1)
    single = (ws == 1) & (hs == 1)
    big = np.flatnonzero(~single)
    owner: npt.NDArray[np.int32] | None = None
    if big.size and big.size < len(xs):
        # Index of the last large subrectangle painted on each pixel.
        owner = np.full((height, width), -1, dtype=np.int32)
    for i, c, x, y, w, h in zip(
        big.tolist(),
        words[big].tolist(),
        xs[big].tolist(),
        ys[big].tolist(),
        ws[big].tolist(),
        hs[big].tolist(),
        strict=True,
    ):
        block32[y : y + h, x : x + w] = c
        if owner is not None:
            owner[y : y + h, x : x + w] = i
    if big.size == len(xs):
        return
    idx = np.flatnonzero(single)
    pos = ys[idx] * width + xs[idx]
    # Of several 1x1s on one pixel the last wins (NumPy leaves duplicate fancy-index
    # assignment order unspecified, so pick it explicitly).
    _, first_rev = np.unique(pos[::-1], return_index=True)
    keep = (len(idx) - 1) - first_rev
    idx, pos = idx[keep], pos[keep]
    if owner is not None:
        visible = idx > owner.reshape(-1)[pos]
        idx, pos = idx[visible], pos[visible]
    block32.reshape(-1)[pos] = words[idx]


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
