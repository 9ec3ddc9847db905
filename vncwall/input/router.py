"""Route pygame input to the front session: hotkeys, keysyms, and pointer picking.

Pure logic over pygame events: the wall hands in events plus a `Target` describing the
front session and how to map a window point to its pixels; the router returns the
actions (hotkeys) and calls the target's senders. No GL, no sockets.

No hotkey chord ever reaches a session: modifier presses are held back until a
non-hotkey key or a pointer event needs them, and a held-back modifier released
before that is never sent at all.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from .keysyms import KeyTranslator
from .scancodes import xt_scancode

MODIFIER_KEYSYMS = frozenset(
    {
        0xFFE1, 0xFFE2,  # Shift_L/R
        0xFFE3, 0xFFE4,  # Control_L/R
        0xFFE5, 0xFFE6,  # Caps_Lock, Shift_Lock
        0xFFE7, 0xFFE8,  # Meta_L/R
        0xFFE9, 0xFFEA,  # Alt_L/R
        0xFFEB, 0xFFEC,  # Super_L/R
        0xFE03,  # ISO_Level3_Shift (AltGr)
    }
)

DEFAULT_HOTKEYS: dict[str, str] = {
    "next": "ctrl+alt+pagedown",
    "previous": "ctrl+alt+pageup",
    "first": "ctrl+alt+home",
    "fullscreen": "ctrl+alt+return",
    "zoom": "ctrl+alt+z",
    "grab": "ctrl+alt+g",
    "layout": "ctrl+alt+l",
    "hud": "ctrl+alt+h",
    "quit": "ctrl+alt+q",
}

_MOD_NAMES = {
    "ctrl": pygame.KMOD_CTRL,
    "alt": pygame.KMOD_ALT,
    "shift": pygame.KMOD_SHIFT,
    "super": pygame.KMOD_GUI,
}


class HotkeyError(ValueError):
    """A hotkey text that cannot be parsed."""


@dataclass(frozen=True)
class Hotkey:
    """A chord: required modifier groups plus one key."""

    mods: tuple[int, ...]
    key: int

    @classmethod
    def parse(cls, text: str) -> Hotkey:
        parts = [p.strip().lower() for p in text.split("+") if p.strip()]
        if not parts:
            raise HotkeyError(f"empty hotkey {text!r}")
        *mod_names, key_name = parts
        mods = []
        for name in mod_names:
            if name not in _MOD_NAMES:
                raise HotkeyError(f"unknown modifier {name!r} in {text!r}")
            mods.append(_MOD_NAMES[name])
        if key_name == "enter":
            key_name = "return"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "pygame.init() has not been called": names work
            try:
                key = pygame.key.key_code(key_name)
            except ValueError:
                raise HotkeyError(f"unknown key {key_name!r} in {text!r}") from None
        return cls(tuple(mods), key)

    def matches(self, key: int, mod: int) -> bool:
        if key != self.key:
            return False
        wanted = 0
        for m in self.mods:
            if not mod & m:
                return False
            wanted |= m
        # No extra modifier group beyond the chord's (Shift+Ctrl+Alt+Q is not Ctrl+Alt+Q).
        return all(not (mod & g) or (g & wanted) for g in _MOD_NAMES.values())


def parse_hotkeys(table: dict[str, str]) -> dict[str, Hotkey]:
    merged = DEFAULT_HOTKEYS | table
    unknown = set(table) - set(DEFAULT_HOTKEYS)
    if unknown:
        raise HotkeyError(f"unknown hotkey action {sorted(unknown)[0]!r}")
    return {action: Hotkey.parse(text) for action, text in merged.items()}


@dataclass
class Target:
    """The session input currently goes to."""

    index: int
    send_key: Callable[[bool, int, int | None], None]  # down, keysym, XT keycode or None
    send_pointer: Callable[[int, int, int], None]
    to_pixel: Callable[[float, float], tuple[int, int] | None]


@dataclass
class InputRouter:
    """Turns pygame events into hotkey actions and RFB key/pointer events."""

    hotkeys: dict[str, Hotkey] = field(default_factory=lambda: parse_hotkeys({}))
    translator: KeyTranslator = field(default_factory=KeyTranslator)
    target: Target | None = None
    buttons: int = 0
    last_pixel: tuple[int, int] | None = None
    _pending_mods: list[int] = field(default_factory=list)
    _sent_mods: set[int] = field(default_factory=set)

    # --- session switching ------------------------------------------------------------
    def release_all(self) -> None:
        """Release every key and button still held on the current target."""
        t = self.target
        held = self.translator.release_all()
        if t is not None:
            for keysym in held:
                if keysym in MODIFIER_KEYSYMS and keysym not in self._sent_mods:
                    continue
                t.send_key(False, keysym, self._keycode(keysym))
            if self.buttons and self.last_pixel is not None:
                t.send_pointer(0, *self.last_pixel)
        self.buttons = 0
        self._pending_mods.clear()
        self._sent_mods.clear()

    def set_target(self, target: Target | None) -> None:
        """Switch sessions; the old one gets every held key and button released first."""
        if self.target is not None and target is not None and target.index == self.target.index:
            self.target = target
            return
        self.release_all()
        self.target = target
        self.last_pixel = None

    # --- events -------------------------------------------------------------------------
    def handle(self, events: list[pygame.event.Event]) -> list[str]:
        """Process one batch from pygame.event.get(); returns hotkey actions, in order."""
        actions: list[str] = []
        key_events: list[pygame.event.Event] = []
        for event in events:
            if event.type == pygame.KEYDOWN:
                action = self._hotkey(event)
                if action is not None:
                    actions.append(action)
                    continue
                key_events.append(event)
            elif event.type in (pygame.KEYUP, pygame.TEXTINPUT):
                key_events.append(event)
            elif event.type in (pygame.MOUSEMOTION, pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP,
                                pygame.MOUSEWHEEL):
                self._send_keys(self.translator.feed_all(key_events))
                key_events = []
                self._pointer(event)
            elif event.type == pygame.WINDOWFOCUSLOST:
                self._send_keys(self.translator.feed_all(key_events))
                key_events = []
                self.release_all()
        self._send_keys(self.translator.feed_all(key_events))
        return actions

    def _hotkey(self, event: pygame.event.Event) -> str | None:
        for action, hk in self.hotkeys.items():
            if hk.matches(event.key, event.mod):
                return action
        return None

    def _send_keys(self, actions: list[tuple[bool, int]]) -> None:
        t = self.target
        for down, keysym in actions:
            if keysym in MODIFIER_KEYSYMS:
                if down:
                    if keysym not in self._pending_mods and keysym not in self._sent_mods:
                        self._pending_mods.append(keysym)
                    elif keysym in self._sent_mods and t is not None:
                        # auto-repeat of a modifier already sent
                        t.send_key(True, keysym, self._keycode(keysym))
                    continue
                if keysym in self._pending_mods:  # pressed and released alone: never sent
                    self._pending_mods.remove(keysym)
                    continue
                self._sent_mods.discard(keysym)
                if t is not None:
                    t.send_key(False, keysym, self._keycode(keysym))
                continue
            self._flush_mods()
            if t is not None:
                t.send_key(down, keysym, self._keycode(keysym))

    def _keycode(self, keysym: int) -> int | None:
        """The XT scan code of the physical key behind a keysym, for QEMU key events."""
        scancode = self.translator.scancodes.get(keysym)
        return None if scancode is None else xt_scancode(scancode)

    def _flush_mods(self) -> None:
        t = self.target
        for keysym in self._pending_mods:
            if t is not None:
                t.send_key(True, keysym, self._keycode(keysym))
            self._sent_mods.add(keysym)
        self._pending_mods.clear()

    def _pointer(self, event: pygame.event.Event) -> None:
        t = self.target
        if t is None:
            return
        if event.type == pygame.MOUSEWHEEL:
            pixel = self.last_pixel
            if pixel is None:
                return
            self._flush_mods()
            clicks: list[int] = []
            if event.y:
                clicks += [3 if event.y > 0 else 4] * min(abs(int(event.y)), 10)
            if event.x:
                clicks += [6 if event.x > 0 else 5] * min(abs(int(event.x)), 10)
            for bit in clicks:  # wheel: press and release buttons 4/5 (6/7 horizontal)
                t.send_pointer(self.buttons | (1 << bit), *pixel)
                t.send_pointer(self.buttons, *pixel)
            return
        mapped = t.to_pixel(float(event.pos[0]) + 0.5, float(event.pos[1]) + 0.5)
        if event.type == pygame.MOUSEBUTTONDOWN and event.button in (1, 2, 3):
            if mapped is None:
                return  # a click outside the face starts nothing
            self.buttons |= 1 << (event.button - 1)
        elif event.type == pygame.MOUSEBUTTONUP and event.button in (1, 2, 3):
            if not self.buttons & (1 << (event.button - 1)):
                return
            self.buttons &= ~(1 << (event.button - 1))
            if mapped is None:
                mapped = self.last_pixel  # release where the drag left the face
        elif event.type != pygame.MOUSEMOTION:
            return
        if mapped is None:
            return  # outside the face: nothing is sent
        self._flush_mods()
        self.last_pixel = mapped
        t.send_pointer(self.buttons, *mapped)
