"""Per-session traffic figures for the status HUD and --status-json: rates over a short window."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .net.constants import encoding_name

WINDOW_SECONDS = 2.0


@dataclass(frozen=True)
class SessionStats:
    """What a session is doing now, as the HUD shows it."""

    encoding: str = ""  # the encodings of the latest update, e.g. "tight" or "copyrect+tight"
    updates_per_s: float = 0.0
    bytes_per_s: float = 0.0
    # Update request (or fence) to the end of decoding its answer; None: not measured yet.
    latency_ms: float | None = None


class Meter:
    """Collects update and byte counts from the worker; any thread reads `stats(now)`."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int]] = deque()  # (time, bytes received so far)
        self._updates: deque[float] = deque()
        self._encoding = ""
        self._latency_ms: float | None = None
        # Called with each latency measured, in seconds (the metrics endpoint's histogram).
        self.observers: list[Callable[[float], None]] = []

    def bytes_seen(self, now: float, total: int) -> None:
        """Record the session's running byte count at `now`."""
        with self._lock:
            self._samples.append((now, total))
            self._trim(now)

    def update_done(self, now: float, encodings: frozenset[int],
                    latency_s: float | None = None) -> None:
        """Record one decoded FramebufferUpdate."""
        with self._lock:
            self._updates.append(now)
            real = sorted(e for e in encodings if e >= 0)
            if real:
                self._encoding = "+".join(encoding_name(e) for e in real)
            if latency_s is not None:
                self._latency_ms = latency_s * 1000.0
            self._trim(now)
        if latency_s is not None:
            self._observe(latency_s)

    def latency_seen(self, latency_s: float) -> None:
        """Record a latency measured apart from an update (a fence's round trip)."""
        with self._lock:
            self._latency_ms = latency_s * 1000.0
        self._observe(latency_s)

    def _observe(self, latency_s: float) -> None:
        for observe in list(self.observers):
            observe(latency_s)

    def stats(self, now: float) -> SessionStats:
        with self._lock:
            self._trim(now)
            span = self.window
            rate = 0.0
            if len(self._samples) >= 2:
                (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
                rate = (b1 - b0) / max(t1 - t0, 1e-3) if now - t1 < span else 0.0
            return SessionStats(
                encoding=self._encoding,
                updates_per_s=len(self._updates) / span,
                bytes_per_s=rate,
                latency_ms=self._latency_ms,
            )

    def _trim(self, now: float) -> None:
        cutoff = now - self.window
        while self._updates and self._updates[0] < cutoff:
            self._updates.popleft()
        while len(self._samples) > 2 and self._samples[1][0] < cutoff:
            self._samples.popleft()
