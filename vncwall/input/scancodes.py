"""SDL scancodes (USB HID usages) to the XT key codes of the QEMU Extended Key Event message."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# The QEMU Extended Key Event message (rfbproto.rst, "QEMU Extended Key Event Message",
# client message 255 / submessage 0, enabled by pseudo-encoding -258) carries, next to
# the keysym, the *keycode* of the physical key:
#
#     "The keycode is the XT keycode that produced the keysym. An XT keycode is an XT make
#     scancode sequence encoded to fit in a single U32 quantity. Single byte XT scancodes
#     with a byte value less than 0x7f are encoded as is. 2-byte XT scancodes whose first
#     byte is 0xe0 and second byte is less than 0x7f are encoded with the high bit of the
#     first byte set."
#
# and its examples show what "the high bit set" means in practice: E0 4D (Right arrow)
# is sent as 0xcd, i.e. the 0xE0 prefix is dropped and bit 7 of the second byte is set.
# It is always the *make* code, for the press and for the release alike (the down-flag
# tells them apart).  So Right Ctrl (E0 1D) is 0x9d, keypad Enter (E0 1C) is 0x9c, and
# the value never exceeds 0xff.  This is QEMU's "qnum" numbering, and :func:`rfb_keycode`
# implements the rule.
#
# Two keys have no such short make code and follow the convention of QEMU's keycodemapdb
# (data/keymaps.csv, "AT set1 keycode" column), which QEMU maps back to the right key:
#   * Pause (E1 1D 45, six bytes with no break code) is sent as E0 46 -> 0xc6;
#   * PrintScreen (E0 2A E0 37) is sent as 0x54, its Alt+SysRq code.
# The Korean Hangul/Hanja keys (LANG1/LANG2, single bytes 0xF2/0xF1 with no break code)
# cannot be encoded by the rule at all and are left unmapped (the keysym still goes out).
#
# The table below lists the XT set 1 make code of each key, written ``0xe0XX`` for the
# E0-prefixed ones; the values were taken from keycodemapdb's "USB Keycodes" and "AT set1
# keycode" columns.  SDL2 scancodes are the USB HID keyboard-page usage IDs for 0..231;
# 257 and up are SDL's own numbers (media/application keys from the consumer page).

_E0 = 0xE000

_SDL_TO_SET1: tuple[tuple[int, int], ...] = (
    # letters: USB 0x04 'A' .. 0x1d 'Z'
    (0x04, 0x1E),  # A
    (0x05, 0x30),  # B
    (0x06, 0x2E),  # C
    (0x07, 0x20),  # D
    (0x08, 0x12),  # E
    (0x09, 0x21),  # F
    (0x0A, 0x22),  # G
    (0x0B, 0x23),  # H
    (0x0C, 0x17),  # I
    (0x0D, 0x24),  # J
    (0x0E, 0x25),  # K
    (0x0F, 0x26),  # L
    (0x10, 0x32),  # M
    (0x11, 0x31),  # N
    (0x12, 0x18),  # O
    (0x13, 0x19),  # P
    (0x14, 0x10),  # Q
    (0x15, 0x13),  # R
    (0x16, 0x1F),  # S
    (0x17, 0x14),  # T
    (0x18, 0x16),  # U
    (0x19, 0x2F),  # V
    (0x1A, 0x11),  # W
    (0x1B, 0x2D),  # X
    (0x1C, 0x15),  # Y
    (0x1D, 0x2C),  # Z
    # digit row: USB 0x1e '1' .. 0x27 '0'
    (0x1E, 0x02),  # 1
    (0x1F, 0x03),  # 2
    (0x20, 0x04),  # 3
    (0x21, 0x05),  # 4
    (0x22, 0x06),  # 5
    (0x23, 0x07),  # 6
    (0x24, 0x08),  # 7
    (0x25, 0x09),  # 8
    (0x26, 0x0A),  # 9
    (0x27, 0x0B),  # 0
    (0x28, 0x1C),  # Return
    (0x29, 0x01),  # Escape
    (0x2A, 0x0E),  # Backspace
    (0x2B, 0x0F),  # Tab
    (0x2C, 0x39),  # Space
    (0x2D, 0x0C),  # - _
    (0x2E, 0x0D),  # = +
    (0x2F, 0x1A),  # [ {
    (0x30, 0x1B),  # ] }
    (0x31, 0x2B),  # \ |
    (0x32, 0x2B),  # non-US # ~ (ISO key left of Return; same position as \ on ANSI)
    (0x33, 0x27),  # ; :
    (0x34, 0x28),  # ' "
    (0x35, 0x29),  # ` ~
    (0x36, 0x33),  # , <
    (0x37, 0x34),  # . >
    (0x38, 0x35),  # / ?
    (0x39, 0x3A),  # Caps Lock
    # F1..F12
    (0x3A, 0x3B),  # F1
    (0x3B, 0x3C),  # F2
    (0x3C, 0x3D),  # F3
    (0x3D, 0x3E),  # F4
    (0x3E, 0x3F),  # F5
    (0x3F, 0x40),  # F6
    (0x40, 0x41),  # F7
    (0x41, 0x42),  # F8
    (0x42, 0x43),  # F9
    (0x43, 0x44),  # F10
    (0x44, 0x57),  # F11
    (0x45, 0x58),  # F12
    (0x46, 0x54),  # PrintScreen / SysRq (see above)
    (0x47, 0x46),  # Scroll Lock
    (0x48, _E0 | 0x46),  # Pause / Break (see above)
    # navigation block
    (0x49, _E0 | 0x52),  # Insert
    (0x4A, _E0 | 0x47),  # Home
    (0x4B, _E0 | 0x49),  # Page Up
    (0x4C, _E0 | 0x53),  # Delete
    (0x4D, _E0 | 0x4F),  # End
    (0x4E, _E0 | 0x51),  # Page Down
    (0x4F, _E0 | 0x4D),  # Right
    (0x50, _E0 | 0x4B),  # Left
    (0x51, _E0 | 0x50),  # Down
    (0x52, _E0 | 0x48),  # Up
    # keypad
    (0x53, 0x45),  # Num Lock
    (0x54, _E0 | 0x35),  # KP /
    (0x55, 0x37),  # KP *
    (0x56, 0x4A),  # KP -
    (0x57, 0x4E),  # KP +
    (0x58, _E0 | 0x1C),  # KP Enter
    (0x59, 0x4F),  # KP 1
    (0x5A, 0x50),  # KP 2
    (0x5B, 0x51),  # KP 3
    (0x5C, 0x4B),  # KP 4
    (0x5D, 0x4C),  # KP 5
    (0x5E, 0x4D),  # KP 6
    (0x5F, 0x47),  # KP 7
    (0x60, 0x48),  # KP 8
    (0x61, 0x49),  # KP 9
    (0x62, 0x52),  # KP 0
    (0x63, 0x53),  # KP .
    (0x64, 0x56),  # ISO 102nd key (< > | between left Shift and Z)
    (0x65, _E0 | 0x5D),  # Application / context Menu
    (0x66, _E0 | 0x5E),  # Power
    (0x67, 0x59),  # KP =
    # F13..F24 (the XT codes used by keycodemapdb / Linux atkbd)
    (0x68, 0x5D),  # F13
    (0x69, 0x5E),  # F14
    (0x6A, 0x5F),  # F15
    (0x6B, 0x55),  # F16
    (0x6C, _E0 | 0x03),  # F17
    (0x6D, _E0 | 0x77),  # F18
    (0x6E, _E0 | 0x04),  # F19
    (0x6F, 0x5A),  # F20
    (0x70, 0x74),  # F21
    (0x71, _E0 | 0x79),  # F22
    (0x72, 0x6D),  # F23
    (0x73, 0x6F),  # F24
    # Sun-style editing keys
    (0x74, 0x64),  # Execute (Open)
    (0x75, _E0 | 0x75),  # Help
    (0x76, _E0 | 0x1E),  # Menu
    (0x77, _E0 | 0x0C),  # Select (Front)
    (0x78, _E0 | 0x68),  # Stop
    (0x79, _E0 | 0x05),  # Again
    (0x7A, _E0 | 0x07),  # Undo
    (0x7B, _E0 | 0x3C),  # Cut
    (0x7C, _E0 | 0x78),  # Copy
    (0x7D, 0x65),  # Paste
    (0x7E, _E0 | 0x41),  # Find
    (0x7F, _E0 | 0x20),  # Mute
    (0x80, _E0 | 0x30),  # Volume Up
    (0x81, _E0 | 0x2E),  # Volume Down
    # international keys (Brazilian / Japanese)
    (0x85, 0x7E),  # KP , (Brazilian keypad)
    (0x87, 0x73),  # International1: Ro (JIS \ _)
    (0x88, 0x70),  # International2: Katakana/Hiragana
    (0x89, 0x7D),  # International3: Yen
    (0x8A, 0x79),  # International4: Henkan
    (0x8B, 0x7B),  # International5: Muhenkan
    (0x8C, 0x5C),  # International6: JIS keypad comma
    (0x92, 0x78),  # LANG3: Katakana
    (0x93, 0x77),  # LANG4: Hiragana
    (0x94, 0x76),  # LANG5: Zenkaku/Hankaku
    (0xB6, _E0 | 0x76),  # KP (
    (0xB7, _E0 | 0x7B),  # KP )
    # modifiers
    (0xE0, 0x1D),  # Left Ctrl
    (0xE1, 0x2A),  # Left Shift
    (0xE2, 0x38),  # Left Alt
    (0xE3, _E0 | 0x5B),  # Left GUI (Windows / Super)
    (0xE4, _E0 | 0x1D),  # Right Ctrl
    (0xE5, 0x36),  # Right Shift
    (0xE6, _E0 | 0x38),  # Right Alt / AltGr
    (0xE7, _E0 | 0x5C),  # Right GUI
    # SDL's own scancodes (not USB keyboard-page usages)
    (257, _E0 | 0x38),  # SDL_SCANCODE_MODE: AltGr, physically the Right Alt key
    (258, _E0 | 0x19),  # AUDIONEXT
    (259, _E0 | 0x10),  # AUDIOPREV
    (260, _E0 | 0x24),  # AUDIOSTOP
    (261, _E0 | 0x22),  # AUDIOPLAY (play/pause)
    (262, _E0 | 0x20),  # AUDIOMUTE
    (263, _E0 | 0x6D),  # MEDIASELECT
    (264, _E0 | 0x02),  # WWW
    (265, _E0 | 0x6C),  # MAIL
    (266, _E0 | 0x21),  # CALCULATOR
    (267, _E0 | 0x6B),  # COMPUTER
    (268, _E0 | 0x65),  # AC_SEARCH
    (269, _E0 | 0x32),  # AC_HOME
    (270, _E0 | 0x6A),  # AC_BACK
    (271, _E0 | 0x69),  # AC_FORWARD
    (272, _E0 | 0x68),  # AC_STOP
    (273, _E0 | 0x67),  # AC_REFRESH
    (274, _E0 | 0x66),  # AC_BOOKMARKS
    (275, _E0 | 0x4C),  # BRIGHTNESSDOWN
    (276, _E0 | 0x54),  # BRIGHTNESSUP
    (277, _E0 | 0x56),  # DISPLAYSWITCH
    (278, _E0 | 0x57),  # KBDILLUMTOGGLE
    (279, _E0 | 0x58),  # KBDILLUMDOWN
    (280, _E0 | 0x59),  # KBDILLUMUP
    (281, 0x6C),  # EJECT
    (282, _E0 | 0x5F),  # SLEEP
    (285, _E0 | 0x18),  # AUDIOREWIND
    (286, _E0 | 0x34),  # AUDIOFASTFORWARD
)


def rfb_keycode(set1: int) -> int:
    """The QEMU Extended Key Event keycode of an XT set 1 make code.

    ``set1`` is a single byte ``0x01..0x7f``, or an E0-prefixed pair written ``0xe0XX``
    with ``XX < 0x80``.  Single bytes are sent as is; for the pair the prefix is dropped
    and the high bit of the second byte is set (E0 4D -> 0xcd).  Anything else (E1
    sequences, bytes with the high bit already set) cannot be encoded: ValueError.
    """
    if 0 < set1 < 0x80:
        return set1
    if set1 >> 8 == 0xE0 and 0 < set1 & 0xFF < 0x80:
        return 0x80 | (set1 & 0x7F)
    raise ValueError(f"XT scan code {set1:#x} has no QEMU keycode")


SDL_TO_XT: Mapping[int, int] = MappingProxyType(
    {sdl: rfb_keycode(set1) for sdl, set1 in _SDL_TO_SET1}
)
"""SDL scancode (``event.scancode``) -> QEMU Extended Key Event keycode."""


def xt_scancode(sdl_scancode: int) -> int | None:
    """The QEMU Extended Key Event keycode of a pygame/SDL scancode, or None if it has none.

    The result is the XT set 1 make code with E0-prefixed keys folded into one byte (high
    bit set): 'A' -> 0x1e, Return -> 0x1c, Right Ctrl -> 0x9d, keypad Enter -> 0x9c,
    Right arrow -> 0xcd.  0 (SDL_SCANCODE_UNKNOWN) and keys without an XT code give None,
    in which case the client should send a plain KeyEvent instead.
    """
    return SDL_TO_XT.get(sdl_scancode)
