"""Replay benchmark: every recorded real session of ../shared/vectors, both directions.

(a) Rebuilding the sessions from the vector collection (12,000 rows).
(b) The real cars into v2gkit's SECC, each session behind its own SECCLink on ::1 (loopback TCP).
(c) The real chargers' answers driving v2gkit's EVCC through SDP, TCP and the handshake.
Prints the median of ``--repeat`` runs: wall time, and per request sent.

Run: ``./run bench replay`` or ``.venv/bin/python benchmarks/replay_bench.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from v2gkit.testsys.captures import default_vectors, load_sessions
from v2gkit.testsys.replay_cars import replay_cars
from v2gkit.testsys.replay_chargers import replay_chargers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--vectors", type=Path, default=default_vectors())
    args = ap.parse_args()
    rebuild, cars, chargers = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        sessions = load_sessions(args.vectors)
        rebuild.append(time.perf_counter() - t)
        t = time.perf_counter()
        rc = asyncio.run(replay_cars(sessions))
        cars.append((time.perf_counter() - t, sum(r.sent for r in rc), len(rc)))
        t = time.perf_counter()
        rg = asyncio.run(replay_chargers(sessions))
        chargers.append((time.perf_counter() - t, sum(r.sent for r in rg), len(rg)))
    print(f"rebuild: {len(sessions)} sessions from {args.vectors}: {statistics.median(rebuild) * 1e3:.0f} ms median")
    for name, runs in (("cars -> SECC", cars), ("chargers -> EVCC", chargers)):
        wall = statistics.median(r[0] for r in runs)
        sent, n = runs[0][1], runs[0][2]
        print(f"{name}: {n} sessions, {sent} requests: {wall:.2f} s median, {wall / sent * 1e6:.0f} us per request, "
              f"{wall / n * 1e3:.1f} ms per session")


if __name__ == "__main__":
    main()
