"""Run a script or a conformance case: the emulator against a system under test.

``run_self`` puts v2gkit's own machines of the other role (app handshake, then the session) against the
emulator on the simulated clock (``session.simulate.run_pair``): no sockets, a case in milliseconds. The live
drivers (``net``-based, over loopback, an interface or an address) are in :mod:`v2gkit.testsys.live`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..session.din2 import EVCCConfig, EVCCSession, SECCConfig, SECCSession
from ..session.events import Machine
from ..session.families import ISO20
from ..session.handshake import EVHandshake, SECCHandshake, protocol_list
from ..session.hooks import Hooks
from ..session.iso20.config import EVCC20Config, SECC20Config
from ..session.paused import PausedSessions
from ..session.simulate import run_pair
from .case import Case, CaseResult, Step, Verdict
from .emulator import Emulator, SdpOp, TesterSDP
from .script import ScriptAborted, ScriptThread, Stopped, Tester, describe

__all__ = ["Setup", "make_emulator", "run_self", "tester_machines"]


@dataclass
class Setup:
    """What both sides run: the protocol under test, AC or DC, and the configurations of the tester's own
    machines and (for ``--self``) of the SUT's. ``sut_*`` configs default to the tester's."""

    protocol: str = "iso2"
    dc: bool = True
    evcc: EVCCConfig | None = None
    secc: SECCConfig | None = None
    evcc20: EVCC20Config | None = None
    secc20: SECC20Config | None = None
    #: the car's battery for EV simulators: a short but complete session (79.9 % -> 80 % of 6 kWh)
    ev: dict[str, Any] = field(default_factory=lambda: {"capacity_wh": 6000.0, "soc": 79.9, "target_soc": 80.0})
    #: fixed randomness for reproducible runs (SessionIDs, challenges) and the -20 header TimeStamp
    seed: int = 15118
    wall_clock: int = 1_767_225_600  # 2026-01-01T00:00:00Z
    #: the in-process SUT SECC's SDP server offers TLS too (answers a TLS request with TLS)
    sut_tls: bool = True

    @property
    def session_protocol(self) -> str:
        """iso20 is AC or DC by namespace: ``iso20`` alone means the -20 variant of ``dc``."""
        if self.protocol == "iso20":
            return "iso20-dc" if self.dc else "iso20-ac"
        return self.protocol


def _hooks(setup: Setup) -> Hooks:
    import random

    rng = random.Random(setup.seed)
    return Hooks(random_bytes=lambda n: bytes(rng.getrandbits(8) for _ in range(n)),
                 wall_clock=lambda now: setup.wall_clock + int(now))


def _ev(setup: Setup) -> Any:
    from ..sim.ev import SimulatedEV

    return SimulatedEV(ac=not setup.dc, **setup.ev)


def _evse(setup: Setup) -> Any:
    from ..sim.evse import SimulatedACEVSE, SimulatedDCEVSE

    return SimulatedDCEVSE() if setup.dc else SimulatedACEVSE()


def tester_machines(role: str, setup: Setup) -> tuple[Callable[[Hooks], Machine], Callable[[str, Hooks], Machine]]:
    """(handshake factory, session factory) of the machines the tester plays ``role`` with."""
    proto = setup.session_protocol
    if role == "evcc":
        def handshake(h: Hooks) -> Machine:
            return EVHandshake(protocol_list([proto]), hooks=h)

        def session(name: str, h: Hooks) -> Machine:
            if name in ISO20:
                from ..session.iso20.evcc import EVCC20Session
                return EVCC20Session(name, _ev(setup), setup.evcc20 or EVCC20Config(), h)
            return EVCCSession(name, _ev(setup), replace(setup.evcc or EVCCConfig(), dc=setup.dc), h)
    else:
        def handshake(h: Hooks) -> Machine:
            return SECCHandshake(protocol_list([proto]), hooks=h)

        def session(name: str, h: Hooks) -> Machine:
            if name in ISO20:
                from ..session.iso20.secc import SECC20Session
                return SECC20Session(name, _evse(setup), setup.secc20 or SECC20Config(), PausedSessions(), h)
            return SECCSession(name, _evse(setup), replace(setup.secc or SECCConfig(), dc=setup.dc),
                               PausedSessions(), h)
    return handshake, session


def make_emulator(role: str, setup: Setup) -> Emulator:
    handshake, session = tester_machines(role, setup)
    return Emulator(role, handshake, session, hooks=_hooks(setup))


def _sut_pair(role: str, setup: Setup) -> tuple[Machine, Callable[[str, Any], Machine | None]]:
    """v2gkit's own machines for the SUT role (the other one): its handshake, and then its session."""
    sut_role = "secc" if role == "evcc" else "evcc"
    handshake, session = tester_machines(sut_role, setup)
    hooks = _hooks(replace(setup, seed=setup.seed + 1))
    first = handshake(hooks)

    def then(side: str, negotiated: Any) -> Machine | None:
        return session(negotiated.protocol.name, hooks)

    return first, then


def _sut_sdp(setup: Setup) -> Any:
    """The in-process SUT SECC's SDP server: link-local address, ports of the dynamic range (sdp.DYNAMIC_PORTS)
    for plain TCP and TLS."""
    import ipaddress

    from .. import sdp as core

    ports = {core.Security.NONE: core.DYNAMIC_PORTS.start}
    if setup.sut_tls:
        ports[core.Security.TLS] = core.DYNAMIC_PORTS.start + 1
    policy = core.SecurityPolicy.ECHO if setup.sut_tls else core.SecurityPolicy.NONE_ONLY
    return core.SDPServer(ipaddress.IPv6Address("fe80::2"), ports, policy)


#: where the in-process tester SECC says it is (the reports' placeholder address for the tester)
TESTER_SECC = ("fe80::1", 15118)


def _sut_discovers(emu: Emulator, setup: Setup, clock: list[float]) -> bool:
    """The in-process car's SDP (v2gkit's SDPClient, as ``v2gkit evcc`` runs it) against the tester SECC's
    SDP with the script's changes: True when it found the tester's real address and port (so it connects)."""
    import ipaddress

    from .. import sdp as core
    from .. import timing

    server = core.SDPServer(ipaddress.IPv6Address(TESTER_SECC[0]), {core.Security.NONE: TESTER_SECC[1]},
                            core.SecurityPolicy.NONE_ONLY)
    sdp = TesterSDP(server, emu, lambda: clock[0])
    client = core.SDPClient(core.Security.NONE, max_requests=timing.SDP_MAX_REQUESTS, interval=timing.SDP_TIMEOUT)
    outs = client.start()
    while True:
        answer = None
        for o in outs:
            if isinstance(o, core.SendRequest):
                answer = sdp.datagram_received(o.datagram)[0]
            elif isinstance(o, core.Discovered):
                r = o.response
                return str(r.address) == TESTER_SECC[0] and r.port == TESTER_SECC[1]
            elif isinstance(o, core.DiscoveryFailed):
                return False
        if answer is not None:
            clock[0] += 0.002
            outs = client.datagram_received(answer)
            if any(isinstance(o, (core.Discovered, core.DiscoveryFailed)) for o in outs):
                continue
        clock[0] += client.interval
        outs = client.timer_expired()


def setup_for(case: Case, protocol: str | None = None, base: Setup | None = None) -> Setup | None:
    """The Setup a case runs with: its first protocol (or ``protocol`` if the case allows it), AC or DC by its
    ID (CMN cases run DC). None when the case does not apply to ``protocol``."""
    proto = protocol or (case.protocols[0] if case.protocols else "iso2")
    if case.protocols and proto not in case.protocols:
        return None
    dc = case.kind != "AC"
    if proto == "din" and not dc:
        return None
    return replace(base or Setup(), protocol=proto, dc=dc)


def run_case(case: Case, setup: Setup | None = None, *, protocol: str | None = None) -> CaseResult:
    """Run ``case`` against v2gkit's own machines (``--self``) on the simulated clock."""
    st = setup_for(case, protocol, setup)
    if st is None:
        return CaseResult(case.case_id, case.title, case.purpose, case.requirements, sut="self",
                          protocol=protocol or "", verdict=Verdict.INCONC,
                          reason=f"not applicable: the case is for {', '.join(case.protocols)}")
    if "live" in case.needs:
        return CaseResult(case.case_id, case.title, case.purpose, case.requirements, sut="self",
                          protocol=st.session_protocol, verdict=Verdict.INCONC,
                          reason="needs a live SUT (run it over a link: --loopback, --interface or --address)")
    assert case.run is not None
    return run_self(case.run, case.role, st, case=case)


def run_script(emu: Emulator, body: Callable[[Tester], None], protocol: str | None = None,
               dc: bool = True) -> tuple[Tester, ScriptThread]:
    """Start ``body`` in its thread, attached to ``emu`` (it runs until its first blocking call)."""
    holder: list[Tester] = []
    thread = ScriptThread(lambda: body(holder[0]))
    tester = Tester(emu, thread)
    tester.planned_protocol = protocol
    tester.planned_dc = dc
    holder.append(tester)
    emu.run_script(thread.resume, thread.start())
    return tester, thread


def verdict_of(tester: Tester, emu: Emulator) -> tuple[Verdict, str]:
    """The case's verdict: the script's, unless it failed (error) or never finished (error)."""
    end = emu.done
    if end is None:
        return Verdict.ERROR, "the run ended while the script was still waiting"
    err = end.error
    if err is None or isinstance(err, Stopped):
        return tester.verdict, tester.reason
    if isinstance(err, ScriptAborted):
        return Verdict.ERROR, f"aborted: {err}"
    return Verdict.ERROR, f"script error: {describe(err)}"


def run_self(body: Callable[[Tester], None], role: str, setup: Setup | None = None, *, case: Case | None = None,
             until: float = 3600.0) -> CaseResult:
    """Run ``body`` with the tester in ``role`` against v2gkit's own machines of the other role, on the
    simulated clock."""
    setup = setup or Setup()
    t_wall, t0 = time.time(), time.perf_counter()
    emu = make_emulator(role, setup)
    tester, thread = run_script(emu, body, setup.session_protocol, setup.dc)
    sut, then = _sut_pair(role, setup)
    clock = [0.0]
    ex = None
    try:
        if role == "evcc":
            server = _sut_sdp(setup)

            while (op := emu.pre_op()) is not None:  # SDP requests and waits before the connection
                if isinstance(op, SdpOp):
                    clock[0] += 0.002
                    emu.pre_answer(server.datagram_received(op.datagram)[0], clock[0])
                else:
                    clock[0] += op.timeout or 0.0
                    emu.pre_answer(True, clock[0])
            if emu.done is None:
                ex = run_pair(emu, sut, then=then, until=until, ev_start=clock[0])
        elif _sut_discovers(emu, setup, clock):
            ex = run_pair(sut, emu, then=then, until=until, ev_start=clock[0])
        else:
            tester.log("the car did not connect: it found no usable SDP answer")
            emu.peer_closed(clock[0], "the car never connected")
    finally:
        thread.abort()
    verdict, reason = verdict_of(tester, emu)
    res = CaseResult(case.case_id if case else "script", title=case.title if case else "",
                     purpose=case.purpose if case else "", requirements=case.requirements if case else (),
                     sut=f"v2gkit {'secc' if role == 'evcc' else 'evcc'} (in-process, simulated clock)",
                     protocol=emu.protocol or "", verdict=verdict, reason=reason, started=t_wall,
                     seconds=time.perf_counter() - t0, sim_seconds=ex.now if ex else clock[0],
                     steps=list(tester.steps), wire=list(emu.wire))
    side = "SE" if role == "evcc" else "EV"
    if ex is not None and side in ex.closed:
        at, closed = ex.closed[side]
        res.steps.append(Step(at, f"SUT ended: {closed.reason.name}: {closed.text}"))
    return res
