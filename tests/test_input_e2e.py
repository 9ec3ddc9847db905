"""Input end to end: xdotool drives the wall's window, xev on real Xvnc servers records it.

The wall runs as a real process under Xvfb + Mesa; each Xvnc display shows one xev
window covering the whole screen, which logs every key and button event it receives
with the keysym and the pointer position in session pixels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest

from tests.e2e import SESSION, wait_for, xdo, xev_rig
from vncwall.render.prism import Camera, Prism, face_pixel

WINDOW = (800, 500)
FOVY = math.radians(40.0)  # vncwall.wall.FOVY


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    # A keycode of its own for the Euro sign, so xdotool need not remap one on the
    # fly (the wall could read a keycode after xdotool already changed it back).
    with xev_rig(tmp_path_factory.mktemp("input"), 2,
                 ["fullscreen = false", "rotate_seconds = 0.2", "labels = false"], WINDOW,
                 keymap=["keycode 250 = EuroSign"]) as r:
        yield r


def expected_pixel(face: int, sx: int, sy: int) -> tuple[int, int] | None:
    """Session pixel under the centre of window pixel (sx, sy), by the prism maths."""
    prism = Prism.from_sizes([SESSION, SESSION])
    cam = Camera.orbit(prism.fit_distance(WINDOW[0] / WINDOW[1], FOVY), FOVY)
    hit = prism.pick(sx + 0.5, sy + 0.5, WINDOW[0], WINDOW[1], prism.front_angle(face), cam)
    if hit is None or hit.face != face:
        return None
    return face_pixel(hit.u, hit.v, *SESSION)


def screen_point(face: int, px: float, py: float) -> tuple[int, int]:
    """The window pixel on `face` whose centre maps closest to session point (px, py)."""
    prism = Prism.from_sizes([SESSION, SESSION])
    cam = Camera.orbit(prism.fit_distance(WINDOW[0] / WINDOW[1], FOVY), FOVY)
    theta = prism.front_angle(face)
    p = prism.project(face, px / SESSION[0], py / SESSION[1], WINDOW[0], WINDOW[1], theta, cam)
    assert p is not None
    best: tuple[float, tuple[int, int]] | None = None
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            cand = (int(p[0]) + dx, int(p[1]) + dy)
            got = expected_pixel(face, *cand)
            if got is not None:
                d = math.hypot(got[0] - px, got[1] - py)
                if best is None or d < best[0]:
                    best = (d, cand)
    assert best is not None
    return best[1]


def test_typing_reaches_front_session(rig: dict[str, object]) -> None:
    sink = rig["sinks"][0]  # type: ignore[index]
    sx, sy = screen_point(0, 640, 400)
    xdo(rig, "mousemove", "--window", str(rig["window"]), str(sx), str(sy))
    xdo(rig, "type", "--delay", "30", "hi!")
    xdo(rig, "key", "EuroSign")
    want = [0x68, 0x69, 0x21, 0x10020AC]
    wait_for(lambda: [k for e, k in sink.keysyms() if e == "KeyPress" and k in want] == want,
             f"keys never arrived: {sink.keysyms()}")
    events = sink.key_codes()
    for k in want:
        pressed = [code for e, code, sym in events if e == "KeyPress" and sym == k]
        assert len(pressed) == 1, events
        released = [code for e, code, _ in events if e == "KeyRelease" and code == pressed[0]]
        assert len(released) == 1, events  # every key let go exactly once


@pytest.mark.parametrize(("px", "py"), [(0, 0), (1279, 799), (640, 400), (17, 777)])
def test_click_maps_through_projection(rig: dict[str, object], px: int, py: int) -> None:
    sink = rig["sinks"][0]  # type: ignore[index]
    sx, sy = screen_point(0, px + 0.5, py + 0.5)
    want = expected_pixel(0, sx, sy)
    assert want is not None
    assert abs(want[0] - px) <= 3 and abs(want[1] - py) <= 3  # window pixels are coarser
    before = len(sink.buttons())
    xdo(rig, "mousemove", "--window", str(rig["window"]), str(sx), str(sy))
    xdo(rig, "click", "3")
    wait_for(lambda: len(sink.buttons()) >= before + 2, f"no click: {sink.buttons()}")
    press, release = sink.buttons()[before : before + 2]
    assert press == ("ButtonPress", want[0], want[1], 3)
    assert release == ("ButtonRelease", want[0], want[1], 3)


def test_click_outside_face_sends_nothing(rig: dict[str, object]) -> None:
    sink = rig["sinks"][0]  # type: ignore[index]
    before = len(sink.buttons())
    xdo(rig, "mousemove", "--window", str(rig["window"]), "3", "3")
    xdo(rig, "click", "1")
    time.sleep(1.0)
    assert len(sink.buttons()) == before


def test_hotkey_switches_and_never_leaks(rig: dict[str, object]) -> None:
    sinks = rig["sinks"]
    assert isinstance(sinks, list)
    sx, sy = screen_point(0, 640, 400)
    xdo(rig, "mousemove", "--window", str(rig["window"]), str(sx), str(sy))
    keys0 = len(sinks[0].keysyms())
    xdo(rig, "key", "ctrl+alt+Next")
    time.sleep(1.0)  # the prism turns (0.2 s) and session 1 is in front
    xdo(rig, "type", "z")
    wait_for(lambda: (("KeyPress", 0x7A) in sinks[1].keysyms()), f"z missing: {sinks[1].keysyms()}")
    leaked = sinks[0].keysyms()[keys0:]
    assert leaked == [], f"hotkey leaked to session 0: {leaked}"
    # Ctrl, Alt and PageDown never reached session 1 either.
    assert all(k not in (0xFFE3, 0xFFE9, 0xFF56) for _, k in sinks[1].keysyms())
    xdo(rig, "key", "ctrl+alt+Prior")  # back to session 0 for the other tests
    time.sleep(1.0)
