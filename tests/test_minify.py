"""Shrunk faces through real GL (Xvfb + Mesa) from real Xvnc: filtered, not aliased.

A desktop of 1-pixel black and white checks, drawn small in a grid tile or on prism
faces seen at an angle, must come out an even grey with the mipmapped filters, where
plain GL_LINEAR shows moire; a desktop with text, shrunk, must be close to the area
average of the server's own screenshot (`xwd -root`); and a small change uploads a
small piece of each level, which then holds what a full recomputation gives.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.servers import ServerPool, VncServer, vnc_server
from tests.wallkit import OPAQUE_GRID, WallOpener, render
from vncwall.net.framebuffer import Framebuffer, Rect
from vncwall.net.mipmap import MipChain, box_numpy
from vncwall.wall import Wall

F64 = npt.NDArray[np.float64]
CHECKS_XBM = """#define checks_width 2
#define checks_height 2
static unsigned char checks_bits[] = {
   0x01, 0x02};
"""


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VncServer]:
    """A bare Xvnc whose root window is tiled with 1-pixel black and white checks."""
    xbm = tmp_path_factory.mktemp("checks") / "checks.xbm"
    xbm.write_text(CHECKS_XBM)
    with vnc_server("tigervnc", scene=False) as server:
        done = server.x("xsetroot", "-bitmap", str(xbm), "-fg", "white", "-bg", "black")
        assert done.returncode == 0, done.stderr
        shot = server.screenshot()
        y, x = np.mgrid[0 : shot.shape[0], 0 : shot.shape[1]]
        assert np.array_equal(shot[..., 0], np.where((x + y) % 2 == 0, 255, 0))
        yield server


def grey(image: npt.NDArray[np.uint8]) -> F64:
    out: F64 = np.asarray(image, dtype=np.float64).mean(axis=2)
    return out


def tile(image: npt.NDArray[np.uint8], wall: Wall, size: tuple[int, int],
         inset: int = 3) -> npt.NDArray[np.uint8]:
    r = wall.grid(size).contents[0]
    x0, y0 = int(np.ceil(r.x)) + inset, int(np.ceil(r.y)) + inset
    x1, y1 = int(r.x + r.w) - inset, int(r.y + r.h) - inset
    return image[y0:y1, x0:x1]


@pytest.mark.parametrize("filter_mode", ["anisotropic", "trilinear", "linear"])
def test_checks_in_a_grid_tile_are_an_even_grey(
    open_wall: WallOpener, checks: VncServer, filter_mode: str
) -> None:
    size = (300, 200)  # a 1280x800 desktop about 4.5 times smaller
    with open_wall([checks], filter=filter_mode, **OPAQUE_GRID) as wall:
        g = grey(tile(render(wall, size, time.monotonic()), wall, size))
    print(f"grid tile, {filter_mode}: mean {g.mean():.1f}, std {g.std():.1f}")
    if filter_mode == "linear":
        assert g.std() > 20  # the moire the filters remove (so this test can tell)
    else:
        assert g.std() <= 6 and abs(g.mean() - 127.5) <= 12, (g.mean(), g.std())


def with_background(wall: Wall, colour: tuple[float, float, float]) -> None:
    wall.config = dataclasses.replace(
        wall.config, wall=dataclasses.replace(wall.config.wall, background=colour))


@pytest.mark.parametrize("filter_mode", ["anisotropic", "trilinear", "linear"])
def test_checks_on_oblique_prism_faces_are_an_even_grey(
    open_wall: WallOpener, checks: VncServer, filter_mode: str
) -> None:
    size = (480, 300)
    with open_wall([checks] * 4, filter=filter_mode, opacity=1.0, front_opacity=1.0) as wall:
        t0 = time.monotonic() + 100.0
        wall.rotation.jump(-0.35, t0)  # turned: two faces seen at steep angles
        black = render(wall, size, t0)
        with_background(wall, (1.0, 0.0, 1.0))
        magenta = render(wall, size, t0)
    face = np.all(black == magenta, axis=2)  # opaque faces cover these pixels
    # Away from the faces' edges (where a face meets the background or another face).
    inner = face.copy()
    for dy in (-2, 0, 2):
        for dx in (-2, 0, 2):
            inner &= np.roll(np.roll(face, dy, axis=0), dx, axis=1)
    assert inner.mean() > 0.3, inner.mean()
    g = grey(black)[inner]
    print(f"oblique prism faces, {filter_mode}: mean {g.mean():.1f}, std {g.std():.1f}, "
          f"{inner.sum()} pixels")
    if filter_mode == "linear":
        assert g.std() > 20
    else:
        assert g.std() <= 6 and abs(g.mean() - 127.5) <= 12, (g.mean(), g.std())


def area_average(img: F64, rect: tuple[float, float, float, float],
                 shape: tuple[int, int]) -> F64:
    """Each pixel of an (h, w) grid laid over `rect` (x, y, w, h in window pixels) as the
    exact area mean of `img` under it, the image stretched over the rect."""
    ih, iw = img.shape[:2]
    s = np.zeros((ih + 1, iw + 1, img.shape[2]))
    s[1:, 1:] = img.cumsum(axis=0).cumsum(axis=1)
    rx, ry, rw, rh = rect
    h, w = shape

    def at(x: F64, y: F64) -> F64:  # the integral image, bilinear: exact for box sums
        x0 = np.clip(np.floor(x).astype(int), 0, iw - 1)
        y0 = np.clip(np.floor(y).astype(int), 0, ih - 1)
        fx, fy = (x - x0)[..., None], (y - y0)[..., None]
        top = s[y0, x0] * (1 - fx) + s[y0, x0 + 1] * fx
        bottom = s[y0 + 1, x0] * (1 - fx) + s[y0 + 1, x0 + 1] * fx
        out: F64 = top * (1 - fy) + bottom * fy
        return out

    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    u0, u1 = np.clip((xs - rx) / rw * iw, 0, iw), np.clip((xs + 1 - rx) / rw * iw, 0, iw)
    v0, v1 = np.clip((ys - ry) / rh * ih, 0, ih), np.clip((ys + 1 - ry) / rh * ih, 0, ih)
    area = ((u1 - u0) * (v1 - v0))[..., None]
    total = at(u1, v1) - at(u0, v1) - at(u1, v0) + at(u0, v0)
    result: F64 = total / np.maximum(area, 1e-9)
    return result


def psnr(a: F64, b: F64) -> float:
    mse = float(np.mean((a - b) ** 2))
    return 10 * float(np.log10(255.0**2 / max(mse, 1e-9)))


def test_shrunk_text_is_close_to_the_area_average_of_the_screenshot(
    open_wall: WallOpener, server_pool: ServerPool
) -> None:
    server = server_pool.get("tigervnc")  # twm, an xterm full of text, an image, a clock
    want_full = server.stable_screenshot().astype(np.float64)
    size = (400, 260)  # about 3.3 times smaller
    scores = {}
    for mode in ("linear", "trilinear", "anisotropic"):
        with open_wall([server], filter=mode, **OPAQUE_GRID) as wall:
            image = render(wall, size, time.monotonic())
            r = wall.grid(size).contents[0]
        want = area_average(want_full, (r.x, r.y, r.w, r.h), (size[1], size[0]))
        x0, y0 = int(np.ceil(r.x)) + 2, int(np.ceil(r.y)) + 2
        x1, y1 = int(r.x + r.w) - 2, int(r.y + r.h) - 2
        scores[mode] = psnr(image[y0:y1, x0:x1].astype(np.float64), want[y0:y1, x0:x1])
    print("PSNR against the area-averaged screenshot: "
          + ", ".join(f"{m} {db:.1f} dB" for m, db in scores.items()))
    assert scores["trilinear"] >= scores["linear"] + 3.0, scores
    assert scores["anisotropic"] >= scores["linear"] + 3.0, scores
    assert scores["trilinear"] >= 24.0, scores


def read_level(tex_id: int, level: int, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    from OpenGL import GL

    GL.glBindTexture(GL.GL_TEXTURE_2D, tex_id)
    GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
    data = GL.glGetTexImage(GL.GL_TEXTURE_2D, level, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
    return np.frombuffer(data, dtype=np.uint8).reshape(size[1], size[0], 4)


def test_a_small_change_uploads_a_small_piece_of_each_level(
    gl_display: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DISPLAY", gl_display.display_name)  # type: ignore[attr-defined]
    monkeypatch.delenv("XAUTHORITY", raising=False)
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    import pygame

    from vncwall.render.texture import SessionTexture
    from vncwall.wall import open_window

    open_window((64, 64), fullscreen=False, hidden=True)
    try:
        rng = np.random.default_rng(7)
        fb = Framebuffer(1920, 1080)
        fb.put(0, 0, 1920, 1080, rng.integers(0, 256, (1080, 1920, 4), dtype=np.uint8))
        tex = SessionTexture("trilinear")
        whole = tex.sync(fb)
        assert tex.mips is not None and len(tex.mips.levels) == 10  # 960x540 ... 1x1
        assert whole == 1920 * 1080 * 4 + tex.mips.nbytes
        assert fb.keep_levels and fb.mips is tex.mips  # the framebuffer keeps them now
        fb.put(1001, 333, 37, 21, rng.integers(0, 256, (21, 37, 4), dtype=np.uint8))
        # Mid-update the render thread uploads level 0 and computes nothing itself ...
        assert tex.sync(fb) == 37 * 21 * 4
        # ... the writer's end of the update recomputes the levels, the next sync sends them.
        fb.end_update()
        levels_only = tex.sync(fb)
        small = 37 * 21 * 4 + levels_only
        # Level l changes over about (37 / 2^l + 1) x (21 / 2^l + 1) pixels.
        bound = sum((37 // 2**lv + 2) * (21 // 2**lv + 2) * 4 for lv in range(11))
        print(f"a 37x21 change uploads {small} bytes over 11 levels "
              f"(level 0 alone: {37 * 21 * 4}; whole texture: {whole})")
        assert 37 * 21 * 4 < small <= bound, (small, bound)
        assert tex.sync(fb) == 0  # nothing more changed
        # Every level on the GPU is what recomputing the whole chain from level 0 gives.
        full = MipChain.allocate(1920, 1080)
        below = fb.pixels
        for level, want in enumerate(full.levels, 1):
            box_numpy(below, want, Rect(0, 0, want.shape[1], want.shape[0]))
            got = read_level(tex.id, level, (want.shape[1], want.shape[0]))
            assert np.array_equal(got, want), level
            below = want
        # Drawn at half size or less: level 0's damage waits, the levels above go up.
        fb.put(10, 20, 64, 32, rng.integers(0, 256, (32, 64, 4), dtype=np.uint8))
        fb.end_update()
        waited = tex.sync(fb, skip_base=True)
        assert tex.base_level == 1 and tex.base_stale == Rect(10, 20, 64, 32)
        assert 0 < waited < 64 * 32 * 4
        assert not np.array_equal(read_level(tex.id, 0, (1920, 1080)), fb.pixels)
        # Needed again (zoomed in): the kept damage goes up before anything is drawn.
        assert tex.sync(fb) == 64 * 32 * 4 and tex.base_level == 0
        assert np.array_equal(read_level(tex.id, 0, (1920, 1080)), fb.pixels)
        tex.delete()
    finally:
        pygame.display.quit()


@pytest.mark.parametrize("size", [(1920, 1080), (33, 17), (7, 1), (1, 5), (1, 1)])
def test_compiled_and_numpy_levels_agree_and_end_at_one_pixel(size: tuple[int, int]) -> None:
    from vncwall.net.decoders import accel

    w, h = size
    rng = np.random.default_rng(w * 31 + h)
    base = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    chains = []
    for pure in (True, False):
        before = accel.set_pure(pure)
        try:
            chain = MipChain.allocate(w, h)
            chain.update(base, Rect(0, 0, w, h))
            # A change in one corner touches one pixel of the 1x1 level, not the rest.
            base2 = base.copy()
            base2[-1, -1] ^= 0xFF
            changed = chain.update(base2, Rect(w - 1, h - 1, 1, 1))
        finally:
            accel.set_pure(before)
        chains.append((chain, changed))
    (a, ca), (b, cb) = chains
    assert ca == cb and all(np.array_equal(x, y) for x, y in zip(a.levels, b.levels, strict=True))
    if a.levels:
        assert a.levels[-1].shape[:2] == (1, 1)
        assert all(r.area == 1 for r in ca[-3:]) and len(ca) <= len(a.levels)


def test_a_live_sessions_levels_are_computed_on_its_own_thread(
    open_wall: WallOpener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Xvnc desktop shown 4.5 times smaller samples levels 1 and up only; when the
    desktop changes, the tile follows, and the levels were recomputed by the session's
    thread (the render thread computed a chain only when it allocated the texture)."""
    import threading

    calls: list[tuple[str, Rect]] = []
    update = MipChain.update

    def traced(self: MipChain, base: npt.NDArray[np.uint8], rect: Rect) -> list[Rect]:
        calls.append((threading.current_thread().name, rect))
        return update(self, base, rect)

    monkeypatch.setattr(MipChain, "update", traced)
    size = (300, 200)
    with vnc_server("tigervnc", scene=False) as server, \
            open_wall([server], **OPAQUE_GRID) as wall:
        for colour, want in (("#c00000", (192, 0, 0)), ("#0000a0", (0, 0, 160))):
            done = server.x("xsetroot", "-solid", colour)
            assert done.returncode == 0, done.stderr
            deadline = time.monotonic() + 20
            while True:
                t = tile(render(wall, size, time.monotonic()), wall, size).astype(np.float64)
                if np.abs(t.mean(axis=(0, 1)) - want).max() <= 2:
                    break
                assert time.monotonic() < deadline, t.mean(axis=(0, 1))
        tex = wall.renderer.textures[0] if wall.renderer is not None else None
        assert tex is not None and tex.base_level == 1  # level 0 was never needed
    main = threading.main_thread().name
    on_main = [r for name, r in calls if name == main]
    elsewhere = [r for name, r in calls if name != main]
    print(f"level recomputations: {len(elsewhere)} on the session's thread, "
          f"{len(on_main)} on the render thread")
    assert elsewhere, calls
    assert all((r.x, r.y, r.w, r.h) == (0, 0, 1280, 800) for r in on_main), on_main
