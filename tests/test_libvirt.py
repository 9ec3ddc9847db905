"""libvirt: addresses against a real libvirtd: TCG guests found by name, UUID and ID, followed."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.libvirtd import PRIVILEGED, Guest, Libvirtd, libvirtd, why_no_libvirtd
from tests.servers import ServerPool
from tests.sshd import SshGateway, ssh_children
from tests.waiting import waiter
from tests.wallkit import OPAQUE_GRID, WallOpener, render
from vncwall.capture import capture
from vncwall.config import SessionConfig
from vncwall.libvirt import LibvirtError, parse_display
from vncwall.net.address import Address, parse_address
from vncwall.net.client import ClientOptions
from vncwall.net.errors import ConnectError
from vncwall.session import Session, State

TIMEOUT = 30.0
NOT_RUNNING = "Domain is not running"  # virsh domdisplay on a shut-off guest
NO_LIBVIRTD = why_no_libvirtd()
wait = waiter(60.0)


@pytest.fixture(scope="module")
def daemon() -> Iterator[Libvirtd]:
    """A real libvirtd; its clients' environment (XDG dirs, as non-root) set for the module."""
    if NO_LIBVIRTD is not None:
        pytest.skip(NO_LIBVIRTD)
    with libvirtd() as d, pytest.MonkeyPatch.context() as mp:
        for key, value in d.env.items():
            mp.setenv(key, value)
        yield d


@pytest.fixture(scope="module")
def guest(daemon: Libvirtd) -> Guest:
    """A running guest showing its picture, shared by the tests that only look at it."""
    g = daemon.define("shared")
    g.start()
    g.picture()
    return g


def capture_equals_screen(guest: Guest, text: str) -> None:
    shot = capture(parse_address(text), ClientOptions(), TIMEOUT)
    np.testing.assert_array_equal(shot.pixels[..., :3], guest.picture())


# --- reading virsh's answer ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("vnc://127.0.0.1:0", Address("127.0.0.1", 5900)),
        ("vnc://[::1]:1", Address("::1", 5901)),
        ("vnc://0.0.0.0:0", Address("127.0.0.1", 5900)),  # any address: the libvirt host
        ("vnc://[::]:2", Address("::1", 5902)),
        ("vnc://kvm.example.org:7", Address("kvm.example.org", 5907)),
        ("vnc://:secret@localhost:3", Address("localhost", 5903)),  # --include-password
        ("vnc://127.0.0.1:100", Address("127.0.0.1", 6000)),  # a display number, always
        ("vnc://127.0.0.1:-200", Address("127.0.0.1", 5700)),  # a port below 5900
        ("vnc+unix:///run/libvirt/qemu/vnc.sock", Address(unix_path="/run/libvirt/qemu/vnc.sock")),
    ],
)
def test_display_forms(text: str, address: Address) -> None:
    assert parse_display(text, "libvirt g") == address


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("spice://127.0.0.1:5930", "'spice', not VNC"),
        ("vnc://127.0.0.1", "has no port"),
        ("vnc://127.0.0.1:x", "cannot read the port"),
        ("vnc://127.0.0.1:70000", "out of range"),
        ("vnc://127.0.0.1:-5901", "has no port yet"),  # seen while a guest shuts down
        ("vnc+unix:relative", "cannot read"),
    ],
)
def test_bad_display(text: str, why: str) -> None:
    with pytest.raises(LibvirtError, match=why):
        parse_display(text, "libvirt g")


# --- a real guest ---------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["name", "uuid", "id"])
def test_capture_of_a_guest_equals_its_screen(daemon: Libvirtd, guest: Guest, by: str) -> None:
    domain = {"name": guest.name, "uuid": guest.uuid, "id": guest.id()}[by]
    assert domain.isdigit() if by == "id" else domain
    capture_equals_screen(guest, daemon.address(domain))


def test_short_form_is_the_system_daemon(daemon: Libvirtd, guest: Guest) -> None:
    if not PRIVILEGED:
        pytest.skip("libvirt:NAME is qemu:///system, run by root only (here: qemu:///session)")
    capture_equals_screen(guest, f"libvirt:{guest.name}")
    capture_equals_screen(guest, f"libvirt:{guest.uuid}")


def test_cli_capture_of_a_guest(daemon: Libvirtd, guest: Guest, tmp_path: Path) -> None:
    from tests.test_real_servers import run_capture

    started = time.monotonic()
    result = run_capture(daemon.address(guest.name), tmp_path / "g.png")
    print(f"vncwall capture {daemon.address(guest.name)}: exit {result.returncode} in "
          f"{time.monotonic() - started:.2f} s")
    assert result.returncode == 0, result.stderr
    assert result.image is not None
    np.testing.assert_array_equal(result.image, guest.picture())
    # Defined but shut off; a name with a space travels through the address and virsh intact.
    off = daemon.define("web 1")
    result = run_capture(daemon.address(off.name), tmp_path / "h.png")
    assert result.returncode == 3, result.stderr
    assert result.one_line() == f"vncwall: libvirt {off.name}: {NOT_RUNNING}"


def test_virsh_failures_are_one_line(daemon: Libvirtd) -> None:
    headless = daemon.define("headless", graphics="")
    headless.start()
    cases = [
        (f"vncwall-test-{os.getpid()}-nobody", "failed to get domain"),
        (headless.name, "No graphical display with type 'vnc' found"),
    ]
    for domain, why in cases:
        with pytest.raises(LibvirtError, match=why) as info:
            capture(parse_address(daemon.address(domain)), ClientOptions(), 10)
        assert str(info.value).startswith(f"libvirt {domain}: ")
        assert "\n" not in str(info.value)


def test_session_follows_a_restarted_guest(daemon: Libvirtd) -> None:
    guest = daemon.define("restart")
    guest.start()
    before = guest.picture()
    old_port = guest.port()
    cfg = SessionConfig(name="guest", address=parse_address(daemon.address(guest.name)))
    session = Session(cfg, reconnect_cap=1.0, timeout=10.0)
    with contextlib.ExitStack() as stack:
        session.start()
        stack.callback(session.stop)
        wait(lambda: session.status().first_frame, f"no first frame: {session.status()}")
        fb = session.framebuffer
        assert fb is not None
        with fb.lock:
            np.testing.assert_array_equal(fb.pixels[..., :3], before)
        guest.destroy()
        wait(lambda: NOT_RUNNING in session.status().reason,
             f"virsh's reason not shown: {session.status()}")
        assert session.status().state is not State.LIVE
        # Hold the old port, so the guest comes back on another one.
        holder = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        holder.bind(("127.0.0.1", old_port))
        holder.listen()
        guest.start()
        new_port = guest.port()
        assert new_port != old_port
        after = guest.picture()
        wait(lambda: session.status().state is State.LIVE and session.status().first_frame,
             f"did not follow the guest to port {new_port}: {session.status()}")
        fb = session.framebuffer
        assert fb is not None
        with fb.lock:
            np.testing.assert_array_equal(fb.pixels[..., :3], after)


def test_a_drawn_wall_follows_a_restarted_guest(
    daemon: Libvirtd, open_wall: WallOpener, server_pool: ServerPool
) -> None:
    """On a real wall (GL, zoomed 1:1): the guest's face is its screen; destroyed, the face
    says why while the Xvnc beside it stays live; started again on another port, the face
    is the new screen."""
    guest = daemon.define("wall")
    guest.start()
    before = guest.picture()
    old_port = guest.port()
    xvnc = server_pool.get("tigervnc")
    size = (800, 500)
    x0, y0 = 80, 50  # one_to_one((800, 500), 640, 400)
    with contextlib.ExitStack() as stack:
        wall = stack.enter_context(open_wall(
            [daemon.address(guest.name), xvnc], reconnect_max_seconds=1.0,
            connect_timeout=10.0, **OPAQUE_GRID))
        t = time.monotonic()
        wall.toggle_zoom(t)
        t += 1.0
        image = render(wall, size, t)
        np.testing.assert_array_equal(image[y0 : y0 + 400, x0 : x0 + 640], before)
        old_fb = wall.sessions[0].framebuffer
        guest.destroy()
        deadline = time.monotonic() + 60
        while NOT_RUNNING not in wall.sessions[0].status().reason:
            assert time.monotonic() < deadline, wall.sessions[0].status()
            wall.frame(size, t)  # the wall keeps drawing meanwhile
            time.sleep(0.05)
        assert wall.sessions[1].status().state is State.LIVE
        holder = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", old_port))
        holder.listen()
        guest.start()
        assert guest.port() != old_port
        after = guest.picture()
        deadline = time.monotonic() + 60
        while not (wall.sessions[0].status().state is State.LIVE
                   and wall.sessions[0].status().first_frame):
            assert time.monotonic() < deadline, wall.sessions[0].status()
            wall.frame(size, t)
            time.sleep(0.05)
        image = render(wall, size, t)
        np.testing.assert_array_equal(image[y0 : y0 + 400, x0 : x0 + 640], after)
        # What is drawn is the new connection's framebuffer, not the old one's picture.
        new_fb = wall.sessions[0].framebuffer
        assert wall.renderer is not None and new_fb is not None and new_fb is not old_fb
        assert wall.renderer.textures[0].source is new_fb
        assert wall.sessions[1].status().state is State.LIVE


# --- a remote libvirt host, its display reached through ssh -----------------------------------


def test_remote_guest_through_its_host(
    daemon: Libvirtd, guest: Guest, gateway: SshGateway, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not PRIVILEGED:
        pytest.skip("the test sshd logs in as root, whose libvirt is qemu:///system")
    # libvirt's qemu+ssh runs plain `ssh`: give it the gateway's key and known hosts.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ssh").write_text(f"#!/bin/sh\nexec /usr/bin/ssh -F '{gateway.config}' \"$@\"\n")
    (bindir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    # The display is on the host's loopback (127.0.0.1): only ssh -W reaches it.
    text = f"libvirt://{gateway.user}@127.0.0.1:{gateway.port}/system?domain={guest.uuid}"
    capture_equals_screen(guest, text)
    assert ssh_children() == []


# --- what a real virsh does not do: go missing, hang, answer nothing ------------------------


def fake_virsh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    script = bindir / "virsh"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")


def test_missing_virsh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LibvirtError, match="virsh not found"):
        capture(parse_address("libvirt:g"), ClientOptions(), 5)


def test_hanging_virsh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_virsh(tmp_path, monkeypatch, "exec sleep 60")
    started = time.monotonic()
    with pytest.raises(LibvirtError, match=r"^libvirt g: virsh gave no answer within 2 s$"):
        capture(parse_address("libvirt:g"), ClientOptions(), 2)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("exit 0", "no VNC display (does the guest have <graphics type='vnc'>?)"),
        ("exit 7", "virsh exited with status 7"),
    ],
)
def test_virsh_without_an_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, why: str
) -> None:
    fake_virsh(tmp_path, monkeypatch, body)
    with pytest.raises(LibvirtError) as info:
        capture(parse_address("libvirt:g"), ClientOptions(), 5)
    assert str(info.value) == f"libvirt g: {why}"


def test_via_with_libvirt_is_a_clear_error() -> None:
    with pytest.raises(ConnectError, match="does not combine with a libvirt address"):
        capture(parse_address("libvirt:g"), ClientOptions(), 5, via="gw")

