"""Clipboard and lock keys end to end: a real Xvnc display <-> the wall under Xvfb."""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e import wall_process, write_wall_config
from tests.servers import VncServer, XDisplay, missing_binaries, vnc_server, xvfb


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[XDisplay, VncServer, Path]]:
    missing = missing_binaries("tigervnc", scene=False)
    missing += [b for b in ("xclip", "xwininfo", "xdotool", "xset", "Xvfb")
                if shutil.which(b) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    tmp = tmp_path_factory.mktemp("clipboard")
    with contextlib.ExitStack() as stack:
        gl = stack.enter_context(xvfb(width=640, height=480))
        server = stack.enter_context(vnc_server("tigervnc", scene=False))
        config = write_wall_config(tmp / "wall.toml", ["fullscreen = false", "labels = false"],
                                   [server])
        with wall_process(gl, config, (320, 200), tmp / "wall.log") as wall:
            gl.x("xdotool", "windowfocus", "--sync", wall.window)
            time.sleep(2)  # the session connects and negotiates the clipboard
            yield gl, server, tmp
            wall.assert_running()


def copy(display: XDisplay, path: Path, text: str) -> None:
    """Own the display's CLIPBOARD with `text` (xclip serves it until someone else owns it)."""
    path.write_text(text, encoding="utf-8")
    display.spawn(["xclip", "-quiet", "-i", "-selection", "clipboard", str(path)], path.stem)


def pasted(display: XDisplay) -> str:
    out = display.x("xclip", "-o", "-selection", "clipboard", timeout=10)
    return out.stdout.decode("utf-8", errors="replace") if out.returncode == 0 else ""


def wait_for(get: Callable[[], str], want: str, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    got = get()
    while got != want:
        assert time.monotonic() < deadline, f"{what}: got {got!r}, want {want!r}"
        time.sleep(0.3)
        got = get()


def test_server_clipboard_reaches_wall(rig: tuple[XDisplay, VncServer, Path]) -> None:
    gl, server, tmp = rig
    text = "from Xvnc: gr\u00fc\u00dfe \u20ac \u65e5\u672c\nline two"
    copy(server, tmp / "server-copy.txt", text)
    wait_for(lambda: pasted(gl), text, "the wall's clipboard")


def test_wall_clipboard_reaches_server(rig: tuple[XDisplay, VncServer, Path]) -> None:
    gl, server, tmp = rig
    text = "from the wall: \u00e7a \u20ac \u2603\nsecond line"
    copy(gl, tmp / "wall-copy.txt", text)
    wait_for(lambda: pasted(server), text, "the server's clipboard")


def caps_lock(display: XDisplay) -> bool:
    out = display.x("xset", "q").stdout.decode()
    m = re.search(r"Caps Lock:\s+(on|off)", out)
    assert m is not None, out
    return m.group(1) == "on"


def test_caps_lock_follows_the_wall(rig: tuple[XDisplay, VncServer, Path]) -> None:
    gl, server, _ = rig
    assert not caps_lock(gl)
    assert server.x("xdotool", "key", "Caps_Lock").returncode == 0  # behind the wall's back
    wait_for(lambda: str(caps_lock(server)), "True", "Caps Lock on the server")
    time.sleep(0.5)  # the server reports its LEDs to the wall
    assert gl.x("xdotool", "key", "a").returncode == 0  # typed on the wall, Caps Lock off
    wait_for(lambda: str(caps_lock(server)), "False", "Caps Lock back off on the server")
    assert not caps_lock(gl)
