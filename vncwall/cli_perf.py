"""The `vncwall record`, `bench` and `bench-render` subcommands (cli.py's `add_commands`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .cli import (
    EXIT_OK,
    UsageError,
    _level,
    _seconds,
    _size,
    int_in,
    parse_encodings,
    read_password,
)
from .net.address import AddressError, parse_address
from .net.client import ClientOptions
from .net.pixelformat import RGBX32
from .net.security import Credentials


def cmd_record(args: argparse.Namespace) -> int:
    """Record a server's stream for --seconds into a decperf-compatible file."""
    from .record import record

    try:
        address = parse_address(args.address)
    except AddressError as exc:
        raise UsageError(str(exc)) from None
    kwargs: dict[str, Any] = {}
    if args.encodings is not None:
        kwargs["encodings"] = parse_encodings(args.encodings)
    options = ClientOptions(
        credentials=Credentials(password=read_password(args.password_file)),
        pixel_format=RGBX32,
        extended_clipboard=False,  # a recording is for decoding: no clipboard traffic
        quality=args.quality,
        compress_level=args.compress,
        **kwargs,
    )
    out: Path = args.output
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: no directory {out.parent}")
    try:
        result = record(address, options, args.seconds, out, args.timeout)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    cut = "" if result.clean_end else " (last message cut off)"
    print(
        f"recorded {result.updates} updates, {result.bytes} bytes in {result.seconds:.1f} s"
        f"{cut} -> {out}",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """Decode each recording --runs times after a warm-up; print the median CPU time."""
    from .bench import bench_file

    for path in args.files:
        try:
            result = bench_file(path, args.runs)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        if args.json:
            print(json.dumps(result.as_dict()), flush=True)
        else:
            print(result.line(), flush=True)
    return EXIT_OK


def cmd_bench_render(args: argparse.Namespace) -> int:
    """Demo servers into a real wall on $DISPLAY: latency, frame pace, decode time."""
    from .bench_render import bench_render
    from .wall import WindowError

    try:
        runs = bench_render(
            faces=args.faces, seconds=args.seconds, window=args.size,
            scene_size=args.scene_size, server_fps=args.server_fps, max_fps=args.max_fps,
            warmup=args.warmup, in_process=args.in_process, layout=args.layout,
            filters=args.filter, background_fps=args.background_fps,
        )
    except (WindowError, RuntimeError) as exc:
        raise UsageError(str(exc)) from None
    for i, figures in enumerate(runs):
        if args.json:
            print(json.dumps(figures.as_dict()), flush=True)
            continue
        if i:
            print(flush=True)
        for line in figures.lines():
            print(line, flush=True)
    if len(runs) > 1 and not args.json:
        base = runs[-1]
        print(flush=True)
        print("side by side: " + ", ".join(
            f"{r.filter} {r.fps:.1f} fps" + (
                f" ({(r.fps / base.fps - 1) * 100:+.0f}% against {base.filter})"
                if r is not base and base.fps > 0 else "")
            for r in runs), flush=True)
    return EXIT_OK


def _filters(text: str) -> tuple[str, ...]:
    from .render.texture import FILTERS

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in FILTERS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: filters are a comma-separated list of {', '.join(FILTERS)}")
    return names


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.5 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is outside 0.5..1000")
    return value


def add_commands(subparsers: Any) -> None:
    """Add `record` and `bench` to the top-level parser's subparsers."""
    rec = subparsers.add_parser(
        "record", help="record a server's updates to a file (TigerVNC decperf format)"
    )
    rec.add_argument("address", help="host[:display], host::port, [v6]:N, vnc://host:port, "
                     "unix:/path")
    rec.add_argument("output", type=Path, help="file to write (.rfb, or .rfb.gz to compress)")
    rec.add_argument("--seconds", type=_seconds, required=True, help="how long to record")
    rec.add_argument("--encodings", help="comma-separated, preferred first (default: all)")
    rec.add_argument("--quality", type=_level, help="JPEG quality 0-9 (default: lossless)")
    rec.add_argument("--compress", type=_level, help="compression level 0-9")
    rec.add_argument("--password-file", help="file whose first line is the password "
                     "(default: $VNCWALL_PASSWORD)")
    rec.add_argument("--timeout", type=_seconds, default=10.0,
                     help="seconds to connect and between data (default 10)")
    rec.set_defaults(func=cmd_record)
    bench = subparsers.add_parser(
        "bench", help="decode recordings through the real decoders and time them"
    )
    bench.add_argument("files", type=Path, nargs="+", metavar="FILE.rfb",
                       help="recordings (.rfb or gzip-compressed .rfb.gz)")
    bench.add_argument("--runs", type=int_in(1, 1000, "the number of runs"), default=5,
                       help="timed runs per file (default 5)")
    bench.add_argument("--json", action="store_true", help="one JSON object per file")
    bench.set_defaults(func=cmd_bench)
    render = subparsers.add_parser(
        "bench-render",
        help="demo servers into a real wall on $DISPLAY: update-to-screen latency, fps",
        description="Runs N demo servers (a child process) and shows them on the wall in a "
        "window on $DISPLAY, drawing like `vncwall run`. Prints one line per figure: fps, "
        "frame interval, update-to-screen latency (from the arrival of an update's last "
        "byte to the end of the frame, after swap and glFinish, whose upload held it), "
        "decode time (last byte arrived to update decoded), upload rate; medians and "
        "95th percentiles after a warm-up.",
    )
    render.add_argument("--faces", type=int_in(1, 64, "the number of faces"), default=4,
                        help="demo sessions on the wall (default 4)")
    render.add_argument("--seconds", type=_seconds, default=5.0,
                        help="measured time after the warm-up (default 5)")
    render.add_argument("--warmup", type=_seconds, default=1.0,
                        help="seconds drawn but not measured first (default 1)")
    render.add_argument("--size", type=_size, default=(1280, 800),
                        help="window size WxH (default 1280x800)")
    render.add_argument("--scene-size", type=_size, default=(640, 400),
                        help="each demo desktop's size WxH (default 640x400)")
    render.add_argument("--server-fps", type=_fps, default=30.0,
                        help="most updates a second each demo server sends (default 30)")
    render.add_argument("--max-fps", type=int_in(1, 1000, "the frame rate cap"), default=60,
                        help="frame rate cap of the render loop, as `vncwall run` (default 60)")
    render.add_argument("--layout", choices=("prism", "grid"), default="prism",
                        help="how the faces are laid out (default prism)")
    render.add_argument("--filter", type=_filters, default=("trilinear",),
                        metavar="F[,F...]",
                        help="minification filter(s): anisotropic, trilinear, linear; with "
                        "several, each is measured in turn on the same sessions, e.g. "
                        "anisotropic,linear for filtered and unfiltered side by side")
    render.add_argument("--background-fps", type=float, default=0.0, metavar="FPS",
                        help="cap the update rate of every face but the front one, as "
                        "[wall] background_fps (default 0: no cap)")
    render.add_argument("--in-process", action="store_true",
                        help="run the demo servers in this process (they then share its GIL)")
    render.add_argument("--json", action="store_true", help="one JSON object instead")
    render.set_defaults(func=cmd_bench_render)
