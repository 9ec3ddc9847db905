"""`vncwall bench-render` on Xvfb + Mesa: demo servers into a real wall, figures measured."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import XDisplay, missing_xvfb_binaries, xvfb
from vncwall.bench_render import RenderFigures, Spread

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def display() -> Iterator[XDisplay]:
    missing = missing_xvfb_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    with xvfb(width=1280, height=1024) as d:
        yield d


def bench(display: XDisplay, *args: str) -> subprocess.CompletedProcess[str]:
    env = display.env()
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "vncwall", "bench-render", *args], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=240, check=False,
    )


def test_bench_render_measures_a_real_wall(display: XDisplay) -> None:
    proc = bench(display, "--faces", "3", "--seconds", "2", "--size", "640x400",
                 "--scene-size", "320x200", "--server-fps", "20", "--json")
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["faces"] == 3 and figures["window"] == [640, 400]
    assert figures["frames"] > 5 and figures["fps"] > 2.5
    latency, decode, interval = figures["latency"], figures["decode"], figures["frame_interval"]
    # Three animated scenes at up to 20 updates/s each reached the screen.
    assert latency["count"] >= 10
    # An update reaches the screen after it is decoded, within a few frames.
    assert 0 < decode["median_ms"] < latency["median_ms"] < 2000
    assert latency["median_ms"] <= latency["p95_ms"]
    assert 0 < interval["median_ms"] <= interval["p95_ms"]
    assert figures["upload_bytes_per_s"] > 0
    # Three 320x200 RGBX framebuffers; the process's own memory read from /proc.
    assert figures["framebuffer_bytes"] == 3 * 320 * 200 * 4
    memory = figures["memory"]
    assert 0 < memory["driver_code"] < memory["rss"] <= memory["peak_rss"]
    assert memory["target"] == 150_000_000 + figures["framebuffer_bytes"] * 3 // 2


def test_bench_render_text_and_errors(display: XDisplay) -> None:
    proc = bench(display, "--faces", "1", "--seconds", "1", "--size", "320x200",
                 "--scene-size", "160x100")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    names = [line.split(":")[0] for line in lines]
    assert names == ["setup", "fps", "frame interval", "update-to-screen latency", "decode",
                     "upload", "received", "memory"]
    assert "ms" in lines[3] and "updates)" in lines[3]
    bad = bench(display, "--faces", "0")
    assert bad.returncode != 0 and "traceback" not in bad.stderr.lower()
    no_display = subprocess.run(
        [sys.executable, "-m", "vncwall", "bench-render", "--seconds", "1"], cwd=REPO,
        env={k: v for k, v in display.env().items() if k != "DISPLAY"} | {
            "PYTHONPATH": str(REPO), "SDL_VIDEODRIVER": "x11"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert no_display.returncode != 0
    assert len(no_display.stderr.strip().splitlines()) == 1, no_display.stderr


def test_bench_render_compares_filters_on_a_grid_side_by_side(display: XDisplay) -> None:
    proc = bench(display, "--faces", "4", "--seconds", "1", "--warmup", "0.5", "--size",
                 "640x400", "--scene-size", "640x400", "--layout", "grid",
                 "--filter", "trilinear,linear", "--background-fps", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    runs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["filter"] for r in runs] == ["trilinear", "linear"]
    assert all(r["layout"] == "grid" and r["frames"] > 3 for r in runs)
    # Four 640x400 faces: their mipmap levels are about a third of the framebuffers.
    assert 0.3 < runs[0]["mipmap_bytes"] / runs[0]["framebuffer_bytes"] < 0.34
    assert runs[1]["mipmap_bytes"] == 0
    # The three background faces are capped at 2 updates/s; the front one is not.
    assert all(r["background_fps"] == 2 for r in runs)
    assert all(r["background_bytes_per_s"] < r["front_bytes_per_s"] for r in runs), runs
    text = bench(display, "--faces", "2", "--seconds", "1", "--size", "320x200",
                 "--scene-size", "160x100", "--filter", "trilinear,linear")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[-1].startswith("side by side: trilinear ")
    bad = bench(display, "--filter", "sharp")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) <= 3


def test_spread_and_lines() -> None:
    s = Spread.of([0.010, 0.020, 0.030, 0.040, 0.100])
    assert s is not None and s.median_ms == pytest.approx(30.0) and s.count == 5
    assert s.p95_ms == pytest.approx(88.0)
    assert Spread.of([]) is None
    fig = RenderFigures(2, (320, 200), (640, 400), 30.0, 2.0, 100, s, s, None, 4_000_000)
    assert fig.fps == 50.0
    assert fig.lines()[4] == "decode: not measured"
    assert fig.as_dict()["upload_bytes_per_s"] == 2_000_000
