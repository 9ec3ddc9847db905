"""The wall's window: an OpenGL 3.3 context on a chosen monitor that follows monitor changes."""

from __future__ import annotations

import logging
import os
import warnings

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame
from pygame._sdl2.video import Window

log = logging.getLogger("vncwall.window")

# SDL's display events (a monitor added, removed or changed); pygame 2.6 has no name for them.
SDL_DISPLAYEVENT = 0x150


class WindowError(RuntimeError):
    """No OpenGL 3.3 window could be opened."""


def choose_display(wanted: int) -> int:
    """`wanted` if that monitor exists, else 0 with a one-line warning (display initialised)."""
    count = pygame.display.get_num_displays()
    if 0 <= wanted < count:
        return wanted
    log.warning("display %d does not exist (%d monitor%s); using display 0", wanted, count,
                "" if count == 1 else "s")
    return 0


def open_window(size: tuple[int, int], fullscreen: bool, hidden: bool = False,
                display: int = 0) -> tuple[int, int]:
    """Open the pygame window with an OpenGL 3.3 core context on monitor `display`.

    Fullscreen takes that monitor's desktop size. Returns the window's pixel size.
    """
    pygame.display.init()
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MAJOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MINOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_PROFILE_MASK,
                                    pygame.GL_CONTEXT_PROFILE_CORE)
    pygame.display.gl_set_attribute(pygame.GL_DOUBLEBUFFER, 1)
    # Faces are drawn back to front with no depth test: a depth or stencil buffer would
    # only cost memory (4 bytes a pixel; with a software renderer, of RSS).
    pygame.display.gl_set_attribute(pygame.GL_DEPTH_SIZE, 24)
    pygame.display.gl_set_attribute(pygame.GL_STENCIL_SIZE, 0)
    flags = pygame.OPENGL | pygame.DOUBLEBUF
    if fullscreen:
        flags |= pygame.FULLSCREEN
        size = (0, 0)
    if hidden:
        flags |= pygame.HIDDEN
    index = choose_display(display)
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "vsync not available": fine, we pace
                surface = pygame.display.set_mode(size, flags, display=index, vsync=1)
        except pygame.error:
            surface = pygame.display.set_mode(size, flags, display=index)  # no vsync here
    except pygame.error as exc:
        raise WindowError(f"cannot open an OpenGL 3.3 window: {exc}") from None
    _WINDOWS.append(Window.from_display_module())
    pygame.display.set_caption("vncwall")
    return surface.get_size()


# pygame 2.6 crashes in event.get() once a pygame._sdl2 Window wrapper made by
# from_display_module() is freed while its window lives (pygame-ce fixed it in #2341).
# So each window gets one wrapper, made when it opens and never freed.
_WINDOWS: list[Window] = []


def sdl_window() -> Window:
    """The open window's pygame._sdl2 wrapper (display index, position, fullscreen mode)."""
    if not _WINDOWS:
        raise WindowError("no window is open")
    return _WINDOWS[-1]


def refit_fullscreen() -> bool:
    """After a monitor change, make a fullscreen window fit its monitor again.

    SDL leaves a fullscreen window at its old size when its monitor's mode changes (or
    the monitor goes away); leaving and re-entering desktop fullscreen refits it, and
    the size-changed event that follows moves the viewport. Returns whether it refitted.
    """
    win = sdl_window()
    sizes = pygame.display.get_desktop_sizes()
    index = win.display_index if 0 <= win.display_index < len(sizes) else 0
    if not sizes or tuple(win.size) == tuple(sizes[index]):
        return False
    log.info("monitor %d is now %dx%d: refitting the window", index, *sizes[index])
    win.set_windowed()
    win.set_fullscreen(desktop=True)
    return True


