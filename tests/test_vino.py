"""vino with require-encryption: only AnonTLS (18), anonymous DH TLS, then None or VncAuth."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.test_real_servers import REPO, Result, load_png
from tests.vino import HEIGHT, WIDTH, Vino, security_types, vino, why_no_vino
from tests.waiting import wait
from vncwall.config import SessionConfig
from vncwall.net.address import parse_address
from vncwall.session import Session, State

PASSWORD = "s3cret!"
NO_VINO = why_no_vino()
WEAK = "server is not authenticated"


@pytest.fixture(scope="module")
def open_vino() -> Iterator[Vino]:
    if NO_VINO is not None:
        pytest.skip(NO_VINO)
    with vino("none") as server:
        yield server


@pytest.fixture(scope="module")
def password_vino() -> Iterator[Vino]:
    if NO_VINO is not None:
        pytest.skip(NO_VINO)
    with vino("vnc", PASSWORD) as server:
        yield server


def capture_cli(server: Vino, out: Path, *args: str) -> Result:
    """`vncwall --log-level info capture ADDRESS OUT ARGS...`: how the connection is
    protected is logged at info level."""
    env = {k: v for k, v in os.environ.items() if k not in ("VNCWALL_PASSWORD", "VNCWALL_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-m", "vncwall", "--log-level", "info", "capture", server.address,
           str(out), "--timeout", "20", *args]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=80,
                          check=False)
    print(f"vncwall capture {server.address} {' '.join(args)}: exit {proc.returncode} "
          f"in {time.monotonic() - started:.2f} s: {proc.stderr.strip()}")
    image = load_png(out) if proc.returncode == 0 and out.exists() else None
    return Result(proc.returncode, proc.stderr, image)


def last_line(result: Result) -> str:
    """The error line (after the info lines on how the connection is protected)."""
    return result.stderr.strip().splitlines()[-1]


def assert_screen(result: Result, server: Vino) -> None:
    assert result.returncode == 0, result.stderr
    assert result.image is not None
    assert result.image.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(result.image, server.display.stable_screenshot())


def test_vino_offers_only_anon_tls(open_vino: Vino, password_vino: Vino) -> None:
    assert security_types(open_vino.port) == [18]
    assert security_types(password_vino.port) == [18]


def test_capture_through_anon_tls(open_vino: Vino, tmp_path: Path) -> None:
    result = capture_cli(open_vino, tmp_path / "v.png")
    assert_screen(result, open_vino)
    # Shown as what it is: encrypted (anonymous DH, TLS 1.2) but not authenticated.
    assert "AnonTLS (TLSv1.2 ADH-" in result.stderr
    assert f"+ None (1): encrypted, but the {WEAK}" in result.stderr


def test_session_shows_anon_tls_as_weak(open_vino: Vino) -> None:
    cfg = SessionConfig(name="vino", address=parse_address(open_vino.address))
    session = Session(cfg, reconnect_cap=1.0, timeout=10.0)
    with contextlib.ExitStack() as stack:
        session.start()
        stack.callback(session.stop)
        wait(lambda: session.status().first_frame, f"no first frame: {session.status()}", 30)
        status = session.status()
        assert status.state is State.LIVE
        assert status.line().startswith("live (AnonTLS (TLSv1.2 ADH-")
        assert WEAK in status.security
        fb = session.framebuffer
        assert fb is not None
        with fb.lock:
            got = fb.pixels[..., :3].copy()
        np.testing.assert_array_equal(got, open_vino.display.stable_screenshot())


def test_min_security_refuses_anon_tls(open_vino: Vino, tmp_path: Path) -> None:
    result = capture_cli(open_vino, tmp_path / "x.png", "--min-security", "x509none")
    assert result.returncode == 5, result.stderr
    assert not (tmp_path / "x.png").exists()


def test_vnc_password_inside_anon_tls(password_vino: Vino, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    result = capture_cli(password_vino, tmp_path / "p.png", "--password-file", str(pw))
    assert_screen(result, password_vino)
    assert "AnonTLS (TLSv1.2 ADH-" in result.stderr
    assert f"+ VncAuth (2): encrypted, but the {WEAK}" in result.stderr


def test_wrong_or_no_password_inside_anon_tls(password_vino: Vino, tmp_path: Path) -> None:
    result = capture_cli(password_vino, tmp_path / "n.png")
    assert result.returncode == 4, result.stderr
    assert last_line(result) == "vncwall: the server requires a password and none was given"
    pw = tmp_path / "pw"
    pw.write_text("wrong\n")
    result = capture_cli(password_vino, tmp_path / "w.png", "--password-file", str(pw))
    assert result.returncode == 4, result.stderr
    assert last_line(result) == "vncwall: authentication failed: wrong credentials"
