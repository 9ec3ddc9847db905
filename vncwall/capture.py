"""Take one complete frame from a server: the `vncwall capture` job."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .dial import dial
from .net import events as ev
from .net.address import Address
from .net.client import ClientOptions, RFBClient
from .net.constants import encoding_name
from .net.errors import ConnectError
from .net.framebuffer import Coverage
from .net.pixelformat import U8Array


@dataclass(frozen=True)
class Capture:
    """One full frame and how it was obtained."""

    pixels: U8Array  # (h, w, 4) RGBX
    name: str
    encodings: frozenset[int]
    seconds: float

    def encoding_names(self) -> list[str]:
        return [encoding_name(e) for e in sorted(self.encodings)]


def capture(
    address: Address, options: ClientOptions, timeout: float, via: str | None = None
) -> Capture:
    """Connect (through the ssh gateway `via` if given), request full updates until every
    pixel has been painted, return the frame."""
    start = time.monotonic()
    deadline = start + timeout
    client = RFBClient(options)
    client.deadline = deadline  # also checked while decoding, not only between reads
    used: set[int] = set()
    covered: Coverage | None = None
    with dial(address, via, client, timeout) as conn:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectError(f"timed out after {timeout:g} s while {client.state}")
            for event in conn.pump(min(left, 0.5)):
                if isinstance(event, ev.Connected | ev.Resized):
                    covered = Coverage(event.width, event.height)
                    client.request_update(incremental=False)
                elif isinstance(event, ev.UpdateEnd) and covered is not None:
                    used |= event.encodings
                    if covered.add(event.rects):
                        fb = client.framebuffer
                        assert fb is not None
                        with fb.lock:
                            pixels = fb.pixels.copy()
                        return Capture(
                            pixels, client.name, frozenset(used), time.monotonic() - start
                        )
                    # The server keeps what it has not sent yet as pending changes; a
                    # non-incremental request here would make TigerVNC answer with the
                    # screen layout alone, again and again.
                    client.request_update(incremental=True)
