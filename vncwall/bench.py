"""Decode recorded RFB streams (decperf's file format) through the real client and time it."""

from __future__ import annotations

import statistics
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .net import events as ev
from .net.client import ClientOptions, RFBClient
from .net.constants import Security, encoding_name
from .net.errors import ProtocolError
from .net.pixelformat import RGBX32, U8Array

# What a server says before ServerInit, for a client that asked for RFB 3.8 and no
# security: the version, one security type (None), then SecurityResult OK.
_HANDSHAKE = b"RFB 003.008\n" + bytes([1, int(Security.NONE)]) + bytes(4)
_OPTIONS = ClientOptions(pixel_format=RGBX32, security=(int(Security.NONE),))
# Bytes per receive_data call, as the transport's recv size.
CHUNK = 256 * 1024


@dataclass
class DecodeStats:
    """What one decode of a recording saw, and the CPU time it took."""

    updates: int = 0
    rects: int = 0
    pixels: int = 0
    encodings: set[int] = field(default_factory=set)
    cpu_s: float = 0.0
    truncated: bool = False  # the last message was cut off (and ignored)

    def encoding_names(self) -> list[str]:
        return [encoding_name(e) for e in sorted(self.encodings)]


@dataclass(frozen=True)
class BenchResult:
    """One file's figures: counts from the decode, the median CPU time over the runs."""

    file: str
    stats: DecodeStats
    cpu_s: float
    runs: int

    @property
    def mpix_s(self) -> float:
        return self.stats.pixels / self.cpu_s / 1e6 if self.cpu_s > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "updates": self.stats.updates,
            "rects": self.stats.rects,
            "pixels": self.stats.pixels,
            "cpu_s": round(self.cpu_s, 6),
            "mpix_s": round(self.mpix_s, 3),
        }

    def line(self) -> str:
        encs = ",".join(self.stats.encoding_names()) or "none"
        tail = " (last message cut off, ignored)" if self.stats.truncated else ""
        return (
            f"{self.file}: encodings {encs}; {self.stats.updates} updates, "
            f"{self.stats.rects} rects, {self.stats.pixels / 1e6:.1f} Mpixels; "
            f"decode {self.cpu_s:.3f} s CPU (median of {self.runs}), "
            f"{self.mpix_s:.1f} Mpixel/s{tail}"
        )


def load(path: Path) -> bytes:
    """A recording's bytes, gunzipped when the file is gzip; raises OSError or ProtocolError."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            # A cut-off gzip file is a cut-off recording: keep what inflates.
            d = zlib.decompressobj(wbits=31)
            data = d.decompress(data)
        except zlib.error as exc:
            raise ProtocolError(f"{path}: bad gzip data: {exc}") from None
    return data


def decode_stream(stream: bytes, chunk: int = CHUNK) -> tuple[DecodeStats, U8Array]:
    """Decode a whole recording; the stats and the final (h, w, 4) RGBX framebuffer.

    Only decoding the messages after ServerInit is timed. Raises ProtocolError when
    ServerInit is incomplete or any message but a cut-off last one is malformed.
    """
    client = RFBClient(_OPTIONS)
    client.receive_data(_HANDSHAKE)
    stats = DecodeStats()
    view = memoryview(stream)
    # ServerInit (24 bytes plus the name) is fed untimed, a byte short of complete so
    # the client's setup after it is not timed either, then its last byte.
    init = 24
    if len(stream) >= 24:
        init += int.from_bytes(stream[20:24], "big")
    if len(stream) < init:
        raise ProtocolError(f"ServerInit cut off ({len(stream)} of {init} bytes)")
    client.receive_data(bytes(view[: init - 1]))
    client.receive_data(bytes(view[init - 1 : init]))
    while client.next_event() is not None:
        pass
    updates = rects = pixels = 0
    used: set[int] = set()
    receive = client.receive_data
    next_event = client.next_event
    start = time.process_time()
    for pos in range(init, len(stream), chunk):
        receive(bytes(view[pos : pos + chunk]))
        while (event := next_event()) is not None:
            if isinstance(event, ev.UpdateEnd):
                updates += 1
                rects += len(event.rects)
                pixels += sum(r.w * r.h for r in event.rects)
                used |= event.encodings
    stats.cpu_s = time.process_time() - start
    stats.updates, stats.rects, stats.pixels, stats.encodings = updates, rects, pixels, used
    stats.truncated = not (client.idle and client.wanted == 1)
    fb = client.framebuffer
    assert fb is not None
    return stats, fb.pixels


def bench_file(path: Path, runs: int = 5, name: str | None = None) -> BenchResult:
    """One warm-up decode, then `runs` timed ones; the median CPU time."""
    stream = load(path)
    label = name if name is not None else str(path)
    try:
        stats, _ = decode_stream(stream)  # warm-up, and the counts
        times = [decode_stream(stream)[0].cpu_s for _ in range(runs)]
    except ProtocolError as exc:
        raise ProtocolError(f"{label}: {exc}") from None
    return BenchResult(label, stats, statistics.median(times), runs)


__all__ = ["BenchResult", "DecodeStats", "bench_file", "decode_stream", "load"]
