"""The status HUD's text: one row per face plus a wall-wide line, and the wall's frame rate."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol

from ..net.framebuffer import Framebuffer
from ..session import State, Status
from ..stats import SessionStats

FOCUS = "\u00bb"  # marks the focused session's row (in the default font, unlike arrows)
HEADER = ["", "session", "state", "encoding", "size", "updates", "traffic", "latency"]


class SessionLike(Protocol):
    """What the HUD reads from a session."""

    @property
    def name(self) -> str: ...
    @property
    def framebuffer(self) -> Framebuffer | None: ...
    def status(self) -> Status: ...
    def stats(self, now: float | None = None) -> SessionStats: ...


class FrameRate:
    """Frames per second over the last `window` seconds, from the times frames were drawn."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def fps(self, now: float) -> float:
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()


def rate_text(bytes_per_s: float) -> str:
    """Bytes per second in B/s, kB/s or MB/s (decimal units)."""
    if bytes_per_s >= 1e6:
        return f"{bytes_per_s / 1e6:.1f} MB/s"
    if bytes_per_s >= 1e3:
        return f"{bytes_per_s / 1e3:.0f} kB/s"
    return f"{bytes_per_s:.0f} B/s"


def state_text(status: Status, now: float) -> str:
    """The state, with the reason when the session is not live (one line, kept short)."""
    if status.state is State.LIVE:
        return "live" if status.first_frame else "live (waiting for a picture)"
    text = status.line(now)
    return text if len(text) <= 90 else text[:87] + "..."


def face_row(session: SessionLike, now: float, focused: bool) -> list[str]:
    """One face's cells, in the order of HEADER."""
    st = session.status()
    live = st.state is State.LIVE
    fb = session.framebuffer
    size = f"{fb.width}x{fb.height}" if live and fb is not None and fb.width > 0 else "-"
    name = session.name
    if st.desktop_name and st.desktop_name != name:
        name = f"{name} ({st.desktop_name})"
    if not live:
        return [FOCUS if focused else "", name, state_text(st, now), "-", size, "-", "-", "-"]
    stats = session.stats()  # on the session's own clock: a frame's `now` may be synthetic
    latency = "-" if stats.latency_ms is None else f"{stats.latency_ms:.0f} ms"
    return [
        FOCUS if focused else "",
        name,
        state_text(st, now),
        stats.encoding or "-",
        size,
        f"{stats.updates_per_s:.1f}/s",
        rate_text(stats.bytes_per_s),
        latency,
    ]


def wall_line(sessions: Sequence[SessionLike], fps: float, layout: str) -> str:
    """The wall-wide summary: frame rate, how many sessions are live, the layout."""
    live = sum(1 for s in sessions if s.status().state is State.LIVE)
    return f"vncwall  {fps:.1f} fps  \u00b7  {live}/{len(sessions)} live  \u00b7  {layout}"


def hud_table(sessions: Sequence[SessionLike], front: int, fps: float, layout: str,
              now: float) -> tuple[str, list[list[str]]]:
    """The HUD's title line and its table (a header row, then one row per face)."""
    rows = [list(HEADER)]
    rows += [face_row(s, now, i == front) for i, s in enumerate(sessions)]
    return wall_line(sessions, fps, layout), rows
