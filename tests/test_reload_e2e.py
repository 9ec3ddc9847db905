"""Live reload and `vncwall ctl` on a real wall process, checked on real Xvnc servers' side."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.e2e import ROOT, WallProcess, wall_process
from tests.servers import VncServer, XDisplay, missing_binaries, solid_servers, xvfb
from tests.waiting import wait

COLOURS = ("#d02020", "#20b040", "#2040e0")  # one solid root colour per Xvnc server
WINDOW = (640, 400)


@pytest.fixture(scope="module")
def rig() -> Iterator[tuple[XDisplay, list[VncServer]]]:
    """An Xvfb display for the wall's GL, and three bare TigerVNC servers of solid colours."""
    missing = missing_binaries("tigervnc", scene=False)
    missing += [b for b in ("Xvfb", "xwininfo") if not Path(f"/usr/bin/{b}").exists()]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    with xvfb(width=1024, height=768) as gl, solid_servers(COLOURS) as servers:
        yield gl, servers


def write_config(path: Path, sessions: Sequence[tuple[str, VncServer, str]],
                 wall: Sequence[str] = ()) -> None:
    """[wall] `wall` lines, then a [[session]] per (name, server, extra TOML lines)."""
    lines = ["[wall]", "labels = false", "rotate_seconds = 0.2", *wall]
    for name, server, extra in sessions:
        lines += ["[[session]]", f'name = "{name}"', f'address = "{server.address}"']
        lines += [extra] if extra else []
    path.write_text("\n".join(lines) + "\n")


def server_connections(server: VncServer) -> set[int]:
    """The peer ports of the established TCP connections on the server's RFB port that the
    Xvnc process itself holds (its socket inodes, matched in /proc/net/tcp{,6})."""
    pid = server.procs[0].pid
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
            if m:
                inodes.add(m.group(1))
    peers = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            local_port = int(f[1].rsplit(":", 1)[1], 16)
            if f[3] == "01" and f[9] in inodes and local_port == server.port:  # ESTABLISHED
                peers.add(int(f[2].rsplit(":", 1)[1], 16))
    return peers


def accepted(server: VncServer) -> list[str]:
    """The client connections Xvnc's log says it accepted, in order."""
    log = (server.workdir / "xvnc.log").read_text(errors="replace")
    return re.findall(r"Connections: accepted: (\S+)", log)


def one_connection(server: VncServer) -> int:
    """Wait until the server has exactly one client; its peer port."""
    wait(lambda: len(server_connections(server)) == 1,
         f"server :{server.display} never had exactly one client: {server_connections(server)}")
    (port,) = server_connections(server)
    return port


def ctl(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vncwall", "ctl", "--socket", str(sock), *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          env=os.environ | {"PYTHONPATH": str(ROOT)})


def ctl_json(sock: Path, *args: str) -> Any:
    out = ctl(sock, *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def status_file(path: Path) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc


def wait_live(path: Path, names: list[str], wall: WallProcess) -> dict[str, Any]:
    """Wait until the status file lists exactly `names`, all live with a first frame."""
    def ready() -> bool:
        wall.assert_running()
        sessions = status_file(path).get("sessions", [])
        return [s["name"] for s in sessions] == names and all(
            s["state"] == "live" and s["first_frame"] for s in sessions)

    wait(ready, f"status never showed {names} live: {status_file(path)}", timeout=30)
    return status_file(path)


@contextlib.contextmanager
def running_wall(gl: XDisplay, tmp: Path, config: Path) -> Iterator[tuple[WallProcess, Path, Path]]:
    """The wall process on `config` with its control socket and status file in `tmp`."""
    sock, status = tmp / "ctl.sock", tmp / "status.json"
    args = ["--control", str(sock), "--status-json", str(status), "--log-level", "info"]
    with wall_process(gl, config, WINDOW, tmp / "wall.log", extra_args=args) as wall:
        yield wall, sock, status


def test_reload_adds_removes_restarts_and_keeps_connections(
        rig: tuple[XDisplay, list[VncServer]], tmp_path: Path) -> None:
    gl, (a, b, c) = rig
    config = tmp_path / "wall.toml"
    write_config(config, [("keep", a, ""), ("change", b, ""), ("gone", c, "")])
    with running_wall(gl, tmp_path, config) as (wall, sock, status):
        wait_live(status, ["keep", "change", "gone"], wall)
        keep_port, change_port, gone_port = (one_connection(s) for s in (a, b, c))
        keep_log = accepted(a)
        assert keep_log[-1] == f"127.0.0.1::{keep_port}", keep_log  # (before: start probes)

        # SIGHUP: "change" gets another quality (so reconnects), "gone" is dropped.
        write_config(config, [("keep", a, ""), ("change", b, "quality = 5")])
        wall.proc.send_signal(signal.SIGHUP)
        wait_live(status, ["keep", "change"], wall)
        wait(lambda: not server_connections(c), "the removed session's connection stayed")
        wait(lambda: server_connections(b) not in (set(), {change_port}),
             "the changed session never reconnected")
        new_change_port = one_connection(b)
        assert gone_port not in server_connections(c)
        assert server_connections(a) == {keep_port}  # the very same TCP connection
        assert accepted(a) == keep_log  # and Xvnc accepted no other
        doc = ctl_json(sock, "status")
        assert doc["reloads"] == 1 and doc["config"] == str(config)
        assert [s["name"] for s in doc["sessions"]] == ["keep", "change"]
        assert all(s["state"] == "live" for s in doc["sessions"])

        # `vncwall ctl reload`: "added" comes (on the third server again), nothing else moves.
        write_config(config, [("keep", a, ""), ("change", b, "quality = 5"), ("added", c, "")])
        summary = ctl_json(sock, "reload")
        assert summary == {"added": ["added"], "removed": [], "changed": [],
                           "kept": ["keep", "change"]}
        wait_live(status, ["keep", "change", "added"], wall)
        assert one_connection(c) != gone_port
        assert server_connections(a) == {keep_port} and accepted(a) == keep_log
        assert server_connections(b) == {new_change_port}

        # A broken file is refused with its file and key; the wall runs on, unchanged.
        write_config(config, [("keep", a, ""), ("change", b, "quality = 12")])
        refused = ctl(sock, "reload")
        assert refused.returncode == 2, refused
        assert refused.stdout == ""
        message = refused.stderr.strip()
        assert str(config) in message and "session[1].quality" in message, message
        assert "keeps its config" in message
        config.write_text("[wall\n")  # not even TOML, this time by SIGHUP
        wall.proc.send_signal(signal.SIGHUP)
        wait(lambda: wall.log.read_text(errors="replace").count("reload refused") >= 2,
             "the SIGHUP with a broken file was not refused in the log")
        wall.assert_running()
        doc = ctl_json(sock, "status")
        assert doc["reloads"] == 2
        assert [s["name"] for s in doc["sessions"]] == ["keep", "change", "added"]
        assert all(s["state"] == "live" for s in doc["sessions"])
        assert [s["name"] for s in status_file(status)["sessions"]] == ["keep", "change",
                                                                       "added"]
        assert server_connections(a) == {keep_port} and accepted(a) == keep_log
        assert server_connections(b) == {new_change_port}
        wall.assert_running()


def load_png(path: Path) -> npt.NDArray[np.uint8]:
    """A PNG file as (h, w, 3) RGB."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    surface = pygame.image.load(str(path))
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


def centre(image: npt.NDArray[np.uint8], half: int = 20) -> npt.NDArray[np.float64]:
    """The mean colour of the square of side 2*half at the image's centre."""
    h, w = image.shape[:2]
    patch = image[h // 2 - half:h // 2 + half, w // 2 - half:w // 2 + half, :3]
    return np.asarray(patch.reshape(-1, 3).mean(axis=0), dtype=np.float64)


def snapshot_centre(sock: Path, out: Path) -> npt.NDArray[np.float64]:
    """`vncwall ctl snapshot OUT` and the mean colour at the centre of the picture."""
    reply = ctl_json(sock, "snapshot", str(out))
    assert reply["path"] == str(out) and reply["size"] == list(WINDOW)
    return centre(load_png(out))


def test_ctl_show_turns_the_front_face(rig: tuple[XDisplay, list[VncServer]],
                                       tmp_path: Path) -> None:
    gl, servers = rig
    config = tmp_path / "wall.toml"
    names = ["red", "green", "blue"]
    write_config(config, list(zip(names, servers, ["", "", ""], strict=True)))
    truth = [centre(s.screenshot()) for s in servers]  # each server's own picture (xwd)
    with running_wall(gl, tmp_path, config) as (wall, sock, status):
        assert wait_live(status, names, wall)["front"] == 0
        for target in (2, 1):
            reply = ctl_json(sock, "show", names[target])
            assert reply["front"] == target
            wait(lambda: status_file(status).get("front") == target,  # noqa: B023 - called at once
                 "the status file never showed the new front")
            assert ctl_json(sock, "status")["front"] == target
            shot = tmp_path / f"front-{target}.png"
            seen = [snapshot_centre(sock, shot)]
            deadline = time.monotonic() + 10  # the prism turns for rotate_seconds
            while np.abs(seen[-1] - truth[target]).max() >= 16:
                assert time.monotonic() < deadline, (
                    f"the snapshot never showed {names[target]}: {seen[-1]} vs {truth[target]}")
                time.sleep(0.3)
                seen.append(snapshot_centre(sock, shot))
            others = [truth[i] for i in range(3) if i != target]
            assert all(np.abs(seen[-1] - o).max() > 60 for o in others)
        bad = ctl(sock, "show", "purple")
        assert bad.returncode == 2 and "no session 'purple'" in bad.stderr
        assert ctl_json(sock, "status")["front"] == 1
        wall.assert_running()
