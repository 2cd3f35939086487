"""EVSEProcessing Ongoing: the charger needs time (authorization, a schedule from its backend, the insulation
test). The car repeats the request, goes on once the answer says Finished, and gives up only after its
V2G_EVCC_Ongoing_Timeout (authorization, charge parameters, schedule exchange: 60 s) or
V2G_EVCC_CableCheck_Timeout (40 s), not before (timing.py: ISO 15118-4 and ISO 15118-20 Table 215 values).

``_006``: Ongoing three times, then Finished; ``_007``: Ongoing until the car gives up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .... import timing
from ...catalog import case
from ...script import Tester
from ._common import (
    CMN,
    DC,
    TERMINATION,
    Stage,
    family,
    gives_up_polling,
    incoming_name,
    lead_astray,
    ongoing,
    requests_since,
    set_enum,
    stage,
    wait_for_request,
)
from .messages import named

#: how many Ongoing answers the _006 cases give before Finished
TIMES = 3


def _add(case_id: str, body: Callable[[Tester], Any], **kw: Any) -> None:
    def run(t: Tester) -> None:
        body(t)

    run.__qualname__ = run.__name__ = case_id
    case(case_id, from_standard=False, **kw)(run)


def finished(body: Any) -> None:
    """EVSEProcessing Finished (a DIN/ISO-2 CableCheckRes also says the insulation is fine)."""
    set_enum(body, "evse_processing", "Finished")
    status = getattr(body, "dc_evse_status", None)
    if status is not None and getattr(status, "evse_isolation_status", None) is not None:
        set_enum(status, "evse_isolation_status", "Valid")


def then_finished(s: Stage) -> Callable[[Tester], None]:
    def body(t: Tester) -> None:
        lead_astray(t)
        res, req = s.res(t), s.req(t)
        t.preamble(res)
        first = len(t.received)
        for k in range(TIMES):
            if k and not t.until(res, timeout=s.msg_timeout(t) + TERMINATION):
                t.fail(
                    f"the car did not repeat {req} after {k} Ongoing answer(s)"
                    + ("" if t.connected else " (it closed the connection)")
                )
            t.send(res, ongoing)
        if not t.until(res, timeout=s.msg_timeout(t) + TERMINATION):
            t.fail(f"the car did not repeat {req} after {TIMES} Ongoing answers")
        t.send(res, finished)
        mark = len(t.received)
        repeats = [m.name for m in requests_since(t, first)]
        t.check(
            repeats == [req] * TIMES,
            f"the car repeats {req} while the SECC says Ongoing ({', '.join(repeats)})",
        )
        nxt = wait_for_request(t, mark, s.msg_timeout(t) + TERMINATION)
        if nxt is None:
            t.fail(
                f"the car did not go on after {res} said Finished"
                + ("" if t.connected else " (it closed the connection)")
            )
        assert nxt is not None
        t.check(
            nxt.name not in (req, incoming_name(family(t), "SessionStopReq")),
            f"after Finished the car goes on to the next step ({nxt.name})",
        )

    return body


def until_given_up(s: Stage, limit: Callable[[str], float], what: str) -> Callable[[Tester], None]:
    def body(t: Tester) -> None:
        gives_up_polling(t, s, ongoing, limit(family(t)), what)

    return body


def _ongoing_limit(fam: str) -> float:
    return timing.ISO20_EVCC_ONGOING_TIMEOUT if fam == "iso20" else timing.EVCC_ONGOING_TIMEOUT


def _cable_check_limit(fam: str) -> float:
    return timing.ISO20_EVCC_CABLE_CHECK_TIMEOUT if fam == "iso20" else timing.EVCC_CABLE_CHECK_TIMEOUT


#: (topic, kind, protocols with EVSEProcessing in the response, the limit, the limit's name)
PROCESSING = (
    ("Authorization", CMN, ("din", "iso2", "iso20"), _ongoing_limit, "V2G_EVCC_Ongoing_Timeout"),
    ("ChargeParameterDiscovery", DC, ("din", "iso2"), _ongoing_limit, "V2G_EVCC_Ongoing_Timeout"),
    ("ChargeParameterDiscovery", "AC", ("iso2",), _ongoing_limit, "V2G_EVCC_Ongoing_Timeout"),
    ("ScheduleExchange", CMN, ("iso20",), _ongoing_limit, "V2G_EVCC_Ongoing_Timeout"),
    ("CableCheck", DC, ("din", "iso2", "iso20"), _cable_check_limit, "V2G_EVCC_CableCheck_Timeout"),
)

for _topic, _kind, _protocols, _limit, _name in PROCESSING:
    _s = stage(_topic, _kind)
    _req, _res = named(_s, "Req", _protocols), named(_s, "Res", _protocols)
    _base = f"TC_EVCC_{_kind}_VKT_{_topic}_"
    _pre = f"The car runs a session with the test system (the SECC) up to its {_req}."
    _add(
        _base + "006",
        then_finished(_s),
        protocols=_protocols,
        preconditions=_pre,
        purpose=f"Verify that the car repeats {_req} while {_res} says EVSEProcessing Ongoing, and goes on "
        "with "
        f"the next step (not SessionStopReq) once it says Finished.",
        steps=(
            f"Answer {TIMES} {_req} with EVSEProcessing Ongoing, the next with Finished.",
            f"Check that the car sent {_req} again each time and then the request of the next step.",
        ),
    )
    _add(
        _base + "007",
        until_given_up(_s, _limit, "EVSEProcessing is Ongoing"),
        protocols=_protocols,
        preconditions=_pre,
        purpose=f"Verify that the car keeps repeating {_req} while {_res} says EVSEProcessing Ongoing, "
        "never goes "
        f"on to the next step, and gives up only after {_name} (a final SessionStopReq is allowed), "
        f"closing the TCP connection.",
        steps=(
            f"Answer every {_req} with EVSEProcessing Ongoing.",
            f"Check that only {_req} follows (and at most a SessionStopReq), and that the car closes the "
            f"connection no earlier than {_name} after the first Ongoing answer and no later than its "
            f"V2G_EVCC_Msg_Timeout + par_CMN_TCP_Connection_Termination_Timeout after that.",
        ),
    )
