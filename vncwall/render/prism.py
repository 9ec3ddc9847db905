"""Pure-numpy geometry of the session prism: camera, layout, depth order, picking."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

# Conventions used throughout this module
# ---------------------------------------
# * World space: right-handed, +Y up, the prism's rotation axis is the Y axis through the
#   origin, the default camera sits on +Z looking at the origin (towards -Z).
# * Matrices are 4x4 numpy arrays for column vectors (``clip = P @ V @ M @ [x, y, z, 1]``),
#   stored row-major as numpy does.  OpenGL expects column-major, so upload them transposed:
#   ``glUniformMatrix4fv(loc, 1, GL_TRUE, as_gl_matrix(m))``.
# * Angles are radians.  A rotation by ``theta`` about +Y turns +Z towards +X, so a face
#   whose outward normal has azimuth ``phi`` (normal = (sin phi, 0, cos phi)) faces the
#   direction ``phi + theta`` after rotation.
# * Screen coordinates are window pixels with the origin at the window's top-left corner
#   and y growing downwards (pygame's convention).  They are continuous: pixel (x, y)
#   covers [x, x + 1) x [y, y + 1), so pass ``x + 0.5, y + 0.5`` for a pixel's centre.
# * Texture coordinates (u, v) put (0, 0) at the session's top-left pixel and (1, 1) at
#   its bottom-right corner, as seen from outside the prism.

F64Array = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Vec3 = tuple[float, float, float]

FACE_HEIGHT = 1.0
"""World height H shared by all faces, so the prism's top and bottom are flat."""

CARD_GAP = 0.002
"""For N == 2, the distance between the two back-to-back faces (no z-fighting, exact order)."""

TEX_COORDS: F64Array = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
"""Texture coordinates of the four corners returned by `Prism.corners` (TL, TR, BR, BL)."""

_TWO_PI = 2.0 * math.pi


# --------------------------------------------------------------------------------------
# Matrices and camera
# --------------------------------------------------------------------------------------


def perspective(fovy: float, aspect: float, near: float, far: float) -> F64Array:
    """gluPerspective: `fovy` is the vertical field of view in radians; row-major 4x4."""
    if not (0.0 < fovy < math.pi) or aspect <= 0.0 or not (0.0 < near < far):
        raise ValueError(f"bad perspective fovy={fovy} aspect={aspect} near={near} far={far}")
    f = 1.0 / math.tan(fovy / 2.0)
    m = np.zeros((4, 4))
    m[0, 0] = f / aspect
    m[1, 1] = f
    m[2, 2] = (far + near) / (near - far)
    m[2, 3] = 2.0 * far * near / (near - far)
    m[3, 2] = -1.0
    return m


def _normalize(v: F64Array) -> F64Array:
    n = float(np.linalg.norm(v))
    if n == 0.0 or not math.isfinite(n):
        raise ValueError("cannot normalize a zero or non-finite vector")
    return v / n


def _basis(eye: Vec3, target: Vec3, up: Vec3) -> tuple[F64Array, F64Array, F64Array]:
    """(right, up, forward) unit vectors of a camera at `eye` looking at `target`."""
    forward = _normalize(np.asarray(target, dtype=np.float64) - np.asarray(eye, np.float64))
    right = _normalize(np.cross(forward, np.asarray(up, dtype=np.float64)))
    true_up = np.cross(right, forward)
    return right, true_up, forward


def look_at(eye: Vec3, target: Vec3, up: Vec3 = (0.0, 1.0, 0.0)) -> F64Array:
    """gluLookAt view matrix (world -> eye space, camera looks down -Z); row-major 4x4."""
    right, true_up, forward = _basis(eye, target, up)
    e = np.asarray(eye, dtype=np.float64)
    m = np.eye(4)
    m[0, :3] = right
    m[1, :3] = true_up
    m[2, :3] = -forward
    m[0, 3] = -float(right @ e)
    m[1, 3] = -float(true_up @ e)
    m[2, 3] = float(forward @ e)
    return m


def rotation_y(theta: float) -> F64Array:
    """Model matrix rotating by `theta` radians about +Y (+Z turns towards +X); row-major."""
    c, s = math.cos(theta), math.sin(theta)
    m = np.eye(4)
    m[0, 0], m[0, 2] = c, s
    m[2, 0], m[2, 2] = -s, c
    return m


def as_gl_matrix(m: F64Array) -> F32Array:
    """Contiguous float32 copy, for ``glUniformMatrix4fv(loc, 1, GL_TRUE, as_gl_matrix(m))``."""
    return np.ascontiguousarray(m, dtype=np.float32)


@dataclass(frozen=True)
class Camera:
    """A perspective camera; `fovy` is the vertical field of view in radians."""

    eye: Vec3 = (0.0, 0.0, 3.0)
    target: Vec3 = (0.0, 0.0, 0.0)
    up: Vec3 = (0.0, 1.0, 0.0)
    fovy: float = math.radians(45.0)
    near: float = 0.01
    far: float = 1000.0

    @classmethod
    def orbit(
        cls,
        distance: float,
        fovy: float = math.radians(45.0),
        near: float = 0.01,
        far: float | None = None,
    ) -> Camera:
        """The wall's camera: on +Z at `distance` from the rotation axis, looking at the origin.

        `far` defaults to max(1000, 2 * distance + 10), beyond any prism it can frame.
        """
        if far is None:
            far = max(1000.0, 2.0 * abs(distance) + 10.0)
        return cls((0.0, 0.0, float(distance)), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), fovy, near, far)

    def view_matrix(self) -> F64Array:
        """World -> eye space (row-major, column vectors)."""
        return look_at(self.eye, self.target, self.up)

    def projection_matrix(self, aspect: float) -> F64Array:
        """Eye -> clip space for a window of width/height `aspect` (row-major, column vectors)."""
        return perspective(self.fovy, aspect, self.near, self.far)

    def basis(self) -> tuple[F64Array, F64Array, F64Array]:
        """World-space (right, up, forward) unit vectors."""
        return _basis(self.eye, self.target, self.up)

    def ray(self, ndc_x: float, ndc_y: float, aspect: float) -> tuple[F64Array, F64Array]:
        """(origin, direction) of the ray through an NDC point.

        The direction is scaled so its forward component is 1: the ray parameter t of a point
        ``origin + t * direction`` is that point's view depth (the clip-space w).
        """
        right, true_up, forward = self.basis()
        tan = math.tan(self.fovy / 2.0)
        direction = forward + (ndc_x * tan * aspect) * right + (ndc_y * tan) * true_up
        return np.asarray(self.eye, dtype=np.float64), direction


class Hit(NamedTuple):
    """A picked face and the texture coordinate under the cursor (v = 0 at the top)."""

    face: int
    u: float
    v: float


def face_pixel(u: float, v: float, w: int, h: int) -> tuple[int, int]:
    """Session pixel under texture coordinate (u, v) of a w x h session: floor, clamped."""
    px = min(max(math.floor(u * w), 0), w - 1)
    py = min(max(math.floor(v * h), 0), h - 1)
    return px, py


def closest_angle(target: float, current: float) -> float:
    """`target` plus the multiple of 2*pi that is nearest to `current` (shortest rotation)."""
    return target + _TWO_PI * round((current - target) / _TWO_PI)


# --------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------


def _central_angle_sum(widths: Sequence[float], radius: float) -> float:
    return sum(2.0 * math.asin(min(1.0, w / (2.0 * radius))) for w in widths)


def _solve_radius(widths: Sequence[float], total: float) -> float:
    """Bisection for R >= max(w)/2 with sum 2*asin(w_i / 2R) == total (total in [pi, 2pi]).

    The sum strictly decreases in R.  The caller guarantees it is >= total at R = max(w)/2;
    at R = sum(w) it is <= (pi/2) * sum(w) / R = pi/2 < total since asin(x) <= pi*x/2.
    """
    lo = max(widths) / 2.0
    hi = max(lo, sum(widths))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _central_angle_sum(widths, mid) > total:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _polygon_layout(
    widths: Sequence[float],
) -> tuple[float, list[float], list[float], list[bool]]:
    """Radius, central angles, edges and shrunk flags of a convex polygon inscribed in a circle.

    The polygon's edges are the faces' widths in order.  Normally the circumcentre (the
    rotation axis) lies inside the polygon and R solves sum 2*asin(w_i / 2R) = 2*pi.  That
    equation has no solution when the widest face's central angle would have to exceed pi
    (the centre would fall outside the polygon; always so when the widest face is at least
    as wide as all the others together, where no polygon exists at all).  Then the widest
    face is shrunk: its edge becomes the diameter 2R, where the other faces' central angles
    fill the remaining half circle.  The shrunk face keeps its session's aspect ratio, so it
    is also lower than FACE_HEIGHT and is centred vertically (letterboxed) in its slot.  The
    rule is continuous: at the threshold the shrunk width equals the requested width.
    """
    n = len(widths)
    widest = max(range(n), key=lambda i: widths[i])
    w_max = widths[widest]
    if _central_angle_sum(widths, w_max / 2.0) >= _TWO_PI:
        radius = _solve_radius(widths, _TWO_PI)
        angles = [2.0 * math.asin(min(1.0, w / (2.0 * radius))) for w in widths]
        scale = _TWO_PI / sum(angles)  # remove the bisection's last ulps: close exactly
        angles = [a * scale for a in angles]
        shrunk = [False] * n
    else:
        others = [w for i, w in enumerate(widths) if i != widest]
        radius = _solve_radius(others, math.pi)
        angles = [2.0 * math.asin(min(1.0, w / (2.0 * radius))) for w in widths]
        angles[widest] = 0.0
        scale = math.pi / sum(angles)
        angles = [a * scale for a in angles]
        angles[widest] = math.pi
        shrunk = [i == widest for i in range(n)]
    edges = [2.0 * radius * math.sin(a / 2.0) for a in angles]
    return radius, angles, edges, shrunk


class Prism:
    """N session faces around the Y axis; face i shows a session of aspect ratio aspects[i].

    Every face is FACE_HEIGHT high and aspects[i] * FACE_HEIGHT wide (except a face shrunk
    by the fallback described in `_polygon_layout`).  N == 1 is a single flat screen, N == 2
    a two-sided card (face 1 on the back of face 0, CARD_GAP behind it), N >= 3 a prism whose
    cross-section is a convex polygon inscribed in a circle of radius `radius` about the axis.
    Face 0 faces +Z at theta = 0; faces follow in order of increasing azimuth (face 1 is to
    the right of face 0 as seen from the camera), so bringing session k + 1 to the front
    rotates by a negative angle: `front_angle` decreases with k.
    """

    def __init__(self, aspects: Sequence[float]) -> None:
        if len(aspects) < 1:
            raise ValueError("a prism needs at least one face")
        if not all(math.isfinite(a) and a > 0.0 for a in aspects):
            raise ValueError(f"face aspect ratios must be positive and finite: {aspects}")
        self.aspects: tuple[float, ...] = tuple(float(a) for a in aspects)
        n = len(aspects)
        widths = [a * FACE_HEIGHT for a in self.aspects]
        if n == 1:
            azimuths, apothems, shrunk = [0.0], [0.0], [False]
        elif n == 2:
            azimuths, apothems, shrunk = [0.0, math.pi], [CARD_GAP / 2.0] * 2, [False, False]
        else:
            radius, angles, edges, shrunk = _polygon_layout(widths)
            azimuths = [0.0]
            for i in range(1, n):
                azimuths.append(azimuths[-1] + (angles[i - 1] + angles[i]) / 2.0)
            apothems = [radius * math.cos(a / 2.0) for a in angles]
            widths = edges
        heights = [widths[i] / self.aspects[i] if shrunk[i] else FACE_HEIGHT for i in range(n)]
        self.n = n
        self.azimuths: F64Array = np.array(azimuths)
        """Azimuth phi_i of each face's outward normal (sin phi, 0, cos phi) at theta = 0."""
        self.apothems: F64Array = np.array(apothems)
        """Distance from the axis to each face's plane."""
        self.widths: F64Array = np.array(widths)
        self.heights: F64Array = np.array(heights)
        self.shrunk: tuple[bool, ...] = tuple(shrunk)
        self._normals: F64Array = np.stack(
            [np.sin(self.azimuths), np.zeros(n), np.cos(self.azimuths)], axis=1
        )
        self._rights: F64Array = np.stack(
            [np.cos(self.azimuths), np.zeros(n), -np.sin(self.azimuths)], axis=1
        )
        self._centres: F64Array = self._normals * self.apothems[:, None]
        up = np.array([0.0, 1.0, 0.0])
        half_w = (self._rights * (self.widths / 2.0)[:, None])[:, None, :]
        half_h = (up[None, :] * (self.heights / 2.0)[:, None])[:, None, :]
        signs_x = np.array([-1.0, 1.0, 1.0, -1.0])[None, :, None]
        signs_y = np.array([1.0, 1.0, -1.0, -1.0])[None, :, None]
        self._corners: F64Array = self._centres[:, None, :] + signs_x * half_w + signs_y * half_h
        self.radius = float(np.max(np.hypot(self._corners[..., 0], self._corners[..., 2])))
        """Radius of the bounding cylinder about the Y axis."""
        self.half_height = float(np.max(self.heights)) / 2.0

    @classmethod
    def from_sizes(cls, sizes: Sequence[tuple[int, int]]) -> Prism:
        """A prism for sessions of the given (width, height) pixel sizes."""
        if not all(w > 0 and h > 0 for w, h in sizes):
            raise ValueError(f"session sizes must be positive: {sizes}")
        return cls([w / h for w, h in sizes])

    # ---- orientation ----------------------------------------------------------------

    def front_angle(self, k: int) -> float:
        """Rotation theta (in (-2*pi, 0]) that makes face k's normal point along +Z.

        Decreases with k, so "next session" is always a negative rotation; use
        `closest_angle` to take the short way round from the current angle.
        """
        if not 0 <= k < self.n:
            raise IndexError(f"face {k} out of range 0..{self.n - 1}")
        return 0.0 - float(self.azimuths[k])

    def front_face(self, theta: float) -> int:
        """The face whose normal is closest to +Z (towards the default camera) at `theta`."""
        return int(np.argmax(np.cos(self.azimuths + theta)))

    # ---- world-space geometry -------------------------------------------------------

    def model_matrix(self, theta: float) -> F64Array:
        """Model matrix at rotation `theta` (row-major, column vectors)."""
        return rotation_y(theta)

    def corners(self, theta: float = 0.0) -> F64Array:
        """(N, 4, 3) world corners TL, TR, BR, BL of each face (texture coords `TEX_COORDS`)."""
        return self._corners @ rotation_y(theta)[:3, :3].T

    def centres(self, theta: float = 0.0) -> F64Array:
        """(N, 3) world-space face centres."""
        return self._centres @ rotation_y(theta)[:3, :3].T

    def normals(self, theta: float = 0.0) -> F64Array:
        """(N, 3) world-space outward unit normals."""
        return self._normals @ rotation_y(theta)[:3, :3].T

    def vertex_data(self, theta: float = 0.0) -> F32Array:
        """(N, 4, 5) float32 [x, y, z, u, v] per corner (TL, TR, BR, BL): a VBO per face."""
        data = np.empty((self.n, 4, 5), dtype=np.float32)
        data[..., :3] = self.corners(theta)
        data[..., 3:] = TEX_COORDS[None, :, :]
        return data

    # ---- framing --------------------------------------------------------------------

    def fit_distance(self, aspect: float, fovy: float, margin: float = 0.05) -> float:
        """Distance from the axis of an `Camera.orbit` camera that shows the whole prism.

        The bounding cylinder (radius `radius`, half height `half_height`) fits at every
        rotation, leaving `margin` of the window's width and height empty on each side
        (|NDC| <= 1 - 2 * margin).  Vertically the worst point is the near top rim
        (0, h, r): h / (d - r) <= m * tan(fovy/2).  Horizontally the worst points are the
        tangents from the eye to the circle: r / sqrt(d^2 - r^2) <= m * aspect * tan(fovy/2).
        """
        if not 0.0 <= margin < 0.5:
            raise ValueError(f"margin must be in [0, 0.5): {margin}")
        m = (1.0 - 2.0 * margin) * math.tan(fovy / 2.0)
        r, h = self.radius, self.half_height
        vertical = r + h / m
        horizontal = r * math.sqrt(1.0 + 1.0 / (m * aspect) ** 2)
        return max(vertical, horizontal)

    def fill_distance(self, k: int, aspect: float, fovy: float, fill: float = 1.0) -> float:
        """Orbit distance at which face k, brought to the front, spans `fill` of the window.

        The face is contained (letterboxed): its larger relative dimension spans `fill` of
        the window; with fill > 1 it overflows (zoomed in further).
        """
        if fill <= 0.0:
            raise ValueError(f"fill must be positive: {fill}")
        t = math.tan(fovy / 2.0)
        depth = max(self.heights[k] / (2.0 * t), self.widths[k] / (2.0 * t * aspect)) / fill
        return float(self.apothems[k]) + float(depth)

    # ---- depth order ----------------------------------------------------------------

    def _model_eye(self, theta: float, camera: Camera) -> F64Array:
        """The camera's eye in the prism's rest frame (undo the rotation)."""
        rot = rotation_y(theta)[:3, :3]
        return np.asarray(camera.eye, dtype=np.float64) @ rot  # == rot.T @ eye

    def facing(self, theta: float, camera: Camera) -> F64Array:
        """Signed distance from each face's plane to the eye (> 0: the face's front is seen)."""
        eye = self._model_eye(theta, camera)
        result: F64Array = self._normals @ eye - self.apothems
        return result

    def draw_order(self, theta: float, camera: Camera) -> list[int]:
        """Faces back to front, for alpha blending translucent faces without a depth buffer.

        Exact for any eye position, outside or inside the prism.  Proof: let P be the convex
        solid polygon x [-H/2, H/2] (for N == 2 the slab between the two planes, for N == 1
        the face itself); every face lies in its plane, on the boundary of P, and P lies in
        the face's inner half-space.  Take any ray from the eye; it meets the convex P in one
        interval [t_in, t_out].  If the eye is strictly outside a face's half-space ("front
        facing", `facing` > 0) the ray is outside that half-space, hence outside P, before it
        crosses the plane, and inside the half-space after, so the face can only be met where
        the ray enters P: at t_in.  If the eye is strictly inside the half-space ("back
        facing") the ray can only meet the face where it leaves P: at t_out.  Hence
        (1) along any pixel's ray a front face is never behind a back face, and (2) two faces
        of the same class met by one ray are met at the same point, which lies on both, i.e.
        on a shared edge: faces of one class never overlap on screen.  So drawing all back
        faces and then all front faces is an exact painter's order, whatever the order inside
        each class.  An edge-on face (eye in its plane) covers no area and goes with the back
        faces.  With the eye inside the prism every face is back facing and no two overlap.
        Within each class the faces are sorted farthest centre first; that does not affect
        correctness, but keeps the order deterministic and sensible.
        """
        signed = self.facing(theta, camera)
        eye = self._model_eye(theta, camera)
        dist = np.linalg.norm(self._centres - eye[None, :], axis=1)
        return sorted(range(self.n), key=lambda i: (bool(signed[i] > 0.0), -float(dist[i]), i))

    def occlusion_matrix(self, theta: float, camera: Camera, samples: int = 16) -> BoolArray:
        """occ[a, b]: some visible pixel shows face a in front of face b (found by ray casting).

        Independent of `draw_order`, for verifying it.  Each face is sampled on a
        samples x samples grid of cell centres; the ray from the eye through every sample in
        front of the near plane is intersected with every other face.  A hit nearer than the
        sample means that face occludes the sample's face; a hit farther means the sample's
        face occludes the hit face.  Only hits between the near and far planes count.
        """
        eye = self._model_eye(theta, camera)
        forward = camera.basis()[2] @ rotation_y(theta)[:3, :3]
        g = (np.arange(samples, dtype=np.float64) + 0.5) / samples
        uu, vv = (a.ravel() for a in np.meshgrid(g, g))
        tl, tr, bl = self._corners[:, 0], self._corners[:, 1], self._corners[:, 3]
        pts = (
            tl[:, None, :]
            + uu[None, :, None] * (tr - tl)[:, None, :]
            + vv[None, :, None] * (bl - tl)[:, None, :]
        )  # (N, S, 3)
        d = (pts - eye).reshape(-1, 3)  # rays, t = 1 at the sample point
        owner = np.repeat(np.arange(self.n), samples * samples)
        depth = d @ forward  # view depth of each sample
        seen = (depth > camera.near) & (depth < camera.far)
        t, inside = self._intersect(eye, d)  # (N, R)
        hit_depth = t * depth[None, :]
        valid = inside & seen[None, :] & (hit_depth > camera.near) & (hit_depth < camera.far)
        valid &= np.arange(self.n)[:, None] != owner[None, :]
        eps = 1e-9
        occ = np.zeros((self.n, self.n), dtype=np.bool_)
        nearer = valid & (t < 1.0 - eps)
        farther = valid & (t > 1.0 + eps)
        faces, rays = np.nonzero(nearer)
        occ[faces, owner[rays]] = True
        faces, rays = np.nonzero(farther)
        occ[owner[rays], faces] = True
        return occ

    def occludes(self, i: int, j: int, theta: float, camera: Camera, samples: int = 16) -> bool:
        """Whether face i is in front of face j at some visible pixel (see occlusion_matrix)."""
        return bool(self.occlusion_matrix(theta, camera, samples)[i, j])

    # ---- picking --------------------------------------------------------------------

    def _intersect(self, origin: F64Array, dirs: F64Array) -> tuple[F64Array, BoolArray]:
        """Ray parameters t (N, R) of rays origin + t * dirs[r] meeting face planes (rest
        frame), and whether the hit lies on the face's rectangle (and t > 0)."""
        denom = self._normals @ dirs.T  # (N, R)
        num = self.apothems - self._normals @ origin  # (N,)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = num[:, None] / denom
        ok = np.abs(denom) > 1e-15
        t = np.where(ok, t, np.inf)
        # hit - top_left = (origin - top_left) + t * dir, measured along right and down
        rel = origin[None, :] - self._corners[:, 0, :]  # (N, 3)
        with np.errstate(invalid="ignore"):  # inf * 0 where a ray is parallel: NaN, no hit
            along = np.einsum("nk,nk->n", rel, self._rights)[:, None] + t * (self._rights @ dirs.T)
            down = rel[:, 1][:, None] + t * dirs[:, 1][None, :]
            u = along / self.widths[:, None]
            v = -down / self.heights[:, None]
        inside = ok & (t > 0.0) & (u >= 0.0) & (u <= 1.0) & (v >= 0.0) & (v <= 1.0)
        return t, inside

    def pick(
        self,
        screen_x: float,
        screen_y: float,
        window_w: int,
        window_h: int,
        theta: float,
        camera: Camera,
    ) -> Hit | None:
        """The nearest face under a screen point and the texture coordinate there.

        Faces are two-sided (seen from inside they show mirrored), so with translucent faces
        the nearest face is what the cursor is on.  Points outside the window extrapolate.
        """
        aspect = window_w / window_h
        ndc_x = 2.0 * screen_x / window_w - 1.0
        ndc_y = 1.0 - 2.0 * screen_y / window_h
        origin, direction = camera.ray(ndc_x, ndc_y, aspect)
        rot = rotation_y(theta)[:3, :3]
        o, d = origin @ rot, direction @ rot  # into the rest frame
        t, inside = self._intersect(o, d[None, :])
        t, inside = t[:, 0], inside[:, 0]
        inside &= (t >= camera.near) & (t <= camera.far)  # t is the view depth
        if not inside.any():
            return None
        face = int(np.argmin(np.where(inside, t, np.inf)))
        p = o + t[face] * d
        rel = p - self._corners[face, 0]
        u = float(rel @ self._rights[face]) / float(self.widths[face])
        v = -float(rel[1]) / float(self.heights[face])
        return Hit(face, min(max(u, 0.0), 1.0), min(max(v, 0.0), 1.0))

    def point(self, face: int, u: float, v: float, theta: float = 0.0) -> F64Array:
        """World-space point of face `face` at texture coordinate (u, v)."""
        tl, tr, _, bl = self._corners[face]
        p = tl + u * (tr - tl) + v * (bl - tl)
        result: F64Array = rotation_y(theta)[:3, :3] @ p
        return result

    def project(
        self,
        face: int,
        u: float,
        v: float,
        window_w: int,
        window_h: int,
        theta: float,
        camera: Camera,
    ) -> tuple[float, float] | None:
        """Screen point of texture coordinate (u, v) of `face`, through the GL matrices.

        None when the point is not between the near and far planes (it is not drawn).
        Visibility is not checked: the point may be hidden behind a nearer face.
        """
        tl, tr, _, bl = self._corners[face]
        p = np.append(tl + u * (tr - tl) + v * (bl - tl), 1.0)
        mvp = (
            camera.projection_matrix(window_w / window_h) @ camera.view_matrix() @ rotation_y(theta)
        )
        clip = mvp @ p
        w = float(clip[3])
        if not camera.near <= w <= camera.far:
            return None
        sx = (float(clip[0]) / w + 1.0) * 0.5 * window_w
        sy = (1.0 - float(clip[1]) / w) * 0.5 * window_h
        return sx, sy


def pick(
    screen_x: float,
    screen_y: float,
    window_w: int,
    window_h: int,
    theta: float,
    camera: Camera,
    face_sizes: Sequence[tuple[int, int]],
) -> Hit | None:
    """`Prism.pick` on a prism built from the sessions' (width, height) pixel sizes."""
    return Prism.from_sizes(face_sizes).pick(screen_x, screen_y, window_w, window_h, theta, camera)
