"""The Prometheus endpoint: address parsing, a port in use, and a scrape of a real demo wall."""

import time
import urllib.request

import pytest

from tests.wallkit import demo_wall
from vncwall.metrics import Metrics, MetricsError, parse_metrics_address


def test_parse_metrics_address():
    assert parse_metrics_address("9108") == ("127.0.0.1", 9108)
    assert parse_metrics_address("0.0.0.0:9108") == ("0.0.0.0", 9108)
    assert parse_metrics_address("[::1]:9108") == ("::1", 9108)
    for bad in ("", "x", "1:2:3", "99999", "host:"):
        with pytest.raises(MetricsError):
            parse_metrics_address(bad)


def test_port_in_use_is_one_line():
    first = Metrics(port=0)
    try:
        with pytest.raises(MetricsError) as info:
            Metrics(port=first.port)
        assert str(info.value).startswith(f"cannot listen on 127.0.0.1:{first.port}: ")
        assert "\n" not in str(info.value)
    finally:
        first.close()


def test_scrape_demo_wall():
    with demo_wall() as (wall, _servers):
        metrics = Metrics(port=0)
        try:
            for i in range(3):
                wall.frames += 1
                metrics.tick(wall, time.monotonic() + i * 0.02)
            url = f"http://127.0.0.1:{metrics.port}/metrics"
            text = urllib.request.urlopen(url, timeout=5).read().decode()
            assert 'vncwall_session_up{session="a"} 1.0' in text
            assert 'vncwall_session_up{session="down"} 0.0' in text
            assert "vncwall_wall_frame_seconds_count 2.0" in text
        finally:
            metrics.close()
