"""Update pacing for one connection: request/response or continuous updates, and fences.

Follows rfbproto 'EnableContinuousUpdates', 'EndOfContinuousUpdates', 'ClientFence' and
'ServerFence'. The rules, in order of the conversation:

- Until the server sends EndOfContinuousUpdates, updates come one per
  FramebufferUpdateRequest; `next_update` asks for the next one (incremental, whole
  framebuffer).
- The first EndOfContinuousUpdates says the server supports them: if wanted, we send
  EnableContinuousUpdates for the whole framebuffer and stop asking (the server ignores
  incremental requests meanwhile). A resize re-enables them with the new size. A later
  EndOfContinuousUpdates means they stopped: `next_update` asks again.
- A ServerFence with Request set is answered at once, with the flags we honour and the
  payload echoed. The parser runs in stream order, so by then every update before the
  fence has been decoded: that is BlockBefore, and nothing after it is read before the
  answer is queued, which is BlockAfter. SyncNext and unknown bits are cleared.
- A ServerFence (a request) proves the server speaks Fence; only then do we send our own
  ClientFence, one at a time, after each decoded update while updates are continuous;
  its answer gives the round trip including every update queued before it.

- A rate cap (`set_max_rate`, for a session the wall shows small or at the back) paces
  requests: the next one goes out no sooner than 1/fps after the last, and while capped
  continuous updates are switched off (EnableContinuousUpdates with enable = 0; its
  EndOfContinuousUpdates answer is expected, not taken as the server stopping), so the
  server encodes and sends only what is asked for. Lifting the cap asks again at once
  and switches continuous updates back on.

Latency of an update is the time from sending the request it answers (oldest request
first) to the end of its decoding; continuous updates answer no request, the fences
measure them instead. Time comes from an injected clock; no I/O here.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable

from . import events as ev
from . import messages
from .constants import MAX_FENCE_PAYLOAD, FenceFlag
from .errors import ProtocolError
from .framebuffer import Rect

# What our answers keep: the parser handles everything in order, which honours both.
HONOURED_FENCE_FLAGS = FenceFlag.BLOCK_BEFORE | FenceFlag.BLOCK_AFTER
MAX_PENDING_REQUESTS = 8  # request times kept; servers may merge requests into one update
FENCE_TAG = b"vwrt"  # our fences' payload: the tag and a sequence number
FENCE_GIVE_UP = 10.0  # seconds before an unanswered fence of ours is forgotten


class Flow:
    """Who asks for updates, fence answers and round trips, for one RFBClient."""

    def __init__(
        self,
        send: Callable[[bytes], None],
        emit: Callable[[ev.Event], None],
        clock: Callable[[], float],
        want_continuous: bool = True,
    ) -> None:
        self._send = send
        self._emit = emit
        self._clock = clock
        self.want_continuous = want_continuous
        self.fence_supported = False  # the server sent a fence request
        self.continuous_supported = False  # the server sent EndOfContinuousUpdates
        self.continuous = False  # continuous updates are on
        self.fences_answered = 0
        self.fences_sent = 0
        self.round_trip_s: float | None = None  # the latest of our fences' round trips
        self._requests: deque[float] = deque(maxlen=MAX_PENDING_REQUESTS)
        self._origin: float | None = None  # request time of the update being decoded
        self._fence_seq = 0
        self._fence_out: tuple[int, float] | None = None  # (sequence, sent at)
        self.min_interval = 0.0  # seconds between our requests at least (0: no cap)
        self._last_request: float | None = None
        self._deferred = False  # a paced request is waiting for its time
        self._disabling = 0  # our EnableContinuousUpdates(off) not yet answered

    # --- outgoing --------------------------------------------------------------------
    def request(self, incremental: bool, rect: Rect) -> None:
        """Send a FramebufferUpdateRequest and note when, for the latency of its answer."""
        self._send(messages.update_request(incremental, rect.x, rect.y, rect.w, rect.h))
        self._last_request = self._clock()
        self._requests.append(self._last_request)

    def next_update(self, width: int, height: int) -> None:
        """Make sure another update will come: ask for it unless updates are continuous
        (under a rate cap, once the cap allows: `tick` sends it then)."""
        if self.continuous:
            return
        if self.due_in(self._clock(), pending=True) > 0.0:
            self._deferred = True
            return
        self._deferred = False
        self.request(True, Rect(0, 0, width, height))

    def set_max_rate(self, fps: float, width: int, height: int) -> None:
        """Cap updates at `fps` a second (0 lifts the cap), for a `width` x `height`
        framebuffer."""
        interval = 1.0 / fps if fps > 0 else 0.0
        if interval == self.min_interval:
            return
        self.min_interval = interval
        if interval > 0.0:
            if self.continuous:
                self._send(messages.enable_continuous_updates(False, 0, 0, width, height))
                self._disabling += 1
                self.continuous = False
                self._emit(ev.ContinuousUpdates(False))  # the session asks for the next one
            return
        if self._deferred:
            self._deferred = False
            self.request(True, Rect(0, 0, width, height))
        if self.continuous_supported and self.want_continuous and not self.continuous:
            self._start_continuous(width, height)

    def due_in(self, now: float, pending: bool = False) -> float:
        """Seconds until the deferred request may go (0: now); 0 when none is deferred,
        unless `pending` asks about one that would be."""
        if not (self._deferred or pending) or self.min_interval <= 0.0:
            return 0.0
        if self._last_request is None:
            return 0.0
        return max(0.0, self._last_request + self.min_interval - now)

    def tick(self, now: float, width: int, height: int) -> None:
        """Send the deferred request (for a `width` x `height` framebuffer) if its time
        has come."""
        if self._deferred and self.due_in(now) <= 0.0:
            self._deferred = False
            if not self.continuous:
                self.request(True, Rect(0, 0, width, height))

    def _enable(self, width: int, height: int) -> None:
        self._send(messages.enable_continuous_updates(True, 0, 0, width, height))

    def _start_continuous(self, width: int, height: int) -> None:
        self._enable(width, height)
        self.continuous = True
        # The server forgets incremental requests now; none of them will be answered.
        self._requests.clear()
        self._emit(ev.ContinuousUpdates(True))

    def _send_fence(self, now: float) -> None:
        self._fence_seq = (self._fence_seq + 1) & 0xFFFFFFFF
        payload = FENCE_TAG + struct.pack(">I", self._fence_seq)
        self._send(messages.client_fence(FenceFlag.REQUEST | FenceFlag.BLOCK_BEFORE, payload))
        self._fence_out = (self._fence_seq, now)
        self.fences_sent += 1

    # --- incoming --------------------------------------------------------------------
    def update_begun(self) -> bool:
        """An update starts arriving; whether it was asked for (by a request of ours, or
        by continuous updates being on)."""
        self._origin = self._requests.popleft() if self._requests else None
        return self._origin is not None or self.continuous

    def update_ended(self, now: float) -> float | None:
        """The update was decoded at `now`: its latency; sends a fence of ours if one is due."""
        latency = None if self._origin is None else now - self._origin
        self._origin = None
        if self.continuous and self.fence_supported:
            out = self._fence_out
            if out is None or now - out[1] > FENCE_GIVE_UP:
                self._send_fence(now)
        return latency

    def end_of_continuous_updates(self, width: int, height: int) -> None:
        if self._disabling:  # the answer to our own switching off, for a rate cap
            self._disabling -= 1
            return
        if not self.continuous_supported:
            self.continuous_supported = True
            if self.want_continuous and self.min_interval <= 0.0:
                self._start_continuous(width, height)
        elif self.continuous:
            self.continuous = False
            self._emit(ev.ContinuousUpdates(False))

    def resized(self, width: int, height: int) -> None:
        if self.continuous:
            self._enable(width, height)

    def server_fence(self, flags: int, payload: bytes) -> None:
        """A ServerFence: answer a request, or take the round trip of one of ours."""
        if len(payload) > MAX_FENCE_PAYLOAD:
            raise ProtocolError(f"fence payload of {len(payload)} bytes exceeds "
                                f"{MAX_FENCE_PAYLOAD}")
        if flags & FenceFlag.REQUEST:
            self.fence_supported = True
            self._send(messages.client_fence(flags & HONOURED_FENCE_FLAGS, payload))
            self.fences_answered += 1
            return
        out = self._fence_out
        if out is None or payload != FENCE_TAG + struct.pack(">I", out[0]):
            return  # an answer to nothing we are waiting for: harmless, ignored
        self._fence_out = None
        self.round_trip_s = self._clock() - out[1]
        self._emit(ev.RoundTrip(self.round_trip_s))
