"""The control socket: one JSON request and one JSON reply per connection, owner only.

A request is one line `{"command": "show", "args": ["build-01"]}`; the reply is one line
`{"ok": true, "result": ...}` or `{"ok": false, "error": "...", "exit": N}` (N as the
CLI's exit codes). The socket is a UNIX socket of mode 0600 in a 0700 directory, and a
peer whose uid (SO_PEERCRED) is not the wall's is refused before it is read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("vncwall.control")

MAX_REQUEST = 64 * 1024
REPLY_SECONDS = 30.0  # how long a request waits for the wall's render thread


class ControlError(Exception):
    """The control socket cannot be opened or reached; one line."""


def default_socket_path() -> Path:
    """$XDG_RUNTIME_DIR/vncwall/control.sock, else /tmp/vncwall-UID/control.sock."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "vncwall" if runtime else Path(f"/tmp/vncwall-{os.getuid()}")
    return base / "control.sock"


@dataclass
class Request:
    """One command for the render thread; `answer` wakes the connection that sent it."""

    command: str
    args: list[str]
    reply: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def answer(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.done.set()


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a UNIX socket (Linux SO_PEERCRED)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _prepare_dir(path: Path) -> None:
    d = path.parent
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = d.stat()
    if st.st_uid != os.getuid():
        raise ControlError(f"{d} belongs to another user")
    if st.st_mode & 0o077 and d.name.startswith("vncwall"):
        os.chmod(d, 0o700)


class ControlServer:
    """Accepts control connections in a thread; the wall `take`s requests each frame."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: queue.Queue[Request] = queue.Queue()
        self.refused = 0
        self._stop = threading.Event()
        try:
            _prepare_dir(path)
            if path.exists() or path.is_symlink():
                if _answers(path):
                    raise ControlError(f"another wall already listens on {path} "
                                       "(give this one --control PATH)")
                path.unlink()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)  # the socket is born 0600: no window for others
            try:
                sock.bind(str(path))
            finally:
                os.umask(old)
            os.chmod(path, 0o600)
            sock.listen(16)
        except OSError as exc:
            raise ControlError(f"cannot open control socket {path}: "
                               f"{exc.strerror or exc}") from None
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="vncwall-control",
                                        daemon=True)
        self._thread.start()

    def take(self) -> list[Request]:
        out = []
        while True:
            try:
                out.append(self.requests.get_nowait())
            except queue.Empty:
                return out

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name="vncwall-control-conn").start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            try:
                uid = peer_uid(conn)
                if uid != os.getuid():
                    self.refused += 1
                    log.warning("control: refused a connection from uid %d", uid)
                    _send(conn, {"ok": False, "exit": 4,
                                 "error": f"uid {uid} may not control this wall"})
                    return
                request = _parse(_read_line(conn))
                if isinstance(request, dict):  # a malformed request: answer at once
                    _send(conn, request)
                    return
                self.requests.put(request)
                if not request.done.wait(REPLY_SECONDS):
                    _send(conn, {"ok": False, "exit": 1,
                                 "error": "the wall did not answer in time"})
                    return
                assert request.reply is not None
                _send(conn, request.reply)
            except OSError as exc:
                log.info("control: connection ended: %s", exc)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(2)
        with contextlib.suppress(OSError):
            self.path.unlink()

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _answers(path: Path) -> bool:
    """Whether something accepts connections on the socket at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise OSError("request too long")
    return data.split(b"\n", 1)[0]


def _parse(line: bytes) -> Request | dict[str, Any]:
    """The request in `line`, or the error reply for a malformed one."""
    try:
        doc = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return {"ok": False, "exit": 2, "error": "the request is not JSON"}
    command = doc.get("command") if isinstance(doc, dict) else None
    args = doc.get("args", []) if isinstance(doc, dict) else None
    if not isinstance(command, str) or not isinstance(args, list) or not all(
            isinstance(a, str) for a in args):
        return {"ok": False, "exit": 2,
                "error": 'expected {"command": NAME, "args": [STRING, ...]}'}
    return Request(command, list(args))


def _send(conn: socket.socket, reply: dict[str, Any]) -> None:
    conn.sendall(json.dumps(reply).encode() + b"\n")


def call(path: Path, command: str, args: list[str], timeout: float = 60.0) -> dict[str, Any]:
    """Send one request to the wall at `path` and return its reply (ControlError: none)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
        except FileNotFoundError:
            raise ControlError(f"no wall is running with control socket {path}") from None
        except OSError as exc:
            raise ControlError(f"cannot reach the wall at {path}: "
                               f"{exc.strerror or exc}") from None
        try:
            s.sendall(json.dumps({"command": command, "args": args}).encode() + b"\n")
            line = _read_line(s)
        except OSError as exc:
            raise ControlError(f"the wall at {path} did not answer: "
                               f"{exc.strerror or exc}") from None
    try:
        reply = json.loads(line)
    except ValueError:
        raise ControlError(f"the wall at {path} sent a reply that is not JSON") from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ControlError(f"the wall at {path} sent an unexpected reply")
    return reply
