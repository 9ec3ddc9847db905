"""Drive generator-based parsers with bytes: the sans-IO heart of the client.

A parser is a generator that yields the number of bytes it needs next and is sent
exactly that many bytes back (`data = yield n`). `ByteFeeder` buffers whatever the
transport delivers, in chunks of any size, and resumes the parser whenever enough
bytes are there, so parsing one byte at a time and all at once behave identically.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

from .errors import ProtocolError

T = TypeVar("T")
Reader = Generator[int, bytes, T]

# No single read may ask for more than this; decoders check their own, smaller caps
# before yielding, this is the last line of defence against huge allocations.
MAX_READ = 256 * 1024 * 1024


class ByteFeeder:
    """Feeds bytes into a parser generator; the parser runs until it needs more."""

    def __init__(self, parser: Reader[None]) -> None:
        self._parser = parser
        self._buf = bytearray()
        self._pos = 0
        self._finished = False
        self.consumed = 0  # bytes handed to the parser so far
        self._need = self._advance(None)

    def _advance(self, data: bytes | None) -> int:
        try:
            need = self._parser.send(data)  # type: ignore[arg-type]
        except StopIteration:
            self._finished = True
            return 0
        if need < 0 or need > MAX_READ:
            raise ProtocolError(f"refusing to read {need} bytes")
        return need

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed by the parser."""
        return len(self._buf) - self._pos

    @property
    def wanted(self) -> int:
        """Bytes the parser is waiting for beyond what is buffered."""
        return max(0, self._need - self.buffered)

    def feed(self, data: bytes) -> None:
        """Add received bytes and run the parser as far as they allow."""
        if self._finished:
            if data:
                raise ProtocolError("data after the end of the stream")
            return
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data
        while not self._finished and len(self._buf) - self._pos >= self._need:
            n = self._need
            chunk = bytes(self._buf[self._pos : self._pos + n])
            self._pos += n
            self.consumed += n
            self._need = self._advance(chunk)
