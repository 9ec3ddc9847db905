"""CPU and time `vncwall capture` spends on the work-amplification servers.

Runs each case of tests/evil_server.py that makes a cheap stream cost whole-screen
work (4096x4096 desktops) against `python -m vncwall capture --timeout 8`, killed
after 30 s, and prints its exit code, seconds, CPU seconds and message. Run it from
the repository root; `--tree DIR` measures another checkout's vncwall (before/after).

    python tools/amplification.py [--tree DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.evil_server import CASES, EvilServer

AMPLIFYING = ["copyrect-amplification", "rre-fill-amplification", "desktop-size-flips",
              "rre-overlapping-subrects", "unasked-update-chain"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(args.tree.resolve()))
    for name in AMPLIFYING:
        with EvilServer(CASES[name].script) as server:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.monotonic()
            result = subprocess.run(
                ["timeout", "30", sys.executable, "-m", "vncwall", "capture", server.address,
                 "/dev/null", "--timeout", "8"],
                capture_output=True, text=True, env=env, cwd="/", check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        print(f"{name}: exit {result.returncode} in {time.monotonic() - start:.2f} s, "
              f"CPU {cpu:.2f} s  {result.stderr.strip()[:100]}")


if __name__ == "__main__":
    main()
