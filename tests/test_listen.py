"""Reverse connections: x11vnc -connect into the listener, allow lists, `run --listen`."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import XDisplay, free_tcp_port, missing_binaries, vnc_server, xvfb
from tests.wallkit import same_as_screen
from vncwall.config import ConfigError, ListenConfig, parse_config
from vncwall.listen import DEFAULT_LISTEN_PORT, Listener, ListenError, ReverseSession, parse_listen
from vncwall.session import State

needs_x11vnc = pytest.mark.skipif(
    not (shutil.which("x11vnc") and shutil.which("Xvfb")), reason="x11vnc/Xvfb not installed"
)


def wait(predicate: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize(("text", "expected"), [
    ("5500", ("", 5500)), ("0", ("", 0)), ("127.0.0.1:5600", ("127.0.0.1", 5600)),
    ("[::1]:5501", ("::1", 5501)), ("[::1]", ("::1", DEFAULT_LISTEN_PORT)),
    ("localhost", ("localhost", DEFAULT_LISTEN_PORT)), (":5502", ("", 5502)),
])
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["70000", "host:x", "::1:5500", "[::1", "[::1]x"])
def test_parse_listen_refuses(text: str) -> None:
    with pytest.raises(ListenError):
        parse_listen(text)


def test_listen_config_and_allow() -> None:
    cfg = parse_config('[listen]\nallow = ["127.0.0.1", "::1", "10.1.0.0/16"]\n', "w.toml",
                       require_sessions=False)
    assert cfg.sessions == () and cfg.listen.allow == ("127.0.0.1", "::1", "10.1.0.0/16")
    allows = cfg.listen.allows
    assert allows("127.0.0.1") and allows("::1") and allows("10.1.2.3")
    assert allows("::ffff:10.1.9.9")  # IPv4 seen through a dual-stack socket
    assert not allows("10.2.0.1") and not allows("127.0.0.2") and not allows("nonsense")
    assert ListenConfig().allows("192.0.2.1")  # no list: anyone
    for bad, message in [("allow = [1]", "listen.allow"), ('allow = ["x"]', "listen.allow"),
                         ("allow = []", "listen.allow"), ("port = 1", "listen.port")]:
        with pytest.raises(ConfigError, match=rf"^w\.toml: {message}: "):
            parse_config(f"[listen]\n{bad}\n", "w.toml", require_sessions=False)
    with pytest.raises(ConfigError, match="no \\[\\[session\\]\\]"):
        parse_config("[listen]\n", "w.toml")  # sessions are needed unless listening


def test_peer_not_in_allow_is_refused() -> None:
    with Listener("127.0.0.1", 0, ListenConfig(allow=("10.0.0.0/8", "::1"))) as listener:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as s:
            s.settimeout(5)
            assert s.recv(16) == b""  # closed on us without a word
        wait(lambda: listener.refused == 1, "not counted as refused", 5)
        assert listener.accepted == 0 and listener.take() == []


def test_unused_accepted_socket_is_closed_on_stop() -> None:
    with Listener("127.0.0.1", 0) as listener, \
            socket.create_connection(("127.0.0.1", listener.port), timeout=5) as s:
        wait(lambda: listener.accepted == 1, "not accepted", 5)
        (session,) = listener.take()
        session.stop()  # never started
        s.settimeout(5)
        assert s.recv(16) == b""


def first_frame_in(listener: Listener, sessions: list[ReverseSession]) -> Callable[[], bool]:
    """A wait condition: start every session the listener adopted (into `sessions`); true
    once the first one has a whole frame."""

    def adopted() -> bool:
        for s in listener.take():
            s.start()
            sessions.append(s)
        return bool(sessions) and sessions[0].status().first_frame

    return adopted


@contextlib.contextmanager
def x11vnc_connecting(port: int, width: int, height: int, name: str
                      ) -> Iterator[tuple[XDisplay, subprocess.Popen[bytes]]]:
    """An Xvfb of the given size whose x11vnc connects out to 127.0.0.1:port."""
    with xvfb(width=width, height=height) as display:
        proc = display.spawn(
            ["x11vnc", "-display", display.display_name, "-connect", f"127.0.0.1:{port}",
             "-rfbport", str(free_tcp_port()), "-localhost", "-nopw", "-noshm",
             "-desktop", name],
            "x11vnc",
        )
        yield display, proc


@needs_x11vnc
def test_x11vnc_connects_in_and_goes_live() -> None:
    with Listener("127.0.0.1", 0, ListenConfig(allow=("127.0.0.1",))) as listener, \
            x11vnc_connecting(listener.port, 800, 600, "reverse-one") as (display, proc):
        sessions: list[ReverseSession] = []
        try:
            wait(first_frame_in(listener, sessions),
                 "x11vnc never went live\n" + display.log_tail())
            (session,) = sessions
            fb = session.framebuffer
            assert fb is not None and (fb.width, fb.height) == (800, 600)
            assert session.name == "reverse-one" and session.status().state is State.LIVE
            assert session.bytes_received > 0
            proc.terminate()
            wait(lambda: session.status().state is State.DISCONNECTED, "never noticed the end")
            time.sleep(1.0)
            st = session.status()
            assert st.state is State.DISCONNECTED and st.reason  # stays: no reconnect
            assert not session._thread.is_alive()
            assert session.name == "reverse-one"
        finally:
            for s in sessions:
                s.stop()


@pytest.mark.skipif(bool(missing_binaries("tigervnc")) or not shutil.which("vncconfig"),
                    reason="TigerVNC Xvnc / vncconfig not installed")
def test_tigervnc_vncconfig_connect_goes_live_pixel_exact() -> None:
    """TigerVNC's own reverse connection: `vncconfig -connect` tells Xvnc to dial the wall."""
    with Listener("127.0.0.1", 0, ListenConfig(allow=("127.0.0.1",))) as listener, \
            vnc_server("tigervnc") as server:
        result = server.x("vncconfig", "-display", server.display_name,
                          "-connect", f"127.0.0.1:{listener.port}")
        assert result.returncode == 0, result.stderr
        sessions: list[ReverseSession] = []
        try:
            wait(first_frame_in(listener, sessions),
                 "Xvnc never connected in\n" + server.log_tail())
            (session,) = sessions
            assert session.status().state is State.LIVE
            wait(lambda: same_as_screen(session, server), "framebuffer differs from xwd -root")
            server.x("vncconfig", "-display", server.display_name, "-disconnect")
            wait(lambda: session.status().state is State.DISCONNECTED,
                 "vncconfig -disconnect not noticed")
        finally:
            for s in sessions:
                s.stop()


@needs_x11vnc
def test_run_listen_adds_faces_at_runtime(tmp_path: Path) -> None:
    port = free_tcp_port()
    status = tmp_path / "status.json"
    config = tmp_path / "wall.toml"
    config.write_text('[wall]\nfullscreen = false\n[listen]\nallow = ["127.0.0.1", "::1"]\n')
    with xvfb(width=800, height=600) as gl:
        env = gl.env()
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        wall = subprocess.Popen(
            [sys.executable, "-m", "vncwall", "run", "--config", str(config), "--listen",
             f"127.0.0.1:{port}", "--window", "--size", "320x200", "--duration", "12",
             "--status-json", str(status)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            wait(status.exists, "the wall never wrote its status file")
            assert json.loads(status.read_text())["sessions"] == []  # nobody yet
            with x11vnc_connecting(port, 640, 480, "rev-a"), \
                    x11vnc_connecting(port, 1024, 768, "rev-b"):

                def both_live() -> bool:
                    doc = json.loads(status.read_text())
                    return len(doc["sessions"]) == 2 and all(
                        s["state"] == "live" and s["first_frame"] for s in doc["sessions"])

                wait(both_live, "reverse sessions never went live", 30)
                doc = json.loads(status.read_text())
                got = sorted((s["name"], tuple(s["framebuffer"])) for s in doc["sessions"])
                assert got == [("rev-a", (640, 480)), ("rev-b", (1024, 768))]
                assert all(s["address"].startswith("127.0.0.1::") for s in doc["sessions"])
            _, err = wall.communicate(timeout=60)
        finally:
            if wall.poll() is None:
                wall.kill()
                wall.communicate()
    assert wall.returncode == 0, err
    assert f"listening for reverse connections on 127.0.0.1:{port}" in err
    assert "frames in" in err
