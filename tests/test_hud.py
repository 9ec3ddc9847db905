"""The status HUD: its text from real sessions (no GL), and the overlay through real GL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tests.servers import VncServer, solid_servers
from tests.wallkit import OPAQUE_GRID, WallOpener, demo_wall, render
from vncwall.render.hud_text import HEADER, hud_table, rate_text
from vncwall.wall import Wall


def test_rate_text_units() -> None:
    assert rate_text(0) == "0 B/s"
    assert rate_text(999) == "999 B/s"
    assert rate_text(12_345) == "12 kB/s"
    assert rate_text(3_456_789) == "3.5 MB/s"


def test_hud_text_from_real_sessions() -> None:
    with demo_wall() as (wall, _):
        time.sleep(1.0)  # a second of the demo's animation: rates to show
        title, rows = hud_table(wall.sessions, 2, 59.66, "grid", time.monotonic())
    assert title == "vncwall  59.7 fps  \u00b7  2/3 live  \u00b7  grid"
    assert rows[0] == HEADER and len(rows) == 4
    a, down, b = rows[1:]
    assert a[:3] == ["", "a (alpha)", "live"] and a[4] == "320x200"
    assert b[:3] == ["\u00bb", "b (beta)", "live"] and b[4] == "400x300"  # the focused one
    for row in (a, b):
        assert row[3] not in ("", "-")  # the encoding the server uses
        assert re.fullmatch(r"\d+\.\d/s", row[5]) and float(row[5][:-2]) > 0  # animated
        assert re.fullmatch(r"[\d.]+ (B|kB|MB)/s", row[6]) and row[6] != "0 B/s"
        assert row[7] == "-" or re.fullmatch(r"\d+ ms", row[7])
    assert down[1] == "down" and down[2].startswith("retrying in")
    assert "refused" in down[2].lower() and down[3:] == ["-"] * 5


@pytest.fixture(scope="module")
def solid() -> Iterator[list[VncServer]]:
    with solid_servers(("#204080", "#806020")) as servers:
        yield servers


def press_hotkey(wall: Wall, key: int, now: float) -> None:
    """A real pygame key event through the wall's event handling and router."""
    import pygame

    from vncwall.input.router import InputRouter, parse_hotkeys

    if not wall.router.hotkeys:
        wall.router = InputRouter(hotkeys=parse_hotkeys({}))
    mod = pygame.KMOD_LCTRL | pygame.KMOD_LALT
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, scancode=0,
                                         unicode=""))
    assert wall._handle_events(now)


def test_hud_hotkey_draws_the_table_over_the_wall(
    open_wall: WallOpener, solid: list[VncServer]
) -> None:
    import pygame

    from vncwall.render.hud import render_table

    size = (800, 500)
    with open_wall(solid, **OPAQUE_GRID) as wall:
        now = time.monotonic()
        off = render(wall, size, now).astype(np.float64)
        assert not wall.hud_on
        press_hotkey(wall, pygame.K_h, now)
        assert wall.hud_on
        on = render(wall, size, now).astype(np.float64)
        assert wall.hud is not None and wall.hud.table is not None
        x0, y0, x1, y1 = wall.hud.rect()
        assert x1 - x0 > 200 and y1 - y0 > 60
        outside = np.ones(on.shape[:2], dtype=bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(on[outside], off[outside])  # nothing else changed
        # Inside: exactly the text image blended over the wall.
        image = render_table(*wall.hud.table, size=wall.hud.size).astype(np.float64)
        alpha = image[..., 3:] / 255.0
        want = image[..., :3] * alpha + off[y0:y1, x0:x1] * (1 - alpha)
        assert np.abs(on[y0:y1, x0:x1] - want).max() <= 1.5
        title, rows = wall.hud.table
        assert "fps" in title and "2/2 live" in title and title.endswith("grid")
        assert [r[1].split()[0] for r in rows[1:]] == ["s0", "s1"] and rows[1][0] == "\u00bb"
        # The text is rebuilt a few times a second at most, however fast frames come.
        builds = wall.hud.builds
        for k in range(1, 121):
            wall.frame(size, now + k / 60.0)
        assert 7 <= wall.hud.builds - builds <= 9  # two seconds, 120 frames
        # The HUD's frame rate is the wall's own: 60 frames a second.
        fps = float(wall.hud.table[0].split()[1])
        assert 57 <= fps <= 63, wall.hud.table[0]
        press_hotkey(wall, pygame.K_h, now + 2)
        assert not wall.hud_on
        assert np.array_equal(render(wall, size, now + 2).astype(np.float64), off)


def test_hud_shown_at_start_from_config(open_wall: WallOpener, solid: list[VncServer]) -> None:
    with open_wall(solid, hud=True) as wall:
        assert wall.hud_on
        render(wall, (640, 400), time.monotonic())
        assert wall.hud is not None and wall.hud.builds >= 1
        assert "prism" in wall.hud.table[0]  # type: ignore[index]
