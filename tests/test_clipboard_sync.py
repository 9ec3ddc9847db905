"""ClipboardSync and LockSync over unstarted sessions: what reaches which session, when."""

from __future__ import annotations

import pygame
import pytest

from vncwall.clipboard import Clipboard, ClipboardSync
from vncwall.config import SessionConfig
from vncwall.input.locks import ANSWER_SECONDS, LockSync
from vncwall.net.address import parse_address
from vncwall.session import Session, State


class FakeClipboard(Clipboard):
    def __init__(self) -> None:
        super().__init__("")
        self.text: str | None = None
        self.sets: list[str] = []

    @property
    def available(self) -> bool:
        return True

    def get(self) -> str | None:
        return self.text

    def set(self, text: str) -> None:
        self.text = text
        self.sets.append(text)


class Recorder:
    """Stands in for the RFBClient the queued actions run against."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def cut_text(self, text: str) -> None:
        self.calls.append(("cut", (text,)))

    def key_event(self, down: bool, keysym: int, keycode: int | None = None) -> None:
        self.calls.append(("key", (down, keysym, keycode)))


def session(name: str, view_only: bool = False, live: bool = True) -> Session:
    s = Session(SessionConfig(name=name, address=parse_address("127.0.0.1::1"),
                              view_only=view_only))
    if live:
        s._set(state=State.LIVE)
    return s


def drained(s: Session) -> list[tuple[str, tuple[object, ...]]]:
    rec = Recorder()
    while s._inputs:
        s._inputs.popleft()(rec)  # type: ignore[arg-type]
    return rec.calls


UPDATE = [pygame.event.Event(pygame.CLIPBOARDUPDATE)]


def test_front_text_lands_locally_background_text_does_not() -> None:
    a, b = session("a"), session("b")
    board = FakeClipboard()
    sync = ClipboardSync(board)
    sync.tick([a, b], 0, [])
    b.clipboard_in = (1, "from b")
    a.clipboard_in = (1, "from a")
    sync.tick([a, b], 0, [])
    assert board.sets == ["from a"]
    sync.tick([a, b], 0, UPDATE)  # our own set echoes back: not sent to a
    assert drained(a) == [] and drained(b) == []
    sync.tick([a, b], 1, [])  # b comes to the front: it gets the local text
    assert drained(b) == [("cut", ("from a",))]
    assert board.sets == ["from a"]  # b's older text was dropped, not applied now


def test_local_change_goes_to_front_only_and_never_to_view_only() -> None:
    a, viewer = session("a"), session("v", view_only=True)
    board = FakeClipboard()
    sync = ClipboardSync(board)
    sync.tick([a, viewer], 0, [])
    board.text = "copied"
    sync.tick([a, viewer], 0, UPDATE)
    sync.tick([a, viewer], 0, UPDATE)  # unchanged text: sent once
    assert drained(a) == [("cut", ("copied",))]
    sync.tick([a, viewer], 1, UPDATE)
    assert drained(viewer) == []


def test_reconnect_resends() -> None:
    a = session("a")
    board = FakeClipboard()
    board.text = "kept"
    sync = ClipboardSync(board)
    sync.tick([a], 0, [])
    assert drained(a) == [("cut", ("kept",))]
    a._set(state=State.RETRYING)
    sync.tick([a], 0, [])
    a._set(state=State.LIVE)
    sync.tick([a], 0, [])
    assert drained(a) == [("cut", ("kept",))]


def key(k: int, mod: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, scancode=0, unicode="")


def test_locks_follow_local_state() -> None:
    s = session("q")
    locks = LockSync()
    locks.before_keys(s, [key(pygame.K_a, pygame.KMOD_CAPS)], 0.0)
    assert drained(s) == []  # no LED report yet: nothing known
    s.led_state = (1, 0b010)  # Num Lock on, Caps Lock off
    locks.before_keys(s, [key(pygame.K_a, pygame.KMOD_CAPS)], 1.0)
    assert drained(s) == [("key", (True, 0xFFE5, 0x3A)), ("key", (False, 0xFFE5, 0x3A)),
                          ("key", (True, 0xFF7F, 0x45)), ("key", (False, 0xFF7F, 0x45))]
    locks.before_keys(s, [key(pygame.K_a, pygame.KMOD_CAPS)], 1.1)
    assert drained(s) == []  # waiting for the server's report
    s.led_state = (2, 0b100)
    locks.before_keys(s, [key(pygame.K_a, pygame.KMOD_CAPS)], 1.2)
    locks.before_keys(s, [key(pygame.K_CAPSLOCK, 0)], 1.3)  # the user's own toggle
    assert drained(s) == []


@pytest.mark.parametrize("view_only", [False, True])
def test_locks_give_up_or_skip(view_only: bool) -> None:
    s = session("q", view_only=view_only)
    s.led_state = (1, 0)
    locks = LockSync()
    locks.before_keys(s, [key(pygame.K_a, pygame.KMOD_CAPS)], 0.0)
    locks.before_keys(s, [key(pygame.K_a, pygame.KMOD_CAPS)], ANSWER_SECONDS + 1)
    locks.before_keys(s, [key(pygame.K_a, pygame.KMOD_CAPS)], ANSWER_SECONDS + 2)
    assert len(drained(s)) == (0 if view_only else 2)  # one toggle, then never again
