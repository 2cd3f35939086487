"""Run an EVCC and an SECC state machine against each other on a simulated clock: no sockets, no sleeping.

A whole session of simulated minutes takes a fraction of a second, timers fire exactly when due, and
tests can drop, delay or rewrite any message in flight (``tamper``) to drive the error paths.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .charging import Close, Event, Output, Send, Timer

__all__ = ["Exchange", "Machine", "run_pair"]


class Machine(Protocol):
    def start(self, now: float) -> list[Output]: ...
    def receive(self, now: float, payload: bytes) -> list[Output]: ...
    def timer(self, now: float, name: str) -> list[Output]: ...


@dataclass
class Exchange:
    """What happened: every message with its simulated time, the events, and how each side closed."""

    log: list[tuple[float, str, str]] = field(default_factory=list)  # (time, "EV"/"SE", message name)
    events: list[tuple[float, str, Event]] = field(default_factory=list)
    closed: dict[str, tuple[float, Close]] = field(default_factory=dict)
    now: float = 0.0

    def names(self, side: str | None = None) -> list[str]:
        return [n for _, s, n in self.log if side is None or s == side]


#: (time of sending, sender "EV"/"SE", message name, payload) -> payload to deliver, or None to drop it
Tamper = Callable[[float, str, str, bytes], "bytes | None"]


def run_pair(ev: Machine, se: Machine, *, latency: float = 0.002, until: float = 3600.0,
             tamper: Tamper | None = None, ev_start: float = 0.0) -> Exchange:
    """Drive both machines until both closed or ``until`` simulated seconds passed."""
    ex = Exchange()
    queue: list[tuple[float, int, str, str, Any]] = []  # (time, seq, side, kind, data)
    seq = itertools.count()
    timers: dict[tuple[str, str], int] = {}  # (side, name) -> seq of the live entry
    machines = {"EV": ev, "SE": se}

    def apply(side: str, now: float, outputs: list[Output]) -> None:
        for out in outputs:
            if isinstance(out, Send):
                ex.log.append((now, side, out.name))
                data: bytes | None = out.payload
                if tamper is not None:
                    data = tamper(now, side, out.name, out.payload)
                if data is not None:
                    heapq.heappush(queue, (now + latency, next(seq), "SE" if side == "EV" else "EV", "msg", data))
            elif isinstance(out, Timer):
                if out.delay is None:
                    timers.pop((side, out.name), None)
                else:
                    n = next(seq)
                    timers[(side, out.name)] = n
                    heapq.heappush(queue, (now + out.delay, n, side, "timer", out.name))
            elif isinstance(out, Event):
                ex.events.append((now, side, out))
            elif isinstance(out, Close):
                ex.closed.setdefault(side, (now, out))
                other = "SE" if side == "EV" else "EV"
                # the peer sees the TCP connection close right after
                heapq.heappush(queue, (now + latency, next(seq), other, "eof", out.reason))

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
            apply(side, now, m.start(now))
        elif kind == "msg":
            apply(side, now, m.receive(now, data))
        elif kind == "timer":
            if timers.get((side, data)) == n:
                del timers[(side, data)]
                apply(side, now, m.timer(now, data))
        elif kind == "eof":
            ex.closed.setdefault(side, (now, Close(False, f"peer closed: {data}")))
    return ex
