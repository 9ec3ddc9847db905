"""Regression tests for hostile-server bugs found by fuzzing and the evil server (all fixed)."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from tests.evil_server import (
    CASES,
    EvilServer,
    handshake,
    rect,
    update,
)
from tests.servers import missing_xvfb_binaries, xvfb
from tests.test_faults import TIMEOUT, demo_process, live, make_session, running, wait_for
from vncwall.demo.server import DemoServer
from vncwall.net.client import RFBClient
from vncwall.net.constants import Encoding
from vncwall.net.errors import ProtocolError
from vncwall.session import State

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "stream",
    [
        handshake(65535, 4096),  # 268,431,360 pixels: under max_pixels, 1 GiB of RGBX
        handshake() + update(rect(0, 0, 20000, 8, Encoding.DESKTOP_SIZE)),
        handshake() + update(rect(0, 0, 16385, 1, Encoding.EXTENDED_DESKTOP_SIZE,
                                  struct.pack(">B3x", 0))),
    ],
    ids=["server-init-65535x4096", "desktop-size-20000x8", "ext-desktop-size-16385x1"],
)
def test_framebuffer_dimensions_capped(stream: bytes) -> None:
    """Each side is capped at 16384 (the issue's default), not only the pixel count."""
    client = RFBClient()
    with pytest.raises(ProtocolError, match="exceeds"):
        client.receive_data(stream)


def test_endless_update_memory_bounded() -> None:
    """An update with count 0xFFFF and no LastRect keeps every rect in `painted`."""
    client = RFBClient()
    client.receive_data(handshake() + update(count=0xFFFF))
    block = rect(0, 0, 0, 0, Encoding.RAW) * 100_000  # 1.2 MB of 12-byte empty rects
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(10):  # 12 MB received
            client.receive_data(block)
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert grown < 4 << 20, f"{grown / 2**20:.0f} MiB retained for 12 MB of empty rects"


def test_zrle_payload_read_in_chunks() -> None:
    """A big ZRLE payload is read and inflated in chunks, never buffered whole."""
    tiles = os.urandom(12 << 20)  # incompressible: the payload is as big as its output
    payload = zlib.compress(tiles, 0)
    client = RFBClient()
    client.receive_data(handshake(4096, 4096)
                        + update(rect(0, 0, 4096, 4096, Encoding.ZRLE,
                                      struct.pack(">I", len(payload)))))
    most = 0
    for i in range(0, len(payload) - 4096, 256 << 10):  # as the transport delivers it
        client.receive_data(payload[i : i + (256 << 10)])
        most = max(most, client._feeder.buffered)
    assert most <= 2 << 20, most


def test_session_handshake_has_a_deadline() -> None:
    """A server trickling its handshake (a byte every 0.3 s) holds the face in
    'connecting' for as long as it likes; the read timeout never fires."""
    with EvilServer(CASES["trickling-handshake"].script) as server:
        session = make_session("trickle", server.address, timeout=TIMEOUT)
        with running(session):
            wait_for(lambda: session.status().state is State.RETRYING
                     and "handshake not finished" in session.status().reason,
                     3 * TIMEOUT + 1, "the trickling handshake never hit its deadline")


def test_stopped_idle_server_is_noticed() -> None:
    """SIGSTOP between updates (half-open, the client idle): the face stays 'live' for ever."""
    with demo_process() as server:
        session = make_session("stopped", server.address)
        with running(session):
            wait_for(lambda: live(session), 10, "first frame")
            server.signal(signal.SIGSTOP)
            try:
                time.sleep(3 * TIMEOUT + 1)
                st = session.status()
                assert st.state is not State.LIVE, st
            finally:
                server.signal(signal.SIGCONT)


def test_internal_error_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """cli.main prints `internal error: {type}: {exc}` with the exception's newlines."""
    import vncwall.capture
    from vncwall.cli import main

    def boom(*args: object) -> None:
        raise RuntimeError("first line\n\tsecond line")

    monkeypatch.setattr(vncwall.capture, "capture", boom)
    monkeypatch.delenv("VNCWALL_DEBUG", raising=False)
    assert main(["capture", "127.0.0.1::1", "/tmp/x.png"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err


@pytest.mark.skipif(bool(missing_xvfb_binaries()), reason="Xvfb not installed")
def test_wall_survives_framebuffer_wider_than_gl_textures(tmp_path: Path) -> None:
    """A 20000x8 desktop (160,000 pixels, accepted) makes glTexImage2D fail: GLError
    ends the whole wall (`snapshot` exits 1 with a multi-line message)."""
    w, h = 20000, 8
    script = [handshake(w, h), update(rect(0, 0, w, h, Encoding.RAW, bytes(4 * w * h)))]
    with (xvfb(width=1280, height=1024) as display, EvilServer(script) as evil,
          DemoServer(0, 160, 100) as good):
        config = tmp_path / "wall.toml"
        config.write_text(
            "[wall]\nfullscreen = false\n"
            f'[[session]]\nname = "wide"\naddress = "{evil.address}"\n'
            f'[[session]]\nname = "good"\naddress = "{good.address}"\n')
        env = display.env()
        env["PYTHONPATH"] = str(ROOT)
        result = subprocess.run(
            [sys.executable, "-m", "vncwall", "snapshot", "--config", str(config),
             str(tmp_path / "out.png"), "--size", "320x200", "--timeout", "10"],
            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[:300]
    assert result.stderr.count("\n") == 1

