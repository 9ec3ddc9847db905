"""Animated demo desktops drawn with numpy; each frame redraws only what moved."""

from __future__ import annotations

import colorsys
import math
import os
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from ..net.framebuffer import Rect
from ..net.pixelformat import U8Array

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

RGB = tuple[int, int, int]
F32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

# --- geometry ------------------------------------------------------------------------


def intersect(a: Rect, b: Rect) -> Rect | None:
    """The overlap of two rectangles, or None when they do not overlap."""
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    if x1 <= x0 or y1 <= y0:
        return None
    return Rect(x0, y0, x1 - x0, y1 - y0)


def bounds(rects: Iterable[Rect]) -> Rect | None:
    """The smallest rectangle holding every non-empty rectangle given, or None."""
    out: Rect | None = None
    for r in rects:
        if r.area:
            out = r if out is None else out.union(r)
    return out


def _box(x0: float, y0: float, x1: float, y1: float, pad: float) -> Rect:
    """Integer rectangle covering the float box [x0, x1] x [y0, y1] grown by `pad`."""
    lx, hx = min(x0, x1) - pad, max(x0, x1) + pad
    ly, hy = min(y0, y1) - pad, max(y0, y1) + pad
    ix, iy = math.floor(lx), math.floor(ly)
    return Rect(ix, iy, math.ceil(hx) - ix + 1, math.ceil(hy) - iy + 1)


# --- what a scene hands the server ---------------------------------------------------


@dataclass(frozen=True)
class Scroll:
    """The pixels of `region` moved `dy` rows down (negative: up) before `dirty` was drawn."""

    region: Rect
    dy: int

    def copy(self) -> tuple[Rect, int, int] | None:
        """CopyRect terms: destination rectangle and source x, y; None if nothing survives."""
        r, s = self.region, abs(self.dy)
        if s >= r.h or s == 0:
            return None
        if self.dy < 0:
            return Rect(r.x, r.y, r.w, r.h - s), r.x, r.y + s
        return Rect(r.x, r.y + s, r.w, r.h - s), r.x, r.y

    def exposed(self) -> Rect:
        """The strip of `region` the move left without valid content."""
        r, s = self.region, min(abs(self.dy), self.region.h)
        if self.dy < 0:
            return Rect(r.x, r.y + r.h - s, r.w, s)
        return Rect(r.x, r.y, r.w, s)


@dataclass(frozen=True)
class Frame:
    """One step of a scene.

    `pixels` is the scene's own (h, w, 3) RGB buffer, valid until the next `frame()` call;
    `scroll`, when set, happened first, then the `dirty` rectangles were redrawn.
    """

    pixels: U8Array
    dirty: tuple[Rect, ...]
    scroll: Scroll | None = None


class FrameSource(Protocol):
    """What the demo server serves: a desktop name and a frame for each moment."""

    name: str

    def frame(self, t: float) -> Frame:
        """Advance to `t` seconds (never decreasing) and say what changed."""
        ...


# --- colours and drawing -------------------------------------------------------------


def scene_colour(index: int) -> RGB:
    """A distinct base colour per scene index (hues spaced by the golden ratio)."""
    hue = (0.58 + index * 0.381966) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.55, 0.62)
    return (round(r * 255), round(g * 255), round(b * 255))


def mix(a: RGB, b: RGB, f: float) -> RGB:
    """Linear blend from `a` (f=0) to `b` (f=1)."""
    return (
        round(a[0] + (b[0] - a[0]) * f),
        round(a[1] + (b[1] - a[1]) * f),
        round(a[2] + (b[2] - a[2]) * f),
    )


WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)


def blend(dst: U8Array, alpha: U8Array, colour: RGB | U8Array) -> None:
    """Blend `colour` (RGB or an (h, w, 3) image) over `dst` in place; `alpha` is 0..255."""
    covered = alpha != 0
    count = int(np.count_nonzero(covered))
    if count == 0:
        return
    c = np.asarray(colour, dtype=np.uint16)
    if count < alpha.size // 2:  # thin shapes and text: touch only the covered pixels
        a = alpha[covered].astype(np.uint16)[:, None]
        if c.ndim > 1:
            c = c[covered]
        dst[covered] = ((dst[covered] * (255 - a) + c * a + 127) // 255).astype(np.uint8)
        return
    a = alpha.astype(np.uint16)[..., None]
    dst[...] = ((dst.astype(np.uint16) * (255 - a) + c * a + 127) // 255).astype(np.uint8)


def coverage(values: F32Array) -> U8Array:
    """Float coverage 0..1 (clipped) as 0..255 alpha."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


_FONT_LOCK = threading.Lock()
_FONTS: dict[tuple[int, bool], Any] = {}


def text_alpha(text: str, size: int, bold: bool = False) -> U8Array:
    """Anti-aliased coverage (h, w) of `text` in pygame's bundled font, `size` pixels high.

    Only pygame.font and Surfaces are used (no display); calls are serialised because
    the font library is shared by every scene thread.
    """
    import pygame  # deferred: importing pygame is slow and only text needs it
    import pygame.font

    with _FONT_LOCK:
        if not pygame.font.get_init():
            pygame.font.init()
        key = (max(1, size), bold)
        font = _FONTS.get(key)
        if font is None:
            font = pygame.font.Font(None, key[0])
            font.set_bold(bold)
            _FONTS[key] = font
        surface = font.render(text or " ", True, (255, 255, 255))
        w, h = surface.get_size()
        data = pygame.image.tobytes(surface, "RGBA")
    rgba = np.frombuffer(data, dtype=np.uint8).reshape(h, w, 4)
    return np.ascontiguousarray(rgba[:, :, 3])


def paste_alpha(
    buf: U8Array, x: int, y: int, alpha: U8Array, colour: RGB, clip: Rect | None = None
) -> Rect | None:
    """Blend a coverage mask at (x, y) into `buf`, clipped to `clip` and the buffer."""
    h, w = alpha.shape
    area = Rect(0, 0, buf.shape[1], buf.shape[0])
    if clip is not None:
        area = intersect(area, clip) or Rect(0, 0, 0, 0)
    r = intersect(Rect(x, y, w, h), area)
    if r is None:
        return None
    sub = alpha[r.y - y : r.y - y + r.h, r.x - x : r.x - x + r.w]
    blend(buf[r.y : r.y + r.h, r.x : r.x + r.w], sub, colour)
    return r


def draw_text(
    buf: U8Array, x: int, y: int, text: str, size: int, colour: RGB,
    bold: bool = False, clip: Rect | None = None,
) -> Rect | None:
    """Draw text with its top-left corner at (x, y); returns the rectangle touched."""
    return paste_alpha(buf, x, y, text_alpha(text, size, bold), colour, clip)


def fill(buf: U8Array, r: Rect, colour: RGB) -> None:
    """Fill a rectangle (clipped to the buffer) with one colour."""
    r2 = intersect(r, Rect(0, 0, buf.shape[1], buf.shape[0]))
    if r2 is not None:
        buf[r2.y : r2.y + r2.h, r2.x : r2.x + r2.w] = colour


def draw_segment(
    buf: U8Array, p0: tuple[float, float], p1: tuple[float, float], width: float,
    colour: RGB, clip: Rect,
) -> None:
    """An anti-aliased thick line with round caps, computed only inside `clip`."""
    half = width / 2
    r = intersect(_box(p0[0], p0[1], p1[0], p1[1], half + 1), clip)
    if r is None:
        return
    r = intersect(r, Rect(0, 0, buf.shape[1], buf.shape[0]))
    if r is None:
        return
    xs = np.arange(r.x, r.x + r.w, dtype=np.float32)[None, :] - np.float32(p0[0])
    ys = np.arange(r.y, r.y + r.h, dtype=np.float32)[:, None] - np.float32(p0[1])
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length2 = dx * dx + dy * dy
    if length2 > 0:
        u = np.clip((xs * dx + ys * dy) / np.float32(length2), 0.0, 1.0)
        ex = xs - u * np.float32(dx)
        ey = ys - u * np.float32(dy)
    else:
        ex, ey = xs + 0 * ys, ys + 0 * xs
    dist = np.sqrt(ex * ex + ey * ey)
    blend(buf[r.y : r.y + r.h, r.x : r.x + r.w], coverage(np.float32(half + 0.5) - dist),
          colour)


# --- the desktop every scene shares ----------------------------------------------------


class Scene:
    """A demo desktop: gradient, title bar with a clock, its name in big letters.

    Subclasses add static parts in `paint_static` (into `background`), draw their
    animated parts the first time in `start`, and advance them in `update`, which
    returns the rectangles it redrew and an optional scroll. `frame(t)` is the API
    the server uses; `t` is seconds since the server started and only grows.
    """

    kind: ClassVar[str] = "desktop"
    caption: ClassVar[str] = "an idle desktop"
    panel_title: ClassVar[str | None] = None
    body_colour: ClassVar[RGB] = (24, 26, 30)

    def __init__(
        self, name: str = "demo", width: int = 1280, height: int = 800,
        colour: RGB = (58, 110, 165), epoch: float | None = None,
    ) -> None:
        if not (32 <= width <= 8192 and 32 <= height <= 8192):
            raise ValueError(f"scene size {width}x{height} outside 32x32..8192x8192")
        self.name = name
        self.width = width
        self.height = height
        self.colour = colour
        self.epoch = time.time() if epoch is None else epoch
        self.seed = zlib.crc32(name.encode())
        bar_h = max(12, height // 25)
        self.bar = Rect(0, 0, width, bar_h)
        self.content = Rect(0, bar_h, width, height - bar_h)
        self.panel: Rect | None = None
        self.body = self.content
        self.background: U8Array = np.zeros((height, width, 3), dtype=np.uint8)
        self._paint_desktop()
        self.paint_static()
        self.pixels: U8Array = self.background.copy()
        self._started = False
        self._clock_text = ""
        self._clock_rect: Rect | None = None

    @property
    def full(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    # --- the API -------------------------------------------------------------------
    def frame(self, t: float) -> Frame:
        """Advance to time `t` and say what changed since the previous call."""
        if not self._started:
            self._started = True
            self.pixels[...] = self.background
            self.start(t)
            self._title_clock(t)
            return Frame(self.pixels, (self.full,))
        dirty, scroll = self.update(t)
        clock = self._title_clock(t)
        if clock is not None:
            dirty.append(clock)
        return Frame(self.pixels, tuple(dirty), scroll)

    # --- for subclasses ------------------------------------------------------------
    def paint_static(self) -> None:
        """Add static parts to `background` (called once, from __init__)."""

    def start(self, t: float) -> None:
        """Draw the animated parts into `pixels` for the first time."""

    def update(self, t: float) -> tuple[list[Rect], Scroll | None]:
        """Advance the animation in `pixels`; return redrawn rectangles and a scroll."""
        return [], None

    def restore(self, r: Rect) -> None:
        """Copy the static background back over a rectangle of `pixels`."""
        r2 = intersect(r, self.full)
        if r2 is not None:
            sl = (slice(r2.y, r2.y + r2.h), slice(r2.x, r2.x + r2.w))
            self.pixels[sl] = self.background[sl]

    # --- the shared desktop ------------------------------------------------------------
    def _paint_desktop(self) -> None:
        bg = self.background
        top = np.array(mix(self.colour, WHITE, 0.22), dtype=np.float32)
        bottom = np.array(mix(self.colour, BLACK, 0.45), dtype=np.float32)
        f = np.linspace(0.0, 1.0, self.height, dtype=np.float32)[:, None]
        rows = (top[None, :] * (1 - f) + bottom[None, :] * f + 0.5).astype(np.uint8)
        bg[...] = rows[:, None, :]

        bar = self.bar
        fill(bg, bar, mix(self.colour, BLACK, 0.65))
        fill(bg, Rect(0, bar.h - 2, self.width, 2), mix(self.colour, WHITE, 0.35))
        size = max(8, int(bar.h * 0.7))
        draw_text(bg, bar.h // 2, (bar.h - size * 3 // 4) // 2 - 1,
                  f"{self.name}  \u2014  vncwall demo desktop", size, (235, 235, 235))

        big = max(12, int(self.height * 0.2))
        x = max(2, int(self.width * 0.04))
        y = bar.h + max(2, int(self.height * 0.035))
        shadow = max(1, big // 40)
        letters = text_alpha(self.name, big, bold=True)
        paste_alpha(bg, x + shadow, y + shadow, letters, mix(self.colour, BLACK, 0.7))
        paste_alpha(bg, x, y, letters, mix(self.colour, WHITE, 0.8))
        draw_text(bg, x + shadow, y + letters.shape[0], self.caption,
                  max(8, int(self.height * 0.035)), mix(self.colour, WHITE, 0.6))

        if self.panel_title is not None:
            w, h = self.width, self.height
            panel = Rect(int(w * 0.40), int(h * 0.36), int(w * 0.56), int(h * 0.58))
            self.panel = panel
            title_h = max(8, bar.h * 3 // 4)
            fill(bg, panel, (20, 20, 22))
            inner = Rect(panel.x + 1, panel.y + 1, panel.w - 2, panel.h - 2)
            title = Rect(inner.x, inner.y, inner.w, title_h)
            fill(bg, title, mix(self.colour, (200, 200, 200), 0.7))
            draw_text(bg, inner.x + title_h // 2, inner.y + title_h // 8, self.panel_title,
                      max(6, int(title_h * 0.8)), (30, 30, 30), clip=inner)
            self.body = Rect(inner.x, inner.y + title_h, inner.w, max(1, inner.h - title_h))
            fill(bg, self.body, self.body_colour)

    def _title_clock(self, t: float) -> Rect | None:
        """Redraw the clock in the title bar when its text changes (once a second)."""
        text = time.strftime("%H:%M:%S", time.localtime(self.epoch + t))
        if text == self._clock_text:
            return None
        self._clock_text = text
        old = self._clock_rect
        if old is not None:
            self.restore(old)
        size = max(8, int(self.bar.h * 0.7))
        alpha = text_alpha(text, size)
        x = self.width - alpha.shape[1] - self.bar.h // 2
        y = (self.bar.h - size * 3 // 4) // 2 - 1
        clip = Rect(0, 0, self.width, self.bar.h - 2)
        drawn = paste_alpha(self.pixels, x, y, alpha, (235, 235, 235), clip)
        self._clock_rect = drawn
        return bounds([r for r in (old, drawn) if r is not None])


# --- the animated scenes -------------------------------------------------------------


def _triangle(u: float, lo: float, hi: float) -> float:
    """Bounce `u` back and forth between lo and hi."""
    span = hi - lo
    if span <= 0:
        return lo
    p = u % (2 * span)
    return lo + (p if p < span else 2 * span - p)


class BounceScene(Scene):
    """A shaded ball bouncing around the whole desktop."""

    kind = "bounce"
    caption = "a bouncing ball"

    def paint_static(self) -> None:
        r = max(4, min(self.width, self.height) // 12)
        self.radius = r
        n = 2 * r + 1
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) - np.float32(r)
        dist = np.sqrt(xx * xx + yy * yy)
        self.sprite_alpha = coverage(r + 0.5 - dist)
        hx = hy = -r / 3
        light = np.clip(1.0 - np.sqrt((xx - hx) ** 2 + (yy - hy) ** 2) / (1.6 * r), 0.0, 1.0)
        base = np.array(mix(scene_colour(self.seed % 7 + 3), WHITE, 0.1), dtype=np.float32)
        shade = base[None, None, :] * (0.35 + 0.65 * light[..., None])
        spec = np.clip(1.0 - np.sqrt((xx - hx) ** 2 + (yy - hy) ** 2) / (0.35 * r), 0.0, 1.0)
        shade = shade + (255.0 - shade) * (spec[..., None] ** 2)
        self.sprite: U8Array = np.clip(shade + 0.5, 0, 255).astype(np.uint8)
        self.ball: Rect | None = None

    def _position(self, t: float) -> tuple[int, int]:
        c, r = self.content, self.radius
        x = _triangle(t * self.width * 0.31 + self.seed % 97, c.x, c.x + c.w - 2 * r - 1)
        y = _triangle(t * self.height * 0.43 + self.seed % 89, c.y, c.y + c.h - 2 * r - 1)
        return int(x), int(y)

    def _draw(self, t: float) -> Rect:
        x, y = self._position(t)
        n = 2 * self.radius + 1
        r = Rect(x, y, n, n)
        clipped = intersect(r, self.full)
        assert clipped is not None
        dst = self.pixels[clipped.y : clipped.y + clipped.h, clipped.x : clipped.x + clipped.w]
        sy, sx = clipped.y - y, clipped.x - x
        sl = (slice(sy, sy + clipped.h), slice(sx, sx + clipped.w))
        blend(dst, self.sprite_alpha[sl], self.sprite[sl])
        return clipped

    def start(self, t: float) -> None:
        self.ball = self._draw(t)

    def update(self, t: float) -> tuple[list[Rect], Scroll | None]:
        old = self.ball
        if old is not None and (old.x, old.y) == self._position(t):
            return [], None
        if old is not None:
            self.restore(old)
        self.ball = self._draw(t)
        return [r for r in (old, self.ball) if r is not None], None


_SERVICES = (
    "sshd[812]", "kernel", "systemd[1]", "nginx[1404]", "cron[733]", "vncwall[2210]",
    "dbus-daemon[640]", "postgres[977]", "NetworkManager[702]", "dockerd[1120]",
)
_MESSAGES = (
    "Accepted publickey for demo from 10.0.{a}.{b} port {c} ssh2",
    "usb 1-{a}: new high-speed USB device number {b} using xhci_hcd",
    "Started Session {c} of User demo.",
    "GET /api/v1/frames/{c} HTTP/1.1 200 {b}{a}",
    "(root) CMD (run-parts /etc/cron.hourly) job {c}",
    "session demo-{a}: {b} rectangles, {c} KiB in the last second",
    "checkpoint complete: wrote {c} buffers ({a}.{b}%)",
    "eth0: link up, {c} Mbps, full duplex",
    "container {a}{b}{c}f1e started",
    "rfb: client 127.0.0.1:{c} asked for ZRLE, CopyRect, DesktopSize",
    "Reached target Timers.",
    "temperature above threshold, cpu clock throttled ({a}{b} C)",
)


class TerminalScene(Scene):
    """A terminal window tailing a log: lines type out, then the text scrolls up."""

    kind = "terminal"
    caption = "a scrolling log (CopyRect)"
    panel_title = "journalctl -f"
    body_colour = (14, 16, 20)
    period = 0.3  # seconds per log line

    def paint_static(self) -> None:
        body = self.body
        self.font_size = max(8, self.height // 40)
        self.line_h = text_alpha("Ag", self.font_size).shape[0] + 1
        margin = max(1, self.font_size // 4)
        rows = max(1, (body.h - 2 * margin) // self.line_h)
        self.rows = rows
        self.area = Rect(body.x + margin, body.y + margin, max(1, body.w - 2 * margin),
                         min(rows * self.line_h, body.h))
        self.line = 0
        self._alpha_cache: dict[int, U8Array] = {}

    def _text(self, index: int) -> tuple[str, RGB]:
        h = (index * 2654435761 + self.seed) & 0xFFFFFFFF
        stamp = time.localtime(self.epoch + index * self.period)
        ms = int((index * self.period) % 1.0 * 1000)
        svc = _SERVICES[h % len(_SERVICES)]
        msg = _MESSAGES[(h >> 8) % len(_MESSAGES)].format(
            a=(h >> 4) % 9 + 1, b=(h >> 12) % 200 + 1, c=(h >> 16) % 60000 + 1000
        )
        level = (h >> 24) % 16
        colour: RGB = (235, 90, 80) if level == 0 else (230, 200, 90) if level < 3 else (
            (170, 220, 170) if level < 8 else (200, 205, 210)
        )
        return f"{time.strftime('%H:%M:%S', stamp)}.{ms:03d} demo {svc}: {msg}", colour

    def _alpha(self, index: int) -> U8Array:
        a = self._alpha_cache.get(index)
        if a is None:
            if len(self._alpha_cache) > 8:
                self._alpha_cache.clear()
            a = text_alpha(self._text(index)[0], self.font_size)
            self._alpha_cache[index] = a
        return a

    def _row(self, row: int) -> Rect:
        a = self.area
        return Rect(a.x, a.y + row * self.line_h, a.w, self.line_h)

    def _draw_line(self, row: int, index: int, t: float | None) -> None:
        """Draw line `index` on `row`; with `t`, only the part typed so far and a cursor."""
        r = self._row(row)
        fill(self.pixels, r, self.body_colour)
        if index < 0:
            return
        alpha = self._alpha(index)
        colour = self._text(index)[1]
        typed = alpha.shape[1]
        if t is not None:
            progress = min(1.0, max(0.0, (t - index * self.period) / (self.period * 0.6)))
            typed = int(alpha.shape[1] * progress)
        paste_alpha(self.pixels, r.x, r.y, alpha[:, :typed], colour, r)
        if t is not None and int(t * 3) % 2 == 0:
            cw = max(2, self.font_size // 2)
            fill(self.pixels, Rect(r.x + typed + 1, r.y + 1, min(cw, max(0, r.w - typed - 1)),
                                   r.h - 2), (200, 205, 210))

    def _redraw_all(self, t: float) -> None:
        for row in range(self.rows):
            index = self.line - (self.rows - 1 - row)
            self._draw_line(row, index, t if row == self.rows - 1 else None)

    def start(self, t: float) -> None:
        self.line = int(t // self.period)
        self._redraw_all(t)

    def update(self, t: float) -> tuple[list[Rect], Scroll | None]:
        current = int(t // self.period)
        k = current - self.line
        bottom = self.rows - 1
        if k <= 0:
            self._draw_line(bottom, self.line, t)
            return [self._row(bottom)], None
        if k >= self.rows:
            self.line = current
            self._redraw_all(t)
            return [self.area], None
        a = self.area
        s = k * self.line_h
        px = self.pixels
        px[a.y : a.y + a.h - s, a.x : a.x + a.w] = px[a.y + s : a.y + a.h, a.x : a.x + a.w]
        for j in range(k):  # the line that was typing, then any lines skipped over
            self._draw_line(bottom - k + j, self.line + j, None)
        self._draw_line(bottom, current, t)
        self.line = current
        top = self._row(bottom - k)
        return [Rect(a.x, top.y, a.w, (k + 1) * self.line_h)], Scroll(a, -s)


class PlasmaScene(Scene):
    """A plasma field refreshed by a band sweeping down its window."""

    kind = "plasma"
    caption = "a sweeping plasma"
    panel_title = "plasma"
    sweep = 1.5  # seconds per pass over the window

    def paint_static(self) -> None:
        body = self.body
        self.xs = np.linspace(0.0, 12.0, body.w, dtype=np.float32)
        self.ys = np.linspace(0.0, 12.0 * body.h / max(1, body.w), body.h, dtype=np.float32)
        cx, cy = self.xs[-1] * 0.6, self.ys[-1] * 0.4
        self.radius = np.sqrt((self.xs[None, :] - cx) ** 2 + (self.ys[:, None] - cy) ** 2)
        hue = colorsys.rgb_to_hsv(*(c / 255 for c in self.colour))[0]
        i = np.arange(256, dtype=np.float32) / 256.0
        r = 0.5 + 0.5 * np.sin(2 * np.pi * (i + hue))
        g = 0.5 + 0.5 * np.sin(2 * np.pi * (i + hue + 1 / 3))
        b = 0.5 + 0.5 * np.sin(2 * np.pi * (i + hue + 2 / 3))
        self.palette: U8Array = (np.stack([r, g, b], axis=1) * 235 + 10).astype(np.uint8)
        self.row = 0.0

    def _render(self, y0: int, y1: int, t: float) -> Rect:
        body = self.body
        xs, ys = self.xs, self.ys[y0:y1]
        tt = np.float32(t)
        v = (np.sin(xs * 1.1 + tt * 1.3)[None, :] + np.sin(ys * 1.3 - tt * 0.9)[:, None]
             + np.sin((xs[None, :] + ys[:, None]) * 0.8 + tt * 0.7)
             + np.sin(self.radius[y0:y1] * 2.0 - tt * 2.1))
        idx = ((v + 4.0) * 31.99 + tt * 40.0).astype(np.int32) & 255
        self.pixels[body.y + y0 : body.y + y1, body.x : body.x + body.w] = self.palette[idx]
        return Rect(body.x, body.y + y0, body.w, y1 - y0)

    def start(self, t: float) -> None:
        self._render(0, self.body.h, t)
        self.row = t / self.sweep * self.body.h

    def update(self, t: float) -> tuple[list[Rect], Scroll | None]:
        h = self.body.h
        new = t / self.sweep * h
        a, b = int(self.row), int(new)
        if b <= a:
            return [], None
        self.row = new
        if b - a >= h:
            return [self._render(0, h, t)], None
        a, b = a % h, b % h
        if a < b:
            return [self._render(a, b, t)], None
        out = [self._render(a, h, t)]
        if b:
            out.append(self._render(0, b, t))
        return out, None


class ClockScene(Scene):
    """An analog clock with a sweeping second hand and a digital readout."""

    kind = "clock"
    caption = "an analog clock"
    panel_title = "xclock"
    body_colour = (34, 36, 40)

    def paint_static(self) -> None:
        body = self.body
        self.r = r = max(4.0, min(body.w * 0.5, body.h) * 0.44)
        self.cx = body.x + body.w * 0.27
        self.cy = body.y + body.h * 0.5
        self.face = intersect(_box(self.cx, self.cy, self.cx, self.cy, r + 2), body) or body
        f = self.face
        bg = self.background[f.y : f.y + f.h, f.x : f.x + f.w]
        yy = np.arange(f.y, f.y + f.h, dtype=np.float32)[:, None] - np.float32(self.cy)
        xx = np.arange(f.x, f.x + f.w, dtype=np.float32)[None, :] - np.float32(self.cx)
        d = np.sqrt(xx * xx + yy * yy)
        blend(bg, coverage(r + 0.5 - d), mix(self.colour, (30, 30, 30), 0.6))
        blend(bg, coverage(r * 0.94 + 0.5 - d), (238, 236, 228))
        for i in range(60):
            ang = i * math.pi / 30
            inner = 0.78 if i % 5 == 0 else 0.86
            width = r * (0.035 if i % 5 == 0 else 0.012)
            sn, cs = math.sin(ang), math.cos(ang)
            draw_segment(self.background, (self.cx + sn * r * inner, self.cy - cs * r * inner),
                         (self.cx + sn * r * 0.9, self.cy - cs * r * 0.9), max(1.0, width),
                         (40, 40, 44), f)
        x0 = int(body.x + body.w * 0.56)
        self.digital = Rect(x0, int(self.cy - body.h * 0.14), body.x + body.w - x0,
                            int(body.h * 0.3))
        self.hands: dict[str, tuple[float, Rect]] = {}
        self._second = -1

    def _hand(self, name: str, angle: float) -> tuple[tuple[float, float], tuple[float, float],
                                                      float, RGB]:
        r = self.r
        length, tail, width, colour = {
            "hour": (0.5, 0.08, 0.07, (30, 30, 34)),
            "minute": (0.74, 0.1, 0.045, (30, 30, 34)),
            "second": (0.84, 0.18, 0.016, (210, 40, 40)),
        }[name]
        sn, cs = math.sin(angle), math.cos(angle)
        p0 = (self.cx - sn * r * tail, self.cy + cs * r * tail)
        p1 = (self.cx + sn * r * length, self.cy - cs * r * length)
        return p0, p1, max(1.0, r * width), colour

    def _hand_box(self, name: str, angle: float) -> Rect:
        p0, p1, width, _ = self._hand(name, angle)
        return _box(p0[0], p0[1], p1[0], p1[1], width / 2 + 2)

    def _angles(self, t: float) -> tuple[dict[str, float], int]:
        wall = self.epoch + t
        tm = time.localtime(wall)
        sec = tm.tm_sec + wall % 1.0
        minute = tm.tm_min + tm.tm_sec / 60.0
        hour = tm.tm_hour % 12 + minute / 60.0
        tau = 2 * math.pi
        return {"hour": hour / 12 * tau, "minute": minute / 60 * tau,
                "second": sec / 60 * tau}, tm.tm_sec

    def _redraw(self, region: Rect) -> None:
        self.restore(region)
        for name in ("hour", "minute", "second"):
            p0, p1, width, colour = self._hand(name, self.hands[name][0])
            draw_segment(self.pixels, p0, p1, width, colour, region)
        cap = max(1.5, self.r * 0.05)
        draw_segment(self.pixels, (self.cx, self.cy), (self.cx, self.cy), cap * 2,
                     (210, 40, 40), region)

    def _digital(self, t: float) -> Rect:
        d = self.digital
        self.restore(d)
        wall = self.epoch + t
        size = max(8, int(d.h * 0.5))
        draw_text(self.pixels, d.x, d.y, time.strftime("%H:%M:%S", time.localtime(wall)),
                  size, mix(self.colour, WHITE, 0.75), bold=True, clip=d)
        draw_text(self.pixels, d.x, d.y + int(size * 0.9),
                  time.strftime("%A %d %B %Y", time.localtime(wall)), max(6, size // 3),
                  (200, 200, 200), clip=d)
        return d

    def start(self, t: float) -> None:
        angles, self._second = self._angles(t)
        self.hands = {n: (a, self._hand_box(n, a)) for n, a in angles.items()}
        self._redraw(self.face)
        self._digital(t)

    def update(self, t: float) -> tuple[list[Rect], Scroll | None]:
        angles, second = self._angles(t)
        moving = ["second"]
        dirty: list[Rect] = []
        if second != self._second:
            self._second = second
            moving += ["minute", "hour"]
            dirty.append(self._digital(t))
        boxes: list[Rect] = []
        for name in moving:
            old_box = self.hands[name][1]
            new_box = self._hand_box(name, angles[name])
            self.hands[name] = (angles[name], new_box)
            boxes += [old_box, new_box]
        region = intersect(bounds(boxes) or self.face, self.face)
        if region is not None:
            self._redraw(region)
            dirty.append(region)
        return dirty, None


class BarsScene(Scene):
    """A bar chart whose bars rise and fall; only the changed part of each bar is redrawn."""

    kind = "bars"
    caption = "a live bar chart"
    panel_title = "load monitor"
    body_colour = (238, 240, 243)
    count = 16

    def paint_static(self) -> None:
        body = self.body
        m = max(2, body.h // 20)
        self.chart = Rect(body.x + m, body.y + m, max(1, body.w - 2 * m), max(1, body.h - 2 * m))
        c = self.chart
        for i in range(5):
            fill(self.background, Rect(c.x, c.y + (c.h - 1) * i // 4, c.w, 1), (200, 204, 210))
        slot = c.w / self.count
        self.slots = [
            (c.x + int(i * slot + slot * 0.15), max(1, int(slot * 0.7))) for i in range(self.count)
        ]
        f = np.linspace(1.0, 0.0, c.h, dtype=np.float32)[:, None]
        lo = np.array(mix(self.colour, BLACK, 0.2), dtype=np.float32)
        hi = np.array(mix(self.colour, WHITE, 0.45), dtype=np.float32)
        self.column: U8Array = (lo * (1 - f) + hi * f + 0.5).astype(np.uint8)[:, None, :]
        rng = np.random.default_rng(self.seed)
        self.omega = rng.uniform(0.4, 1.6, (2, self.count))
        self.phase = rng.uniform(0, 2 * np.pi, (2, self.count))
        self.heights = np.zeros(self.count, dtype=np.int64)

    def _target(self, t: float) -> npt.NDArray[np.int64]:
        s = (0.5 + 0.28 * np.sin(t * self.omega[0] + self.phase[0])
             + 0.17 * np.sin(t * 2.3 * self.omega[1] + self.phase[1]))
        heights: npt.NDArray[np.int64] = (np.clip(s, 0.03, 0.97) * self.chart.h).astype(np.int64)
        return heights

    def _set(self, i: int, new: int) -> Rect | None:
        old = int(self.heights[i])
        if new == old:
            return None
        self.heights[i] = new
        c = self.chart
        x, w = self.slots[i]
        top, bottom = c.y + c.h - max(old, new), c.y + c.h - min(old, new)
        r = Rect(x, top, w, bottom - top)
        if new > old:
            self.pixels[top:bottom, x : x + w] = self.column[top - c.y : bottom - c.y]
        else:
            self.restore(r)
        return r

    def start(self, t: float) -> None:
        for i, h in enumerate(self._target(t)):
            self._set(i, int(h))

    def update(self, t: float) -> tuple[list[Rect], Scroll | None]:
        out = [self._set(i, int(h)) for i, h in enumerate(self._target(t))]
        return [r for r in out if r is not None], None


def life_step(grid: BoolArray) -> BoolArray:
    """One generation of Conway's game of life on a torus."""
    p = np.pad(grid.astype(np.uint8), 1, mode="wrap")
    h, w = grid.shape
    n = (p[:h, :w] + p[:h, 1 : w + 1] + p[:h, 2:] + p[1 : h + 1, :w] + p[1 : h + 1, 2:]
         + p[2:, :w] + p[2:, 1 : w + 1] + p[2:, 2:])
    result: BoolArray = (n == 3) | (grid & (n == 2))
    return result


class LifeScene(Scene):
    """Conway's game of life, with fresh soup dropped in now and then."""

    kind = "life"
    caption = "Conway's game of life"
    panel_title = "life"
    body_colour = (16, 22, 26)
    step = 0.15  # seconds per generation
    band = 4  # cell rows per dirty rectangle
    gap = 6  # unchanged cells that split a band's changes into two rectangles
    warmup = 120  # generations run before the first frame

    def paint_static(self) -> None:
        body = self.body
        self.cell = c = max(2, body.w // 100)
        self.gw, self.gh = max(1, body.w // c), max(1, body.h // c)
        self.origin = (body.x + (body.w - self.gw * c) // 2, body.y + (body.h - self.gh * c) // 2)
        dead = mix(self.body_colour, self.colour, 0.12)
        images = np.empty((2, c, c, 3), dtype=np.uint8)
        images[...] = dead
        images[1, : c - 1, : c - 1] = mix(self.colour, WHITE, 0.55)
        self.cell_images: U8Array = images
        rng = np.random.default_rng(self.seed)
        self.grid: BoolArray = rng.random((self.gh, self.gw)) < 0.3
        for _ in range(self.warmup):  # start past the first chaotic generations
            self.grid = life_step(self.grid)
        self.gen = 0

    def _paint(self, r0: int, r1: int, c0: int, c1: int) -> Rect:
        c = self.cell
        rows, cols = r1 - r0, c1 - c0
        tiles = self.cell_images[self.grid[r0:r1, c0:c1].view(np.uint8)]  # (rows, cols, c, c, 3)
        x, y = self.origin[0] + c0 * c, self.origin[1] + r0 * c
        target = self.pixels[y : y + rows * c, x : x + cols * c].reshape(rows, c, cols, c, 3)
        target[...] = tiles.transpose(0, 2, 1, 3, 4)
        return Rect(x, y, cols * c, rows * c)

    def _inject(self) -> None:
        rng = np.random.default_rng((self.seed, self.gen))
        s = min(8, self.gh, self.gw)
        y = int(rng.integers(0, self.gh - s + 1))
        x = int(rng.integers(0, self.gw - s + 1))
        self.grid[y : y + s, x : x + s] |= rng.random((s, s)) < 0.45

    def start(self, t: float) -> None:
        self.gen = int(t / self.step)
        self._paint(0, self.gh, 0, self.gw)

    def update(self, t: float) -> tuple[list[Rect], Scroll | None]:
        target = int(t / self.step)
        steps = min(target - self.gen, 4)  # after a long pause, skip ahead
        if steps <= 0:
            return [], None
        old = self.grid
        for _ in range(steps):
            self.gen += 1
            self.grid = life_step(self.grid)
            if self.gen % 25 == 0:
                self._inject()
        self.gen = target
        changed = old != self.grid
        dirty: list[Rect] = []
        rows = changed.any(axis=1)
        for r0 in range(0, self.gh, self.band):
            r1 = min(self.gh, r0 + self.band)
            if not rows[r0:r1].any():
                continue
            cols = np.flatnonzero(changed[r0:r1].any(axis=0))
            # one rectangle per cluster of changed columns in this band of rows
            breaks = np.flatnonzero(np.diff(cols) > self.gap)
            for lo, hi in zip(np.concatenate(([0], breaks + 1)),
                              np.concatenate((breaks, [len(cols) - 1])), strict=True):
                dirty.append(self._paint(r0, r1, int(cols[lo]), int(cols[hi]) + 1))
        return dirty, None


SCENES: dict[str, type[Scene]] = {
    cls.kind: cls
    for cls in (BounceScene, TerminalScene, PlasmaScene, ClockScene, BarsScene, LifeScene)
}
SCENE_KINDS: tuple[str, ...] = tuple(SCENES)


def make_scene(
    index: int = 0, width: int = 1280, height: int = 800, kind: str | None = None,
    epoch: float | None = None,
) -> Scene:
    """Demo desktop number `index` ("demo-<index+1>"): kinds cycle, colours differ."""
    if kind is None:
        kind = SCENE_KINDS[index % len(SCENE_KINDS)]
    if kind not in SCENES:
        raise ValueError(f"unknown scene kind {kind!r} (known: {', '.join(SCENE_KINDS)})")
    return SCENES[kind](f"demo-{index + 1}", width, height, scene_colour(index), epoch)


def make_scenes(count: int, width: int = 1280, height: int = 800) -> list[Scene]:
    """`count` distinct demo desktops sharing one epoch."""
    epoch = time.time()
    return [make_scene(i, width, height, epoch=epoch) for i in range(count)]
