"""RRE (2, RFC 6143 section 7.7.3) and CoRRE (4, rfbproto 'CoRRE Encoding') decoders."""

from __future__ import annotations

import struct
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..constants import Encoding
from ..errors import ProtocolError
from ..framebuffer import Rect
from ..pixelformat import U8Array
from ..stream import Reader, read_view
from . import accel
from .base import DecodeContext, Decoder

_U32 = struct.Struct(">I")

# Subrectangles are read and painted in batches of at most this many, so one read
# stays bounded (12 bytes each at 32 bpp: 768 KiB) however large the count.
_BATCH = 1 << 16

# Subrectangles covering up to this many times their block's pixels are painted
# with numpy alone; beyond that (heavy overlap) one slice assignment each is cheaper.
_OVERLAP_LIMIT = 4

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
    if _paint_vectorised(block32, words, xs, ys, ws, hs):
        return
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


def _paint_vectorised(
    block32: npt.NDArray[np.uint32],
    words: npt.NDArray[np.uint32],
    xs: I64Array,
    ys: I64Array,
    ws: I64Array,
    hs: I64Array,
) -> bool:
    """Paint all subrectangles in order without a Python loop; False (nothing done) if too big.

    Every covered pixel's index is built with run-length arithmetic. Encoders normally
    send disjoint subrectangles (a count per pixel tells), which one scatter paints; on
    overlaps the last subrectangle over each pixel is found with `np.maximum.at`. When
    the subrectangles cover more than `_OVERLAP_LIMIT` times the block, the caller's
    loop is cheaper.
    """
    height, width = block32.shape
    area = ws * hs
    total = int(area.sum())
    if total > _OVERLAP_LIMIT * height * width:
        return False
    if total == 0:
        return True
    # Rows: one segment (start index, width) per row of every subrectangle.
    n_rows = int(hs.sum())
    rect_of_row = np.repeat(np.arange(len(hs)), hs)
    row_in_rect = np.arange(n_rows) - np.repeat(np.cumsum(hs) - hs, hs)
    starts = (ys[rect_of_row] + row_in_rect) * width + xs[rect_of_row]
    seg_w = ws[rect_of_row]
    # Pixels: each segment's start repeated, plus 0..w-1 within it.
    seg_of_px = np.repeat(np.arange(n_rows), seg_w)
    offsets = np.arange(total) - np.repeat(np.cumsum(seg_w) - seg_w, seg_w)
    pos = starts[seg_of_px] + offsets
    flat = block32.reshape(-1)
    if np.bincount(pos, minlength=height * width).max() <= 1:
        flat[pos] = np.repeat(words, area)
        return True
    owner = np.full(height * width, -1, dtype=np.int64)
    np.maximum.at(owner, pos, np.repeat(np.arange(len(area)), area))
    hit = np.flatnonzero(owner >= 0)
    flat[hit] = words[owner[hit]]
    return True


_SMALL_WORK = 1 << 16  # below this many pixels, subrectangles are charged their upper bound
_RECORDS: dict[tuple[int, int], np.dtype[Any]] = {}


def _subrect_area(data: bytes | memoryview, n: int, bpp: int, coord: int, area: int) -> int:
    """The pixels n packed subrectangles (pixel, then x, y, w, h) of a rectangle of
    `area` pixels cover, overlaps counted; for small work just n * area, its bound."""
    if n * area <= _SMALL_WORK:
        return n * area
    record = _RECORDS.get((bpp, coord))
    if record is None:
        kind = ">u2" if coord == 2 else "u1"
        record = _RECORDS[(bpp, coord)] = np.dtype([("pixel", np.uint8, (bpp,)),
                                                    ("geom", kind, (4,))])
    geom = np.frombuffer(data, dtype=record, count=n)["geom"]
    return int(np.dot(geom[:, 2].astype(np.int64), geom[:, 3].astype(np.int64)))


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
        acc, spec = accel.prepare(ctx)
        if acc is not None and spec is not None:
            yield from self._decode_compiled(acc, spec, rect, ctx, head[4:], count)
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
            ctx.charge(int((ws * hs).sum()), f"{self.NAME} subrectangles")
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

    def _decode_compiled(
        self,
        acc: accel.Accel,
        spec: accel.FmtSpec,
        rect: Rect,
        ctx: DecodeContext,
        background: bytes,
        count: int,
    ) -> Reader[None]:
        """The compiled loop fills the background, then paints each batch of records."""
        fb = ctx.fb
        coord = 2 if self.COORD == ">u2" else 1
        size = ctx.bpp + 4 * coord
        done = 0
        bg: bytes | None = background
        try:
            while True:
                n = min(_BATCH, count - done)
                data = (yield from read_view(n * size)) if n else b""
                if n:
                    budget = ctx.budget
                    if budget is not None and not budget.pay(
                            _subrect_area(data, n, ctx.bpp, coord, rect.area)):
                        raise budget.error(f"{self.NAME} subrectangles")
                try:
                    acc.rre(
                        data, fb.pixels, rect.x, rect.y, rect.w, rect.h,
                        n, coord, spec, self.NAME, bg,
                    )
                except ValueError as exc:
                    raise ProtocolError(str(exc)) from None
                bg = None
                done += n
                if done >= count:
                    break
        finally:
            with fb.lock:
                fb.damage(rect.x, rect.y, rect.w, rect.h)


class CoRREDecoder(RREDecoder):
    """RRE with u8 subrectangle coordinates; servers send rectangles of at most 255x255."""

    ENCODING = Encoding.CORRE
    COORD = "u1"
    NAME = "CoRRE"
