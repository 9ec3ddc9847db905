"""Tests for the pure-numpy prism geometry: layout, framing, depth order and picking."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vncwall.render.prism import (
    CARD_GAP,
    FACE_HEIGHT,
    TEX_COORDS,
    Camera,
    Hit,
    Prism,
    as_gl_matrix,
    closest_angle,
    face_pixel,
    look_at,
    perspective,
    pick,
    rotation_y,
)

ANGLES = np.linspace(0.0, 2.0 * math.pi, 360, endpoint=False)
SLOW = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])

aspect_st = st.floats(min_value=0.4, max_value=2.6)
aspects_st = st.lists(aspect_st, min_size=1, max_size=8)
theta_st = st.floats(min_value=-4.0 * math.pi, max_value=4.0 * math.pi)
fovy_st = st.floats(min_value=math.radians(20.0), max_value=math.radians(100.0))
window_st = st.tuples(st.integers(16, 5000), st.integers(16, 5000))


# ---- helpers (deliberately independent of the module's own ray code) -----------------


def clip_of(pts: np.ndarray, cam: Camera, aspect: float):
    """(ndc_xy, w) of world points `pts` (..., 3) through the camera's matrices."""
    mvp = cam.projection_matrix(aspect) @ cam.view_matrix()
    homo = np.concatenate([pts, np.ones((*pts.shape[:-1], 1))], axis=-1)
    clip = homo @ mvp.T
    w = clip[..., 3]
    return clip[..., :2] / w[..., None], w


def brute_hits(prism: Prism, sx: float, sy: float, ww: int, wh: int, theta: float, cam: Camera):
    """All (depth, face, u, v) hits of the pixel ray, from unprojecting through inv(P V)."""
    ndc = np.array([2.0 * sx / ww - 1.0, 1.0 - 2.0 * sy / wh])
    inv = np.linalg.inv(cam.projection_matrix(ww / wh) @ cam.view_matrix())
    ends = []
    for z in (-1.0, 1.0):
        q = inv @ np.array([ndc[0], ndc[1], z, 1.0])
        ends.append(q[:3] / q[3])
    eye = np.asarray(cam.eye, dtype=np.float64)
    d = ends[1] - ends[0]
    view = cam.view_matrix()
    hits = []
    for f, (tl, tr, _br, bl) in enumerate(prism.corners(theta)):
        m = np.stack([d, -(tr - tl), -(bl - tl)], axis=1)
        if abs(np.linalg.det(m)) < 1e-14:
            continue
        t, a, b = np.linalg.solve(m, tl - eye)
        if t <= 0 or not (0.0 <= a <= 1.0 and 0.0 <= b <= 1.0):
            continue
        p = eye + t * d
        depth = -(view @ np.append(p, 1.0))[2]
        if cam.near <= depth <= cam.far:
            hits.append((float(depth), f, float(a), float(b)))
    return sorted(hits)


def random_inside_eye(prism: Prism, theta: float, rng: np.random.Generator) -> np.ndarray:
    """A point strictly inside the rotated prism (convex combination of corners, shrunk)."""
    corners = prism.corners(theta).reshape(-1, 3)
    weights = rng.dirichlet(np.ones(len(corners)))
    return 0.9 * (weights @ corners)


def random_direction_target(eye: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    while True:
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if abs(d[1]) < 0.9:
            return eye + d


FOVY_50 = math.radians(50.0)


def vec3(v) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])


def cam_from(eye, target, fovy: float = FOVY_50) -> Camera:
    return Camera(vec3(eye), vec3(target), fovy=fovy)


# ---- matrices --------------------------------------------------------------------------


def test_perspective_matches_glu() -> None:
    m = perspective(math.radians(90.0), 2.0, 1.0, 3.0)
    expected = np.array([[0.5, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, -2.0, -3.0], [0, 0, -1.0, 0]])
    np.testing.assert_allclose(m, expected, atol=1e-15)
    # near plane maps to z_ndc = -1, far plane to +1 (column vectors)
    for z, ndc in ((-1.0, -1.0), (-3.0, 1.0)):
        c = m @ np.array([0.0, 0.0, z, 1.0])
        assert c[2] / c[3] == pytest.approx(ndc)


def test_look_at_and_gl_matrix() -> None:
    v = look_at((1.0, 2.0, 3.0), (1.0, 2.0, -5.0))
    np.testing.assert_allclose(v @ np.array([1.0, 2.0, 3.0, 1.0]), [0, 0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(v @ np.array([1.0, 2.0, -5.0, 1.0]), [0, 0, -8, 1], atol=1e-15)
    v2 = look_at((0.0, 0.0, 0.0), (1.0, 0.0, 0.0))  # looking along +X: +Z is to the right
    np.testing.assert_allclose(v2 @ np.array([0.0, 0.0, 1.0, 1.0]), [1, 0, 0, 1], atol=1e-15)
    g = as_gl_matrix(v)
    assert g.dtype == np.float32 and g.flags.c_contiguous and g.shape == (4, 4)
    r = rotation_y(math.pi / 2)
    np.testing.assert_allclose(r @ np.array([0.0, 0.0, 1.0, 1.0]), [1, 0, 0, 1], atol=1e-15)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Prism([])
    with pytest.raises(ValueError):
        Prism([1.0, 0.0, 1.0])
    with pytest.raises(ValueError):
        Prism.from_sizes([(0, 10)])
    with pytest.raises(ValueError):
        perspective(0.0, 1.0, 0.1, 1.0)
    with pytest.raises(IndexError):
        Prism([1.0]).front_angle(1)


# ---- layout ----------------------------------------------------------------------------


@SLOW
@given(st.lists(aspect_st, min_size=3, max_size=8))
def test_polygon_layout_closes_and_is_convex(aspects: list[float]) -> None:
    p = Prism(aspects)
    c = p.corners(0.0)
    n = p.n
    for i in range(n):
        j = (i + 1) % n
        # consecutive slots share a vertical edge (a shrunk face is shorter, same xz)
        np.testing.assert_allclose(c[i, 1, [0, 2]], c[j, 0, [0, 2]], atol=1e-9)
        # every corner lies on the inner side of every face plane: the polygon is convex
        s = (c.reshape(-1, 3) - p.centres()[i]) @ p.normals()[i]
        assert s.max() <= 1e-9
        # vertices on the circumscribed circle, the axis inside (or on) the polygon
        assert math.hypot(c[i, 0, 0], c[i, 0, 2]) == pytest.approx(p.radius, rel=1e-9)
        assert p.apothems[i] >= -1e-12
        # the session's aspect ratio is kept on every face
        assert p.widths[i] / p.heights[i] == pytest.approx(aspects[i], rel=1e-9)
        if not p.shrunk[i]:
            assert p.widths[i] == pytest.approx(aspects[i] * FACE_HEIGHT, rel=1e-9)
            assert p.heights[i] == FACE_HEIGHT
        else:
            assert p.widths[i] < aspects[i] * FACE_HEIGHT
            assert p.heights[i] < FACE_HEIGHT
    assert sum(p.shrunk) <= 1
    # texture orientation: u runs along increasing azimuth (to the right seen from outside)
    for i in range(n):
        right = c[i, 1] - c[i, 0]
        assert np.cross(p.normals()[i], right)[1] > 0  # right = up x normal
        assert c[i, 0, 1] > c[i, 3, 1]  # v = 0 at the top


def test_regular_polygon() -> None:
    p = Prism([16 / 9] * 6)
    assert not any(p.shrunk)
    assert p.radius == pytest.approx(16 / 9, rel=1e-12)  # hexagon: side == radius
    np.testing.assert_allclose(p.azimuths, np.arange(6) * math.pi / 3, atol=1e-12)


@pytest.mark.parametrize(
    "aspects", [[4.0, 0.6, 0.6], [2.0, 1.0, 1.0], [1.0, 2.9, 1.0, 1.0], [0.5, 0.5, 0.5, 5.0]]
)
def test_degenerate_widths_shrink_the_widest_face(aspects: list[float]) -> None:
    p = Prism(aspects)
    widest = int(np.argmax(aspects))
    assert p.shrunk == tuple(i == widest for i in range(len(aspects)))
    assert p.apothems[widest] == pytest.approx(0.0, abs=1e-9)  # its edge is the diameter
    assert p.widths[widest] == pytest.approx(2.0 * p.radius, rel=1e-12)
    assert p.widths[widest] / p.heights[widest] == pytest.approx(aspects[widest])
    # the letterboxed face is centred vertically
    np.testing.assert_allclose(p.centres()[widest, 1], 0.0, atol=1e-15)


def test_shrink_is_continuous_at_the_threshold() -> None:
    # right triangle: the hypotenuse's central angle is exactly pi
    legs = 1.0
    hyp = math.sqrt(2.0)
    below = Prism([hyp * (1 - 1e-9), legs, legs])
    above = Prism([hyp * (1 + 1e-9), legs, legs])
    assert not below.shrunk[0] and above.shrunk[0]
    assert above.widths[0] == pytest.approx(below.widths[0], rel=1e-6)


def test_one_and_two_faces() -> None:
    one = Prism([1.5])
    np.testing.assert_allclose(
        one.corners(), [[[-0.75, 0.5, 0], [0.75, 0.5, 0], [0.75, -0.5, 0], [-0.75, -0.5, 0]]]
    )
    np.testing.assert_allclose(one.normals(), [[0, 0, 1]], atol=1e-15)
    two = Prism([16 / 9, 4 / 3])
    np.testing.assert_allclose(two.normals(), [[0, 0, 1], [0, 0, -1]], atol=1e-15)
    np.testing.assert_allclose(two.centres()[:, 2], [CARD_GAP / 2, -CARD_GAP / 2])
    # face 1 seen from behind: its top-left is at +X
    assert two.corners()[1, 0, 0] > 0 > two.corners()[1, 1, 0]
    assert two.radius == pytest.approx(math.hypot(8 / 9, CARD_GAP / 2))


def test_vertex_data_and_from_sizes() -> None:
    p = Prism.from_sizes([(1920, 1080), (1024, 768), (800, 600)])
    assert p.aspects == pytest.approx((16 / 9, 4 / 3, 4 / 3))
    vd = p.vertex_data(0.4)
    assert vd.dtype == np.float32 and vd.shape == (3, 4, 5)
    np.testing.assert_allclose(vd[..., :3], p.corners(0.4), atol=1e-6)
    np.testing.assert_array_equal(vd[..., 3:], np.broadcast_to(TEX_COORDS, (3, 4, 2)))
    np.testing.assert_allclose(p.corners(0.4), p.corners(0.0) @ rotation_y(0.4)[:3, :3].T)


# ---- orientation -----------------------------------------------------------------------


@given(aspects_st, st.floats(min_value=0.5, max_value=50.0))
def test_front_angle_points_face_at_camera(aspects: list[float], dist: float) -> None:
    p = Prism(aspects)
    cam = Camera.orbit(p.radius + dist)
    angles = [p.front_angle(k) for k in range(p.n)]
    assert angles[0] == 0.0
    assert all(b < a for a, b in itertools.pairwise(angles))  # "next" is negative
    assert all(-2 * math.pi < a <= 0.0 for a in angles)
    for k, a in enumerate(angles):
        np.testing.assert_allclose(p.normals(a)[k], [0, 0, 1], atol=1e-12)
        c = p.centres(a)[k]
        to_eye = np.asarray(cam.eye) - c
        assert np.dot(p.normals(a)[k], to_eye) == pytest.approx(np.linalg.norm(to_eye))
        np.testing.assert_allclose(c[:2], 0.0, atol=1e-12)  # on the camera's axis
        assert p.front_face(a) == k
        assert p.front_face(a + 2 * math.pi) == k


def test_closest_angle() -> None:
    assert closest_angle(-3 * math.pi / 2, 0.0) == pytest.approx(math.pi / 2)
    assert closest_angle(0.0, 10 * math.pi + 0.1) == pytest.approx(10 * math.pi)
    assert closest_angle(-0.5, -0.2) == pytest.approx(-0.5)


# ---- framing ---------------------------------------------------------------------------


@SLOW
@given(
    aspects_st,
    st.floats(min_value=0.3, max_value=4.0),
    fovy_st,
    st.floats(min_value=0.0, max_value=0.2),
)
def test_fit_distance_keeps_all_corners_inside(aspects, win_aspect, fovy, margin) -> None:
    p = Prism(aspects)
    d = p.fit_distance(win_aspect, fovy, margin)
    cam = Camera.orbit(d, fovy=fovy)
    bound = 1.0 - 2.0 * margin
    pts = np.stack([p.corners(a) for a in ANGLES])
    ndc, w = clip_of(pts, cam, win_aspect)
    assert (w > cam.near).all()
    extent = np.abs(ndc).max(axis=(0, 1, 2))
    assert extent.max() <= bound + 1e-9
    assert extent.max() >= 0.97 * bound  # and not needlessly far away


@given(aspects_st, st.data(), st.floats(min_value=0.3, max_value=4.0), fovy_st)
def test_fill_distance_fills_window(aspects, data, win_aspect, fovy) -> None:
    p = Prism(aspects)
    k = data.draw(st.integers(0, p.n - 1))
    fill = data.draw(st.floats(min_value=0.5, max_value=1.5))
    cam = Camera.orbit(p.fill_distance(k, win_aspect, fovy, fill), fovy=fovy)
    ndc, _ = clip_of(p.corners(p.front_angle(k))[k], cam, win_aspect)
    extent = np.abs(ndc).max(axis=0)
    assert extent.max() == pytest.approx(fill, rel=1e-9)
    np.testing.assert_allclose(ndc[:, 0].sum(), 0.0, atol=1e-9)  # centred
    np.testing.assert_allclose(ndc[:, 1].sum(), 0.0, atol=1e-9)


# ---- depth order -----------------------------------------------------------------------


def aspect_sets(n: int) -> list[list[float]]:
    rng = np.random.default_rng(n)
    sets = [[16 / 9] * n, list(rng.uniform(0.5, 2.4, size=n))]
    if n >= 3:
        sets.append([5.0] + [0.7] * (n - 1))  # forces the shrink fallback
    return sets


def cameras(kind: str, p: Prism, theta: float, rng: np.random.Generator) -> Camera:
    fovy = math.radians(50.0)
    if kind == "fit":
        return Camera.orbit(p.fit_distance(16 / 9, fovy), fovy=fovy)
    if kind == "close":  # just outside the bounding cylinder: partly clipped, wide angle
        return Camera.orbit(p.radius * 1.05 + 0.02, fovy=math.radians(100.0))
    if kind == "above":
        return cam_from((0.3, 1.2, 1.5 * p.radius + 0.5), (0.0, 0.1, 0.0), fovy)
    if kind == "random":  # anywhere in a box around the prism, any direction
        eye = rng.uniform(-2.0, 2.0, size=3) * np.array([p.radius + 1, 1.0, p.radius + 1])
        return cam_from(eye, random_direction_target(eye, rng), fovy)
    assert kind == "inside"
    eye = random_inside_eye(p, theta, rng)
    return cam_from(eye, random_direction_target(eye, rng), math.radians(100.0))


@pytest.mark.parametrize("kind", ["fit", "close", "above", "random", "inside"])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8])
def test_draw_order_is_exact(n: int, kind: str) -> None:
    if kind == "inside" and n == 1:
        pytest.skip("a single flat face has no inside")
    rng = np.random.default_rng(1000 * n + len(kind))
    overlaps = 0
    for aspects in aspect_sets(n):
        p = Prism(aspects)
        for theta in ANGLES:
            cam = cameras(kind, p, float(theta), rng)
            order = p.draw_order(float(theta), cam)
            assert sorted(order) == list(range(n))
            occ = p.occlusion_matrix(float(theta), cam, samples=10)
            overlaps += int(occ.sum())
            for a in range(n):
                for b in range(a + 1, n):
                    # a face drawn earlier must never be in front of one drawn later
                    assert not occ[order[a], order[b]], (aspects, theta, cam, order)
            if kind == "inside":
                assert not occ.any()  # from inside no face ever hides another
                assert (p.facing(float(theta), cam) < 0).all()
    if n >= 2 and kind in ("fit", "close", "random"):
        assert overlaps > 0  # the check is not vacuous


def test_occlusion_check_detects_a_wrong_order() -> None:
    p = Prism([1.0] * 4)
    cam = Camera.orbit(4.0)
    theta = 0.3
    order = p.draw_order(theta, cam)
    assert order[-2:] in ([0, 3], [3, 0])  # the two visible faces go last
    assert order[:2] in ([2, 1], [1, 2])
    assert p.occludes(0, 2, theta, cam)
    assert not p.occludes(2, 0, theta, cam)
    assert not p.occludes(0, 3, theta, cam) and not p.occludes(3, 0, theta, cam)
    # from inside nothing overlaps
    inside = Camera((0.0, 0.0, 0.2), (0.0, 0.0, -1.0))
    assert not p.occlusion_matrix(theta, inside).any()


def test_card_order_follows_the_visible_side() -> None:
    p = Prism([16 / 9, 4 / 3])
    cam = Camera.orbit(3.0)
    assert p.draw_order(0.0, cam) == [1, 0]
    assert p.draw_order(math.pi, cam) == [0, 1]
    assert p.occludes(0, 1, 0.0, cam) and p.occludes(1, 0, math.pi, cam)


# ---- picking ---------------------------------------------------------------------------


def test_face_pixel() -> None:
    assert face_pixel(0.0, 0.0, 640, 480) == (0, 0)
    assert face_pixel(1.0, 1.0, 640, 480) == (639, 479)
    assert face_pixel(0.5, 0.25, 640, 480) == (320, 120)
    assert face_pixel(0.999999, 0.5 - 1e-12, 640, 480) == (639, 239)
    assert face_pixel(-0.1, 1.1, 3, 3) == (0, 2)


@SLOW
@given(
    aspects_st,
    theta_st,
    window_st,
    fovy_st,
    st.floats(min_value=0.2, max_value=2.0),
    st.floats(min_value=-0.6, max_value=0.6),
    st.data(),
)
def test_project_then_pick_round_trip(aspects, theta, window, fovy, zoom, height, data) -> None:
    p = Prism(aspects)
    ww, wh = window
    dist = zoom * p.fit_distance(ww / wh, fovy)
    cam = cam_from((0.0, height, dist), (0.0, 0.0, 0.0), fovy)
    facing = p.facing(theta, cam)
    inside = bool((facing < 0).all()) and abs(height) < p.half_height
    k = data.draw(st.integers(0, p.n - 1))
    u = data.draw(st.floats(min_value=0.01, max_value=0.99))
    v = data.draw(st.floats(min_value=0.01, max_value=0.99))
    world = p.point(k, u, v, theta)
    to_eye = np.asarray(cam.eye) - world
    grazing = abs(p.normals(theta)[k] @ to_eye) / np.linalg.norm(to_eye) < 0.02
    screen = p.project(k, u, v, ww, wh, theta, cam)
    if screen is None:
        event("clipped")
        depth = -(cam.view_matrix() @ np.append(world, 1.0))[2]
        assert not cam.near <= depth <= cam.far
        return
    hit = p.pick(*screen, ww, wh, theta, cam)
    assert hit is not None  # the projected point itself is on a face
    if (facing[k] > 0 or inside) and not grazing:
        # a front face (or any face from inside) is never hidden: exact round trip
        event("exact round trip" + (" (inside)" if inside else ""))
        assert hit.face == k
        assert hit.u == pytest.approx(u, abs=1e-6)
        assert hit.v == pytest.approx(v, abs=1e-6)
    hits = brute_hits(p, *screen, ww, wh, theta, cam)
    assert hits
    if len(hits) == 1 or hits[1][0] - hits[0][0] > 1e-7 * max(hits[0][0], 1.0):
        assert hits[0][1] == hit.face


@SLOW
@given(
    st.lists(aspect_st, min_size=2, max_size=8),
    theta_st,
    window_st,
    st.floats(min_value=math.radians(30.0), max_value=math.radians(120.0)),
    st.integers(0, 2**32 - 1),
    st.data(),
)
def test_round_trip_from_inside(aspects, theta, window, fovy, seed, data) -> None:
    p = Prism(aspects)
    ww, wh = window
    rng = np.random.default_rng(seed)
    eye = random_inside_eye(p, theta, rng)
    cam = cam_from(eye, random_direction_target(eye, rng), fovy)
    assert (p.facing(theta, cam) < 0).all()
    u = data.draw(st.floats(min_value=0.01, max_value=0.99))
    v = data.draw(st.floats(min_value=0.01, max_value=0.99))
    for k in range(p.n):
        screen = p.project(k, u, v, ww, wh, theta, cam)
        if screen is None:
            continue  # behind the camera
        event("exact round trip from inside")
        hit = p.pick(*screen, ww, wh, theta, cam)
        assert hit is not None and hit.face == k
        assert hit.u == pytest.approx(u, abs=1e-6)
        assert hit.v == pytest.approx(v, abs=1e-6)


@SLOW
@given(
    aspects_st,
    theta_st,
    window_st,
    fovy_st,
    st.floats(min_value=0.1, max_value=2.0),
    st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1, max_size=20),
)
def test_pick_matches_brute_force(aspects, theta, window, fovy, zoom, points) -> None:
    p = Prism(aspects)
    ww, wh = window
    cam = Camera.orbit(zoom * p.fit_distance(ww / wh, fovy), fovy=fovy)
    for fx, fy in points:
        sx, sy = fx * ww, fy * wh
        got = p.pick(sx, sy, ww, wh, theta, cam)
        hits = brute_hits(p, sx, sy, ww, wh, theta, cam)
        if not hits:
            event("background")
            assert got is None
            continue
        depth, face, a, b = hits[0]
        if len(hits) > 1 and hits[1][0] - depth < 1e-7 * max(depth, 1.0):
            continue  # on a shared edge: either face is right
        event("hit, nearest of several" if len(hits) > 1 else "hit")
        assert got is not None and got.face == face
        assert got.u == pytest.approx(a, abs=1e-6) and got.v == pytest.approx(b, abs=1e-6)
        back = p.project(got.face, got.u, got.v, ww, wh, theta, cam)
        assert back is not None
        assert back[0] == pytest.approx(sx, abs=1e-6 * max(ww, wh))
        assert back[1] == pytest.approx(sy, abs=1e-6 * max(ww, wh))


def test_pick_centre_corners_and_beside_the_front_face() -> None:
    sizes = [(1920, 1080), (1280, 1024), (800, 600), (1024, 768), (640, 480)]
    prism = Prism.from_sizes(sizes)
    ww, wh = 1600, 900
    fovy = math.radians(45.0)
    for k in range(prism.n):
        theta = prism.front_angle(k)
        cam = Camera.orbit(prism.fit_distance(ww / wh, fovy), fovy=fovy)
        hit = pick(ww / 2, wh / 2, ww, wh, theta, cam, sizes)
        assert hit is not None and hit.face == k
        assert hit.u == pytest.approx(0.5) and hit.v == pytest.approx(0.5)
        # the centre of session pixel (px, py) maps back to exactly that pixel
        w, h = sizes[k]
        for px, py in ((0, 0), (w // 2, h // 3), (w - 1, h - 1), (7, h - 1)):
            s = prism.project(k, (px + 0.5) / w, (py + 0.5) / h, ww, wh, theta, cam)
            assert s is not None
            hit = prism.pick(*s, ww, wh, theta, cam)
            assert hit is not None and face_pixel(hit.u, hit.v, w, h) == (px, py)
        assert pick(0.5, 0.5, ww, wh, theta, cam, sizes) is None  # window corner: background
        # zoomed so the face fills the window: every window corner is on the face's corners
        cam = Camera.orbit(prism.fill_distance(k, ww / wh, fovy), fovy=fovy)
        tl = prism.project(k, 0.0, 0.0, ww, wh, theta, cam)
        assert tl is not None
        hit = prism.pick(tl[0] + 1e-3, tl[1] + 1e-3, ww, wh, theta, cam)
        assert hit is not None and hit.face == k
        assert face_pixel(hit.u, hit.v, *sizes[k]) == (0, 0)
        # just beyond the front face's right edge, a bit turned: the neighbour (k + 1)
        theta2 = theta - 0.3
        cam = Camera.orbit(prism.fit_distance(ww / wh, fovy), fovy=fovy)
        edge = prism.project(k, 1.0, 0.5, ww, wh, theta2, cam)
        assert edge is not None
        right = prism.pick(edge[0] + 2.0, edge[1], ww, wh, theta2, cam)
        left = prism.pick(edge[0] - 2.0, edge[1], ww, wh, theta2, cam)
        assert right is not None and right.face == (k + 1) % prism.n and right.u < 0.05
        assert left is not None and left.face == k and left.u > 0.95


def test_pick_sees_through_to_nearest_only() -> None:
    p = Prism([1.0, 1.0])  # card: face 0 in front of face 1 at theta = 0
    cam = Camera.orbit(3.0)
    assert p.pick(400, 300, 800, 600, 0.0, cam) == Hit(0, 0.5, 0.5)
    hit = p.pick(400, 300, 800, 600, math.pi, cam)
    assert hit is not None and hit.face == 1
    # seen from inside the hexagon every face is reachable and maps exactly
    hexagon = Prism([1.0] * 6)
    inside = Camera((0.0, 0.0, 0.0), (0.0, 0.0, -1.0), fovy=math.radians(60.0))
    for theta in ANGLES[::15]:
        for k in range(6):
            s = hexagon.project(k, 0.25, 0.75, 640, 480, float(theta), inside)
            if s is None:
                continue
            hit = hexagon.pick(*s, 640, 480, float(theta), inside)
            assert hit is not None and hit.face == k
            assert hit.u == pytest.approx(0.25) and hit.v == pytest.approx(0.75)
