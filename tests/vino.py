"""A real vino-server (GNOME's VNC server) on Xvfb, configured through a private keyfile."""

from __future__ import annotations

import base64
import contextlib
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.servers import BLANK_XBM, ServerStartError, XDisplay, missing_xvfb_binaries, xvfb

VINO = "/usr/libexec/vino-server"
WIDTH, HEIGHT = 320, 240


def why_no_vino() -> str | None:
    """Why vino cannot run here, or None."""
    missing = missing_xvfb_binaries()
    if not Path(VINO).exists():
        missing.append(VINO)
    if shutil.which("dbus-daemon") is None:
        missing.append("dbus-daemon")
    return f"not installed: {', '.join(missing)} (vino, dbus)" if missing else None


def free_vino_port() -> int:
    """A port free on ::1 and 127.0.0.1 in vino's range for alternative-port (5000-50000)."""
    for port in random.sample(range(20000, 50000), 200):
        with contextlib.ExitStack() as stack:
            try:
                for family, host in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
                    s = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
                    s.bind((host, port))
            except OSError:
                continue
            return port
    raise ServerStartError("no free port for vino")


def security_types(port: int, timeout: float = 1.0) -> list[int] | None:
    """The security types vino offers on ::1 (RFB 3.8), None while nothing answers."""
    try:
        with socket.create_connection(("::1", port), timeout=timeout) as s:
            f = s.makefile("rwb")
            if not f.read(12).startswith(b"RFB "):
                return None
            f.write(b"RFB 003.008\n")
            f.flush()
            count = f.read(1)
            return list(f.read(count[0])) if count else None
    except OSError:
        return None


@dataclass
class Vino:
    """A running vino-server and the Xvfb display it shares."""

    display: XDisplay
    port: int

    @property
    def address(self) -> str:
        return f"[::1]::{self.port}"


def _keyfile(port: int, auth: str, password: str | None) -> str:
    lines = [
        "[org/gnome/desktop/remote-access]",
        "prompt-enabled=false",
        "require-encryption=true",
        f"authentication-methods=['{auth}']",
        "use-alternative-port=true",
        f"alternative-port=uint16 {port}",
        "network-interface='lo'",
        "icon-visibility='never'",
        "notify-on-connect=false",
        "use-upnp=false",
    ]
    if password is not None:
        lines.append(f"vnc-password='{base64.b64encode(password.encode()).decode()}'")
    return "\n".join(lines) + "\n"


def _spawn(display: XDisplay, args: Sequence[str], name: str, env: dict[str, str]) -> None:
    """Like XDisplay.spawn, with extra environment; display.close() stops it."""
    log = open(display.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in close()
    display.logs.append(log)
    display.procs.append(subprocess.Popen(
        list(args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        env={**display.env(), **env}, cwd=display.workdir, start_new_session=True,
    ))  # fmt: skip


@contextlib.contextmanager
def vino(auth: str = "none", password: str | None = None) -> Iterator[Vino]:
    """vino-server on a fresh Xvfb: require-encryption (AnonTLS only), `auth` 'none' or
    'vnc' (with `password`), no prompt; its settings and session bus private to it."""
    with xvfb(width=WIDTH, height=HEIGHT) as display:
        work = display.workdir
        blank = work / "blank.xbm"
        blank.write_text(BLANK_XBM)
        # A plaid root (edges and two colours everywhere) and an invisible pointer.
        result = display.x("xsetroot", "-mod", "7", "5", "-fg", "#e0a020", "-bg", "#3a6ea5",
                           "-cursor", str(blank), str(blank))
        if result.returncode != 0:
            raise ServerStartError(f"xsetroot failed: {result.stderr.decode(errors='replace')}")
        settings = work / "config" / "glib-2.0" / "settings"
        settings.mkdir(parents=True)
        port = free_vino_port()
        (settings / "keyfile").write_text(_keyfile(port, auth, password))
        runtime = work / "run"
        runtime.mkdir(mode=0o700)
        bus = f"unix:path={work / 'bus'}"
        env = {"XDG_CONFIG_HOME": str(work / "config"), "XDG_RUNTIME_DIR": str(runtime),
               "GSETTINGS_BACKEND": "keyfile", "DBUS_SESSION_BUS_ADDRESS": bus,
               # No accessibility bus or gvfs daemons activated on our bus: nothing to need.
               "NO_AT_BRIDGE": "1", "GTK_A11Y": "none", "GIO_USE_VFS": "local"}
        _spawn(display, ["dbus-daemon", "--session", "--nofork", f"--address={bus}"],
               "dbus", env)
        deadline = time.monotonic() + 20
        while not (work / "bus").exists():
            if time.monotonic() > deadline:
                raise ServerStartError(f"no session bus\n{display.log_tail()}")
            time.sleep(0.05)
        _spawn(display, [VINO], "vino", env)
        while security_types(port) is None:
            if time.monotonic() > deadline or display.procs[-1].poll() is not None:
                raise ServerStartError(f"vino did not listen on [::1]:{port}\n"
                                       f"{display.log_tail()}")
            time.sleep(0.1)
        yield Vino(display, port)
