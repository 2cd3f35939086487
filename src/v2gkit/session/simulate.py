"""Run an EVCC and an SECC state machine against each other on a simulated clock: no sockets, no sleeping.

A whole session of simulated minutes takes a fraction of a second, timers fire exactly when due, and
tests can drop, delay or rewrite any message in flight (``tamper``) to drive the error paths.

Messages travel as V2GTP messages, except after a side wrote raw bytes (``Write``, the test system's broken
headers and split frames): from then on that direction is a byte stream read by a ``V2GTPReader`` with
v2gtp's HEADER_RULES, as a real connection reads it. A side that closes or disconnects takes the
connection down for both; a ``Watcher`` (the test system) is told with ``peer_closed`` and runs on until
it closes itself.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..v2gtp import Action, V2GTPMessage, V2GTPReader, frame
from .events import (
    Closed,
    Disconnect,
    Event,
    Machine,
    Negotiated,
    Output,
    Reason,
    Received,
    Send,
    Timer,
    Write,
)

__all__ = ["Exchange", "Machine", "run_pair"]


@dataclass
class Exchange:
    """What happened: every message with its simulated time, the events, and how each side closed."""

    log: list[tuple[float, str, str]] = field(default_factory=list)  # (time, "EV"/"SE", message name)
    events: list[tuple[float, str, Event]] = field(default_factory=list)
    #: what each side received and decoded: (time, side, Received)
    received: list[tuple[float, str, Received]] = field(default_factory=list)
    closed: dict[str, tuple[float, Closed]] = field(default_factory=dict)
    #: a handshake machine's result, per side
    negotiated: dict[str, Negotiated] = field(default_factory=dict)
    now: float = 0.0

    def names(self, side: str | None = None) -> list[str]:
        return [n for _, s, n in self.log if side is None or s == side]


#: (time of sending, sender "EV"/"SE", message name, payload) -> payload to deliver, or None to drop it
Tamper = Callable[[float, str, str, bytes], "bytes | None"]
#: a side that negotiated goes on with the session machine this returns (None: close)
Then = Callable[[str, Negotiated], "Machine | None"]


def run_pair(ev: Machine, se: Machine, *, latency: float = 0.002, until: float = 3600.0,
             tamper: Tamper | None = None, ev_start: float = 0.0, then: Then | None = None) -> Exchange:
    """Drive both machines until both closed or ``until`` simulated seconds passed. With handshake machines,
    ``then(side, negotiated)`` gives each side's session machine, which starts at once (like the runner)."""
    ex = Exchange()
    queue: list[tuple[float, int, str, str, Any]] = []  # (time, seq, side, kind, data)
    seq = itertools.count()
    timers: dict[tuple[str, str], int] = {}  # (side, name) -> seq of the live entry
    machines = {"EV": ev, "SE": se}
    stepped = {"EV": ev_start, "SE": 0.0}  # when each side's hardware was last advanced
    readers: dict[str, V2GTPReader] = {}  # receiving side -> its stream reader, once raw bytes came its way
    down: list[str] = []  # who took the connection down (empty while it is up)

    def other(side: str) -> str:
        return "SE" if side == "EV" else "EV"

    def hang_up(side: str, now: float, why: str) -> None:
        """``side`` closed the connection: the peer sees EOF one latency later."""
        if not down:
            down.append(side)
            heapq.heappush(queue, (now + latency, next(seq), other(side), "eof", why))

    def advance(side: str, now: float) -> None:
        """The runner, not the machine, moves the simulated hardware on (``Machine.hardware``)."""
        dt = now - stepped[side]
        if dt > 0:
            stepped[side] = now
            for hw in getattr(machines[side], "hardware", ()):
                hw.step(dt)

    def apply(side: str, now: float, outputs: list[Output]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                ex.log.append((now, side, out.name))
                data: bytes | None = out.payload
                if tamper is not None:
                    data = tamper(now, side, out.name, out.payload)
                if data is not None and not down:
                    if other(side) in readers:  # the stream carries raw bytes already: stay in order
                        heapq.heappush(queue, (now + latency, next(seq), other(side), "bytes",
                                               frame(out.payload_type, data)))
                    else:
                        heapq.heappush(queue, (now + latency, next(seq), other(side), "msg",
                                               V2GTPMessage(out.payload_type, data)))
            elif isinstance(out, Write):
                ex.log.append((now, side, out.name))
                if not down:
                    readers.setdefault(other(side), V2GTPReader())
                    heapq.heappush(queue, (now + latency, next(seq), other(side), "bytes", out.data))
            elif isinstance(out, Disconnect):
                ex.events.append((now, side, Event("disconnect", {"reset": out.reset})))
                hang_up(side, now, "connection reset" if out.reset else "connection closed")
            elif isinstance(out, Timer):
                if out.delay is None:
                    timers.pop((side, out.name), None)
                else:
                    n = next(seq)
                    timers[(side, out.name)] = n
                    heapq.heappush(queue, (now + out.delay, n, side, "timer", out.name))
            elif isinstance(out, Event):
                ex.events.append((now, side, out))
            elif isinstance(out, Received):
                ex.received.append((now, side, out))
            elif isinstance(out, Negotiated):
                ex.negotiated[side] = out
                nxt = then(side, out) if then is not None else None
                if nxt is None:
                    ex.closed.setdefault(side, (now, Closed(Reason.NO_SESSION, f"no session machine after "
                                                                              f"{out.protocol}")))
                    heapq.heappush(queue, (now + latency, next(seq), "SE" if side == "EV" else "EV", "eof",
                                           "no session"))
                else:
                    machines[side] = nxt
                    stepped[side] = now
                    apply(side, now, nxt.start(now))
            elif isinstance(out, Closed):
                ex.closed.setdefault(side, (now, out))
                hang_up(side, now, out.text)  # the peer sees the TCP connection close right after

    apply("SE", 0.0, se.start(0.0))
    heapq.heappush(queue, (ev_start, next(seq), "EV", "start", None))
    while queue and len(ex.closed) < 2:
        now, n, side, kind, data = heapq.heappop(queue)
        if now > until:
            break
        ex.now = now
        if side in ex.closed:
            continue
        m = machines[side]
        if kind == "start":
            stepped[side] = now
            apply(side, now, m.start(now))
        elif kind == "msg":
            advance(side, now)
            apply(side, now, m.receive(now, data))
        elif kind == "timer":
            if timers.get((side, data)) == n:
                del timers[(side, data)]
                advance(side, now)
                apply(side, now, m.timer(now, data))
        elif kind == "bytes":
            advance(side, now)
            for item in readers[side].feed(data):
                if isinstance(item, V2GTPMessage):
                    apply(side, now, m.receive(now, item))
                else:  # a bad header: as the real connection does (HEADER_RULES)
                    ex.events.append((now, side, Event("v2gtp_header", {"fault": item.fault.name,
                                                                        "action": item.action.value})))
                    if item.action is Action.CLOSE:
                        ex.closed.setdefault(side, (now, Closed(Reason.PEER_CLOSED,
                                                                f"connection closed: {item.message}")))
                        hang_up(side, now, item.message)
                        break
                if side in ex.closed:
                    break
        elif kind == "eof":
            watch = getattr(m, "peer_closed", None)
            if watch is None:
                ex.closed.setdefault(side, (now, Closed(Reason.PEER_CLOSED, f"peer closed: {data}")))
            else:
                if not down:
                    down.append(other(side))
                apply(side, now, watch(now, str(data)))
    return ex
