"""Per request of the car, the same five cases (``_001`` .. ``_005``), for every protocol that has it:

001  good case: the request carries the SessionID the SECC gave and valid mandatory content (``_rules``);
002  the response says FAILED: the car stops (no further request; it closes the TCP connection);
003  the response carries another SessionID: the car stops;
004  another response comes (ServiceDiscoveryRes; for ServiceDiscovery: SessionSetupRes): the car stops;
005  no response comes: the car gives up after its V2G_EVCC_Msg_Timeout, not before.

SessionSetup has no 003 (its response assigns the SessionID). Cases 006 and up of a topic are in the other
files of this folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ... import steps
from ...catalog import case
from ...script import Tester
from ._common import (
    STAGES,
    TERMINATION,
    Stage,
    every,
    failed,
    family,
    gives_up,
    other_response,
    other_session,
    stops,
    tester_ended_early,
    withhold,
)
from ._rules import REQUIREMENTS, RULES, WHAT

#: what ends a session after a FAILED response, per protocol (the IDs as the repository cites them: ISO
#: 15118-2 [V2G2-735] the EVCC ignores the other parameters, [V2G2-539]/[V2G2-034] the session ends; DIN 70121
#: [V2G-DC-665]; ISO 15118-20 [V2G20-1967]/[V2G20-2220] the EVCC terminates)
FAILED_IDS = {
    "din": ("V2G-DC-665",),
    "iso2": ("V2G2-735", "V2G2-539", "V2G2-034"),
    "iso20": ("V2G20-1967", "V2G20-2220"),
}
#: the EVCC gives up after V2G_EVCC_Msg_Timeout (ISO 15118-20 [V2G20-1966]; the charge loops' values
#: [V2G20-1499] AC, [V2G20-1501] DC)
TIMEOUT_IDS = {"iso20": ("V2G20-1966",)}
LOOP_TIMEOUT_IDS = {("iso20", "DC"): ("V2G20-1501",), ("iso20", "AC"): ("V2G20-1499",)}

PROTOCOL_NAMES = {"din": "DIN SPEC 70121", "iso2": "ISO 15118-2", "iso20": "ISO 15118-20"}


def _ids(table: dict[str, tuple[str, ...]], protocols: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i for p in protocols for i in table.get(p, ()))


def named(s: Stage, suffix: str, protocols: tuple[str, ...] | None = None) -> str:
    """The message in every protocol (of ``protocols``, default the stage's), e.g.
    "PaymentServiceSelectionRes (DIN SPEC 70121: ServicePaymentSelectionRes)"."""
    protocols = protocols or s.protocols
    main = next(getattr(s, p) for p in ("iso2", "iso20", "din") if p in protocols and getattr(s, p))
    others = [f"{PROTOCOL_NAMES[p]}: {getattr(s, p)}{suffix}" for p in protocols if getattr(s, p) != main]
    return f"{main}{suffix}" + (f" ({'; '.join(others)})" if others else "")


def _add(case_id: str, body: Callable[[Tester], Any], **kw: Any) -> None:
    def run(t: Tester) -> None:
        body(t)

    run.__qualname__ = run.__name__ = case_id
    case(case_id, from_standard=False, **kw)(run)


# ------------------------------------------------------------------------------------------- the bodies
def good(s: Stage) -> Callable[[Tester], None]:
    rule = RULES[(s.kind, s.topic)]

    def body(t: Tester) -> None:
        fam = family(t)
        name = s.req(t)
        seen = 0

        def each(req: Any) -> None:
            nonlocal seen
            seen += 1
            if s.topic != "SessionSetup":
                steps.same_session(t, req)
            rule(t, fam, req)

        if s.loop:
            every(t, name, each)
        else:
            got = t.receive(name)
            if got is not None:
                each(got)
        if not seen:
            if s.optional:
                t.inconc(f"not applicable: the car sent no {name} ({s.optional})")
            if tester_ended_early(t):
                t.inconc(f"the car sent no {name}: {tester_ended_early(t)}")
            t.fail(f"the car never sent {name}" + ("" if t.connected else " (it closed the connection)"))
        t.log(f"{seen} {name} checked")

    return body


def with_failed(s: Stage) -> Callable[[Tester], None]:
    def body(t: Tester) -> None:
        res = s.res(t)
        t.preamble(res)
        mark = len(t.received)
        t.send(res, failed)
        stops(t, mark, f"{res} with ResponseCode FAILED")

    return body


def with_other_session(s: Stage) -> Callable[[Tester], None]:
    def body(t: Tester) -> None:
        res = s.res(t)
        t.preamble(res)
        mark = len(t.received)
        t.set(res, other_session, header=True)
        t.send(res)
        # ISO 15118-20 lets the car ignore what is not a valid response and stop at its message timeout
        stops(t, mark, f"{res} with another SessionID", within=s.msg_timeout(t) + TERMINATION)

    return body


def with_other_message(s: Stage) -> Callable[[Tester], None]:
    def body(t: Tester) -> None:
        res, other = s.res(t), other_response(s)
        t.preamble(res)
        mark = len(t.received)
        t.send(other)
        stops(t, mark, f"{other} instead of {res}", within=s.msg_timeout(t) + TERMINATION)

    return body


def without_answer(s: Stage) -> Callable[[Tester], None]:
    def body(t: Tester) -> None:
        res = s.res(t)
        t.preamble(res)
        mark = len(t.received)
        since = t.received[-1].t
        withhold(t, res)
        gives_up(t, since, s.msg_timeout(t), res, mark)

    return body


# ------------------------------------------------------------------------------------------- the cases
def _register(s: Stage) -> None:
    req, res = named(s, "Req"), named(s, "Res")
    base = f"TC_EVCC_{s.kind}_VKT_{s.topic}_"
    kind = {"CMN": "", "DC": "DC ", "AC": "AC "}[s.kind]
    protocols = s.protocols
    timeouts = _ids(TIMEOUT_IDS, protocols) + tuple(
        i
        for p in protocols
        for i in LOOP_TIMEOUT_IDS.get((p, s.kind), ())
        if s.topic in ("CurrentDemand", "ChargingStatus")
    )
    pre = f"The car runs a {kind}session with the test system (the SECC) up to its {req}."
    _add(
        base + "001",
        good(s),
        protocols=protocols,
        quick=s.topic == "SessionSetup",
        purpose=f"Verify that the car's {req} carries {WHAT[(s.kind, s.topic)]}."
        + (" Every request of the loop is checked." if s.loop else ""),
        requirements=REQUIREMENTS.get((s.kind, s.topic), ()),
        preconditions=pre,
        steps=(
            "Play the session with valid answers.",
            f"Check every {req} the car sends." if s.loop else f"Check the car's {req}.",
        ),
    )
    _add(
        base + "002",
        with_failed(s),
        protocols=protocols,
        quick=s.topic == "SessionSetup",
        purpose=f"Verify that the car stops the session when {res} says FAILED: it sends no further request "
        f"and closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
        requirements=_ids(FAILED_IDS, protocols),
        preconditions=pre,
        steps=(
            f"Answer the car's {req} with ResponseCode FAILED.",
            "Check that no request follows and that the car closes the TCP connection.",
        ),
    )
    if s.topic != "SessionSetup":
        _add(
            base + "003",
            with_other_session(s),
            protocols=protocols,
            purpose=f"Verify that the car stops the session when {res} carries a SessionID other than the "
            "one "
            f"SessionSetupRes gave: it sends no further request and closes the TCP connection (at once, "
            f"or after its V2G_EVCC_Msg_Timeout where it ignores the answer, as ISO 15118-20 allows for "
            f"anything that is not a valid response).",
            preconditions=pre,
            steps=(
                f"Answer the car's {req} with a {res} whose header carries another SessionID.",
                "Check that no request follows and that the car closes the TCP connection within its "
                "V2G_EVCC_Msg_Timeout + par_CMN_TCP_Connection_Termination_Timeout.",
            ),
        )
    other = other_response(s)
    _add(
        base + "004",
        with_other_message(s),
        protocols=protocols,
        purpose=f"Verify that the car stops the session when the SECC answers its {req} with a valid {other} "
        f"instead of {res}: it sends no further request and closes the TCP connection (at once, or "
        f"after its V2G_EVCC_Msg_Timeout where it ignores the answer).",
        preconditions=pre,
        steps=(
            f"Answer the car's {req} with {other}.",
            "Check that no request follows and that the car closes the TCP connection within its "
            "V2G_EVCC_Msg_Timeout + par_CMN_TCP_Connection_Termination_Timeout.",
        ),
    )
    _add(
        base + "005",
        without_answer(s),
        protocols=protocols,
        purpose=f"Verify that the car waits V2G_EVCC_Msg_Timeout for {res} (not less), sends nothing more, "
        "and "
        f"then stops the session by closing the TCP connection within "
        f"par_CMN_TCP_Connection_Termination_Timeout.",
        requirements=timeouts,
        preconditions=pre,
        steps=(
            f"Do not answer the car's {req}.",
            "Check the time the car closes the TCP connection: at least V2G_EVCC_Msg_Timeout after the "
            "request (20 ms + 1 % earlier is tolerated), at most par_CMN_TCP_Connection_Termination_Timeout "
            "later.",
        ),
    )


for _s in STAGES:
    _register(_s)
