"""Kiosk carousel: when to turn to the next session, paused by user input (pure, injected clock)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


class Carousel:
    """Decides when the wall turns on its own and to which session.

    It turns once `interval` seconds have passed since the last turn *and*
    `resume_after` seconds since the last user input (`touch`). With `skip_down`,
    sessions whose `up` flag is false are passed over; when no other session is
    eligible it stays where it is and tries again after another interval.
    All times come from `clock` (time.monotonic by default) or an explicit `now`.
    """

    def __init__(
        self,
        interval: float,
        resume_after: float = 30.0,
        skip_down: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0 or resume_after < 0:
            raise ValueError("carousel times must not be negative")
        self.interval = interval
        self.resume_after = resume_after
        self.skip_down = skip_down
        self.clock = clock
        start = clock()
        self.last_turn = start
        self.last_input: float | None = None
        self.turns = 0
        self.held = False  # paused by `vncwall ctl pause` until `resume`

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else now

    def touch(self, now: float | None = None) -> None:
        """User input happened: hold still for `resume_after` seconds from now."""
        self.last_input = self._now(now)

    def paused(self, now: float | None = None) -> bool:
        """Whether recent user input holds the carousel still."""
        t = self._now(now)
        return self.last_input is not None and t - self.last_input < self.resume_after

    def next_at(self) -> float | None:
        """When the next turn is due (None when the carousel is off)."""
        if not self.enabled:
            return None
        due = self.last_turn + self.interval
        if self.last_input is not None:
            due = max(due, self.last_input + self.resume_after)
        return due

    def due(self, now: float | None = None) -> bool:
        at = self.next_at()
        return at is not None and self._now(now) >= at

    def next_index(self, current: int, up: Sequence[bool]) -> int | None:
        """The next session after `current` (wrapping) that may be shown, or None."""
        n = len(up)
        for step in range(1, n):
            i = (current + step) % n
            if up[i] or not self.skip_down:
                return i
        return None

    def advance(self, current: int, up: Sequence[bool], now: float | None = None) -> int | None:
        """If a turn is due: the index to turn to (None if there is none); else None.

        `up[i]` says whether session i is live. A due turn restarts the interval even
        when there is nowhere to go, so the wall retries once per interval, not per frame.
        """
        t = self._now(now)
        if self.held or not self.due(t):
            return None
        self.last_turn = t
        target = self.next_index(current, up)
        if target is not None:
            self.turns += 1
        return target
