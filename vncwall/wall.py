"""The wall: a pygame OpenGL window showing every session on a rotating prism."""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from .carousel import Carousel
from .clipboard import ClipboardSync, open_clipboard
from .config import Config
from .input.locks import LockSync
from .input.router import InputRouter, Target, parse_hotkeys
from .net.pixelformat import U8Array
from .render.animation import Rotation
from .render.prism import Camera, Prism, closest_angle, face_pixel
from .render.renderer import Cursor, FaceView, OffscreenTarget, WallRenderer, clear, read_pixels
from .session import Session, State

log = logging.getLogger("vncwall.wall")

DEFAULT_SESSION_SIZE = (1280, 800)  # face shape before a session reports its size
FOVY = math.radians(40.0)
# Events that count as someone using the wall: they pause the carousel.
USER_INPUT_EVENTS = frozenset({
    pygame.KEYDOWN, pygame.KEYUP, pygame.TEXTINPUT, pygame.MOUSEMOTION, pygame.MOUSEBUTTONDOWN,
    pygame.MOUSEBUTTONUP, pygame.MOUSEWHEEL, pygame.FINGERDOWN, pygame.FINGERUP,
    pygame.FINGERMOTION,
})


@dataclass(frozen=True)
class RunStats:
    """What a run of the wall drew: frames, wall-clock seconds, CPU seconds (all threads)."""

    frames: int
    seconds: float
    cpu_seconds: float

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        cpu = 100.0 * self.cpu_seconds / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.frames} frames in {self.seconds:.1f} s = {fps:.1f} fps, "
                f"CPU {self.cpu_seconds:.1f} s ({cpu:.0f}% of one core)")


class WindowError(RuntimeError):
    """No OpenGL 3.3 window could be opened."""


def open_window(size: tuple[int, int], fullscreen: bool, hidden: bool = False) -> tuple[int, int]:
    """Open the pygame window with an OpenGL 3.3 core context; returns its pixel size."""
    pygame.display.init()
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MAJOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MINOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_PROFILE_MASK,
                                    pygame.GL_CONTEXT_PROFILE_CORE)
    pygame.display.gl_set_attribute(pygame.GL_DOUBLEBUFFER, 1)
    flags = pygame.OPENGL | pygame.DOUBLEBUF
    if fullscreen:
        flags |= pygame.FULLSCREEN
        size = (0, 0)
    if hidden:
        flags |= pygame.HIDDEN
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "vsync not available": fine, we pace
                surface = pygame.display.set_mode(size, flags, vsync=1)
        except pygame.error:
            surface = pygame.display.set_mode(size, flags)  # no vsync on this display
    except pygame.error as exc:
        raise WindowError(f"cannot open an OpenGL 3.3 window: {exc}") from None
    pygame.display.set_caption("vncwall")
    return surface.get_size()


@dataclass
class Wall:
    """Sessions, the prism's motion, and drawing; GL work happens in `frame` only."""

    config: Config
    sessions: list[Session] = field(default_factory=list)
    front: int = 0
    rotation: Rotation = field(default_factory=Rotation)
    renderer: WallRenderer | None = None
    frames: int = 0
    router: InputRouter = field(default_factory=lambda: InputRouter(hotkeys={}))
    zoom: Rotation = field(default_factory=lambda: Rotation(duration=0.35))
    zoomed: bool = False
    viewport: tuple[int, int] = (1280, 800)
    _prism: Prism | None = None
    _sizes: list[tuple[int, int]] = field(default_factory=list)
    carousel: Carousel | None = None  # None: from [wall] autorotate_* (off when 0)
    # Called once per frame on the GL thread before drawing (listener, status file).
    tickers: list[Callable[[Wall, float], None]] = field(default_factory=list)
    started: bool = False
    clipboard: ClipboardSync | None = None  # set once the window is open (run)
    locks: LockSync = field(default_factory=LockSync)

    def __post_init__(self) -> None:
        wall = self.config.wall
        if not self.sessions:
            self.sessions = [
                Session(s, wall.reconnect_max_seconds, wall.connect_timeout)
                for s in self.config.sessions
            ]
        self.rotation = Rotation(duration=wall.rotate_seconds)
        if self.carousel is None:
            self.carousel = Carousel(wall.autorotate_seconds, wall.autorotate_resume_seconds,
                                     wall.skip_down)

    # --- sessions -----------------------------------------------------------------
    def start(self) -> None:
        self.started = True
        for s in self.sessions:
            s.start()

    def add_session(self, session: Session) -> None:
        """A new face at runtime (GL thread only); started at once if the wall runs."""
        self.sessions.append(session)
        if self.started:
            session.start()

    def autorotate(self, now: float) -> None:
        """Turn to the next (live, with skip_down) session when the carousel says so."""
        c = self.carousel
        if c is None or not c.enabled or not self.sessions:
            return
        up = [s.status().state is State.LIVE for s in self.sessions]
        target = c.advance(self.front, up, now)
        if target is not None and target != self.front:
            self.go_to(target, now)
            self.router.set_target(self.input_target(now))

    def stop(self) -> None:
        for s in self.sessions:
            s.request_stop()  # signal everyone first, then wait
        for s in self.sessions:
            s.stop()

    def all_first_frames(self) -> bool:
        return all(s.status().first_frame for s in self.sessions)

    # --- geometry -----------------------------------------------------------------
    def prism(self) -> Prism:
        """The prism for the sessions' current sizes (rebuilt only when one changes)."""
        sizes = []
        for s in self.sessions:
            fb = s.framebuffer
            if fb is not None and fb.width > 0 and fb.height > 0:
                sizes.append((fb.width, fb.height))
            else:
                sizes.append(DEFAULT_SESSION_SIZE)
        if self._prism is None or sizes != self._sizes:
            self._prism = Prism.from_sizes(sizes)
            self._sizes = sizes
        return self._prism

    def fit_distance(self, viewport: tuple[int, int]) -> float:
        w, h = viewport
        return self.prism().fit_distance(w / h, FOVY)

    def zoom_distance(self, viewport: tuple[int, int]) -> float:
        """Camera distance showing the front face 1:1, or fitted if it is bigger than the window."""
        prism = self.prism()
        w, h = viewport
        fit = prism.fill_distance(self.front, w / h, FOVY)
        fb = self.sessions[self.front].framebuffer
        if fb is None or fb.height == 0:
            return fit
        one_to_one = float(prism.apothems[self.front]) + (
            float(prism.heights[self.front]) * h / (2.0 * math.tan(FOVY / 2.0) * fb.height)
        )
        return max(one_to_one, fit)

    def camera(self, viewport: tuple[int, int], now: float | None = None) -> Camera:
        if now is None or not (self.zoomed or self.zoom.moving(now)):
            return Camera.orbit(self.fit_distance(viewport), FOVY)
        # zoom.angle runs 0 (prism view) .. 1 (front face zoomed); interpolate the distance.
        s = self.zoom.angle(now)
        d = (1 - s) * self.fit_distance(viewport) + s * self.zoom_distance(viewport)
        return Camera.orbit(d, FOVY)

    def toggle_zoom(self, now: float) -> None:
        self.zoomed = not self.zoomed
        self.zoom.retarget(1.0 if self.zoomed else 0.0, now)

    def input_target(self, now: float) -> Target | None:
        """The front session as an input target, or None (view-only or not live)."""
        if not self.sessions:
            return None
        session = self.sessions[self.front]
        fb = session.framebuffer
        if session.config.view_only or fb is None or session.status().state is not State.LIVE:
            return None
        index = self.front

        def to_pixel(sx: float, sy: float) -> tuple[int, int] | None:
            # While turning, input goes to the face that will be in front, as it will be.
            theta = self.rotation.target
            vw, vh = self.viewport
            hit = self.prism().pick(sx, sy, vw, vh, theta, self.camera(self.viewport, now))
            if hit is None or hit.face != index or fb.width == 0:
                return None
            return face_pixel(hit.u, hit.v, fb.width, fb.height)

        return Target(index, session.send_key, session.send_pointer, to_pixel)

    def go_to(self, index: int, now: float) -> None:
        """Rotate (eased, retargetable) so that session `index` faces the viewer."""
        n = len(self.sessions)
        if n == 0:
            return
        self.front = index % n
        target = closest_angle(self.prism().front_angle(self.front), self.rotation.target)
        self.rotation.retarget(target, now)

    def step(self, delta: int, now: float) -> None:
        self.go_to(self.front + delta, now)

    # --- drawing ------------------------------------------------------------------
    def face_views(self, now: float) -> list[FaceView]:
        views = []
        for s in self.sessions:
            st = s.status()
            fb = s.framebuffer if st.state is State.LIVE or st.first_frame else None
            live = st.state is State.LIVE and st.first_frame
            line = st.line(now)
            label = [f"{s.name}  \u00b7  {line}"] if live else [s.name, line]
            cursor = None
            shape, pos = s.cursor, s.cursor_pos
            if live and shape is not None and pos is not None:
                cursor = Cursor(shape.rgba, (shape.hot_x, shape.hot_y), pos, s.cursor_serial)
            views.append(FaceView(fb, label, live, dim=0.0 if live else 0.5, cursor=cursor))
        return views

    def frame(self, viewport: tuple[int, int], now: float, theta: float | None = None) -> int:
        """Upload damage and draw one frame at `now` (GL thread); returns bytes uploaded."""
        if not self.sessions:  # listening, and nobody has connected in yet
            clear(viewport, self.config.wall.background)
            self.frames += 1
            return 0
        if self.renderer is None:
            self.renderer = WallRenderer()
            self.renderer.show_labels = self.config.wall.labels
        prism = self.prism()
        self.renderer.set_prism(prism)
        faces = self.face_views(now)
        uploaded = self.renderer.upload(faces)
        angle = self.rotation.angle(now) if theta is None else theta
        wall = self.config.wall
        self.renderer.draw(faces, angle, self.camera(viewport, now), viewport, wall.opacity,
                           wall.front_opacity, wall.background)
        self.frames += 1
        return uploaded

    # --- interactive loop ---------------------------------------------------------
    def run(self, size: tuple[int, int] | None = None, fullscreen: bool | None = None,
            max_fps: int = 60, duration: float | None = None) -> RunStats:
        """Show the wall until quit (or for `duration` seconds); returns frame statistics."""
        wall = self.config.wall
        self.viewport = open_window(size or wall.size,
                                    wall.fullscreen if fullscreen is None else fullscreen)
        self.router = InputRouter(hotkeys=parse_hotkeys(self.config.keys))
        pygame.key.start_text_input()
        self.clipboard = ClipboardSync(open_clipboard())
        self.start()
        clock = pygame.time.Clock()
        start, cpu0, frames0 = time.monotonic(), time.process_time(), self.frames
        try:
            while self._handle_events(time.monotonic()):
                now = time.monotonic()
                if duration is not None and now - start >= duration:
                    break
                for tick in self.tickers:
                    tick(self, now)
                self.autorotate(now)
                self.frame(self.viewport, now)
                pygame.display.flip()
                clock.tick(max_fps)
        finally:
            self.stop()
            pygame.display.quit()
        return RunStats(self.frames - frames0, time.monotonic() - start,
                        time.process_time() - cpu0)

    def _handle_events(self, now: float) -> bool:
        events = pygame.event.get()
        if self.carousel is not None and any(e.type in USER_INPUT_EVENTS for e in events):
            self.carousel.touch(now)
        for event in events:
            if event.type == pygame.QUIT:
                self.router.release_all()
                return False
            if event.type == pygame.WINDOWSIZECHANGED:
                self.viewport = (event.x, event.y)
        target = self.input_target(now)
        self.router.set_target(target)
        if target is not None:
            self.locks.before_keys(self.sessions[target.index], events, now)
        for action in self.router.handle(events):
            if action == "quit":
                self.router.release_all()
                return False
            self.hotkey(action, now)
        if self.clipboard is not None:
            self.clipboard.tick(self.sessions, self.front, events)
        return True

    def hotkey(self, action: str, now: float) -> None:
        """Carry out a hotkey action (see vncwall.input.router.DEFAULT_HOTKEYS)."""
        if action == "next":
            self.step(+1, now)
        elif action == "previous":
            self.step(-1, now)
        elif action == "first":
            self.go_to(0, now)
        elif action == "zoom":
            self.toggle_zoom(now)
        elif action == "fullscreen":
            try:
                pygame.display.toggle_fullscreen()
            except pygame.error as exc:
                log.warning("cannot toggle fullscreen: %s", exc)
            self.viewport = pygame.display.get_window_size()
        elif action == "grab":
            grab = not pygame.event.get_grab()
            pygame.event.set_grab(grab)
            pygame.event.set_keyboard_grab(grab)
        # Input now belongs to the (possibly new) front session.
        self.router.set_target(self.input_target(now))

    # --- snapshot -----------------------------------------------------------------
    def snapshot(self, size: tuple[int, int], angle_deg: float, timeout: float) -> U8Array:
        """Wait for every session's first frame (or the timeout), render one frame, read it."""
        open_window((64, 64), fullscreen=False, hidden=True)
        self.start()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not self.all_first_frames():
                pygame.event.pump()
                time.sleep(0.05)
            target = OffscreenTarget(*size)
            target.bind()
            # angle 0: session 0 faces the viewer; positive angles turn towards the next.
            self.frame(size, time.monotonic(), theta=-math.radians(angle_deg))
            return read_pixels(*size)
        finally:
            self.stop()
            pygame.display.quit()
