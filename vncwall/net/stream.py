"""Drive generator-based parsers with bytes: the sans-IO heart of the client.

A parser is a generator that yields the number of bytes it needs next and is sent
exactly that many bytes back (`data = yield n`). `ByteFeeder` buffers whatever the
transport delivers, in chunks of any size, and resumes the parser whenever enough
bytes are there, so parsing one byte at a time and all at once behave identically.

Two more requests let hot decoders skip copies (use the helpers, not the flags):
`read_view(n)` is sent a read-only memoryview of the next n bytes instead of a copy,
and `peek(n)` a view of everything buffered (at least n bytes) without consuming it,
to be followed by `skip(k)` once the parser knows how much of it was its own. Views
are of immutable bytes, so they stay valid however long they are kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import TypeVar, cast

from .errors import ProtocolError

T = TypeVar("T")
Reader = Generator[int, bytes, T]

# No single read may ask for more than this; decoders check their own, smaller caps
# before yielding, this is the last line of defence against huge allocations.
MAX_READ = 256 * 1024 * 1024

# Request flags, above any byte count; the low bits carry the count.
_VIEW = 1 << 40
_PEEK = 2 << 40
_SKIP = 3 << 40
_KIND = 3 << 40
_COUNT = (1 << 40) - 1


def read_view(n: int) -> Reader[memoryview]:
    """The next `n` bytes as a read-only memoryview (no copy when they arrived together)."""
    data = yield _VIEW | n
    return cast(memoryview, data)


def peek(n: int) -> Reader[memoryview]:
    """A view of all bytes buffered so far, at least `n`; nothing is consumed."""
    data = yield _PEEK | n
    return cast(memoryview, data)


def skip(n: int) -> Reader[None]:
    """Consume `n` bytes that an earlier `peek` showed (n must not exceed what it showed)."""
    if n:
        yield _SKIP | n


class ByteFeeder:
    """Feeds bytes into a parser generator; the parser runs until it needs more.

    Received chunks are kept as they came, as views: the parser reads from the current
    one (`_data`, from `_pos`) and the rest wait in `_pending`. A request that runs
    past the current chunk gets exactly its bytes joined, so nothing is copied twice
    and a chunk is never copied just because a read straddles its start.
    """

    def __init__(self, parser: Reader[None]) -> None:
        self._parser = parser
        self._data = memoryview(b"")
        self._pos = 0
        self._pending: deque[memoryview] = deque()
        self._pending_len = 0
        self._finished = False
        self.consumed = 0  # bytes handed to the parser so far
        self._kind = 0
        self._need = 0
        self._advance(None)

    def _advance(self, data: bytes | memoryview | None) -> None:
        try:
            request = self._parser.send(data)  # type: ignore[arg-type]
        except StopIteration:
            self._finished = True
            self._kind = self._need = 0
            return
        kind = request & _KIND if request >= 0 else 0
        need = request & _COUNT if kind else request
        if need < 0 or need > MAX_READ:
            raise ProtocolError(f"refusing to read {need} bytes")
        self._kind, self._need = kind, need

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed by the parser."""
        return len(self._data) - self._pos + self._pending_len

    @property
    def wanted(self) -> int:
        """Bytes the parser is waiting for beyond what is buffered."""
        return max(0, self._need - self.buffered)

    def feed(self, data: bytes | memoryview) -> None:
        """Add received bytes and run the parser as far as they allow."""
        if self._finished:
            if data:
                raise ProtocolError("data after the end of the stream")
            return
        if not data:
            return
        # Kept without a copy when immutable: bytes, or a view of bytes. Anything else
        # (a bytearray the caller reuses, say) is copied, as views of it must not change.
        view: memoryview
        if type(data) is bytes:
            view = memoryview(data)
        elif (
            type(data) is memoryview and type(data.obj) is bytes
            and data.format == "B" and data.c_contiguous
        ):
            view = data
        else:
            view = memoryview(bytes(data))
        if self._pos == len(self._data) and not self._pending:
            self._data, self._pos = view, 0
        else:
            self._pending.append(view)
            self._pending_len += len(view)
        self._run()

    def _gather(self, need: int) -> bytes:
        """Exactly `need` bytes from the current chunk on (the caller checked they are here)."""
        parts = [self._data[self._pos :]]
        got = len(parts[0])
        pending = self._pending
        while got < need:
            piece = pending.popleft()
            take = min(len(piece), need - got)
            parts.append(piece[:take])
            if take < len(piece):
                pending.appendleft(piece[take:])
            self._pending_len -= take
            got += take
        return b"".join(parts)

    def _run(self) -> None:
        send = self._parser.send
        while not self._finished:
            need = self._need
            kind = self._kind
            pos = self._pos
            data = self._data
            left = len(data) - pos
            out: bytes | memoryview
            if kind == 0 and need <= left:  # the common case: a plain read inside this chunk
                self._pos = end = pos + need
                self.consumed += need
                out = data[pos:end].tobytes()
            else:
                if left == 0 and self._pending:  # this chunk is used up: on to the next
                    data = self._data = self._pending.popleft()
                    self._pending_len -= len(data)
                    pos = self._pos = 0
                    left = len(data)
                if left < need:
                    if left + self._pending_len < need:
                        return
                    joined = self._gather(need)
                    if kind == _PEEK:
                        self._data, self._pos = memoryview(joined), 0
                        out = self._data
                    else:
                        self._data, self._pos = memoryview(b""), 0
                        self.consumed += need
                        out = memoryview(joined) if kind == _VIEW else joined
                elif kind == _PEEK:
                    out = data[pos:]
                else:
                    self._pos = end = pos + need
                    self.consumed += need
                    if kind == _VIEW:
                        out = data[pos:end]
                    elif kind == _SKIP:
                        out = b""
                    else:
                        out = data[pos:end].tobytes()
            # Resume the parser (this is _advance, inlined: it runs once per read).
            try:
                request = send(out)  # type: ignore[arg-type]
            except StopIteration:
                self._finished = True
                self._kind = self._need = 0
                return
            if 0 <= request <= MAX_READ:
                self._kind, self._need = 0, request
            else:
                kind = request & _KIND if request >= 0 else 0
                need = request & _COUNT if kind else request
                if need < 0 or need > MAX_READ:
                    raise ProtocolError(f"refusing to read {need} bytes")
                self._kind, self._need = kind, need

