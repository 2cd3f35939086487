"""Session benchmark, for ISO 15118-2 and ISO 15118-20 (DC).

(a) Wall time of one full DC session over loopback TCP with no physical delays (no pauses between requests,
    instant cable check and pre-charge, battery physics x2000), and the median round trip of its energy loop
    (CurrentDemand, DC_ChargeLoop).
(b) One SECC process (``v2gkit secc``) serving N concurrent EVCCs in their energy loops, one request every
    100 ms per car as real cars do: round trip p50/p99, messages per second and the SECC process's peak RSS.
    Target: p99 < 25 ms and RSS < 100 MB at N = 100 (25 ms is ISO 15118-2's V2G_SECC_Msg_Performance_Time for
    CurrentDemandRes; -20 allows 250 ms for DC_ChargeLoopRes, the same 25 ms is the target here).
(c) Codec times of the -20 loop messages (build, encode, decode), median of 2000.

ISO 15118-20 runs over plain TCP here (``--allow-iso20-without-tls``: TLS would measure OpenSSL, and the -2
numbers are over TCP too).

Run: ``./run bench session`` or ``.venv/bin/python benchmarks/session_bench.py [--n 10 100 500]
[--protocols iso2 iso20]``.
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
from v2gkit.session.iso20 import messages as msg
from v2gkit.session.iso20.config import EVCC20Config, SECC20Config
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import SimulatedDCEVSE
from v2gkit.sim.scaled import Accelerated


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


#: per protocol: the SECC's --protocols, the energy loop's request, the link options
PROTOCOLS = {"iso2": ("iso2", "CurrentDemand", {}),
             "iso20": ("iso20-dc", "DC_ChargeLoop", {"allow_iso20_without_tls": True})}


async def one_session(runs: int, protocol: str) -> list[tuple[float, int, float]]:
    name, loop, link_kw = PROTOCOLS[protocol]
    port = random.randrange(20000, 30000)
    link = SECCLink(loopback=True, sdp_port=port, protocols=name, **link_kw,
                    session=secc_sessions(lambda: SimulatedDCEVSE(cable_check_time=0.0, voltage_slew=1e6,
                                                                  current_slew=1e6), SECCConfig(),
                                          iso20=SECC20Config()))
    out = []
    async with link:
        for _ in range(runs):
            ev = SimulatedEV(soc=30, target_soc=80)
            t = time.perf_counter()
            res = await charge(Accelerated(ev, 2000.0), EVCCConfig(loop_interval=0.0), protocols=name,
                               iso20=EVCC20Config(loop_interval=0.0), loopback=True, sdp_port=port, **link_kw)
            out.append((time.perf_counter() - t, res.outcome.sent,
                        statistics.median(res.outcome.round_trips[loop])))
            assert res.ok, res.outcome.detail
    return out


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def fleet(n: int, seconds: float, port: int, secc_pid: int, protocol: str) -> dict[str, float]:
    """N cars charging at once; each stops ``seconds`` after it started its energy loop."""
    name, loop, link_kw = PROTOCOLS[protocol]
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
        cfg20 = EVCC20Config(loop_interval=0.1, msg_timeouts={"DC_ChargeLoop": 2.0})
        res = await charge(ev, cfg, protocols=name, iso20=cfg20, loopback=True, sdp_port=port, sdp_interval=0.25,
                           **link_kw)
        if not res.ok:
            raise RuntimeError(f"car {i}: {res.outcome.detail}")
        return res.outcome.round_trips.get(loop, [])

    settle_heap()
    sampler = asyncio.get_running_loop().create_task(sample())
    t = time.perf_counter()
    rtts = await asyncio.gather(*(car(i) for i in range(n)))
    wall = time.perf_counter() - t
    sampler.cancel()
    allr = [x for r in rtts for x in r]
    return {"n": n, "messages": len(allr), "p50_ms": statistics.median(allr) * 1e3, "p99_ms": pct(allr, 0.99) * 1e3,
            "max_ms": max(allr) * 1e3, "msg_per_s": len(allr) / wall, "rss_mb": max(peak), "wall_s": wall}


def codec_times() -> None:
    """(c) build + encode + decode of the -20 DC loop messages, median of 2000 runs each, in µs."""
    sid = bytes(range(8))
    cases = {
        "DC_ChargeLoopReq Scheduled": (lambda: msg.dc_charge_loop_req("Scheduled", False, present_voltage=400.0,
                                                                    target_voltage=420.0, target_current=125.0),
                                       "DC_ChargeLoop", True),
        "DC_ChargeLoopRes Scheduled": (lambda: msg.dc_charge_loop_res("OK", "Scheduled", False, present_voltage=400.0,
                                                                    present_current=125.0, max_charge_power=150000.0,
                                                                    max_charge_current=300.0, max_voltage=920.0),
                                       "DC_ChargeLoop", False),
        "DC_ChargeLoopReq BPT_Dynamic": (lambda: msg.dc_charge_loop_req(
            "Dynamic", True, present_voltage=400.0, departure_time=3600, target_energy_request=20000.0,
            max_energy_request=40000.0, min_energy_request=-5000.0, max_charge_power=150000.0, min_charge_power=0.0,
            max_charge_current=300.0, max_voltage=920.0, min_voltage=200.0, max_discharge_power=11000.0,
            min_discharge_power=0.0, max_discharge_current=30.0, max_v2x_energy_request=40000.0,
            min_v2x_energy_request=-20000.0), "DC_ChargeLoop", True),
    }
    print("(c) ISO 15118-20 loop messages: build, encode, decode (µs, median of 2000)")
    for label, (build, name, req) in cases.items():
        body = build()
        pt, data = msg.encode(name, req, body, sid, 1_700_000_000)
        times = {"build": [], "encode": [], "decode": []}
        for _ in range(2000):
            t0 = time.perf_counter()
            b = build()
            t1 = time.perf_counter()
            msg.encode(name, req, b, sid, 1_700_000_000)
            t2 = time.perf_counter()
            msg.decode(pt, data)
            t3 = time.perf_counter()
            times["build"].append(t1 - t0)
            times["encode"].append(t2 - t1)
            times["decode"].append(t3 - t2)
        print(f"    {label:32} {len(data):3d} B  " + "  ".join(
            f"{k} {statistics.median(v) * 1e6:5.1f}" for k, v in times.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="*", default=[10, 100, 500])
    ap.add_argument("--seconds", type=float, default=20.0, help="energy loop length per car")
    ap.add_argument("--runs", type=int, default=5, help="runs of the single session")
    ap.add_argument("--protocols", nargs="*", choices=sorted(PROTOCOLS), default=["iso2", "iso20"])
    args = ap.parse_args()

    for protocol in args.protocols:
        runs = asyncio.run(one_session(args.runs, protocol))
        walls = [w for w, _, _ in runs]
        label = {"iso2": "ISO 15118-2", "iso20": "ISO 15118-20"}[protocol]
        print(f"(a) one full {label} DC session, loopback TCP, no physical delays, {runs[0][1]} requests: "
              f"median {statistics.median(walls) * 1e3:.0f} ms wall (min {min(walls) * 1e3:.0f}, "
              f"{runs[0][1] / statistics.median(walls):.0f} requests/s), {PROTOCOLS[protocol][1]} round trip "
              f"median {statistics.median(r for _, _, r in runs) * 1e6:.0f} µs", flush=True)
    codec_times()
    for protocol in args.protocols:
        fleet_table(args, protocol)


def fleet_table(args: argparse.Namespace, protocol: str) -> None:
    name, loop, _ = PROTOCOLS[protocol]
    extra = ["--allow-iso20-without-tls"] if protocol == "iso20" else []
    print(f"(b) {protocol}: one SECC process, N EVCCs in {loop} loops (one request per car every 100 ms)")
    print(f"{'N':>5} {'messages':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'msg/s':>8} {'SECC RSS MB':>12}")
    for n in args.n:
        port = random.randrange(20000, 30000)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # a file: a pipe nobody reads would block the SECC
        limit = str(n + 16)  # every car comes from ::1: lift the per-address limit
        secc = subprocess.Popen([sys.executable, "-m", "v2gkit.cli.main", "secc", "--loopback", "--sdp-port",
                                 str(port), "--protocols", name, *extra, "--max-connections", limit,
                                 "--max-per-peer", limit],
                                stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            deadline = time.monotonic() + 20
            while "listening" not in open(log.name).read():
                if time.monotonic() > deadline or secc.poll() is not None:
                    raise RuntimeError(f"SECC did not start: {open(log.name).read()}")
                time.sleep(0.05)
            r = asyncio.run(fleet(n, args.seconds, port, secc.pid, protocol))
        finally:
            secc.terminate()
            secc.wait(timeout=10)
        print(f"{r['n']:>5} {r['messages']:>9} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.1f} "
              f"{r['msg_per_s']:>8.0f} {r['rss_mb']:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
