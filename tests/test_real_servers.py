"""End to end: `python -m vncwall capture` against real VNC servers, checked against xwd."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.servers import SERVER_KINDS, ServerPool, VncServer, free_tcp_port

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "s3cr3t!"  # VNC passwords are at most 8 characters
CAPTURE_TIMEOUT = 60  # seconds, for --timeout; the machine may be slow and busy

CANDIDATE_ENCODINGS = ("raw", "rre", "corre", "hextile", "zlib", "tight", "trle", "zrle")

# The encodings each server really uses when a client asks for that one alone (plus Raw,
# which the client always adds). Found by trying every candidate on every server; the
# ones left out are answered with Raw only:
#   TigerVNC 1.12      has no CoRRE, zlib or TRLE encoder.
#   x11vnc 0.9.16      (libvncserver) has no TRLE encoder.
#   TightVNC 1.3.10    predates ZRLE and TRLE.
# CopyRect is never in the matrix: it only moves pixels the client already has, so a
# capture cannot be made of it alone.
OFFERED: dict[str, tuple[str, ...]] = {
    "tigervnc": ("raw", "rre", "hextile", "tight", "zrle"),
    "x11vnc": ("raw", "rre", "corre", "hextile", "zlib", "tight", "zrle"),
    "tightvnc": ("raw", "rre", "corre", "hextile", "zlib", "tight"),
}
OFFERED_PAIRS = [(k, e) for k in SERVER_KINDS for e in OFFERED[k]]
NOT_OFFERED_PAIRS = [
    (k, e) for k in SERVER_KINDS for e in CANDIDATE_ENCODINGS if e not in OFFERED[k]
]

# Tight with a JPEG quality level: all three servers send JPEG for the photo-like part.
JPEG_SERVERS = ("tigervnc", "x11vnc", "tightvnc")
MIN_JPEG_PSNR = 30.0

# How each server reduces an 8-bit channel v to n bits (m = 2**n - 1) for --depth 16/8,
# found by capturing the scene's ramps (every level 0..255 of each channel) as Raw:
#   TigerVNC:          (v * m + 128) // 255   (its PixelFormat down-conversion table)
#   x11vnc, TightVNC:  (v * m + 127) // 255   (translate.c: (i * outMax + inMax / 2) / inMax)
# Neither truncates (v >> (8 - n)). They differ only where v * m % 255 == 127.
DEPTH_ROUNDING: dict[str, int] = {"tigervnc": 128, "x11vnc": 127, "tightvnc": 127}
DEPTH_MAXIMA = {16: (31, 63, 31), 8: (7, 7, 3)}  # RGB565, BGR233

ENCODINGS_RE = re.compile(r"encodings: ([^)]*)")


@dataclass
class Result:
    """One run of the capture command."""

    returncode: int
    stderr: str
    image: npt.NDArray[np.uint8] | None  # (h, w, 3) RGB, when a PNG was written

    def used_encodings(self) -> set[str]:
        match = ENCODINGS_RE.search(self.stderr)
        assert match, f"no 'encodings: ...' in stderr: {self.stderr!r}"
        return {name.strip() for name in match.group(1).split(",")}

    def one_line(self) -> str:
        text = self.stderr.strip()
        assert text, "stderr is empty"
        assert "\n" not in text, f"stderr is more than one line:\n{self.stderr}"
        return text


def load_png(path: Path) -> npt.NDArray[np.uint8]:
    """A PNG file as (h, w, 3) RGB, alpha dropped."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    surface = pygame.image.load(str(path))
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


def save_png(path: Path, rgb: npt.NDArray[np.uint8]) -> None:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    pygame.image.save(pygame.surfarray.make_surface(rgb.transpose(1, 0, 2).copy()), str(path))


def run_capture(address: str, out: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run `python -m vncwall capture ADDRESS OUT ARGS...` from the repository."""
    full_env = dict(os.environ)
    full_env.pop("VNCWALL_PASSWORD", None)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "vncwall", "capture", address, str(out), *args]
    if "--timeout" not in args:
        cmd += ["--timeout", str(CAPTURE_TIMEOUT)]
    proc = subprocess.run(
        cmd, cwd=REPO, env=full_env, capture_output=True, text=True,
        timeout=CAPTURE_TIMEOUT + 60, check=False,
    )  # fmt: skip
    image = load_png(out) if proc.returncode == 0 and out.exists() else None
    return Result(proc.returncode, proc.stderr, image)


def capture_static(
    server: VncServer, out: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[Result, npt.NDArray[np.uint8]]:
    """Capture, with the server's screenshots before and after equal (else retry)."""
    for _ in range(3):
        before = server.screenshot()
        result = run_capture(server.address, out, *args, env=env)
        after = server.screenshot()
        if np.array_equal(before, after):
            return result, after
    pytest.fail(f"the {server.kind} screen kept changing during captures")


def assert_same_pixels(
    got: npt.NDArray[np.uint8], want: npt.NDArray[np.uint8], outdir: Path, label: str
) -> None:
    """Pixel-exact equality; on failure report how many differ and where, and save both."""
    assert got.shape == want.shape, f"{label}: capture {got.shape} vs screenshot {want.shape}"
    diff = (got != want).any(axis=-1)
    if not diff.any():
        return
    ys, xs = np.nonzero(diff)
    worst = int(np.abs(got.astype(np.int16) - want.astype(np.int16)).max())
    paths = {name: outdir / f"{label}-{name}.png" for name in ("capture", "screenshot", "diff")}
    save_png(paths["capture"], got)
    save_png(paths["screenshot"], want)
    save_png(paths["diff"], np.repeat(diff[..., None], 3, axis=-1).astype(np.uint8) * 255)
    pytest.fail(
        f"{label}: {int(diff.sum())} of {diff.size} pixels differ, bounding box "
        f"x {xs.min()}..{xs.max()}, y {ys.min()}..{ys.max()}, largest channel error {worst}; "
        f"first at (x={xs[0]}, y={ys[0]}): capture {got[ys[0], xs[0]].tolist()} vs "
        f"screenshot {want[ys[0], xs[0]].tolist()}; saved "
        + ", ".join(str(p) for p in paths.values())
    )


def reduce_depth(rgb: npt.NDArray[np.uint8], depth: int, bias: int) -> npt.NDArray[np.uint8]:
    """What a client sees at `depth`: reduced by the server with `bias`, expanded back."""
    out = np.empty_like(rgb)
    for c, m in enumerate(DEPTH_MAXIMA[depth]):
        v = (rgb[..., c].astype(np.int32) * m + bias) // 255
        out[..., c] = (v * 255 + m // 2) // m
    return out


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize(("kind", "encoding"), OFFERED_PAIRS)
def test_capture_equals_screenshot(
    server_pool: ServerPool, kind: str, encoding: str, tmp_path: Path
) -> None:
    server = server_pool.get(kind)
    result, shot = capture_static(server, tmp_path / "capture.png", "--encodings", encoding)
    assert result.returncode == 0, result.stderr
    result.one_line()
    assert encoding in result.used_encodings(), (
        f"{kind} did not use {encoding}: {result.stderr.strip()}"
    )
    assert result.image is not None
    assert_same_pixels(result.image, shot, tmp_path, f"{kind}-{encoding}")


@pytest.mark.parametrize(("kind", "encoding"), NOT_OFFERED_PAIRS)
def test_encoding_not_offered_falls_back_to_raw(
    server_pool: ServerPool, kind: str, encoding: str, tmp_path: Path
) -> None:
    """Keeps the matrix above honest: the server still answers, but not in `encoding`."""
    server = server_pool.get(kind)
    result, shot = capture_static(server, tmp_path / "capture.png", "--encodings", encoding)
    assert result.returncode == 0, result.stderr
    assert encoding not in result.used_encodings(), f"{kind} now offers {encoding}: move it"
    assert result.image is not None
    assert_same_pixels(result.image, shot, tmp_path, f"{kind}-{encoding}")


def test_default_encodings_equal_screenshot(vnc_server: VncServer, tmp_path: Path) -> None:
    result, shot = capture_static(vnc_server, tmp_path / "capture.png")
    assert result.returncode == 0, result.stderr
    result.one_line()
    assert result.image is not None
    assert_same_pixels(result.image, shot, tmp_path, f"{vnc_server.kind}-default")


@pytest.mark.parametrize("kind", JPEG_SERVERS)
def test_tight_jpeg_is_close(server_pool: ServerPool, kind: str, tmp_path: Path) -> None:
    server = server_pool.get(kind)
    args = ("--encodings", "tight", "--quality", "5")
    result, shot = capture_static(server, tmp_path / "capture.png", *args)
    assert result.returncode == 0, result.stderr
    assert "tight" in result.used_encodings()
    assert result.image is not None
    value = psnr(result.image, shot)
    if value < MIN_JPEG_PSNR:
        save_png(tmp_path / "capture.png", result.image)
        save_png(tmp_path / "screenshot.png", shot)
    assert value >= MIN_JPEG_PSNR, f"{kind}: PSNR {value:.1f} dB; images in {tmp_path}"
    # JPEG really was used: the photo-like image cannot survive it bit for bit.
    assert not np.array_equal(result.image, shot), f"{kind}: quality 5 gave a lossless frame"


@pytest.mark.parametrize("depth", [16, 8])
def test_reduced_depth(vnc_server: VncServer, depth: int, tmp_path: Path) -> None:
    result, shot = capture_static(vnc_server, tmp_path / "capture.png", "--depth", str(depth))
    assert result.returncode == 0, result.stderr
    assert result.image is not None
    want = reduce_depth(shot, depth, DEPTH_ROUNDING[vnc_server.kind])
    assert_same_pixels(result.image, want, tmp_path, f"{vnc_server.kind}-depth{depth}")


@pytest.mark.parametrize("depth", [16, 8])
@pytest.mark.parametrize("encoding", ["raw", "hextile", "tight"])
def test_reduced_depth_per_encoding(
    server_pool: ServerPool, encoding: str, depth: int, tmp_path: Path
) -> None:
    """The depth reduction is the server's, whatever the encoding (TigerVNC's shown)."""
    server = server_pool.get("tigervnc")
    args = ("--depth", str(depth), "--encodings", encoding)
    result, shot = capture_static(server, tmp_path / "capture.png", *args)
    assert result.returncode == 0, result.stderr
    assert encoding in result.used_encodings()
    assert result.image is not None
    want = reduce_depth(shot, depth, DEPTH_ROUNDING[server.kind])
    assert_same_pixels(result.image, want, tmp_path, f"tigervnc-{encoding}-depth{depth}")


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_password_from_file(server_pool: ServerPool, kind: str, tmp_path: Path) -> None:
    server = server_pool.get(kind, password=PASSWORD, scene=False)
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    result, shot = capture_static(server, tmp_path / "c.png", "--password-file", str(secret))
    assert result.returncode == 0, result.stderr
    result.one_line()
    assert result.image is not None
    assert_same_pixels(result.image, shot, tmp_path, f"{kind}-password-file")


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_password_from_environment(server_pool: ServerPool, kind: str, tmp_path: Path) -> None:
    server = server_pool.get(kind, password=PASSWORD, scene=False)
    env = {"VNCWALL_PASSWORD": PASSWORD}
    result, shot = capture_static(server, tmp_path / "c.png", env=env)
    assert result.returncode == 0, result.stderr
    assert result.image is not None
    assert_same_pixels(result.image, shot, tmp_path, f"{kind}-password-env")


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_wrong_password_exits_4(server_pool: ServerPool, kind: str, tmp_path: Path) -> None:
    server = server_pool.get(kind, password=PASSWORD, scene=False)
    out = tmp_path / "c.png"
    result = run_capture(server.address, out, env={"VNCWALL_PASSWORD": "wrong"})
    assert result.returncode == 4, result.stderr
    line = result.one_line()
    assert re.search(r"auth|password", line, re.IGNORECASE), line
    assert not out.exists()


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_missing_password_exits_4(server_pool: ServerPool, kind: str, tmp_path: Path) -> None:
    server = server_pool.get(kind, password=PASSWORD, scene=False)
    result = run_capture(server.address, tmp_path / "c.png")
    assert result.returncode == 4, result.stderr
    line = result.one_line()
    assert re.search(r"password", line, re.IGNORECASE), line


def test_closed_port_exits_3(tmp_path: Path) -> None:
    out = tmp_path / "c.png"
    result = run_capture(f"127.0.0.1::{free_tcp_port()}", out, "--timeout", "10")
    assert result.returncode == 3, result.stderr
    result.one_line()
    assert not out.exists()
