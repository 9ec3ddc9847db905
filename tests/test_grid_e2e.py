"""Grid input end to end: xdotool clicks tiles of a real wall window, xev on Xvnc records.

A click on another tile focuses it (and goes nowhere); after that, pointer events land
on that tile's session pixels and keys go to it; zoomed, the tile fills the window; and
the layout hotkey brings the focused session to the front of the prism.
"""

from __future__ import annotations

import contextlib
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import XDisplay, vnc_server, xvfb
from tests.test_input_e2e import XevSink, _need, wait_for
from vncwall.render.grid import Grid
from vncwall.render.prism import Camera, Prism, face_pixel

WINDOW = (800, 500)
SESSION = (1280, 800)
FOVY = math.radians(40.0)  # vncwall.wall.FOVY


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    _need()
    tmp = tmp_path_factory.mktemp("grid-input")
    with contextlib.ExitStack() as stack:
        gl = stack.enter_context(xvfb(width=1280, height=1024))
        servers = [stack.enter_context(vnc_server("tigervnc", scene=False)) for _ in range(3)]
        sinks = [XevSink(s) for s in servers]
        config = tmp / "wall.toml"
        lines = ["[wall]", 'layout = "grid"', "fullscreen = false", "rotate_seconds = 0.2",
                 "labels = false"]
        for i, s in enumerate(servers):
            lines += ["[[session]]", f'name = "s{i}"', f'address = "{s.address}"']
        config.write_text("\n".join(lines) + "\n")
        env = gl.env()
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        wall = subprocess.Popen(
            [sys.executable, "-m", "vncwall", "run", "--config", str(config), "--window",
             "--size", f"{WINDOW[0]}x{WINDOW[1]}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            window = ""
            while not window:
                assert wall.poll() is None, wall.communicate()[0]
                assert time.monotonic() < deadline, "the wall window never appeared"
                found = gl.x("xwininfo", "-name", "vncwall")
                m = re.search(r"Window id: (0x[0-9a-f]+)", found.stdout.decode())
                window = str(int(m.group(1), 16)) if m else ""
                time.sleep(0.2)
            gl.x("xdotool", "windowfocus", "--sync", window)
            time.sleep(3)  # sessions connect and show their first frames
            yield {"gl": gl, "servers": servers, "sinks": sinks, "window": window}
        finally:
            wall.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                wall.wait(5)
            if wall.poll() is None:
                wall.kill()


def xdo(rig: dict[str, object], *args: str) -> None:
    gl = rig["gl"]
    assert isinstance(gl, XDisplay)
    result = gl.x("xdotool", *args)
    assert result.returncode == 0, result.stderr


def click(rig: dict[str, object], x: int, y: int, button: int) -> None:
    xdo(rig, "mousemove", "--window", str(rig["window"]), str(x), str(y))
    xdo(rig, "click", str(button))


def sinks_of(rig: dict[str, object]) -> list[XevSink]:
    sinks = rig["sinks"]
    assert isinstance(sinks, list)
    return sinks


def clicked(sink: XevSink, before: int) -> tuple[object, object]:
    wait_for(lambda: len(sink.buttons()) >= before + 2, f"no click: {sink.buttons()}")
    press, release = sink.buttons()[before : before + 2]
    return press, release


def test_clicks_focus_tiles_then_reach_their_pixels(rig: dict[str, object]) -> None:
    sinks = sinks_of(rig)
    grid = Grid.layout([SESSION] * 3, WINDOW)
    tile = grid.contents[1]
    # A press on tile 1 focuses it and is not delivered to anyone.
    counts = [len(s.buttons()) for s in sinks]
    cx, cy = (int(v) for v in tile.centre)
    click(rig, cx, cy, 1)
    time.sleep(1.0)
    assert [len(s.buttons()) for s in sinks] == counts
    # Now clicks on tile 1 reach session 1 at the pixel under the pointer.
    for px, py in [(100, 200), (1200, 700)]:
        sx = int(tile.x + (px + 0.5) / SESSION[0] * tile.w)
        sy = int(tile.y + (py + 0.5) / SESSION[1] * tile.h)
        want = face_pixel(*tile.uv(sx + 0.5, sy + 0.5), *SESSION)
        assert abs(want[0] - px) <= 3 and abs(want[1] - py) <= 3
        before = len(sinks[1].buttons())
        click(rig, sx, sy, 3)
        press, release = clicked(sinks[1], before)
        assert press == ("ButtonPress", want[0], want[1], 3)
        assert release == ("ButtonRelease", want[0], want[1], 3)
    assert len(sinks[0].buttons()) == counts[0] and len(sinks[2].buttons()) == counts[2]
    # Keys follow the focus.
    keys0 = len(sinks[0].keysyms())
    xdo(rig, "type", "z")
    wait_for(lambda: ("KeyPress", 0x7A) in sinks[1].keysyms(), f"no z: {sinks[1].keysyms()}")
    assert sinks[0].keysyms()[keys0:] == []


def test_zoomed_tile_fills_the_window(rig: dict[str, object]) -> None:
    sinks = sinks_of(rig)
    grid = Grid.layout([SESSION] * 3, WINDOW)
    cx, cy = grid.contents[2].centre
    click(rig, int(cx), int(cy), 1)  # focus tile 2
    time.sleep(0.5)
    xdo(rig, "key", "ctrl+alt+z")
    time.sleep(1.0)
    before = len(sinks[2].buttons())
    click(rig, 400, 250, 3)  # the window's centre: 800x500 shows 1280x800 fitted
    press, _ = clicked(sinks[2], before)
    assert press == ("ButtonPress", *face_pixel(400.5 / 800, 250.5 / 500, *SESSION), 3)
    before = len(sinks[2].buttons())
    click(rig, 10, 10, 3)  # a corner: still the zoomed session, not another tile
    press, _ = clicked(sinks[2], before)
    assert press == ("ButtonPress", *face_pixel(10.5 / 800, 10.5 / 500, *SESSION), 3)
    xdo(rig, "key", "ctrl+alt+z")
    time.sleep(1.0)


def test_layout_hotkey_turns_the_focused_session_to_the_front(rig: dict[str, object]) -> None:
    sinks = sinks_of(rig)
    grid = Grid.layout([SESSION] * 3, WINDOW)
    cx, cy = grid.contents[1].centre
    click(rig, int(cx), int(cy), 1)  # focus tile 1
    time.sleep(0.5)
    xdo(rig, "key", "ctrl+alt+l")
    time.sleep(1.5)  # the switch animates, then rests on the prism
    prism = Prism.from_sizes([SESSION] * 3)
    cam = Camera.orbit(prism.fit_distance(WINDOW[0] / WINDOW[1], FOVY), FOVY)
    hit = prism.pick(400.5, 250.5, *WINDOW, prism.front_angle(1), cam)
    assert hit is not None and hit.face == 1
    before = len(sinks[1].buttons())
    click(rig, 400, 250, 3)
    press, _ = clicked(sinks[1], before)
    assert press == ("ButtonPress", *face_pixel(hit.u, hit.v, *SESSION), 3)
    xdo(rig, "key", "ctrl+alt+l")  # back to the grid
    time.sleep(1.5)

