"""Session traffic figures: rates over the window, encoding names, latency."""

from __future__ import annotations

from vncwall.net.constants import Encoding
from vncwall.stats import Meter


def test_rates_over_window() -> None:
    m = Meter(window=2.0)
    for i in range(11):  # 10 updates and 1000 bytes/s over 1 s... then 2 s more
        m.bytes_seen(10.0 + i * 0.2, i * 200)
        m.update_done(10.0 + i * 0.2, frozenset({Encoding.TIGHT}))
    s = m.stats(12.0)
    assert abs(s.bytes_per_s - 1000.0) < 1e-6
    assert s.updates_per_s == 11 / 2.0
    assert s.encoding == "tight"
    assert s.latency_ms is None


def test_idle_session_reads_zero() -> None:
    m = Meter(window=2.0)
    m.bytes_seen(0.0, 0)
    m.bytes_seen(1.0, 5000)
    m.update_done(1.0, frozenset({Encoding.RAW}), latency_s=0.025)
    s = m.stats(10.0)
    assert s.bytes_per_s == 0.0 and s.updates_per_s == 0.0
    assert s.encoding == "raw" and s.latency_ms == 25.0


def test_pseudo_encodings_are_not_named() -> None:
    m = Meter()
    m.update_done(0.0, frozenset({Encoding.COPYRECT, Encoding.ZRLE, -239}))
    assert m.stats(0.0).encoding == "copyrect+zrle"


def test_latency_from_a_round_trip() -> None:
    m = Meter()
    m.update_done(0.0, frozenset({Encoding.TIGHT}), latency_s=0.030)
    m.latency_seen(0.0125)  # a fence's round trip, between updates
    assert m.stats(0.0).latency_ms == 12.5
    m.update_done(0.1, frozenset({Encoding.TIGHT}))  # continuous: no latency of its own
    assert m.stats(0.1).latency_ms == 12.5
