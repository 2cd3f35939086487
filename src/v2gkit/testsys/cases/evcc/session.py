"""The whole session, the good case end to end: the car charges and ends the session itself.

The tester's own SECC machine answers every request and checks the sequence on the way (a request out of order
gets FAILED_SequenceError from it and ends the case); the case checks the SessionID of every request, that the
car charged, that it ended with SessionStopReq, and that it closed the TCP connection after SessionStopRes
within par_CMN_TCP_Connection_Termination_Timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...catalog import case
from ...script import Tester
from ._common import AC, DC, TERMINATION, family, incoming_name, is_request, stage, tester_ended_early

#: a short session (the in-process car charges 79.9 % -> 80 %) ends in seconds; a real car is stopped from its
#: side (its HMI or a target SOC) within this
SESSION_LIMIT = 600.0


def whole(kind: str) -> Callable[[Tester], None]:
    loop = stage("CurrentDemand" if kind == DC else "ChargingStatus", kind)

    def body(t: Tester) -> None:
        closed = t.expect_close(SESSION_LIMIT)
        fam = family(t)
        if tester_ended_early(t):
            t.inconc(tester_ended_early(t))
        reqs = [m for m in t.received if is_request(m) and m.name != "SupportedAppProtocolReq"]
        if not reqs:
            t.fail("the car sent no request")
        setup = reqs[0]
        t.check(setup.name == "SessionSetupReq", f"the session starts with SessionSetupReq ({setup.name})")
        sid = t.session_id
        wrong = [m.name for m in reqs[1:] if m.session_id != sid]
        t.check(
            not wrong,
            f"every request carries the SessionID {sid.hex().upper()}"
            if not wrong
            else f"requests with another SessionID: {', '.join(dict.fromkeys(wrong))}",
        )
        n = sum(1 for m in reqs if m.name == loop.req(t))
        t.check(n > 0, f"the car charged ({n} {loop.req(t)})")
        stop = incoming_name(fam, "SessionStopReq")
        t.check(
            reqs[-1].name == stop, f"the car ends the session with SessionStopReq (last: {reqs[-1].name})"
        )
        ended = t.machine_closed
        in_sequence = ended is not None and ended.reason.name == "TERMINATED"
        why = ended.text if ended is not None else "it did not end"
        t.check(
            in_sequence,
            "the session ran in sequence to its end"
            if in_sequence
            else f"the tester's SECC ended the session: {why}",
        )
        if not closed:
            t.fail(f"the car did not end the session within {SESSION_LIMIT:g} s")
        t.check(t.closed_by == "peer", "the car closes the TCP connection")
        after = t.now - reqs[-1].t
        t.check(
            reqs[-1].name != stop or after <= TERMINATION,
            f"the car closes the TCP connection within {TERMINATION:g} s after SessionStopRes "
            f"({after:.3f} s)",
        )

    return body


def _add(case_id: str, body: Callable[[Tester], Any], **kw: Any) -> None:
    def run(t: Tester) -> None:
        body(t)

    run.__qualname__ = run.__name__ = case_id
    case(case_id, from_standard=False, **kw)(run)


for _kind, _protocols in ((DC, ("din", "iso2", "iso20")), (AC, ("iso2", "iso20"))):
    _add(
        f"TC_EVCC_{_kind}_VKT_Session_001",
        whole(_kind),
        protocols=_protocols,
        quick=True,
        preconditions="The car is plugged in and connects to the test system (the SECC).",
        purpose=f"Verify that the car runs a whole {_kind} session in sequence: it starts with "
        "SessionSetupReq, "
        f"every later request carries the SessionID the SECC gave, it charges, ends with SessionStopReq "
        f"and closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout after "
        f"SessionStopRes.",
        steps=(
            "Answer every request with valid answers (the SECC's rules check the sequence).",
            "Check the SessionIDs, the charge loop, the last request and when the connection closes.",
        ),
    )
