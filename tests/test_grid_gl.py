"""The grid layout through real GL (Xvfb + Mesa) against real Xvnc servers.

Tiles are compared pixel by pixel with what the sessions' framebuffers hold, the zoomed
tile must be the framebuffer exactly, and the animated prism <-> grid switch is checked
at both ends and in the middle against the analytic back-to-front blend.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tests.servers import ServerPool, VncServer, solid_servers
from tests.test_grid import piece_hits, ray
from tests.wallkit import OPAQUE_GRID, WallOpener, render
from vncwall.render.grid import one_to_one
from vncwall.wall import SWITCH_SECONDS, Wall

COLOURS = ["#e03c31", "#2e8b57", "#1f5fbf"]


def rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


@pytest.fixture(scope="module")
def servers(server_pool: ServerPool) -> Iterator[list[VncServer]]:
    """A rich static scene first, then three solid colours."""
    scene = server_pool.get("tigervnc")  # skips when the scene's programs are missing
    with solid_servers(COLOURS) as solid:
        yield [scene, *solid]


def pixels(wall: Wall, i: int) -> np.ndarray:
    fb = wall.sessions[i].framebuffer
    assert fb is not None
    with fb.lock:
        return fb.pixels[..., :3].astype(np.float64)


def bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """GL_LINEAR sampling (clamp to edge) of an (h, w, 3) image at texture coordinates."""
    h, w = img.shape[:2]
    x = np.clip(u * w - 0.5, 0, w - 1)
    y = np.clip(v * h - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    result: np.ndarray = top * (1 - fy) + bottom * fy
    return result


def trilinear(levels: list[np.ndarray], u: np.ndarray, v: np.ndarray,
              lod: float) -> np.ndarray:
    """GL_LINEAR_MIPMAP_LINEAR sampling at one level of detail, over levels 0, 1, ..."""
    if lod <= 0.0:
        return bilinear(levels[0], u, v)
    lo = min(int(lod), len(levels) - 1)
    hi = min(lo + 1, len(levels) - 1)
    frac = lod - int(lod)
    result: np.ndarray = (bilinear(levels[lo], u, v) * (1 - frac)
                          + bilinear(levels[hi], u, v) * frac)
    return result


@pytest.mark.parametrize("filter_mode", ["trilinear", "linear"])
def test_grid_tiles_show_the_sessions_framebuffers(
    open_wall: WallOpener, servers: list[VncServer], filter_mode: str
) -> None:
    """Each tile is its framebuffer sampled as GL is asked to: trilinearly through the
    mipmaps, or bilinearly from level 0 (filter = "linear"). Anisotropic filtering, the
    default, is left to each GL; test_minify checks what it gives."""
    size = (1000, 640)
    with open_wall(servers, filter=filter_mode, **OPAQUE_GRID) as wall:
        image = render(wall, size, time.monotonic()).astype(np.float64)
        grid = wall.grid(size)
        assert (grid.rows, grid.cols) == (2, 2)
        assert wall.renderer is not None
        for i, rect in enumerate(grid.contents):
            x0, y0, w, h = (int(v) for v in (rect.x, rect.y, rect.w, rect.h))
            ys, xs = np.mgrid[y0 : y0 + h, x0 : x0 + w]
            u, v = (xs + 0.5 - x0) / w, (ys + 0.5 - y0) / h
            mips = wall.renderer.textures[i].mips
            if filter_mode == "linear":
                assert mips is None
                want = bilinear(pixels(wall, i), u, v)
            else:
                assert mips is not None
                levels = [pixels(wall, i)] + [a[..., :3].astype(np.float64) for a in mips.levels]
                th, tw = levels[0].shape[:2]
                want = trilinear(levels, u, v, float(np.log2(max(tw / w, th / h))))
            got = image[y0 : y0 + h, x0 : x0 + w]
            err = np.abs(got - want).max(axis=2)
            assert float(np.mean(err > 4)) < 0.002, (i, float(err.mean()), float(err.max()))
            assert float(err.mean()) < 0.5, (i, float(err.mean()))
        # Between the tiles: the background; round the focused tile (0): its outline.
        c0, c1 = grid.cells[0], grid.cells[1]
        gap_x = int((c0.x + c0.w + c1.x) / 2)
        assert image[int(c0.centre[1]), gap_x].max() == 0
        focus = grid.contents[0]
        ring = image[int(focus.y) - 2, int(focus.x) + 10 : int(focus.x + focus.w) - 10]
        from vncwall.render.renderer import OUTLINE_COLOUR

        assert np.abs(ring - np.array(OUTLINE_COLOUR) * 255).max() <= 1.0
        other = grid.contents[3]
        no_ring = image[int(other.y) - 2, int(other.x) + 10 : int(other.x + other.w) - 10]
        assert no_ring.max() == 0  # background: black


def test_zoomed_tile_is_the_framebuffer_one_to_one(
    open_wall: WallOpener, servers: list[VncServer]
) -> None:
    size = (1400, 900)
    with open_wall(servers, **OPAQUE_GRID) as wall:
        now = time.monotonic()
        before = render(wall, size, now)
        wall.toggle_zoom(now)
        image = render(wall, size, now + 1.0)
        rect = one_to_one(size, 1280, 800)
        assert (rect.x, rect.y) == (60.0, 50.0)
        got = image[50:850, 60:1340].astype(np.float64)
        assert np.array_equal(got, pixels(wall, 0))  # exact: every pixel, every channel
        # The pointer maps onto the same pixels.
        wall.viewport = size
        target = wall.input_target(now + 1.0)
        assert target is not None and target.index == 0
        assert target.to_pixel(60.5, 50.5) == (0, 0)
        assert target.to_pixel(1339.5, 849.5) == (1279, 799)
        assert target.to_pixel(59.5, 50.5) is None
        # Zoom back out: the tile returns to its place in the grid.
        wall.toggle_zoom(now + 2.0)
        assert np.array_equal(render(wall, size, now + 3.0), before)


def blend(alphas: np.ndarray, faces_far_to_near: list[int]) -> np.ndarray:
    c = np.zeros(3)
    for i in faces_far_to_near:
        c = alphas[i] * rgb(COLOURS[i]) + (1 - alphas[i]) * c
    return c


def test_switch_reaches_both_ends_and_blends_right_in_between(
    open_wall: WallOpener, servers: list[VncServer]
) -> None:
    size = (640, 400)
    solid = servers[1:]
    with open_wall(solid, opacity=0.5, front_opacity=0.8) as wall:
        t0 = time.monotonic() + 100.0
        wall.rotation.jump(-0.35, t0)  # turned a little: three faces seen, overlapping
        prism_image = render(wall, size, t0)
        wall.toggle_layout(t0)
        assert wall.layout == "grid"
        assert np.array_equal(render(wall, size, t0), prism_image)  # starts where it was
        end = render(wall, size, t0 + SWITCH_SECONDS + 0.01)
        wall.switch.jump(1.0, t0)
        assert np.array_equal(render(wall, size, t0 + 50), end)  # ends on the grid itself
        # Half way: every pixel along some rays is the exact back-to-front blend.
        wall.toggle_layout(t0)  # back to the prism (retargeted: it is there at once)...
        assert wall.layout == "prism"
        wall.switch.jump(0.0, t0)
        wall.toggle_layout(t0)  # ...and to the grid again, from rest
        assert wall.layout == "grid"
        mid = t0 + SWITCH_SECONDS * 0.4
        assert 0.2 < wall.mix(mid) < 0.8
        image = render(wall, size, mid).astype(np.float64)
        scene = wall.scene(size, mid)
        cam = wall.camera(size, mid)
        checked = told_apart = 0
        for sx in range(8, size[0], 16):
            for sy in range(8, size[1], 16):
                eye, d = ray(cam, size, sx + 0.5, sy + 0.5)
                hits = piece_hits(scene.pieces, eye, d / np.linalg.norm(d))  # t: distance
                faces = [scene.pieces[k].face for _, k in hits]
                if len(faces) < 2 or any(
                    abs(a[0] - b[0]) < 1e-3 for a, b in itertools.pairwise(hits)
                ):
                    continue  # fewer than two faces, or on an edge where they meet
                expected = blend(scene.alphas, faces[::-1])
                got = image[sy, sx]
                assert np.abs(got - expected).max() <= 3, (sx, sy, faces, got, expected)
                checked += 1
                wrong = blend(scene.alphas, faces)
                if np.abs(wrong - expected).max() > 12:
                    told_apart += 1
        assert checked >= 10 and told_apart >= 5, (checked, told_apart)
        assert len(scene.pieces) >= len(wall.sessions)
