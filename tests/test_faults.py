"""Faults: demo servers killed, restarted, stopped (SIGSTOP) or slow, while other sessions go on."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import free_tcp_port, port_accepts
from vncwall.config import SessionConfig
from vncwall.demo.server import DemoServer
from vncwall.net.address import parse_address
from vncwall.session import Session, State

ROOT = Path(__file__).resolve().parents[1]
RECONNECT_CAP = 2.0
TIMEOUT = 1.5

_SERVE = (
    "import sys, time\n"
    "from vncwall.demo.server import DemoServer\n"
    "s = DemoServer(0, 320, 200, port=int(sys.argv[1]), fps=20)\n"
    "print('ready', flush=True)\n"
    "time.sleep(3600)\n"
)


class DemoProcess:
    """A demo server in its own process, so it can be killed, restarted and stopped."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_tcp_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1::{self.port}"

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(self.port)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 10
        while not port_accepts(self.port):
            assert time.monotonic() < deadline, "demo server never answered"
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@contextlib.contextmanager
def demo_process() -> Iterator[DemoProcess]:
    server = DemoProcess()
    server.start()
    try:
        yield server
    finally:
        server.kill()


def make_session(name: str, address: str, timeout: float = TIMEOUT) -> Session:
    cfg = SessionConfig(name=name, address=parse_address(address))
    return Session(cfg, reconnect_cap=RECONNECT_CAP, timeout=timeout)


@contextlib.contextmanager
def running(*sessions: Session) -> Iterator[None]:
    for s in sessions:
        s.start()
    try:
        yield
    finally:
        for s in sessions:
            s._stop.set()
        for s in sessions:
            s.stop()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `predicate` held; fails after `timeout`."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - start


def live(s: Session) -> bool:
    st = s.status()
    return st.state is State.LIVE and st.first_frame


def updating(s: Session, seconds: float = 1.0) -> bool:
    """Whether the session's update count grows within `seconds`."""
    before = s.status().updates
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if s.status().updates > before:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def bystander() -> Iterator[Session]:
    """A healthy session on an in-process demo server, which must keep updating."""
    with DemoServer(1, 160, 100, fps=20) as server:
        session = make_session("bystander", server.address, 5.0)
        with running(session):
            wait_for(lambda: live(session), 10, "the bystander's first frame")
            yield session


def test_killed_then_restarted(bystander: Session) -> None:
    server = DemoProcess()
    server.start()
    session = make_session("victim", server.address)
    try:
        with running(session):
            wait_for(lambda: live(session), 10, "first frame")
            assert updating(session, 2.0)
            server.kill()  # SIGKILL, usually in the middle of an update or its request
            wait_for(lambda: session.status().state is not State.LIVE, 3, "the face to notice")
            reason = session.status().reason
            assert "closed" in reason or "lost" in reason, session.status()
            assert updating(bystander)
            # Down for a while: the face shows the retry countdown with the reason.
            time.sleep(RECONNECT_CAP + 0.5)
            st = session.status()
            assert st.state in (State.RETRYING, State.CONNECTING, State.DISCONNECTED), st
            assert "retrying in" in st.line() or "connecting" in st.line()
            server.start()  # same port
            took = wait_for(lambda: live(session), RECONNECT_CAP + TIMEOUT + 3, "reconnect")
            assert took <= RECONNECT_CAP + TIMEOUT + 3
            assert updating(session, 2.0) and updating(bystander)
    finally:
        server.kill()


def test_sigstop_then_sigcont(bystander: Session) -> None:
    """A stopped (half-open) server: other faces go on; the face recovers after SIGCONT."""
    with demo_process() as server:
        session = make_session("stopped", server.address)
        with running(session):
            wait_for(lambda: live(session), 10, "first frame")
            server.signal(signal.SIGSTOP)
            try:
                time.sleep(TIMEOUT + 1.0)
                assert not updating(session, 0.5)
                assert updating(bystander)
                assert session._thread.is_alive()
            finally:
                server.signal(signal.SIGCONT)
            wait_for(lambda: updating(session, 0.5), RECONNECT_CAP + TIMEOUT + 5,
                     "updates after SIGCONT")
            assert live(session) and updating(bystander)


def test_stopped_during_handshake_times_out() -> None:
    """SIGSTOP before anyone connects: the kernel accepts, nothing answers: read timeout."""
    with demo_process() as server:
        server.signal(signal.SIGSTOP)
        session = make_session("mute", server.address)
        with running(session):
            wait_for(lambda: session.status().state is State.RETRYING, TIMEOUT + 3, "timeout")
            st = session.status()
            assert "stopped sending" in st.reason and "greeting" in st.reason, st
            server.signal(signal.SIGCONT)
            wait_for(lambda: live(session), RECONNECT_CAP + TIMEOUT + 5, "recovery")


class SlowProxy:
    """Forwards to a server, delaying each chunk from the server by `delay` seconds and
    capping the rate at `rate` bytes per second."""

    def __init__(self, target: int, delay: float = 0.0, rate: float = 1e12) -> None:
        self.target, self.delay, self.rate = target, delay, rate
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    @property
    def address(self) -> str:
        return f"127.0.0.1::{self.port}"

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self._spawn(self._pipe, client, server, 0.0, 1e12)
            self._spawn(self._pipe, server, client, self.delay, self.rate)

    def _pipe(self, src: socket.socket, dst: socket.socket, delay: float, rate: float) -> None:
        sel = selectors.DefaultSelector()
        sel.register(src, selectors.EVENT_READ)
        try:
            while not self._closing.is_set():
                if not sel.select(0.1):
                    continue
                data = src.recv(min(4096, max(1, int(rate / 10))))
                if not data:
                    break
                if self._closing.wait(delay + len(data) / rate):
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            sel.close()
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        for t in self._threads:
            t.join(2)


def test_slow_server_still_arrives(bystander: Session) -> None:
    """A server answering slowly (30 KB/s, 0.2 s latency) stays live and keeps updating."""
    with DemoServer(2, 160, 100, fps=5) as server:
        proxy = SlowProxy(server.port, delay=0.2, rate=30_000)
        session = make_session("slow", proxy.address, timeout=3.0)
        try:
            with running(session):
                wait_for(lambda: live(session), 15, "first frame over a slow link")
                assert updating(session, 3.0) and updating(bystander)
                assert session.status().state is State.LIVE
        finally:
            proxy.close()


def test_server_slower_than_the_timeout(bystander: Session) -> None:
    """Each chunk later than the read timeout: the face says so and keeps retrying."""
    with DemoServer(2, 160, 100, fps=5) as server:
        proxy = SlowProxy(server.port, delay=TIMEOUT + 1.5)
        session = make_session("too-slow", proxy.address)
        try:
            with running(session):
                wait_for(lambda: session.status().state is State.RETRYING, TIMEOUT + 3,
                         "the read timeout")
                st = session.status()
                assert "stopped sending" in st.reason, st
                assert "retrying in" in st.line()
                assert updating(bystander)
        finally:
            proxy.close()


def test_soak_brief() -> None:
    """tools/soak.py for a few seconds: six sessions, server restarts, no growth."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "soak.py"), "--seconds", "10", "--warmup", "4",
         "--churn", "3"],
        capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 live at the end" in result.stdout
