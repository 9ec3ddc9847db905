"""One wall session: a worker thread that connects, decodes, and reconnects with backoff.

The worker owns its RFBClient and socket. Other threads only read `status()`, take
framebuffer damage (the render thread), and queue input with `send_*`; no GL here.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .config import ConfigError, SessionConfig
from .dial import open_connection
from .net import events as ev
from .net.client import RFBClient
from .net.errors import AuthError, VncError
from .net.framebuffer import Coverage, Framebuffer
from .net.transport import Connection
from .stats import Meter, SessionStats

log = logging.getLogger("vncwall.session")

STABLE_SECONDS = 10.0  # a connection that lived this long resets the backoff


class State(Enum):
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    LIVE = "live"
    DISCONNECTED = "disconnected"
    RETRYING = "retrying"


@dataclass(frozen=True)
class Status:
    """A snapshot of what a face shows about its session."""

    state: State
    reason: str = ""
    retry_at: float = 0.0  # time.monotonic() of the next attempt, when RETRYING
    desktop_name: str = ""
    security: str = ""  # how the connection is protected, when that deserves a warning
    updates: int = 0
    first_frame: bool = False
    display_error: str = ""  # why the wall cannot show this live session's picture


    def line(self, now: float | None = None) -> str:
        """The one-line state text drawn on the face."""
        if self.state is State.RETRYING:
            left = max(0.0, self.retry_at - (time.monotonic() if now is None else now))
            text = f"retrying in {left:.0f} s"
            return f"{text} ({self.reason})" if self.reason else text
        if self.state is State.DISCONNECTED and self.reason:
            return f"disconnected: {self.reason}"
        if self.state in (State.CONNECTING, State.AUTHENTICATING) and self.reason:
            return f"{self.state.value} (last attempt: {self.reason})"
        if self.state is State.LIVE and self.display_error:
            return f"live, not shown: {self.display_error}"
        if self.state is State.LIVE and self.security:
            return f"live ({self.security})"
        return str(self.state.value)


def backoff_delay(attempt: int, cap: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: 1, 2, 4 ... s, each scaled by 0.5-1.0."""
    base = min(cap, 2.0 ** max(0, attempt - 1))
    return base * rng.uniform(0.5, 1.0)


class Session:
    """Runs one configured session in its own thread until `stop()`."""

    def __init__(
        self,
        config: SessionConfig,
        reconnect_cap: float = 30.0,
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.reconnect_cap = reconnect_cap
        self.timeout = timeout
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._status = Status(State.CONNECTING)
        self._framebuffer: Framebuffer | None = None
        self._painted: Framebuffer | None = None  # once an update on it has finished
        self._stop = threading.Event()
        self._inputs: deque[Callable[[RFBClient], None]] = deque()
        self._conn: Connection | None = None
        self._coverage: Coverage | None = None
        self._bytes_done = 0  # received on connections that have ended
        self.reconnect = True  # False: one connection only (a server that connected in)
        self.cursor: ev.CursorShape | None = None
        self.cursor_serial = 0
        self.cursor_pos: tuple[int, int] | None = None
        # (serial, value) pairs, replaced whole so other threads read them consistently.
        self.clipboard_in: tuple[int, str] | None = None  # the server's latest clipboard text
        self.led_state: tuple[int, int] | None = None  # the server's latest QEMU LED state
        self.listeners: list[Callable[[Session, ev.Event], None]] = []
        self.meter = Meter()
        self.attempts = 0  # connection attempts so far (reconnects: attempts - 1)
        self.max_fps = 0.0  # update-rate cap the wall wants (set_max_fps; 0: none)
        # resize_remote: the size the wall wants (any thread sets it, the worker asks).
        self._desktop_wanted: tuple[int, int] | None = None
        self._desktop_asked: tuple[int, int] | None = None  # on this connection
        # Flow figures of the current connection, for the HUD and tests.
        self.continuous = False  # the server sends updates without being asked
        self.fences_answered = 0
        self.fences_sent = 0
        self._thread = threading.Thread(target=self._run, name=f"session {config.name}",
                                        daemon=True)

    # --- any thread ----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the worker to end, without waiting (stop many sessions in parallel)."""
        self._stop.set()

    def stop(self, join: float = 2.0) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            conn.wake()
        if self._thread.is_alive():
            self._thread.join(join)

    def status(self) -> Status:
        with self._lock:
            return self._status

    @property
    def address_text(self) -> str:
        return str(self.config.address)

    @property
    def bytes_received(self) -> int:
        """Bytes received from the server over every connection so far."""
        conn = self._conn
        return self._bytes_done + (conn.bytes_in if conn is not None else 0)

    def stats(self, now: float | None = None) -> SessionStats:
        """Encoding, update rate, bytes/s and latency over the last few seconds."""
        return self.meter.stats(time.monotonic() if now is None else now)

    @property
    def framebuffer(self) -> Framebuffer | None:
        """The current connection's framebuffer (replaced on reconnect)."""
        return self._framebuffer

    @property
    def painted(self) -> Framebuffer | None:
        """The current framebuffer once at least one update on it has been decoded whole
        (None before): what the wall draws, so a server that never finishes an update
        costs no texture."""
        return self._painted

    def submit(self, action: Callable[[RFBClient], None]) -> None:
        """Queue an action to run on the worker with the live client (input, requests)."""
        if self.config.view_only:
            return
        self._inputs.append(action)
        conn = self._conn
        if conn is not None:
            conn.wake()

    def send_key(self, down: bool, keysym: int, keycode: int | None = None) -> None:
        self.submit(lambda c: c.key_event(down, keysym, keycode))

    def send_cut_text(self, text: str) -> None:
        """The local clipboard, for the server (never sent from a view-only session)."""
        self.submit(lambda c: c.cut_text(text))

    def request_desktop_size(self, width: int, height: int) -> None:
        """Ask the server to make its desktop `width` x `height` (SetDesktopSize).

        Any thread. Only with `resize_remote` configured and once the server has sent
        its screen layout (ExtendedDesktopSize); a size already asked for on this
        connection, or already the desktop's, is not asked again.
        """
        if not self.config.resize_remote or width <= 0 or height <= 0:
            return
        size = (min(width, 16384), min(height, 16384))
        if size == self._desktop_wanted:
            return
        self._desktop_wanted = size
        conn = self._conn
        if conn is not None:
            conn.wake()

    def send_pointer(self, buttons: int, x: int, y: int) -> None:
        if not self.config.view_only:
            self.cursor_pos = (x, y)  # drawn locally at once: no round trip
        self.submit(lambda c: c.pointer_event(buttons, x, y))

    def set_display_error(self, reason: str) -> None:
        """The wall's renderer says why it cannot show this session ("" once it can)."""
        if self.status().display_error != reason:
            self._set(display_error=reason)

    # --- worker thread -------------------------------------------------------------
    def set_max_fps(self, fps: float) -> None:
        """Cap this session's updates at `fps` a second (0: no cap), from any thread;
        the worker paces its requests accordingly."""
        if fps != self.max_fps:
            self.max_fps = fps
            conn = self._conn
            if conn is not None:
                conn.wake()

    def _set(self, **changes: object) -> None:
        with self._lock:
            current = self._status.__dict__ | changes
            self._status = Status(**current)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            started = time.monotonic()
            self.attempts += 1
            # The last failure's reason stays until this attempt ends, for the face to show.
            self._set(state=State.CONNECTING, first_frame=False, security="", display_error="")
            try:
                self._connect_and_serve()
                reason = "server closed the session"
                auth_failed = False
            except AuthError as exc:
                reason, auth_failed = str(exc), True
            except (VncError, ConfigError) as exc:
                reason, auth_failed = str(exc), False
            except Exception as exc:  # a bug must end this session only, never the wall
                log.exception("session %s: unexpected error", self.name)
                reason, auth_failed = f"internal error: {type(exc).__name__}: {exc}", False
            finally:
                self._conn = None
                self._inputs.clear()
            if self._stop.is_set():
                break
            log.warning("session %s: %s", self.name, reason)
            if not self.reconnect:
                self._set(state=State.DISCONNECTED, reason=reason)
                break
            attempt = 1 if time.monotonic() - started > STABLE_SECONDS else attempt + 1
            # Wrong credentials will not fix themselves quickly: wait the full cap.
            delay = self.reconnect_cap if auth_failed else backoff_delay(
                attempt, self.reconnect_cap, self._rng
            )
            self._set(state=State.DISCONNECTED, reason=reason)
            self._set(state=State.RETRYING, retry_at=time.monotonic() + delay)
            self._stop.wait(delay)

    def _connect_and_serve(self) -> None:
        client = RFBClient(self.config.client_options())
        self._desktop_asked = None
        self.continuous = False
        conn = self._open(client)
        self._conn = conn
        try:
            if self._stop.is_set():
                return
            capped = 0.0  # the cap the client paces by
            while not self._stop.is_set():
                wait = 0.25
                if client.connected:
                    if self.max_fps != capped:
                        capped = self.max_fps
                        client.set_max_rate(capped)
                    due = client.tick()
                    if due > 0.0:
                        wait = min(wait, due)
                for event in conn.pump(wait):
                    self._handle(client, event)
                self.meter.bytes_seen(time.monotonic(), self.bytes_received)
                while self._inputs and client.connected:
                    self._inputs.popleft()(client)
                self._ask_desktop_size(client)
                self.fences_answered = client.flow.fences_answered
                self.fences_sent = client.flow.fences_sent
        finally:
            self._bytes_done += conn.bytes_in
            conn.close()

    def _open(self, client: RFBClient) -> Connection:
        """The connection to serve (overridden for servers that connect in)."""
        return open_connection(self.config, client, self.timeout)

    def _ask_desktop_size(self, client: RFBClient) -> None:
        wanted = self._desktop_wanted
        fb = client.framebuffer
        if wanted is None or fb is None or not client.can_resize or wanted == self._desktop_asked:
            return
        self._desktop_asked = wanted
        if wanted != (fb.width, fb.height):
            log.info("session %s: asking the server for a %dx%d desktop", self.name, *wanted)
            client.set_desktop_size(*wanted)

    def _handle(self, client: RFBClient, event: ev.Event) -> None:
        if isinstance(event, ev.SecurityChosen):
            self._set(state=State.AUTHENTICATING)
        elif isinstance(event, ev.Connected | ev.Resized):
            self._framebuffer = client.framebuffer
            if isinstance(event, ev.Connected):
                self._painted = None
            self._coverage = Coverage(event.width, event.height)
            if isinstance(event, ev.Connected):
                self._set(reason="")
                weak = client.security_info if client.security_weak else ""
                if weak:
                    log.warning("session %s: %s", self.name, weak)
                else:
                    log.info("session %s: %s", self.name, client.security_info)
                self._set(state=State.LIVE, desktop_name=event.name, security=weak)
                client.request_update(incremental=False)
        elif isinstance(event, ev.UpdateEnd):
            self._painted = self._framebuffer
            status = self.status()
            complete = status.first_frame
            if not complete and self._coverage is not None:
                complete = self._coverage.add(event.rects)
            self._set(updates=status.updates + 1, first_frame=complete)
            self.meter.update_done(time.monotonic(), event.encodings, event.latency_s)
        elif isinstance(event, ev.UpdateBegin):
            # Pipelining: ask for the next update as soon as this one starts arriving, so
            # the server can prepare it while we decode (nothing to ask while continuous).
            client.next_update()
        elif isinstance(event, ev.ContinuousUpdates):
            self.continuous = event.active
            log.info("session %s: continuous updates %s", self.name,
                     "on" if event.active else "off")
            if not event.active:
                client.next_update()  # the server stopped sending by itself: ask again
        elif isinstance(event, ev.RoundTrip):
            self.meter.latency_seen(event.seconds)
        elif isinstance(event, ev.ResizeRefused):
            log.warning("session %s: the server refused the new desktop size (status %d)",
                        self.name, event.status)
        elif isinstance(event, ev.CursorShape):
            self.cursor = event
            self.cursor_serial += 1
        elif isinstance(event, ev.PointerMoved):
            self.cursor_pos = (event.x, event.y)
        elif isinstance(event, ev.NameChanged):
            self._set(desktop_name=event.name)
        elif isinstance(event, ev.CutText):
            serial = self.clipboard_in[0] + 1 if self.clipboard_in else 1
            self.clipboard_in = (serial, event.text)
        elif isinstance(event, ev.PointerMode):
            log.info("session %s: the server's pointer is now %s", self.name,
                     "absolute" if event.absolute else "relative")
        elif isinstance(event, ev.LedState):
            serial = self.led_state[0] + 1 if self.led_state else 1
            self.led_state = (serial, event.state)
        for listener in self.listeners:
            listener(self, event)
