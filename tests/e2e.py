"""The wall as a real process (`vncwall run --window`) on an Xvfb display, for end to end
tests that drive its window with xdotool while xev on each Xvnc server records the events."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import VncServer, XDisplay, missing_binaries, vnc_server, xvfb
from tests.waiting import waiter

ROOT = Path(__file__).resolve().parents[1]
SESSION = (1280, 800)  # an Xvnc screen, which an xev window covers


def write_wall_config(path: Path, wall: Sequence[str], servers: Sequence[VncServer]) -> Path:
    """A config file: `wall` lines under [wall], then one session s<i> per server."""
    lines = ["[wall]", *wall]
    for i, s in enumerate(servers):
        lines += ["[[session]]", f'name = "s{i}"', f'address = "{s.address}"']
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class WallProcess:
    proc: subprocess.Popen[bytes]
    window: str  # the X window id, decimal, as xdotool takes it
    log: Path  # its stdout and stderr

    def assert_running(self) -> None:
        assert self.proc.poll() is None, self.log.read_text(errors="replace")


@contextlib.contextmanager
def wall_process(display: XDisplay, config: Path, size: tuple[int, int], log: Path,
                 extra_args: Sequence[str] = (),
                 extra_env: Mapping[str, str] | None = None) -> Iterator[WallProcess]:
    """Run the wall in a window of `size` on `display` until its window shows; stop it after.

    `extra_args` go after `vncwall run ...` (e.g. --control, --status-json, --metrics);
    `extra_env` is added to its environment."""
    env = display.env()
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra_env or {})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vncwall", "run", "--config", str(config), "--window",
             "--size", f"{size[0]}x{size[1]}", *extra_args],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wall = WallProcess(proc, "", log)
        deadline = time.monotonic() + 30
        while not wall.window:
            wall.assert_running()
            assert time.monotonic() < deadline, "the wall window never appeared"
            found = display.x("xwininfo", "-name", "vncwall")
            m = re.search(r"Window id: (0x[0-9a-f]+)", found.stdout.decode())
            wall.window = str(int(m.group(1), 16)) if m else ""
            time.sleep(0.2)
        yield wall
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()


def need_xev_tools() -> None:
    """Skip unless Xvnc, xev, xdotool, xmodmap and Xvfb are all installed."""
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


wait_for = waiter(10.0, interval=0.1)


def xdo(rig: dict[str, object], *args: str) -> None:
    gl = rig["gl"]
    assert isinstance(gl, XDisplay)
    result = gl.x("xdotool", *args)
    assert result.returncode == 0, result.stderr


@contextlib.contextmanager
def xev_rig(tmp: Path, sessions: int, wall: Sequence[str], size: tuple[int, int],
            keymap: Sequence[str] = ()) -> Iterator[dict[str, object]]:
    """`sessions` Xvnc servers with an XevSink each, shown by a wall process in a window of
    `size` on a 1280x1024 Xvfb display (xmodmap `keymap` lines there), the window focused.

    Yields {"gl": the Xvfb display, "servers", "sinks", "window": the wall's window id}.
    """
    need_xev_tools()
    with contextlib.ExitStack() as stack:
        gl = stack.enter_context(xvfb(width=1280, height=1024))
        servers = [stack.enter_context(vnc_server("tigervnc", scene=False))
                   for _ in range(sessions)]
        sinks = [XevSink(s) for s in servers]
        config = write_wall_config(tmp / "wall.toml", wall, servers)
        running = stack.enter_context(wall_process(gl, config, size, tmp / "wall.log"))
        for line in keymap:
            mapped = gl.x("xmodmap", "-e", line)
            assert mapped.returncode == 0, mapped.stderr
        gl.x("xdotool", "windowfocus", "--sync", running.window)
        time.sleep(3)  # sessions connect and show their first frames
        yield {"gl": gl, "servers": servers, "sinks": sinks, "window": running.window}
