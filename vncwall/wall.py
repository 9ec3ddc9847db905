"""The wall: a pygame OpenGL window showing every session on a rotating prism."""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from .config import Config
from .net.pixelformat import U8Array
from .render.animation import Rotation
from .render.prism import Camera, Prism, closest_angle
from .render.renderer import FaceView, OffscreenTarget, WallRenderer, read_pixels
from .session import Session, State

log = logging.getLogger("vncwall.wall")

DEFAULT_SESSION_SIZE = (1280, 800)  # face shape before a session reports its size
FOVY = math.radians(40.0)


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
    _prism: Prism | None = None
    _sizes: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        wall = self.config.wall
        if not self.sessions:
            self.sessions = [
                Session(s, wall.reconnect_max_seconds, wall.connect_timeout)
                for s in self.config.sessions
            ]
        self.rotation = Rotation(duration=wall.rotate_seconds)

    # --- sessions -----------------------------------------------------------------
    def start(self) -> None:
        for s in self.sessions:
            s.start()

    def stop(self) -> None:
        for s in self.sessions:
            s._stop.set()  # signal everyone first, then wait
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

    def camera(self, viewport: tuple[int, int]) -> Camera:
        w, h = viewport
        return Camera.orbit(self.prism().fit_distance(w / h, FOVY), FOVY)

    def go_to(self, index: int, now: float) -> None:
        """Rotate (eased, retargetable) so that session `index` faces the viewer."""
        n = len(self.sessions)
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
            views.append(FaceView(fb, label, live, dim=0.0 if live else 0.5))
        return views

    def frame(self, viewport: tuple[int, int], now: float, theta: float | None = None) -> int:
        """Upload damage and draw one frame at `now` (GL thread); returns bytes uploaded."""
        if self.renderer is None:
            self.renderer = WallRenderer()
            self.renderer.show_labels = self.config.wall.labels
        prism = self.prism()
        self.renderer.set_prism(prism)
        faces = self.face_views(now)
        uploaded = self.renderer.upload(faces)
        angle = self.rotation.angle(now) if theta is None else theta
        wall = self.config.wall
        self.renderer.draw(faces, angle, self.camera(viewport), viewport, wall.opacity,
                           wall.front_opacity, wall.background)
        self.frames += 1
        return uploaded

    # --- interactive loop ---------------------------------------------------------
    def run(self, size: tuple[int, int] | None = None, fullscreen: bool | None = None,
            max_fps: int = 60) -> None:
        wall = self.config.wall
        viewport = open_window(size or wall.size,
                               wall.fullscreen if fullscreen is None else fullscreen)
        self.start()
        clock = pygame.time.Clock()
        try:
            while self._handle_events(time.monotonic()):
                self.frame(viewport, time.monotonic())
                pygame.display.flip()
                clock.tick(max_fps)
        finally:
            self.stop()
            pygame.display.quit()

    def _handle_events(self, now: float) -> bool:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                return False
            if event.type == pygame.KEYDOWN:
                mods = pygame.key.get_mods()
                chord = bool(mods & pygame.KMOD_CTRL) and bool(mods & pygame.KMOD_ALT)
                if chord and event.key == pygame.K_PAGEDOWN:
                    self.step(+1, now)
                elif chord and event.key == pygame.K_PAGEUP:
                    self.step(-1, now)
                elif chord and event.key == pygame.K_HOME:
                    self.go_to(0, now)
                elif chord and event.key == pygame.K_q:
                    return False
        return True

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
