"""The compiled decode accelerator against the pure-Python decoders, and the feeder's views."""

from __future__ import annotations

import random
import shutil
import struct
import sysconfig
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_fuzz import FUZZ, Outcome, feed, mutated, server_streams
from vncwall import bench
from vncwall.net.decoders import accel
from vncwall.net.errors import ProtocolError
from vncwall.net.pixelformat import BGR233, RGB565, RGBX32, PixelFormat
from vncwall.net.stream import ByteFeeder, Reader, peek, read_view, skip

ROOT = Path(__file__).resolve().parents[1]
needs_accel = pytest.mark.skipif(not accel.available(), reason="accelerator not built")


@pytest.fixture(autouse=True)
def _restore_switch() -> Iterator[None]:
    before = accel.set_pure(False)
    yield
    accel.set_pure(before)


def on_path(pure: bool, data: bytes, chunks: list[int] | None, pf: PixelFormat | None) -> Outcome:
    accel.set_pure(pure)
    try:
        return feed(data, chunks, pf)
    finally:
        accel.set_pure(False)


def settled(out: Outcome) -> bool:
    """No error and no update left half done: the pixels are then fully defined.

    After an error, or in the middle of a rectangle, the paths may have painted different
    parts of it (the pure Hextile path paints a row of tiles at a time, RRE a whole
    rectangle; the compiled one tile by tile): the session ends there anyway.
    """
    begins = sum(e.startswith("UpdateBegin") for e in out.events)
    ends = sum(e.startswith("UpdateEnd") for e in out.events)
    return out.error is None and begins == ends


def assert_same(data: bytes, pf: PixelFormat | None, rng: random.Random) -> None:
    """Compiled and pure give the same error and events, and the same pixels once settled."""
    cuts = [rng.choice((1, 2, 5, 17, 300)) for _ in range(len(data) // 40 + 1)]
    for chunks in (None, cuts):
        compiled = on_path(False, data, chunks, pf)
        pure = on_path(True, data, chunks, pf)
        assert compiled.error == pure.error
        assert compiled.events == pure.events
        assert compiled.shape == pure.shape
        assert settled(compiled) == settled(pure)
        if settled(compiled):
            assert compiled.pixels == pure.pixels


# --- the build -------------------------------------------------------------------------


def test_extension_is_built_where_it_can_be() -> None:
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler: the pure path is all there is")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        pytest.skip("no Python headers (python3-dev): the pure path is all there is")
    assert accel.available(), "run `pip install -e .` (or tools/setup.sh) to build _accel"


def test_vncwall_pure_env_selects_the_pure_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.setenv("VNCWALL_PURE", "1")
    fresh = importlib.reload(accel)
    try:
        assert fresh.module() is None
    finally:
        monkeypatch.delenv("VNCWALL_PURE")
        importlib.reload(accel)
    assert accel.module() is (None if not accel.available() else accel._compiled)


# --- differential: random valid and broken server streams ------------------------------


@needs_accel
@FUZZ
@given(server_streams(), st.randoms(use_true_random=False))
def test_same_result_for_valid_streams(
    stream: tuple[bytes, PixelFormat | None], rng: random.Random
) -> None:
    data, pf = stream
    assert_same(data, pf, rng)


@needs_accel
@FUZZ
@given(server_streams(), st.data(), st.randoms(use_true_random=False))
def test_same_result_for_broken_streams(
    stream: tuple[bytes, PixelFormat | None], data: st.DataObject, rng: random.Random
) -> None:
    raw, pf = stream
    assert_same(data.draw(mutated([raw])), pf, rng)


@needs_accel
@pytest.mark.parametrize("name", ["hextile", "rre", "zrle"])
def test_same_framebuffer_for_recordings(name: str) -> None:
    """A real Xvnc recording (about 6 s of a busy desktop) decodes the same both ways."""
    stream = bench.load(ROOT / "recordings" / f"{name}.rfb.gz")
    accel.set_pure(True)
    _, pure = bench.decode_stream(stream)
    accel.set_pure(False)
    _, compiled = bench.decode_stream(stream)
    assert pure.any()
    np.testing.assert_array_equal(compiled, pure)


# --- the compiled functions on garbage: errors, never crashes -----------------------------

FORMATS = [RGBX32, RGB565, BGR233, PixelFormat(32, 24, True, True, 255, 255, 255, 16, 8, 0)]


@needs_accel
def test_garbage_raises_value_error_or_decodes() -> None:
    """Random bytes into every compiled loop: a result, a ValueError, or a short-data TypeError."""
    acc = accel.module()
    assert acc is not None
    rng = random.Random(7)
    fb = np.zeros((70, 90, 4), dtype=np.uint8)
    outcomes: set[str] = set()
    for i in range(4000):
        spec = accel.fmt_spec(FORMATS[i % len(FORMATS)], None)
        assert spec is not None
        w, h = rng.randint(0, 90), rng.randint(0, 70)
        x, y = rng.randint(0, 90 - w), rng.randint(0, 70 - h)
        data = bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 1, 5, 40, 700))))
        if rng.random() < 0.5:  # mostly valid-looking headers
            data = bytes([rng.choice((0, 1, 2, 8, 14, 128, 130, 255))]) + data
        try:
            kind = i % 5
            if kind == 3:
                count = rng.choice((2, 3, 17, 256))
                rgb = rng.random() < 0.5
                palette = bytes(rng.getrandbits(8) for _ in range(count * (3 if rgb else 4)))
                acc.tight_palette(data, fb, x, y, w, h, palette, count, rgb)
                used = 0
            elif kind == 4:
                acc.tight_rgb(data, fb, x, y, w, h)
                used = 0
            elif kind == 0:
                used, *_ = acc.hextile(data, fb, x, y, w, h, 0, 0, 0, rng.randint(0, 3), spec)
            elif kind == 1:
                memory = np.zeros(127, dtype=np.uint32)
                used, *_ = acc.rle_tiles(
                    data, fb, x, y, w, h, rng.choice((16, 64)), 0, memory, rng.randint(0, 127),
                    spec, "trle",
                )
            else:
                count = len(data) // (spec[0] + 8)
                bg = data[: spec[0]] if len(data) >= spec[0] else None
                acc.rre(data, fb, x, y, w, h, count, 2, spec, "RRE", bg)
                used = count * (spec[0] + 8)
            assert 0 <= used <= len(data)
            outcomes.add("ok")
        except ValueError as exc:
            assert "\n" not in str(exc)
            outcomes.add("error")
        except TypeError as exc:  # only the Tight loops' "fewer bytes than pixels"
            assert kind in (3, 4) and "fewer bytes" in str(exc), exc
            outcomes.add("short")
    assert outcomes == {"ok", "error", "short"}


@needs_accel
def test_bad_arguments_are_type_errors() -> None:
    acc = accel.module()
    assert acc is not None
    spec = accel.fmt_spec(RGBX32, None)
    assert spec is not None
    fb = np.zeros((8, 8, 4), dtype=np.uint8)
    with pytest.raises(TypeError):  # rectangle outside the framebuffer
        acc.hextile(b"\x00", fb, 4, 4, 8, 8, 0, 0, 0, 0, spec)
    with pytest.raises(TypeError):  # not (h, w, 4)
        acc.hextile(b"\x00", np.zeros((8, 8), dtype=np.uint32), 0, 0, 1, 1, 0, 0, 0, 0, spec)
    with pytest.raises(TypeError):  # tile index past the end
        acc.rle_tiles(b"", fb, 0, 0, 8, 8, 16, 2, None, 0, spec, "zrle")
    with pytest.raises(TypeError):  # fewer bytes than records
        acc.rre(b"\x00" * 11, fb, 0, 0, 8, 8, 1, 2, spec, "RRE", None)
    short_lut = (2, -1, 0, np.zeros(10, dtype=np.uint32), 11, 5, 0, 31, 63, 31)
    with pytest.raises(TypeError):
        acc.rre(b"", fb, 0, 0, 8, 8, 0, 2, short_lut, "RRE", None)
    with pytest.raises(ValueError, match="RRE: subrectangle 9x1\\+0\\+0 outside the 8x8"):
        record = bytes(4) + struct.pack(">HHHH", 0, 0, 9, 1)
        acc.rre(record, fb, 0, 0, 8, 8, 1, 2, spec, "RRE", None)


def test_rre_fills_let_other_threads_run() -> None:
    """A few KB of whole-rectangle RRE records mean seconds of filling: the wall and the
    other sessions must go on meanwhile (the C loop runs without the GIL)."""
    acc = accel.module()
    assert acc is not None
    spec = accel.fmt_spec(RGBX32, None)
    assert spec is not None
    w, h, n = 1920, 1080, 1500
    fb = np.zeros((h, w, 4), dtype=np.uint8)
    data = (b"\x01\x02\x03\x00" + struct.pack(">HHHH", 0, 0, w, h)) * n
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        time.sleep(0.05)
        start = time.perf_counter()
        acc.rre(data, fb, 0, 0, w, h, n, 2, spec, "RRE", None)
        end = time.perf_counter()
    finally:
        stop.set()
        thread.join()
    during = [t for t in ticks if start < t < end]
    # Held GIL: no tick at all during the call. Released: one every millisecond or so.
    assert len(during) >= max(5, (end - start) / 0.01), (len(during), end - start)
    assert (fb[0, 0, :3] == (1, 2, 3)).all() and (fb[-1, -1, :3] == (1, 2, 3)).all()


def test_colour_map_shifts_mean_nothing_on_both_paths() -> None:
    """In colour-map mode a server may put anything in the shift fields."""
    from vncwall.net.decoders.base import DecodeContext
    from vncwall.net.decoders.hextile import HextileDecoder
    from vncwall.net.framebuffer import Framebuffer, Rect

    pf = PixelFormat.parse(bytes([8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 0, 0]))
    colour_map = np.zeros((256, 4), dtype=np.uint8)
    colour_map[5] = (10, 20, 30, 0)
    paths = [True, False] if accel.available() else [True]
    for pure in paths:
        before = accel.set_pure(pure)
        try:
            fb = Framebuffer(16, 16)
            ctx = DecodeContext(fb, pf, colour_map)
            feeder = ByteFeeder(HextileDecoder().decode(Rect(0, 0, 16, 16), ctx))
            feeder.feed(bytes([2, 5]))  # one tile: background colour index 5
        finally:
            accel.set_pure(before)
        assert feeder.finished, pure
        assert (fb.pixels[..., :3] == (10, 20, 30)).all(), pure


# --- the feeder's views -------------------------------------------------------------------


def _viewer(log: list[object]) -> Reader[None]:
    first = yield 2
    log.append(first)
    view = yield from read_view(5)
    log.append(view)
    seen = yield from peek(3)
    log.append(bytes(seen))
    yield from skip(4)
    log.append((yield 1))


@pytest.mark.parametrize("step", [1, 2, 3, 100])
def test_views_peek_and_skip(step: int) -> None:
    stream = bytes(range(12))
    log: list[object] = []
    feeder = ByteFeeder(_viewer(log))
    for i in range(0, len(stream), step):
        feeder.feed(stream[i : i + step])
    assert feeder.finished
    first, view, seen, last = log
    assert first == b"\x00\x01" and type(first) is bytes
    assert isinstance(view, memoryview) and view.readonly and bytes(view) == bytes(range(2, 7))
    assert isinstance(seen, bytes) and seen[:3] == bytes(range(7, 10))
    assert stream.startswith(seen, 7)
    assert last == bytes([11])
    assert feeder.consumed == 12


def test_feeder_refuses_negative_and_huge_reads() -> None:
    def bad(n: int) -> Reader[None]:
        yield n

    for n in (-1, (1 << 40) - 1):
        with pytest.raises(ProtocolError, match="refusing to read"):
            ByteFeeder(bad(n))


def test_feeding_views_keeps_bytes_and_copies_mutable_buffers() -> None:
    stream = bytes(range(12))
    log: list[object] = []
    feeder = ByteFeeder(_viewer(log))
    whole = memoryview(stream)
    feeder.feed(whole[:2])  # a view of immutable bytes: kept as it is
    scratch = bytearray(stream[2:])
    feeder.feed(memoryview(scratch))  # a mutable buffer: copied, so the views below hold
    scratch[:] = bytes(len(scratch))
    assert feeder.finished
    assert log[0] == b"\x00\x01"
    assert isinstance(log[1], memoryview) and bytes(log[1]) == bytes(range(2, 7))
    assert log[3] == bytes([11])
