"""Abuse benchmark: one ``v2gkit secc --loopback`` process (default limits) against every attack of
:mod:`v2gkit.testsys.abuse` in turn, then 100,000 mixed connections and a 30 s SDP flood, while a real
``v2gkit evcc`` process charges again and again.

Per phase it prints what the attack did, how the car sessions went (all must end with SessionStop OK;
their median and worst session time, their worst set-up time) and the SECC's RSS and open file
descriptors once the attack is over. At the end: the SECC's RSS after the long phases against the level
after the warm-up (target: within 10 MB) and how many lines its log got.

Run: ``./run bench abuse`` or ``.venv/bin/python benchmarks/abuse_bench.py [--phase 10] [--connections
100000] [--flood 30] [--references 18000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time

from v2gkit.testsys.abuse import ATTACKS, Phase, SeccProcess, car_session, run_phase, settle

#: empty xmldsig References in the oversized SessionSetupReq: 18,000 make 63 KB, which the quadratic codec
#: of before issue 8 took ~1.2 s to decode (2,000, 7 KB: ~12 ms)
DEFAULT_REFERENCES = 18_000


def row(name: str, ph: Phase, warm_rss: float) -> str:
    a = ph.attack
    volume = f"{a.datagrams:,} dgrams" if a.datagrams else f"{a.connections:,} conns"
    ok = sum(c.ok for c in ph.cars)
    secs = [c.session_seconds for c in ph.cars if c.ok] or [0.0]
    setup = max((c.setup_ms for c in ph.cars), default=0.0)
    extra = f" +{a.sessions} in-process sessions ({a.sessions_failed} failed)" if a.sessions else ""
    return (f"{name:<21} {ph.seconds:>6.1f} {volume:>16} {a.closed_by_secc:>9,} {ok:>3}/{len(ph.cars):<3} "
            f"{statistics.median(secs):>7.2f} {max(secs):>7.2f} {setup:>8.1f} {ph.rss_mb:>7.1f} "
            f"{ph.rss_mb - warm_rss:>+6.1f} {ph.fds:>4}{extra}")


HEADER = (f"{'attack':<21} {'secs':>6} {'volume':>16} {'closed':>9} {'cars':>7} {'med s':>7} {'max s':>7} "
          f"{'setup ms':>8} {'RSS MB':>7} {'dRSS':>6} {'fds':>4}")


async def main(args: argparse.Namespace) -> int:
    secc = SeccProcess(random.randrange(20000, 30000)).start()
    rng = random.Random(15118)
    failures = 0
    try:
        base = [await car_session(secc.sdp_port) for _ in range(3)]
        if not all(c.ok for c in base):
            print(f"the car does not charge even without attack: {[c.reason for c in base]}", file=sys.stderr)
            return 1
        print(f"SECC pid {secc.proc.pid if secc.proc else '?'}; car alone: session "
              f"{statistics.median(c.session_seconds for c in base):.2f} s, set-up "
              f"{statistics.median(c.setup_ms for c in base):.1f} ms; RSS {secc.rss_mb():.1f} MB, {secc.fds()} fds")
        t = time.perf_counter()
        for name, attack in ATTACKS.items():  # warm-up: each code path once
            kw = {"connections": 5000} if name == "mixed" else {"references": args.references} \
                if name == "oversized" else {}
            await attack(secc.target, 2.0 if name != "mixed" else 5.0, rng, **kw)
        fds = await settle(secc, 0, 2.0)
        warm = secc.rss_mb()
        print(f"after warm-up ({time.perf_counter() - t:.0f} s): RSS {warm:.1f} MB, {fds} fds\n")
        print(HEADER)
        for name in ATTACKS:
            if name == "mixed":
                continue
            kw = {"references": args.references} if name == "oversized" else {}
            ph = await run_phase(secc, name, args.phase, rng, baseline_fds=fds, **kw)
            print(row(name, ph, warm), flush=True)
            failures += sum(not c.ok for c in ph.cars) + (not ph.secc_alive)
        ph = await run_phase(secc, "mixed", args.mixed_seconds, rng, baseline_fds=fds,
                             connections=args.connections)
        print(row("mixed", ph, warm), flush=True)
        failures += sum(not c.ok for c in ph.cars) + ph.attack.sessions_failed + (not ph.secc_alive)
        ph = await run_phase(secc, "sdp_flood", args.flood, rng, baseline_fds=fds, rate=args.flood_rate)
        print(row("sdp_flood", ph, warm), flush=True)
        failures += sum(not c.ok for c in ph.cars) + (not ph.secc_alive)
        end = secc.rss_mb()
        lines = len(secc.output().splitlines())
        print(f"\nSECC after {args.connections:,} mixed connections and a {args.flood:g} s SDP flood: RSS {end:.1f} MB, "
              f"{end - warm:+.1f} MB against the warm-up level (target within 10 MB); {secc.fds()} fds "
              f"({fds} at the start); {lines:,} lines of output in all")
        if end - warm > 10:
            failures += 1
    finally:
        secc.cleanup()
    print("all car sessions served" if not failures else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phase", type=float, default=10.0, help="seconds per attack")
    ap.add_argument("--connections", type=int, default=100_000, help="connections of the mixed phase")
    ap.add_argument("--mixed-seconds", type=float, default=600.0, help="upper bound of the mixed phase")
    ap.add_argument("--flood", type=float, default=30.0, help="seconds of the SDP flood")
    ap.add_argument("--flood-rate", type=float, default=50_000, help="SDP datagrams per second to aim at")
    ap.add_argument("--references", type=int, default=DEFAULT_REFERENCES,
                    help="empty References in the oversized SessionSetupReq (18000: 63 KB)")
    sys.exit(asyncio.run(main(ap.parse_args())))
