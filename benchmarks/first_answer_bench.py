"""First-answer benchmark: how long a fresh ``v2gkit secc`` takes to answer its first car's first
CurrentDemandReq (or ChargingStatusReq), with and without the warm-up it runs before listening.

Each run is a new SECC process (``--once``) and a new ``v2gkit evcc`` charging 79 -> 80 % over loopback; the
SECC's session line gives the first, median and largest answer time of the energy loop (request received
to response written). Runs alternate cold/warm so a busy machine hurts both alike. Prints medians and
maxima per mode. V2G_SECC_Msg_Performance_Time for CurrentDemandRes is 25 ms.

Run: ``.venv/bin/python benchmarks/first_answer_bench.py [--runs 10] [--ac]``.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys

CLI = [sys.executable, "-m", "v2gkit.cli.main"]


def one(warm: bool, mode: str) -> dict[str, float]:
    port = str(random.randrange(20000, 30000))
    secc = subprocess.Popen(CLI + ["secc", "--loopback", "--sdp-port", port, "--once", mode,
                                   "--warm-up" if warm else "--no-warm-up"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert secc.stdout is not None
        listening = secc.stdout.readline()
        subprocess.run(CLI + ["evcc", "--loopback", "--sdp-port", port, mode, "--soc", "79",
                              "--target-soc", "80", "--json"], capture_output=True, text=True, timeout=120, check=True)
        out, _ = secc.communicate(timeout=30)
    finally:
        secc.kill()
    line = next(x for x in out.splitlines() if x.startswith("session "))
    values = {k: float(v) for k, v in re.findall(r"(\w+)_answer_\w+=([0-9.]+) ms", line)}
    m = re.search(r"warm_up_ms=(\d+)", listening)
    values["warm_up_ms"] = float(m.group(1)) if m else 0.0
    return values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="sessions per mode")
    ap.add_argument("--ac", action="store_true", help="AC (ChargingStatus) instead of DC (CurrentDemand)")
    args = ap.parse_args()
    mode = "--ac" if args.ac else "--dc"
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(args.runs):
        for warm in (False, True):
            results[warm].append(one(warm, mode))
    loop = "ChargingStatusRes" if args.ac else "CurrentDemandRes"
    print(f"{loop} answer times of a fresh SECC, {args.runs} sessions each (ms; performance time 25 ms)")
    print(f"{'':>10} {'first p50':>10} {'first max':>10} {'median p50':>11} {'max p50':>8} {'max max':>8} "
          f"{'warm-up':>8}")
    for warm in (False, True):
        r = results[warm]
        first, med, mx = [x["first"] for x in r], [x["median"] for x in r], [x["max"] for x in r]
        print(f"{'warmed' if warm else 'cold':>10} {statistics.median(first):10.3f} {max(first):10.3f} "
              f"{statistics.median(med):11.3f} {statistics.median(mx):8.3f} {max(mx):8.3f} "
              f"{statistics.median(x['warm_up_ms'] for x in r):7.0f}ms")


if __name__ == "__main__":
    main()
