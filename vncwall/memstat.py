"""This process's resident memory, and how much of it is the GL driver's own mapped code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Mapped files of the GL implementation whose resident pages count in RSS. With Mesa's
# llvmpipe (software GL) that is LLVM, which compiles the shaders, and the DRI driver.
DRIVER_FILES = ("libLLVM", "/dri/", "libnvidia-", "libGLX_", "libgallium")


@dataclass(frozen=True)
class MemoryFigures:
    """Resident memory in bytes: now, peak, and the GL driver's mapped code within it."""

    rss: int
    peak_rss: int
    driver_code: int  # resident pages of the GL driver's own files (code, read-only data)

    def target(self, framebuffer_bytes: int) -> int:
        """The issue's budget: 150 MB + 1.5x the sessions' framebuffers."""
        return 150 * 1000 * 1000 + framebuffer_bytes * 3 // 2


def memory_figures(proc: Path = Path("/proc/self")) -> MemoryFigures | None:
    """Read /proc (Linux); None where there is none."""
    try:
        status = (proc / "status").read_text()
        smaps = (proc / "smaps").read_text()
    except OSError:
        return None
    fields = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    driver = 0
    mapping = ""
    for line in smaps.splitlines():
        head = line.split(maxsplit=5)
        if head and not head[0].endswith(":"):  # a mapping's header line
            mapping = head[5] if len(head) > 5 else ""
        elif head[:1] == ["Rss:"] and any(f in mapping for f in DRIVER_FILES):
            driver += int(head[1]) * 1024
    return MemoryFigures(fields.get("VmRSS", 0), fields.get("VmHWM", 0), driver)
