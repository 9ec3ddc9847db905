"""Start real VNC servers (TigerVNC, x11vnc on Xvfb, TightVNC) with a static scene."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from tests.xwd import read_xwd

WIDTH, HEIGHT = 1280, 800
SERVER_KINDS = ("tigervnc", "x11vnc", "tightvnc")
CONVERT = "/usr/bin/convert"  # full paths: /usr/local/bin/convert is not ImageMagick
DISPLAY_IMAGE = "/usr/bin/display"

SERVER_BINARIES: dict[str, tuple[str, ...]] = {
    "tigervnc": ("Xvnc", "vncpasswd"),
    "x11vnc": ("Xvfb", "x11vnc"),
    "tightvnc": ("Xtightvnc", "tightvncpasswd"),
}
TOOL_BINARIES = ("xdpyinfo", "xwd", "xsetroot")
SCENE_BINARIES = ("twm", "xterm", "xclock", "xdotool", CONVERT, DISPLAY_IMAGE)

ROOT_COLOUR = "#3a6ea5"
XTERM_TITLE = "vncwall-scene-xterm"
IMAGE_TITLE = "vncwall-scene-image"
CLOCK_TITLE = "vncwall-scene-clock"

TWMRC = """\
NoGrabServer
RandomPlacement
UsePPosition "on"
DecorateTransients
NoDefaults
TitleFont "-misc-fixed-bold-r-normal--13-*-*-*-*-*-iso8859-1"
ResizeFont "fixed"
MenuFont "fixed"
IconFont "fixed"
IconManagerFont "fixed"
BorderWidth 2
Color
{
    BorderColor "slategrey"
    DefaultBackground "rgb:2/a/9"
    DefaultForeground "gray85"
    TitleBackground "rgb:2/a/9"
    TitleForeground "gray85"
}
"""

# A 16x16 cursor whose mask is empty: the pointer is invisible wherever it rests on the
# root window, so no server can paint it into the framebuffer.
BLANK_XBM = (
    "#define blank_width 16\n#define blank_height 16\n"
    "static unsigned char blank_bits[] = {\n" + ", ".join(["0x00"] * 32) + "};\n"
)

_PR_SET_PDEATHSIG = 1
_LOCK_DIR = Path(tempfile.gettempdir())


class ServerStartError(RuntimeError):
    """A server did not come up; carries the tail of its log."""


def missing_binaries(kind: str | None = None, scene: bool = True) -> list[str]:
    """The binaries needed for `kind` (or only the common tools) that are not installed."""
    needed = list(TOOL_BINARIES)
    if kind is not None:
        needed += SERVER_BINARIES[kind]
    if scene:
        needed += SCENE_BINARIES
    return [name for name in needed if shutil.which(name) is None]


def _die_with_parent() -> None:
    """preexec_fn: have the kernel SIGTERM the child if the test process dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_tcp_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_accepts(port: int, timeout: float = 0.5) -> bool:
    """Whether a VNC server answers on `port` with its RFB version banner."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            banner = b""
            while len(banner) < 12:
                chunk = s.recv(12 - len(banner))
                if not chunk:
                    return False
                banner += chunk
            return banner.startswith(b"RFB ")
    except OSError:
        return False


@contextlib.contextmanager
def reserve_display(first: int = 20, last: int = 999) -> Iterator[int]:
    """Hold a lock on an X display number that no X server seems to be using."""
    candidates = list(range(first, last + 1))
    random.shuffle(candidates)
    for n in candidates:
        if Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
            continue
        lock_path = _LOCK_DIR / f"vncwall-tests-display-{n}.lock"
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield n
        finally:
            os.close(fd)
        return
    raise ServerStartError("no free X display number")


@dataclass
class VncServer:
    """One running VNC server: its X display, RFB port and helper processes."""

    kind: str
    display: int
    port: int
    password: str | None
    workdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        """The address as the vncwall CLI takes it: host::port."""
        return f"127.0.0.1::{self.port}"

    @property
    def display_name(self) -> str:
        return f":{self.display}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DISPLAY"] = self.display_name
        env.pop("XAUTHORITY", None)
        env["HOME"] = str(self.workdir)
        return env

    def spawn(self, args: Sequence[str], name: str) -> subprocess.Popen[bytes]:
        """Start a process in its own process group, logging to the work dir."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in close()
        self.logs.append(log)
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            cwd=self.workdir,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.procs.append(proc)
        return proc

    def x(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
        """Run a short-lived X client against this display and wait for it."""
        return subprocess.run(
            list(args), env=self.env(), capture_output=True, timeout=timeout, check=False
        )

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for path in sorted(self.workdir.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def screenshot(self) -> npt.NDArray[np.uint8]:
        """The X server's own picture of the root window, (h, w, 3) uint8 RGB."""
        result = self.x("xwd", "-root", "-silent", "-display", self.display_name)
        if result.returncode != 0:
            raise RuntimeError(f"xwd failed: {result.stderr.decode(errors='replace')}")
        return read_xwd(result.stdout)

    def stable_screenshot(self, settle: int = 3, timeout: float = 30) -> npt.NDArray[np.uint8]:
        """A screenshot once `settle` consecutive ones, 0.25 s apart, are identical."""
        deadline = time.monotonic() + timeout
        last = self.screenshot()
        same = 1
        while same < settle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"screen of {self.kind} on :{self.display} never settled")
            time.sleep(0.25)
            shot = self.screenshot()
            if np.array_equal(shot, last):
                same += 1
            else:
                same = 1
                last = shot
        return last

    def close(self) -> None:
        """Terminate every process group we started, newest first, then SIGKILL."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            # Stragglers left in the group (children of a dead leader).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for log in self.logs:
            log.close()
        self.procs.clear()
        self.logs.clear()


def _write_password_file(kind: str, workdir: Path, password: str) -> list[str]:
    """Server arguments that turn on VNC authentication with `password`."""
    if kind == "x11vnc":
        path = workdir / "passwd.txt"
        path.write_text(password + "\n")
        path.chmod(0o600)
        return ["-passwdfile", str(path)]
    tool = "vncpasswd" if kind == "tigervnc" else "tightvncpasswd"
    result = subprocess.run(
        [tool, "-f"], input=password.encode() + b"\n", capture_output=True, check=True
    )
    path = workdir / "passwd"
    path.write_bytes(result.stdout)
    path.chmod(0o600)
    if kind == "tigervnc":
        return ["-SecurityTypes", "VncAuth", "-rfbauth", str(path)]
    return ["-rfbauth", str(path)]


def _server_commands(
    kind: str, display: int, port: int, auth: list[str]
) -> list[tuple[str, list[str]]]:
    geometry = f"{WIDTH}x{HEIGHT}"
    if kind == "tigervnc":
        sec = auth or ["-SecurityTypes", "None"]
        # A huge blacklist threshold: wrong-password tests must not lock us out.
        return [
            (
                "xvnc",
                [
                    "Xvnc", f":{display}", "-rfbport", str(port), "-localhost",
                    "-geometry", geometry, "-depth", "24", "-nolisten", "tcp",
                    "-BlacklistThreshold", "1000000", "-AlwaysShared", *sec,
                ],
            )
        ]
    if kind == "tightvnc":
        # Without -rfbauth, TightVNC's Xvnc offers security type None.
        return [
            (
                "xtightvnc",
                [
                    "Xtightvnc", f":{display}", "-rfbport", str(port), "-localhost",
                    "-geometry", geometry, "-depth", "24", "-nolisten", "tcp",
                    "-alwaysshared", "-desktop", "vncwall-test", *auth,
                ],
            )
        ]
    if kind == "x11vnc":
        return [
            ("xvfb", ["Xvfb", f":{display}", "-screen", "0", f"{geometry}x24", "-nolisten", "tcp"]),
            (
                "x11vnc",
                [
                    # -nocursor: never paint the pointer into the framebuffer; -ncache 0:
                    # no pixel cache below the screen; the rest keeps it quiet and local.
                    "x11vnc", "-display", f":{display}", "-rfbport", str(port), "-localhost",
                    "-forever", "-shared", "-norc", "-ncache", "0", "-nocursor", "-nosel",
                    "-nobell", "-noxrecord", "-nopw", "-noipv6", "-wait", "10",
                    *(auth or []),
                ],
            ),
        ]
    raise ValueError(f"unknown VNC server kind {kind!r}")


def _wait_for(predicate, what: str, server: VncServer, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        for proc in server.procs:
            if proc.poll() is not None:
                raise ServerStartError(
                    f"{proc.args[0]} exited ({proc.returncode}) while waiting for {what}\n"
                    + server.log_tail()
                )
        if time.monotonic() > deadline:
            raise ServerStartError(f"timed out waiting for {what}\n" + server.log_tail())
        time.sleep(0.1)


def _display_answers(server: VncServer) -> bool:
    try:
        return server.x("xdpyinfo", "-display", server.display_name, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _start(kind: str, display: int, password: str | None, workdir: Path) -> VncServer:
    auth = _write_password_file(kind, workdir, password) if password is not None else []
    port = free_tcp_port()
    server = VncServer(kind, display, port, password, workdir)
    try:
        commands = _server_commands(kind, display, port, auth)
        xname, xargs = commands[0]
        server.spawn(xargs, xname)
        _wait_for(lambda: _display_answers(server), f"X display :{display}", server, 20)
        for name, args in commands[1:]:
            server.spawn(args, name)
        _wait_for(lambda: port_accepts(port), f"RFB on port {port}", server, 20)
    except BaseException:
        server.close()
        raise
    return server


def build_scene(server: VncServer, rich: bool = True) -> None:
    """Draw the static test scene; waits until every window is mapped and still."""
    blank = server.workdir / "blank.xbm"
    blank.write_text(BLANK_XBM)
    result = server.x("xsetroot", "-solid", ROOT_COLOUR, "-cursor", str(blank), str(blank))
    if result.returncode != 0:
        raise ServerStartError(f"xsetroot failed: {result.stderr.decode(errors='replace')}")
    if rich:
        twmrc = server.workdir / "twmrc"
        twmrc.write_text(TWMRC)
        image = server.workdir / "scene.png"
        subprocess.run(
            [
                CONVERT, "-seed", "4242", "-size", "400x300", "plasma:fractal",
                "(", "-size", "400x100", "gradient:#ff2000-#0030ff", ")", "-append",
                f"PNG24:{image}",
            ],
            check=True, capture_output=True, timeout=60,
        )
        server.spawn(["twm", "-f", str(twmrc)], "twm")
        time.sleep(0.5)  # let twm select SubstructureRedirect before windows map
        server.spawn(
            [
                "xterm", "+bc", "-hold", "-geometry", "80x44+20+20", "-title", XTERM_TITLE,
                "-bg", "#fdf6e3", "-fg", "#073642", "-xrm", "XTerm*cursorBlink: false",
                "-e", "sh", "-c", "ls -l --color=always /usr/bin | head -40",
            ],
            "xterm",
        )
        server.spawn(
            [DISPLAY_IMAGE, "-title", IMAGE_TITLE, "-geometry", "+640+60", str(image)],
            "display",
        )
        # Analog, no second hand; redraws once a day (at midnight UTC) at most.
        server.spawn(
            ["xclock", "-geometry", "180x180+1020+540", "-update", "86400", "-title",
             CLOCK_TITLE, "-bg", "#eeeeee"],
            "xclock",
        )
        for title in (XTERM_TITLE, IMAGE_TITLE, CLOCK_TITLE):
            _wait_for(
                lambda title=title: server.x(
                    "xdotool", "search", "--onlyvisible", "--name", title
                ).returncode == 0,
                f"window {title!r}",
                server,
                30,
            )
        # Park the pointer on bare root (its cursor is blank there), away from windows,
        # so focus-follows-mouse leaves every window unfocused.
        server.x("xdotool", "mousemove", str(WIDTH - 5), str(HEIGHT - 5))
    server.stable_screenshot()


@contextlib.contextmanager
def vnc_server(
    kind: str, password: str | None = None, scene: bool = True, attempts: int = 4
) -> Iterator[VncServer]:
    """Run a VNC server of `kind` (see SERVER_KINDS) for the duration of the block.

    The screen shows a static scene (twm, an xterm with text, a photo-like image,
    a clock) when `scene` is true, else just a solid root colour. On exit every
    process is killed and the work directory removed.
    """
    last_error: Exception | None = None
    for _ in range(attempts):
        with reserve_display() as display, tempfile.TemporaryDirectory(
            prefix=f"vncwall-{kind}-"
        ) as tmp:
            try:
                server = _start(kind, display, password, Path(tmp))
            except ServerStartError as exc:  # display or port raced away: try another
                last_error = exc
                continue
            try:
                build_scene(server, rich=scene)
                if kind == "x11vnc":
                    # x11vnc copies the screen by polling; give it time to catch up.
                    time.sleep(1.5)
                yield server
            finally:
                server.close()
            return
    raise ServerStartError(f"could not start {kind}: {last_error}")
