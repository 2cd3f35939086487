"""Run a catalog selection against a system under test: v2gkit's own machines in-process (``self``), a SUT the
user reached (a :class:`~v2gkit.testsys.live.Target`), or a SUT this process starts (``testsys.suts``: v2gkit's
or Josev's SECC/EVCC on the veth pair or loopback).

With a started SUT every case is first fitted to it (``SUT.fit``: protocol, AC/DC, TLS); a case the SUT cannot
run is inconclusive with the reason ("not applicable: ..."), never a fail. The tester's TLS comes from the same
throwaway test PKI the SUT was started with, so -20 cases run over TLS 1.3 with mutual authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import timing
from .case import Case, CaseResult, Step, Verdict
from .drive import Setup, run_case
from .live import Target, run_case_live, run_live

__all__ = ["DEFAULT_PKI", "estimate", "longer_than", "run_cases_launched", "run_cases_self", "run_cases_target",
           "tester_tls"]

from ..pki.quick import DEFAULT_PKI

Progress = Callable[[Case, CaseResult], None]


def _na(case: Case, sut: str, reason: str) -> CaseResult:
    return CaseResult(case.case_id, case.title, case.purpose, case.requirements, sut=sut, verdict=Verdict.INCONC,
                      reason=f"not applicable: {reason}")


def estimate(case: Case, protocol: str | None = None) -> float:
    """How long ``case`` runs, in seconds of its own clock: the simulated time of a run against v2gkit's own
    machines (a millisecond of work). Waits for timeouts dominate a live run, so this is what it will take."""
    if "live" in case.needs:  # it waits for the SUT's own start-up timers (V2G_SECC_CommunicationSetup)
        return timing.SECC_COMMUNICATION_SETUP_PERFORMANCE_TIME + timing.TCP_TERMINATION_TIMEOUT
    r = run_case(case, protocol=protocol)
    return r.sim_seconds or 0.0


def longer_than(cases: Iterable[Case], seconds: float, protocol: str | None = None
                ) -> tuple[list[Case], list[CaseResult]]:
    """(the cases expected to finish within ``seconds``, inconclusive results for the others)."""
    keep, skipped = [], []
    for c in cases:
        est = estimate(c, protocol)
        if est > seconds:
            wait = f"about {est:.0f} s"
            skipped.append(CaseResult(c.case_id, c.title, c.purpose, c.requirements, verdict=Verdict.INCONC,
                                      reason=f"skipped: it waits {wait} (limit {seconds:g} s)"))
        else:
            keep.append(c)
    return keep, skipped


def run_cases_self(cases: Iterable[Case], *, protocol: str | None = None, on_result: Progress | None = None,
                   label: str = "v2gkit self") -> list[CaseResult]:
    """Every case against v2gkit's own machines on the simulated clock."""
    out = []
    for c in cases:
        r = run_case(c, protocol=protocol)
        r.sut = label
        out.append(r)
        if on_result:
            on_result(c, r)
    return out


def run_cases_target(cases: Iterable[Case], target: Target, *, protocol: str | None = None,
                     on_result: Progress | None = None, label: str = "") -> list[CaseResult]:
    """Every case against the SUT at ``target`` (one event loop for the whole run)."""
    async def go() -> list[CaseResult]:
        out = []
        for c in cases:
            r = await run_case_live(c, target, protocol=protocol, sut=label)
            out.append(r)
            if on_result:
                on_result(c, r)
        return out
    return asyncio.run(go())


def tester_tls(sut_role: str, protocol: str, pki_dir: Path | None) -> Any:
    """The tester's TLS context against a v2gkit or Josev SUT started with the test PKI in ``pki_dir``: as
    the EVCC it trusts the PKI's V2G root (and shows the vehicle certificate for -20); as the SECC it shows
    the SECC chain (and asks -20 cars for theirs)."""
    from ..net import tls as tlsmod
    from ..pki.quick import make_test_pki

    family = "iso20" if protocol.startswith("iso20") else "iso2"
    pki = make_test_pki((pki_dir or DEFAULT_PKI) / family, family)
    if sut_role == "secc":  # the tester is the car
        return tlsmod.client_context(family, [pki.v2g_root], cert_chain=pki.vehicle_chain if family == "iso20"
                                     else None, key=pki.vehicle_key if family == "iso20" else None)
    return tlsmod.server_context(family, pki.secc_chain, pki.secc_key,
                                 client_roots=[pki.oem_root] if family == "iso20" else None)


def run_cases_launched(cases: Iterable[Case], sut_name: str, *, link: str = "veth", workdir: Path | None = None,
                       on_result: Progress | None = None, label: str = "") -> list[CaseResult]:
    """Start the SUT ``sut_name`` (``testsys.suts``) and run every case against it. On the veth pair the
    caller must already be in a private network namespace (``suts.rerun_in_private_netns``)."""
    from . import suts

    out: list[CaseResult] = []
    label = label or f"{sut_name} ({link})"

    async def go() -> None:
        # SIGTERM/SIGINT (a CI timeout, Ctrl-C) cancel the run, so the SUT is stopped on the way out: without
        # this, SIGTERM would end the process at once and leave the SUT and its namespace behind
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, me.cancel)  # type: ignore[union-attr]
        sut = suts.open_sut(sut_name, link=link, workdir=workdir)
        async with sut:
            for c in cases:
                fit = sut.fit(c)
                if not fit.applicable:
                    r = _na(c, label, fit.reason)
                else:
                    where = await sut.abefore_case(fit, fresh=fit.fresh)
                    target = Target(**where.link_kwargs(), tls=fit.tls,
                                    ssl_context=tester_tls(sut.role, fit.protocol or "iso2", where.pki_dir)
                                    if fit.tls else None)
                    setup = Setup(protocol=fit.protocol or "iso2", dc=fit.dc)
                    t0 = time.perf_counter()
                    try:
                        r = await run_live(c.run, c.role, target, setup, case=c, sut=label)  # type: ignore[arg-type]
                    finally:
                        log = await sut.aafter_case()
                    if r.verdict in (Verdict.FAIL, Verdict.ERROR) and log:
                        tail = "\n".join(str(log).splitlines()[-12:])
                        r.steps.append(Step(time.perf_counter() - t0, f"SUT log (last lines):\n{tail}"))
                out.append(r)
                if on_result:
                    on_result(c, r)

    try:
        asyncio.run(go())
    except asyncio.CancelledError:
        raise SystemExit(f"stopped after {len(out)} case(s); {sut_name} was stopped") from None
    return out
