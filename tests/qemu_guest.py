"""A tiny QEMU guest for the VM-console tests: a boot sector that draws a fixed picture."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.qmp import QMP

# Real-mode x86: set VGA mode 13h (320x200, 256 colours), then fill video memory with
# (offset ^ offset >> 8) and halt; a picture with every edge and colour change a diff needs.
#   mov ax,0x13; int 0x10; mov ax,0xa000; mov es,ax; xor di,di
#   l: mov ax,di; xor al,ah; stosb; cmp di,0xfa00; jb l; cli; hlt; jmp $-1
_CODE = bytes.fromhex("B81300CD10B800A08EC031FF89F830E0AA81FF00FA72F5FAF4EBFD")
BOOT_SECTOR = _CODE.ljust(510, b"\0") + b"\x55\xaa"
# What QEMU's std VGA shows for mode 13h (pixels doubled): the screendump and VNC size.
SCREEN = (640, 400)


def colour_indices() -> npt.NDArray[np.uint8]:
    """The palette index of every screen pixel the boot sector draws, (400, 640)."""
    offset = np.arange(320 * 200, dtype=np.uint32).reshape(200, 320)
    index = ((offset & 0xFF) ^ (offset >> 8)).astype(np.uint8)
    return np.repeat(np.repeat(index, 2, axis=0), 2, axis=1)


def shows_picture(shot: npt.NDArray[np.uint8]) -> bool:
    """Whether an (h, w, 3) screen is the boot sector's picture: the right size, one colour
    per palette index, and the default palette's many colours (not the BIOS text screen)."""
    if (shot.shape[1], shot.shape[0]) != SCREEN:
        return False
    index = colour_indices()
    first = np.zeros((256, 3), dtype=np.uint8)
    flat = index.ravel()
    _, where = np.unique(flat, return_index=True)
    first[flat[where]] = shot.reshape(-1, 3)[where]
    return bool(np.array_equal(first[index], shot)) and len(np.unique(first, axis=0)) > 32


def write_boot_image(directory: Path, name: str = "guest.img") -> Path:
    """Write a raw floppy-sized disk image whose first sector is BOOT_SECTOR."""
    path = directory / name
    path.write_bytes(BOOT_SECTOR.ljust(1474560, b"\0"))
    return path


@dataclass
class QemuVnc:
    """A running TCG QEMU showing the boot sector's picture on its VNC server."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    address: str  # a vncwall address: 127.0.0.1::PORT or unix:/path
    qmp: QMP
    log: Path

    def screendump(self) -> npt.NDArray[np.uint8]:
        """The guest's display as QEMU itself renders it, (h, w, 3) RGB."""
        return self.qmp.screendump(self.workdir / "screen.ppm")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def qemu_vnc(
    workdir: Path, vnc: str, objects: Sequence[str] = (), env: dict[str, str] | None = None,
    unix: bool = False, timeout: float = 60.0,
) -> Iterator[QemuVnc]:
    """Start qemu-system-x86_64 (TCG, 16 MiB, std VGA) with `-vnc WHERE,{vnc}` on a free
    loopback port (or a Unix socket), `-object` for each of `objects`, and QMP on a Unix
    socket; yield once the guest's picture is up and the VNC server answers; always kill
    QEMU afterwards."""
    from tests.servers import _die_with_parent, free_tcp_port, port_accepts

    workdir.mkdir(parents=True, exist_ok=True)
    image = write_boot_image(workdir)
    qmp_path = workdir / "qmp.sock"
    if unix:
        sock = workdir / "vnc.sock"
        where, address = f"unix:{sock}", f"unix:{sock}"
    else:
        port = free_tcp_port()
        where, address = f"127.0.0.1:{port - 5900}", f"127.0.0.1::{port}"
    args = ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "16",
            "-display", "none", "-nodefaults", "-vga", "std", "-no-user-config",
            "-drive", f"file={image},if=floppy,format=raw,readonly=on", "-boot", "a",
            "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    for obj in objects:
        args += ["-object", obj]
    args += ["-vnc", f"{where},{vnc}" if vnc else where]
    log = workdir / "qemu.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir,
                                env={**os.environ, **(env or {})},
                                preexec_fn=_die_with_parent)  # noqa: PLW1509 - single-threaded
    try:
        deadline = time.monotonic() + timeout
        while not qmp_path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"QEMU did not start (exit {proc.poll()}): "
                                   f"{log.read_text(errors='replace')}")
            time.sleep(0.05)
        qmp = QMP(qmp_path, timeout=max(1.0, deadline - time.monotonic()))
        try:
            server = QemuVnc(proc, workdir, address, qmp, log)
            _wait_for_picture(server, deadline)
            if not unix:
                while not port_accepts(port):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"QEMU's VNC server never answered: "
                                           f"{server.log_tail()}")
                    time.sleep(0.05)
            yield server
        finally:
            qmp.close()
    finally:
        _stop(proc)


def _wait_for_picture(server: QemuVnc, deadline: float) -> None:
    """Until the guest shows the mode 13h picture (the BIOS text screen comes first)."""
    while True:
        shot = server.screendump()
        if shows_picture(shot):
            return
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the guest's picture never appeared: {server.log_tail()}")
        time.sleep(0.1)
