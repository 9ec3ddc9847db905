"""`vncwall bench-render`: demo servers into a real wall; update-to-screen latency and pace.

Each face's session stamps every FramebufferUpdate with the moment the chunk holding its
last byte arrived (`UpdateEnd.received_at`, the worker's clock). The render loop here is
the wall's own (`Wall.frame`, flip), with the renderer wrapped so that the stamps of all
updates decoded before an upload are taken just before it: those updates' damage is in
that upload. After the flip and glFinish, each taken update's latency is the frame's end
minus its stamp.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .memstat import MemoryFigures, memory_figures
from .net import events as ev
from .net.address import parse_address

FIRST_FRAMES_TIMEOUT = 30.0


@dataclass(frozen=True)
class Spread:
    """Median and 95th percentile of some durations, in milliseconds."""

    median_ms: float
    p95_ms: float
    count: int

    @classmethod
    def of(cls, seconds: list[float]) -> Spread | None:
        if not seconds:
            return None
        a = np.asarray(seconds) * 1000.0
        return cls(float(np.median(a)), float(np.percentile(a, 95)), len(seconds))

    def text(self) -> str:
        return f"median {self.median_ms:.1f} ms, p95 {self.p95_ms:.1f} ms"


@dataclass(frozen=True)
class RenderFigures:
    """What one bench-render run measured (after its warm-up)."""

    faces: int
    scene_size: tuple[int, int]
    window: tuple[int, int]
    server_fps: float
    seconds: float
    frames: int
    latency: Spread | None  # update received -> end of the frame that showed it
    interval: Spread | None  # between frame ends
    decode: Spread | None  # update's last chunk received -> update decoded
    uploaded_bytes: int
    memory: MemoryFigures | None = None  # this process at the end (servers excluded)
    framebuffer_bytes: int = 0  # the sessions' framebuffers together
    upload: Spread | None = None  # CPU time of each frame's uploads (mipmap levels included)
    layout: str = "prism"
    filter: str = "trilinear"
    mipmap_bytes: int = 0  # the faces' mipmap levels kept on the CPU
    background_fps: float = 0.0  # the update cap of every face but the front one
    front_bytes_per_s: float = 0.0  # what the front session received
    background_bytes_per_s: float = 0.0  # what each other session received, on average

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        def spread(s: Spread | None, what: str = "") -> str:
            return "not measured" if s is None else s.text() + what

        sw, sh = self.scene_size
        ww, wh = self.window
        return [
            f"setup: {self.faces} faces of {sw}x{sh} demo scenes at up to {self.server_fps:g} "
            f"updates/s, window {ww}x{wh}, {self.layout} layout, filter {self.filter}, "
            f"{self.seconds:.1f} s measured",
            f"fps: {self.fps:.1f} ({self.frames} frames)",
            f"frame interval: {spread(self.interval)}",
            "update-to-screen latency: " + spread(
                self.latency, f" ({self.latency.count} updates)" if self.latency else ""),
            f"decode: {spread(self.decode)}",
            f"upload: {spread(self.upload, ' per frame')}, "
            f"{self.uploaded_bytes / self.seconds / 1e6:.1f} MB/s",
            f"received: front session {self.front_bytes_per_s / 1e3:.0f} kB/s, each "
            f"background session {self.background_bytes_per_s / 1e3:.0f} kB/s (background_fps "
            + (f"{self.background_fps:g})" if self.background_fps else "off)"),
            *self._memory_lines(),
        ]

    def _memory_lines(self) -> list[str]:
        m = self.memory
        if m is None:
            return []
        mb = 1e6
        return [
            f"memory: peak RSS {m.peak_rss / mb:.0f} MB (GL driver code {m.driver_code / mb:.0f} "
            f"MB of it), framebuffers {self.framebuffer_bytes / mb:.1f} MB, mipmaps "
            f"{self.mipmap_bytes / mb:.1f} MB, "
            f"target {m.target(self.framebuffer_bytes) / mb:.0f} MB",
        ]

    def as_dict(self) -> dict[str, object]:
        def ms(s: Spread | None) -> dict[str, float | int] | None:
            if s is None:
                return None
            return {"median_ms": round(s.median_ms, 3), "p95_ms": round(s.p95_ms, 3),
                    "count": s.count}

        return {
            "faces": self.faces, "scene_size": list(self.scene_size),
            "layout": self.layout, "filter": self.filter, "upload": ms(self.upload),
            "mipmap_bytes": self.mipmap_bytes, "background_fps": self.background_fps,
            "front_bytes_per_s": round(self.front_bytes_per_s),
            "background_bytes_per_s": round(self.background_bytes_per_s),
            "window": list(self.window), "server_fps": self.server_fps,
            "seconds": round(self.seconds, 3), "frames": self.frames,
            "fps": round(self.fps, 2), "latency": ms(self.latency),
            "frame_interval": ms(self.interval), "decode": ms(self.decode),
            "upload_bytes_per_s": round(self.uploaded_bytes / self.seconds)
            if self.seconds > 0 else 0,
            "framebuffer_bytes": self.framebuffer_bytes,
            "memory": None if self.memory is None else {
                "rss": self.memory.rss, "peak_rss": self.memory.peak_rss,
                "driver_code": self.memory.driver_code,
                "target": self.memory.target(self.framebuffer_bytes),
            },
        }


def _serve(faces: int, size: tuple[int, int], fps: float,
           conn: multiprocessing.connection.Connection) -> None:
    """Child process: run the demo servers, report their addresses, wait to be told to stop."""
    from .demo.server import DemoServer

    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(DemoServer(i, *size, fps=fps)) for i in range(faces)]
        conn.send([s.address for s in servers])
        conn.recv()


@contextlib.contextmanager
def demo_servers(faces: int, size: tuple[int, int], fps: float,
                 in_process: bool = False) -> Iterator[list[str]]:
    """Addresses of `faces` demo servers, in a child process (own GIL) unless `in_process`."""
    if in_process:
        from .demo.server import DemoServer

        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(DemoServer(i, *size, fps=fps)) for i in range(faces)]
            yield [s.address for s in servers]
        return
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(faces, size, fps, theirs), daemon=True)
    proc.start()
    try:
        if not ours.poll(FIRST_FRAMES_TIMEOUT):
            raise RuntimeError("the demo servers did not start")
        addresses: list[str] = ours.recv()
        yield addresses
    finally:
        with contextlib.suppress(OSError, BrokenPipeError):
            ours.send("stop")
        proc.join(5.0)
        if proc.is_alive():
            proc.terminate()
            proc.join(5.0)


def bench_render(
    faces: int = 4,
    seconds: float = 5.0,
    window: tuple[int, int] = (1280, 800),
    scene_size: tuple[int, int] = (640, 400),
    server_fps: float = 30.0,
    max_fps: int = 60,
    warmup: float = 1.0,
    in_process: bool = False,
    layout: str = "prism",
    filters: tuple[str, ...] = ("trilinear",),
    background_fps: float = 0.0,
) -> list[RenderFigures]:
    """Show `faces` demo desktops on a wall in a window on $DISPLAY and measure it, once
    per minification filter in `filters`, one after the other on the same sessions.

    Raises vncwall.wall.WindowError when no OpenGL 3.3 window opens, RuntimeError when
    the sessions do not all show a first frame in time.
    """
    import pygame
    from OpenGL import GL

    from .config import Config, SessionConfig, WallConfig
    from .render.renderer import FaceView, WallRenderer
    from .session import Session
    from .wall import Wall, open_window

    stamps: deque[tuple[float, float]] = deque()  # (received_at, decoded_at), worker -> us

    class StampedRenderer(WallRenderer):
        """Takes the stamps of every update decoded so far just before uploading, and
        times the upload."""

        taken: list[tuple[float, float]] = []  # noqa: RUF012 - replaced per upload
        took = 0.0

        def upload(self, faces: list[FaceView]) -> int:
            taken = []
            with contextlib.suppress(IndexError):
                while True:
                    taken.append(stamps.popleft())
            self.taken = taken
            t0 = time.perf_counter()
            n = super().upload(faces)
            self.took = time.perf_counter() - t0
            return n

    def on_event(session: Session, event: ev.Event) -> None:
        # Only once the face shows the session: before that, no upload includes its damage.
        if isinstance(event, ev.UpdateEnd) and session.status().first_frame:
            stamps.append((event.received_at, event.decoded_at))

    results = []
    with demo_servers(faces, scene_size, server_fps, in_process) as addresses:
        sessions = tuple(
            SessionConfig(name=f"demo-{i + 1}", address=parse_address(a))
            for i, a in enumerate(addresses)
        )
        config = Config(WallConfig(fullscreen=False, labels=False, size=window, layout=layout,
                                   filter=filters[0], background_fps=background_fps), sessions)
        wall = Wall(config)
        viewport = open_window(window, fullscreen=False)
        try:
            renderer = StampedRenderer()
            renderer.show_labels = False
            renderer.set_filter(filters[0])
            wall.renderer = renderer
            for s in wall.sessions:
                s.listeners.append(on_event)
            wall.start()
            clock = pygame.time.Clock()
            deadline = time.monotonic() + FIRST_FRAMES_TIMEOUT
            while not wall.all_first_frames():
                if time.monotonic() > deadline:
                    lines = "; ".join(f"{s.name}: {s.status().line()}" for s in wall.sessions)
                    raise RuntimeError(f"not every session showed a first frame ({lines})")
                pygame.event.pump()
                wall.frame(viewport, time.monotonic())
                pygame.display.flip()
                clock.tick(max_fps)
            for mode in filters:
                renderer.set_filter(mode)  # every texture is uploaded whole once: warm-up
                latencies: list[float] = []
                decodes: list[float] = []
                uploads: list[float] = []
                ends: list[float] = []
                uploaded = 0
                start_bytes: list[int] = []
                start = time.monotonic() + warmup
                stop = start + seconds
                while True:
                    pygame.event.pump()
                    uploaded_now = wall.frame(viewport, time.monotonic())
                    pygame.display.flip()
                    GL.glFinish()
                    end = time.monotonic()
                    if end >= stop:
                        break
                    if end >= start:
                        if not ends:
                            start_bytes = [s.bytes_received for s in wall.sessions]
                        ends.append(end)
                        uploaded += uploaded_now
                        uploads.append(renderer.took)
                        for received, decoded in renderer.taken:
                            latencies.append(end - received)
                            decodes.append(decoded - received)
                    clock.tick(max_fps)
                span = (ends[-1] - ends[0]) if len(ends) > 1 else seconds
                got = [(s.bytes_received - b) / span
                       for s, b in zip(wall.sessions, start_bytes, strict=False)]
                others = [g for i, g in enumerate(got) if i != wall.front]
                fb_bytes = sum(fb.pixels.nbytes for s in wall.sessions
                               if (fb := s.framebuffer) is not None)
                mip_bytes = sum(t.mips.nbytes for t in renderer.textures if t.mips is not None)
                results.append(RenderFigures(
                    faces=faces, scene_size=scene_size, window=viewport,
                    server_fps=server_fps,
                    seconds=(ends[-1] - ends[0]) if len(ends) > 1 else seconds,
                    frames=max(len(ends) - 1, 0), latency=Spread.of(latencies),
                    interval=Spread.of(list(np.diff(ends))), decode=Spread.of(decodes),
                    uploaded_bytes=uploaded, memory=memory_figures(),
                    framebuffer_bytes=fb_bytes, upload=Spread.of(uploads), layout=layout,
                    filter=mode, mipmap_bytes=mip_bytes, background_fps=background_fps,
                    front_bytes_per_s=got[wall.front] if got else 0.0,
                    background_bytes_per_s=sum(others) / len(others) if others else 0.0,
                ))
        finally:
            wall.stop()
            pygame.display.quit()
    return results
