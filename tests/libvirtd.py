"""A real libvirtd for the tests (ours unless one already answers) and TCG guests on it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import numpy.typing as npt

from tests.qemu_guest import SCREEN, write_boot_image

BINARIES = ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64")
# As root every local URI, qemu:///session included, is served by the privileged daemon on
# libvirt's fixed socket, and vncwall's libvirt: addresses name only qemu:///system and
# qemu:///session: so as root the daemon must be the system one. As another user the
# session daemon's sockets and state live under XDG directories we point at a temp dir.
PRIVILEGED = os.geteuid() == 0
PREFIX = "vncwall-test-"  # guest names: PREFIX, our pid, a dash, what the test calls it
START_TIMEOUT = 60.0  # the first start probes QEMU's capabilities (~8 s under TCG)

GUEST_XML = """\
<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>16</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='fd'/></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <disk type='file' device='floppy'>
      <driver name='qemu' type='raw'/>
      <source file={image}/>
      <target dev='fda' bus='fdc'/>
      <readonly/>
    </disk>
    {graphics}
    <video><model type='vga'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
"""
VNC = "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>"


def why_no_libvirtd() -> str | None:
    """Why these tests cannot run a libvirtd here, or None."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        return (f"not installed: {', '.join(missing)} (libvirt-daemon-system, "
                "libvirt-clients, qemu-system-x86)")
    return None


def _answers(path: Path) -> bool:
    """Whether a daemon accepts connections on the Unix socket `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


def load_image(path: Path) -> npt.NDArray[np.uint8]:
    """A PNG or PPM file (virsh screenshot writes either) as (h, w, 3) RGB."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    surface = pygame.image.load(str(path))
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


@dataclass
class Libvirtd:
    """A running libvirtd; `procs` holds what we started (nothing when one was running)."""

    uri: str  # what virsh is given with -c
    path: str  # "/system" or "/session", for libvirt:///PATH?domain= addresses
    workdir: Path
    env: dict[str, str]  # environment the daemon's clients need (session: XDG dirs)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)
    guests: list[Guest] = field(default_factory=list)

    def client_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def virsh(self, *args: str, timeout: float = 60, check: bool = True
              ) -> subprocess.CompletedProcess[str]:
        """Run `virsh -q -c URI ARGS...`; raise with its stderr when `check` and it fails."""
        done = subprocess.run(["virsh", "-q", "-c", self.uri, *args], capture_output=True,
                              text=True, env=self.client_env(), timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"virsh {' '.join(args)}: exit {done.returncode}: "
                               f"{done.stderr.strip()}\n{self.log_tail()}")
        return done

    def address(self, domain: str) -> str:
        """The vncwall address of `domain` (a name, UUID or ID) on this daemon."""
        return f"libvirt://{self.path}?domain={quote(domain, safe='')}"

    def define(self, name: str, graphics: str = VNC) -> Guest:
        """Define (not start) a guest that boots tests/qemu_guest.py's picture."""
        name = f"{PREFIX}{os.getpid()}-{name}"
        image = write_boot_image(self.workdir, f"{uuid.uuid4().hex}.img")
        image.chmod(0o644)
        guest = Guest(self, name, str(uuid.uuid4()))
        xml = self.workdir / f"{guest.uuid}.xml"
        xml.write_text(GUEST_XML.format(name=escape(name), uuid=guest.uuid,
                                        image=quoteattr(str(image)), graphics=graphics))
        self.virsh("define", str(xml))
        self.guests.append(guest)
        return guest

    def remove_stale(self) -> None:
        """Destroy and undefine guests left by test runs that were killed (their pid gone)."""
        listing = self.virsh("list", "--all", "--name").stdout.splitlines()
        for name in listing:
            pid = name.removeprefix(PREFIX).partition("-")[0]
            if name.startswith(PREFIX) and pid.isdigit() and not Path(f"/proc/{pid}").exists():
                self.virsh("destroy", "--domain", name, check=False)
                self.virsh("undefine", "--domain", name, check=False)

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for path in sorted(self.workdir.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def close(self) -> None:
        """Destroy and undefine our guests, then stop the daemons we started."""
        for guest in reversed(self.guests):
            self.virsh("destroy", "--domain", guest.uuid, check=False)
            self.virsh("undefine", "--domain", guest.uuid, check=False)
        self.guests.clear()
        for proc in reversed(self.procs):  # libvirtd first: it may still talk to virtlogd
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs.clear()
        for log in self.logs:
            log.close()
        self.logs.clear()

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.workdir / f"{name}.out.log", "ab")  # noqa: SIM115 - closed in close()
        self.logs.append(log)
        self.procs.append(subprocess.Popen(
            [name, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=self.client_env(), cwd=self.workdir, start_new_session=True,
        ))  # fmt: skip

    def _start(self, name: str, socket_dir: Path, sock: str) -> None:
        """Start daemon `name` in the foreground unless its socket already answers."""
        if _answers(socket_dir / sock):
            return
        conf = self.workdir / f"{name}.conf"
        conf.write_text(f'log_outputs="3:file:{self.workdir / (name + ".log")}"\n')
        self._spawn(name, "-f", str(conf), "-p", str(self.workdir / f"{name}.pid"))
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(socket_dir / sock):
            proc = self.procs[-1]
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start (exit {proc.returncode})\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)


@dataclass
class Guest:
    """A guest we defined: boots a sector that draws a fixed 640x400 picture, then halts."""

    daemon: Libvirtd
    name: str
    uuid: str

    def start(self) -> None:
        self.daemon.virsh("start", "--domain", self.uuid)

    def destroy(self) -> None:
        self.daemon.virsh("destroy", "--domain", self.uuid)

    def id(self) -> str:
        return self.daemon.virsh("domid", "--domain", self.uuid).stdout.strip()

    def port(self) -> int:
        """The VNC port, from virsh's display URI (a display number)."""
        text = self.daemon.virsh("domdisplay", "--type", "vnc", "--domain", self.uuid).stdout
        return 5900 + int(text.strip().rpartition(":")[2])

    def screenshot(self) -> npt.NDArray[np.uint8]:
        """QEMU's own picture of the screen (`virsh screenshot`), (h, w, 3) RGB."""
        with tempfile.TemporaryDirectory(prefix="vncwall-shot-") as tmp:
            path = Path(tmp) / "screen"
            self.daemon.virsh("screenshot", "--domain", self.uuid, "--file", str(path))
            return load_image(path)

    def picture(self, timeout: float = 60) -> npt.NDArray[np.uint8]:
        """The screen once the boot sector has drawn its picture (640x400, settled)."""
        deadline = time.monotonic() + timeout
        last: npt.NDArray[np.uint8] | None = None
        while True:
            shot = self.screenshot()
            if (shot.shape[1], shot.shape[0]) == SCREEN and last is not None \
                    and np.array_equal(shot, last):
                return shot
            last = shot
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} never showed its picture (screen "
                                   f"{shot.shape[1]}x{shot.shape[0]})")
            time.sleep(0.2)


@contextlib.contextmanager
def libvirtd() -> Iterator[Libvirtd]:
    """A libvirtd (with virtlogd) and an empty work dir for guest images; guests defined
    on it are destroyed and undefined, and daemons we started stopped, at the end."""
    with tempfile.TemporaryDirectory(prefix="vncwall-libvirt-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # QEMU runs as libvirt-qemu and must reach the images
        if PRIVILEGED:
            daemon = Libvirtd("qemu:///system", "/system", workdir, {})
            socket_dir = Path("/run/libvirt")
        else:
            xdg = {f"XDG_{kind}_HOME": str(workdir / kind.lower())
                   for kind in ("CONFIG", "CACHE", "DATA", "STATE")}
            runtime = workdir / "run"
            runtime.mkdir(mode=0o700)
            daemon = Libvirtd("qemu:///session", "/session", workdir,
                              {**xdg, "XDG_RUNTIME_DIR": str(runtime)})
            socket_dir = runtime / "libvirt"
        try:
            daemon._start("virtlogd", socket_dir, "virtlogd-sock")
            daemon._start("libvirtd", socket_dir, "libvirt-sock")
            daemon.virsh("version", timeout=START_TIMEOUT)  # waits for the QEMU driver
            daemon.remove_stale()
            yield daemon
        finally:
            daemon.close()
