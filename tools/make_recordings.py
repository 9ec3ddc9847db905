"""Record a busy 1280x800 Xvnc desktop in each encoding into recordings/*.rfb.gz, for bench.

The desktop is the test scene (twm, an xterm listing, a photo-like image, a clock) plus
motion: an xterm scrolling text, xclock ticking every second, a slideshow of photo-like
images and glxgears. Each encoding is recorded for --seconds (default 3) from the same
running server, with only that encoding (and Raw, which every server may fall back on)
on offer, so CopyRect does not stand in for decoding work.

    python tools/make_recordings.py [--seconds 3] [--out recordings] [--only zrle,tight]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import CONVERT, VncServer, missing_binaries, vnc_server  # noqa: E402
from vncwall.cli import parse_encodings  # noqa: E402
from vncwall.net.address import parse_address  # noqa: E402
from vncwall.net.client import ClientOptions  # noqa: E402
from vncwall.record import record  # noqa: E402

# name -> (encodings offered, JPEG quality)
RECORDINGS: dict[str, tuple[str, int | None]] = {
    "raw": ("raw", None),
    "hextile": ("hextile", None),
    "rre": ("rre", None),
    "zrle": ("zrle", None),
    "tight": ("tight", None),
    "tight-jpeg": ("tight", 9),
}

# Prints numbered lines of varied length at a steady ~150 lines/s, forever.
SCROLLER = (
    "import itertools, sys, time\n"
    "words = open('/usr/share/dict/words').read().split() if __import__('os').path.exists("
    "'/usr/share/dict/words') else [str(i * 7919) for i in range(5000)]\n"
    "for i in itertools.count():\n"
    "    line = ' '.join(words[(i * 13 + k * 101) % len(words)] for k in range(i % 11 + 2))\n"
    "    sys.stdout.write(f'\\x1b[3{i % 7 + 1}m{i:07d}\\x1b[0m {line}\\n')\n"
    "    sys.stdout.flush()\n"
    "    time.sleep(1 / 150)\n"
)


def make_busy(server: VncServer) -> None:
    """Add the moving parts to the static scene."""
    slides = []
    for seed in range(4):
        path = server.workdir / f"slide{seed}.png"
        subprocess.run(
            [CONVERT, "-seed", str(1000 + seed), "-size", "360x270", "plasma:fractal",
             "-blur", "0x1", f"PNG24:{path}"],
            check=True, capture_output=True, timeout=60,
        )
        slides.append(str(path))
    server.spawn(["xclock", "-update", "1", "-geometry", "160x160+1100+20"], "xclock-busy")
    server.spawn(
        ["xterm", "-geometry", "90x26+30+420", "-bg", "#002b36", "-fg", "#93a1a1",
         "-e", sys.executable, "-c", SCROLLER],
        "xterm-busy",
    )
    if shutil.which("animate"):
        server.spawn(
            ["animate", "-delay", "40", "-geometry", "+880+300", *slides], "slideshow"
        )
    if shutil.which("glxgears"):
        server.spawn(["glxgears", "-geometry", "300x300+560+480"], "glxgears")
    time.sleep(2)  # let every window map and start moving


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=ROOT / "recordings")
    parser.add_argument("--only", help="comma-separated names: " + ",".join(RECORDINGS))
    args = parser.parse_args()
    names = list(RECORDINGS) if not args.only else args.only.split(",")
    for name in names:
        if name not in RECORDINGS:
            parser.error(f"unknown recording {name!r}")
    missing = missing_binaries("tigervnc", scene=True)
    if missing:
        print(f"make_recordings: not installed: {', '.join(missing)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with vnc_server("tigervnc", scene=True) as server:
        make_busy(server)
        address = parse_address(server.address)
        for name in names:
            encodings, quality = RECORDINGS[name]
            options = ClientOptions(encodings=parse_encodings(encodings), quality=quality)
            out = args.out / f"{name}.rfb.gz"
            result = record(address, options, args.seconds, out)
            print(
                f"{name}: {result.updates} updates, {result.bytes / 1e6:.1f} MB raw stream, "
                f"{out.stat().st_size / 1e6:.2f} MB on disk -> {out}",
                flush=True,
            )
        dead = [str(p.args)[:60] for p in server.procs if p.poll() is not None]
        if dead:
            print(f"make_recordings: warning: exited early: {dead}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
