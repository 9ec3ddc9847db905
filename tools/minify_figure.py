"""Make docs/minify-before-after.png: a real Xvnc desktop shrunk into a grid tile, unfiltered
(filter = "linear") beside the default trilinear mipmaps, with PSNR against the area average.

Usage (on a machine set up with `tools/setup.sh --test`):
    .venv/bin/python tools/minify_figure.py [OUT.png]   (it starts its own Xvfb and Xvnc)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import vnc_server, xvfb  # noqa: E402
from tests.test_minify import area_average, psnr  # noqa: E402
from tests.wallkit import OPAQUE_GRID, live_wall, render  # noqa: E402
from vncwall.png import write_png  # noqa: E402

SIZE = (400, 260)  # the 1280x800 desktop about 3.3 times smaller
CROP = (40, 40, 150, 100)  # x, y, w, h in window pixels: the xterm's text
ZOOM = 3  # each window pixel shown as 3x3 in the figure


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "minify-before-after.png"
    panels = []
    with (xvfb(width=1280, height=1024) as display, vnc_server("tigervnc") as server,
          pytest.MonkeyPatch.context() as mp):
        full = server.stable_screenshot().astype(np.float64)
        for mode in ("linear", "trilinear"):
            with live_wall(display, [server], mp, filter=mode, **OPAQUE_GRID) as wall:
                image = render(wall, SIZE, time.monotonic())
                r = wall.grid(SIZE).contents[0]
            want = area_average(full, (r.x, r.y, r.w, r.h), (SIZE[1], SIZE[0]))
            x, y, w, h = CROP
            crop = image[y : y + h, x : x + w]
            db = psnr(crop.astype(np.float64), want[y : y + h, x : x + w])
            print(f"{mode}: PSNR {db:.1f} dB against the area-averaged screenshot")
            panels.append(np.kron(crop, np.ones((ZOOM, ZOOM, 1), dtype=np.uint8)))
    gap = np.full((panels[0].shape[0], 6, 3), 255, dtype=np.uint8)
    write_png(out, np.hstack([panels[0], gap, panels[1]]))
    print(f"wrote {out}: left filter = \"linear\" (before), right trilinear mipmaps (after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
