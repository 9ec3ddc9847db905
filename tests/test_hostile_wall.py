"""A real `vncwall run` under Xvfb with real Xvnc desktops beside hostile servers that
reconnect: the wall lives, the good faces keep updating, no frame waits long."""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import wall_process
from tests.evil_server import CASES, EvilServer, Step, handshake
from tests.secure_servers import spec_server
from tests.servers import missing_binaries, missing_xvfb_binaries, vnc_server, xvfb

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ["many-security-types", "many-vencrypt-subtypes", "copyrect-amplification",
           "unasked-update-chain", "rre-overlapping-subrects",
           "empty-desktop", "tight-png", "zlib-bomb"]
WATCH = 20.0  # seconds the wall is watched
MAX_GAP_MS = 500.0  # the longest wait between two frames allowed once the wall is up
MAX_RSS = 1.5 * 2**30


def _fuzzed_stream(index: int) -> list[Step]:
    """Connection `index`: a 1280x800 handshake, then a real Tight recording's updates
    with a few bytes changed at random (seeded by the connection)."""
    data = bytearray(gzip.decompress((ROOT / "recordings" / "tight.rfb.gz").read_bytes()))
    init = 24 + int.from_bytes(data[20:24], "big")
    body = data[init : init + 400_000]
    rng = random.Random(index)
    for _ in range(8):
        body[rng.randrange(len(body))] = rng.randrange(256)
    return [handshake(1280, 800), bytes(body)]


def _vmhwm(pid: int) -> int:
    """Peak resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@pytest.mark.skipif(bool(missing_binaries("tigervnc") or missing_xvfb_binaries()),
                    reason="Xvnc or Xvfb not installed")
def test_wall_survives_hostile_servers(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    secret = tmp_path / "wrong.pass"
    secret.write_text("not the password\n")
    with contextlib.ExitStack() as stack:
        display = stack.enter_context(xvfb(width=1280, height=800))
        good = [stack.enter_context(vnc_server("tigervnc", scene=False)) for _ in range(2)]
        evil = {n: stack.enter_context(EvilServer(CASES[n].script)) for n in HOSTILE}
        fuzz = stack.enter_context(EvilServer(_fuzzed_stream))
        # A 4096-bit Diffie-Hellman login (the largest accepted), refused and retried.
        dh = stack.enter_context(spec_server(30, dh_key_bytes=512))
        lines = ["[wall]", "layout = \"grid\"", "hud = true", "reconnect_max_seconds = 1",
                 "connect_timeout = 4"]
        for i, g in enumerate(good):
            lines += ["[[session]]", f'name = "good{i}"', f'address = "{g.address}"']
        for n, server in [*evil.items(), ("fuzz", fuzz)]:
            lines += ["[[session]]", f'name = "{n}"', f'address = "{server.address}"']
        lines += ["[[session]]", 'name = "dh"', f'address = "{dh.address}"',
                  'username = "alice"', f'password_file = "{secret}"', 'security = ["dh"]']
        config = tmp_path / "wall.toml"
        config.write_text("\n".join(lines) + "\n")
        stop = threading.Event()

        def repaint() -> None:  # the good desktops change twice a second
            colours = ["#203040", "#604020"]
            i = 0
            while not stop.wait(0.5):
                for g in good:
                    with contextlib.suppress(Exception):
                        g.x("xsetroot", "-solid", colours[i % 2], timeout=5)
                i += 1

        painter = threading.Thread(target=repaint, daemon=True)
        painter.start()
        stack.callback(stop.set)
        wall = stack.enter_context(wall_process(
            display, config, (1280, 800), tmp_path / "wall.log",
            extra_args=["--status-json", str(status)]))
        docs: list[dict[str, Any]] = []
        start = time.monotonic()
        while time.monotonic() - start < WATCH:
            wall.assert_running()
            with contextlib.suppress(OSError, ValueError):
                doc = json.loads(status.read_text())
                if not docs or doc["time"] != docs[-1]["time"]:
                    docs.append(doc)
            time.sleep(0.2)
        wall.assert_running()
        peak = _vmhwm(wall.proc.pid)
        log = (tmp_path / "wall.log").read_text(errors="replace")

    assert "Traceback" not in log, log[-3000:]
    assert peak < MAX_RSS, peak
    settled = [d for d in docs if float(d["time"]) - float(docs[0]["time"]) > 3.0]
    gaps = [float(d["frame_gap_ms"]) for d in settled]
    print(f"\n{len(docs)} status files, longest frame gap {max(gaps):.0f} ms, "
          f"peak RSS {peak / 2**20:.0f} MB")
    assert gaps and max(gaps) <= MAX_GAP_MS, gaps

    def session(doc: dict[str, Any], name: str) -> dict[str, Any]:
        return next(s for s in doc["sessions"] if s["name"] == name)

    # The good faces go on updating through every 5 s of the watch.
    for name in ("good0", "good1"):
        counts = [(float(d["time"]), int(session(d, name)["updates"])) for d in settled]
        for when, done in counts:
            later = [m for u, m in counts if u >= when + 5.0]
            if later:
                assert later[0] > done, (name, counts)
        assert session(settled[-1], name)["state"] == "live"
    # Every hostile face says why, in one short line; the wall shows the harmless ones.
    seen: dict[str, set[str]] = {}
    for d in docs:
        for s in d["sessions"]:
            seen.setdefault(s["name"], set()).add(s["reason"] or s["state"])
    for name in ["many-security-types", "copyrect-amplification", "unasked-update-chain",
                 "rre-overlapping-subrects", "zlib-bomb", "dh"]:
        reasons = {r for r in seen[name] if r not in ("connecting", "live", "retrying",
                                                      "authenticating", "disconnected")}
        assert reasons, (name, seen[name])
        assert all("\n" not in r and len(r) < 600 and "internal error" not in r
                   for r in reasons), reasons
    assert "live" in seen["tight-png"] and "live" in seen["empty-desktop"], seen


def test_long_text_fits_a_texture() -> None:
    """A 5,000-character reason becomes one line cut to the widest texture any GL holds."""
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from vncwall.render.labels import MAX_TEXT_WIDTH, render_text

    image = render_text(["name", "x" * 5000, "a\nb\tc"])
    assert image.shape[1] <= MAX_TEXT_WIDTH and image.shape[0] < 200, image.shape


def test_a_failing_face_leaves_the_others(open_wall: Any) -> None:
    """An exception while one face uploads (here a GL error carrying an array, as
    PyOpenGL raises them) marks that face with a one-line reason; the other face keeps
    uploading, and the session's status says why its picture is not shown."""
    import numpy as np
    from OpenGL.error import GLError

    from tests.servers import solid_servers
    from tests.wallkit import render

    with solid_servers(["#c02020", "#20c020"]) as servers, \
            open_wall(servers, labels=True) as wall:
        render(wall, (320, 200), time.monotonic())
        assert wall.renderer is not None
        tex0, tex1 = wall.renderer.textures[:2]

        def broken(*args: object, **kwargs: object) -> int:
            raise GLError(err=0x505, result=np.zeros((64, 64)), description=b"out of memory")

        tex0.sync = broken
        for s in wall.sessions:  # a change on both desktops: a new picture to upload
            fb = s.framebuffer
            assert fb is not None
            fb.fill(0, 0, 8, 8, np.array([1, 2, 3, 0], dtype=np.uint8))
            fb.end_update()  # as the session's thread does: the mipmap levels too
        before = tex1.bytes_uploaded
        for _ in range(3):
            wall.frame((320, 200), time.monotonic())
        assert tex1.bytes_uploaded > before
        st0, st1 = (s.status() for s in wall.sessions[:2])
        assert st0.display_error.startswith("cannot show this desktop (uploading: GL error 0x505")
        assert "\n" not in st0.display_error and len(st0.display_error) < 300
        assert "live, not shown" in st0.line() and not st1.display_error
