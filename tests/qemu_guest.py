"""A tiny QEMU guest for the VM-console tests: a boot sector that draws a fixed picture."""

from __future__ import annotations

from pathlib import Path

# Real-mode x86: set VGA mode 13h (320x200, 256 colours), then fill video memory with
# (offset ^ offset >> 8) and halt; a picture with every edge and colour change a diff needs.
#   mov ax,0x13; int 0x10; mov ax,0xa000; mov es,ax; xor di,di
#   l: mov ax,di; xor al,ah; stosb; cmp di,0xfa00; jb l; cli; hlt; jmp $-1
_CODE = bytes.fromhex("B81300CD10B800A08EC031FF89F830E0AA81FF00FA72F5FAF4EBFD")
BOOT_SECTOR = _CODE.ljust(510, b"\0") + b"\x55\xaa"
# What QEMU's std VGA shows for mode 13h (pixels doubled): the screendump and VNC size.
SCREEN = (640, 400)


def write_boot_image(directory: Path, name: str = "guest.img") -> Path:
    """Write a raw floppy-sized disk image whose first sector is BOOT_SECTOR."""
    path = directory / name
    path.write_bytes(BOOT_SECTOR.ljust(1474560, b"\0"))
    return path
