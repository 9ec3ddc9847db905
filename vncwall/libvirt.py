"""Find a libvirt guest's VNC display with `virsh domdisplay`, as virt-viewer does.

Asked again at every connect attempt, so a guest that restarts on another port is
followed. The password is not taken from libvirt (that needs --include-password and
full access); the session's password_file or password_env is used.
"""

from __future__ import annotations

import subprocess
from urllib.parse import unquote, urlsplit

from .net.address import BASE_PORT, Address
from .net.errors import ConnectError, server_text
from .tunnel import Gateway, TunnelError, parse_gateway

VIRSH = "virsh"
# A guest listening on every address is reached on the host libvirt runs on.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "localhost"}


class LibvirtError(ConnectError):
    """virsh could not say where the guest's VNC display is."""


def domdisplay(address: Address, timeout: float) -> str:
    """virsh's answer for the guest's VNC display, e.g. "vnc://127.0.0.1:0"."""
    assert address.libvirt_uri is not None and address.domain is not None
    cmd = [VIRSH, "-q", "-c", address.libvirt_uri, "domdisplay", "--type", "vnc",
           "--domain", address.domain]
    label = f"libvirt {address.domain}"
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=max(timeout, 1.0),
            check=False, start_new_session=True,  # no terminal to ask a password on
        )  # fmt: skip
    except FileNotFoundError:
        raise LibvirtError(f"{label}: {VIRSH} not found (install libvirt-clients)") from None
    except subprocess.TimeoutExpired:
        raise LibvirtError(f"{label}: {VIRSH} gave no answer within {timeout:g} s") from None
    except OSError as exc:
        raise LibvirtError(f"{label}: cannot run {VIRSH}: {exc.strerror}") from None
    out = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0 or not out:
        lines = [
            line.strip().removeprefix("error: ")
            for line in done.stderr.decode("utf-8", "replace").splitlines()
            if line.strip()
        ]
        why = "; ".join(dict.fromkeys(lines)) or (
            f"{VIRSH} exited with status {done.returncode}" if done.returncode
            else "no VNC display (does the guest have <graphics type='vnc'>?)"
        )
        raise LibvirtError(f"{label}: " + server_text(why.encode(), 300))
    return out.splitlines()[0].strip()


def parse_display(text: str, label: str) -> Address:
    """virsh's display URI as an Address: vnc://HOST:DISPLAY (port 5900 + DISPLAY),
    vnc://[v6]:DISPLAY, vnc+unix:///path; a password in it is ignored."""
    parts = urlsplit(text)
    if parts.scheme == "vnc+unix":
        if not parts.path.startswith("/"):
            raise LibvirtError(f"{label}: cannot read {VIRSH}'s display {text!r}")
        return Address(unix_path=unquote(parts.path))
    if parts.scheme != "vnc":
        raise LibvirtError(f"{label}: the guest's display is {parts.scheme or text!r}, not VNC")
    # Not parts.port: virsh prints a display number, negative for ports below 5900.
    host_port = parts.netloc.rpartition("@")[2]
    head, colon, number = host_port.rpartition(":")
    if not colon or (":" in head and not head.startswith("[")):
        raise LibvirtError(f"{label}: {VIRSH}'s display {text!r} has no port "
                           "(is the guest running?)")
    try:
        port = BASE_PORT + int(number)
    except ValueError:
        raise LibvirtError(f"{label}: cannot read the port in {text!r}") from None
    if port == -1:  # libvirt's "no port": the guest is starting or shutting down
        raise LibvirtError(f"{label}: the guest's VNC display has no port yet "
                           "(is the guest starting or shutting down?)")
    if not 0 < port < 65536:
        raise LibvirtError(f"{label}: port {port} out of range in {text!r}")
    host = head[1:-1] if head.startswith("[") and head.endswith("]") else head
    return Address(_WILDCARDS.get(host, host), port)


def libvirt_gateway(address: Address) -> Gateway | None:
    """The ssh gateway of a remote libvirt address (its libvirt host), None for local."""
    if not address.host:
        return None
    host = f"[{address.host}]" if ":" in address.host else address.host
    user = f"{address.username}@" if address.username else ""
    port = f":{address.port}" if address.port else ""
    try:
        return parse_gateway(f"{user}{host}{port}")
    except TunnelError as exc:
        raise LibvirtError(str(exc)) from None


def resolve(address: Address, timeout: float) -> tuple[Address, Gateway | None]:
    """Where the guest's VNC server is now, and the gateway to reach it through."""
    label = f"libvirt {address.domain}"
    display = parse_display(domdisplay(address, timeout), label)
    gateway = libvirt_gateway(address)
    if gateway is not None and display.unix_path is not None:
        raise LibvirtError(f"{label}: the display is a socket on {gateway.host} "
                           f"({display.unix_path}); ssh -W cannot reach sockets")
    return display, gateway
