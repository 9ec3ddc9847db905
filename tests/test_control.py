"""The control socket and live reload, on a real wall with live demo sessions."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.wallkit import demo_wall
from vncwall.commands import serve
from vncwall.config import Config, SessionConfig
from vncwall.control import ControlServer, call
from vncwall.net.address import parse_address
from vncwall.reload import plan_reload

ROOT = Path(__file__).resolve().parents[1]


def _ask(server: ControlServer, wall: Any, command: str, *args: str) -> dict[str, Any]:
    """Send a request from another thread while this one serves it, as the wall's loop does."""
    out: dict[str, Any] = {}
    t = threading.Thread(target=lambda: out.update(call(server.path, command, list(args))))
    t.start()
    deadline = time.monotonic() + 10
    while t.is_alive() and time.monotonic() < deadline:
        serve(server, wall, time.monotonic())
        time.sleep(0.01)
    t.join(1)
    return out


def test_plan_matches_by_name() -> None:
    a = SessionConfig(name="a", address=parse_address("h:1"))
    b = SessionConfig(name="b", address=parse_address("h:2"))
    b2 = dataclasses.replace(b, view_only=True)
    c = SessionConfig(name="c", address=parse_address("h:3"))
    plan = plan_reload([a, b, c], [c, b2, SessionConfig(name="d", address=parse_address("h:4"))])
    assert plan.order == (2, None, None)
    assert plan.stopped == (0, 1)
    assert plan.summary() == {"added": ["d"], "removed": ["a"], "changed": ["b"], "kept": ["c"]}


def test_commands_move_the_wall(tmp_path: Path) -> None:
    with demo_wall() as (wall, _), ControlServer(tmp_path / "ctl.sock") as server:
        assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
        reply = _ask(server, wall, "show", "b")
        assert reply["ok"] and reply["result"]["front"] == 2 and wall.front == 2
        assert _ask(server, wall, "next")["result"]["front"] == 0
        assert _ask(server, wall, "prev")["result"]["front"] == 2
        assert _ask(server, wall, "pause")["result"]["paused"] is True
        assert _ask(server, wall, "resume")["result"]["paused"] is False
        assert _ask(server, wall, "layout", "grid")["result"]["layout"] == "grid"
        status = _ask(server, wall, "status")["result"]
        assert [s["name"] for s in status["sessions"]] == ["a", "down", "b"]
        bad = _ask(server, wall, "show", "nosuch")
        assert not bad["ok"] and bad["exit"] == 2 and "no session 'nosuch'" in bad["error"]
        refused = _ask(server, wall, "reload")
        assert not refused["ok"] and "no config file" in refused["error"]


def test_reload_keeps_unchanged_sessions(tmp_path: Path) -> None:
    with demo_wall() as (wall, servers):
        a, down, b = wall.sessions
        fb_a, attempts_a = a.framebuffer, a.attempts
        new = Config(wall.config.wall, (
            wall.config.sessions[0],
            dataclasses.replace(wall.config.sessions[2], quality=3),
            SessionConfig(name="c", address=parse_address(servers[0].address)),
        ))
        calls: list[Config] = [new]
        wall.config_loader = lambda: calls[0]
        summary = wall.reload(time.monotonic())
        assert summary == {"added": ["c"], "removed": ["down"], "changed": ["b"], "kept": ["a"]}
        assert wall.sessions[0] is a and a.framebuffer is fb_a and a.attempts == attempts_a
        assert wall.sessions[1] is not b and wall.sessions[2].name == "c"
        deadline = time.monotonic() + 10
        while not all(s.status().first_frame for s in wall.sessions):
            assert time.monotonic() < deadline, "new sessions never went live"
            time.sleep(0.05)
        assert not down._thread.is_alive() or down._stop.is_set()

        from vncwall.config import ConfigError

        def broken() -> Config:
            raise ConfigError("wall.toml: session[0].address: missing")

        wall.config_loader = broken
        with pytest.raises(ConfigError):
            wall.reload(time.monotonic())
        assert wall.sessions[0] is a and wall.reload_failures == 1


def test_ctl_without_a_wall_exits_3(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "vncwall", "ctl", "--socket",
                          str(tmp_path / "none.sock"), "status"], check=False, capture_output=True,
                         text=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert out.returncode == 3
    assert out.stderr.strip().startswith("vncwall: no wall is running")
    assert len(out.stderr.strip().splitlines()) == 1


PEER = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print("connect:", exc.strerror)
    sys.exit(0)
s.sendall(b'{"command": "status", "args": []}\\n')
print(s.recv(4096).decode())
"""


@pytest.mark.skipif(os.getuid() != 0 or shutil.which("runuser") is None
                    or not Path("/usr/bin/python3").exists(),
                    reason="needs root to act as another user")
def test_other_users_are_refused() -> None:
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="vncwall-ctl-", dir="/tmp"))  # others may walk it
    where.chmod(0o755)
    with demo_wall(), ControlServer(where / "ctl" / "ctl.sock") as server:
        server.path.parent.chmod(0o755)  # let nobody reach the socket file itself
        args = ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", PEER,
                str(server.path)]
        out = subprocess.run(args, check=False, capture_output=True, text=True, cwd="/", timeout=20)
        assert out.stdout.strip() == "connect: Permission denied", out
        os.chmod(server.path, 0o666)  # even past the file mode, the peer's uid is checked
        out = subprocess.run(args, check=False, capture_output=True, text=True, cwd="/", timeout=20)
        assert "may not control this wall" in out.stdout and '"ok": false' in out.stdout, out
        assert server.refused == 1
