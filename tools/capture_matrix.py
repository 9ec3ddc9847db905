"""Measure `vncwall capture` against the three real servers: exactness and wall-clock.

Usage: python tools/capture_matrix.py   (needs the Debian servers tools/setup.sh installs)
Prints one row per server x encoding: used encodings, exact / PSNR vs `xwd -root`, seconds.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from tests.servers import SERVER_KINDS, vnc_server

ENCODINGS = ["raw", "rre", "corre", "hextile", "zlib", "tight", "trle", "zrle", "tight+jpeg"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main() -> None:
    print("| server | requested | used | result | seconds (median of 3) |")
    print("|---|---|---|---|---|")
    for kind in SERVER_KINDS:
        with vnc_server(kind) as server, tempfile.TemporaryDirectory() as tmp:
            truth = server.stable_screenshot()
            for enc in ENCODINGS:
                args = ["--encodings", "tight", "--quality", "8"] if enc == "tight+jpeg" \
                    else ["--encodings", enc]
                out = Path(tmp) / "c.png"
                times, used = [], ""
                for _ in range(3):
                    t0 = time.monotonic()
                    r = subprocess.run(
                        [sys.executable, "-m", "vncwall", "capture", server.address, str(out),
                         *args], capture_output=True, text=True, check=False)
                    times.append(time.monotonic() - t0)
                    used = r.stderr.split("encodings: ")[-1].split(")")[0] if r.returncode == 0 \
                        else f"exit {r.returncode}"
                img = pygame.surfarray.array3d(pygame.image.load(str(out))).transpose(1, 0, 2)
                p = psnr(img, truth)
                result = "exact" if p == math.inf else f"PSNR {p:.1f} dB"
                print(f"| {kind} | {enc} | {used} | {result} | {sorted(times)[1]:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
