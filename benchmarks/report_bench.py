"""Report benchmark: a large run (default 300 cases x 50 messages) through every report writer.

The messages are the real frames and decoded contents of an ISO 15118-2 DC session between v2gkit's machines
(each case takes a different window of it); 10 % of the cases fail, 5 % are inconclusive, 2 % errors.
Prints the median of ``--repeat`` runs per writer and the size of what it wrote. ``--browser`` also times
headless Chromium loading the HTML report (load + parse + the page's script, minus an empty page's time).

Run: ``.venv/bin/python benchmarks/report_bench.py [--cases 300] [--messages 50] [--repeat 3] [--browser]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from v2gkit.session.din2 import EVCCConfig, EVCCSession, SECCConfig, SECCSession
from v2gkit.session.simulate import run_pair
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import Cable, SimulatedDCEVSE
from v2gkit.testsys.case import CaseResult, Step, Verdict, WireRecord
from v2gkit.testsys.report import html_report, junit_xml, markdown_table, write_results, write_traces
from v2gkit.testsys.report.results import Run, read_results
from v2gkit.trace import decode_payload
from v2gkit.v2gtp import frame


def session_wire() -> list[WireRecord]:
    ev = SimulatedEV(soc=78.0, target_soc=80.0, ac=False, cable=Cable())
    evcc = EVCCSession("iso2", ev, EVCCConfig(dc=True, loop_interval=0.25))
    secc = SECCSession("iso2", SimulatedDCEVSE(cable_check_time=1.0), SECCConfig(dc=True))
    log: list[tuple[float, str, str, bytes]] = []
    run_pair(evcc, secc, tamper=lambda now, side, name, p: log.append((now, side, name, p)) or p)
    return [WireRecord(now, "tx" if side == "EV" else "rx", "tcp", 0x8001, frame(0x8001, p), name,
                       decode_payload(p, "iso2").get("content")) for now, side, name, p in log]


def results(cases: int, messages: int) -> list[CaseResult]:
    wire = session_wire()
    out = []
    for i in range(cases):
        start = (i * 37) % max(len(wire) - messages, 1)
        window = wire[start:start + messages]
        t0 = window[0].t
        w = [WireRecord(x.t - t0, x.direction, x.channel, x.payload_type, x.frame, x.name, x.decoded)
             for x in window]
        verdict = (Verdict.ERROR if i % 50 == 7 else Verdict.INCONC if i % 20 == 3 else
                   Verdict.FAIL if i % 10 == 5 else Verdict.PASS)
        reason = ("" if verdict is Verdict.PASS else
                  f"{w[-1].name}: ResponseCode FAILED, expected OK (case {i})")
        out.append(CaseResult(case_id=f"TC_SECC_DC_VTB_Bench{i // 1000}_{i % 1000:03d}",
                              title=f"benchmark case {i}",
                              purpose="Verify that the SECC answers each request in time.",
                              requirements=("V2G2-538",),
                              sut="v2gkit self", protocol="iso2", verdict=verdict, reason=reason,
                              started=1_760_000_000.0 + i, seconds=0.05, sim_seconds=w[-1].t,
                              steps=[Step(0.0, "start"), Step(w[-1].t, "checked", verdict)], wire=w))
    return out


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), value


def size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def browser_ms(page: Path, chromium: str, repeat: int) -> float:
    def load(p: Path) -> float:
        t = time.perf_counter()
        # a screenshot waits for load, layout and the page's script (--dump-dom would add serialising the DOM)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                        f"--screenshot={p.with_suffix('.png')}", p.as_uri()],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        return time.perf_counter() - t

    empty = page.with_name("empty.html")
    empty.write_text("<!DOCTYPE html><title>x</title>")
    base = statistics.median(load(empty) for _ in range(repeat))
    return (statistics.median(load(page) for _ in range(repeat)) - base) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--browser", action="store_true", help="also time headless Chromium loading the report")
    args = ap.parse_args()
    rs = results(args.cases, args.messages)
    n = sum(len(r.wire) for r in rs)
    print(f"{len(rs)} cases, {n} messages")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t, page = timed(lambda: html_report(rs, traces="traces"), args.repeat)
        (d / "report.html").write_text(page, encoding="utf-8")
        print(f"html:    {t * 1e3:7.0f} ms median, {size(len(page.encode()))}")
        t, xml = timed(lambda: junit_xml(rs, hostname="bench"), args.repeat)
        print(f"junit:   {t * 1e3:7.0f} ms median, {size(len(xml))}")
        t, path = timed(lambda: write_results(d / "run.json", rs), args.repeat)
        print(f"results: {t * 1e3:7.0f} ms median (write), {size(path.stat().st_size)}")
        t, run = timed(lambda: read_results(d / "run.json"), args.repeat)
        print(f"         {t * 1e3:7.0f} ms median (read back)")
        t, written = timed(lambda: write_traces(d / "traces", rs), args.repeat)
        total = sum(p.stat().st_size + j.stat().st_size for p, j in written)
        print(f"traces:  {t * 1e3:7.0f} ms median ({t / len(rs) * 1e3:.1f} ms per case), {size(total)} "
              f"(pcapng + jsonl, {len(written)} cases)")
        t, md = timed(lambda: markdown_table([Run("a", rs), Run("b", run.results)]), args.repeat)
        print(f"table:   {t * 1e3:7.0f} ms median (Markdown, 2 runs), {size(len(md.encode()))}")
        if args.browser:
            names = ("chromium", "chromium-browser", "google-chrome")
            chromium = next(filter(None, map(shutil.which, names)), None)
            if chromium is None:
                print("browser: no chromium on PATH (apt-get install chromium)")
            else:
                print(f"browser: {browser_ms(d / 'report.html', chromium, args.repeat):7.0f} ms median "
                      "(headless Chromium: load, parse, script; minus an empty page)")


if __name__ == "__main__":
    main()
