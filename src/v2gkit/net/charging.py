"""Live charging: the communication set-up of ``link.py`` followed by a DIN 70121 / ISO 15118-2 session
run by ``runner.py``, for both roles. The CLI, the demo and the benchmarks all start sessions here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..session.charging import EVCCConfig, EVCCSession, PausedSessions, SECCConfig, SECCSession
from ..session.handshake import AppProtocol, Negotiated
from ..sim.controllers import EVController, EVSEController
from .link import EVLink, LinkError, ev_link
from .runner import Observer, Outcome, run_session
from .v2g import V2GConnection

__all__ = ["SESSION_PROTOCOLS", "ChargeResult", "SessionRecord", "charge", "secc_sessions"]

log = logging.getLogger("v2gkit.charging")

#: the protocols a full charging session exists for so far (ISO 15118-20 sessions come later)
SESSION_PROTOCOLS = ("iso2", "din")


@dataclass
class SessionRecord:
    """One finished SECC session, for logs, the demo and the benchmarks."""

    conn: str
    protocol: str
    outcome: Outcome
    machine: SECCSession


def secc_sessions(evse_factory: Callable[[], EVSEController], config: SECCConfig, *,
                  paused: PausedSessions | None = None, observe: Callable[[V2GConnection], Observer | None] | None = None,
                  on_done: Callable[[SessionRecord], None] | None = None) -> Callable[[V2GConnection, Negotiated], Any]:
    """The SECCLink session handler: one fresh charger controller and state machine per connection."""
    registry = paused if paused is not None else PausedSessions()

    async def handler(conn: V2GConnection, negotiated: Negotiated) -> None:
        name = negotiated.protocol.name
        if name not in SESSION_PROTOCOLS:
            log.warning("%s: %s negotiated, but v2gkit has no %s session yet", conn.id, name, name)
            return
        machine = SECCSession(name, evse_factory(), config, registry)
        outcome = await run_session(conn, machine, observe=observe(conn) if observe else None)
        if on_done is not None:
            on_done(SessionRecord(conn.id, name, outcome, machine))

    return handler


@dataclass
class ChargeResult:
    link: EVLink
    outcome: Outcome
    machine: EVCCSession

    @property
    def ok(self) -> bool:
        return self.outcome.ok


async def charge(ev: EVController, config: EVCCConfig, *, protocols: str | Sequence[str | AppProtocol] = "iso2,din",
                 observe: Observer | None = None, **link: Any) -> ChargeResult:
    """Discover, connect, negotiate, then run the whole session. ``link`` goes to ``ev_link``."""
    ev_side = await ev_link(protocols=protocols, **link)
    name = ev_side.protocol.name
    if name not in SESSION_PROTOCOLS:
        await ev_side.connection.close()
        raise LinkError(f"{name} was negotiated, but v2gkit has no {name} session yet; offer one of "
                        f"{', '.join(SESSION_PROTOCOLS)}")
    machine = EVCCSession(name, ev, config)
    outcome = await run_session(ev_side.connection, machine, observe=observe)
    return ChargeResult(ev_side, outcome, machine)
