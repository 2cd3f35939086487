"""Run a sans-IO session machine on a live V2G connection: messages and timers in, sends and closes out.

One task per session reads a queue fed by the connection's reader task and by ``call_later`` timers,
so the machine sees one input at a time, exactly as on the simulated clock.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..session.charging import Close, Output, Send, Timer
from ..session.simulate import Machine
from ..v2gtp import PayloadType
from .v2g import ConnectionClosed, V2GConnection, V2GTPProtocolError

__all__ = ["run_session", "Outcome"]


@dataclass
class Outcome:
    ok: bool
    reason: str
    sent: int = 0
    received: int = 0
    #: request name -> round-trip times in seconds (EVCC side: request sent -> response received)
    round_trips: dict[str, list[float]] = field(default_factory=dict)
    #: response name -> time from request received to response sent (SECC side)
    answer_times: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0


Observer = Callable[[float, Output], None]


async def run_session(conn: V2GConnection, machine: Machine, *, observe: Observer | None = None,
                      payload_type: int = PayloadType.EXI) -> Outcome:
    """Until the machine closes the session or the peer goes away; the connection is closed after."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    timers: dict[str, asyncio.TimerHandle] = {}
    outcome = Outcome(False, "")
    t0 = loop.time()
    sent_at: float | None = None
    sent_name = ""
    received_at: float | None = None

    async def read() -> None:
        try:
            while True:
                msg = await conn.receive()
                inbox.put_nowait(("msg", msg))
        except (ConnectionClosed, V2GTPProtocolError) as e:
            inbox.put_nowait(("eof", str(e)))

    reader = loop.create_task(read())

    async def apply(now: float, outputs: list[Output]) -> Close | None:
        nonlocal sent_at, sent_name
        for out in outputs:
            if observe is not None:
                observe(now, out)
            if isinstance(out, Send):
                await conn.send(payload_type, out.payload)
                outcome.sent += 1
                if out.name.endswith("Res") and received_at is not None:
                    outcome.answer_times.setdefault(out.name, []).append(time.perf_counter() - received_at)
                sent_at, sent_name = time.perf_counter(), out.name
            elif isinstance(out, Timer):
                old = timers.pop(out.name, None)
                if old is not None:
                    old.cancel()
                if out.delay is not None:
                    timers[out.name] = loop.call_later(out.delay, inbox.put_nowait, ("timer", out.name))
            elif isinstance(out, Close):
                return out
        return None

    try:
        closed = await apply(loop.time(), machine.start(loop.time()))
        while closed is None:
            kind, data = await inbox.get()
            now = loop.time()
            if kind == "msg":
                received_at = time.perf_counter()
                outcome.received += 1
                if sent_at is not None and sent_name.endswith("Req"):
                    outcome.round_trips.setdefault(sent_name[:-3], []).append(received_at - sent_at)
                    sent_at = None
                closed = await apply(now, machine.receive(now, data.payload))
            elif kind == "timer":
                timers.pop(data, None)
                closed = await apply(now, machine.timer(now, data))
            else:
                closed = Close(False, f"connection closed: {data}")
        outcome.ok, outcome.reason = closed.ok, closed.reason
    except (ConnectionClosed, OSError) as e:
        outcome.ok, outcome.reason = False, f"connection lost: {e}"
    finally:
        for h in timers.values():
            h.cancel()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await conn.close()
        outcome.seconds = loop.time() - t0
    return outcome
