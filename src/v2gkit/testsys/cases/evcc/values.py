"""Values a response may not carry (the tester encodes leniently: the value breaks the schema's facet but the
EXI stream carries it). The standards do not say what a car does with them; it must not crash or hang: it may
take the response and go on, or refuse it and stop. These cases accept both, log which, and fail only a car
that neither goes on nor closes within V2G_EVCC_Msg_Timeout + par_CMN_TCP_Connection_Termination_Timeout, or
one that starts the energy transfer on a voltage it cannot have understood.

SessionSetup_006 (an EVSEID beyond its maxLength) is a Lua case (SessionSetup_006.lua).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...catalog import case
from ...script import Tester
from ._common import CMN, DC, Stage, family, goes_on_or_stops, module_of, requests_since, stage
from ._rules import progress_of

#: a PhysicalValue Multiplier beyond its facet (-3..3) that the 3-bit field still carries
MULTIPLIER = 4


def _add(case_id: str, body: Callable[[Tester], Any], **kw: Any) -> None:
    def run(t: Tester) -> None:
        body(t)

    run.__qualname__ = run.__name__ = case_id
    case(case_id, from_standard=False, **kw)(run)


def lenient(
    s: Stage,
    edit: Callable[[Any], None],
    what: str,
    *,
    no_start: bool = False,
    applies: Callable[[Any], str] | None = None,
) -> Callable[[Tester], None]:
    """``applies(held response)`` says why the case does not apply to this session ("" when it does)."""

    def body(t: Tester) -> None:
        res = s.res(t)
        t.preamble(res)
        why = applies(t.pending(res)) if applies is not None else ""
        if why:
            t.inconc(why)
        mark = len(t.received)
        t.send(res, edit)
        how = goes_on_or_stops(t, s, mark, f"{res} with {what}")
        if no_start and how == "went on":
            nxt = requests_since(t, mark)[0]
            started = nxt.name == "PowerDeliveryReq" and progress_of(family(t), nxt.body) == "Start"
            t.check(
                not started, f"the car does not start the energy transfer on that voltage (next: {nxt.name})"
            )

    return body


def _multiplier(field: str) -> Callable[[Any], None]:
    def edit(res: Any) -> None:
        getattr(res, field).multiplier = MULTIPLIER

    return edit


def _tuple_id_out_of_range(res: Any) -> None:
    """SAScheduleTupleID outside 1..255: DIN's 8-bit field carries 0, ISO-2's (an offset from 1) 256."""
    bad = 0 if type(res).__module__.endswith(".din") else 256
    for st in res.sa_schedule_list.sa_schedule_tuple:
        st.sa_schedule_tuple_id = bad


def _schedule_id_zero(res: Any) -> None:
    for st in res.scheduled_se_res_control_mode.schedule_tuple:
        st.schedule_tuple_id = 0


def _long_meter_id(res: Any) -> None:
    res.meter_info = module_of(res).MeterInfoType(meter_id="M" * 40, charged_energy_reading_wh=0)


_DC = ("din", "iso2")
CASES = (
    (
        "TC_EVCC_DC_VKT_PreCharge_008",
        stage("PreCharge", DC),
        _DC,
        _multiplier("evse_present_voltage"),
        f"EVSEPresentVoltage Multiplier {MULTIPLIER} (facet -3..3)",
        True,
    ),
    (
        "TC_EVCC_DC_VKT_CurrentDemand_009",
        stage("CurrentDemand", DC),
        _DC,
        _multiplier("evse_present_current"),
        f"EVSEPresentCurrent Multiplier {MULTIPLIER} (facet -3..3)",
        False,
    ),
    (
        "TC_EVCC_DC_VKT_ChargeParameterDiscovery_010",
        stage("ChargeParameterDiscovery", DC),
        _DC,
        _tuple_id_out_of_range,
        "an SAScheduleTupleID outside 1..255 (DIN: 0, ISO 15118-2: 256)",
        False,
    ),
    (
        "TC_EVCC_CMN_VKT_ScheduleExchange_009",
        stage("ScheduleExchange", CMN),
        ("iso20",),
        _schedule_id_zero,
        "ScheduleTupleID 0 (facet: at least 1)",
        False,
    ),  # Scheduled control mode only (see _scheduled)
    (
        "TC_EVCC_DC_VKT_CurrentDemand_010",
        stage("CurrentDemand", DC),
        ("iso20",),
        _long_meter_id,
        "a MeterID of 40 characters (meterIDType: at most 32)",
        False,
    ),
)


def _scheduled(res: Any) -> str:
    if getattr(res, "scheduled_se_res_control_mode", "") is None:
        return "not applicable: the car chose the Dynamic control mode (no schedule tuples)"
    return ""


for _id, _s, _protocols, _edit, _what, _no_start in CASES:
    _name = {"din": _s.din, "iso2": _s.iso2, "iso20": _s.iso20}[_protocols[0]] + "Res"
    _add(
        _id,
        lenient(_s, _edit, _what, no_start=_no_start, applies=_scheduled),
        protocols=_protocols,
        preconditions=f"The car runs a session with the test system (the SECC) up to its {_name[:-3]}Req.",
        purpose=f"Verify that the car survives a {_name} with {_what}: it either goes on or stops the "
        "session, "
        f"and does not hang (neither a next request nor closing the connection within V2G_EVCC_Msg_Timeout "
        f"+ par_CMN_TCP_Connection_Termination_Timeout)"
        + (
            ", and it does not start the energy transfer on it (its next request is no PowerDeliveryReq "
            "Start)."
            if _no_start
            else ". Which of the two it did is logged."
        ),
        steps=(
            f"Answer the car's request with {_what} (encoded leniently).",
            "Check that a next request comes or the connection closes; log which.",
        ),
    )
