"""Grid input end to end: xdotool clicks tiles of a real wall window, xev on Xvnc records.

A click on another tile focuses it (and goes nowhere); after that, pointer events land
on that tile's session pixels and keys go to it; zoomed, the tile fills the window; and
the layout hotkey brings the focused session to the front of the prism.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest

from tests.e2e import SESSION, XevSink, wait_for, xdo, xev_rig
from vncwall.render.grid import Grid
from vncwall.render.prism import Camera, Prism, face_pixel

WINDOW = (800, 500)
FOVY = math.radians(40.0)  # vncwall.wall.FOVY


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    with xev_rig(tmp_path_factory.mktemp("grid-input"), 3,
                 ['layout = "grid"', "fullscreen = false", "rotate_seconds = 0.2",
                  "labels = false"], WINDOW) as r:
        yield r


def click(rig: dict[str, object], x: int, y: int, button: int) -> None:
    xdo(rig, "mousemove", "--window", str(rig["window"]), str(x), str(y))
    xdo(rig, "click", str(button))


def sinks_of(rig: dict[str, object]) -> list[XevSink]:
    sinks = rig["sinks"]
    assert isinstance(sinks, list)
    return sinks


def focus_tile(rig: dict[str, object], index: int) -> None:
    """A click on the centre of grid tile `index`: it takes the focus (and goes nowhere)."""
    cx, cy = Grid.layout([SESSION] * 3, WINDOW).contents[index].centre
    click(rig, int(cx), int(cy), 1)
    time.sleep(0.5)


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
    focus_tile(rig, 2)
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
    focus_tile(rig, 1)
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

