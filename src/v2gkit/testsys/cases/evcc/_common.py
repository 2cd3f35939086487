"""What the TC_EVCC cases share: the requests a car sends in each protocol, the timeouts the car must keep,
the charger's faults (FAILED, another SessionID, another message, no answer, Ongoing) and the checks of what
the car does about them.

The tester plays the SECC with v2gkit's own SECC machine, which answers everything a case does not touch. A
case holds the response under test (``t.preamble(<Res>)``), bends it and sends it, then watches the car:

- ``stops``: the car sends no further request and closes the TCP connection within
  par_CMN_TCP_Connection_Termination_Timeout (ISO 15118-4's wording for "terminates the session");
- ``gives_up``: the car waits for a response it never gets for its V2G_EVCC_Msg_Timeout (not less) and then
  closes (within the termination timeout);
- ``goes_on_or_stops``: for values a response may not carry: the car either goes on or stops, but it must not
  hang (say nothing and keep the connection open past its timeouts).

Requirement IDs are only those the repository cites; where none is at hand the purpose states the rule.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .... import timing
from ...emulator import Incoming
from ...script import Tester

#: par_CMN_TCP_Connection_Termination_Timeout (ISO 15118-4): a closing SUT has this long
TERMINATION = timing.TCP_TERMINATION_TIMEOUT


def early(limit: float) -> float:
    """How much earlier than ``limit`` a car may act and still count as "not before the timeout": a car's
    timer starts when it sends, the tester's clock when the request arrives (a few ms later on a real link),
    and ECU timers tick in 10 ms steps. 20 ms plus 1 % of the limit."""
    return 0.02 + 0.01 * limit


# ------------------------------------------------------------------------------------ the protocols' names
def family(t: Tester) -> str:
    """ "din", "iso2" or "iso20" (the negotiated protocol, or before the handshake the planned one)."""
    p = t.protocol or ""
    return "iso20" if p.startswith("iso20") else p


@dataclass(frozen=True)
class Stage:
    """One request/response pair of the car's session, as each protocol names it (None: not in it)."""

    topic: str  # the case ID's topic: the ISO 15118-2 name (ISO 15118-4 names SECC cases so)
    kind: str  # "CMN", "DC" or "AC"
    din: str | None
    iso2: str | None
    iso20: str | None
    #: the car repeats it (a loop: Ongoing polls, PreCharge, the energy loop)
    loop: bool = False
    #: the car may skip it (then its good case is inconclusive), and why
    optional: str = ""

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(p for p in ("din", "iso2", "iso20") if getattr(self, p) is not None)

    def stem(self, fam: str) -> str:
        name = getattr(self, fam, None)
        if name is None:
            raise ValueError(f"{self.topic} has no message in {fam}")
        return name

    def req(self, t: Tester) -> str:
        """The request's name as the tester receives it."""
        return incoming_name(family(t), self.stem(family(t)) + "Req")

    def res(self, t: Tester) -> str:
        return self.stem(family(t)) + "Res"

    def msg_timeout(self, t: Tester) -> float:
        """V2G_EVCC_Msg_Timeout for this request (timing.py: ISO 15118-4 values, -20 Table 215..217)."""
        fam = family(t)
        if fam == "iso20":
            return timing.ISO20_EVCC_MSG_TIMEOUT.get(self.stem(fam), timing.ISO20_EVCC_MSG_TIMEOUT_DEFAULT)
        return timing.EVCC_MSG_TIMEOUT.get(self.iso2 or self.topic, timing.EVCC_MSG_TIMEOUT_DEFAULT)


def incoming_name(fam: str, name: str) -> str:
    """The name the tester gives a received message: the schema's element name, except where the emulator
    names a message by its type. DIN SPEC 70121 types SessionStopReq as SessionStopType, so the emulator
    of today calls it "SessionStop" (reported to the engine). Asking the emulator keeps the cases right
    before and after the fix."""
    if fam == "din" and name == "SessionStopReq":
        return _din_session_stop_name()
    return name


@functools.cache
def _din_session_stop_name() -> str:
    """How the tester's emulator names a DIN SessionStopReq it receives."""
    from ....session.din2.dialect import Dialect
    from ....v2gtp import PayloadType, V2GTPMessage
    from ...drive import Setup, make_emulator

    d = Dialect("din")
    emu = make_emulator("secc", Setup("din"))
    emu.protocol, emu.session, emu.t0 = "din", emu.machine, 0.0
    got = emu._decode(
        0.0,
        V2GTPMessage(
            PayloadType.EXI,
            d.encode(
                b"\x01",
                "SessionStop",
                True,  # noqa: SLF001
                d.session_stop_req(False),
            ),
        ),
    )
    return got.name if got is not None else "SessionStopReq"


def is_request(m: Incoming) -> bool:
    return m.name.endswith("Req") or m.name == "SessionStop"


CMN, DC, AC = "CMN", "DC", "AC"
#: every request/response pair a car sends in an EIM session, in session order
STAGES: tuple[Stage, ...] = (
    Stage("SessionSetup", CMN, "SessionSetup", "SessionSetup", "SessionSetup"),
    Stage("AuthorizationSetup", CMN, None, None, "AuthorizationSetup"),
    Stage("ServiceDiscovery", CMN, "ServiceDiscovery", "ServiceDiscovery", "ServiceDiscovery"),
    Stage("ServiceDetail", CMN, None, None, "ServiceDetail"),
    Stage("PaymentServiceSelection", CMN, "ServicePaymentSelection", "PaymentServiceSelection", None),
    Stage("ServiceSelection", CMN, None, None, "ServiceSelection"),
    Stage("Authorization", CMN, "ContractAuthentication", "Authorization", "Authorization", loop=True),
    Stage(
        "ChargeParameterDiscovery",
        DC,
        "ChargeParameterDiscovery",
        "ChargeParameterDiscovery",
        "DC_ChargeParameterDiscovery",
        loop=True,
    ),
    Stage(
        "ChargeParameterDiscovery",
        AC,
        None,
        "ChargeParameterDiscovery",
        "AC_ChargeParameterDiscovery",
        loop=True,
    ),
    Stage("ScheduleExchange", CMN, None, None, "ScheduleExchange", loop=True),
    Stage("CableCheck", DC, "CableCheck", "CableCheck", "DC_CableCheck", loop=True),
    Stage("PreCharge", DC, "PreCharge", "PreCharge", "DC_PreCharge", loop=True),
    Stage("PowerDelivery", DC, "PowerDelivery", "PowerDelivery", "PowerDelivery"),
    Stage("PowerDelivery", AC, None, "PowerDelivery", "PowerDelivery"),
    Stage("CurrentDemand", DC, "CurrentDemand", "CurrentDemand", "DC_ChargeLoop", loop=True),
    Stage("ChargingStatus", AC, None, "ChargingStatus", "AC_ChargeLoop", loop=True),
    Stage(
        "WeldingDetection",
        DC,
        "WeldingDetection",
        "WeldingDetection",
        "DC_WeldingDetection",
        loop=True,
        optional="WeldingDetection is the car's option: it went from PowerDelivery(Stop) to SessionStop",
    ),
    Stage("SessionStop", CMN, "SessionStop", "SessionStop", "SessionStop"),
)


def stage(topic: str, kind: str = CMN) -> Stage:
    for s in STAGES:
        if s.topic == topic and s.kind == kind:
            return s
    raise KeyError(f"{kind} {topic}")


def other_response(s: Stage) -> str:
    """A response of another message, to send instead of the one the car waits for."""
    return "SessionSetupRes" if s.topic == "ServiceDiscovery" else "ServiceDiscoveryRes"


# ------------------------------------------------------------------------------------ the tester's machine
def lead_astray(t: Tester) -> None:
    """Let the tester's own SECC machine follow the script's edits: an edited answer (EVSEProcessing Ongoing,
    a voltage that never comes) makes the car repeat a request the machine believes done, and a strict
    machine would answer the repeat with FAILED_SequenceError. Call before the handshake. (Engine wish: a
    public switch; this sets the emulator's hooks, which the session machine reads when it is made.)"""
    t._emu.hooks.strict = False  # noqa: SLF001 - no public switch yet (reported)


def sent(t: Tester, name: str) -> Any:
    """The body of the last ``name`` the tester sent (None if it has not sent one). ``t.pending`` gives the
    held message first, which is not on the wire yet (engine wish: ``t.last_sent(name)``)."""
    out = t._emu.last_out.get(name)  # noqa: SLF001 - see above
    return out[0] if out is not None else None


#: how the tester's own SECC machine may end that is the car's doing (it broke the rules, went silent or
#: hung up); any other early end (REFUSED: the machine answered FAILED, e.g. its simulated charger's
#: insulation test ran out; an internal error) says nothing about the car, so a case that could not reach
#: its point is inconclusive then
CAR_FAULTS = frozenset(
    {
        "UNDECODABLE",
        "WRONG_MESSAGE",
        "SEQUENCE_ERROR",
        "UNKNOWN_SESSION",
        "SEQUENCE_TIMEOUT",
        "HANDSHAKE_TIMEOUT",
        "NO_NEGOTIATION",
    }
)


def tester_ended_early(t: Tester) -> str:
    """Why the tester's own SECC ended the session before the case got its chance, when that is not the car's
    doing ("" otherwise, or while it plays on)."""
    ended = t.machine_closed
    if ended is None or ended.reason.ok or ended.reason.name in CAR_FAULTS:
        return ""
    return f"the test system's SECC ended the session first ({ended.reason.name}: {ended.text})"


def requests_since(t: Tester, mark: int) -> list[Incoming]:
    return [m for m in t.received[mark:] if is_request(m)]


# ------------------------------------------------------------------------------------------- values
def num(x: Any) -> float | None:
    """A PhysicalValue (Value x 10^Multiplier), a -20 RationalNumber (Value x 10^Exponent) or a bare number as
    a float; None when absent."""
    if x is None:
        return None
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if hasattr(x, "exponent"):
        return x.value * 10.0**x.exponent
    if hasattr(x, "multiplier"):
        return x.value * 10.0**x.multiplier
    return None


def set_num(x: Any, value: float) -> None:
    """Set a PhysicalValue / RationalNumber in place to ``value``: its own multiplier (exponent), raised until
    the value fits 16 bits."""
    attr = "exponent" if hasattr(x, "exponent") else "multiplier"
    e = getattr(x, attr)
    while abs(round(value / 10.0**e)) > 32767:
        e += 1
    setattr(x, attr, e)
    x.value = int(round(value / 10.0**e))


def enum_name(x: Any) -> str:
    return "" if x is None else getattr(x, "name", str(x))


def set_enum(obj: Any, attr: str, name: str, like: Any = None) -> None:
    """Set ``obj.attr`` to the member ``name`` of its enum type (or of ``like``'s type)."""
    current = getattr(obj, attr) if like is None else like
    setattr(obj, attr, type(current)[name])


def module_of(obj: Any) -> Any:
    """The generated codec module a body belongs to (its types build the parts a case adds)."""
    return sys.modules[type(obj).__module__]


# ----------------------------------------------------------------------------------------- the faults
def failed(body: Any) -> None:
    """ResponseCode FAILED (every protocol has the plain FAILED)."""
    set_enum(body, "response_code", "FAILED")


def other_session(header: Any) -> None:
    """A SessionID that is not the session's: every octet inverted (the same length)."""
    header.session_id = bytes(b ^ 0xFF for b in header.session_id) or b"\xff"


def ongoing(body: Any) -> None:
    set_enum(body, "evse_processing", "Ongoing")


def _nothing(frame: bytes) -> list[bytes]:
    return []


def withhold(t: Tester, name: str) -> None:
    """Let the held ``name`` never reach the car (engine wish: a ``t.withhold(name)``). Sending it with a
    transform that writes nothing does it while the tester's machine plays; once the machine has ended (it
    closes after SessionStopRes) the engine sends a fresh copy instead and would later flush the held one,
    so that one is dropped here (engine issue reported)."""
    ended = t.machine_closed is not None
    t.send(name, transform=_nothing)
    if ended:
        held = t._emu.held  # noqa: SLF001 - the workaround described above
        for h in [h for h in held if h.name == name]:
            held.remove(h)
    t.log(f"{name} withheld")


# ----------------------------------------------------------------------------------------- the checks
def stops(t: Tester, mark: int, what: str, within: float = TERMINATION) -> bool:
    """After ``what`` (``t.received[:mark]`` came before it) the car sends no further request and closes the
    TCP connection within ``within``."""
    closed = t.expect_close(within)
    later = [m.name for m in requests_since(t, mark)]
    ok = t.check(
        not later,
        f"the car sends no further request after {what}"
        if not later
        else f"the car went on after {what}: {', '.join(later[:5])}{' ...' if len(later) > 5 else ''}",
    )
    return (
        t.check(
            closed and t.closed_by == "peer",
            f"the car closes the TCP connection within {within:g} s after {what}"
            if closed
            else f"the car did not close the TCP connection within {within:g} s after {what}",
        )
        and ok
    )


def gives_up(
    t: Tester, since: float, limit: float, what: str, mark: int, *, allowed: Iterable[str] = ()
) -> bool:
    """The car waits ``limit`` s after ``since`` (not less, see ``early``) for ``what`` and then closes within
    TERMINATION; meanwhile it sends no request (but ``allowed`` ones)."""
    closed = t.expect_close(max(0.0, since + limit + TERMINATION - t.now))
    at = t.now - since
    allow = set(allowed)
    later = [m.name for m in requests_since(t, mark) if m.name not in allow]
    t.check(
        not later,
        f"no request while waiting for {what}"
        if not later
        else f"the car sent {', '.join(later[:5])} while waiting for {what}",
    )
    if not closed:
        return t.check(
            False,
            f"the car did not close the TCP connection within {limit:g} s + {TERMINATION:g} s without {what}",
        )
    t.check(t.closed_by == "peer", "the car closed the connection")
    return t.check(
        at >= limit - early(limit),
        f"the car waits {limit:g} s for {what} before it gives up (closed after {at:.3f} s)",
    )


def goes_on_or_stops(t: Tester, s: Stage, mark: int, what: str) -> str:
    """For answers the car may refuse or accept: either its next request comes (it went on) or it closes; it
    must not keep the connection open in silence past its V2G_EVCC_Msg_Timeout + TERMINATION. Returns
    "went on", "stopped" or "hung" (and logs which)."""
    limit = s.msg_timeout(t) + TERMINATION
    start = t.now
    while t.now - start < limit:
        if requests_since(t, mark):
            how = "went on"
            break
        if not t.connected:
            how = "stopped"
            break
        t.wait(min(0.05, limit))
    else:
        how = "went on" if requests_since(t, mark) else ("stopped" if not t.connected else "hung")
    if how == "went on":
        nxt = requests_since(t, mark)[0].name
        t.log(f"after {what} the car went on with {nxt}")
    elif how == "stopped":
        t.log(f"after {what} the car closed the connection")
    t.check(
        how != "hung",
        f"the car neither went on nor closed within {limit:g} s after {what}"
        if how == "hung"
        else f"the car handles {what} ({how})",
    )
    return how


def every(t: Tester, name: str, fn: Callable[[Incoming], None], *, limit: int = 10_000) -> int:
    """Receive every ``name`` until the car ends the session (or stops sending it for the sequence timeout),
    calling ``fn`` on each; returns how many came."""
    n = 0
    while n < limit:
        got = t.receive(name)
        if got is None:
            break
        n += 1
        fn(got)
    return n


def wait_for_request(t: Tester, mark: int, within: float, step: float = 0.02) -> Incoming | None:
    """The first request after ``t.received[:mark]``, waiting up to ``within`` s (None: none came, or the
    connection closed first)."""
    end = t.now + within
    while True:
        got = requests_since(t, mark)
        if got:
            return got[0]
        if not t.connected or t.now >= end:
            return None
        t.wait(min(step, max(end - t.now, 1e-3)))


def keeps_answering(
    t: Tester, res: str, edit: Callable[[Any], None], limit: float, *, first_sent: bool = False
) -> tuple[int, float]:
    """Answer every ``res`` with ``edit`` applied until the car stops asking or ``limit`` s have passed since
    the first; returns (how many answers, when the first went). ``first_sent``: the caller already held
    the first with preamble."""
    n, since = 0, t.now
    while True:
        if not (first_sent and n == 0) and not t.until(res, timeout=max(1e-3, since + limit - t.now)):
            break
        t.send(res, edit)
        n += 1
        if t.now - since >= limit:
            break
    return n, since


def gives_up_polling(
    t: Tester,
    s: Stage,
    edit: Callable[[Any], None],
    limit: float,
    what: str,
    *,
    allowed_after: Iterable[str] = ("SessionStopReq",),
) -> None:
    """The loop case: every answer to the stage's request gets ``edit`` (``Ongoing``, a voltage that never
    comes); the car must keep repeating the request (nothing else but a final SessionStopReq) and give up
    ``limit`` s (not less) after the first such answer, closing the connection within
    V2G_EVCC_Msg_Timeout + TERMINATION after that."""
    lead_astray(t)
    res, req = s.res(t), s.req(t)
    t.preamble(res)
    mark = len(t.received)
    grace = s.msg_timeout(t) + TERMINATION
    n, since = keeps_answering(t, res, edit, limit + grace, first_sent=True)
    closed = t.expect_close(max(0.0, since + limit + grace - t.now))
    at = t.now - since
    allowed = {req, *(incoming_name(family(t), a) for a in allowed_after)}
    others = [m.name for m in requests_since(t, mark) if m.name not in allowed]
    t.log(f"{n} answers with {what}")
    t.check(
        not others,
        f"the car only repeats {req} while {what}"
        if not others
        else f"the car went on with {', '.join(dict.fromkeys(others))} while {what}",
    )
    t.check(n >= 2, f"the car repeats {req} ({n} requests)")
    if not t.check(
        closed and t.closed_by == "peer",
        f"the car ends the session within {limit:g} s + {grace:g} s of {what}"
        if closed
        else f"the car did not close the connection within {limit:g} s + {grace:g} s of {what}",
    ):
        return
    t.check(
        at >= limit - early(limit),
        f"the car keeps trying for {limit:g} s before it gives up (closed after {at:.3f} s)",
    )
