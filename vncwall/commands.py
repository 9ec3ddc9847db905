"""What `vncwall ctl` commands do to a running wall (render thread: snapshot draws)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError
from .control import ControlServer, Request
from .status_json import session_entry

if TYPE_CHECKING:
    from .wall import Wall

COMMANDS = ("show", "next", "prev", "pause", "resume", "layout", "zoom", "status", "reload",
            "snapshot")


class CommandError(Exception):
    """A command that cannot be carried out: one line, and the CLI exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def status(wall: Wall, now: float) -> dict[str, Any]:
    """The wall as `vncwall ctl status` reports it (sessions as in --status-json)."""
    carousel = wall.carousel
    return {
        "time": time.time(),
        "config": str(wall.config.path) if wall.config.path else None,
        "front": wall.front,
        "layout": wall.layout,
        "zoomed": wall.zoomed,
        "paused": bool(carousel is not None and carousel.held),
        "frames": wall.frames,
        "fps": round(wall.frame_rate.fps(now), 2),
        "reloads": wall.reloads,
        "sessions": [session_entry(s) for s in wall.sessions],
    }


def _session_index(wall: Wall, which: str) -> int:
    for i, s in enumerate(wall.sessions):
        if s.name == which:
            return i
    if which.isdigit() and int(which) < len(wall.sessions):
        return int(which)
    names = ", ".join(s.name for s in wall.sessions) or "none"
    raise CommandError(f"no session {which!r} (sessions: {names})")


def _arity(args: list[str], n: int, usage: str) -> None:
    if len(args) != n:
        raise CommandError(f"usage: {usage}")


def execute(wall: Wall, command: str, args: list[str], now: float) -> Any:
    """Carry out one command on the wall; returns its result (CommandError: refused)."""
    if command == "show":
        _arity(args, 1, "show NAME|INDEX")
        wall.focus(_session_index(wall, args[0]), now)
        _touch(wall, now)
    elif command in ("next", "prev"):
        _arity(args, 0, command)
        if wall.sessions:
            wall.step(+1 if command == "next" else -1, now)
            wall.router.set_target(wall.input_target(now))
        _touch(wall, now)
    elif command in ("pause", "resume"):
        _arity(args, 0, command)
        if wall.carousel is not None:
            wall.carousel.held = command == "pause"
            if command == "resume":
                wall.carousel.last_turn = now  # a full interval before the next turn
    elif command == "layout":
        _arity(args, 1, "layout prism|grid")
        if args[0] not in ("prism", "grid"):
            raise CommandError(f"unknown layout {args[0]!r} (known: prism, grid)")
        if args[0] != wall.layout:
            wall.toggle_layout(now)
    elif command == "zoom":
        if len(args) > 1 or (args and args[0] not in ("on", "off")):
            raise CommandError("usage: zoom [on|off]")
        want = (not wall.zoomed) if not args else args[0] == "on"
        if want != wall.zoomed:
            wall.toggle_zoom(now)
    elif command == "status":
        _arity(args, 0, "status")
    elif command == "reload":
        _arity(args, 0, "reload")
        try:
            return wall.reload(now)
        except ConfigError as exc:
            raise CommandError(f"reload refused, the wall keeps its config: {exc}") from None
    elif command == "snapshot":
        _arity(args, 1, "snapshot OUT.png")
        return _snapshot(wall, Path(args[0]), now)
    else:
        raise CommandError(f"unknown command {command!r} (known: {', '.join(COMMANDS)})")
    return status(wall, now)


def _touch(wall: Wall, now: float) -> None:
    """A turn asked for counts as someone using the wall: the carousel holds off."""
    if wall.carousel is not None:
        wall.carousel.touch(now)


def _snapshot(wall: Wall, path: Path, now: float) -> dict[str, Any]:
    """Draw the wall as it is now into an offscreen buffer and write it as PNG."""
    from OpenGL import GL

    from .png import write_png
    from .render.renderer import OffscreenTarget

    if not path.is_absolute():
        raise CommandError("snapshot needs an absolute path (vncwall ctl makes it one)")
    w, h = wall.viewport
    target = OffscreenTarget(w, h)
    try:
        target.bind()
        wall.frame((w, h), now)
        image = target.read()
    finally:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glDeleteFramebuffers(1, [target.fbo])
        GL.glDeleteRenderbuffers(2, [target.rbo, target.depth])
    try:
        write_png(path, image)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None
    return {"path": str(path), "size": [w, h]}


def serve(server: ControlServer, wall: Wall, now: float) -> None:
    """Answer every request that has arrived (once per frame, on the render thread)."""
    for request in server.take():
        answer(request, wall, now)


def answer(request: Request, wall: Wall, now: float) -> None:
    try:
        result = execute(wall, request.command, request.args, now)
    except CommandError as exc:
        request.answer({"ok": False, "error": str(exc), "exit": exc.exit_code})
    except Exception as exc:  # a bug in one command must not take the wall down
        request.answer({"ok": False, "exit": 1,
                        "error": f"internal error: {type(exc).__name__}: {exc}"})
    else:
        request.answer({"ok": True, "result": result})
