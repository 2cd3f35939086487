"""The test system's speed: every catalog case against v2gkit's own machines in-process (simulated clock),
per case and for the whole catalog, plus the engine's own overhead (a bare script, a Lua script).

    ./run bench testsys [--repeat 3] [PATTERN ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

from v2gkit.testsys.catalog import scan_catalog, select
from v2gkit.testsys.drive import Setup, run_case, run_self
from v2gkit.testsys.lua import run_source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("patterns", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    def empty(t):
        t.expect("SessionSetupRes")

    for name, fn in (("python: SessionSetup only", empty),
                     ("lua: SessionSetup only", lambda t: run_source(t, "Evcc.Receive_SessionSetupRes_001()"))):
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            run_self(fn, "evcc", Setup("iso2"))
            times.append(time.perf_counter() - t0)
        print(f"{name:32s} median {statistics.median(times) * 1e3:7.2f} ms")

    cases = scan_catalog().cases
    if args.patterns:
        cases = select(cases, args.patterns)
    totals, per_case, verdicts = [], [], {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for c in cases:
            for proto in c.protocols:
                t1 = time.perf_counter()
                r = run_case(c, protocol=proto)
                per_case.append(time.perf_counter() - t1)
                verdicts[r.verdict.value] = verdicts.get(r.verdict.value, 0) + 1
        totals.append(time.perf_counter() - t0)
    if not per_case:
        print("catalog: no cases selected")
        return
    runs = len(per_case) // args.repeat
    print(f"catalog: {len(cases)} cases, {runs} case runs (one per protocol) per round, {args.repeat} rounds")
    print(f"  whole catalog in-process: median {statistics.median(totals):.2f} s")
    per_case.sort()
    print(f"  per case run: median {statistics.median(per_case) * 1e3:.1f} ms, p95 "
          f"{per_case[int(len(per_case) * 0.95) - 1] * 1e3:.1f} ms, max {per_case[-1] * 1e3:.1f} ms")
    print(f"  verdicts over all rounds: {verdicts}")


if __name__ == "__main__":
    main()
