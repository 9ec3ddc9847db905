"""Keep a small JSON file describing every session and the wall up to date (atomic writes)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .net.framebuffer import Framebuffer
from .session import Status
from .stats import SessionStats

log = logging.getLogger("vncwall.status_json")

FORMAT_VERSION = 1


class SessionLike(Protocol):
    """What the status file reads from a session."""

    @property
    def name(self) -> str: ...
    @property
    def framebuffer(self) -> Framebuffer | None: ...
    @property
    def bytes_received(self) -> int: ...
    @property
    def address_text(self) -> str: ...
    def status(self) -> Status: ...
    def stats(self, now: float | None = None) -> SessionStats: ...


def session_entry(session: SessionLike) -> dict[str, Any]:
    """One session's part of the status file (traffic figures as the HUD shows them)."""
    st = session.status()
    figures = session.stats()  # the session's own clock: the writer's may be a test's
    fb = session.framebuffer
    size = [fb.width, fb.height] if fb is not None else None  # the latest one known
    return {
        "name": session.name,
        "address": session.address_text,
        "state": st.state.value,
        "reason": st.reason,
        "display_error": st.display_error,
        "desktop_name": st.desktop_name,
        "framebuffer": size,
        "first_frame": st.first_frame,
        "updates": st.updates,
        "bytes_received": session.bytes_received,
        "encoding": figures.encoding,
        "updates_per_s": round(figures.updates_per_s, 2),
        "bytes_per_s": round(figures.bytes_per_s, 1),
        "latency_ms": None if figures.latency_ms is None else round(figures.latency_ms, 1),
    }


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class StatusWriter:
    """Writes the status file when a state changes, and at most once a second otherwise.

    A state change (a session's state, reason, desktop name or size, or the set of
    sessions) is written on the next `update`; counters (updates, bytes, frame rate)
    only refresh the file once `interval` seconds have passed since the last write.
    """

    def __init__(self, path: Path, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.interval = interval
        self.clock = clock
        self.writes = 0
        self._last_write: float | None = None
        self._last_key: object = None
        self._frames: tuple[float, int] | None = None  # (time, frames) at the last write
        self.fps = 0.0
        self._failed = False
        self._last_call: float | None = None  # the previous update: one per frame
        self._gap = 0.0  # the longest time between two updates since the last write

    def update(self, sessions: Sequence[SessionLike], frames: int, front: int,
               now: float | None = None) -> bool:
        """Write the file if it is due; returns whether it was written."""
        t = self.clock() if now is None else now
        if self._last_call is not None:
            self._gap = max(self._gap, t - self._last_call)
        self._last_call = t
        entries = [session_entry(s) for s in sessions]
        key = [(e["name"], e["state"], e["reason"], e["display_error"], e["desktop_name"],
                e["framebuffer"], e["first_frame"]) for e in entries]
        changed = key != self._last_key
        if not changed and self._last_write is not None and t - self._last_write < self.interval:
            return False
        if self._frames is None:
            self._frames = (t, frames)
        elif t - self._frames[0] >= self.interval / 2:  # not from a burst of state changes
            self.fps = (frames - self._frames[1]) / (t - self._frames[0])
            self._frames = (t, frames)
        doc = {
            "version": FORMAT_VERSION,
            "time": time.time(),
            "fps": round(self.fps, 2),
            "frame_gap_ms": round(1000.0 * self._gap, 1),
            "frames": frames,
            "front": front,
            "sessions": entries,
        }
        try:
            write_atomic(self.path, json.dumps(doc, indent=1) + "\n")
        except OSError as exc:
            if not self._failed:  # say it once, keep trying
                log.warning("cannot write status file %s: %s", self.path, exc.strerror)
            self._failed = True
            return False
        self._failed = False
        self._last_write = t
        self._last_key = key
        self._gap = 0.0
        self.writes += 1
        return True
