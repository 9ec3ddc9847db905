"""Command line: `vncwall capture` and friends; one line on stderr, documented exit codes.

Exit codes: 0 success; 1 internal error; 2 usage or config error; 3 cannot connect
(refused, unreachable, timed out, connection lost); 4 authentication failed;
5 protocol error or nothing in common with the server; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from .config import Config, ConfigError, load_config, loose_password_files
from .net.address import AddressError, parse_address
from .net.client import ClientOptions
from .net.constants import ENCODING_NAMES, Encoding
from .net.errors import ProtocolError, VncError, server_text
from .net.pixelformat import DEPTH_FORMATS
from .net.security import METHOD_NAMES, Credentials, parse_method, parse_methods
from .trust import TrustStore, default_known_hosts, parse_fingerprint

if TYPE_CHECKING:
    from .wall import Wall

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


def int_in(lo: int, hi: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer from lo to hi, with a one-line error naming `what`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be {lo}-{hi}, not {value}")
        return value

    return parse


_level = int_in(0, 9, "the level")


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
    p.add_argument("--security", help="comma-separated security types, preferred first: "
                   + ",".join(METHOD_NAMES) + " (default: all, strongest first)")
    p.add_argument("--min-security", help="refuse security types weaker than this one")
    p.add_argument("--username", help="user name for Plain, DH and RSA-AES logins")
    p.add_argument("--ca-file", type=Path, help="CA certificates (PEM) for X509 servers "
                   "(default: the system store)")
    p.add_argument("--pin", action="append", default=[], metavar="SHA256",
                   help="accept the server certificate or key with this SHA-256 fingerprint")
    p.add_argument("--trust-on-first-use", action="store_true",
                   help="accept an unknown certificate or key once and remember it")
    p.add_argument("--known-hosts", type=Path, help="known-hosts file (default: "
                   "~/.config/vncwall/known_hosts)")
    p.add_argument("--client-cert", type=Path, help="client certificate (PEM) for X509 types")
    p.add_argument("--client-key", type=Path, help="key of --client-cert (PEM)")
    p.add_argument("--allow-insecure-plain", action="store_true",
                   help="allow VeNCrypt Plain (password in clear) outside TLS")


def _trust(args: argparse.Namespace) -> TrustStore | None:
    try:
        address = parse_address(args.address)
    except (AddressError, AttributeError, TypeError):
        return None
    try:
        pins = tuple(parse_fingerprint(p) for p in args.pin)
    except ValueError as exc:
        raise UsageError(f"--pin: {exc}") from None
    if args.client_key is not None and args.client_cert is None:
        raise UsageError("--client-key needs --client-cert")
    return TrustStore(
        host=address.host, port=address.port, pins=pins, ca_file=args.ca_file,
        trust_on_first_use=args.trust_on_first_use,
        known_hosts=args.known_hosts or default_known_hosts(),
        client_cert=args.client_cert, client_key=args.client_key, unix_path=address.unix_path,
        name=address.trust_key(getattr(args, "via", None)),
    )


def client_options(args: argparse.Namespace) -> ClientOptions:
    kwargs: dict[str, object] = {}
    if args.encodings is not None:
        kwargs["encodings"] = parse_encodings(args.encodings)
    try:
        if args.security is not None:
            kwargs["security"] = parse_methods(n for n in args.security.split(",") if n.strip())
        if args.min_security is not None:
            kwargs["minimum_security"] = parse_method(args.min_security)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return ClientOptions(
        credentials=Credentials(password=read_password(args.password_file),
                                username=args.username),
        allow_insecure_plain=args.allow_insecure_plain,
        trust=_trust(args),
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
    if args.via is not None:
        from .tunnel import TunnelError, parse_gateway

        try:
            parse_gateway(args.via)
        except TunnelError as exc:
            raise UsageError(str(exc)) from None
    options = client_options(args)
    shot = capture(address, options, args.timeout, via=args.via)
    h, w = shot.pixels.shape[:2]
    if w == 0 or h == 0:
        raise ProtocolError(f"the server's desktop is empty ({w}x{h}); nothing to write")
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


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT") from None
    if not (16 <= w <= 16384 and 16 <= h <= 16384):
        raise argparse.ArgumentTypeError(f"{text!r} is outside 16x16..16384x16384")
    return (w, h)


def _load(path: str, require_sessions: bool = True) -> Config:
    try:
        cfg = load_config(path, require_sessions)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for loose in loose_password_files(cfg):
        print(f"vncwall: warning: {loose} is readable by other users", file=sys.stderr)
    return cfg


def _kiosk(wall: Wall, args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """Attach --listen, --status-json, --control and --metrics to a wall (closed with
    `stack`)."""
    from .cli_ctl import attach_control, attach_metrics

    attach_control(wall, args, stack)
    attach_metrics(wall, args, stack)
    status_path = getattr(args, "status_json", None)
    if status_path is not None and not status_path.parent.is_dir():
        raise UsageError(f"--status-json: no directory {status_path.parent}")
    listen = getattr(args, "listen", None)
    if listen is not None:
        from .listen import Listener, ListenError, parse_listen

        try:
            host, port = parse_listen(listen)
            listener = stack.enter_context(Listener(host, port, wall.config.listen,
                                                    wall.config.wall.connect_timeout))
        except ListenError as exc:
            raise UsageError(f"--listen: {exc}") from None
        where = f"[{host}]" if ":" in host else host or "*"
        print(f"vncwall: listening for reverse connections on {where}:{listener.port}",
              file=sys.stderr)

        def adopt(w: Wall, now: float) -> None:
            for session in listener.take():
                w.add_session(session)

        wall.tickers.append(adopt)
        wall.listening = True
    if status_path is not None:
        from .status_json import StatusWriter

        writer = StatusWriter(status_path)

        def write_status(w: Wall, now: float) -> None:
            writer.update(w.sessions, w.frames, w.front, now)

        wall.tickers.append(write_status)


def _view_options(p: argparse.ArgumentParser) -> None:
    from .config import LAYOUTS

    p.add_argument("--layout", choices=LAYOUTS, help="prism or grid (default: the config's)")
    p.add_argument("--hud", action="store_true", default=None,
                   help="show the status HUD at start (Ctrl+Alt+H toggles it)")
    p.add_argument("--display", type=int_in(0, 63, "the display"),
                   help="monitor for the window (default: the config's)")


def _with_view(cfg: Config, args: argparse.Namespace) -> Config:
    """The config with the command line's --layout, --hud and --display applied."""
    changes = {k: v for k in ("layout", "hud", "display")
               if (v := getattr(args, k, None)) is not None}
    if not changes:
        return cfg
    return dataclasses.replace(cfg, wall=dataclasses.replace(cfg.wall, **changes))


def cmd_run(args: argparse.Namespace) -> int:
    from .config import WallConfig
    from .wall import Wall, WindowError

    listen = getattr(args, "listen", None)
    if args.config is not None:
        cfg = _load(args.config, require_sessions=listen is None)
    elif listen is not None:
        cfg = Config(WallConfig())
    else:
        raise UsageError("run needs --config FILE (or --listen [HOST:]PORT)")
    fullscreen = False if args.window else None
    cfg = _with_view(cfg, args)
    with contextlib.ExitStack() as stack:
        wall = Wall(cfg)
        if args.config is not None:
            wall.config_loader = _reloader(args.config, args)
        _kiosk(wall, args, stack)
        _signals(wall, stack)
        try:
            stats = wall.run(size=args.size, fullscreen=fullscreen, duration=args.duration)
        except WindowError as exc:
            raise UsageError(str(exc)) from None
    if args.duration is not None:
        print(f"vncwall: {stats.line()}", file=sys.stderr)
    return EXIT_OK


def _reloader(path: str, args: argparse.Namespace) -> Callable[[], Config]:
    """Reads the config file again for a live reload, with the command line's view options."""

    def load() -> Config:
        cfg = load_config(path, require_sessions=False)
        for loose in loose_password_files(cfg):
            logging.getLogger("vncwall").warning("%s is readable by other users", loose)
        return _with_view(cfg, args)

    return load


def _signals(wall: Wall, stack: contextlib.ExitStack) -> None:
    """SIGHUP reloads the config, SIGTERM ends the wall cleanly (systemd's stop)."""
    import signal

    def hup(signum: int, frame: object) -> None:
        wall.reload_requested = True

    def term(signum: int, frame: object) -> None:
        wall.quit_requested = True

    for sig, handler in ((signal.SIGHUP, hup), (signal.SIGTERM, term)):
        old = signal.signal(sig, handler)
        stack.callback(signal.signal, sig, old)


def cmd_snapshot(args: argparse.Namespace) -> int:
    from .png import write_png
    from .wall import Wall, WindowError

    cfg = _with_view(_load(args.config), args)
    try:
        image = Wall(cfg).snapshot(args.size, args.angle, args.timeout)
    except WindowError as exc:
        raise UsageError(str(exc)) from None
    try:
        write_png(args.output, image)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"wrote {args.size[0]}x{args.size[1]} snapshot -> {args.output}", file=sys.stderr)
    return EXIT_OK


def demo_config(addresses: list[str], names: list[str], fullscreen: bool) -> Config:
    """A wall config for the built-in demo servers."""
    from .config import SessionConfig, WallConfig
    from .net.address import parse_address

    sessions = tuple(
        SessionConfig(name=n, address=parse_address(a)) for n, a in zip(names, addresses,
                                                                        strict=True)
    )
    return Config(WallConfig(opacity=0.55, fullscreen=fullscreen, background=(0.02, 0.03, 0.06)),
                  sessions)


def cmd_demo(args: argparse.Namespace) -> int:
    from .bench_render import demo_servers
    from .wall import Wall, WindowError

    with contextlib.ExitStack() as stack:
        # In a child process: with its own GIL the servers do not slow the wall's drawing.
        addresses = stack.enter_context(demo_servers(args.sides, (1280, 800), 30.0))
        cfg = demo_config(addresses, [f"demo-{i + 1}" for i in range(args.sides)],
                          not args.window)
        wall = Wall(_with_view(cfg, args))
        _kiosk(wall, args, stack)
        _signals(wall, stack)
        try:
            if args.snapshot is not None:
                from .png import write_png

                write_png(args.snapshot, wall.snapshot(args.size or (1280, 800), args.angle,
                                                       timeout=20.0))
                print(f"wrote demo snapshot -> {args.snapshot}", file=sys.stderr)
            else:
                print(f"vncwall: demo with {args.sides} sessions; Ctrl+Alt+PageDown/PageUp "
                      "turns, Ctrl+Alt+Q quits", file=sys.stderr)
                stats = wall.run(size=args.size, fullscreen=not args.window,
                                 duration=args.duration)
                if args.duration is not None:
                    print(f"vncwall: {stats.line()}", file=sys.stderr)
        except WindowError as exc:
            raise UsageError(str(exc)) from None
    return EXIT_OK


LOG_LEVELS = ("debug", "info", "warning", "error")


def _service_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--control", type=Path, metavar="PATH",
                   help="control socket for `vncwall ctl` (default "
                   "$XDG_RUNTIME_DIR/vncwall/control.sock)")
    p.add_argument("--no-control", action="store_true", help="no control socket")
    p.add_argument("--metrics", metavar="[HOST:]PORT",
                   help="serve Prometheus metrics here (host default 127.0.0.1)")
    p.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                   help="what the wall logs to stderr (default warning)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="vncwall", description="Many live VNC sessions on a rotating prism.")
    parser.add_argument("--version", action="version", version=f"vncwall {__version__}")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=None,
                        help="what the wall logs to stderr (default warning)")
    parser.add_argument("--config", help="wall config file (same as: vncwall run --config F)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = sub.add_parser("run", help="show the wall (fullscreen unless --window)")
    run.add_argument("--config", help="wall config file (TOML); optional with --listen")
    run.add_argument("--window", action="store_true", help="a window instead of fullscreen")
    run.add_argument("--size", type=_size, help="window size WxH (default: config's size)")
    run.add_argument("--duration", type=_seconds, help="quit after this many seconds and "
                     "print the frame rate and CPU used")
    run.add_argument("--listen", nargs="?", const="5500", metavar="[HOST:]PORT",
                     help="accept servers that connect in (x11vnc -connect), each as a new "
                     "face (default port 5500, every interface)")
    run.add_argument("--status-json", type=Path, metavar="PATH",
                     help="keep a JSON file with every session's state up to date")
    _view_options(run)
    _service_options(run)
    run.set_defaults(func=cmd_run)
    snap = sub.add_parser("snapshot", help="render one frame of the wall to PNG")
    snap.add_argument("--config", required=True, help="wall config file (TOML)")
    snap.add_argument("output", type=Path, help="PNG file to write")
    snap.add_argument("--size", type=_size, default=(1280, 800), help="WxH (default 1280x800)")
    snap.add_argument("--angle", type=float, default=0.0,
                      help="prism rotation in degrees; 0 = first session in front")
    snap.add_argument("--timeout", type=_seconds, default=10.0,
                      help="seconds to wait for every session's first frame (default 10)")
    _view_options(snap)
    snap.set_defaults(func=cmd_snapshot)
    demo = sub.add_parser("demo", help="built-in demo servers on a spinning wall (no setup)")
    demo.add_argument("--sides", type=int_in(1, 64, "the number of sides"), default=6,
                      help="number of sessions (default 6)")
    demo.add_argument("--window", action="store_true", help="a window instead of fullscreen")
    demo.add_argument("--size", type=_size, help="window size WxH")
    demo.add_argument("--snapshot", type=Path, help="write one frame to this PNG and exit")
    demo.add_argument("--angle", type=float, default=0.0, help="with --snapshot: degrees")
    demo.add_argument("--duration", type=_seconds, help="quit after this many seconds and "
                      "print the frame rate and CPU used")
    demo.add_argument("--status-json", type=Path, metavar="PATH",
                      help="keep a JSON file with every session's state up to date")
    _view_options(demo)
    _service_options(demo)
    demo.set_defaults(func=cmd_demo)
    from .cli_ctl import add_ctl
    from .cli_perf import add_commands

    add_commands(sub)
    add_ctl(sub)
    cap = sub.add_parser("capture", help="write one full frame of a server as PNG")
    cap.add_argument("address", help="host[:display], host::port, [v6]:N, vnc://host:port, "
                     "unix:/path, libvirt:///system?domain=NAME")
    cap.add_argument("output", type=Path, help="PNG file to write")
    cap.add_argument("--via", metavar="[USER@]GATEWAY[:PORT]",
                     help="reach the server through this ssh gateway (ssh -W, like vncviewer "
                     "-via; never prompts: uses your ~/.ssh/config, keys and known_hosts)")
    add_client_options(cap)
    cap.set_defaults(func=cmd_capture)
    return parser


def _setup_logging(interactive: bool, chosen: str | None = None) -> None:
    """The wall logs session trouble to stderr; one-shot commands keep to their one line
    (their sessions' states are in their output), unless VNCWALL_DEBUG or --log-level
    says otherwise."""
    level = logging.WARNING if interactive else logging.CRITICAL
    if chosen is not None:
        level = getattr(logging, chosen.upper())
    if os.environ.get("VNCWALL_DEBUG"):
        level = logging.DEBUG
    logging.basicConfig(level=level, format="vncwall: %(message)s", force=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; never lets a traceback reach the user (unless VNCWALL_DEBUG=1)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
        if func is None and args.config is not None:
            args.window, args.size, args.duration, func = False, None, None, cmd_run
        if func is None:
            raise UsageError("a command is required (try: vncwall --help)")
        _setup_logging(interactive=func in (cmd_run, cmd_demo) and not
                       getattr(args, "snapshot", None), chosen=args.log_level)
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
        print(f"vncwall: internal error: {type(exc).__name__}: {server_text(str(exc).encode())}",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
