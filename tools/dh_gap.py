"""How long a Diffie-Hellman login's arithmetic stops other threads (the render thread).

Runs the two modular exponentiations of a type-30 login on the main thread while a
second thread wakes every millisecond, and prints the time taken and the longest the
second thread waited: Python's `pow` with a full-size exponent (before), and
vncwall's `mod_exp` with its 512-bit exponent (now), at 4096 and 8192 bits.

    python tools/dh_gap.py
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from vncwall.net.dh_auth import PRIVATE_BITS
from vncwall.net.modexp import mod_exp


def gap(work: Callable[[], object]) -> tuple[float, float]:
    """(seconds `work` took, longest pause a 1 ms ticker thread saw meanwhile)."""
    stop = threading.Event()
    worst = [0.0]

    def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            worst[0] = max(worst[0], now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.05)
    start = time.perf_counter()
    work()
    took = time.perf_counter() - start
    time.sleep(0.02)
    stop.set()
    ticker.join()
    return took, worst[0]


def main() -> None:
    for bits in (4096, 8192):
        prime = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        full = secrets.randbelow(prime - 3) + 2
        short = secrets.randbits(PRIVATE_BITS) | (1 << (PRIVATE_BITS - 1))
        for name, base_exp in (("pow, full exponent", (pow, full)),
                               ("mod_exp, 512-bit exponent", (mod_exp, short))):
            fn, exponent = base_exp
            took, longest = gap(lambda f=fn, e=exponent, p=prime: (f(2, e, p), f(3, e, p)))
            print(f"{bits}-bit modulus, {name}: {took:.3f} s, longest pause {longest:.3f} s")


if __name__ == "__main__":
    main()
