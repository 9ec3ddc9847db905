"""Polling until something holds, failing the test with a message when it never does."""

from __future__ import annotations

import time
from collections.abc import Callable

Waiter = Callable[..., None]  # (predicate, what, timeout=its default)


def wait(predicate: Callable[[], object], what: str, timeout: float = 15.0,
         interval: float = 0.05) -> None:
    """Poll `predicate` every `interval` seconds until it is true; fail with `what` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(interval)


def waiter(default_timeout: float, interval: float = 0.05) -> Waiter:
    """`wait` with another default timeout (and poll interval)."""

    def wait_up_to(predicate: Callable[[], object], what: str,
                   timeout: float = default_timeout) -> None:
        wait(predicate, what, timeout, interval)

    return wait_up_to
