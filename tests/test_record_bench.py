"""`vncwall record` against a real Xvnc, then `vncwall bench` on the file, cut and broken files."""

from __future__ import annotations

import argparse
import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from tests.servers import ServerPool, VncServer
from vncwall import cli
from vncwall.bench import decode_stream, load
from vncwall.cli_perf import add_commands
from vncwall.net.pixelformat import RGBX32


def run_cli(argv: list[str]) -> int:
    """vncwall's main() with `record` and `bench`, whether or not cli.py wires them in yet."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "bench" in sub.choices:
        return cli.main(argv)
    original = cli.build_parser

    def build() -> argparse.ArgumentParser:
        p = original()
        s = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        add_commands(s)
        return p

    cli.build_parser = build
    try:
        return cli.main(argv)
    finally:
        cli.build_parser = original


@pytest.fixture(scope="module")
def tiger(server_pool: ServerPool) -> VncServer:
    return server_pool.get("tigervnc")


@pytest.fixture(scope="module")
def recording(tiger: VncServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "zrle.rfb"
    rc = run_cli(["record", tiger.address, str(out), "--seconds", "1.5", "--encodings", "zrle"])
    assert rc == 0
    return out


def test_recording_starts_with_serverinit_in_rgbx32(recording: Path) -> None:
    data = recording.read_bytes()
    w, h = struct.unpack(">HH", data[:4])
    assert (w, h) == (1280, 800)
    assert data[4:20] == RGBX32.pack()
    (name_len,) = struct.unpack(">I", data[20:24])
    assert data[24 + name_len] == 0  # then a FramebufferUpdate


def test_bench_decodes_recording_to_the_servers_screen(
    recording: Path, tiger: VncServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["bench", "--json", "--runs", "2", str(recording)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"file", "updates", "rects", "pixels", "cpu_s", "mpix_s"}
    assert result["file"] == str(recording)
    assert result["updates"] >= 1 and result["rects"] >= 1
    assert result["pixels"] >= 1280 * 800
    assert result["cpu_s"] > 0 and result["mpix_s"] > 0
    stats, pixels = decode_stream(load(recording))
    assert stats.encodings == {16}  # ZRLE only
    np.testing.assert_array_equal(pixels[..., :3], tiger.stable_screenshot())


def test_bench_text_output_and_gzip(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gz = tmp_path / "copy.rfb.gz"
    gz.write_bytes(gzip.compress(recording.read_bytes()))
    assert run_cli(["bench", "--runs", "1", str(recording), str(gz)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{recording}: encodings zrle;")
    assert "Mpixel/s" in lines[0]
    # Same counts from the compressed copy.
    assert lines[0].split(";")[1] == lines[1].split(";")[1]


def test_bench_ignores_a_cut_off_last_message(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = recording.read_bytes()
    cut = tmp_path / "cut.rfb"
    cut.write_bytes(data[: len(data) - 1000])
    assert run_cli(["bench", "--json", "--runs", "1", str(cut)]) == 0
    result = json.loads(capsys.readouterr().out)
    full, _ = decode_stream(load(recording))
    assert result["updates"] <= full.updates
    stats, _ = decode_stream(load(cut))
    assert stats.truncated


def _serverinit(name: bytes = b"x") -> bytes:
    return struct.pack(">HH", 64, 32) + RGBX32.pack() + struct.pack(">I", len(name)) + name


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x63", "unknown server message type 99"),
        # One Hextile rect whose tile has an invalid subencoding.
        (b"\x00\x00\x00\x01" + struct.pack(">HHHHi", 0, 0, 16, 16, 5) + b"\xff\x00",
         "hextile: invalid subencoding"),
        # A rect outside the 64x32 framebuffer.
        (b"\x00\x00\x00\x01" + struct.pack(">HHHHi", 60, 0, 16, 16, 0), "outside the 64x32"),
    ],
)
def test_bench_malformed_file_exits_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: bytes, message: str
) -> None:
    bad = tmp_path / "bad.rfb"
    bad.write_bytes(_serverinit() + body + b"\x00" * 8)
    assert run_cli(["bench", str(bad)]) == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"vncwall: {bad}: ") and message in err


def test_bench_cut_serverinit_exits_5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "short.rfb"
    bad.write_bytes(_serverinit()[:10])
    assert run_cli(["bench", str(bad)]) == 5
    assert "ServerInit cut off" in capsys.readouterr().err


def test_bench_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["bench", str(tmp_path / "nope.rfb")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_record_needs_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["record", "127.0.0.1::1", "out.rfb"]) == 2
    assert "--seconds" in capsys.readouterr().err
