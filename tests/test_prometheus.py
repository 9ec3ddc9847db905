"""The real Prometheus server scrapes a running wall's --metrics endpoint."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import XDisplay, free_tcp_port, missing_xvfb_binaries, xvfb
from tests.waiting import wait
from vncwall.metrics import FRAME_BUCKETS

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = "/usr/bin/prometheus"

SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vncwall
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def demo_wall_metrics(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`vncwall demo --sides 2` in a window on Xvfb with --metrics on a free loopback port;
    yields the process and the port it says it serves metrics on."""
    missing = missing_xvfb_binaries()
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    with xvfb(width=640, height=480) as gl:
        yield from _demo(gl, tmp_path)


def _demo(gl: XDisplay, tmp: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    env = gl.env() | {"PYTHONPATH": str(ROOT)}
    log = tmp / "wall.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vncwall", "demo", "--sides", "2", "--window", "--size",
             "320x200", "--no-control", "--metrics", "127.0.0.1:0"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        found: list[int] = []

        def announced() -> bool:
            assert proc.poll() is None, log.read_text(errors="replace")
            m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", log.read_text())
            found[:] = [int(m.group(1))] if m else []
            return bool(found)

        wait(announced, "the wall never said where its metrics are", timeout=30)
        yield proc, found[0]
    finally:
        _stop(proc)


@pytest.fixture
def prometheus(demo_wall_metrics: tuple[subprocess.Popen[bytes], int],
               tmp_path: Path) -> Iterator[str]:
    """The real Prometheus, scraping the wall every second; yields its base URL."""
    if shutil.which(PROMETHEUS) is None:
        pytest.skip("prometheus not installed")
    _, metrics_port = demo_wall_metrics
    config = tmp_path / "prometheus.yml"
    config.write_text(SCRAPE_CONFIG.format(port=metrics_port))
    port = free_tcp_port()
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=tmp_path, env={"PATH": os.environ.get("PATH", "/usr/bin")})
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
                    return bool(r.status == 200)
            except (OSError, urllib.error.URLError):
                return False

        wait(ready, "prometheus never became ready", timeout=30, interval=0.2)
        yield url
    finally:
        _stop(proc)


def query(url: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    q = urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    result: list[dict[str, Any]] = doc["data"]["result"]
    return result


def test_prometheus_scrapes_the_wall(prometheus: str,
                                     demo_wall_metrics: tuple[subprocess.Popen[bytes], int]
                                     ) -> None:
    proc, port = demo_wall_metrics
    ups: list[dict[str, Any]] = []

    def both_up() -> bool:
        ups[:] = query(prometheus, "vncwall_session_up")
        return len(ups) == 2 and all(r["value"][1] == "1" for r in ups)

    wait(both_up, f"prometheus never saw both sessions up: {ups}", timeout=30, interval=0.5)
    assert sorted(r["metric"]["session"] for r in ups) == ["demo-1", "demo-2"]
    for r in ups:
        assert r["metric"]["job"] == "vncwall"
        assert r["metric"]["instance"] == f"127.0.0.1:{port}"
        assert set(r["metric"]) == {"__name__", "job", "instance", "session"}
    (target,) = query(prometheus, 'up{job="vncwall"}')
    assert target["value"][1] == "1"
    (frames,) = query(prometheus, "vncwall_wall_frame_seconds_count")
    assert float(frames["value"][1]) > 0
    buckets = query(prometheus, "vncwall_wall_frame_seconds_bucket")
    assert len(buckets) == len(FRAME_BUCKETS) + 1  # and le="+Inf"
    inf = [b for b in buckets if b["metric"]["le"] == "+Inf"]
    assert inf and float(inf[0]["value"][1]) == float(frames["value"][1])
    (sessions,) = query(prometheus, "vncwall_wall_sessions")
    assert sessions["value"][1] == "2"
    live = query(prometheus, 'vncwall_session_state{state="live"}')
    assert sorted((r["metric"]["session"], r["value"][1]) for r in live) == [
        ("demo-1", "1"), ("demo-2", "1")]
    # The counters grow between scrapes: the wall keeps drawing.
    first = float(frames["value"][1])
    wait(lambda: float(query(prometheus, "vncwall_wall_frame_seconds_count")[0]["value"][1])
         > first, "the frame histogram never grew", timeout=10, interval=0.5)
    assert proc.poll() is None
