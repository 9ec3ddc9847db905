"""The wall: a pygame OpenGL window showing every session on a rotating prism or in a grid."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from .carousel import Carousel
from .clipboard import ClipboardSync, open_clipboard
from .config import Config, ConfigError
from .input.locks import LockSync
from .input.router import InputRouter, Target, parse_hotkeys
from .net.pixelformat import U8Array
from .reload import ReloadPlan, plan_reload
from .render.animation import Rotation
from .render.grid import Grid, Rect, one_to_one
from .render.hud import Hud
from .render.hud_text import FrameRate, hud_table
from .render.prism import Camera, Prism, closest_angle, face_pixel
from .render.remote_size import SizeRequests
from .render.renderer import Cursor, FaceView, OffscreenTarget, WallRenderer, clear, read_pixels
from .render.scene import Scene, compose
from .render.window import SDL_DISPLAYEVENT, refit_fullscreen
from .render.window import WindowError as WindowError  # re-exported: the CLI catches it
from .render.window import open_window as open_window  # re-exported: benches, tests
from .session import Session, State

log = logging.getLogger("vncwall.wall")

DEFAULT_SESSION_SIZE = (1280, 800)  # face shape before a session reports its size
FOVY = math.radians(40.0)
Wanted = tuple[object, tuple[int, int]]  # a session's connection and the size to ask for
SWITCH_SECONDS = 0.6  # the animated change between prism and grid
# Events that count as someone using the wall: they pause the carousel.
USER_INPUT_EVENTS = frozenset({
    pygame.KEYDOWN, pygame.KEYUP, pygame.TEXTINPUT, pygame.MOUSEMOTION, pygame.MOUSEBUTTONDOWN,
    pygame.MOUSEBUTTONUP, pygame.MOUSEWHEEL, pygame.FINGERDOWN, pygame.FINGERUP,
    pygame.FINGERMOTION,
})


def fb_size(session: Session) -> str:
    """'WxH' of a session's framebuffer, or '?'."""
    fb = session.framebuffer
    return "?" if fb is None else f"{fb.width}x{fb.height}"


def _stop_all(sessions: list[Session]) -> None:
    for s in sessions:
        s.stop()


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


@dataclass
class Wall:
    """Sessions, the prism's or grid's motion, and drawing; GL work happens in `frame` only.

    `layout` is where the wall is heading ("prism" or "grid"); `switch` runs 0 (prism)
    .. 1 (grid) and blends every face's placement between the two. `front` is the
    session in front of the prism, which is also the focused tile of the grid.
    """

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
    layout: str = "prism"
    switch: Rotation = field(default_factory=lambda: Rotation(duration=SWITCH_SECONDS))
    hud_on: bool = False
    hud: Hud | None = None
    frame_rate: FrameRate = field(default_factory=FrameRate)
    sizer: SizeRequests = field(default_factory=SizeRequests)
    _grid: tuple[object, Grid] | None = None
    fullscreen: bool = False  # what the open window is (run sets it; the hotkey toggles it)
    # Reads the config file again for a reload (None: nothing to reload, e.g. the demo).
    config_loader: Callable[[], Config] | None = None
    reload_requested: bool = False  # set by SIGHUP; carried out by the next frame
    quit_requested: bool = False  # set by SIGTERM: end the run loop cleanly
    reloads: int = 0
    listening: bool = False  # servers may connect in: a config without sessions is fine
    reload_failures: int = 0

    def __post_init__(self) -> None:
        wall = self.config.wall
        self.layout = wall.layout
        self.switch.jump(1.0 if self.layout == "grid" else 0.0, 0.0)
        self.hud_on = wall.hud
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

    def reload(self, now: float) -> dict[str, list[str]]:
        """Read the config again and apply it (GL thread); ConfigError: the old one stays."""
        if self.config_loader is None:
            raise ConfigError("this wall has no config file to reload")
        try:
            cfg = self.config_loader()
            if not cfg.sessions and not self.listening:
                raise ConfigError(f"{cfg.path}: session: no [[session]] configured")
        except ConfigError as exc:
            self.reload_failures += 1
            log.error("reload refused, keeping the running config: %s", exc)
            raise
        plan = self.apply_config(cfg, now)
        self.reloads += 1
        summary = plan.summary()
        log.warning("reloaded %s: %s", cfg.path or "the config",
                    "; ".join(f"{k} {', '.join(v)}" for k, v in summary.items() if v)
                    or "no session changed")
        return summary

    def apply_config(self, cfg: Config, now: float) -> ReloadPlan:
        """Switch to `cfg`: unchanged sessions keep their connections and pictures,
        changed ones reconnect, new ones start, removed ones stop (GL thread)."""
        configured = [s for s in self.sessions if any(s.config is c for c in
                                                      self.config.sessions)]
        others = [s for s in self.sessions if s not in configured]  # connected in
        plan = plan_reload([s.config for s in configured], cfg.sessions)
        wall = cfg.wall
        fresh: list[Session] = []
        for keep, c in zip(plan.order, cfg.sessions, strict=True):
            if keep is None:
                fresh.append(Session(c, wall.reconnect_max_seconds, wall.connect_timeout))
            else:
                s = configured[keep]
                s.config = c  # equal, but this config's own object (identity marks origin)
                s.reconnect_cap, s.timeout = wall.reconnect_max_seconds, wall.connect_timeout
                fresh.append(s)
        sessions = fresh + others
        gone = [configured[i] for i in plan.stopped]
        front = self.sessions[self.front] if self.sessions else None
        old_slots = list(self.sessions)
        old_wall = self.config.wall
        self.config = cfg
        self.sessions = sessions  # replaced whole: other threads read the list as it is
        for s in gone:
            s.request_stop()
        if gone:
            threading.Thread(target=_stop_all, args=(gone,), daemon=True,
                             name="vncwall-reload-stop").start()
        if self.started:
            for s in sessions:
                if s not in old_slots:
                    s.start()
        if self.renderer is not None:  # a slot showing another session uploads it whole
            self.renderer.show_labels = wall.labels
            self.renderer.set_filter(wall.filter)
            for i, tex in enumerate(self.renderer.textures):
                if i >= len(old_slots) or i >= len(sessions) or old_slots[i] is not sessions[i]:
                    tex.source = None
                    self.renderer.cursors[i].key = None
        self.sizer = SizeRequests()
        self._prism, self._grid = None, None
        self.rotation.duration = wall.rotate_seconds
        if self.carousel is not None:
            self.carousel.interval = wall.autorotate_seconds
            self.carousel.resume_after = wall.autorotate_resume_seconds
            self.carousel.skip_down = wall.skip_down
        if wall.layout != old_wall.layout and wall.layout != self.layout:
            self.toggle_layout(now)
        if wall.hud != old_wall.hud:
            self.hud_on = wall.hud
        self.router.hotkeys = parse_hotkeys(cfg.keys)
        for key in ("fullscreen", "size", "display"):
            if getattr(wall, key) != getattr(old_wall, key):
                log.warning("reload: [wall] %s takes effect when the wall restarts", key)
        if sessions:
            index = sessions.index(front) if front in sessions else min(self.front,
                                                                         len(sessions) - 1)
            self.front = index
            self.rotation.jump(closest_angle(self.prism().front_angle(index),
                                             self.rotation.target), now)
        else:
            self.front = 0
        self.router.set_target(self.input_target(now))
        return plan

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
    def sizes(self) -> list[tuple[int, int]]:
        """Every session's framebuffer size (a default shape before it has one)."""
        sizes = []
        for s in self.sessions:
            fb = s.framebuffer
            if fb is not None and fb.width > 0 and fb.height > 0:
                sizes.append((fb.width, fb.height))
            else:
                sizes.append(DEFAULT_SESSION_SIZE)
        return sizes

    def prism(self) -> Prism:
        """The prism for the sessions' current sizes (rebuilt only when one changes)."""
        sizes = self.sizes()
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

    def grid(self, viewport: tuple[int, int]) -> Grid:
        """The grid for the sessions' sizes in this window (rebuilt only when either changes)."""
        key = (tuple(self.sizes()), viewport)
        if self._grid is None or self._grid[0] != key:
            self._grid = (key, Grid.layout(key[0], viewport))
        return self._grid[1]

    def zoom_rect(self, viewport: tuple[int, int]) -> Rect:
        """Where the focused tile goes when zoomed in the grid: 1:1, or fitted if bigger."""
        w, h = self.sizes()[self.front]
        return one_to_one(viewport, w, h)

    def focus_rect(self, viewport: tuple[int, int], zoom: float) -> Rect:
        """The focused tile's picture in the grid, `zoom` (0..1) of the way to `zoom_rect`."""
        tile = self.grid(viewport).contents[self.front]
        return tile.lerp(self.zoom_rect(viewport), zoom) if zoom > 0 else tile

    def mix(self, now: float) -> float:
        """How far the wall is from prism (0) to grid (1), eased."""
        return min(max(self.switch.angle(now), 0.0), 1.0)

    def camera(self, viewport: tuple[int, int], now: float | None = None) -> Camera:
        fit = self.fit_distance(viewport)
        if now is None or not (self.zoomed or self.zoom.moving(now)):
            d = fit
        else:
            # zoom.angle runs 0 (prism view) .. 1 (front face zoomed); interpolate the distance.
            s = self.zoom.angle(now)
            d = (1 - s) * fit + s * self.zoom_distance(viewport)
        if now is not None:
            e = self.mix(now)  # the grid zooms its tile in its own plane: camera stays back
            d = (1 - e) * d + e * fit
        return Camera.orbit(d, FOVY)

    def toggle_zoom(self, now: float) -> None:
        self.zoomed = not self.zoomed
        self.zoom.retarget(1.0 if self.zoomed else 0.0, now)

    def toggle_layout(self, now: float) -> None:
        """Switch between prism and grid, animated (retargetable mid-way)."""
        self.layout = "prism" if self.layout == "grid" else "grid"
        self.switch.retarget(1.0 if self.layout == "grid" else 0.0, now)

    def moving(self, now: float) -> bool:
        """Whether anything is animating (rotation, zoom, layout switch)."""
        return self.rotation.moving(now) or self.zoom.moving(now) or self.switch.moving(now)

    def input_target(self, now: float) -> Target | None:
        """The front (focused) session as an input target, or None (view-only or not live)."""
        if not self.sessions:
            return None
        session = self.sessions[self.front]
        fb = session.framebuffer
        if session.config.view_only or fb is None or session.status().state is not State.LIVE:
            return None
        index = self.front

        def to_pixel(sx: float, sy: float) -> tuple[int, int] | None:
            # While moving, input goes to the face as it will be once the motion ends.
            if fb.width == 0 or fb.height == 0 or min(self.viewport) <= 0:
                return None
            if self.layout == "grid":
                rect = self.focus_rect(self.viewport, 1.0 if self.zoomed else 0.0)
                if not rect.contains(sx, sy):
                    return None
                u, v = rect.uv(sx, sy)
                return face_pixel(u, v, fb.width, fb.height)
            theta = self.rotation.target
            vw, vh = self.viewport
            d = self.zoom_distance(self.viewport) if self.zoomed else self.fit_distance(
                self.viewport)
            hit = self.prism().pick(sx, sy, vw, vh, theta, Camera.orbit(d, FOVY))
            if hit is None or hit.face != index:
                return None
            return face_pixel(hit.u, hit.v, fb.width, fb.height)

        return Target(index, session.send_key, session.send_pointer, to_pixel)

    def clicked_tile(self, event: pygame.event.Event) -> int | None:
        """The grid tile a mouse press lands on, when that press should focus it.

        In the grid (not zoomed) pressing on another tile makes it the focused session;
        that press itself goes nowhere. None: the press is ordinary input.
        """
        if event.type != pygame.MOUSEBUTTONDOWN or self.layout != "grid" or self.zoomed:
            return None
        if not self.sessions or min(self.viewport) <= 0:
            return None
        tile = self.grid(self.viewport).tile_at(event.pos[0] + 0.5, event.pos[1] + 0.5)
        return tile if tile is not None and tile != self.front else None

    def focus(self, index: int, now: float) -> None:
        """Make session `index` the focused one (the grid's outline, the prism's front)."""
        self.go_to(index, now)
        self.router.set_target(self.input_target(now))

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
            fb = s.painted if st.state is State.LIVE or st.first_frame else None
            live = st.state is State.LIVE and st.first_frame
            line = st.line(now)
            if fb is not None and (fb.width == 0 or fb.height == 0):
                fb, live = None, False  # nothing to draw: say so on the face
                line = f"empty desktop ({fb_size(s)})"
            label = [f"{s.name}  \u00b7  {line}"] if live else [s.name, line]
            cursor = None
            shape, pos = s.cursor, s.cursor_pos
            if live and shape is not None and pos is not None:
                cursor = Cursor(shape.rgba, (shape.hot_x, shape.hot_y), pos, s.cursor_serial)
            views.append(FaceView(fb, label, live, dim=0.0 if live else 0.5, cursor=cursor))
        return views

    def scene(self, viewport: tuple[int, int], now: float, theta: float | None = None) -> Scene:
        """Where every face is at `now`: the prism at `theta` blended towards the grid."""
        prism = self.prism()
        angle = self.rotation.angle(now) if theta is None else theta
        camera = self.camera(viewport, now)
        e = self.mix(now)
        rects: list[Rect] = []
        outline = None
        top = None
        if e > 0:
            grid = self.grid(viewport)
            z = self.zoom.angle(now) if (self.zoomed or self.zoom.moving(now)) else 0.0
            z = min(max(z, 0.0), 1.0)
            rects = list(grid.contents)
            rects[self.front] = self.focus_rect(viewport, z)
            top = self.front if z > 0 else None
            if len(rects) > 1 and not self.switch.moving(now):
                grow = max(2.0, grid.gap / 2.0)
                outline = (grid.contents[self.front].grown(grow), 1.0 - z)
        wall = self.config.wall
        return compose(prism, angle, camera, viewport, rects, e, wall.opacity,
                       wall.front_opacity, top, outline)

    def frame(self, viewport: tuple[int, int], now: float, theta: float | None = None) -> int:
        """Upload damage and draw one frame at `now` (GL thread); returns bytes uploaded."""
        self.frame_rate.tick(now)
        if viewport[0] <= 0 or viewport[1] <= 0:  # minimised: nothing to draw into
            return 0
        if not self.sessions:  # listening, and nobody has connected in yet
            clear(viewport, self.config.wall.background)
            self._draw_hud(viewport, now)
            self.frames += 1
            return 0
        if self.renderer is None:
            self.renderer = WallRenderer()
            self.renderer.show_labels = self.config.wall.labels
            self.renderer.set_filter(self.config.wall.filter)
        self.renderer.ensure(len(self.sessions))
        self.pace_updates()
        faces = self.face_views(now)
        uploaded = self.renderer.upload(faces)
        scene = self.scene(viewport, now, theta)
        self.renderer.draw(faces, scene, self.camera(viewport, now), viewport,
                           self.config.wall.background, self.prism().aspects)
        for session, error in zip(self.sessions, self.renderer.face_errors, strict=False):
            session.set_display_error(error)
        self._draw_hud(viewport, now)
        self.frames += 1
        return uploaded

    def pace_updates(self) -> None:
        """Cap every session's update rate but the front one's at its background_fps
        (the session's own, else [wall]'s; 0: no cap); the front one is never capped."""
        default = self.config.wall.background_fps
        for i, s in enumerate(self.sessions):
            own = s.config.background_fps
            s.set_max_fps(0.0 if i == self.front else default if own is None else own)

    def _draw_hud(self, viewport: tuple[int, int], now: float) -> None:
        if not self.hud_on:
            return
        if self.hud is None:
            self.hud = Hud()
        self.hud.draw(viewport, now, lambda: hud_table(
            self.sessions, self.front, self.frame_rate.fps(now), self.layout, now))

    def wanted_sizes(self, viewport: tuple[int, int]) -> list[Wanted | None]:
        """Per session with resize_remote: (its connection, the pixel size its face shows at).

        In the grid that is its tile; on the prism the window (a face zoomed to fit).
        None where nothing should be asked (not live, not wanted, already that size).
        """
        grid = self.grid(viewport) if self.layout == "grid" and self.sessions else None
        out: list[Wanted | None] = []
        for i, s in enumerate(self.sessions):
            fb = s.framebuffer
            if (not s.config.resize_remote or fb is None or fb.width == 0
                    or s.status().state is not State.LIVE):
                out.append(None)
                continue
            if grid is not None:
                cell = grid.cells[i]
                size = (round(cell.w), round(cell.h))
            else:
                size = viewport
            out.append(None if size == (fb.width, fb.height) else (fb, size))
        return out

    def request_sizes(self, viewport: tuple[int, int], now: float) -> None:
        """Ask resize_remote sessions for their faces' sizes once things have settled."""
        if min(viewport) <= 0:
            return
        wanted = self.wanted_sizes(viewport)
        for i, (w, h) in self.sizer.due(wanted, self.moving(now), now):
            self.sessions[i].request_desktop_size(w, h)

    # --- interactive loop ---------------------------------------------------------
    def run(self, size: tuple[int, int] | None = None, fullscreen: bool | None = None,
            max_fps: int = 60, duration: float | None = None) -> RunStats:
        """Show the wall until quit (or for `duration` seconds); returns frame statistics."""
        wall = self.config.wall
        self.fullscreen = wall.fullscreen if fullscreen is None else fullscreen
        self.viewport = open_window(size or wall.size, self.fullscreen, display=wall.display)
        self.router = InputRouter(hotkeys=parse_hotkeys(self.config.keys))
        pygame.key.start_text_input()
        self.clipboard = ClipboardSync(open_clipboard())
        self.start()
        clock = pygame.time.Clock()
        start, cpu0, frames0 = time.monotonic(), time.process_time(), self.frames
        try:
            while self._handle_events(time.monotonic()):
                now = time.monotonic()
                if self.quit_requested or (duration is not None and now - start >= duration):
                    break
                if self.reload_requested:
                    self.reload_requested = False
                    with contextlib.suppress(ConfigError):  # logged; the old config stays
                        self.reload(now)
                for tick in self.tickers:
                    tick(self, now)
                self.autorotate(now)
                self.request_sizes(self.viewport, now)
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
            elif event.type == pygame.WINDOWDISPLAYCHANGED:
                # Another monitor: its size may differ; follow what the window is now.
                self.viewport = pygame.display.get_window_size()
                log.info("window now on display %s, %dx%d",
                         getattr(event, "display_index", "?"), *self.viewport)
            elif event.type == SDL_DISPLAYEVENT and self.fullscreen:
                refit_fullscreen()
        # A press that focuses a grid tile splits the batch: what came before it goes to
        # the old target, what follows to the newly focused session.
        batch: list[pygame.event.Event] = []
        for event in events:
            tile = self.clicked_tile(event)
            if tile is None:
                batch.append(event)
                continue
            if not self._route(batch, now):
                return False
            batch = []
            self.focus(tile, now)
        if not self._route(batch, now):
            return False
        if self.clipboard is not None:
            self.clipboard.tick(self.sessions, self.front, events)
        return True

    def _route(self, events: list[pygame.event.Event], now: float) -> bool:
        """Hand events to the focused session and carry out hotkeys; False: quit."""
        target = self.input_target(now)
        self.router.set_target(target)
        if target is not None:
            self.locks.before_keys(self.sessions[target.index], events, now)
        for action in self.router.handle(events):
            if action == "quit":
                self.router.release_all()
                return False
            self.hotkey(action, now)
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
        elif action == "layout":
            self.toggle_layout(now)
        elif action == "hud":
            self.hud_on = not self.hud_on
        elif action == "fullscreen":
            try:
                pygame.display.toggle_fullscreen()
                self.fullscreen = not self.fullscreen
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
