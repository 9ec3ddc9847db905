"""`via` gateways: a real sshd on localhost carries real VNC sessions through `ssh -W`."""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.servers import ServerPool, VncServer, free_tcp_port
from vncwall.capture import capture
from vncwall.config import SessionConfig
from vncwall.net.address import parse_address
from vncwall.net.client import ClientOptions
from vncwall.net.errors import ConnectError
from vncwall.session import Session, State
from vncwall.tunnel import SSH_CONFIG_ENV, Gateway, TunnelError, parse_gateway, ssh_command

SSHD = "/usr/sbin/sshd"
TIMEOUT = 30.0


def _why_no_sshd() -> str | None:
    missing = [n for n in ("ssh", "ssh-keygen") if shutil.which(n) is None]
    if not Path(SSHD).exists():
        missing.append(SSHD)
    if missing:
        return f"not installed: {', '.join(missing)} (tools/setup.sh --test installs them)"
    if os.geteuid() != 0:
        return "sshd needs root here (privilege separation)"
    return None


NO_SSHD = _why_no_sshd()
needs_sshd = pytest.mark.skipif(NO_SSHD is not None, reason=NO_SSHD or "")


@dataclass
class SshGateway:
    """A test sshd and the client files that reach it."""

    port: int
    user: str
    config: Path  # ssh_config: the right key, a known_hosts file with the sshd's key
    wrong_key_config: Path  # ssh_config: a key the sshd does not accept
    unknown_host_config: Path  # ssh_config: the right key, an empty known_hosts
    proc: subprocess.Popen[bytes]

    @property
    def via(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip()


def _ssh_config(path: Path, key: Path, known_hosts: Path) -> Path:
    path.write_text(
        f"IdentityFile {key}\nIdentitiesOnly yes\nUserKnownHostsFile {known_hosts}\n"
        "GlobalKnownHostsFile /dev/null\nStrictHostKeyChecking yes\n"
    )
    return path


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            return s.recv(4) == b"SSH-"
    except OSError:
        return False


@contextlib.contextmanager
def ssh_gateway(tmp: Path) -> Iterator[SshGateway]:
    """Run sshd on a free loopback port with its own host key and one authorised key."""
    host_pub = _keygen(tmp / "host_key")
    (tmp / "authorized_keys").write_text(_keygen(tmp / "client_key") + "\n")
    _keygen(tmp / "wrong_key")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    (tmp / "sshd_config").write_text(
        f"HostKey {tmp / 'host_key'}\nAuthorizedKeysFile {tmp / 'authorized_keys'}\n"
        "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nPermitRootLogin prohibit-password\nAllowTcpForwarding yes\n"
        "PidFile none\nListenAddress 127.0.0.1\nLogLevel VERBOSE\n"
    )
    port = free_tcp_port()
    (tmp / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    (tmp / "empty_known_hosts").write_text("")
    log = open(tmp / "sshd.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(tmp / "sshd_config"), "-p", str(port)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not _banner(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("sshd did not start:\n" + (tmp / "sshd.log").read_text())
            time.sleep(0.05)
        yield SshGateway(
            port=port,
            user=getpass.getuser(),
            config=_ssh_config(tmp / "ssh_config", tmp / "client_key", tmp / "known_hosts"),
            wrong_key_config=_ssh_config(tmp / "ssh_config_wrong", tmp / "wrong_key",
                                         tmp / "known_hosts"),
            unknown_host_config=_ssh_config(tmp / "ssh_config_unknown", tmp / "client_key",
                                            tmp / "empty_known_hosts"),
            proc=proc,
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshGateway]:
    if NO_SSHD is not None:
        pytest.skip(NO_SSHD)
    with ssh_gateway(tmp_path_factory.mktemp("sshd")) as gw:
        yield gw


@pytest.fixture
def ssh_env(gateway: SshGateway, monkeypatch: pytest.MonkeyPatch) -> SshGateway:
    """The test's ssh_config for every ssh this test starts (the user's own is left alone)."""
    monkeypatch.setenv(SSH_CONFIG_ENV, str(gateway.config))
    return gateway


def ssh_children() -> list[tuple[int, str]]:
    """(pid, state) of this process's ssh children, zombies ('Z') included."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if comm == "ssh" and int(ppid) == os.getpid():
            found.append((int(entry.name), state))
    return found


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def wait(predicate: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


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
    session.start()
    try:
        deadline = time.monotonic() + 30
        while len(attempts) < 5 and time.monotonic() < deadline:
            status = session.status()
            if status.state is State.RETRYING and status.retry_at is not None:
                attempts.add(status.retry_at)
            assert len(ssh_children()) <= 1
            assert not any(state == "Z" for _, state in ssh_children())
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
