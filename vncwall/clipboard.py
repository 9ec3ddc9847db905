"""The local text clipboard via pygame's own SDL2, and its sync with the front session."""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Sequence

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from .session import Session, State

log = logging.getLogger("vncwall.clipboard")


class Clipboard:
    """No local clipboard: reads give None, writes are dropped. `reason` says why."""

    def __init__(self, reason: str = "no clipboard") -> None:
        self.reason = reason

    @property
    def available(self) -> bool:
        return False

    def get(self) -> str | None:
        """The clipboard's text, or None when there is none to read."""
        return None

    def set(self, text: str) -> None:
        """Put text on the clipboard (on X11 the window owns it while the wall runs)."""


class SDLClipboard(Clipboard):
    """The clipboard of the SDL2 library pygame already loaded (needs its video subsystem)."""

    def __init__(self, sdl: ctypes.CDLL) -> None:
        super().__init__("")
        self._sdl = sdl
        sdl.SDL_SetClipboardText.argtypes = [ctypes.c_char_p]
        sdl.SDL_SetClipboardText.restype = ctypes.c_int
        sdl.SDL_GetClipboardText.argtypes = []
        sdl.SDL_GetClipboardText.restype = ctypes.c_void_p
        sdl.SDL_HasClipboardText.argtypes = []
        sdl.SDL_HasClipboardText.restype = ctypes.c_int
        sdl.SDL_free.argtypes = [ctypes.c_void_p]
        sdl.SDL_free.restype = None
        sdl.SDL_GetError.argtypes = []
        sdl.SDL_GetError.restype = ctypes.c_char_p

    @property
    def available(self) -> bool:
        return True

    def get(self) -> str | None:
        if not self._sdl.SDL_HasClipboardText():
            return None
        ptr = self._sdl.SDL_GetClipboardText()
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode("utf-8", errors="replace")
        finally:
            self._sdl.SDL_free(ptr)

    def set(self, text: str) -> None:
        data = text.replace("\0", "").encode("utf-8", errors="replace")
        if self._sdl.SDL_SetClipboardText(data) != 0:
            error = (self._sdl.SDL_GetError() or b"").decode(errors="replace")
            log.warning("cannot set the clipboard: %s", error)


def _loaded_sdl() -> ctypes.CDLL | str:
    """The SDL2 library this process already uses (pygame's), or why there is none."""
    candidates: list[str] = []
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
                for line in maps:
                    path = line.split()[-1] if line.count(" ") >= 5 else ""
                    if os.path.basename(path).startswith("libSDL2-2") and path not in candidates:
                        candidates.append(path)
        except OSError:
            pass
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)  # already mapped: the same library instance
        except OSError:
            continue
        if hasattr(lib, "SDL_SetClipboardText"):
            return lib
    try:
        lib = ctypes.CDLL(None)  # symbols visible process-wide (SDL linked or loaded globally)
    except OSError as exc:
        return f"no SDL2 library found ({exc})"
    if hasattr(lib, "SDL_SetClipboardText"):
        return lib
    return "the SDL2 library pygame uses could not be found in this process"


def open_clipboard() -> Clipboard:
    """The local clipboard, or a no-op one (with its reason logged) where there is none.

    Call after the window is open, and use from that thread only: SDL answers other
    programs' clipboard requests while the event loop pumps.
    """
    found = _loaded_sdl()
    if isinstance(found, str):
        log.warning("clipboard sharing is off: %s", found)
        return Clipboard(found)
    return SDLClipboard(found)


class ClipboardSync:
    """Keeps the local clipboard and the front session's in step (render thread only).

    Text a session's server sends lands on the local clipboard only while that session
    is in front (background sessions' text is dropped); the local clipboard goes to the
    front session when it changes, when a session comes to the front, and when the front
    session (re)connects. View-only sessions never get it.
    """

    def __init__(self, clipboard: Clipboard) -> None:
        self.clipboard = clipboard
        self._seen: dict[int, int] = {}  # id(session) -> clipboard_in serial handled
        self._synced: dict[int, str] = {}  # id(session) -> text it is known to hold
        self._front: tuple[int, bool] | None = None  # (id, live) of the front last frame

    def tick(self, sessions: Sequence[Session], front: int,
             events: Sequence[pygame.event.Event]) -> None:
        if not self.clipboard.available or not sessions:
            return
        current = sessions[front % len(sessions)]
        for s in sessions:
            got = s.clipboard_in
            if got is None or self._seen.get(id(s)) == got[0]:
                continue
            self._seen[id(s)] = got[0]
            if s is current:
                self._synced[id(s)] = got[1]
                self.clipboard.set(got[1])
        live = current.status().state is State.LIVE
        changed = any(e.type == pygame.CLIPBOARDUPDATE for e in events)
        if self._front != (id(current), live):
            previous, self._front = self._front, (id(current), live)
            if live:
                changed = True  # came to the front, or (re)connected there
                if previous is not None and previous[0] == id(current):
                    self._synced.pop(id(current), None)  # a new connection holds nothing
        if not changed or not live or current.config.view_only:
            return
        text = self.clipboard.get()
        if text is None or self._synced.get(id(current)) == text:
            return
        self._synced[id(current)] = text
        current.send_cut_text(text)
