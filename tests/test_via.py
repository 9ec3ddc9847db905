"""`via` gateways: a real sshd on localhost carries real VNC sessions through `ssh -W`."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from tests.servers import ServerPool, VncServer, free_tcp_port
from tests.sshd import SshGateway, needs_sshd, ssh_children
from tests.waiting import waiter
from vncwall.capture import capture
from vncwall.config import SessionConfig
from vncwall.net.address import parse_address
from vncwall.net.client import ClientOptions
from vncwall.net.errors import ConnectError
from vncwall.session import Session, State
from vncwall.tunnel import SSH_CONFIG_ENV, Gateway, TunnelError, parse_gateway, ssh_command

TIMEOUT = 30.0


@pytest.fixture
def ssh_env(gateway: SshGateway, monkeypatch: pytest.MonkeyPatch) -> SshGateway:
    """The test's ssh_config for every ssh this test starts (the user's own is left alone)."""
    monkeypatch.setenv(SSH_CONFIG_ENV, str(gateway.config))
    return gateway


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


wait = waiter(30.0)


def static_capture(server: VncServer, via: str) -> tuple[np.ndarray, np.ndarray]:
    """A capture through `via` and the server's own screenshot, the screen still meanwhile."""
    for _ in range(3):
        before = server.screenshot()
        shot = capture(parse_address(f"127.0.0.1::{server.port}"), ClientOptions(), TIMEOUT,
                       via=via)
        if np.array_equal(before, server.screenshot()):
            return shot.pixels[..., :3], before
    pytest.fail("the screen kept changing during captures")


# --- the command line ssh gets -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gateway"),
    [
        ("gw", Gateway("gw")),
        ("alice@gw.example.org", Gateway("gw.example.org", None, "alice")),
        ("bob@10.0.0.1:2222", Gateway("10.0.0.1", 2222, "bob")),
        ("[::1]:22", Gateway("::1", 22)),
        ("carol@[fe80::1%eth0]", Gateway("fe80::1%eth0", None, "carol")),
    ],
)
def test_gateway_forms(text: str, gateway: Gateway) -> None:
    assert parse_gateway(text) == gateway
    assert parse_gateway(str(gateway)) == gateway


@pytest.mark.parametrize(
    "text",
    ["", "gw:", "[::1]:", "gw:0", "gw:70000", "gw:x", "-oProxyCommand=x", "u@-gw", "-u@gw",
     "[::1", "[::1]x", "a b", "gw;rm", "::1"],
)
def test_bad_gateways(text: str) -> None:
    with pytest.raises(TunnelError, match="via"):
        parse_gateway(text)


def test_ssh_command_never_prompts_and_ends_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SSH_CONFIG_ENV, raising=False)
    cmd = ssh_command(parse_gateway("alice@gw:2222"), parse_address("[::1]:1"), 7.5)
    assert cmd[0] == "ssh" and "-F" not in cmd
    for option in ("BatchMode=yes", "ExitOnForwardFailure=yes", "ConnectTimeout=8"):
        assert cmd[cmd.index(option) - 1] == "-o"
    assert cmd[cmd.index("-W") + 1] == "[::1]:5901"
    assert cmd[cmd.index("-p") + 1] == "2222" and cmd[cmd.index("-l") + 1] == "alice"
    assert cmd[-2:] == ["--", "gw"]
    monkeypatch.setenv(SSH_CONFIG_ENV, "/etc/vncwall/ssh_config")
    cmd = ssh_command(parse_gateway("gw"), parse_address("localhost:1"), 1)
    assert cmd[1:3] == ["-F", "/etc/vncwall/ssh_config"] and "-p" not in cmd


def test_unix_socket_through_gateway_is_refused_clearly() -> None:
    # OpenSSH's `ssh -W /path` opens no channel at all (checked with 9.2): refuse it.
    with pytest.raises(TunnelError, match="TCP host:port only"):
        capture(parse_address("unix:/run/vnc.sock"), ClientOptions(), 5, via="gw")


def test_missing_ssh_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TunnelError, match="ssh not found"):
        capture(parse_address("127.0.0.1:1"), ClientOptions(), 5, via="gw")


# --- through a real sshd -----------------------------------------------------------------


@needs_sshd
def test_capture_through_gateway_equals_screenshot(
    ssh_env: SshGateway, server_pool: ServerPool
) -> None:
    server = server_pool.get("tigervnc")
    fds = open_fds()
    for _ in range(3):  # and nothing is left behind, however often it is done
        got, want = static_capture(server, ssh_env.via)
        np.testing.assert_array_equal(got, want)
    assert ssh_children() == []
    assert open_fds() == fds


@needs_sshd
def test_session_through_gateway_survives_a_killed_tunnel(
    ssh_env: SshGateway, server_pool: ServerPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vncwall.session")
    server = server_pool.get("x11vnc")
    cfg = SessionConfig(name="via", address=parse_address(f"localhost::{server.port}"),
                        via=ssh_env.via)
    session = Session(cfg, reconnect_cap=1.0, timeout=10.0)
    session.start()
    try:
        wait(lambda: session.status().first_frame, "no first frame through the gateway")
        fb = session.framebuffer
        assert fb is not None
        want = server.stable_screenshot()
        with fb.lock:
            got = fb.pixels[..., :3].copy()
        np.testing.assert_array_equal(got, want)
        (first,) = ssh_children()
        os.kill(first[0], signal.SIGKILL)  # the tunnel dies under a live session
        # The reason shows until the next attempt succeeds; the log keeps it for us.
        wait(lambda: any(r.getMessage() == f"session via: via {ssh_env.via}: ssh killed by "
                         "signal 9" for r in caplog.records),
             f"no reason from the dead tunnel: {caplog.text}")
        wait(lambda: session.status().state is State.LIVE and session.status().first_frame,
             "did not reconnect through the gateway")
        assert [pid for pid, _ in ssh_children()] != [first[0]]
        assert len(ssh_children()) == 1
    finally:
        session.stop()
    wait(lambda: ssh_children() == [], f"ssh left behind: {ssh_children()}", 5)


@needs_sshd
def test_reconnects_to_a_closed_port_leak_nothing(ssh_env: SshGateway) -> None:
    fds = open_fds()
    cfg = SessionConfig(name="closed", address=parse_address(f"127.0.0.1::{free_tcp_port()}"),
                        via=ssh_env.via)
    session = Session(cfg, reconnect_cap=0.2, timeout=5.0)
    attempts: set[float] = set()  # each failed attempt sets a new retry time
    zombie_since: dict[int, float] = {}  # an ssh that exited, until the session reaps it
    session.start()
    try:
        deadline = time.monotonic() + 30
        while len(attempts) < 5 and time.monotonic() < deadline:
            status = session.status()
            if status.state is State.RETRYING and status.retry_at is not None:
                attempts.add(status.retry_at)
            children = ssh_children()
            assert len(children) <= 1  # a leaked ssh (zombie or not) would make two
            now = time.monotonic()
            zombies = {pid for pid, state in children if state == "Z"}
            zombie_since = {pid: zombie_since.get(pid, now) for pid in zombies}
            # Between ssh's exit and the reap a zombie is normal; one left is a leak.
            assert all(now - t < 2.0 for t in zombie_since.values()), zombie_since
            time.sleep(0.01)
        assert len(attempts) >= 5, f"only {len(attempts)} attempts: {session.status()}"
        reason = session.status().reason
        assert "open failed" in reason and "Connection refused" in reason, reason
        assert "\n" not in reason
    finally:
        session.stop()
    assert ssh_children() == []
    assert open_fds() == fds


@needs_sshd
def test_wrong_key_is_permission_denied(
    gateway: SshGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SSH_CONFIG_ENV, str(gateway.wrong_key_config))
    start = time.monotonic()
    with pytest.raises(ConnectError, match=r"Permission denied \(publickey\)") as info:
        capture(parse_address("127.0.0.1:1"), ClientOptions(), TIMEOUT, via=gateway.via)
    assert str(info.value).startswith(f"via {gateway.via}: ")
    assert time.monotonic() - start < 10
    assert ssh_children() == []


@needs_sshd
def test_unknown_host_key_is_refused(
    gateway: SshGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BatchMode: an unknown gateway key is never accepted on the wall.
    monkeypatch.setenv(SSH_CONFIG_ENV, str(gateway.unknown_host_config))
    with pytest.raises(ConnectError, match="Host key verification failed"):
        capture(parse_address("127.0.0.1:1"), ClientOptions(), TIMEOUT, via=gateway.via)


@needs_sshd
def test_closed_target_port(ssh_env: SshGateway) -> None:
    port = free_tcp_port()
    with pytest.raises(ConnectError, match="open failed: connect failed: Connection refused"):
        capture(parse_address(f"127.0.0.1::{port}"), ClientOptions(), TIMEOUT, via=ssh_env.via)


@needs_sshd
def test_sshd_down(ssh_env: SshGateway) -> None:
    port = free_tcp_port()
    with pytest.raises(ConnectError, match=f"port {port}: Connection refused"):
        capture(parse_address("127.0.0.1:1"), ClientOptions(), TIMEOUT,
                via=f"{ssh_env.user}@127.0.0.1:{port}")
    assert ssh_children() == []


@needs_sshd
def test_unresolvable_gateway(ssh_env: SshGateway) -> None:
    with pytest.raises(ConnectError, match="Could not resolve hostname"):
        capture(parse_address("127.0.0.1:1"), ClientOptions(), TIMEOUT,
                via="no-such-gateway.invalid")
