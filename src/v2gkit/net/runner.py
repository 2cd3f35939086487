"""Run a sans-IO protocol machine (app handshake or session) on a live V2G connection: messages and timers
in, sends and closes out. Every payload type the machine sends or receives passes through (ISO 15118-20 mixes
0x8002 with 0x8003/0x8004 on one connection). A handshake machine ends with ``Negotiated``: the connection
then stays open for the session machine that follows.

One task reads the connection and feeds the machine; timers are ``call_later`` callbacks that feed it
too. The machine's answer goes onto the socket in the same step (no queue, no extra task hop): this is
the hot path of every CurrentDemand round trip.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import timing
from ..session.events import (
    Closed,
    Disconnect,
    Event,
    Machine,
    Negotiated,
    Output,
    Reason,
    Send,
    Timer,
    Write,
)
from ..v2gtp import V2GTPMessage
from .faults import FaultLog
from .v2g import ConnectionClosed, V2GConnection, V2GTPProtocolError

__all__ = ["Observer", "Outcome", "Samples", "run_machine", "settle_heap"]

log = logging.getLogger("v2gkit.session")


class Samples(list):
    """Durations of one message kind: all of them while there are at most ``cap``, then a uniform
    random sample of ``cap`` (reservoir sampling), so a session that runs for days keeps a fixed size.
    ``count``, ``total``, ``first`` and ``max`` cover every value; medians and percentiles come from the
    sample (whose order is not the order of arrival once it is full)."""

    cap = 1024

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self.first: float | None = None
        self._rng: random.Random | None = None

    def append(self, value: float) -> None:
        if self.first is None:
            self.first = value
        self.count += 1
        self.total += value
        self.max = max(self.max, value)
        if len(self) < self.cap:
            super().append(value)
            return
        if self._rng is None:
            self._rng = random.Random(0x15118)
        j = self._rng.randrange(self.count)
        if j < self.cap:
            self[j] = value




def performance_time(name: str) -> float:
    """V2G_SECC_Msg_Performance_Time for the answer to request ``name``, of whichever family it is (the
    names do not overlap; both defaults are 1.5 s). Read from timing on each call, so a test system can
    change the values in one place."""
    t = timing.SECC_PERFORMANCE_TIME.get(name)
    if t is None:
        t = timing.ISO20_SECC_PERFORMANCE_TIME.get(name, timing.SECC_PERFORMANCE_TIME_DEFAULT)
    return t

#: how many late answers an Outcome lists (late_count has them all)
LATE_KEPT = 256
#: late answers are our fault, not the peer's, but a loaded SECC must not write a line for each of them
_late_log = FaultLog("v2gkit.session", label="late answers")


@dataclass
class Outcome:
    ok: bool
    #: why it ended (None while it runs), and in words
    reason: Reason | None = None
    detail: str = ""
    sent: int = 0
    received: int = 0
    #: request name -> round-trip times in seconds (EVCC side: request sent -> response received)
    round_trips: dict[str, Samples] = field(default_factory=dict)
    #: response name -> time from request received to response sent (SECC side)
    answer_times: dict[str, Samples] = field(default_factory=dict)
    seconds: float = 0.0
    #: the first LATE_KEPT responses sent later than V2G_SECC_Msg_Performance_Time allows (name, seconds)
    late: list[tuple[str, float]] = field(default_factory=list)
    late_count: int = 0
    #: the session ended by our fault (Reason.local: a message of ours could not be built), not the peer's
    local: bool = False
    #: a handshake machine's result (the connection is left open for the session)
    negotiated: Negotiated | None = None


Observer = Callable[[float, Output], None]


class _Driver:
    """Applies a machine's outputs to the connection and the event loop."""

    def __init__(self, conn: V2GConnection, machine: Machine, observe: Observer | None) -> None:
        self.conn, self.machine, self.observe = conn, machine, observe
        self.loop = asyncio.get_running_loop()
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.closed: asyncio.Future[Closed | Negotiated] = self.loop.create_future()
        self.outcome = Outcome(False)
        self.sent_at: float | None = None
        self.sent_name = ""
        self.received_at: float | None = None
        #: the simulated or real hardware behind the machine: advanced here, never by the machine
        self.hardware = getattr(machine, "hardware", ())
        self.stepped = self.loop.time()
        self.told_closed = False

    def advance(self, now: float) -> None:
        """``step`` the machine's hardware by the time since the last message or timer."""
        dt = now - self.stepped
        if dt > 0:
            self.stepped = now
            for hw in self.hardware:
                hw.step(dt)

    def apply(self, now: float, outputs: list[Output]) -> None:
        for out in outputs:
            if self.observe is not None:
                self.observe(now, out)
            if isinstance(out, Send):
                if self.closed.done():
                    continue
                try:
                    self.conn.send_nowait(out.payload_type, out.payload)
                except (ConnectionClosed, OSError) as e:
                    self.peer_gone(f"connection lost: {e}", Reason.CONNECTION_LOST)
                    continue
                t = time.perf_counter()
                self.outcome.sent += 1
                if out.name.endswith("Res") and self.received_at is not None:
                    took = t - self.received_at
                    times = self.outcome.answer_times.get(out.name)
                    if times is None:
                        times = self.outcome.answer_times[out.name] = Samples()
                    times.append(took)
                    if took > performance_time(out.name[:-3]):
                        self.outcome.late_count += 1
                        if len(self.outcome.late) < LATE_KEPT:
                            self.outcome.late.append((out.name, took))
                        _late_log.report("late_answer", "%s %s sent after %.1f ms, beyond "
                                         "V2G_SECC_Msg_Performance_Time", self.conn.id, out.name, took * 1e3)
                self.sent_at, self.sent_name = t, out.name
            elif isinstance(out, Write):  # a test system's raw bytes
                if not self.conn.closed:
                    try:
                        self.conn.write_nowait(out.data)
                    except (ConnectionClosed, OSError) as e:
                        self.peer_gone(f"connection lost: {e}")
            elif isinstance(out, Disconnect):  # a test system hangs up and goes on watching its timers
                self.conn.abort(out.reset)
            elif isinstance(out, Timer):
                old = self.timers.pop(out.name, None)
                if old is not None:
                    old.cancel()
                if out.delay is not None:
                    self.timers[out.name] = self.loop.call_later(out.delay, self.fire, out.name)
            elif isinstance(out, (Closed, Negotiated)):
                self.finish(out)
            elif isinstance(out, Event) and out.name == "internal_error":
                # a local fault: always logged, with the traceback of the builder's exception
                error = out.data.get("error")
                log.error("%s: internal error: cannot build %s: %s", self.conn.id, out.data.get("name"), error,
                          exc_info=error if isinstance(error, BaseException) else None)

    def fire(self, name: str) -> None:
        self.timers.pop(name, None)
        if not self.closed.done():
            now = self.loop.time()
            self.advance(now)
            self.apply(now, self.machine.timer(now, name))

    def received(self, message: V2GTPMessage) -> None:
        t = self.received_at = time.perf_counter()
        self.outcome.received += 1
        if self.sent_at is not None and self.sent_name.endswith("Req"):
            name = self.sent_name[:-3]
            rtts = self.outcome.round_trips.get(name)
            if rtts is None:
                rtts = self.outcome.round_trips[name] = Samples()
            rtts.append(t - self.sent_at)
            self.sent_at = None
        now = self.loop.time()
        self.advance(now)
        self.apply(now, self.machine.receive(now, message))

    def peer_gone(self, detail: str, reason: Reason = Reason.PEER_CLOSED) -> None:
        """The connection is gone. A machine that watches for that (the test system) is told and runs on
        until it closes; any other ends here."""
        watch = getattr(self.machine, "peer_closed", None)
        if watch is None:
            self.finish(Closed(reason, detail))
        elif not self.closed.done() and not self.told_closed:
            self.told_closed = True
            now = self.loop.time()
            self.apply(now, watch(now, detail))

    def finish(self, close: Closed | Negotiated) -> None:
        if not self.closed.done():
            self.closed.set_result(close)


async def run_machine(conn: V2GConnection, machine: Machine, *, observe: Observer | None = None) -> Outcome:
    """Until the machine closes (the connection is closed after) or, for a handshake, negotiates (the
    connection stays open; ``Outcome.negotiated`` says what for), or the peer goes away."""
    d = _Driver(conn, machine, observe)
    t0 = d.loop.time()

    async def read() -> None:
        try:
            while not d.closed.done():
                d.received(await conn.receive())
        except (ConnectionClosed, V2GTPProtocolError) as e:
            d.peer_gone(f"connection closed: {e}")
        except Exception as e:  # our bug, not the peer's: end this session now, not at the next timeout
            log.exception("%s: protocol machine failed", conn.id)
            d.finish(Closed(Reason.INTERNAL_ERROR, f"internal error: {type(e).__name__}: {e}"))

    reader = d.loop.create_task(read())
    keep_open = False
    try:
        d.stepped = t0
        d.apply(t0, machine.start(t0))
        end = await d.closed
        if isinstance(end, Negotiated):
            keep_open = True
            d.outcome.ok, d.outcome.negotiated = True, end
        else:
            d.outcome.ok, d.outcome.reason, d.outcome.detail, d.outcome.local = end.ok, end.reason, end.text, end.local
    finally:
        for h in d.timers.values():
            h.cancel()
        if not reader.done():
            reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        if not keep_open:
            await conn.close()
        d.outcome.seconds = d.loop.time() - t0
    return d.outcome


def settle_heap() -> None:
    """Call once after start-up: moves the objects alive now (the generated codecs are tens of thousands)
    out of the garbage collector's reach. A full collection over them takes ~10 ms and would land in
    the middle of CurrentDemand round trips (the SECC has 25 ms to answer)."""
    gc.collect()
    gc.freeze()
