"""Record a server's byte stream from ServerInit on, in the file format TigerVNC's decperf reads."""

from __future__ import annotations

import dataclasses
import gzip
import time
from dataclasses import dataclass
from pathlib import Path

from .dial import dial
from .net import events as ev
from .net.address import Address
from .net.client import ClientOptions, RFBClient
from .net.constants import Encoding
from .net.errors import ConnectError
from .net.pixelformat import RGBX32

# After the recording time is up, how long to wait for the update already asked for,
# so that the file usually ends on a message boundary.
DRAIN_SECONDS = 1.0


@dataclass(frozen=True)
class Recording:
    """What `record` wrote."""

    path: Path
    bytes: int
    updates: int
    seconds: float
    clean_end: bool  # False when the last message is cut off


@dataclass(frozen=True)
class _RecordingOptions(ClientOptions):
    """ClientOptions that leave out the desktop-size and flow-control pseudo-encodings.

    decperf (TigerVNC 1.12) aborts on a DesktopSize or ExtendedDesktopSize rectangle,
    which servers send in answer to merely asking for them; a recording is made at one
    size anyway. Fence and ContinuousUpdates stay out too: a recording is paced by its
    own update requests, and its file holds updates only.
    """

    def encoding_list(self) -> list[int]:
        drop = (Encoding.DESKTOP_SIZE, Encoding.EXTENDED_DESKTOP_SIZE, Encoding.FENCE,
                Encoding.CONTINUOUS_UPDATES)
        return [e for e in super().encoding_list() if e not in drop]


class _Tape:
    """Collects every received byte; knows where ServerInit starts once the client does."""

    def __init__(self) -> None:
        self.data = bytearray()

    def __call__(self, chunk: bytes) -> None:
        self.data += chunk


def write_recording(path: Path, stream: bytes) -> None:
    """Write `stream` to `path`, gzip-compressed when the name ends in .gz."""
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=6) as f:
            f.write(stream)
    else:
        path.write_bytes(stream)


def record(
    address: Address, options: ClientOptions, seconds: float, out: Path, timeout: float = 10.0
) -> Recording:
    """Connect, ask for updates continuously for `seconds`, write ServerInit and all after it.

    The client's pixel format is forced to RGBX32 (what decperf assumes), and the pixel
    format inside the written ServerInit is replaced by it so the file describes itself.
    """
    fields = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    fields["pixel_format"] = RGBX32
    client = RFBClient(_RecordingOptions(**fields))
    tape = _Tape()
    client.tap = tape
    updates = 0
    connect_deadline = time.monotonic() + timeout
    start = 0.0
    stop_at: float | None = None
    waiting = False  # an update request is outstanding
    with dial(address, None, client, timeout) as conn:
        while True:
            for event in conn.pump(0.05):
                if isinstance(event, ev.Connected):
                    start = time.monotonic()
                    client.request_update(incremental=False)
                    waiting = True
                elif isinstance(event, ev.UpdateEnd):
                    updates += 1
                    waiting = stop_at is None
                    if waiting:
                        client.request_update(incremental=True)
                elif isinstance(event, ev.Resized) and stop_at is None:
                    client.request_update(incremental=False)
                    waiting = True
            now = time.monotonic()
            if not client.connected:
                if now > connect_deadline:
                    raise ConnectError(f"timed out after {timeout:g} s while {client.state}")
                continue
            if stop_at is None and now - start >= seconds:
                stop_at = now
            if stop_at is not None and (not waiting or now >= stop_at + DRAIN_SECONDS):
                break
        conn.flush()
        elapsed = time.monotonic() - start
        # Between messages with nothing buffered, the parser wants exactly one byte.
        clean = client.idle and client.wanted == 1
    offset = client.server_init_offset
    if offset is None or not client.connected:
        raise ConnectError("the connection ended before ServerInit")
    stream = bytearray(tape.data[offset:])
    stream[4:20] = RGBX32.pack()
    write_recording(out, bytes(stream))
    return Recording(out, len(stream), updates, elapsed, clean)

