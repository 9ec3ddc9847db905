"""The wall through a real GL context (Xvfb + Mesa) against real Xvnc servers.

Each server shows one solid colour; `vncwall snapshot` renders the prism; the pixel at
the front face's centre must equal the analytic back-to-front blend of every face the
view ray crosses (and must differ from the front-to-back blend).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.e2e import write_wall_config
from tests.servers import VncServer, XDisplay, solid_servers
from tests.wallkit import WallOpener
from vncwall.render.layout import face_opacities
from vncwall.render.prism import Camera, Prism

COLOURS = ["#e03c31", "#2e8b57", "#1f5fbf", "#f2c14e", "#8e44ad", "#16a085", "#d35400"]
OPACITY, FRONT_OPACITY = 0.5, 0.75
SIZE = (640, 400)
FOVY = math.radians(40.0)  # vncwall.wall.FOVY, restated: the test pins the camera


def rgb(hex_colour: str) -> np.ndarray:
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


@pytest.fixture(scope="module", name="solid_servers")
def solid_servers_fixture() -> Iterator[list[VncServer]]:
    with solid_servers(COLOURS) as servers:
        yield servers


def write_config(path: Path, servers: list[VncServer], **wall: object) -> Path:
    lines = [f"opacity = {OPACITY}", f"front_opacity = {FRONT_OPACITY}",
             "labels = false", "fullscreen = false", 'background = "#000000"']
    lines += [f"{k} = {v!r}".replace("'", '"').replace("True", "true").replace("False", "false")
              for k, v in wall.items()]
    return write_wall_config(path, lines, servers)


def snapshot(display: XDisplay, config: Path, out: Path, angle: float) -> np.ndarray:
    env = display.env()
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, "-m", "vncwall", "snapshot", "--config", str(config), str(out),
         "--size", f"{SIZE[0]}x{SIZE[1]}", "--angle", str(angle), "--timeout", "20"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    surface = pygame.image.load(str(out))
    return np.asarray(pygame.surfarray.array3d(surface)).transpose(1, 0, 2)


def ray_hits(prism: Prism, theta: float, cam: Camera, sx: float, sy: float) -> list[int]:
    """Faces crossed by the view ray through a screen point, nearest first (own maths)."""
    w, h = SIZE
    ndc = np.array([2 * sx / w - 1, 1 - 2 * sy / h, 1.0, 1.0])
    inv = np.linalg.inv(cam.projection_matrix(w / h) @ cam.view_matrix())
    far = inv @ ndc
    far = far[:3] / far[3]
    eye = np.array(cam.eye)
    d = far - eye
    hits = []
    for i, (tl, tr, _br, bl) in enumerate(prism.corners(theta)):
        e1, e2 = tr - tl, bl - tl
        m = np.column_stack([-d, e1, e2])
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        t, u, v = np.linalg.solve(m, eye - tl)
        if t > 0 and 0 <= u <= 1 and 0 <= v <= 1:
            hits.append((t, i))
    return [i for _, i in sorted(hits)]


def blend(faces_far_to_near: list[int], alphas: np.ndarray) -> np.ndarray:
    c = np.zeros(3)
    for i in faces_far_to_near:
        c = alphas[i] * rgb(COLOURS[i]) + (1 - alphas[i]) * c
    return c


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 7])
def test_front_centre_is_exact_back_to_front_blend(
    n: int, gl_display: XDisplay, solid_servers: list[VncServer], tmp_path: Path
) -> None:
    servers = solid_servers[:n]
    config = write_config(tmp_path / "wall.toml", servers)
    prism = Prism.from_sizes([(1280, 800)] * n)
    cam = Camera.orbit(prism.fit_distance(SIZE[0] / SIZE[1], FOVY), FOVY)
    checked_order = 0
    for angle in (0.0, 360.0 / n, 23.0, 360.0 / n * (n - 1) + 11.0):
        image = snapshot(gl_display, config, tmp_path / f"s{angle}.png", angle)
        theta = -math.radians(angle)
        front = prism.front_face(theta)
        point = prism.project(front, 0.5, 0.5, SIZE[0], SIZE[1], theta, cam)
        assert point is not None
        sx, sy = int(point[0]), int(point[1])
        hits = ray_hits(prism, theta, cam, sx + 0.5, sy + 0.5)
        assert hits and hits[0] == front
        alphas = face_opacities(prism, theta, cam, OPACITY, FRONT_OPACITY)
        expected = blend(hits[::-1], alphas)
        got = image[sy, sx].astype(np.float64)
        assert np.abs(got - expected).max() <= 3, (n, angle, hits, got, expected)
        if len(hits) > 1:
            wrong = blend(hits, alphas)
            if np.abs(wrong - expected).max() > 12:
                checked_order += 1
                assert np.abs(got - wrong).max() > 6, (n, angle, got, wrong)
    if n > 1:
        assert checked_order > 0, "no angle told the right order from the wrong one"


def test_only_damaged_region_is_uploaded(
    gl_display: XDisplay, solid_servers: list[VncServer], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DISPLAY", gl_display.display_name)
    monkeypatch.delenv("XAUTHORITY", raising=False)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    from vncwall.config import load_config
    from vncwall.render.renderer import OffscreenTarget
    from vncwall.wall import Wall, open_window

    servers = solid_servers[:2]
    wall = Wall(load_config(write_config(tmp_path / "w.toml", servers)))
    open_window((64, 64), fullscreen=False, hidden=True)
    import pygame

    try:
        wall.start()
        target = OffscreenTarget(*SIZE)
        target.bind()
        deadline = time.monotonic() + 20
        while not wall.all_first_frames():
            assert time.monotonic() < deadline, [s.status() for s in wall.sessions]
            wall.frame(SIZE, time.monotonic())
            time.sleep(0.05)
        for _ in range(5):  # drain anything still in flight
            wall.frame(SIZE, time.monotonic())
            time.sleep(0.1)
        assert wall.renderer is not None
        textures = wall.renderer.textures
        before = [t.bytes_uploaded for t in textures]
        full = 1280 * 800 * 4
        assert before[0] >= full and before[1] >= full
        # A small window appears on server 1 only: 60x40 pixels at (100, 120).
        proc = servers[1].spawn(
            ["xclock", "-geometry", "60x40+100+120", "-update", "86400"], "small-window"
        )
        try:
            deadline = time.monotonic() + 20
            while textures[1].bytes_uploaded == before[1]:
                assert time.monotonic() < deadline, "the change never arrived"
                wall.frame(SIZE, time.monotonic())
                time.sleep(0.05)
            for _ in range(10):
                wall.frame(SIZE, time.monotonic())
                time.sleep(0.05)
            changed = textures[1].bytes_uploaded - before[1]
            assert textures[0].bytes_uploaded == before[0]  # the other session: nothing
            assert 0 < changed <= 4 * 80 * 60 * 3, changed  # the window's area, not the screen
        finally:
            proc.terminate()
    finally:
        wall.stop()
        pygame.display.quit()


def test_demo_snapshot_shows_live_faces(gl_display: XDisplay, tmp_path: Path) -> None:
    env = gl_display.env()
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    out = tmp_path / "demo.png"
    result = subprocess.run(
        [sys.executable, "-m", "vncwall", "demo", "--sides", "3", "--size", "480x300",
         "--snapshot", str(out)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    img = pygame.surfarray.array3d(pygame.image.load(str(out))).transpose(1, 0, 2)
    assert img.shape == (300, 480, 3)
    # Live demo desktops, not placeholders: many distinct colours at the front face's centre.
    centre = img[100:200, 160:320].reshape(-1, 3)
    assert len(np.unique(centre, axis=0)) > 50


def test_opaque_faces_hide_early_without_changing_the_picture(
    solid_servers: list[VncServer], open_wall: WallOpener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an opaque front face the renderer rejects what it hides by depth test first;
    the image must be the one plain back-to-front drawing gives, at rest and mid-turn."""
    from vncwall.render import renderer
    from vncwall.render.renderer import OffscreenTarget

    size = (640, 400)
    depth_used: list[bool] = []
    real = renderer.has_depth_buffer

    def spy() -> bool:
        depth_used.append(real())
        return depth_used[-1]

    with open_wall(solid_servers[:6], opacity=0.5, front_opacity=1.0) as wall:
        target = OffscreenTarget(*size)
        now = time.monotonic()

        def images(check: object) -> list[np.ndarray]:
            monkeypatch.setattr(renderer, "has_depth_buffer", check)
            shots = []
            for theta in (0.0, 0.4, -math.pi / 3, 2.0):
                target.bind()
                wall.frame(size, now, theta=theta)
                shots.append(target.read())
            return shots

        early = images(spy)
        plain = images(lambda: False)
    assert depth_used and all(depth_used)  # the offscreen target has depth, as the window
    for a, b in zip(early, plain, strict=True):
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
        assert diff.max() == 0, (int(diff.max()), int((diff > 0).sum()))
