"""libvirt: addresses: a guest's VNC display found with `virsh domdisplay`, and followed.

This machine has no libvirtd and no KVM, so these tests put a fake `virsh` first on PATH:
a shell script that prints what real virsh prints for `domdisplay` (a display URI, or an
"error: ..." line with exit status 1) and points at real VNC servers.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.servers import ServerPool, VncServer, missing_binaries, vnc_server
from tests.sshd import SshGateway, ssh_children
from tests.waiting import waiter
from vncwall.capture import capture
from vncwall.config import SessionConfig
from vncwall.libvirt import LibvirtError, parse_display
from vncwall.net.address import Address, parse_address
from vncwall.net.client import ClientOptions
from vncwall.net.errors import ConnectError
from vncwall.session import Session, State
from vncwall.tunnel import SSH_CONFIG_ENV

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0
NOT_RUNNING = "error: Requested operation is not valid: domain is not running"

FAKE_VIRSH = """#!/bin/sh
# A stand-in for virsh: no libvirtd here. Logs its arguments, then answers from files.
dir={dir}
printf '%s\\n' "$*" >> "$dir/calls"
if [ -s "$dir/error" ]; then cat "$dir/error" >&2; exit 1; fi
cat "$dir/display"
"""


@dataclass
class FakeVirsh:
    """Controls what the fake virsh answers."""

    dir: Path

    def shows(self, display: str) -> None:
        (self.dir / "error").write_text("")
        (self.dir / "display").write_text(display + "\n")

    def shows_server(self, server: VncServer, host: str = "127.0.0.1") -> None:
        # virsh prints the display number: the port less 5900 (negative below 5900).
        self.shows(f"vnc://{host}:{server.port - 5900}")

    def fails(self, message: str) -> None:
        (self.dir / "error").write_text(message + "\n")

    def calls(self) -> list[str]:
        path = self.dir / "calls"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def virsh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeVirsh:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "virsh"
    script.write_text(FAKE_VIRSH.format(dir=shlex.quote(str(bindir))))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    print("using a fake virsh: no libvirtd or KVM on this machine")
    fake = FakeVirsh(bindir)
    fake.fails("error: failed to get domain 'nobody-set-me'")
    return fake


wait = waiter(30.0)


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
        ("vnc+unix:relative", "cannot read"),
    ],
)
def test_bad_display(text: str, why: str) -> None:
    with pytest.raises(LibvirtError, match=why):
        parse_display(text, "libvirt g")


# --- asking the fake virsh -----------------------------------------------------------------


def test_virsh_is_asked_for_the_vnc_display(virsh: FakeVirsh) -> None:
    virsh.fails(NOT_RUNNING)
    with pytest.raises(ConnectError) as info:
        capture(parse_address("libvirt:///system?domain=web%201"), ClientOptions(), 5)
    assert str(info.value) == (
        "libvirt web 1: Requested operation is not valid: domain is not running"
    )
    assert virsh.calls() == ["-q -c qemu:///system domdisplay --type vnc --domain web 1"]
    with pytest.raises(ConnectError):
        capture(parse_address("libvirt:///session?domain=g"), ClientOptions(), 5)
    assert virsh.calls()[-1] == "-q -c qemu:///session domdisplay --type vnc --domain g"


@pytest.mark.parametrize(
    ("stderr", "display", "why"),
    [
        ("error: failed to get domain 'g'", "", "libvirt g: failed to get domain 'g'"),
        ("error: No graphical display with type 'vnc' found", "",
         "No graphical display with type 'vnc' found"),
        ("", "", "no VNC display"),
        ("", "spice://127.0.0.1:0", "'spice', not VNC"),
    ],
)
def test_virsh_failures_are_one_line(
    virsh: FakeVirsh, stderr: str, display: str, why: str
) -> None:
    virsh.shows(display)
    if stderr:
        virsh.fails(stderr)
    with pytest.raises(LibvirtError, match=why) as info:
        capture(parse_address("libvirt:g"), ClientOptions(), 5)
    assert "\n" not in str(info.value)


def test_missing_virsh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LibvirtError, match="virsh not found"):
        capture(parse_address("libvirt:g"), ClientOptions(), 5)


def test_via_with_libvirt_is_a_clear_error() -> None:
    with pytest.raises(ConnectError, match="does not combine with a libvirt address"):
        capture(parse_address("libvirt:g"), ClientOptions(), 5, via="gw")


# --- real VNC servers behind the fake virsh -----------------------------------------------


def test_capture_of_a_guest_equals_screenshot(virsh: FakeVirsh, server_pool: ServerPool) -> None:
    server = server_pool.get("tigervnc")
    virsh.shows_server(server, host="0.0.0.0")
    for _ in range(3):
        before = server.screenshot()
        shot = capture(parse_address("libvirt:///system?domain=guest"), ClientOptions(), TIMEOUT)
        if np.array_equal(before, server.screenshot()):
            break
    np.testing.assert_array_equal(shot.pixels[..., :3], before)


def test_cli_capture_of_a_guest(virsh: FakeVirsh, server_pool: ServerPool,
                                tmp_path: Path) -> None:
    from tests.test_real_servers import run_capture

    server = server_pool.get("tigervnc")
    virsh.shows_server(server)
    env = {"PATH": os.environ["PATH"]}
    result = run_capture("libvirt:///system?domain=guest", tmp_path / "g.png", env=env)
    assert result.returncode == 0, result.stderr
    assert result.image is not None
    np.testing.assert_array_equal(result.image, server.stable_screenshot())
    virsh.fails(NOT_RUNNING)
    result = run_capture("libvirt:///system?domain=guest", tmp_path / "h.png", env=env)
    assert result.returncode == 3
    assert result.one_line().endswith("libvirt guest: Requested operation is not valid: "
                                      "domain is not running")


def test_session_follows_a_restarted_guest(virsh: FakeVirsh, server_pool: ServerPool) -> None:
    if missing_binaries("tigervnc", scene=False):
        pytest.skip(f"not installed: {missing_binaries('tigervnc', scene=False)}")
    after = server_pool.get("tigervnc")
    cfg = SessionConfig(name="guest", address=parse_address("libvirt:///system?domain=guest"))
    session = Session(cfg, reconnect_cap=1.0, timeout=10.0)
    with contextlib.ExitStack() as stack:
        before = stack.enter_context(vnc_server("tigervnc", scene=False))
        virsh.shows_server(before)
        session.start()
        stack.callback(session.stop)
        wait(lambda: session.status().first_frame, f"no first frame: {session.status()}")
        fb = session.framebuffer
        assert fb is not None
        with fb.lock:
            np.testing.assert_array_equal(fb.pixels[..., :3], before.stable_screenshot())
        # The guest shuts down: its display goes, and libvirt says it is not running.
        virsh.fails(NOT_RUNNING)
        before.close()
        wait(lambda: "domain is not running" in session.status().reason,
             f"virsh's reason not shown: {session.status()}")
        assert session.status().state is not State.LIVE
        # It starts again on another port.
        virsh.shows_server(after)
        wait(lambda: session.status().state is State.LIVE and session.status().first_frame,
             f"did not follow the guest to port {after.port}: {session.status()}")
        fb = session.framebuffer
        assert fb is not None
        with fb.lock:
            np.testing.assert_array_equal(fb.pixels[..., :3], after.stable_screenshot())
    assert len(virsh.calls()) >= 3  # asked again at every attempt


# --- a remote libvirt host, its display reached through ssh -----------------------------------


def test_remote_guest_through_its_host(
    virsh: FakeVirsh, gateway: SshGateway, server_pool: ServerPool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SSH_CONFIG_ENV, str(gateway.config))
    server = server_pool.get("tigervnc")
    # As the libvirt host sees it: only on its loopback, so only ssh can reach it.
    virsh.shows_server(server)
    text = f"libvirt://{gateway.user}@127.0.0.1:{gateway.port}/system?domain=far"
    for _ in range(3):
        before = server.screenshot()
        shot = capture(parse_address(text), ClientOptions(), TIMEOUT)
        if np.array_equal(before, server.screenshot()):
            break
    np.testing.assert_array_equal(shot.pixels[..., :3], before)
    assert virsh.calls()[-1] == (
        f"-q -c qemu+ssh://{gateway.user}@127.0.0.1:{gateway.port}/system?no_tty=1 "
        "domdisplay --type vnc --domain far"
    )
    assert ssh_children() == []

