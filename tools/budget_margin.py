"""How close real servers' streams come to the work budget (vncwall/net/budget.py).

Decodes recordings (`vncwall record` files, gzipped or not) as a session would and
prints, per file, the updates, the pixel writes per byte received, and the lowest
balance the budget reached as a fraction of its reserve, twice: with every update
answering a request (as in a session) and with none asked for (as `vncwall bench`
replays them, earning credit from bytes alone). A stream the budget would cut off
says so.

    python tools/budget_margin.py recordings/*.rfb.gz
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vncwall.bench import _HANDSHAKE, _OPTIONS, CHUNK, load
from vncwall.net import events as ev
from vncwall.net.client import RFBClient
from vncwall.net.errors import ProtocolError


def margin(stream: bytes, asked: bool) -> tuple[int, int, float, str]:
    """(updates, pixel writes, lowest balance / reserve, error or '') for one replay."""
    client = RFBClient(_OPTIONS)
    client.receive_data(_HANDSHAKE)
    updates = 0
    error = ""
    try:
        for pos in range(0, len(stream), CHUNK):
            if asked:  # as if a request were outstanding for every update to come
                client.flow._requests.extend([0.0] * 4)
            client.receive_data(stream[pos : pos + CHUNK])
            while (event := client.next_event()) is not None:
                updates += isinstance(event, ev.UpdateEnd)
    except ProtocolError as exc:
        error = str(exc)
    return updates, client.budget.spent, client.budget.lowest, error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    print(f"{'recording':<22} {'updates':>7} {'px/byte':>8} {'lowest (asked)':>15} "
          f"{'lowest (unasked)':>17}")
    worst = 1.0
    for path in args.files:
        data = load(path)
        n, spent, low_asked, err_asked = margin(data, asked=True)
        _, _, low_unasked, err_unasked = margin(data, asked=False)
        worst = min(worst, low_asked)
        print(f"{path.name:<22} {n:>7} {spent / max(1, len(data)):>8.2f} "
              f"{low_asked:>15.2f} {low_unasked:>17.2f}")
        for err in (err_asked, err_unasked):
            if err:
                print(f"  cut off: {err}")
    print(f"lowest balance with requests: {worst:.2f} of the reserve")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
