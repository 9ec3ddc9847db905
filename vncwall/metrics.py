"""A Prometheus /metrics endpoint for one wall: session and frame figures, latency histograms."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .session import State

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from .wall import Wall

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FRAME_BUCKETS = (0.005, 0.01, 0.0167, 0.025, 0.033, 0.05, 0.1, 0.25, 0.5, 1.0)


class MetricsError(ValueError):
    """A bad metrics address, or a port that cannot be listened on."""


def parse_metrics_address(text: str) -> tuple[str, int]:
    """'9108' -> ('127.0.0.1', 9108); 'HOST:PORT'; '[V6]:PORT'."""
    s = text.strip()
    m = re.fullmatch(r"(?:\[([^\]]+)\]|([^:\[\]]*)):(\d+)", s)
    if s.isdigit():
        host, port_text = "127.0.0.1", s
    elif m:
        host, port_text = (m.group(1) or m.group(2) or "127.0.0.1"), m.group(3)
    else:
        raise MetricsError(f"bad metrics address {text!r}: want PORT, HOST:PORT or [V6]:PORT")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise MetricsError(f"bad metrics address {text!r}: port {port} out of range")
    return host, port


def session_labels(names: Iterable[str]) -> list[str]:
    """Session names made unique: the second 'x' is 'x#2', the third 'x#3'."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


class _WallCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        wall = self.metrics.wall
        if wall is None:
            return []
        sessions = list(wall.sessions)  # read once
        labels = session_labels(s.name for s in sessions)
        up = GaugeMetricFamily("vncwall_session_up", "1 if the session is live",
                               labels=["session"])
        state = GaugeMetricFamily("vncwall_session_state", "1 for the session's state",
                                  labels=["session", "state"])
        updates = CounterMetricFamily("vncwall_session_updates", "Framebuffer updates",
                                      labels=["session"])
        received = CounterMetricFamily("vncwall_session_received_bytes", "Bytes received",
                                       labels=["session"])
        reconnects = CounterMetricFamily("vncwall_session_reconnects", "Reconnections",
                                         labels=["session"])
        info = GaugeMetricFamily("vncwall_session_info", "Session description",
                                 labels=["session", "address", "desktop_name", "encoding"])
        unshown = GaugeMetricFamily("vncwall_session_display_error",
                                    "1 if the wall cannot show the session's picture",
                                    labels=["session"])
        for label, s in zip(labels, sessions, strict=True):
            st = s.status()
            up.add_metric([label], 1.0 if st.state is State.LIVE else 0.0)
            for v in State:
                state.add_metric([label, v.value], 1.0 if st.state is v else 0.0)
            updates.add_metric([label], float(st.updates))
            received.add_metric([label], float(s.bytes_received))
            reconnects.add_metric([label], float(max(getattr(s, "attempts", 1) - 1, 0)))
            info.add_metric([label, s.address_text, st.desktop_name, s.stats().encoding], 1.0)
            unshown.add_metric([label], 1.0 if st.display_error else 0.0)
        wall_metrics: list[Metric] = [up, state, updates, received, reconnects, info, unshown]
        wall_metrics.append(GaugeMetricFamily("vncwall_wall_sessions", "Sessions on the wall",
                                              value=len(sessions)))
        wall_metrics.append(GaugeMetricFamily("vncwall_wall_front", "Index of the front session",
                                              value=wall.front))
        wall_metrics.append(CounterMetricFamily("vncwall_wall_frames", "Frames drawn",
                                                value=wall.frames))
        wall_metrics.append(GaugeMetricFamily("vncwall_wall_fps", "Frames per second",
                                              value=wall.frame_rate.fps(time.monotonic())))
        return wall_metrics


class Metrics:
    """A Prometheus endpoint for one wall (prometheus_client, own CollectorRegistry)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9108) -> None:
        self.registry = CollectorRegistry()
        self.wall: Wall | None = None
        self._lock = threading.Lock()
        self._last_tick: float | None = None
        self._seen: dict[int, tuple[object, str]] = {}  # id(session) -> (session, label)
        self.latency = Histogram("vncwall_session_update_latency_seconds",
                                 "Update request to decoded answer", ["session"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.frame_time = Histogram("vncwall_wall_frame_seconds", "Time between frames",
                                    buckets=FRAME_BUCKETS, registry=self.registry)
        self.registry.register(_WallCollector(self))
        try:
            server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise MetricsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._server: Any = server
        self.port: int = int(server.server_address[1])

    def tick(self, wall: Wall, now: float) -> None:
        """Once per frame: frame interval, latency observers for new sessions, gone sessions."""
        self.wall = wall
        if self._last_tick is not None and now >= self._last_tick:
            self.frame_time.observe(now - self._last_tick)
        self._last_tick = now
        sessions = list(wall.sessions)
        labels = session_labels(s.name for s in sessions)
        alive = set()
        for label, s in zip(labels, sessions, strict=True):
            alive.add(id(s))
            if id(s) in self._seen:
                continue
            self._seen[id(s)] = (s, label)
            observers = getattr(s.meter, "observers", None)
            if observers is not None:
                observers.append(self._observer(label))
        for key in [k for k in self._seen if k not in alive]:
            _, label = self._seen.pop(key)
            with contextlib.suppress(KeyError):
                self.latency.remove(label)

    def _observer(self, label: str) -> Callable[[float], None]:
        child = self.latency.labels(session=label)
        return child.observe

    def close(self) -> None:
        """Shut the http server down."""
        self._server.shutdown()
        self._server.server_close()
