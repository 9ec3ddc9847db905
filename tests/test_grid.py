"""Pure grid maths and the prism <-> grid blend: layout, fit, picking, draw order, debounce."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vncwall.render.grid import Grid, Rect, default_gap, fit, grid_shape, one_to_one
from vncwall.render.hud_text import FrameRate
from vncwall.render.prism import Camera, Prism, face_pixel
from vncwall.render.remote_size import SizeRequests
from vncwall.render.scene import Piece, Scene, bsp_order, compose, screen_corners, whole

FOVY = math.radians(40.0)
ASPECTS = [16 / 9, 16 / 10, 4 / 3, 1.0, 9 / 16, 32 / 9, 3.0, 1 / 3]
SLOW = settings(deadline=None, max_examples=120, suppress_health_check=[HealthCheck.too_slow])


def cell_fit_area(n: int, rows: int, cols: int, aspect: float, face: float) -> float:
    """Area a face of aspect `face` covers fitted in one cell (window 1 high), own maths."""
    w, h = aspect / cols, 1.0 / rows
    if w / h > face:
        return h * h * face
    return w * w / face


@pytest.mark.parametrize("n", range(1, 13))
@pytest.mark.parametrize("aspect", ASPECTS)
def test_grid_shape_is_the_best_of_all_shapes(n: int, aspect: float) -> None:
    rows, cols = grid_shape(n, aspect, [1.6] * n)
    assert rows * cols >= n and (rows - 1) * cols < n  # room for all, no empty row
    best = max(cell_fit_area(n, r, c, aspect, 1.6)
               for r in range(1, n + 1) for c in range(1, n + 1) if r * c >= n)
    assert cell_fit_area(n, rows, cols, aspect, 1.6) == pytest.approx(best, rel=1e-9)


def test_grid_shape_known_walls() -> None:
    assert grid_shape(1, 16 / 9) == (1, 1)
    assert grid_shape(4, 16 / 10, [1.6] * 4) == (2, 2)
    assert grid_shape(6, 16 / 9, [16 / 9] * 6) == (2, 3)
    assert grid_shape(9, 16 / 9, [16 / 9] * 9) == (3, 3)
    assert grid_shape(3, 48 / 9, [16 / 9] * 3) == (1, 3)  # three monitors wide: one row
    assert grid_shape(3, 9 / 16, [16 / 9] * 3) == (3, 1)  # portrait: one column
    with pytest.raises(ValueError):
        grid_shape(0, 1.0)


def overlap(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


@pytest.mark.parametrize("n", range(1, 13))
@pytest.mark.parametrize("viewport", [(1920, 1080), (1280, 800), (800, 600), (3840, 600),
                                      (600, 2400), (301, 199)])
def test_tiles_fill_the_window_without_overlap(n: int, viewport: tuple[int, int]) -> None:
    sizes = [(1280, 800), (1024, 768), (1920, 1080), (800, 1280)] * 3
    grid = Grid.layout(sizes[:n], viewport)
    vw, vh = viewport
    assert grid.n == n and grid.rows * grid.cols >= n
    g = grid.gap
    assert 0 <= g <= default_gap(viewport)
    for i, (cell, pic) in enumerate(zip(grid.cells, grid.contents, strict=True)):
        assert g - 1e-9 <= cell.x and cell.x + cell.w <= vw - g + 1e-9
        assert g - 1e-9 <= cell.y and cell.y + cell.h <= vh - g + 1e-9
        # The picture: whole pixels, inside its cell (to rounding), the session's aspect.
        assert all(float(v).is_integer() for v in (pic.x, pic.y, pic.w, pic.h))
        assert cell.x - 0.5 <= pic.x and pic.x + pic.w <= cell.x + cell.w + 0.5
        assert cell.y - 0.5 <= pic.y and pic.y + pic.h <= cell.y + cell.h + 0.5
        w, h = sizes[i]
        assert abs(pic.w / pic.h - w / h) <= 1.0 / min(pic.w, pic.h) * (1 + w / h)
        # ...and as big as the cell allows: touching two opposite sides (to a pixel).
        assert abs(pic.w - cell.w) <= 1.0 or abs(pic.h - cell.h) <= 1.0
    for a, b in itertools.combinations(grid.cells, 2):
        assert not overlap(a.grown(g / 2 - 1e-6), b.grown(g / 2 - 1e-6))
    # A short last row is centred.
    last = grid.cells[(grid.rows - 1) * grid.cols:]
    left, right = last[0].x, vw - (last[-1].x + last[-1].w)
    assert left == pytest.approx(right, abs=1e-6)


def test_gaps_pick_nothing_and_tiles_pick_themselves() -> None:
    grid = Grid.layout([(1280, 800)] * 5, (1280, 800))
    for i, cell in enumerate(grid.cells):
        assert grid.tile_at(*cell.centre) == i
        assert grid.pick(*cell.centre) is not None
    c0, c1 = grid.cells[0], grid.cells[1]
    between = ((c0.x + c0.w + c1.x) / 2, c0.centre[1])
    assert grid.tile_at(*between) is None and grid.pick(*between) is None
    assert grid.tile_at(0.5, 0.5) is None  # the outer margin


@SLOW
@given(
    st.integers(1, 12),
    st.tuples(st.integers(64, 4000), st.integers(64, 4000)),
    st.lists(st.tuples(st.integers(1, 4000), st.integers(1, 4000)), min_size=12, max_size=12),
    st.floats(0.0, 0.999), st.floats(0.0, 0.999),
)
def test_pick_round_trip(n: int, viewport: tuple[int, int], sizes: list[tuple[int, int]],
                         u: float, v: float) -> None:
    grid = Grid.layout(sizes[:n], viewport)
    for tile in range(n):
        sx, sy = grid.project(tile, u, v)
        hit = grid.pick(sx, sy)
        assert hit is not None and hit.tile == tile
        assert hit.u == pytest.approx(u, abs=1e-9) and hit.v == pytest.approx(v, abs=1e-9)


def test_one_to_one_maps_window_pixels_to_session_pixels_exactly() -> None:
    rect = one_to_one((1400, 900), 1280, 800)
    assert rect == Rect(60.0, 50.0, 1280.0, 800.0)
    for x, y in [(60, 50), (61, 50), (1339, 849), (700, 400)]:
        u, v = rect.uv(x + 0.5, y + 0.5)
        assert face_pixel(u, v, 1280, 800) == (x - 60, y - 50)
    assert not rect.contains(59.5, 100) and not rect.contains(1340.5, 100)
    big = one_to_one((800, 600), 1920, 1080)  # bigger than the window: fitted
    assert (big.w, big.h) == (800.0, 450.0) and big.y == 75.0
    assert fit(Rect(0, 0, 100, 100), 4, 1) == Rect(0.0, 38.0, 100.0, 25.0)


def test_rect_lerp_reaches_both_ends() -> None:
    a, b = Rect(10, 20, 30, 40), Rect(0, 0, 100, 200)
    assert a.lerp(b, 0.0) == a and a.lerp(b, 1.0) == b
    assert a.lerp(b, 0.5) == Rect(5, 10, 65, 120)


# ---- the blend between prism and grid -----------------------------------------------

def project(camera: Camera, viewport: tuple[int, int], p: np.ndarray) -> tuple[float, float]:
    """Window point of a world point through the GL matrices (own maths)."""
    vw, vh = viewport
    clip = camera.projection_matrix(vw / vh) @ camera.view_matrix() @ np.append(p, 1.0)
    return ((clip[0] / clip[3] + 1) * 0.5 * vw, (1 - clip[1] / clip[3]) * 0.5 * vh)


@pytest.mark.parametrize("distance", [2.0, 3.7, 10.0])
def test_grid_plane_projects_onto_the_tiles(distance: float) -> None:
    viewport = (1280, 720)
    grid = Grid.layout([(1280, 800)] * 5, viewport)
    cam = Camera.orbit(distance, FOVY)
    corners = screen_corners(grid.contents, viewport, cam)
    for rect, quad in zip(grid.contents, corners, strict=True):
        want = [(rect.x, rect.y), (rect.x + rect.w, rect.y),
                (rect.x + rect.w, rect.y + rect.h), (rect.x, rect.y + rect.h)]
        for corner, (wx, wy) in zip(quad, want, strict=True):
            sx, sy = project(cam, viewport, corner)
            assert sx == pytest.approx(wx, abs=1e-6) and sy == pytest.approx(wy, abs=1e-6)


def ray(cam: Camera, viewport: tuple[int, int], sx: float, sy: float
        ) -> tuple[np.ndarray, np.ndarray]:
    """Eye and direction of a window point's view ray (own maths, inverse matrices)."""
    vw, vh = viewport
    inv = np.linalg.inv(cam.projection_matrix(vw / vh) @ cam.view_matrix())
    far = inv @ np.array([2 * sx / vw - 1, 1 - 2 * sy / vh, 1.0, 1.0])
    eye = np.array(cam.eye)
    return eye, far[:3] / far[3] - eye


def piece_hits(pieces: list[Piece], eye: np.ndarray, d: np.ndarray) -> list[tuple[float, int]]:
    """(ray parameter, piece index) of every convex piece the ray crosses, nearest first."""
    hits = []
    for k, piece in enumerate(pieces):
        v = piece.vertices[:, :3]
        normal = np.cross(v[1] - v[0], v[-1] - v[0])
        if np.linalg.norm(normal) < 1e-12 or abs(normal @ d) < 1e-12:
            continue
        t = normal @ (v[0] - eye) / (normal @ d)
        if t <= 0:
            continue
        p = eye + t * d
        signs = [np.cross(v[(j + 1) % len(v)] - v[j], p - v[j]) @ normal for j in range(len(v))]
        if all(x >= -1e-12 for x in signs) or all(x <= 1e-12 for x in signs):
            hits.append((float(t), k))
    return sorted(hits)


def morph(n: int, mix: float, theta: float, viewport: tuple[int, int] = (640, 400)
          ) -> tuple[Prism, Camera, Scene]:
    prism = Prism.from_sizes([(1280, 800)] * n)
    cam = Camera.orbit(prism.fit_distance(viewport[0] / viewport[1], FOVY), FOVY)
    grid = Grid.layout([(1280, 800)] * n, viewport)
    return prism, cam, compose(prism, theta, cam, viewport, grid.contents, mix, 0.5, 0.9)


def face_area(corners: np.ndarray) -> float:
    return float(np.linalg.norm(np.cross(corners[1] - corners[0], corners[3] - corners[0])))


def polygon_area(v: np.ndarray) -> float:
    return float(np.linalg.norm(sum(np.cross(v[0], v[j]) + np.cross(v[j], v[j + 1])
                                    + np.cross(v[j + 1], v[0]) for j in range(1, len(v) - 1))
                                ) / 2)


@pytest.mark.parametrize("n", [2, 3, 4, 7])
@pytest.mark.parametrize("mix", [0.15, 0.5, 0.85])
def test_mid_switch_pieces_are_back_to_front_everywhere(n: int, mix: float) -> None:
    viewport = (640, 400)
    for theta in (0.0, -0.4, -2 * math.pi / n + 0.2):
        _, cam, scene = morph(n, mix, theta, viewport)
        c = scene.corners
        assert np.allclose(c[:, 0] + c[:, 2], c[:, 1] + c[:, 3])  # parallelograms: flat
        # The pieces cover every face exactly once...
        for i in range(n):
            parts = [p.vertices[:, :3] for p in scene.pieces if p.face == i]
            assert sum(polygon_area(v) for v in parts) == pytest.approx(face_area(c[i]), rel=1e-6)
        # ...and their texture coordinates are the face's own at every vertex.
        for piece in scene.pieces:
            tl, tr, _, bl = c[piece.face]
            uv = piece.vertices[:, 3:]
            want = tl + uv[:, :1] * (tr - tl) + uv[:, 1:] * (bl - tl)
            assert np.allclose(piece.vertices[:, :3], want, atol=1e-9)
        # Along every sampled view ray, a nearer piece is drawn after a farther one.
        for sx in np.linspace(2, viewport[0] - 2, 32):
            for sy in np.linspace(2, viewport[1] - 2, 20):
                hits = piece_hits(scene.pieces, *ray(cam, viewport, sx, sy))
                for (t0, near), (t1, far) in itertools.pairwise(hits):
                    if t1 - t0 > 1e-9:  # not a shared edge
                        assert near > far, (theta, sx, sy, hits)


def test_faces_passing_through_each_other_are_cut() -> None:
    cam = Camera.orbit(5.0, FOVY)
    square = np.array([[-1, 1, 0], [1, 1, 0], [1, -1, 0], [-1, -1, 0]], dtype=np.float64)
    tilted = square.copy()
    tilted[:, 2] = [-1.0, 1.0, 1.0, -1.0]  # crosses the first square along x = 0
    tilted[:, 0] *= 0.5
    pieces = bsp_order(whole(np.stack([square, tilted]), [0, 1]), np.array(cam.eye))
    assert len(pieces) == 3  # one of them was cut in two
    eye = np.array(cam.eye)
    for sx, sy in [(290, 200), (350, 200), (300, 150)]:
        hits = piece_hits(pieces, *ray(cam, (640, 400), sx, sy))
        assert len(hits) == 2
        (_, near), (_, far) = hits
        assert near > far
    front = square + np.array([0.3, 0.2, 1.0])
    behind = square + np.array([0.0, 0.0, -1.0])
    assert [p.face for p in bsp_order(whole(np.stack([front, behind]), [0, 1]), eye)] == [1, 0]
    assert [p.face for p in bsp_order(whole(np.stack([behind, front]), [0, 1]), eye)] == [0, 1]
    # Coplanar overlap (a zoomed tile): priority decides.
    flat = whole(np.stack([square, square * 0.5]), [0, 1])
    assert [p.face for p in bsp_order(flat, eye, [1, 0])] == [1, 0]


def test_switch_end_states() -> None:
    prism, cam, start = morph(4, 0.0, -0.3)
    assert np.allclose(start.corners, prism.corners(-0.3))
    assert start.order == prism.draw_order(-0.3, cam)
    assert all(len(p.vertices) == 4 for p in start.pieces)
    _, _, end = morph(4, 1.0, -0.3)
    grid = Grid.layout([(1280, 800)] * 4, (640, 400))
    assert np.allclose(end.corners, screen_corners(grid.contents, (640, 400), cam))
    assert np.allclose(end.alphas, 0.9)  # every tile at the front opacity
    assert end.order == [0, 1, 2, 3]


# ---- remote resize debounce and the frame rate ----------------------------------------

def test_size_requests_wait_for_a_settled_change() -> None:
    r = SizeRequests(settle=0.5)
    conn = object()
    assert r.due([(conn, (800, 600)), None], False, 10.0) == []  # just changed: wait
    assert r.due([(conn, (800, 600)), None], False, 10.3) == []
    assert r.due([(conn, (800, 600)), None], True, 10.6) == []  # animating: wait
    assert r.due([(conn, (800, 600)), None], False, 10.7) == [(0, (800, 600))]
    assert r.due([(conn, (800, 600)), None], False, 20.0) == []  # asked once only
    assert r.due([(conn, (900, 600)), None], False, 20.1) == []
    assert r.due([(conn, (1000, 600)), None], False, 20.4) == []  # changed again: restart
    assert r.due([(conn, (1000, 600)), None], False, 20.8) == []
    assert r.due([(conn, (1000, 600)), None], False, 20.9) == [(0, (1000, 600))]
    other = object()  # reconnected: the same size is asked for on the new connection
    assert r.due([(other, (1000, 600)), None], False, 30.0) == []
    assert r.due([(other, (1000, 600)), None], False, 30.5) == [(0, (1000, 600))]


def test_frame_rate_over_the_last_second() -> None:
    rate = FrameRate(window=1.0)
    assert rate.fps(0.0) == 0.0
    for k in range(121):
        rate.tick(10.0 + k / 60.0)
    assert rate.fps(12.0) == pytest.approx(60.0, rel=0.02)
    assert rate.fps(30.0) == 0.0  # nothing drawn lately


def test_a_jump_is_rest_not_motion() -> None:
    from vncwall.render.animation import Rotation

    r = Rotation(duration=3600.0)
    r.jump(1.0, 5.0)
    assert not r.moving(5.0) and r.angle(6.0) == 1.0
    r.retarget(0.0, 6.0)
    assert r.moving(7.0)


@pytest.mark.parametrize("n", [2, 3, 5, 7, 10])
def test_same_shaped_faces_fill_their_cells_and_the_block_is_centred(n: int) -> None:
    viewport = (1920, 1080)
    grid = Grid.layout([(1280, 800)] * n, viewport)
    for cell, pic in zip(grid.cells, grid.contents, strict=True):
        assert abs(pic.w - cell.w) <= 1 and abs(pic.h - cell.h) <= 1  # no letterbox bands
    left = min(c.x for c in grid.cells)
    right = viewport[0] - max(c.x + c.w for c in grid.cells)
    top = min(c.y for c in grid.cells)
    bottom = viewport[1] - max(c.y + c.h for c in grid.cells)
    assert left == pytest.approx(right) and top == pytest.approx(bottom)
    assert min(left, top) == pytest.approx(grid.gap)  # as big as the window allows
    rows = sorted({c.y for c in grid.cells})
    assert all(b - a == pytest.approx(grid.cells[0].h + grid.gap)
               for a, b in itertools.pairwise(rows))


def test_a_minimised_window_is_no_error() -> None:
    import pygame

    from vncwall.config import Config, SessionConfig, WallConfig
    from vncwall.net.address import parse_address
    from vncwall.wall import Wall

    cfg = Config(WallConfig(layout="grid"),
                 (SessionConfig(name="x", address=parse_address("127.0.0.1::1"),
                                resize_remote=True),))
    wall = Wall(cfg)  # never started: no window, no GL; these paths must not need them
    wall.viewport = (0, 0)
    assert wall.frame((0, 0), 1.0) == 0
    wall.request_sizes((0, 0), 1.0)
    press = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(1, 1), button=1)
    assert wall.clicked_tile(press) is None
