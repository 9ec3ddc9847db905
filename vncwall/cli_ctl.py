"""`vncwall ctl` and the wall's side of it: the control socket and the metrics endpoint."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .control import ControlError, ControlServer, call, default_socket_path

if TYPE_CHECKING:
    from .wall import Wall

log = logging.getLogger("vncwall")
EXIT_CANNOT_CONNECT = 3


def add_ctl(sub: Any) -> None:
    from .commands import COMMANDS

    ctl = sub.add_parser("ctl", help="steer a running wall over its control socket")
    ctl.add_argument("--socket", type=Path, metavar="PATH",
                     help="the wall's control socket (default "
                     "$XDG_RUNTIME_DIR/vncwall/control.sock)")
    ctl.add_argument("action", choices=COMMANDS, metavar="COMMAND",
                     help="show NAME|INDEX, next, prev, pause, resume, layout prism|grid, "
                     "zoom [on|off], status, reload, snapshot OUT.png")
    ctl.add_argument("args", nargs="*", help="the command's arguments")
    ctl.set_defaults(func=cmd_ctl)


def cmd_ctl(args: argparse.Namespace) -> int:
    """Send one command; print the wall's JSON reply on stdout, or one line on stderr."""
    from .cli import UsageError

    path = args.socket or default_socket_path()
    values = list(args.args)
    if args.action == "snapshot" and len(values) == 1:
        values[0] = str(Path(values[0]).resolve())  # the wall may run elsewhere
    try:
        reply = call(path, args.action, values)
    except ControlError as exc:
        print(f"vncwall: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CONNECT
    if not reply.get("ok"):
        code = reply.get("exit", 1)
        message = str(reply.get("error", "the wall refused the command"))
        if code == 2:
            raise UsageError(message)
        print(f"vncwall: {message}", file=sys.stderr)
        return int(code) if isinstance(code, int) else 1
    print(json.dumps(reply.get("result")))
    return 0


def attach_control(wall: Wall, args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """Open the control socket (default path unless --no-control) and serve it each frame."""
    from .cli import UsageError
    from .commands import serve

    if getattr(args, "no_control", False):
        return
    chosen: Path | None = getattr(args, "control", None)
    try:
        server = ControlServer(chosen or default_socket_path())
    except ControlError as exc:
        if chosen is not None:
            raise UsageError(f"--control: {exc}") from None
        log.warning("no control socket: %s", exc)
        return
    stack.callback(server.close)

    def tick(w: Wall, now: float) -> None:
        serve(server, w, now)

    wall.tickers.append(tick)


def attach_metrics(wall: Wall, args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """Serve Prometheus metrics for the wall with --metrics [HOST:]PORT."""
    from .cli import UsageError

    where = getattr(args, "metrics", None)
    if where is None:
        return
    from .metrics import Metrics, MetricsError, parse_metrics_address

    try:
        host, port = parse_metrics_address(where)
        metrics = Metrics(host, port)
    except MetricsError as exc:
        raise UsageError(f"--metrics: {exc}") from None
    stack.callback(metrics.close)
    shown = f"[{host}]" if ":" in host else host
    print(f"vncwall: metrics on http://{shown}:{metrics.port}/metrics", file=sys.stderr)
    wall.tickers.append(metrics.tick)
