"""Hostile servers (tests/evil_server.py) against the sans-IO client, capture and sessions."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.evil_server import CASES, Case, EvilServer, Repeat, Trickle
from vncwall.config import Config, SessionConfig, WallConfig
from vncwall.demo.server import DemoServer
from vncwall.net.address import parse_address
from vncwall.net.client import RFBClient
from vncwall.net.errors import VncError
from vncwall.session import Session, State

ROOT = Path(__file__).resolve().parents[1]
# Empty desktops: capture has nothing to write (exit 5), a session stays live and its
# face says so. Well-formed streams with unasked pseudo-encodings: live, with a picture.
EMPTY = {"empty-desktop", "empty-desktop-0x0", "empty-after-resize"}
WELL_FORMED = {"qemu-pointer-type-change", "tight-png"}
PROTOCOL_CASES = sorted(n for n, c in CASES.items() if c.exit_code == 5 and n not in EMPTY)
# Servers that stream for ever without breaking the protocol: the session stays live.
STREAMING = {"update-flood", "endless-update-without-lastrect", "endless-cut-text"}
# Slow-handshake servers, whose session side is in tests/test_hostile_regressions.py.
TRICKLING = {"trickling-handshake"}


def script_bytes(case: Case) -> bytes:
    """Everything the script sends, with each repeated block sent once."""
    out = bytearray()
    for step in case.script:
        if isinstance(step, bytes):
            out += step
        elif isinstance(step, Repeat | Trickle):
            out += step.data
    return bytes(out)


# --- sans-IO ------------------------------------------------------------------------


def _feed(data: bytes, chunked: bool) -> tuple[RFBClient, VncError | None]:
    client = RFBClient()
    try:
        if chunked:
            for i in range(len(data)):
                client.receive_data(data[i : i + 1])
        else:
            client.receive_data(data)
    except VncError as exc:
        return client, exc
    return client, None


@pytest.mark.parametrize("name", PROTOCOL_CASES)
def test_sans_io_refuses(name: str) -> None:
    """Whole or byte by byte: the same one-line VncError, with the case's exit code."""
    case = CASES[name]
    data = script_bytes(case)
    _, whole = _feed(data, chunked=False)
    _, trickled = _feed(data, chunked=True)
    assert whole is not None and trickled is not None, name
    assert type(whole) is type(trickled) and str(whole) == str(trickled)
    assert whole.exit_code == case.exit_code, whole
    assert re.search(case.reason, str(whole)), str(whole)
    assert "\n" not in str(whole) and len(str(whole)) < 600


@pytest.mark.parametrize("name", sorted(STREAMING))
def test_sans_io_streams_stay_bounded(name: str) -> None:
    """Floods and endless messages: no error, and the feeder buffers next to nothing."""
    case = CASES[name]
    client = RFBClient()
    for step in case.script:
        if isinstance(step, bytes):
            client.receive_data(step)
    block = next(s.data for s in case.script if isinstance(s, Repeat))
    for _ in range(max(1, (4 << 20) // len(block))):
        client.receive_data(block)
        while client.next_event() is not None:
            pass
    assert client._feeder.buffered < 1 << 20


# --- vncwall capture ----------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int
    stderr: str
    seconds: float


def _capture(case: Case, tmp: Path, name: str) -> Outcome:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    env.pop("VNCWALL_DEBUG", None)
    with EvilServer(case.script) as server:
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "vncwall", "capture", server.address, str(tmp / f"{name}.png"),
             "--timeout", f"{case.timeout:g}"],
            env=env, capture_output=True, text=True, timeout=case.timeout + 30, check=False,
        )
        return Outcome(result.returncode, result.stderr, time.monotonic() - start)


@pytest.fixture(scope="module")
def capture_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case through `python -m vncwall capture`, a few at a time."""
    tmp = tmp_path_factory.mktemp("captures")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {n: pool.submit(_capture, c, tmp, n) for n, c in CASES.items()}
        return {n: f.result() for n, f in futures.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_capture_exits_cleanly(name: str, capture_outcomes: dict[str, Outcome]) -> None:
    """The documented exit code, exactly one stderr line matching the reason, in bounded time."""
    case, out = CASES[name], capture_outcomes[name]
    assert out.code == case.exit_code, out
    assert out.stderr.count("\n") == 1 and out.stderr.endswith("\n"), out
    assert "Traceback" not in out.stderr
    assert re.search(case.reason, out.stderr), out
    # Parallel runs on a small machine: generous, yet far below "hangs".
    assert out.seconds < case.timeout + 15, out


# --- sessions on a wall ---------------------------------------------------------------


@dataclass
class Run:
    sessions: dict[str, Session]
    servers: dict[str, EvilServer]
    good: Session
    good_updates: list[int]  # the good session's update count, sampled every 0.25 s
    reasons: dict[str, set[str]]  # every reason each session showed
    labels: dict[str, set[str]]  # every label each face showed, as the wall draws it
    seconds: float
    connections: dict[str, int]  # each evil server's connections in those seconds


def _session(name: str, address: str, timeout: float) -> Session:
    cfg = SessionConfig(name=name, address=parse_address(address))
    return Session(cfg, reconnect_cap=2.0, timeout=timeout)


@pytest.fixture(scope="module")
def wall_run() -> Iterator[Run]:
    """Every evil server on one wall with a good demo server; watched for a while."""
    from vncwall.wall import Wall

    with contextlib.ExitStack() as stack:
        good_server = stack.enter_context(DemoServer(0, 160, 100, fps=20))
        servers = {n: stack.enter_context(EvilServer(c.script)) for n, c in CASES.items()}
        sessions = {n: _session(n, servers[n].address, CASES[n].timeout) for n in CASES}
        good = _session("good", good_server.address, 5.0)
        everyone = [good, *sessions.values()]
        config = Config(WallConfig(reconnect_max_seconds=2.0),
                        tuple(s.config for s in everyone))
        wall = Wall(config, sessions=everyone)
        reasons: dict[str, set[str]] = {n: set() for n in CASES}
        labels: dict[str, set[str]] = {s.name: set() for s in everyone}
        updates: list[int] = []
        start = time.monotonic()
        wall.start()
        try:
            deadline = start + 10.0
            while time.monotonic() < deadline:
                for n, s in sessions.items():
                    st = s.status()
                    if st.reason:
                        reasons[n].add(st.reason)
                updates.append(good.status().updates)
                faces = wall.face_views(time.monotonic())
                for s, face in zip(everyone, faces, strict=True):
                    labels[s.name].add(" ".join(face.label))
                time.sleep(0.25)
            # The wall keeps running while the tests look (threads must stay alive), so
            # what depends on the watched time is taken now.
            yield Run(sessions, servers, good, updates, reasons, labels,
                      time.monotonic() - start, {n: s.connections for n, s in servers.items()})
        finally:
            wall.stop()


@pytest.mark.parametrize("name", sorted(set(CASES) - STREAMING - TRICKLING - EMPTY - WELL_FORMED))
def test_session_shows_reason(name: str, wall_run: Run) -> None:
    """The evil face shows a one-line reason, retries within the cap, and never crashes."""
    case = CASES[name]
    session = wall_run.sessions[name]
    seen = wall_run.reasons[name]
    assert seen, f"{name}: no reason shown; status {session.status()}"
    for reason in seen:
        assert "internal error" not in reason, reason
        assert "\n" not in reason and len(reason) < 600
    if case.exit_code == 5:
        assert any(re.search(case.reason, r) for r in seen), seen
    elif case.exit_code == 3:
        gone = "|stopped sending|closed the connection|handshake not finished|not responding"
        assert any(re.search(case.reason + gone, r) for r in seen), seen
    assert session._thread.is_alive()
    shown = [lb for lb in wall_run.labels[name] if "disconnected:" in lb or "retrying in" in lb]
    assert shown, wall_run.labels[name]
    assert all(len(lb) < 700 for lb in shown)
    if case.exit_code == 5:
        assert any(re.search(case.reason, lb) for lb in shown), shown
    # Reconnects keep coming, but no faster than the backoff allows (1 s, then 2 s caps).
    connections = wall_run.connections[name]
    assert 2 <= connections <= 2 + wall_run.seconds / 0.5, connections


@pytest.mark.parametrize("name", sorted(STREAMING))
def test_streaming_session_survives(name: str, wall_run: Run) -> None:
    session = wall_run.sessions[name]
    assert session._thread.is_alive()
    assert all("internal error" not in r for r in wall_run.reasons[name])
    assert wall_run.servers[name].connections >= 1
    if name == "update-flood":
        st = session.status()
        assert st.state is State.LIVE and st.first_frame and st.updates > 10, st


@pytest.mark.parametrize("name", sorted(EMPTY | WELL_FORMED))
def test_harmless_oddities_stay_live(name: str, wall_run: Run) -> None:
    """Empty desktops and unasked pseudo-encodings do not end the session."""
    # What the watched window saw (later the silent server is probed and may be left).
    assert wall_run.connections[name] == 1 and not wall_run.reasons[name], wall_run.reasons
    labels = wall_run.labels[name]
    if name in EMPTY:
        assert any("empty desktop (" in lb for lb in labels), labels
    else:
        assert any(lb.startswith(f"{name}  \u00b7  live") for lb in labels), labels


def test_good_session_keeps_updating(wall_run: Run) -> None:
    """With every evil server on the wall, the good face goes on updating throughout."""
    counts = wall_run.good_updates
    st = wall_run.good.status()
    assert st.state is State.LIVE and st.first_frame, st
    assert any("live" in lb for lb in wall_run.labels["good"])
    # Progress in every 2 s window after the first frame.
    firsts = [i for i, c in enumerate(counts) if c > 0]
    assert firsts, counts
    tail = counts[firsts[0] :]
    for i in range(len(tail) - 8):
        assert tail[i + 8] > tail[i], counts


@pytest.mark.skipif(not Path("/usr/bin/Xvfb").exists(), reason="Xvfb not installed")
def test_snapshot_with_one_evil_and_one_good(tmp_path: Path) -> None:
    """`vncwall snapshot` under Xvfb: the evil session fails, the good face still renders."""
    import numpy as np

    from tests.servers import xvfb

    with (xvfb(width=1280, height=1024) as display, EvilServer(CASES["zlib-bomb"].script) as evil,
          DemoServer(0, 160, 100) as good):
        config = tmp_path / "wall.toml"
        config.write_text(
            '[wall]\nfullscreen = false\nbackground = "#000000"\nreconnect_max_seconds = 2\n'
            f'[[session]]\nname = "good"\naddress = "{good.address}"\n'
            f'[[session]]\nname = "evil"\naddress = "{evil.address}"\n')
        env = display.env()
        env["PYTHONPATH"] = str(ROOT)
        out = tmp_path / "out.png"
        result = subprocess.run(
            [sys.executable, "-m", "vncwall", "snapshot", "--config", str(config), str(out),
             "--size", "320x200", "--timeout", "4"],
            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        lines = result.stderr.splitlines()
        assert lines[-1].startswith("wrote 320x200 snapshot"), result.stderr
        # Before it, one warning line per failed attempt of the evil session.
        assert all(ln.startswith("session evil: zlib:") for ln in lines[:-1]), result.stderr
        assert evil.connections >= 1
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    image = np.asarray(pygame.surfarray.array3d(pygame.image.load(str(out))))
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 16  # the demo scene, not a blank
