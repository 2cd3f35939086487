"""Session benchmark.

(a) Wall time of one full ISO 15118-2 DC session over loopback TCP with no physical delays (no pauses
    between requests, instant cable check and pre-charge, battery physics x2000).
(b) One SECC process (``v2gkit secc``) serving N concurrent EVCCs in CurrentDemand loops, one request
    every 100 ms per car as real cars do: CurrentDemand round trip p50/p99, messages per second and the
    SECC process's peak RSS. Target: p99 < 25 ms (V2G_SECC_Msg_Performance_Time for CurrentDemandRes)
    and RSS < 100 MB at N = 100.

Run: ``./run bench session`` or ``.venv/bin/python benchmarks/session_bench.py [--n 10 100 500]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

from v2gkit.net.charging import charge, secc_sessions
from v2gkit.net.link import SECCLink
from v2gkit.net.runner import settle_heap
from v2gkit.session.din2 import EVCCConfig, SECCConfig
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import SimulatedDCEVSE
from v2gkit.sim.scaled import Accelerated


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


async def one_session(runs: int) -> list[tuple[float, int]]:
    port = random.randrange(20000, 30000)
    link = SECCLink(loopback=True, sdp_port=port, protocols="iso2",
                    session=secc_sessions(lambda: SimulatedDCEVSE(cable_check_time=0.0, voltage_slew=1e6,
                                                                  current_slew=1e6), SECCConfig()))
    out = []
    async with link:
        for _ in range(runs):
            ev = SimulatedEV(soc=30, target_soc=80)
            t = time.perf_counter()
            res = await charge(Accelerated(ev, 2000.0), EVCCConfig(loop_interval=0.0), protocols="iso2",
                               loopback=True, sdp_port=port)
            out.append((time.perf_counter() - t, res.outcome.sent))
            assert res.ok, res.outcome.detail
    return out


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def fleet(n: int, seconds: float, port: int, secc_pid: int) -> dict[str, float]:
    """N cars charging at once; each stops ``seconds`` after it started its CurrentDemand loop."""
    peak = [rss_mb(secc_pid)]
    rng = random.Random(n)

    async def sample() -> None:
        while True:
            peak.append(rss_mb(secc_pid))
            await asyncio.sleep(0.2)

    async def car(i: int) -> list[float]:
        await asyncio.sleep(rng.uniform(0, 2.0))  # cars arrive at random over 2 s: their loops do not march in step
        ev = SimulatedEV(soc=20, target_soc=95, stop_at=seconds + 5, evcc_id=i.to_bytes(6, "big"))
        cfg = EVCCConfig(loop_interval=0.1, msg_timeouts={"CurrentDemand": 2.0})
        res = await charge(ev, cfg, protocols="iso2", loopback=True, sdp_port=port, sdp_interval=0.25)
        if not res.ok:
            raise RuntimeError(f"car {i}: {res.outcome.detail}")
        return res.outcome.round_trips.get("CurrentDemand", [])

    settle_heap()
    sampler = asyncio.get_running_loop().create_task(sample())
    t = time.perf_counter()
    rtts = await asyncio.gather(*(car(i) for i in range(n)))
    wall = time.perf_counter() - t
    sampler.cancel()
    allr = [x for r in rtts for x in r]
    return {"n": n, "messages": len(allr), "p50_ms": statistics.median(allr) * 1e3, "p99_ms": pct(allr, 0.99) * 1e3,
            "max_ms": max(allr) * 1e3, "msg_per_s": len(allr) / wall, "rss_mb": max(peak), "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="*", default=[10, 100, 500])
    ap.add_argument("--seconds", type=float, default=20.0, help="CurrentDemand loop length per car")
    ap.add_argument("--runs", type=int, default=5, help="runs of the single session")
    args = ap.parse_args()

    runs = asyncio.run(one_session(args.runs))
    walls = [w for w, _ in runs]
    print(f"(a) one full ISO 15118-2 DC session, loopback TCP, no physical delays, {runs[0][1]} requests: "
          f"median {statistics.median(walls) * 1e3:.0f} ms wall (min {min(walls) * 1e3:.0f}, "
          f"{runs[0][1] / statistics.median(walls):.0f} requests/s)")

    print("(b) one SECC process, N EVCCs in CurrentDemand loops (one request per car every 100 ms)")
    print(f"{'N':>5} {'messages':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'msg/s':>8} {'SECC RSS MB':>12}")
    for n in args.n:
        port = random.randrange(20000, 30000)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # a file: a pipe nobody reads would block the SECC
        limit = str(n + 16)  # every car comes from ::1: lift the per-address limit
        secc = subprocess.Popen([sys.executable, "-m", "v2gkit.cli.main", "secc", "--loopback", "--sdp-port",
                                 str(port), "--protocols", "iso2", "--max-connections", limit, "--max-per-peer", limit],
                                stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            deadline = time.monotonic() + 20
            while "listening" not in open(log.name).read():
                if time.monotonic() > deadline or secc.poll() is not None:
                    raise RuntimeError(f"SECC did not start: {open(log.name).read()}")
                time.sleep(0.05)
            r = asyncio.run(fleet(n, args.seconds, port, secc.pid))
        finally:
            secc.terminate()
            secc.wait(timeout=10)
        print(f"{r['n']:>5} {r['messages']:>9} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.1f} "
              f"{r['msg_per_s']:>8.0f} {r['rss_mb']:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
