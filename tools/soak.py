"""Soak: six sessions streaming from demo servers; RSS, threads and fds must not grow."""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vncwall.config import SessionConfig
from vncwall.demo.server import DemoServer
from vncwall.net.address import parse_address
from vncwall.session import Session, State


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def sample() -> tuple[float, int, int]:
    return rss_mib(), threading.active_count(), fds()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=60.0, help="measured run (after warm-up)")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--sessions", type=int, default=6)
    p.add_argument("--churn", type=float, default=4.0,
                   help="restart one server every this many seconds (0: never)")
    p.add_argument("--max-rss-growth", type=float, default=40.0, help="MiB")
    args = p.parse_args(argv)

    rng = random.Random(1)
    servers = [DemoServer(i, 320, 200, fps=30) for i in range(args.sessions)]
    sessions = [Session(SessionConfig(name=f"soak-{i}", address=parse_address(s.address)),
                        reconnect_cap=1.0, timeout=3.0) for i, s in enumerate(servers)]
    for s in sessions:
        s.start()
    try:
        time.sleep(args.warmup)
        base = sample()
        worst = base
        start = time.monotonic()
        next_churn = start + args.churn if args.churn else float("inf")
        restarts = 0
        updates0 = sum(s.status().updates for s in sessions)
        while time.monotonic() - start < args.seconds:
            time.sleep(0.5)
            if time.monotonic() >= next_churn:
                i = rng.randrange(len(servers))
                port, index = servers[i].port, i
                servers[i].close()
                time.sleep(0.2)
                servers[i] = DemoServer(index, 320, 200, port=port, fps=30)
                restarts += 1
                next_churn = time.monotonic() + args.churn
            now = sample()
            worst = (max(worst[0], now[0]), max(worst[1], now[1]), max(worst[2], now[2]))
        # Let every session come back before the final reading.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(
                s.status().state is State.LIVE for s in sessions):
            time.sleep(0.1)
        time.sleep(1.0)
        end = sample()
        updates = sum(s.status().updates for s in sessions) - updates0
        live = sum(s.status().state is State.LIVE for s in sessions)
    finally:
        for s in sessions:
            s._stop.set()
        for s in sessions:
            s.stop()
        for srv in servers:
            srv.close()
    print(f"soak: {args.sessions} sessions, {args.seconds:g} s, {restarts} server restarts, "
          f"{updates} updates ({updates / args.seconds:.0f}/s), {live} live at the end")
    print(f"soak: RSS {base[0]:.1f} -> {end[0]:.1f} MiB (peak {worst[0]:.1f}); "
          f"threads {base[1]} -> {end[1]} (peak {worst[1]}); fds {base[2]} -> {end[2]} "
          f"(peak {worst[2]})")
    problems = []
    if end[0] - base[0] > args.max_rss_growth:
        problems.append(f"RSS grew {end[0] - base[0]:.1f} MiB")
    if end[1] > base[1]:
        problems.append(f"threads grew {base[1]} -> {end[1]}")
    if end[2] > base[2]:
        problems.append(f"file descriptors grew {base[2]} -> {end[2]}")
    if live < len(sessions) or updates <= 0:
        problems.append(f"only {live} of {len(sessions)} sessions live, {updates} updates")
    for problem in problems:
        print(f"soak: FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
