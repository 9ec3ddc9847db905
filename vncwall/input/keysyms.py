"""pygame key events to X11 keysyms for RFB KeyEvent messages, with a stateful translator.

Keysym values are those of X11's ``<X11/keysymdef.h>``; rfbproto.rst ("KeyEvent") says
how servers interpret them: upper and lower case keysyms differ, the Shift state is only
a hint, and the server fakes whatever Shift/AltGr presses its own layout needs.

Strategy (:class:`KeyTranslator`)
---------------------------------
pygame 2 (SDL2) reports a key press twice: a KEYDOWN with the *key code* (the layout's
unshifted character, or a non-character code such as ``K_F1``), then - for keys that
type something - a TEXTINPUT with the composed text.  Only the TEXTINPUT knows what a
non-US layout, Shift, AltGr, Caps Lock, a dead key or an input method really produced,
so the keysym of a character comes from the text, and everything else from the key:

1. *Non-character keys* - function and navigation keys, keypad keys, modifiers (see
   :func:`keysym_for_key`) - are sent on KEYDOWN and released on KEYUP.  Keypad keys also
   produce a TEXTINPUT ("1", "+"...); the one that follows right away is swallowed, so
   only ``KP_1`` goes out.
2. *Character keys* (key codes below ``1 << 30``, and unknown keys such as some dead keys)
   send nothing on KEYDOWN; the key becomes *pending*.  If the next event is a TEXTINPUT
   with one character, that character's keysym (:func:`keysym_for_char`) is pressed and
   bound to the physical key (its scancode), so the key's KEYUP releases it and auto-
   repeat sends repeated presses only, as rfbproto asks.  Shift+a therefore sends
   Shift_L, then ``A`` (0x41) - the keysym of the character that was typed, with Shift
   still down - which is what X servers expect: TigerVNC's Xvnc, for one, fakes a Shift
   *release* if it gets ``a`` while Shift is down.  AltGr+e on a German layout sends
   ISO_Level3_Shift, then U+20AC as the Unicode keysym 0x10020ac.
3. If the pending key gets *no* text before the next key event (or :meth:`flush`), then:
   with Ctrl, Alt or the GUI key held it was a shortcut (Ctrl+C gives no text) and its
   key-code keysym is pressed then (:func:`keysym_for_key`: ``c``, or ``C`` with Shift);
   without them it was a dead key or an input method step, and nothing is sent - the
   composed character arrives with the next key's TEXTINPUT (dead ``^`` then ``e`` sends
   a single ``ecircumflex`` 0xea).
4. A TEXTINPUT that does not follow a pending key (an input-method commit), or that holds
   several characters (a failed dead-key composition like "^q"), is sent as a press and
   release per character.  Characters outside Latin-1 go out as Unicode keysyms
   (0x01000000 + code point).
5. If both a Control and an Alt keysym are held when text arrives, they were the AltGr
   chord (Windows reports AltGr as LCtrl+RAlt).  As rfbproto advises for "ctrl-alt-q is
   '@' on a German keyboard", they are released around the character's press and pressed
   again right after it, so the server does not see Ctrl+Alt+@.

The translator is deterministic: it only looks at the events it is fed, in order.  SDL
queues a key's TEXTINPUT right behind its KEYDOWN, in the same pump, so the wall feeds
each batch from ``pygame.event.get()`` and then calls :meth:`KeyTranslator.flush` (or
uses :meth:`KeyTranslator.feed_all`).  It tracks which keysyms it has pressed, so the wall
can release them all when the session loses focus or another face comes to the front
(:meth:`KeyTranslator.release_all`).

Without text input (``KeyTranslator(use_text_input=False)``, for a window where SDL text
input is stopped) character keys are sent from KEYDOWN through :func:`keysym_for_key`:
the event's ``unicode`` when it is a printable character, else the key code's character,
upper-cased for letters when Shift xor Caps Lock is on.  That is right for a US layout
and approximate elsewhere.  Known limit of the text strategy: a dead key pressed with
Ctrl or Alt held (including Windows' LCtrl+RAlt AltGr) is taken for a shortcut and sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# Set before pygame is first imported, or it prints a banner.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

KeyAction = tuple[bool, int]
"""One RFB KeyEvent to send: (down-flag, keysym)."""

# ---------------------------------------------------------------------------------------
# keysymdef.h values
# ---------------------------------------------------------------------------------------

XK_BackSpace: Final = 0xFF08
XK_Tab: Final = 0xFF09
XK_Linefeed: Final = 0xFF0A
XK_Clear: Final = 0xFF0B
XK_Return: Final = 0xFF0D
XK_Pause: Final = 0xFF13
XK_Scroll_Lock: Final = 0xFF14
XK_Sys_Req: Final = 0xFF15
XK_Escape: Final = 0xFF1B
XK_Delete: Final = 0xFFFF

XK_Multi_key: Final = 0xFF20
XK_Kanji: Final = 0xFF21
XK_Muhenkan: Final = 0xFF22
XK_Henkan: Final = 0xFF23
XK_Hiragana: Final = 0xFF25
XK_Katakana: Final = 0xFF26
XK_Hiragana_Katakana: Final = 0xFF27
XK_Zenkaku_Hankaku: Final = 0xFF2A
XK_Hangul: Final = 0xFF31
XK_Hangul_Hanja: Final = 0xFF34

XK_Home: Final = 0xFF50
XK_Left: Final = 0xFF51
XK_Up: Final = 0xFF52
XK_Right: Final = 0xFF53
XK_Down: Final = 0xFF54
XK_Page_Up: Final = 0xFF55
XK_Page_Down: Final = 0xFF56
XK_End: Final = 0xFF57
XK_Begin: Final = 0xFF58

XK_Select: Final = 0xFF60
XK_Print: Final = 0xFF61
XK_Execute: Final = 0xFF62
XK_Insert: Final = 0xFF63
XK_Undo: Final = 0xFF65
XK_Redo: Final = 0xFF66
XK_Menu: Final = 0xFF67
XK_Find: Final = 0xFF68
XK_Cancel: Final = 0xFF69
XK_Help: Final = 0xFF6A
XK_Break: Final = 0xFF6B
XK_Mode_switch: Final = 0xFF7E
XK_Num_Lock: Final = 0xFF7F

XK_KP_Enter: Final = 0xFF8D
XK_KP_Home: Final = 0xFF95
XK_KP_Left: Final = 0xFF96
XK_KP_Up: Final = 0xFF97
XK_KP_Right: Final = 0xFF98
XK_KP_Down: Final = 0xFF99
XK_KP_Page_Up: Final = 0xFF9A
XK_KP_Page_Down: Final = 0xFF9B
XK_KP_End: Final = 0xFF9C
XK_KP_Begin: Final = 0xFF9D
XK_KP_Insert: Final = 0xFF9E
XK_KP_Delete: Final = 0xFF9F
XK_KP_Multiply: Final = 0xFFAA
XK_KP_Add: Final = 0xFFAB
XK_KP_Separator: Final = 0xFFAC
XK_KP_Subtract: Final = 0xFFAD
XK_KP_Decimal: Final = 0xFFAE
XK_KP_Divide: Final = 0xFFAF
XK_KP_0: Final = 0xFFB0  # XK_KP_0 .. XK_KP_9 are consecutive
XK_KP_Equal: Final = 0xFFBD

XK_F1: Final = 0xFFBE  # XK_F1 .. XK_F35 are consecutive

XK_Shift_L: Final = 0xFFE1
XK_Shift_R: Final = 0xFFE2
XK_Control_L: Final = 0xFFE3
XK_Control_R: Final = 0xFFE4
XK_Caps_Lock: Final = 0xFFE5
XK_Meta_L: Final = 0xFFE7
XK_Meta_R: Final = 0xFFE8
XK_Alt_L: Final = 0xFFE9
XK_Alt_R: Final = 0xFFEA
XK_Super_L: Final = 0xFFEB
XK_Super_R: Final = 0xFFEC

XK_ISO_Level3_Shift: Final = 0xFE03

UNICODE_KEYSYM_BASE: Final = 0x01000000
"""Keysym of a Unicode code point U outside Latin-1: ``0x01000000 + U`` (keysymdef.h)."""


def xk_f(n: int) -> int:
    """The keysym of function key F<n>, 1 <= n <= 35 (F1 = 0xffbe)."""
    if not 1 <= n <= 35:
        raise ValueError(f"no keysym for F{n}")
    return XK_F1 + n - 1


# ---------------------------------------------------------------------------------------
# SDL key codes: a printable key's code is its (unshifted) Unicode character; other keys
# have SDLK_SCANCODE_MASK (1 << 30) set on their scancode.  pygame names most of them;
# the rest (F16-F24, Application, Undo...) are built from the scancode here.
# ---------------------------------------------------------------------------------------

SDLK_SCANCODE_MASK: Final = 1 << 30


def _sdlk(scancode: int) -> int:
    return SDLK_SCANCODE_MASK | scancode


def sdl_key_f(n: int) -> int:
    """SDL's key code for F<n>, 1 <= n <= 24 (pygame itself only names K_F1..K_F15)."""
    if 1 <= n <= 12:
        return _sdlk(0x3A + n - 1)
    if 13 <= n <= 24:
        return _sdlk(0x68 + n - 13)
    raise ValueError(f"SDL has no key code for F{n}")


_FUNCTION_KEYS: dict[int, int] = {
    pygame.K_BACKSPACE: XK_BackSpace,
    pygame.K_TAB: XK_Tab,
    pygame.K_RETURN: XK_Return,
    _sdlk(0x9E): XK_Return,  # SDLK_RETURN2
    pygame.K_ESCAPE: XK_Escape,
    pygame.K_DELETE: XK_Delete,
    pygame.K_INSERT: XK_Insert,
    pygame.K_HOME: XK_Home,
    pygame.K_END: XK_End,
    pygame.K_PAGEUP: XK_Page_Up,
    pygame.K_PAGEDOWN: XK_Page_Down,
    pygame.K_LEFT: XK_Left,
    pygame.K_UP: XK_Up,
    pygame.K_RIGHT: XK_Right,
    pygame.K_DOWN: XK_Down,
    pygame.K_PAUSE: XK_Pause,
    pygame.K_PRINTSCREEN: XK_Print,
    pygame.K_SYSREQ: XK_Sys_Req,
    pygame.K_SCROLLLOCK: XK_Scroll_Lock,
    pygame.K_NUMLOCKCLEAR: XK_Num_Lock,
    pygame.K_CAPSLOCK: XK_Caps_Lock,
    pygame.K_CLEAR: XK_Clear,
    _sdlk(0x65): XK_Menu,  # SDLK_APPLICATION: the PC "context menu" key
    pygame.K_MENU: XK_Menu,
    pygame.K_HELP: XK_Help,
    _sdlk(0x74): XK_Execute,  # SDLK_EXECUTE
    _sdlk(0x77): XK_Select,  # SDLK_SELECT
    _sdlk(0x79): XK_Redo,  # SDLK_AGAIN
    _sdlk(0x7A): XK_Undo,  # SDLK_UNDO
    _sdlk(0x7E): XK_Find,  # SDLK_FIND
    _sdlk(0x9B): XK_Cancel,  # SDLK_CANCEL
    # Japanese / Korean input keys (SDL names them by scancode only)
    _sdlk(0x88): XK_Hiragana_Katakana,  # International2
    _sdlk(0x8A): XK_Henkan,  # International4
    _sdlk(0x8B): XK_Muhenkan,  # International5
    _sdlk(0x90): XK_Hangul,  # LANG1
    _sdlk(0x91): XK_Hangul_Hanja,  # LANG2
    _sdlk(0x92): XK_Katakana,  # LANG3
    _sdlk(0x93): XK_Hiragana,  # LANG4
    _sdlk(0x94): XK_Zenkaku_Hankaku,  # LANG5
}
_FUNCTION_KEYS.update({sdl_key_f(n): xk_f(n) for n in range(1, 25)})

_MODIFIER_KEYS: dict[int, int] = {
    pygame.K_LSHIFT: XK_Shift_L,
    pygame.K_RSHIFT: XK_Shift_R,
    pygame.K_LCTRL: XK_Control_L,
    pygame.K_RCTRL: XK_Control_R,
    pygame.K_LALT: XK_Alt_L,
    pygame.K_RALT: XK_Alt_R,  # ISO_Level3_Shift when the layout makes it AltGr
    # SDL2 has a single "GUI" key (pygame's K_LMETA/K_LSUPER are aliases of K_LGUI); X
    # servers map the Windows/Command key to Super, as TigerVNC's viewer sends it.
    pygame.K_LGUI: XK_Super_L,
    pygame.K_RGUI: XK_Super_R,
    pygame.K_MODE: XK_ISO_Level3_Shift,  # AltGr (X11 ISO_Level3_Shift / Mode_switch)
}

# Keypad: (keysym with Num Lock on, keysym with Num Lock off)
_KEYPAD_KEYS: dict[int, tuple[int, int]] = {
    pygame.K_KP_0: (XK_KP_0 + 0, XK_KP_Insert),
    pygame.K_KP_1: (XK_KP_0 + 1, XK_KP_End),
    pygame.K_KP_2: (XK_KP_0 + 2, XK_KP_Down),
    pygame.K_KP_3: (XK_KP_0 + 3, XK_KP_Page_Down),
    pygame.K_KP_4: (XK_KP_0 + 4, XK_KP_Left),
    pygame.K_KP_5: (XK_KP_0 + 5, XK_KP_Begin),
    pygame.K_KP_6: (XK_KP_0 + 6, XK_KP_Right),
    pygame.K_KP_7: (XK_KP_0 + 7, XK_KP_Home),
    pygame.K_KP_8: (XK_KP_0 + 8, XK_KP_Up),
    pygame.K_KP_9: (XK_KP_0 + 9, XK_KP_Page_Up),
    pygame.K_KP_PERIOD: (XK_KP_Decimal, XK_KP_Delete),
    pygame.K_KP_DIVIDE: (XK_KP_Divide, XK_KP_Divide),
    pygame.K_KP_MULTIPLY: (XK_KP_Multiply, XK_KP_Multiply),
    pygame.K_KP_MINUS: (XK_KP_Subtract, XK_KP_Subtract),
    pygame.K_KP_PLUS: (XK_KP_Add, XK_KP_Add),
    pygame.K_KP_ENTER: (XK_KP_Enter, XK_KP_Enter),
    pygame.K_KP_EQUALS: (XK_KP_Equal, XK_KP_Equal),
    _sdlk(0x86): (XK_KP_Equal, XK_KP_Equal),  # SDLK_KP_EQUALSAS400
    _sdlk(0x85): (XK_KP_Separator, XK_KP_Separator),  # SDLK_KP_COMMA
}

FUNCTION_KEYSYMS: Mapping[int, int] = MappingProxyType(_FUNCTION_KEYS)
"""pygame key code -> keysym for function, navigation and lock keys."""
MODIFIER_KEYSYMS: Mapping[int, int] = MappingProxyType(_MODIFIER_KEYS)
"""pygame key code -> keysym for modifier keys (K_RALT may become ISO_Level3_Shift)."""
KEYPAD_KEYSYMS: Mapping[int, tuple[int, int]] = MappingProxyType(_KEYPAD_KEYS)
"""pygame key code -> (keysym with Num Lock on, keysym with Num Lock off)."""

_CONTROL_CHARS: dict[str, int] = {
    "\b": XK_BackSpace,
    "\t": XK_Tab,
    "\n": XK_Return,
    "\r": XK_Return,
    "\x1b": XK_Escape,
    "\x7f": XK_Delete,
}

# TEXTINPUT that a keypad key produces (swallowed after the key's KP_* keysym went out).
_KEYPAD_TEXT: Final = frozenset("0123456789.,+-*/=")

_COMMAND_MODS: Final = pygame.KMOD_CTRL | pygame.KMOD_ALT | pygame.KMOD_GUI


def keysym_for_char(ch: str) -> int:
    """The keysym that types the single character ``ch``.

    Latin-1 graphic characters (U+0020..U+007E, U+00A0..U+00FF) are their own keysym;
    any other character is the Unicode keysym ``0x01000000 + code point`` (é -> 0xe9,
    € -> 0x10020ac, 日 -> 0x10065e5).  Control characters with a function keysym map to it
    (``\\n``/``\\r`` -> Return, ``\\t`` -> Tab, ``\\b`` -> BackSpace, ESC -> Escape, DEL ->
    Delete); other control characters, lone surrogates and strings that are not exactly
    one character raise ValueError.
    """
    if len(ch) != 1:
        raise ValueError(f"expected one character, got {ch!r}")
    special = _CONTROL_CHARS.get(ch)
    if special is not None:
        return special
    cp = ord(ch)
    if cp < 0x20 or 0x7F <= cp < 0xA0:
        raise ValueError(f"control character {ch!r} has no keysym")
    if 0xD800 <= cp <= 0xDFFF:
        raise ValueError(f"lone surrogate {ch!r} has no keysym")
    if cp <= 0xFF:
        return cp
    return UNICODE_KEYSYM_BASE + cp


def _is_text_char(ch: str) -> bool:
    return len(ch) == 1 and ch not in _CONTROL_CHARS and ch.isprintable()


def _non_text_keysym(key: int, mod: int) -> int | None:
    """The keysym of a non-character key (function, keypad, modifier), else None."""
    keysym = _FUNCTION_KEYS.get(key)
    if keysym is not None:
        return keysym
    keypad = _KEYPAD_KEYS.get(key)
    if keypad is not None:
        return keypad[0] if mod & pygame.KMOD_NUM else keypad[1]
    if key == pygame.K_RALT and mod & pygame.KMOD_MODE:
        return XK_ISO_Level3_Shift
    return _MODIFIER_KEYS.get(key)


def keysym_for_key(key: int, mod: int, unicode: str) -> int | None:
    """The keysym for a pygame KEYDOWN/KEYUP (``event.key``, ``event.mod``, ``event.unicode``).

    * Function, navigation and lock keys, modifiers and the keypad map through fixed
      tables; keypad digits and the decimal key follow Num Lock (``KMOD_NUM``): ``KP_7``
      with it on, ``KP_Home`` with it off.  Right Alt is ``ISO_Level3_Shift`` when the
      layout reports it as AltGr (``KMOD_MODE`` set), ``K_MODE`` always is.
    * Character keys: ``unicode`` when it is one printable character (pygame fills it
      from the composed text), else the key code's own character - for letters
      upper-cased when exactly one of Shift and Caps Lock is on - through
      :func:`keysym_for_char`.  :class:`KeyTranslator` prefers the TEXTINPUT text.
    * None for keys with no keysym (``K_UNKNOWN``, media keys...).
    """
    keysym = _non_text_keysym(key, mod)
    if keysym is not None:
        return keysym
    if _is_text_char(unicode):
        return keysym_for_char(unicode)
    if not 0x20 <= key < SDLK_SCANCODE_MASK or 0xD800 <= key <= 0xDFFF or key > 0x10FFFF:
        return None
    ch = chr(key)
    if not _is_text_char(ch):
        return None
    if bool(mod & pygame.KMOD_SHIFT) != bool(mod & pygame.KMOD_CAPS):
        upper = ch.upper()
        if len(upper) == 1:
            ch = upper
    return keysym_for_char(ch)


def is_character_key(key: int) -> bool:
    """Whether a key code types text, i.e. is not a function/keypad/modifier key."""
    return key not in _FUNCTION_KEYS and key not in _KEYPAD_KEYS and key not in _MODIFIER_KEYS


@dataclass(frozen=True, slots=True)
class _Pending:
    """A character key's KEYDOWN waiting for its TEXTINPUT."""

    key_id: int
    key: int
    mod: int
    unicode: str


def _key_id(event: pygame.event.Event) -> int:
    """Identity of the physical key: the scancode, else (scancode 0) the key code."""
    scancode = int(getattr(event, "scancode", 0) or 0)
    if scancode > 0:
        return scancode
    return -1 - int(getattr(event, "key", 0) or 0)


class KeyTranslator:
    """Turns a stream of pygame key events into RFB key presses and releases.

    Feed KEYDOWN, KEYUP and TEXTINPUT events in order (:meth:`feed`, other event types
    are ignored), call :meth:`flush` after each batch, and send every returned
    ``(down, keysym)`` as a KeyEvent.  See the module docstring for the strategy.
    """

    def __init__(self, use_text_input: bool = True) -> None:
        self._use_text_input = use_text_input
        # physical key -> keysym pressed for it; insertion order = press order
        self._bound: dict[int, int] = {}
        self._pending: _Pending | None = None
        self._swallow_keypad_text = False
        # keysym -> SDL scancode of the physical key that last pressed it (QEMU key events)
        self.scancodes: dict[int, int] = {}

    @property
    def held(self) -> tuple[int, ...]:
        """The keysyms currently pressed on the server, in press order, without repeats."""
        return tuple(dict.fromkeys(self._bound.values()))

    # -- public API --------------------------------------------------------------------

    def feed(self, event: pygame.event.Event) -> list[KeyAction]:
        """The key events to send for one pygame event."""
        if event.type == pygame.KEYDOWN:
            return self._key_down(event)
        if event.type == pygame.KEYUP:
            return self._key_up(event)
        if event.type == pygame.TEXTINPUT:
            return self._text(str(event.text))
        return []

    def flush(self) -> list[KeyAction]:
        """Resolve a character key that got no TEXTINPUT; call after each event batch."""
        self._swallow_keypad_text = False
        pending, self._pending = self._pending, None
        if pending is None or not pending.mod & _COMMAND_MODS:
            return []  # no key waiting, or a dead key / input method step: nothing to send
        keysym = keysym_for_key(pending.key, pending.mod, pending.unicode)
        if keysym is None:
            return []
        return self._press(pending.key_id, keysym)

    def feed_all(self, events: Iterable[pygame.event.Event]) -> list[KeyAction]:
        """Feed a batch of events, then :meth:`flush`."""
        actions: list[KeyAction] = []
        for event in events:
            actions += self.feed(event)
        actions += self.flush()
        return actions

    def release_all(self) -> list[int]:
        """Forget every held key; returns the keysyms to release, latest press first."""
        keysyms = list(reversed(self.held))
        self._bound.clear()
        self._pending = None
        self._swallow_keypad_text = False
        return keysyms

    # -- event handlers ----------------------------------------------------------------

    def _key_down(self, event: pygame.event.Event) -> list[KeyAction]:
        actions = self.flush()
        key = int(event.key)
        mod = int(getattr(event, "mod", 0) or 0)
        unicode = str(getattr(event, "unicode", "") or "")
        key_id = _key_id(event)
        keysym = _non_text_keysym(key, mod)
        if keysym is not None:
            actions += self._press(key_id, keysym)
            self._swallow_keypad_text = key in _KEYPAD_KEYS
        elif not self._use_text_input:
            keysym = keysym_for_key(key, mod, unicode)
            if keysym is not None:
                actions += self._press(key_id, keysym)
        else:
            self._pending = _Pending(key_id, key, mod, unicode)
        return actions

    def _key_up(self, event: pygame.event.Event) -> list[KeyAction]:
        return self.flush() + self._release(_key_id(event))

    def _text(self, text: str) -> list[KeyAction]:
        pending, self._pending = self._pending, None
        swallow, self._swallow_keypad_text = self._swallow_keypad_text, False
        if swallow and text in _KEYPAD_TEXT:
            return []
        keysyms: list[int] = []
        for ch in text:
            try:
                keysyms.append(keysym_for_char(ch))
            except ValueError:
                continue
        if not keysyms:
            return []
        chord = self._altgr_chord()
        actions: list[KeyAction] = [(False, k) for k in reversed(chord)]
        if pending is not None and len(keysyms) == 1:
            actions += self._press(pending.key_id, keysyms[0])
        else:
            for keysym in keysyms:
                actions += [(True, keysym), (False, keysym)]
        actions += [(True, k) for k in chord]
        return actions

    # -- bookkeeping -------------------------------------------------------------------

    def _altgr_chord(self) -> list[int]:
        """Held Control and Alt keysyms if both kinds are held (Windows' AltGr), else []."""
        held = self.held
        ctrl = [k for k in held if k in (XK_Control_L, XK_Control_R)]
        alt = [k for k in held if k in (XK_Alt_L, XK_Alt_R)]
        if ctrl and alt:
            return [k for k in held if k in ctrl or k in alt]
        return []

    def _press(self, key_id: int, keysym: int) -> list[KeyAction]:
        actions: list[KeyAction] = []
        old = self._bound.get(key_id)
        if old is not None and old != keysym:
            actions += self._release(key_id)
        self._bound.pop(key_id, None)
        self._bound[key_id] = keysym
        if key_id > 0:
            self.scancodes[keysym] = key_id
        actions.append((True, keysym))
        return actions

    def _release(self, key_id: int) -> list[KeyAction]:
        keysym = self._bound.pop(key_id, None)
        if keysym is None or keysym in self._bound.values():
            return []  # never sent, or another physical key still holds the same keysym
        return [(False, keysym)]
