"""Input routing with synthetic pygame events: hotkeys, held-back modifiers, buttons."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from vncwall.input.router import Hotkey, HotkeyError, InputRouter, Target, parse_hotkeys

CTRL_L, ALT_L, SHIFT_L = 0xFFE3, 0xFFE9, 0xFFE1


class Recorder:
    def __init__(self, index: int = 0, face: tuple[int, int, int, int] = (100, 100, 200, 200)):
        self.keys: list[tuple[bool, int]] = []
        self.keycodes: list[int | None] = []
        self.pointer: list[tuple[int, int, int]] = []
        self.index = index
        self.face = face

    def to_pixel(self, x: float, y: float) -> tuple[int, int] | None:
        x0, y0, x1, y1 = self.face
        if x0 <= x < x1 and y0 <= y < y1:
            return int(x - x0), int(y - y0)
        return None

    def key(self, down: bool, keysym: int, keycode: int | None) -> None:
        self.keys.append((down, keysym))
        self.keycodes.append(keycode)

    def target(self) -> Target:
        return Target(self.index, self.key,
                      lambda b, x, y: self.pointer.append((b, x, y)), self.to_pixel)


def key(kind: int, k: int, mod: int = 0, scancode: int = 0, text: str = "") -> pygame.event.Event:
    return pygame.event.Event(kind, key=k, mod=mod, scancode=scancode, unicode=text)


def text(t: str) -> pygame.event.Event:
    return pygame.event.Event(pygame.TEXTINPUT, text=t)


def router(rec: Recorder) -> InputRouter:
    r = InputRouter(hotkeys=parse_hotkeys({}))
    r.set_target(rec.target())
    return r


CTRL_ALT = pygame.KMOD_LCTRL | pygame.KMOD_LALT


def test_hotkey_chord_never_reaches_session() -> None:
    rec = Recorder()
    r = router(rec)
    events = [
        key(pygame.KEYDOWN, pygame.K_LCTRL, pygame.KMOD_LCTRL, 224),
        key(pygame.KEYDOWN, pygame.K_LALT, CTRL_ALT, 226),
        key(pygame.KEYDOWN, pygame.K_PAGEDOWN, CTRL_ALT, 78),
        key(pygame.KEYUP, pygame.K_PAGEDOWN, CTRL_ALT, 78),
        key(pygame.KEYUP, pygame.K_LALT, pygame.KMOD_LCTRL, 226),
        key(pygame.KEYUP, pygame.K_LCTRL, 0, 224),
    ]
    assert r.handle(events) == ["next"]
    assert rec.keys == []


def test_modifiers_flushed_before_a_real_key() -> None:
    rec = Recorder()
    r = router(rec)
    r.handle([key(pygame.KEYDOWN, pygame.K_LCTRL, pygame.KMOD_LCTRL, 224)])
    assert rec.keys == []
    r.handle([key(pygame.KEYDOWN, pygame.K_c, pygame.KMOD_LCTRL, 6)])
    r.handle([key(pygame.KEYUP, pygame.K_c, pygame.KMOD_LCTRL, 6),
              key(pygame.KEYUP, pygame.K_LCTRL, 0, 224)])
    assert rec.keys == [(True, CTRL_L), (True, 0x63), (False, 0x63), (False, CTRL_L)]
    # XT scan codes ride along for QEMU extended key events: LCtrl 0x1d, C 0x2e.
    assert rec.keycodes == [0x1D, 0x2E, 0x2E, 0x1D]


def test_switch_releases_everything_on_old_session() -> None:
    a, b = Recorder(0), Recorder(1)
    r = router(a)
    r.handle([key(pygame.KEYDOWN, pygame.K_LSHIFT, pygame.KMOD_LSHIFT, 225),
              key(pygame.KEYDOWN, pygame.K_a, pygame.KMOD_LSHIFT, 4), text("A")])
    r.handle([pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(150, 150), button=1)])
    assert a.pointer[-1] == (1, 50, 50)
    r.set_target(b.target())
    assert set(a.keys[-2:]) == {(False, 0x41), (False, SHIFT_L)}
    assert a.pointer[-1] == (0, 50, 50)  # the held button let go where it was
    assert b.keys == [] and b.pointer == []


def test_focus_loss_releases_keys() -> None:
    rec = Recorder()
    r = router(rec)
    r.handle([key(pygame.KEYDOWN, pygame.K_x, 0, 27), text("x")])
    r.handle([pygame.event.Event(pygame.WINDOWFOCUSLOST)])
    assert rec.keys == [(True, 0x78), (False, 0x78)]


def test_pointer_mapping_buttons_drag_and_wheel() -> None:
    rec = Recorder()
    r = router(rec)
    r.handle([
        pygame.event.Event(pygame.MOUSEMOTION, pos=(50, 50)),  # outside: nothing
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(50, 50), button=1),  # outside: nothing
        pygame.event.Event(pygame.MOUSEMOTION, pos=(110, 120)),
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(110, 120), button=3),
        pygame.event.Event(pygame.MOUSEMOTION, pos=(130, 140)),  # drag keeps button 3
        pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(250, 250), button=3),  # off the face
        pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=1),
        pygame.event.Event(pygame.MOUSEWHEEL, x=-1, y=0),
    ])
    assert rec.pointer == [
        (0, 10, 20), (4, 10, 20), (4, 30, 40), (0, 30, 40),
        (8, 30, 40), (0, 30, 40),  # wheel up = button 4
        (32, 30, 40), (0, 30, 40),  # horizontal left = button 6
    ]


def test_no_target_sends_nothing() -> None:
    r = InputRouter(hotkeys=parse_hotkeys({}))
    assert r.handle([key(pygame.KEYDOWN, pygame.K_a, 0, 4), text("a")]) == []


def test_hotkey_parsing() -> None:
    hk = Hotkey.parse("ctrl+alt+pagedown")
    assert hk.matches(pygame.K_PAGEDOWN, CTRL_ALT)
    assert not hk.matches(pygame.K_PAGEDOWN, pygame.KMOD_LCTRL)
    assert not hk.matches(pygame.K_PAGEDOWN, CTRL_ALT | pygame.KMOD_LSHIFT)
    assert parse_hotkeys({"quit": "ctrl+shift+q"})["quit"].matches(
        pygame.K_q, pygame.KMOD_LCTRL | pygame.KMOD_LSHIFT)
    with pytest.raises(HotkeyError):
        Hotkey.parse("hyper+q")
    with pytest.raises(HotkeyError):
        parse_hotkeys({"explode": "ctrl+x"})


def test_default_hotkeys_are_distinct_and_include_layout_and_hud() -> None:
    table = parse_hotkeys({})
    chords = [(hk.mods, hk.key) for hk in table.values()]
    assert len(set(chords)) == len(chords)  # no two actions share a chord
    rec = Recorder()
    r = router(rec)
    events = [key(pygame.KEYDOWN, pygame.K_l, CTRL_ALT, 15),
              key(pygame.KEYUP, pygame.K_l, CTRL_ALT, 15),
              key(pygame.KEYDOWN, pygame.K_h, CTRL_ALT, 11),
              key(pygame.KEYUP, pygame.K_h, CTRL_ALT, 11)]
    assert r.handle(events) == ["layout", "hud"]
    assert rec.keys == []  # neither chord reaches the session
    # Remappable from [keys] like the others.
    assert parse_hotkeys({"layout": "ctrl+alt+f9"})["layout"].matches(pygame.K_F9, CTRL_ALT)
