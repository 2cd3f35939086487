"""Real cars against v2gkit's SECC: each recorded session's requests, byte for byte, over loopback TCP.

Each session meets its own ``SECCLink`` on ::1, set up as the recorded charger was: the protocol it
negotiated (and no other), DC or AC as it offered, the SessionID it assigned (fixed, so the car's recorded
requests carry the right one). Sessions of one capture share the paused-session registry, so a car that
paused and came back meets the same charger.

The replaying car behaves as a car: it sends its own supportedAppProtocolReq where one was recorded
(otherwise v2gkit's, offering the session's protocol), re-sends a request while the SECC answers
EVSEProcessing=Ongoing and the recording moves on, and drops further recorded polls of a loop the SECC
has already finished. A session passes when every request is answered OK, or when the first non-OK
answer carries the ResponseCode the recorded charger gave to that request.

The same replay plays the cars against any SECC (``Target``: found by SDP on an interface or on ::1, as a
car finds it). That SECC assigns its own SessionIDs: every request after SessionSetup carries the one it
gave, spliced into the car's bits (nothing else changes). A car whose own handshake would pick another
protocol offers the recorded one instead; a session whose car asks for a mode that SECC does not offer is
skipped, not failed.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..exi import api as exi
from ..exi.errors import ExiError
from ..net.link import SECCLink
from ..net.runner import run_machine
from ..net.sdp import DiscoveryError, discover
from ..net.v2g import ConnectionClosed, TraceSink, V2GConnection, V2GTPProtocolError, connect
from ..sdp import SDP_PORT
from ..session.din2 import SECCConfig, SECCSession
from ..session.din2.dialect import Dialect, MessageError
from ..session.handshake import EVHandshake, Negotiated
from ..session.paused import PausedSessions
from ..sim.evse import SimulatedACEVSE, SimulatedDCEVSE
from ..v2gtp import PayloadType
from .captures import Frame, RecordedSession
from .tables import Row

__all__ = ["CarReplay", "ReplayResult", "Target", "replay_cars", "summary_rows"]

#: the charger the cars meet: wide limits (800 V cars, 500 A), an isolation test and ramps that do not
#: hold a replay up. Its limits never decide a ResponseCode of the flow replayed here.
DC_CHARGER = {"max_voltage": 1000.0, "max_current": 500.0, "max_power": 400_000.0, "cable_check_time": 0.0,
              "voltage_slew": 1e6, "current_slew": 1e6}
AC_CHARGER = {"max_current": 32.0}
#: how long the replaying car waits for an answer, how often it polls an Ongoing loop and for how long
ANSWER_TIMEOUT = 5.0
POLL_INTERVAL = 0.005
POLL_LIMIT = 10.0
#: how often the car tries another SECC again (SDP, then TCP) when its TCP connection is refused
CONNECT_ATTEMPTS = 3
#: loops whose answers say Ongoing/Finished in EVSEProcessing
_POLLED = frozenset({"Authorization", "ChargeParameterDiscovery", "CableCheck"})


@dataclass(frozen=True)
class Target:
    """Another SECC to replay the cars into, found by SDP like a car finds it: on ``interface`` or on ::1."""

    interface: str | None = None
    loopback: bool = False
    sdp_port: int = SDP_PORT

    def __str__(self) -> str:
        return f"the SECC on {'::1' if self.loopback else self.interface} (SDP port {self.sdp_port})"


@dataclass
class ReplayResult:
    session: RecordedSession
    #: "ok" (every request answered OK), "agrees" (first non-OK = the recorded charger's code),
    #: "differs" (another code, or the SECC went quiet or closed), "error" (the replay could not run),
    #: "skipped" (another SECC that does not offer what this car asks for)
    verdict: str
    sent: int = 0
    #: the first non-OK answer: (request, v2gkit's code, the recorded charger's code)
    first_failure: tuple[str, str, str | None] | None = None
    detail: str = ""
    seconds: float = 0.0
    #: the recorded charger's first non-OK code anywhere in the session (for the table)
    charger_failed: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict in ("ok", "agrees")


class _Charger:
    """The session handler of the SECC under test: an SECCSession configured as the recorded charger."""

    def __init__(self, session: RecordedSession, paused: PausedSessions) -> None:
        self.session, self.paused = session, paused
        self.closes: list[str] = []

    async def __call__(self, conn: V2GConnection, negotiated: Negotiated) -> None:
        s = self.session
        evse = SimulatedDCEVSE(**DC_CHARGER) if s.dc else SimulatedACEVSE(**AC_CHARGER)
        machine = SECCSession(s.protocol, evse, SECCConfig(dc=s.dc, session_id=s.session_id or bytes(8)),
                              self.paused)
        outcome = await run_machine(conn, machine)
        self.closes.append(outcome.detail)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


class CarReplay:
    """Replays recorded car sessions into v2gkit's SECC on ::1. Each session meets an SECC that speaks
    only the protocol the recorded charger negotiated; the sessions of one capture share its paused
    sessions."""

    def __init__(self, target: Target | None = None, tracer: TraceSink | None = None) -> None:
        self.target, self.tracer = target, tracer
        self._paused: dict[str, PausedSessions] = {}
        self.charger: _Charger | None = None

    async def run(self, session: RecordedSession) -> ReplayResult:
        t0 = time.perf_counter()
        if self.target is None:
            paused = self._paused.setdefault(session.source, PausedSessions())
            self.charger = _Charger(session, paused)
            link = SECCLink(loopback=True, protocols=(session.protocol,), session=self.charger,
                            sdp_port=free_udp_port(), tracer=self.tracer)
            async with link:
                port = next(iter(link.servers.values())).port
                res = await self._drive(session, "::1", port, None)
        else:
            for _ in range(CONNECT_ATTEMPTS):  # as a car does: SDP again when the TCP connection fails
                try:
                    # the standard's SDP retries (50 x 0.25 s): an SECC may take seconds to serve again
                    # after a session (Josev keeps the old connection for 5 s after SessionStopRes)
                    found, _ = await discover(interface=self.target.interface, loopback=self.target.loopback,
                                              port=self.target.sdp_port)
                except DiscoveryError as e:
                    res = ReplayResult(session, "error", detail=f"SDP: {e}")
                    break
                res = await self._drive(session, str(found.address), found.port, self.target.interface)
                if not (res.verdict == "error" and res.detail.startswith("TCP ")):
                    break
        res.seconds = time.perf_counter() - t0
        res.charger_failed = _charger_failed(session)
        return res

    def _why(self) -> str:
        return self.charger.closes[-1] if self.charger and self.charger.closes else ""

    async def _drive(self, session: RecordedSession, host: str, port: int, interface: str | None,
                     own_handshake: bool = False) -> ReplayResult:
        d = Dialect(session.protocol)
        try:  # on v2gkit's own SECC the link records both directions; into another SECC the car's side does
            conn = await connect(host, port, interface=interface, tracer=self.tracer if self.target else None)
        except (OSError, TimeoutError) as e:  # the SECC announced a port it does not serve (any more)
            return ReplayResult(session, "error", detail=f"TCP [{host}]:{port}: {e}")
        try:
            hs = None if own_handshake else session.handshake
            offer = EVHandshake(session.protocol)
            await conn.send(PayloadType.EXI, hs.payload if hs is not None else offer.request())
            answer = await conn.receive(ANSWER_TIMEOUT)
            sap_res = exi.decode(answer.payload, "apphand")
            if not sap_res.response_code.name.startswith("OK"):
                if self.target is not None and hs is None:  # that SECC does not speak the recorded protocol
                    return ReplayResult(session, "skipped", 1, detail=f"{self.target} answers "
                                        f"{sap_res.response_code.name} to {session.protocol}")
                return ReplayResult(session, "error", 1, detail=f"handshake: {sap_res.response_code.name}")
            if hs is not None and self.target is not None:
                sap_req = exi.decode(hs.payload, "apphand")
                chosen = next((p.protocol_namespace for p in sap_req.app_protocol
                               if p.schema_id == sap_res.schema_id), "")
                if chosen != offer.offers[0].namespace:  # that SECC prefers another of the car's protocols:
                    await conn.close()  # the recorded session again, with a handshake offering its protocol
                    return await self._drive(session, host, port, interface, own_handshake=True)
            return await self._requests(conn, d, session)
        except (ConnectionClosed, V2GTPProtocolError, TimeoutError, ExiError, MessageError) as e:
            return ReplayResult(session, "differs", detail=f"{type(e).__name__}: {e} {self._why()}".strip())
        finally:
            await conn.close()

    async def _requests(self, conn: V2GConnection, d: Dialect, session: RecordedSession) -> ReplayResult:
        reqs = session.requests
        sent = 1  # the handshake
        finished: set[str] = set()  # loops the SECC has ended: the car does not poll them again
        i = 0
        polling_since: float | None = None
        sid: bytes | None = None  # another SECC's SessionID, once it gave one
        while i < len(reqs):
            f = reqs[i]
            if f.kind in finished:
                i += 1
                continue
            payload = f.payload
            if sid is not None and f.kind != "SessionSetup" and f.session_id != sid:
                payload = d.with_session_id(payload, sid)
            await conn.send(PayloadType.EXI, payload)
            sent += 1
            try:
                answer = await conn.receive(ANSWER_TIMEOUT)
            except ConnectionClosed:
                silent = (f.name, "no answer", _recorded_code(d, session, f))
                why = f"SECC closed the connection after {f.name}: {self._why() or 'closed'}"
                return ReplayResult(session, "differs", sent, silent, why)
            except TimeoutError:
                silent = (f.name, "no answer", _recorded_code(d, session, f))
                why = f"no answer to {f.name} within {ANSWER_TIMEOUT:g} s"
                return ReplayResult(session, "differs", sent, silent, why)
            got_sid, name, is_req, body = d.decode(answer.payload)
            code = body.response_code
            if is_req or name != f.kind:
                return ReplayResult(session, "differs", sent, detail=f"{name} answer to {f.name}")
            if self.target is not None:
                if name == "SessionSetup":
                    sid = got_sid
                elif name == "ServiceDiscovery" and d.is_ok(code):
                    wanted = _requested_mode(d, reqs)
                    offered = d.modes_of(body)
                    if wanted and offered and wanted not in offered:
                        why = f"{self.target} offers {', '.join(offered)}, the car asks {wanted}"
                        return ReplayResult(session, "skipped", sent, detail=why)
            if not d.is_ok(code):
                recorded = _recorded_code(d, session, f)
                verdict = "agrees" if recorded == code.name else "differs"
                return ReplayResult(session, verdict, sent, (f.name, code.name, recorded))
            nxt = reqs[i + 1] if i + 1 < len(reqs) else None
            ongoing = f.kind in _POLLED and body.evse_processing.name == "Ongoing"
            if ongoing and nxt is not None and nxt.kind != f.kind:
                polling_since = polling_since or time.perf_counter()
                if time.perf_counter() - polling_since > POLL_LIMIT:
                    return ReplayResult(session, "differs", sent, (f.name, "Ongoing", None),
                                        f"{f.kind} still Ongoing after {POLL_LIMIT:g} s")
                await asyncio.sleep(POLL_INTERVAL)
                continue  # the same request again, as a car polls
            polling_since = None
            if f.kind in _POLLED and not ongoing:
                finished.add(f.kind)
            if f.kind == "PowerDelivery":  # a renegotiation opens the loops again
                finished.clear()
            i += 1
        return ReplayResult(session, "ok", sent)


def _requested_mode(d: Dialect, reqs: Sequence[Frame]) -> str:
    cpd = next((f for f in reqs if f.kind == "ChargeParameterDiscovery"), None)
    return d.requested_mode(d.decode(cpd.payload)[3]) if cpd is not None else ""


def _recorded_code(d: Dialect, session: RecordedSession, request: Frame) -> str | None:
    rec = session.recorded_answer(request)
    if rec is None:
        return None
    try:
        return d.decode(rec.payload)[3].response_code.name
    except (ExiError, MessageError, AttributeError):
        return None


def _charger_failed(session: RecordedSession) -> str | None:
    d = Dialect(session.protocol)
    for f in session.responses:
        try:
            code = d.decode(f.payload)[3].response_code
        except (ExiError, MessageError, AttributeError):
            continue
        if not d.is_ok(code):
            return f"{f.name} {code.name}"
    return None


async def replay_cars(sessions: Iterable[RecordedSession],
                      progress: Callable[[ReplayResult], None] | None = None,
                      target: Target | None = None, tracer: TraceSink | None = None) -> list[ReplayResult]:
    """Every session with a real car and at least one request, in order: each against v2gkit's SECC set up
    as the recorded charger, or all against ``target``. ``tracer`` records the traffic (pcapng, JSON lines)."""
    out: list[ReplayResult] = []
    r = CarReplay(target, tracer)
    for s in sessions:
        if not s.real_car or not s.requests:
            continue
        res = await r.run(s)
        out.append(res)
        if progress is not None:
            progress(res)
    return out


@dataclass
class ModelRow(Row):
    skipped: int = 0
    agrees: list[str] = field(default_factory=list)


def summary_rows(results: Sequence[ReplayResult]) -> list[ModelRow]:
    """One row per car model: protocols, sessions, requests sent, and how they ended."""
    rows: dict[str, ModelRow] = {}
    for r in results:
        s = r.session
        row = rows.setdefault(s.car, ModelRow(s.car))
        row.count(s, r.sent)
        if r.verdict == "skipped":
            row.skipped += 1
        elif r.verdict == "ok":
            row.ok += 1
        elif r.verdict == "agrees" and r.first_failure:
            row.agrees.append(f"{r.first_failure[0]} {r.first_failure[1]}")
        else:
            row.failed.append(f"{s.label}: {r.first_failure or ''} {r.detail}".strip())
    return sorted(rows.values(), key=lambda x: x.model.lower())


def describe(result: ReplayResult) -> str:
    s = result.session
    head = f"{s.label} ({s.car}, {s.protocol} {'DC' if s.dc else 'AC'})"
    if result.verdict == "ok":
        return f"{head}: OK throughout, {result.sent} requests"
    if result.first_failure:
        req, ours, theirs = result.first_failure
        return f"{head}: {req} -> {ours} (recorded charger: {theirs}) {result.detail}".strip()
    return f"{head}: {result.verdict} {result.detail}"

