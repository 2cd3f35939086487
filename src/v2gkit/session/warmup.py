"""Warm an SECC's code paths before the first car arrives.

The first time a process builds and encodes a CurrentDemandRes, decodes a CurrentDemandReq or runs a
handler, Python pays for it (code objects and caches filled, lazy look-ups, allocator arenas). A charger
must answer CurrentDemand within 25 ms (V2G_SECC_Msg_Performance_Time) from its first car on, so it runs
one short session per protocol it serves first: on the simulated clock of ``simulate.run_pair``, through
the same ``SECCSession``, dialect and codec a real car meets, with its configured session settings.
No sockets, no sleeping; a few tens of milliseconds.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ..controllers import BidirectionalEVSE, EVSEController
from ..sim.battery import SimulatedBPTEV
from ..sim.ev import SimulatedEV
from ..sim.evse import SimulatedACEVSE, SimulatedDCEVSE
from .din2 import EVCCConfig, EVCCSession, SECCConfig, SECCSession
from .families import DIN2, ISO20
from .iso20.config import EVCC20Config, SECC20Config
from .paused import PausedSessions
from .simulate import run_pair

__all__ = ["WarmUp", "warm_up"]


@dataclass(frozen=True)
class WarmUp:
    """What ran: one entry per protocol, e.g. ``iso2/DC``, the wall time of all of them and how often the
    SECC sent each response (``"iso2:CurrentDemandRes"``)."""

    sessions: tuple[str, ...]
    seconds: float
    answers: Counter[str] = field(default_factory=Counter)


def warm_up(protocols: Iterable[str], config: SECCConfig,
            evse_factory: Callable[[], EVSEController] | None = None, iso20: SECC20Config | None = None) -> WarmUp:
    """One short simulated session (SessionSetup to SessionStop, a few CurrentDemand or ChargingStatus
    rounds) per protocol of ``protocols`` that has a session machine, in the mode of ``config``.

    ``evse_factory`` is the charger the SECC will run; a session it does not carry to the energy loop (it
    refuses authorization, fails the cable check...) is repeated with a default simulator of the same kind,
    so every path a charging car takes is warm whatever the configuration."""
    t0 = time.perf_counter()
    done = []
    answers: Counter[str] = Counter()
    dc = config.dc
    for name in dict.fromkeys(protocols):
        if name in ISO20 and (name == "iso20-dc") == dc:
            factories = [f for f in (evse_factory, SimulatedDCEVSE if dc else SimulatedACEVSE) if f is not None]
            for mode in (iso20 or SECC20Config()).control_modes:
                for factory in factories:
                    if _session20(name, iso20 or SECC20Config(), mode, factory(), answers):
                        break
            done.append(f"{name}/{'BPT' if iso20 and iso20.bpt else 'plain'}")
            continue
        if name not in DIN2 or name == "din" and not dc:
            continue
        factories = [f for f in (evse_factory, SimulatedDCEVSE if dc else SimulatedACEVSE) if f is not None]
        for factory in factories:
            if _session(name, config, factory(), answers):
                break
        done.append(f"{name}/{'DC' if dc else 'AC'}")
    return WarmUp(tuple(done), time.perf_counter() - t0, answers)


def _session(protocol: str, config: SECCConfig, evse: EVSEController, answers: Counter[str]) -> bool:
    """A session from 79 % to 80 % of a 6 kWh car: some twenty rounds of the energy loop."""
    ev = SimulatedEV(capacity_wh=6000.0, soc=79.0, target_soc=80.0, ac=not config.dc)
    evcc = EVCCSession(protocol, ev, EVCCConfig(dc=config.dc))
    # its own registry of paused sessions, and never the configured SessionID (a real car may come back)
    secc = SECCSession(protocol, evse, replace(config, session_id=None), PausedSessions())
    ex = run_pair(evcc, secc, until=600.0)
    answers.update(f"{protocol}:{n}" for n in ex.names("SE"))
    closed = ex.closed.get("SE")
    loop = "CurrentDemandRes" if config.dc else "ChargingStatusRes"
    return closed is not None and closed[1].ok and loop in ex.names("SE")


def _session20(protocol: str, config: SECC20Config, mode: str, evse: EVSEController, answers: Counter[str]) -> bool:
    """The same for ISO 15118-20, in one control mode (BPT when the charger offers it). The -20 machines are
    imported here: a charger that serves no -20 does not load them."""
    from .iso20.evcc import EVCC20Session
    from .iso20.secc import SECC20Session

    dc = protocol == "iso20-dc"
    bpt = config.bpt and isinstance(evse, BidirectionalEVSE)
    ev = (SimulatedBPTEV if bpt else SimulatedEV)(capacity_wh=6000.0, soc=79.0, target_soc=80.0, ac=not dc)
    evcc = EVCC20Session(protocol, ev, EVCC20Config(bpt=bpt, control_mode=mode))
    secc = SECC20Session(protocol, evse, replace(config, session_id=None), PausedSessions())
    ex = run_pair(evcc, secc, until=600.0)
    answers.update(f"{protocol}:{n}" for n in ex.names("SE"))
    closed = ex.closed.get("SE")
    return closed is not None and closed[1].ok and ("DC_ChargeLoopRes" if dc else "AC_ChargeLoopRes") in ex.names("SE")
