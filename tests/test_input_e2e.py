"""Input end to end: xdotool drives the wall's window, xev on real Xvnc servers records it.

The wall runs as a real process under Xvfb + Mesa; each Xvnc display shows one xev
window covering the whole screen, which logs every key and button event it receives
with the keysym and the pointer position in session pixels.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import VncServer, XDisplay, missing_binaries, vnc_server, xvfb
from vncwall.render.prism import Camera, Prism, face_pixel

WINDOW = (800, 500)
FOVY = math.radians(40.0)  # vncwall.wall.FOVY
SESSION = (1280, 800)


def _need() -> None:
    missing = missing_binaries("tigervnc", scene=False)
    missing += [b for b in ("xev", "xdotool", "xmodmap", "Xvfb") if shutil.which(b) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


class XevSink:
    """An xev window filling a server's screen; parses what it logs."""

    def __init__(self, server: VncServer) -> None:
        self.log = server.workdir / "xev.log"
        self.proc = server.spawn(
            ["sh", "-c", f"exec xev -geometry {SESSION[0]}x{SESSION[1]}+0+0 > {self.log}"],
            "xev",
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def key_codes(self) -> list[tuple[str, int, int]]:
        """(KeyPress|KeyRelease, keycode, keysym) in order."""
        out = []
        pattern = r"(KeyPress|KeyRelease) event.*?keycode (\d+) \(keysym (0x[0-9a-f]+)"
        for m in re.finditer(pattern, self.text(), re.S):
            out.append((m.group(1), int(m.group(2)), int(m.group(3), 16)))
        return out

    def keysyms(self) -> list[tuple[str, int]]:
        """(KeyPress|KeyRelease, keysym) in order (xev names a release by the current state)."""
        return [(e, k) for e, _, k in self.key_codes()]

    def buttons(self) -> list[tuple[str, int, int, int]]:
        """(ButtonPress|ButtonRelease, x, y, button) in order, x and y on the root window."""
        out = []
        pattern = r"(ButtonPress|ButtonRelease) event.*?root:\((-?\d+),(-?\d+)\).*?button (\d+)"
        for m in re.finditer(pattern, self.text(), re.S):
            out.append((m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))))
        return out


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    _need()
    tmp = tmp_path_factory.mktemp("input")
    with contextlib.ExitStack() as stack:
        gl = stack.enter_context(xvfb(width=1280, height=1024))
        servers = [stack.enter_context(vnc_server("tigervnc", scene=False)) for _ in range(2)]
        sinks = [XevSink(s) for s in servers]
        config = tmp / "wall.toml"
        lines = ["[wall]", "fullscreen = false", "rotate_seconds = 0.2", "labels = false"]
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
            # A keycode of its own for the Euro sign, so xdotool need not remap one on the
            # fly (the wall could read a keycode after xdotool already changed it back).
            mapped = gl.x("xmodmap", "-e", "keycode 250 = EuroSign")
            assert mapped.returncode == 0, mapped.stderr
            gl.x("xdotool", "windowfocus", "--sync", window)
            time.sleep(3)  # sessions connect and show their first frames
            yield {"gl": gl, "servers": servers, "sinks": sinks, "window": window}
        finally:
            wall.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                wall.wait(5)
            if wall.poll() is None:
                wall.kill()


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


def wait_for(predicate: object, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def xdo(rig: dict[str, object], *args: str) -> None:
    gl = rig["gl"]
    assert isinstance(gl, XDisplay)
    result = gl.x("xdotool", *args)
    assert result.returncode == 0, result.stderr


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
