"""Lenient encoding benchmark: what ``encode(..., strict=False)`` costs next to strict encoding.

Strict encoding pays nothing for the lenient mode: the generated encoders check each facet as before and call
the lenient code only when a check fails. Encoding leniently sets a context variable per call (a clean message)
and, per value let through, records its bit offset. Printed per message (µs, median of 15 timed loops, the
garbage collector off, pinned to one CPU as exi_bench does): strict, lenient with nothing to let through,
lenient with 3 faults (ISO-2 CurrentDemandReq: EVRESSSOC 101, a multiplier of 4, a 9-octet SessionID).

Run: ``.venv/bin/python benchmarks/lenient_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import sys

from exi_bench import median_us, messages

from v2gkit.exi import encode, encode_lenient
from v2gkit.sim import iso2_dc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="5 runs instead of 15")
    runs = 5 if ap.parse_args().quick else 15
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    print(f"Python {sys.version.split()[0]}; median of {runs} runs (µs)")
    print(f"{'message':56} {'strict':>8} {'lenient':>8} {'x':>5}")
    for label, _schema, msg in messages():
        strict, _ = median_us(lambda: encode(msg), runs)
        lenient, _ = median_us(lambda: encode(msg, strict=False), runs)
        print(f"{label:56} {strict:8.2f} {lenient:8.2f} {lenient / strict:5.2f}")
    bad = iso2_dc.current_demand_req()
    b = bad.body.current_demand_req
    b.dc_ev_status.evresssoc = 101
    b.ev_target_current.multiplier = 4
    bad.header.session_id = bytes(9)
    assert len(encode_lenient(bad).violations) == 3
    ok = iso2_dc.current_demand_req()
    strict, _ = median_us(lambda: encode(ok), runs)
    faulty, _ = median_us(lambda: encode(bad, strict=False), runs)
    print(f"{'ISO-2 CurrentDemandReq, 3 faults let through':56} {strict:8.2f} {faulty:8.2f} {faulty / strict:5.2f}")


if __name__ == "__main__":
    main()
