"""Measure input latency: a key or pointer event handed to a live session until the server has it.

Usage: python tools/input_latency.py [--events N]
Runs a demo server and a wall session in this process; for each event, times the path
session.send_key/send_pointer -> worker thread -> socket -> server's recorded input.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vncwall.config import SessionConfig
from vncwall.demo.server import DemoServer
from vncwall.net.address import parse_address
from vncwall.session import Session


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=300)
    args = p.parse_args()
    with DemoServer(0, 640, 400) as server:
        session = Session(SessionConfig(name="lat", address=parse_address(server.address)))
        session.start()
        try:
            deadline = time.monotonic() + 10
            while not session.status().first_frame:
                if time.monotonic() > deadline:
                    print("session never went live", file=sys.stderr)
                    return 1
                time.sleep(0.01)
            keys: list[float] = []
            pointer: list[float] = []
            for i in range(args.events):
                before = len(server.keys)
                t0 = time.perf_counter()
                session.send_key(i % 2 == 0, 0x61)
                while len(server.keys) == before:
                    time.sleep(0.0001)
                keys.append(time.perf_counter() - t0)
                x = 10 + i % 300
                t0 = time.perf_counter()
                session.send_pointer(0, x, 20)
                while server.last_pointer is None or server.last_pointer[0] != x:
                    time.sleep(0.0001)
                pointer.append(time.perf_counter() - t0)
        finally:
            session.stop()
    for name, xs in (("key", keys), ("pointer", pointer)):
        xs.sort()
        print(f"{name}: median {1000 * statistics.median(xs):.2f} ms, "
              f"p95 {1000 * xs[int(0.95 * len(xs))]:.2f} ms, max {1000 * xs[-1]:.2f} ms "
              f"over {len(xs)} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
