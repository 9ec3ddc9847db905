"""Start real VNC servers (TigerVNC, x11vnc on Xvfb, TightVNC) with a static scene."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
import pytest

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
SCENE_BINARIES = ("twm", "xterm", "xclock", "xwininfo", CONVERT, DISPLAY_IMAGE)

ROOT_COLOUR = "#3a6ea5"
XTERM_TITLE = "vncwall-scene-xterm"
IMAGE_TITLE = "vncwall-scene-image"
CLOCK_TITLE = "vncwall-scene-clock"
IMAGE_WIDTH = 400

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


def missing_xvfb_binaries() -> list[str]:
    """What `xvfb()` and its screenshots need but is not installed."""
    return [name for name in ("Xvfb", *TOOL_BINARIES) if shutil.which(name) is None]


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
    try:
        abstract = Path("/proc/net/unix").read_text(errors="replace")
    except OSError:
        abstract = ""
    candidates = list(range(first, last + 1))
    random.shuffle(candidates)
    for n in candidates:
        if Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
            continue
        if f"@/tmp/.X11-unix/X{n}\n" in abstract:
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
            with contextlib.suppress(OSError):
                lock_path.unlink()  # a racer that opened it meanwhile just retries
            os.close(fd)
        return
    raise ServerStartError("no free X display number")


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether `proc` has exited, without reaping it (its pid stays its group's)."""
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


@dataclass
class XDisplay:
    """An X server we started, with the processes that draw on it."""

    display: int
    workdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        return f":{self.display}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DISPLAY"] = self.display_name
        env.pop("XAUTHORITY", None)
        env.pop("SDL_VIDEODRIVER", None)  # programs on this display must use it
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
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - pytest starts us single-threaded
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
                raise TimeoutError(f"screen of :{self.display} never settled")
            time.sleep(0.25)
            shot = self.screenshot()
            if np.array_equal(shot, last):
                same += 1
            else:
                same = 1
                last = shot
        return last

    def close(self) -> None:
        """SIGTERM every process group we started (newest first), then SIGKILL the rest.

        Leaders are reaped only at the very end, so no group id can have been
        handed to an unrelated process when we signal it.
        """
        live = [p for p in reversed(self.procs) if p.returncode is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(_exited(p) for p in live):
            time.sleep(0.05)
        for proc in live:
            # Also takes out stragglers: children left in a group whose leader died.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in live:
            proc.wait(timeout=10)
        for log in self.logs:
            log.close()
        self.procs.clear()
        self.logs.clear()


@dataclass
class VncServer(XDisplay):
    """One running VNC server: its X display, RFB port and helper processes."""

    kind: str = ""
    port: int = 0
    password: str | None = None

    @property
    def address(self) -> str:
        """The address as the vncwall CLI takes it: host::port."""
        return f"127.0.0.1::{self.port}"


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
    """(log name, argv) of the processes that make up a server of `kind`, X server first."""
    common = f":{display} -rfbport {port} -localhost -nolisten tcp".split()
    screen = f"-geometry {WIDTH}x{HEIGHT} -depth 24".split()
    if kind == "tigervnc":
        # A huge blacklist threshold: wrong-password tests must not lock us out.
        security = auth or ["-SecurityTypes", "None"]
        flags = ["-BlacklistThreshold", "1000000", "-AlwaysShared"]
        return [("xvnc", ["Xvnc", *common, *screen, *flags, *security])]
    if kind == "tightvnc":
        # Without -rfbauth, TightVNC's Xvnc offers security type None.
        flags = ["-alwaysshared", "-desktop", "vncwall-test"]
        return [("xtightvnc", ["Xtightvnc", *common, *screen, *flags, *auth])]
    if kind == "x11vnc":
        # -noreset: Xvfb would otherwise reset (and lose the root colour) whenever its
        # last client leaves; the VNC X servers never reset.
        xvfb = ["Xvfb", f":{display}", "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-noreset"]
        xvfb += ["-nolisten", "tcp"]
        # -nocursor: never paint the pointer into the framebuffer; -ncache 0: no pixel
        # cache below the screen; -wait 10: poll the screen often; the rest keeps it quiet.
        flags = (
            f"-display :{display} -rfbport {port} -localhost -forever -shared -norc "
            "-ncache 0 -nocursor -nosel -nobell -noxrecord -nopw -noipv6 -wait 10"
        ).split()
        return [("xvfb", xvfb), ("x11vnc", ["x11vnc", *flags, *auth])]
    raise ValueError(f"unknown VNC server kind {kind!r}")


def _wait_for(predicate: Callable[[], bool], what: str, server: XDisplay, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for proc in server.procs:
            if _exited(proc):
                raise ServerStartError(
                    f"{proc.args!r} exited while waiting for {what}\n" + server.log_tail()
                )
        if time.monotonic() > deadline:
            raise ServerStartError(f"timed out waiting for {what}\n" + server.log_tail())
        time.sleep(0.1)


def _display_answers(server: XDisplay) -> bool:
    try:
        return server.x("xdpyinfo", "-display", server.display_name, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _start(kind: str, display: int, password: str | None, workdir: Path) -> VncServer:
    auth = _write_password_file(kind, workdir, password) if password is not None else []
    port = free_tcp_port()
    server = VncServer(display, workdir, kind=kind, port=port, password=password)
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


def _ramps_ppm(width: int, band: int = 12) -> bytes:
    """A binary PPM of red, green, blue and grey ramps that hit every level 0..255."""
    levels = (np.arange(width) * 255 // (width - 1)).astype(np.uint8)
    img = np.zeros((4, band, width, 3), dtype=np.uint8)
    for channel in range(3):
        img[channel, :, :, channel] = levels
    img[3] = levels[:, None]
    return f"P6 {width} {4 * band} 255\n".encode() + img.tobytes()


def _window_viewable(server: XDisplay, title: str) -> bool:
    # xwininfo rather than xdotool: xdotool crashes on TightVNC's old X server.
    result = server.x("xwininfo", "-display", server.display_name, "-name", title)
    return result.returncode == 0 and b"IsViewable" in result.stdout


def warp_pointer(display: str, x: int, y: int) -> None:
    """Move the X pointer to (x, y) on the root window, via libX11's XWarpPointer."""
    libname = ctypes.util.find_library("X11")
    if libname is None:
        raise ServerStartError("libX11 not found")
    x11 = ctypes.CDLL(libname)
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XWarpPointer.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_int,
    ]
    x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        raise ServerStartError(f"cannot open X display {display}")
    try:
        x11.XWarpPointer(dpy, 0, x11.XDefaultRootWindow(dpy), 0, 0, 0, 0, x, y)
        x11.XSync(dpy, 0)
    finally:
        x11.XCloseDisplay(dpy)


def build_scene(server: XDisplay, rich: bool = True) -> None:
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
        ramps = server.workdir / "ramps.ppm"
        ramps.write_bytes(_ramps_ppm(IMAGE_WIDTH))
        plasma = f"-seed 4242 -size {IMAGE_WIDTH}x300 plasma:fractal".split()
        gradient = f"-size {IMAGE_WIDTH}x100 gradient:#ff2000-#0030ff".split()
        subprocess.run(
            [CONVERT, *plasma, "(", *gradient, ")", str(ramps), "-append", f"PNG24:{image}"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        server.spawn(["twm", "-f", str(twmrc)], "twm")
        time.sleep(0.5)  # let twm select SubstructureRedirect before windows map
        listing = ["-e", "sh", "-c", "ls -l --color=always /usr/bin | head -40"]
        xterm = f"-geometry 80x44+20+20 -title {XTERM_TITLE} -bg #fdf6e3 -fg #073642".split()
        server.spawn(
            ["xterm", "+bc", "-hold", *xterm, "-xrm", "XTerm*cursorBlink: false", *listing],
            "xterm",
        )
        image_args = f"-title {IMAGE_TITLE} -geometry +640+60".split()
        server.spawn([DISPLAY_IMAGE, *image_args, str(image)], "display")
        # Analog, no second hand; redraws once a day (at midnight UTC) at most.
        clock = f"-geometry 180x180+1020+540 -update 86400 -title {CLOCK_TITLE} -bg #eeeeee"
        server.spawn(["xclock", *clock.split()], "xclock")
        for title in (XTERM_TITLE, IMAGE_TITLE, CLOCK_TITLE):
            _wait_for(partial(_window_viewable, server, title), f"window {title!r}", server, 30)
    # Park the pointer on bare root (its cursor is blank there), away from windows,
    # so focus-follows-mouse leaves every window unfocused.
    warp_pointer(server.display_name, WIDTH - 5, HEIGHT - 5)
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
        with (
            reserve_display() as display,
            tempfile.TemporaryDirectory(prefix=f"vncwall-{kind}-") as tmp,
        ):
            try:
                server = _start(kind, display, password, Path(tmp))
            except ServerStartError as exc:  # display or port raced away: try another
                last_error = exc
                continue
            try:
                build_scene(server, rich=scene)
                if kind == "x11vnc":
                    # x11vnc copies the screen by polling and can lag up to ~1 s behind it;
                    # give it ample time to catch up with the finished scene.
                    time.sleep(3)
                yield server
            finally:
                server.close()
            return
    raise ServerStartError(f"could not start {kind}: {last_error}")


@contextlib.contextmanager
def solid_servers(colours: Sequence[str]) -> Iterator[list[VncServer]]:
    """One bare TigerVNC server per colour, its root window filled with that colour."""
    with contextlib.ExitStack() as stack:
        servers = []
        for colour in colours:
            server = stack.enter_context(vnc_server("tigervnc", scene=False))
            result = server.x("xsetroot", "-solid", colour)
            assert result.returncode == 0, result.stderr
            servers.append(server)
        yield servers


@contextlib.contextmanager
def xvfb(depth: int = 24, width: int = 64, height: int = 48) -> Iterator[XDisplay]:
    """A bare Xvfb display (no VNC), for checking the screenshot path itself."""
    with reserve_display() as display, tempfile.TemporaryDirectory(prefix="vncwall-xvfb-") as tmp:
        server = XDisplay(display, Path(tmp))
        try:
            screen = f"{width}x{height}x{depth}"
            server.spawn(
                ["Xvfb", f":{display}", "-screen", "0", screen, "-noreset", "-nolisten", "tcp"],
                "xvfb",
            )
            _wait_for(lambda: _display_answers(server), f"X display :{display}", server, 20)
            yield server
        finally:
            server.close()


class ServerPool:
    """Starts each (kind, password, scene) server on first use and keeps it for the session."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._servers: dict[tuple[str, str | None, bool], VncServer] = {}

    def get(self, kind: str, password: str | None = None, scene: bool = True) -> VncServer:
        """The running server; skips the test if a binary it needs is not installed."""
        missing = missing_binaries(kind, scene=scene)
        if missing:
            pytest.skip(f"{kind}: not installed: {', '.join(missing)}")
        key = (kind, password, scene)
        if key not in self._servers:
            self._servers[key] = self._stack.enter_context(vnc_server(kind, password, scene))
        return self._servers[key]

    def close(self) -> None:
        self._servers.clear()
        self._stack.close()
