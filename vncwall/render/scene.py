"""Where every face is drawn this frame: prism and grid placements blended, back to front."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .grid import Rect
from .layout import face_opacities
from .prism import Camera, F64Array, Prism

# Both layouts are expressed as world-space corners (TL, TR, BR, BL) per face. The grid
# lies in the plane z = 0, scaled so that an orbit camera at its distance d sees every
# tile exactly on its pixel rectangle. Prism faces and grid tiles are rectangles, so a
# linear blend of corresponding corners is a parallelogram: flat, drawable as two
# triangles without a crease, and textured perspective-correctly by GL.

PLANE_EPS = 1e-7  # world units: a vertex this close to a plane lies on it
# A face's corners (TL, TR, BR, BL) carry these texture coordinates.
_UV = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def screen_corners(rects: Sequence[Rect], viewport: tuple[int, int], camera: Camera) -> F64Array:
    """(N, 4, 3) corners in the plane z = 0 that `camera` (an orbit camera) shows on `rects`."""
    vw, vh = viewport
    d = float(camera.eye[2])
    s = 2.0 * d * math.tan(camera.fovy / 2.0) / vh  # world units per pixel at depth d
    out = np.zeros((len(rects), 4, 3))
    for i, r in enumerate(rects):
        xs = ((r.x - vw / 2.0) * s, (r.x + r.w - vw / 2.0) * s)
        ys = ((vh / 2.0 - r.y) * s, (vh / 2.0 - r.y - r.h) * s)
        out[i, :, 0] = (xs[0], xs[1], xs[1], xs[0])
        out[i, :, 1] = (ys[0], ys[0], ys[1], ys[1])
    return out


@dataclass(frozen=True)
class Piece:
    """A convex part of one face: rows of x, y, z, u, v, drawn as a triangle fan."""

    face: int
    vertices: F64Array  # (k, 5), k >= 3


def whole(corners: F64Array, order: Sequence[int]) -> list[Piece]:
    """Every face as one piece, in the given order."""
    return [Piece(i, np.hstack([corners[i], _UV])) for i in order]


def _split(v: F64Array, dist: F64Array) -> tuple[F64Array | None, F64Array | None]:
    """The parts of convex polygon `v` on the front (dist >= 0) and back of a plane."""
    front: list[F64Array] = []
    back: list[F64Array] = []
    k = len(v)
    for j in range(k):
        a, b = v[j], v[(j + 1) % k]
        da, db = float(dist[j]), float(dist[(j + 1) % k])
        if da >= -PLANE_EPS:
            front.append(a)
        if da <= PLANE_EPS:
            back.append(a)
        if (da > PLANE_EPS and db < -PLANE_EPS) or (da < -PLANE_EPS and db > PLANE_EPS):
            cut = a + (da / (da - db)) * (b - a)  # position and uv alike
            front.append(cut)
            back.append(cut)
    return (np.array(front) if len(front) >= 3 else None,
            np.array(back) if len(back) >= 3 else None)


def bsp_order(pieces: list[Piece], eye: F64Array,
              priority: Sequence[int] | None = None) -> list[Piece]:
    """`pieces` cut where they cross each other and sorted back to front from `eye`.

    A binary space partition: each step splits the rest by one face's plane and draws
    the far side, then that plane's pieces, then the near side. Exact for any flat faces,
    including faces passing through each other (no order of whole faces exists then).
    Pieces in one plane go by `priority` (higher later), then face index.
    """
    n = 1 + max((p.face for p in pieces), default=0)
    prio = list(priority) if priority is not None else [0] * n
    planes: dict[int, tuple[F64Array, float] | None] = {}
    for p in pieces:
        if p.face not in planes:
            v = p.vertices[:, :3]
            normal = np.cross(v[1] - v[0], v[-1] - v[0])
            length = float(np.linalg.norm(normal))
            planes[p.face] = None if length < 1e-12 else (
                normal / length, float(normal @ v[0]) / length)

    def order(group: list[Piece]) -> list[Piece]:
        if len(group) <= 1:
            return group
        splitter = next((p.face for p in group if planes[p.face] is not None), None)
        if splitter is None:  # only faces squashed flat (mid-flip): nothing to see
            return sorted(group, key=lambda p: (prio[p.face], p.face))
        plane = planes[splitter]
        assert plane is not None
        normal, offset = plane
        front: list[Piece] = []
        back: list[Piece] = []
        on: list[Piece] = []
        # Signed distances of every vertex in one product, then each piece by its slice.
        dist = np.vstack([p.vertices[:, :3] for p in group]) @ normal - offset
        flat = dist.tolist()
        start = 0
        for p in group:
            k = len(p.vertices)
            lo, hi = min(flat[start : start + k]), max(flat[start : start + k])
            if p.face == splitter or (lo >= -PLANE_EPS and hi <= PLANE_EPS):
                on.append(p)
            elif lo >= -PLANE_EPS:
                front.append(p)
            elif hi <= PLANE_EPS:
                back.append(p)
            else:
                f, b = _split(p.vertices, dist[start : start + k])
                if f is not None:
                    front.append(Piece(p.face, f))
                if b is not None:
                    back.append(Piece(p.face, b))
            start += k
        on.sort(key=lambda p: (prio[p.face], p.face))
        if float(eye @ normal) - offset >= 0.0:
            return order(back) + on + order(front)
        return order(front) + on + order(back)

    return order(list(pieces))


@dataclass(frozen=True)
class Scene:
    """One frame's faces: world corners, pieces back to front, opacities, focus outline."""

    corners: F64Array  # (N, 4, 3) TL, TR, BR, BL
    pieces: list[Piece]
    alphas: F64Array
    outline: F64Array | None = None  # (4, 3) corners of the focus outline, drawn first
    outline_alpha: float = 0.0
    # True when no two faces share a plane (the prism), so a depth test agrees with the
    # back-to-front order and opaque faces may hide what is behind them early.
    depth_safe: bool = False

    @property
    def order(self) -> list[int]:
        """Faces in the order their first pieces are drawn."""
        seen: dict[int, None] = {}
        for p in self.pieces:
            seen.setdefault(p.face, None)
        return list(seen)


def compose(
    prism: Prism,
    theta: float,
    camera: Camera,
    viewport: tuple[int, int],
    rects: Sequence[Rect],
    mix: float,
    opacity: float,
    front_opacity: float,
    top: int | None = None,
    outline: tuple[Rect, float] | None = None,
) -> Scene:
    """The frame a fraction `mix` (eased, 0 prism .. 1 grid) of the way to the grid.

    `rects` are the grid's picture rectangles in window pixels; `top` is a face that goes
    over the others where they overlap in the grid's plane (a zoomed tile); `outline` is
    a rectangle (with its alpha) drawn behind everything, at rest in the grid only.
    """
    n = prism.n
    prio = [1 if i == top else 0 for i in range(n)]
    if mix <= 0.0:
        corners = prism.corners(theta)
        return Scene(corners, whole(corners, prism.draw_order(theta, camera)),
                     face_opacities(prism, theta, camera, opacity, front_opacity),
                     depth_safe=n > 1)
    grid = screen_corners(rects, viewport, camera)
    flat_alpha = np.full(n, float(front_opacity))
    if mix >= 1.0:
        order = sorted(range(n), key=lambda i: (prio[i], i))  # one plane: only `top` overlaps
        box = None
        alpha = 0.0
        if outline is not None and outline[1] > 0.0:
            box, alpha = screen_corners([outline[0]], viewport, camera)[0], outline[1]
        return Scene(grid, whole(grid, order), flat_alpha, box, alpha)
    corners = (1.0 - mix) * prism.corners(theta) + mix * grid
    alphas = (1.0 - mix) * face_opacities(prism, theta, camera, opacity, front_opacity)
    alphas = alphas + mix * flat_alpha
    eye = np.asarray(camera.eye, dtype=np.float64)
    return Scene(corners, bsp_order(whole(corners, range(n)), eye, prio), alphas)
