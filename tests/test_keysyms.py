"""Keysym tables, the KeyTranslator's event strategy and the QEMU XT scan code table."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from vncwall.input import keysyms as ks
from vncwall.input.keysyms import KeyTranslator, keysym_for_char, keysym_for_key
from vncwall.input.scancodes import _SDL_TO_SET1, SDL_TO_XT, rfb_keycode, xt_scancode

NUM = pygame.KMOD_NUM

# SDL scancodes (USB HID usages) used by the synthetic events
SC_A, SC_C, SC_E, SC_Q, SC_X = 0x04, 0x06, 0x08, 0x14, 0x1B
SC_GRAVE = 0x35  # the German dead ^ key sits here
SC_KP1 = 0x59
SC_LCTRL, SC_LSHIFT, SC_LALT, SC_RALT = 0xE0, 0xE1, 0xE2, 0xE6


def down(key: int, scancode: int, mod: int = 0, unicode: str = "") -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, unicode=unicode, scancode=scancode)


def up(key: int, scancode: int, mod: int = 0) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYUP, key=key, mod=mod, unicode="", scancode=scancode)


def text(s: str) -> pygame.event.Event:
    return pygame.event.Event(pygame.TEXTINPUT, text=s)


def run(tr: KeyTranslator, *events: pygame.event.Event) -> list[tuple[bool, int]]:
    return tr.feed_all(events)


# -- keysym tables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "mod", "expected"),
    [
        (pygame.K_BACKSPACE, 0, 0xFF08),
        (pygame.K_TAB, 0, 0xFF09),
        (pygame.K_RETURN, 0, 0xFF0D),
        (pygame.K_ESCAPE, 0, 0xFF1B),
        (pygame.K_DELETE, 0, 0xFFFF),
        (pygame.K_HOME, 0, 0xFF50),
        (pygame.K_LEFT, 0, 0xFF51),
        (pygame.K_UP, 0, 0xFF52),
        (pygame.K_RIGHT, 0, 0xFF53),
        (pygame.K_DOWN, 0, 0xFF54),
        (pygame.K_PAGEUP, 0, 0xFF55),
        (pygame.K_PAGEDOWN, 0, 0xFF56),
        (pygame.K_END, 0, 0xFF57),
        (pygame.K_INSERT, 0, 0xFF63),
        (pygame.K_PAUSE, 0, 0xFF13),
        (pygame.K_PRINTSCREEN, 0, 0xFF61),
        (pygame.K_SCROLLLOCK, 0, 0xFF14),
        (pygame.K_NUMLOCKCLEAR, 0, 0xFF7F),
        (pygame.K_CAPSLOCK, 0, 0xFFE5),
        (pygame.K_MENU, 0, 0xFF67),
        (0x40000065, 0, 0xFF67),  # SDLK_APPLICATION
        (pygame.K_LSHIFT, pygame.KMOD_LSHIFT, 0xFFE1),
        (pygame.K_RSHIFT, 0, 0xFFE2),
        (pygame.K_LCTRL, 0, 0xFFE3),
        (pygame.K_RCTRL, 0, 0xFFE4),
        (pygame.K_LALT, 0, 0xFFE9),
        (pygame.K_RALT, pygame.KMOD_RALT, 0xFFEA),
        (pygame.K_RALT, pygame.KMOD_RALT | pygame.KMOD_MODE, 0xFE03),
        (pygame.K_MODE, pygame.KMOD_MODE, 0xFE03),
        (pygame.K_LGUI, 0, 0xFFEB),
        (pygame.K_RGUI, 0, 0xFFEC),
        (pygame.K_KP_0, NUM, 0xFFB0),
        (pygame.K_KP_5, NUM, 0xFFB5),
        (pygame.K_KP_9, NUM, 0xFFB9),
        (pygame.K_KP_PERIOD, NUM, 0xFFAE),
        (pygame.K_KP_DIVIDE, NUM, 0xFFAF),
        (pygame.K_KP_MULTIPLY, NUM, 0xFFAA),
        (pygame.K_KP_MINUS, NUM, 0xFFAD),
        (pygame.K_KP_PLUS, NUM, 0xFFAB),
        (pygame.K_KP_ENTER, NUM, 0xFF8D),
        (pygame.K_KP_EQUALS, NUM, 0xFFBD),
        # Num Lock off: the keypad's navigation keysyms
        (pygame.K_KP_7, 0, 0xFF95),  # KP_Home
        (pygame.K_KP_8, 0, 0xFF97),  # KP_Up
        (pygame.K_KP_9, 0, 0xFF9A),  # KP_Page_Up
        (pygame.K_KP_4, 0, 0xFF96),  # KP_Left
        (pygame.K_KP_5, 0, 0xFF9D),  # KP_Begin
        (pygame.K_KP_6, 0, 0xFF98),  # KP_Right
        (pygame.K_KP_1, 0, 0xFF9C),  # KP_End
        (pygame.K_KP_2, 0, 0xFF99),  # KP_Down
        (pygame.K_KP_3, 0, 0xFF9B),  # KP_Page_Down
        (pygame.K_KP_0, 0, 0xFF9E),  # KP_Insert
        (pygame.K_KP_PERIOD, 0, 0xFF9F),  # KP_Delete
        (pygame.K_KP_ENTER, 0, 0xFF8D),
        (pygame.K_KP_DIVIDE, 0, 0xFFAF),
    ],
)
def test_non_character_keys(key: int, mod: int, expected: int) -> None:
    assert keysym_for_key(key, mod, "") == expected


def test_keysymdef_constants() -> None:
    assert ks.XK_Page_Up == 0xFF55
    assert ks.XK_ISO_Level3_Shift == 0xFE03
    assert ks.XK_KP_Enter == 0xFF8D
    assert ks.XK_Meta_L == 0xFFE7
    assert ks.XK_Super_R == 0xFFEC
    assert ks.xk_f(1) == 0xFFBE
    assert ks.xk_f(12) == 0xFFC9
    assert ks.xk_f(24) == 0xFFD5
    with pytest.raises(ValueError):
        ks.xk_f(36)


@pytest.mark.parametrize("n", range(1, 25))
def test_function_keys(n: int) -> None:
    key = getattr(pygame, f"K_F{n}", None)
    if key is None:  # pygame names only K_F1..K_F15; SDL has F16..F24 too
        key = ks.sdl_key_f(n)
    assert key == ks.sdl_key_f(n)
    assert keysym_for_key(key, 0, "") == 0xFFBE + n - 1


@pytest.mark.parametrize(
    ("key", "mod", "unicode", "expected"),
    [
        (pygame.K_a, 0, "", 0x61),
        (pygame.K_a, 0, "a", 0x61),
        (pygame.K_z, pygame.KMOD_LSHIFT, "", 0x5A),  # shifted letter: 'Z'
        (pygame.K_z, pygame.KMOD_CAPS, "", 0x5A),
        (pygame.K_z, pygame.KMOD_CAPS | pygame.KMOD_RSHIFT, "", 0x7A),
        (pygame.K_a, pygame.KMOD_LCTRL, "\x01", 0x61),  # control char in unicode is ignored
        (pygame.K_a, pygame.KMOD_LSHIFT, "A", 0x41),
        (pygame.K_1, 0, "", 0x31),
        (pygame.K_1, pygame.KMOD_LSHIFT, "!", 0x21),
        (pygame.K_SPACE, 0, " ", 0x20),
        (pygame.K_MINUS, 0, "", 0x2D),
        (pygame.K_SLASH, 0, "", 0x2F),
        (pygame.K_BACKQUOTE, 0, "", 0x60),
        (0xE9, 0, "", 0xE9),  # French layout: the é key's code is 'é'
        (0x439, 0, "", 0x1000439),  # Russian layout: й
        (pygame.K_UNKNOWN, 0, "", None),
        (0x40000080, 0, "", None),  # SDLK_VOLUMEUP: no keysym here
    ],
)
def test_character_keys(key: int, mod: int, unicode: str, expected: int | None) -> None:
    assert keysym_for_key(key, mod, unicode) == expected


@pytest.mark.parametrize(
    ("ch", "expected"),
    [
        ("a", 0x61),
        ("A", 0x41),
        (" ", 0x20),
        ("~", 0x7E),
        ("\xa0", 0xA0),
        ("é", 0xE9),
        ("ÿ", 0xFF),
        ("€", 0x10020AC),
        ("日", 0x10065E5),
        ("Ω", 0x10003A9),
        ("😀", 0x101F600),
        ("\n", 0xFF0D),
        ("\r", 0xFF0D),
        ("\t", 0xFF09),
        ("\b", 0xFF08),
        ("\x1b", 0xFF1B),
        ("\x7f", 0xFFFF),
    ],
)
def test_keysym_for_char(ch: str, expected: int) -> None:
    assert keysym_for_char(ch) == expected


@pytest.mark.parametrize("bad", ["", "ab", "\x00", "\x01", "\x85", "\x9f", "\ud800"])
def test_keysym_for_char_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        keysym_for_char(bad)


# -- KeyTranslator ---------------------------------------------------------------------------


def test_typing_a_sends_one_press_and_release() -> None:
    tr = KeyTranslator()
    assert tr.feed(down(pygame.K_a, SC_A, unicode="a")) == []
    assert tr.feed(text("a")) == [(True, 0x61)]
    assert tr.feed(up(pygame.K_a, SC_A)) == [(False, 0x61)]
    assert tr.flush() == []
    assert tr.held == ()


def test_shift_a_sends_uppercase_keysym_with_shift_down() -> None:
    tr = KeyTranslator()
    sh = pygame.KMOD_LSHIFT
    assert run(
        tr,
        down(pygame.K_LSHIFT, SC_LSHIFT, sh),
        down(pygame.K_a, SC_A, sh, "A"),
        text("A"),
        up(pygame.K_a, SC_A, sh),
        up(pygame.K_LSHIFT, SC_LSHIFT),
    ) == [(True, 0xFFE1), (True, 0x41), (False, 0x41), (False, 0xFFE1)]


def test_altgr_e_on_german_layout_sends_euro() -> None:
    tr = KeyTranslator()
    mode = pygame.KMOD_MODE
    assert run(
        tr,
        down(pygame.K_MODE, SC_RALT, mode),
        down(pygame.K_e, SC_E, mode, "€"),
        text("€"),
        up(pygame.K_e, SC_E, mode),
        up(pygame.K_MODE, SC_RALT),
    ) == [(True, 0xFE03), (True, 0x10020AC), (False, 0x10020AC), (False, 0xFE03)]


def test_windows_altgr_chord_is_released_around_the_character() -> None:
    # Windows reports AltGr as LCtrl+RAlt; German AltGr+Q types '@'.
    tr = KeyTranslator()
    chord = pygame.KMOD_LCTRL | pygame.KMOD_RALT
    actions = run(
        tr,
        down(pygame.K_LCTRL, SC_LCTRL, pygame.KMOD_LCTRL),
        down(pygame.K_RALT, SC_RALT, chord),
        down(pygame.K_q, SC_Q, chord, "@"),
        text("@"),
        up(pygame.K_q, SC_Q, chord),
    )
    assert actions == [
        (True, 0xFFE3),
        (True, 0xFFEA),
        (False, 0xFFEA),
        (False, 0xFFE3),
        (True, 0x40),
        (True, 0xFFE3),
        (True, 0xFFEA),
        (False, 0x40),
    ]
    assert tr.held == (0xFFE3, 0xFFEA)


def test_dead_key_sends_only_the_composed_character() -> None:
    tr = KeyTranslator()
    assert run(
        tr,
        down(ord("^"), SC_GRAVE),  # dead circumflex: no TEXTINPUT
        up(ord("^"), SC_GRAVE),
        down(pygame.K_e, SC_E, unicode="ê"),
        text("ê"),
        up(pygame.K_e, SC_E),
    ) == [(True, 0xEA), (False, 0xEA)]


def test_dead_key_across_batches_and_failed_composition() -> None:
    tr = KeyTranslator()
    assert tr.feed_all([down(ord("^"), SC_GRAVE)]) == []
    assert tr.feed_all([up(ord("^"), SC_GRAVE)]) == []
    # ^ followed by a letter it does not combine with: both characters are typed
    assert tr.feed_all([down(pygame.K_q, SC_Q, unicode="q"), text("^q")]) == [
        (True, 0x5E),
        (False, 0x5E),
        (True, 0x71),
        (False, 0x71),
    ]
    assert tr.feed_all([up(pygame.K_q, SC_Q)]) == []
    assert tr.held == ()


def test_ctrl_c_without_text_is_sent_from_the_key_code() -> None:
    tr = KeyTranslator()
    ctrl = pygame.KMOD_LCTRL
    assert tr.feed(down(pygame.K_LCTRL, SC_LCTRL, ctrl)) == [(True, 0xFFE3)]
    assert tr.feed(down(pygame.K_c, SC_C, ctrl, "\x03")) == []
    assert tr.flush() == [(True, 0x63)]  # end of the event batch: no text came
    assert tr.feed(up(pygame.K_c, SC_C, ctrl)) == [(False, 0x63)]
    assert tr.feed(up(pygame.K_LCTRL, SC_LCTRL)) == [(False, 0xFFE3)]


def test_ctrl_shift_letter_sends_uppercase() -> None:
    tr = KeyTranslator()
    mods = pygame.KMOD_LCTRL | pygame.KMOD_LSHIFT
    actions = run(tr, down(pygame.K_c, SC_C, mods, "\x03"), up(pygame.K_c, SC_C, mods))
    assert actions == [(True, 0x43), (False, 0x43)]


def test_alt_x_with_text_is_sent_once() -> None:
    # SDL on X11 delivers TEXTINPUT 'x' for Alt+x
    tr = KeyTranslator()
    alt = pygame.KMOD_LALT
    assert run(
        tr,
        down(pygame.K_LALT, SC_LALT, alt),
        down(pygame.K_x, SC_X, alt, "x"),
        text("x"),
        up(pygame.K_x, SC_X, alt),
        up(pygame.K_LALT, SC_LALT),
    ) == [(True, 0xFFE9), (True, 0x78), (False, 0x78), (False, 0xFFE9)]


def test_keypad_digit_swallows_its_text() -> None:
    tr = KeyTranslator()
    assert run(
        tr, down(pygame.K_KP_1, SC_KP1, NUM, "1"), text("1"), up(pygame.K_KP_1, SC_KP1, NUM)
    ) == [(True, 0xFFB1), (False, 0xFFB1)]
    assert run(tr, down(pygame.K_KP_1, SC_KP1), up(pygame.K_KP_1, SC_KP1)) == [
        (True, 0xFF9C),
        (False, 0xFF9C),
    ]


def test_function_keys_are_sent_on_keydown() -> None:
    tr = KeyTranslator()
    assert tr.feed(down(pygame.K_F5, 0x3E)) == [(True, 0xFFC2)]
    assert tr.feed(up(pygame.K_F5, 0x3E)) == [(False, 0xFFC2)]
    assert tr.feed(down(pygame.K_RETURN, 0x28)) == [(True, 0xFF0D)]
    assert tr.feed(up(pygame.K_RETURN, 0x28)) == [(False, 0xFF0D)]


def test_auto_repeat_sends_repeated_presses_and_one_release() -> None:
    tr = KeyTranslator()
    assert run(
        tr,
        down(pygame.K_a, SC_A, unicode="a"),
        text("a"),
        down(pygame.K_a, SC_A, unicode="a"),
        text("a"),
        down(pygame.K_a, SC_A, unicode="a"),
        text("a"),
        up(pygame.K_a, SC_A),
    ) == [(True, 0x61)] * 3 + [(False, 0x61)]


def test_rollover_releases_by_physical_key() -> None:
    tr = KeyTranslator()
    assert run(
        tr,
        down(pygame.K_a, SC_A, unicode="a"),
        text("a"),
        down(pygame.K_e, SC_E, unicode="e"),
        text("e"),
        up(pygame.K_a, SC_A),
        up(pygame.K_e, SC_E),
    ) == [(True, 0x61), (True, 0x65), (False, 0x61), (False, 0x65)]


def test_release_all_releases_held_keys_latest_first() -> None:
    tr = KeyTranslator()
    run(
        tr,
        down(pygame.K_LSHIFT, SC_LSHIFT, pygame.KMOD_LSHIFT),
        down(pygame.K_a, SC_A, pygame.KMOD_LSHIFT, "A"),
        text("A"),
        down(pygame.K_LEFT, 0x50, pygame.KMOD_LSHIFT),
    )
    assert tr.held == (0xFFE1, 0x41, 0xFF51)
    assert tr.release_all() == [0xFF51, 0x41, 0xFFE1]
    assert not tr.held
    assert tr.release_all() == []
    # the physical releases arriving later send nothing more
    assert run(tr, up(pygame.K_a, SC_A), up(pygame.K_LSHIFT, SC_LSHIFT)) == []


def test_text_without_key_and_other_events() -> None:
    tr = KeyTranslator()
    # an input method commit: no KEYDOWN before it
    assert tr.feed(text("日本")) == [
        (True, 0x10065E5),
        (False, 0x10065E5),
        (True, 0x100672C),
        (False, 0x100672C),
    ]
    assert tr.feed(pygame.event.Event(pygame.MOUSEMOTION, pos=(1, 2))) == []
    assert tr.held == ()


def test_without_text_input_keys_are_sent_from_keydown() -> None:
    tr = KeyTranslator(use_text_input=False)
    sh = pygame.KMOD_LSHIFT
    assert tr.feed(down(pygame.K_a, SC_A, sh, "A")) == [(True, 0x41)]
    assert tr.feed(up(pygame.K_a, SC_A, sh)) == [(False, 0x41)]


_printable_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"),
    ),
    min_size=1,
    max_size=12,
).filter(str.isprintable)


@given(_printable_text)
def test_text_input_yields_a_press_release_pair_per_character(s: str) -> None:
    tr = KeyTranslator()
    expected: list[tuple[bool, int]] = []
    for ch in s:
        k = keysym_for_char(ch)
        expected += [(True, k), (False, k)]
        cp = ord(ch)
        assert k == (cp if cp <= 0xFF else 0x01000000 + cp)
    assert tr.feed_all([text(s)]) == expected
    assert tr.held == ()


@given(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn")).filter(str.isprintable))
def test_typed_character_is_held_until_its_key_is_released(ch: str) -> None:
    tr = KeyTranslator()
    k = keysym_for_char(ch)
    assert run(tr, down(pygame.K_UNKNOWN, SC_A, unicode=ch), text(ch)) == [(True, k)]
    assert tr.held == (k,)
    assert run(tr, up(pygame.K_UNKNOWN, SC_A)) == [(False, k)]


# -- XT scan codes (QEMU Extended Key Event) -------------------------------------------------


@pytest.mark.parametrize(
    ("scancode", "expected"),
    [
        (pygame.KSCAN_A, 0x1E),
        (pygame.KSCAN_Z, 0x2C),
        (pygame.KSCAN_1, 0x02),
        (pygame.KSCAN_0, 0x0B),
        (pygame.KSCAN_RETURN, 0x1C),
        (pygame.KSCAN_ESCAPE, 0x01),
        (pygame.KSCAN_SPACE, 0x39),
        (pygame.KSCAN_F1, 0x3B),
        (pygame.KSCAN_F10, 0x44),
        (pygame.KSCAN_F11, 0x57),
        (pygame.KSCAN_F12, 0x58),
        (pygame.KSCAN_F13, 0x5D),
        (pygame.KSCAN_LCTRL, 0x1D),
        (pygame.KSCAN_RCTRL, 0x9D),  # E0 1D
        (pygame.KSCAN_LALT, 0x38),
        (pygame.KSCAN_RALT, 0xB8),  # E0 38
        (pygame.KSCAN_LSHIFT, 0x2A),
        (pygame.KSCAN_RSHIFT, 0x36),
        (pygame.KSCAN_LGUI, 0xDB),
        (pygame.KSCAN_KP_ENTER, 0x9C),  # E0 1C
        (pygame.KSCAN_KP_DIVIDE, 0xB5),
        (pygame.KSCAN_KP_MULTIPLY, 0x37),
        (pygame.KSCAN_KP_7, 0x47),
        (pygame.KSCAN_KP_0, 0x52),
        (pygame.KSCAN_UP, 0xC8),
        (pygame.KSCAN_DOWN, 0xD0),
        (pygame.KSCAN_LEFT, 0xCB),
        (pygame.KSCAN_RIGHT, 0xCD),  # rfbproto's example: E0 4D -> 0xcd
        (pygame.KSCAN_HOME, 0xC7),
        (pygame.KSCAN_PAGEDOWN, 0xD1),
        (pygame.KSCAN_INSERT, 0xD2),
        (pygame.KSCAN_DELETE, 0xD3),
        (pygame.KSCAN_PAUSE, 0xC6),
        (pygame.KSCAN_PRINTSCREEN, 0x54),
        (pygame.KSCAN_NONUSBACKSLASH, 0x56),
        (pygame.KSCAN_INTERNATIONAL1, 0x73),  # Ro
        (pygame.KSCAN_INTERNATIONAL3, 0x7D),  # Yen
        (pygame.KSCAN_LANG5, 0x76),  # Zenkaku/Hankaku
        (pygame.KSCAN_MODE, 0xB8),
        (pygame.KSCAN_UNKNOWN, None),
        (pygame.KSCAN_LANG1, None),  # Hangul: no encodable XT code
        (0x1FF, None),
    ],
)
def test_xt_scancode(scancode: int, expected: int | None) -> None:
    assert xt_scancode(scancode) == expected


def test_rfb_keycode_rule() -> None:
    assert rfb_keycode(0x1E) == 0x1E
    assert rfb_keycode(0xE04D) == 0xCD
    assert rfb_keycode(0xE01D) == 0x9D
    for bad in (0, 0x80, 0x9E, 0xE0CD, 0xE11D45):
        with pytest.raises(ValueError):
            rfb_keycode(bad)


def test_xt_table_is_consistent() -> None:
    sdl_codes = [sdl for sdl, _ in _SDL_TO_SET1]
    assert len(sdl_codes) == len(set(sdl_codes)), "duplicate SDL scancode"
    assert all(0 < code <= 0xFF for code in SDL_TO_XT.values())
    # every letter, digit and F1..F12 is present
    for sdl in [*range(0x04, 0x28), *range(0x3A, 0x46)]:
        assert sdl in SDL_TO_XT
    # physical keys that share nothing share no code, except these known aliases
    aliases = {0x31: 0x32, 0xE6: 257, 0x7F: 262, 0x78: 272}
    by_code: dict[int, list[int]] = {}
    for sdl, code in SDL_TO_XT.items():
        by_code.setdefault(code, []).append(sdl)
    for sdls in by_code.values():
        if len(sdls) > 1:
            assert len(sdls) == 2 and aliases.get(sdls[0]) == sdls[1], sdls
