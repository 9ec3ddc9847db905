"""Decode CPU time of vncwall against TigerVNC's decperf on the same recordings, as a table.

    python tools/decperf_compare.py --decperf PATH/TO/decperf [--runs 9] recordings/*.rfb.gz

decperf is TigerVNC's tests/perf/decperf (built from the tigervnc source package). Rounds
alternate decperf, vncwall with the C accelerator and vncwall in pure Python, so machine
load hits all three alike; the table gives the best and the median CPU seconds of each.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vncwall import bench
from vncwall.net.decoders import accel

CPU = re.compile(r"CPU time:\s*([0-9.]+)")


def decperf_seconds(decperf: str, path: Path) -> float:
    out = subprocess.run([decperf, str(path)], capture_output=True, text=True, check=True)
    m = CPU.search(out.stdout + out.stderr)
    if m is None:
        raise SystemExit(f"decperf printed no CPU time for {path}")
    return float(m.group(1))


def vncwall_seconds(stream: bytes, pure: bool) -> float:
    before = accel.set_pure(pure)
    try:
        return bench.decode_stream(stream)[0].cpu_s
    finally:
        accel.set_pure(before)


def spread(xs: list[float]) -> str:
    return f"{min(xs):.3f} / {statistics.median(xs):.3f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--decperf", required=True, help="path of TigerVNC's decperf binary")
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--pure-runs", type=int, default=3, help="rounds of the pure-Python path")
    p.add_argument("files", nargs="+", type=Path)
    args = p.parse_args()
    if not accel.available():
        print("note: the C accelerator is not built; 'compiled' is pure Python", file=sys.stderr)
    print("| file | vncwall C (best / median s) | pure Python | decperf | ratio best (median) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.files:
            stream = bench.load(path)
            raw = Path(tmp) / path.name.removesuffix(".gz")
            raw.write_bytes(stream)
            vncwall_seconds(stream, pure=False)  # warm-up
            ours: list[float] = []
            pure: list[float] = []
            theirs: list[float] = []
            for i in range(args.runs):
                theirs.append(decperf_seconds(args.decperf, raw))
                ours.append(vncwall_seconds(stream, pure=False))
                if i < args.pure_runs:
                    pure.append(vncwall_seconds(stream, pure=True))
            best = min(ours) / min(theirs)
            med = statistics.median(ours) / statistics.median(theirs)
            print(f"| {path.name.removesuffix('.rfb.gz')} | {spread(ours)} | "
                  f"{spread(pure) if pure else '-'} | {spread(theirs)} | "
                  f"{best:.2f}x ({med:.2f}x) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
