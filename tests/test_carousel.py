"""The kiosk carousel's timing, driven by an injected clock (no sleeping)."""

from __future__ import annotations

import pytest

from vncwall.carousel import Carousel


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def run(c: Carousel, clock: Clock, front: int, up: list[bool], until: float,
        step: float = 0.25) -> list[tuple[float, int]]:
    """Advance the clock to `until`, frame by frame; the (time, index) of every turn."""
    turns = []
    while clock.t < until:
        clock.t = round(clock.t + step, 6)
        target = c.advance(front, up)
        if target is not None:
            front = target
            turns.append((clock.t, front))
    return turns


def test_off_when_interval_is_zero() -> None:
    clock = Clock()
    c = Carousel(0, clock=clock)
    assert not c.enabled and c.next_at() is None
    assert run(c, clock, 0, [True] * 3, 2000.0, step=50.0) == []


def test_turns_every_interval_and_wraps() -> None:
    clock = Clock()
    c = Carousel(10, clock=clock)
    assert run(c, clock, 1, [True] * 3, 1045.0) == [
        (1010.0, 2), (1020.0, 0), (1030.0, 1), (1040.0, 2)]
    assert c.turns == 4


def test_input_pauses_then_resumes_after_resume_seconds() -> None:
    clock = Clock()
    c = Carousel(10, resume_after=30, clock=clock)
    clock.t = 1005.0
    c.touch()
    assert c.paused() and c.next_at() == 1035.0
    assert run(c, clock, 0, [True] * 4, 1034.75) == []
    clock.t = 1020.0
    c.touch()  # more input pushes the resume further out
    assert run(c, clock, 0, [True] * 4, 1060.0) == [(1050.0, 1), (1060.0, 2)]
    assert not c.paused()


def test_resume_never_sooner_than_the_interval() -> None:
    clock = Clock()
    c = Carousel(60, resume_after=5, clock=clock)
    c.touch(1010.0)
    assert c.next_at() == 1060.0  # 5 s after the input, but not 60 s since the last turn
    assert run(c, clock, 0, [True, True], 1070.0) == [(1060.0, 1)]


def test_skip_down_passes_over_sessions_that_are_down() -> None:
    clock = Clock()
    up = [True, False, False, True, False]
    c = Carousel(5, skip_down=True, clock=clock)
    assert run(c, clock, 0, up, 1020.0) == [(1005.0, 3), (1010.0, 0), (1015.0, 3), (1020.0, 0)]
    c2 = Carousel(5, skip_down=False, clock=clock)
    assert c2.next_index(0, up) == 1


def test_nowhere_to_go_waits_a_whole_interval() -> None:
    clock = Clock()
    c = Carousel(5, skip_down=True, clock=clock)
    assert run(c, clock, 0, [True, False], 1012.0) == []
    assert c.last_turn == 1010.0  # retried once per interval, not every frame
    assert c.advance(0, [True, True], 1014.0) is None
    assert c.advance(0, [True, True], 1015.0) == 1


def test_single_session_never_turns() -> None:
    c = Carousel(1, clock=Clock())
    assert c.advance(0, [True], 2000.0) is None


def test_negative_times_are_refused() -> None:
    with pytest.raises(ValueError):
        Carousel(-1)
