"""Live charging: the communication set-up of ``link.py`` followed by a DIN 70121 / ISO 15118-2 / ISO 15118-20
session run by ``runner.py``, for both roles. The CLI, the demo and the benchmarks all start sessions here.
The -20 machines (and their five codecs, ~7 MB) are imported when a -20 session is first negotiated, so a
DIN/ISO-2 charger or car does not carry them."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..controllers import EVController, EVSEController
from ..session.din2 import EVCCConfig, EVCCSession, SECCConfig, SECCSession
from ..session.families import DEFAULT_EV_OFFER, ISO20, SESSION_PROTOCOLS
from ..session.handshake import AppProtocol, Negotiated
from ..session.hooks import Hooks
from ..session.iso20.config import EVCC20Config, SECC20Config
from ..session.paused import PausedSessions
from ..session.result import SessionResult
from .faults import default_fault_log
from .link import EVLink, LinkError, ev_link
from .runner import Observer, Outcome, run_machine
from .v2g import V2GConnection

if TYPE_CHECKING:
    from ..session.iso20.evcc import EVCC20Session

__all__ = ["SESSION_PROTOCOLS", "ChargeResult", "SessionCounters", "SessionRecord", "charge", "secc_machine", "secc_sessions"]

log = logging.getLogger("v2gkit.charging")




@dataclass
class SessionRecord:
    """One finished SECC session, for logs, the demo and the benchmarks: its summary only. The state
    machine and the simulated charger are dropped with the session (a charger runs for months)."""

    conn: str
    protocol: str
    outcome: Outcome
    result: SessionResult
    #: the charger's meter when the session ended (Wh): the energy that flowed, also for sessions that
    #: ended without their own Close (the car went away), where ``result.energy_wh`` stays 0
    meter_wh: float = 0.0
    #: a DC session (else AC)
    dc: bool = True


@dataclass
class SessionCounters:
    """What the sessions of one SECC add up to, kept instead of the sessions themselves."""

    started: int = 0
    ok: int = 0
    failed: int = 0
    paused: int = 0
    messages: int = 0
    energy_wh: float = 0.0
    by_protocol: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(self, rec: SessionRecord) -> None:
        self.ok += rec.outcome.ok
        self.failed += not rec.outcome.ok
        self.paused += rec.result.paused
        self.messages += rec.result.messages
        self.energy_wh += rec.meter_wh


def secc_machine(protocol: str, evse: EVSEController, config: SECCConfig, iso20: SECC20Config | None,
                 paused: PausedSessions, hooks: Hooks | None = None) -> Any:
    """The SECC session machine of a negotiated protocol: its family's policy on its family's core."""
    if protocol in ISO20:
        from ..session.iso20.secc import SECC20Session
        return SECC20Session(protocol, evse, iso20 or SECC20Config(), paused, hooks)
    return SECCSession(protocol, evse, config, paused, hooks)


def secc_sessions(evse_factory: Callable[[], EVSEController], config: SECCConfig, *,
                  paused: PausedSessions | None = None, observe: Callable[[V2GConnection], Observer | None] | None = None,
                  on_done: Callable[[SessionRecord], None] | None = None,
                  counters: SessionCounters | None = None, iso20: SECC20Config | None = None,
                  hooks: Hooks | None = None) -> Callable[[V2GConnection, Negotiated], Any]:
    """The SECCLink session handler: one fresh charger controller and state machine per connection.
    ``config`` is for DIN/ISO-2 sessions, ``iso20`` for ISO 15118-20 ones; ``on_done`` gets each finished
    session's record; ``counters`` sums them up."""
    registry = paused if paused is not None else PausedSessions()

    async def handler(conn: V2GConnection, negotiated: Negotiated) -> None:
        name = negotiated.protocol.name
        if name not in SESSION_PROTOCOLS:
            default_fault_log.report("session", "%s: %s negotiated, but v2gkit has no %s session yet", conn.id,
                                     name, name)
            return
        machine = secc_machine(name, evse_factory(), config, iso20, registry, hooks)
        if counters is not None:
            counters.started += 1
            counters.by_protocol[name] += 1
        outcome = await run_machine(conn, machine, observe=observe(conn) if observe else None)
        rec = SessionRecord(conn.id, name, outcome, machine.result, machine.evse.meter_wh(),
                            machine.dc if name in ISO20 else machine.cfg.dc)
        del machine  # with its simulator: only the summary outlives the session
        if counters is not None:
            counters.add(rec)
        if on_done is not None:
            on_done(rec)

    return handler


@dataclass
class ChargeResult:
    link: EVLink
    outcome: Outcome
    machine: EVCCSession | EVCC20Session

    @property
    def ok(self) -> bool:
        return self.outcome.ok


async def charge(ev: EVController, config: EVCCConfig, *, protocols: str | Sequence[str | AppProtocol] = DEFAULT_EV_OFFER,
                 observe: Observer | None = None, iso20: EVCC20Config | None = None, hooks: Hooks | None = None,
                 **link: Any) -> ChargeResult:
    """Discover, connect, negotiate, then run the whole session: DIN/ISO-2 with ``config``, ISO 15118-20 with
    ``iso20``. ``link`` goes to ``ev_link``."""
    ev_side = await ev_link(protocols=protocols, **link)
    name = ev_side.protocol.name
    if name not in SESSION_PROTOCOLS:
        await ev_side.connection.close()
        raise LinkError(f"{name} was negotiated, but v2gkit has no {name} session yet; offer one of "
                        f"{', '.join(SESSION_PROTOCOLS)}")
    machine: EVCCSession | EVCC20Session
    if name in ISO20:
        from ..session.iso20.evcc import EVCC20Session
        machine = EVCC20Session(name, ev, iso20 or EVCC20Config(), hooks)
    else:
        machine = EVCCSession(name, ev, config, hooks)
    outcome = await run_machine(ev_side.connection, machine, observe=observe)
    return ChargeResult(ev_side, outcome, machine)
