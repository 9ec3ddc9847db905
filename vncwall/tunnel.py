"""Reach a VNC server through an SSH gateway with `ssh -W host:port`, like vncviewer -via.

ssh runs with BatchMode (it never asks anything on the wall), its stdin and stdout on one
end of a socket pair that the Connection drives, its stderr in an unlinked temporary file
whose last lines become the session's reason when the tunnel fails. Host keys, identities
and jump hosts come from the user's OpenSSH configuration (~/.ssh/config, known_hosts);
VNCWALL_SSH_CONFIG names another ssh_config file to use instead (ssh -F).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO

from .net.address import Address
from .net.errors import ConnectError, server_text

SSH = "ssh"
SSH_CONFIG_ENV = "VNCWALL_SSH_CONFIG"
STDERR_LIMIT = 16 * 1024  # bytes of ssh's stderr read back
EXIT_WAIT = 2.0  # seconds to let ssh exit after the bytes stop, to learn why
# Lines of ssh's stderr that explain nothing about a failure (OpenSSH 10 adds "** WARNING:
# connection is not using a post-quantum key exchange" and two more "** " lines).
_NOISE = ("Warning: Permanently added", "** ")

_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._+-]*")
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?")


class TunnelError(ConnectError):
    """The gateway could not be used: bad text, no ssh, or ssh failed."""


@dataclass(frozen=True)
class Gateway:
    """An ssh server to reach VNC servers through: [user@]host[:port]."""

    host: str
    port: int | None = None
    user: str | None = None

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{user}{host}" + (f":{self.port}" if self.port else "")


def parse_gateway(text: str) -> Gateway:
    """Read "[user@]host[:port]" (IPv6 hosts in brackets); raises TunnelError."""
    user, at, rest = text.strip().rpartition("@")
    if at and not _USER.fullmatch(user):
        raise TunnelError(f"via {text!r}: bad user name {user!r}")
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or not _IPV6.fullmatch(host):
            raise TunnelError(f"via {text!r}: bad IPv6 address")
        if tail and not tail.startswith(":"):
            raise TunnelError(f"via {text!r}: expected :port after ']'")
        colon, port_text = tail[:1], tail[1:]
    else:
        host, colon, port_text = rest.partition(":")
        if not _HOST.fullmatch(host):
            raise TunnelError(f"via {text!r}: bad host name {host!r}")
    port = None
    if colon:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise TunnelError(f"via {text!r}: bad port {port_text!r}")
        port = int(port_text)
    return Gateway(host, port, user or None)


def forward_target(address: Address, gateway: Gateway) -> str:
    """The `-W` argument: the server as the gateway sees it."""
    if address.unix_path is not None or address.domain is not None:
        # OpenSSH's -W takes host:port; a socket path there opens no channel at all.
        raise TunnelError(
            f"via {gateway}: {address} cannot be reached through ssh -W (it forwards "
            "TCP host:port only)"
        )
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"{host}:{address.port}"


def ssh_command(gateway: Gateway, address: Address, timeout: float) -> list[str]:
    """The ssh command line that forwards stdin/stdout to `address` through `gateway`."""
    cmd = [SSH]
    config = os.environ.get(SSH_CONFIG_ENV)
    if config:
        cmd += ["-F", config]
    cmd += [
        "-o", "BatchMode=yes",
        "-o", "ExitOnForwardFailure=yes",
        "-o", f"ConnectTimeout={max(1, math.ceil(timeout))}",
        "-W", forward_target(address, gateway),
    ]  # fmt: skip
    if gateway.port is not None:
        cmd += ["-p", str(gateway.port)]
    if gateway.user is not None:
        cmd += ["-l", gateway.user]
    return [*cmd, "--", gateway.host]


class Tunnel:
    """One running `ssh -W`: reaped on close, its stderr the reason when it fails."""

    def __init__(self, proc: subprocess.Popen[bytes], stderr: IO[bytes], gateway: Gateway):
        self.proc = proc
        self.gateway = gateway
        self._stderr = stderr

    def why_closed(self) -> str | None:
        """ssh's own reason once it has exited with a failure; None while it runs or if it
        ended cleanly (the server closed the connection)."""
        try:
            code = self.proc.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            return None
        if code == 0:
            return None
        lines = [
            line.strip()
            for line in os.pread(self._stderr.fileno(), STDERR_LIMIT, 0)
            .decode("utf-8", "replace")
            .splitlines()
            if line.strip() and not line.startswith(_NOISE)
        ]
        if lines:
            text = "; ".join(dict.fromkeys(lines))
        elif code < 0:
            text = f"ssh killed by signal {-code}"
        else:
            text = f"ssh exited with status {code}"
        return f"via {self.gateway}: " + server_text(text.encode(), 300)

    def close(self) -> None:
        """End ssh (and anything it started) and reap it."""
        if self.proc.returncode is None and self.proc.poll() is None:
            # Not yet reaped, so its process group id is still ours to signal.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(EXIT_WAIT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._stderr.close()


def open_tunnel(gateway: Gateway, address: Address, timeout: float) -> tuple[socket.socket,
                                                                             Tunnel]:
    """Start ssh; returns our end of its stdin/stdout and the Tunnel to close with it."""
    cmd = ssh_command(gateway, address, timeout)
    ours, theirs = socket.socketpair()
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the Tunnel closes it
    try:
        # A new session: no controlling terminal to prompt on, and one group to end.
        proc = subprocess.Popen(
            cmd, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    except FileNotFoundError:
        ours.close()
        stderr.close()
        raise TunnelError(
            f"via {gateway}: {SSH} not found (install the OpenSSH client)"
        ) from None
    except OSError as exc:
        ours.close()
        stderr.close()
        raise TunnelError(f"via {gateway}: cannot start {SSH}: {exc.strerror}") from None
    finally:
        theirs.close()
    return ours, Tunnel(proc, stderr, gateway)
