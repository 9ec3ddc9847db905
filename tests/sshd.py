"""A real sshd on localhost for `via` gateways and remote libvirt hosts (root only here)."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_tcp_port

SSHD = "/usr/sbin/sshd"


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
