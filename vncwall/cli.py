"""Command line: `vncwall capture` and friends; one line on stderr, documented exit codes.

Exit codes: 0 success; 1 internal error; 2 usage or config error; 3 cannot connect
(refused, unreachable, timed out, connection lost); 4 authentication failed;
5 protocol error or nothing in common with the server; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .net.address import AddressError, parse_address
from .net.client import ClientOptions
from .net.constants import ENCODING_NAMES, Encoding
from .net.errors import VncError
from .net.pixelformat import DEPTH_FORMATS
from .net.security import Credentials

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command line or configuration; exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_encodings(text: str) -> tuple[int, ...]:
    """Comma-separated encoding names, in preference order."""
    encs: list[int] = []
    for name in (n.strip().lower() for n in text.split(",")):
        if not name:
            continue
        if name not in ENCODING_NAMES:
            known = ",".join(ENCODING_NAMES)
            raise UsageError(f"unknown encoding {name!r} (known: {known})")
        if ENCODING_NAMES[name] not in encs:
            encs.append(ENCODING_NAMES[name])
    if not encs:
        raise UsageError("--encodings needs at least one encoding")
    if Encoding.RAW not in encs:
        encs.append(Encoding.RAW)  # every server may fall back to Raw (RFC 6143 7.7.1)
    return tuple(encs)


def read_password(password_file: str | None) -> str | None:
    """The password from a file's first line, else $VNCWALL_PASSWORD, else None."""
    if password_file is not None:
        try:
            with open(password_file, encoding="utf-8") as f:
                return f.readline().rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"cannot read password file {password_file}: {exc.strerror}") from None
    return os.environ.get("VNCWALL_PASSWORD")


def _level(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number 0-9") from None
    if not 0 <= value <= 9:
        raise argparse.ArgumentTypeError(f"{value} is not in 0-9")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def add_client_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that connects to a server."""
    p.add_argument("--encodings", help="comma-separated, preferred first: "
                   + ",".join(ENCODING_NAMES) + " (default: all, best first)")
    p.add_argument("--quality", type=_level, help="JPEG quality 0-9 (default: lossless)")
    p.add_argument("--compress", type=_level, help="compression level 0-9")
    p.add_argument("--depth", type=int, choices=sorted(DEPTH_FORMATS), default=24,
                   help="colour depth to ask for (8 = BGR233, 16 = RGB565, 24 = true colour)")
    p.add_argument("--password-file", help="file whose first line is the password "
                   "(default: $VNCWALL_PASSWORD)")
    p.add_argument("--exclusive", action="store_true",
                   help="ask the server to disconnect other viewers (default: shared)")
    p.add_argument("--timeout", type=_seconds, default=10.0, help="seconds (default 10)")


def client_options(args: argparse.Namespace) -> ClientOptions:
    kwargs: dict[str, object] = {}
    if args.encodings is not None:
        kwargs["encodings"] = parse_encodings(args.encodings)
    return ClientOptions(
        credentials=Credentials(password=read_password(args.password_file)),
        shared=not args.exclusive,
        pixel_format=DEPTH_FORMATS[args.depth],
        quality=args.quality,
        compress_level=args.compress,
        **kwargs,  # type: ignore[arg-type]
    )


def cmd_capture(args: argparse.Namespace) -> int:
    from .capture import capture
    from .png import write_png

    try:
        address = parse_address(args.address)
    except AddressError as exc:
        raise UsageError(str(exc)) from None
    options = client_options(args)
    shot = capture(address, options, args.timeout)
    h, w = shot.pixels.shape[:2]
    if w == 0 or h == 0:
        raise UsageError("the server's desktop is empty (0 pixels); nothing to write")
    try:
        write_png(args.output, shot.pixels)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    print(
        f"captured {w}x{h} {shot.name!r} in {shot.seconds:.2f} s "
        f"(encodings: {', '.join(shot.encoding_names())}) -> {args.output}",
        file=sys.stderr,
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vncwall", description="Many live VNC sessions on a rotating prism.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    cap = sub.add_parser("capture", help="write one full frame of a server as PNG")
    cap.add_argument("address", help="host[:display], host::port, [v6]:N, vnc://host:port, "
                     "unix:/path")
    cap.add_argument("output", type=Path, help="PNG file to write")
    add_client_options(cap)
    cap.set_defaults(func=cmd_capture)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; never lets a traceback reach the user (unless VNCWALL_DEBUG=1)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
        if func is None:
            raise UsageError("a command is required (try: vncwall --help)")
        return func(args)
    except UsageError as exc:
        print(f"vncwall: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except VncError as exc:
        print(f"vncwall: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vncwall: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user, the details on demand
        if os.environ.get("VNCWALL_DEBUG"):
            traceback.print_exc()
        print(f"vncwall: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
