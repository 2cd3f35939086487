"""PowerDelivery (v2gkit's own cases, TC_SECC_AC/DC_VKT_PowerDelivery_*) in DIN, ISO-2 and ISO 15118-20:
Start, Stop, a schedule the SECC never offered and (ISO-2/DIN) a charging profile above the offered PMax. The
tester plays the EVCC."""

from __future__ import annotations

from typing import Any

from ...emulator import Incoming
from ...script import Tester
from ._common import (
    ALL,
    SEQUENCE_REQS,
    closes,
    family,
    good,
    kind,
    mark,
    msg,
    patterns,
    reach,
    reqs,
    response,
    secc_case,
    value,
)

#: the energy loop's request, by family and kind
LOOP = {"DC": "CurrentDemand", "AC": "ChargingStatus"}
_AFTER = {"DC": "PreChargeRes (ISO 15118-20: DC_PreChargeRes)",
          "AC": "ChargeParameterDiscoveryRes (ISO 15118-20: ScheduleExchangeRes)"}


def progress(t: Tester, req: Any) -> str:
    """Start or Stop (DIN: ReadyToChargeState true/false; ISO-2/-20: ChargeProgress)."""
    if family(t) == "din":
        return "Start" if req.ready_to_charge_state else "Stop"
    return req.charge_progress.name


def _status_ok(t: Tester, got: Incoming) -> None:
    """DIN/ISO-2: the kind's EVSE status, and not a shutdown (ISO-2 -20's PowerDeliveryRes may leave it "
      "out)."""
    if family(t) == "iso20":
        return
    b = got.body
    st = b.dc_evse_status or b.ac_evse_status or getattr(b, "evse_status", None)
    t.check(st is not None, "an EVSE status")
    code = getattr(getattr(st, "evse_status_code", None), "name", "")
    t.check(code not in ("EVSE_Shutdown", "EVSE_EmergencyShutdown"), "EVSEStatusCode "
                                                                     f"{code or '(AC status)'}")


def _start(t: Tester) -> None:
    n = msg(t, "PowerDelivery")
    reach(t, n + "Req")
    p = progress(t, t.pending(n + "Req"))
    if p != "Start":
        t.inconc(f"the tester's first PowerDeliveryReq is {p}, not Start")
    got = good(t, "PowerDelivery")
    _status_ok(t, got)


def _stop(t: Tester) -> None:
    loop = msg(t, "ChargeLoop" if family(t) == "iso20" else LOOP[kind(t)])
    t.expect(loop + "Res")
    n = msg(t, "PowerDelivery")
    reach(t, n + "Req")
    p = progress(t, t.pending(n + "Req"))
    if p != "Stop":
        t.inconc(f"the tester's PowerDeliveryReq after the loop is {p}, not Stop")
    got = good(t, "PowerDelivery")
    _status_ok(t, got)


@secc_case("TC_SECC_DC_VKT_PowerDelivery_001", protocols=ALL, from_standard=False, quick=True,
           purpose="Verify that the SECC answers PowerDeliveryReq with ChargeProgress Start (DIN: "
                   "ReadyToChargeState true) after PreCharge with ResponseCode OK, the current SessionID and "
                   "(DIN/ISO-2) a DC_EVSEStatus that is no shutdown.",
           steps=("GoodCase up to PowerDeliveryReq (Start, the offered SAScheduleTupleID and a profile "
                  "within PMax); send it.",
                  "Check the answer: OK, the current SessionID, schema-valid, the EVSE status."))
def dc_power_delivery_001(t: Tester) -> None:
    _start(t)


@secc_case("TC_SECC_AC_VKT_PowerDelivery_001", protocols=("iso2", "iso20"), from_standard=False,
           purpose="Verify that the SECC answers PowerDeliveryReq with ChargeProgress Start in an AC session "
                   "with ResponseCode OK, the current SessionID and (ISO-2) an AC_EVSEStatus.",
           steps=("GoodCase up to PowerDeliveryReq (Start); send it.",
                  "Check the answer: OK, the current SessionID, schema-valid, the EVSE status."))
def ac_power_delivery_001(t: Tester) -> None:
    _start(t)


patterns(__name__, "PowerDelivery", "DC", ALL, after=_AFTER["DC"])
patterns(__name__, "PowerDelivery", "AC", ("iso2", "iso20"), after=_AFTER["AC"])


@secc_case("TC_SECC_DC_VKT_PowerDelivery_005", protocols=ALL, from_standard=False,
           purpose="Verify that the SECC answers the PowerDeliveryReq with ChargeProgress Stop (DIN: "
                   "ReadyToChargeState false) that ends the DC charging loop with ResponseCode OK and the "
                   "current SessionID.",
           steps=("GoodCase into the charging loop (CurrentDemand; -20: DC_ChargeLoop) until the EV is full "
                  "and sends PowerDeliveryReq with Stop.",
                  "Check the answer: OK, the current SessionID, schema-valid."))
def dc_power_delivery_005(t: Tester) -> None:
    _stop(t)


@secc_case("TC_SECC_AC_VKT_PowerDelivery_005", protocols=("iso2", "iso20"), from_standard=False,
           purpose="Verify that the SECC answers the PowerDeliveryReq with ChargeProgress Stop that ends the "
                   "AC charging loop with ResponseCode OK and the current SessionID.",
           steps=("GoodCase into the charging loop (ChargingStatus; -20: AC_ChargeLoop) until the EV sends "
                  "PowerDeliveryReq with Stop.",
                  "Check the answer: OK, the current SessionID, schema-valid."))
def ac_power_delivery_005(t: Tester) -> None:
    _stop(t)


# ------------------------------------------------------------------------------------- schedules and profiles
def _offered_tuples(t: Tester) -> set[int]:
    if family(t) == "iso20":
        se = t.received_last("ScheduleExchangeRes")
        cm = se.body.scheduled_se_res_control_mode if se else None
        return {st.schedule_tuple_id for st in (cm.schedule_tuple if cm else [])}
    cpd = t.received_last("ChargeParameterDiscoveryRes")
    lst = cpd.body.sa_schedule_list if cpd else None
    return {st.sa_schedule_tuple_id for st in (lst.sa_schedule_tuple if lst else [])}


def _set_tuple(t: Tester, req: Any, tuple_id: int) -> None:
    fam = family(t)
    if fam == "iso20":
        req.ev_power_profile.scheduled_evppt_control_mode.selected_schedule_tuple_id = tuple_id
    elif fam == "din":
        req.charging_profile.sa_schedule_tuple_id = tuple_id
    else:
        req.sa_schedule_tuple_id = tuple_id


def _unoffered_tuple(t: Tester) -> None:
    n = msg(t, "PowerDelivery")
    reach(t, n + "Req")
    req = t.pending(n + "Req")
    profile = req.ev_power_profile if family(t) == "iso20" else None
    if family(t) == "iso20" and (profile is None or profile.scheduled_evppt_control_mode is None):
        t.inconc("not applicable: the session is not in Scheduled control mode (no SelectedScheduleTupleID)")
    offered = _offered_tuples(t)
    bad = next(i for i in (200, 201, 255) if i not in offered)
    t.log(f"SAScheduleTupleID {bad}; offered: {sorted(offered)}")
    code = "FAILED_ScheduleSelectionInvalid" if family(t) == "iso20" else "FAILED_TariffSelectionInvalid"
    at = mark(t)
    t.send(n + "Req", lambda r: _set_tuple(t, r, bad))
    response(t, n, code, after=at)
    closes(t)


_TUPLE_STEPS = ("GoodCase up to PowerDeliveryReq (Start); send it with an SAScheduleTupleID (-20: "
                "SelectedScheduleTupleID) the SECC did not offer.",
                "Check the answer: FAILED_TariffSelectionInvalid (-20: FAILED_ScheduleSelectionInvalid), the "
                "current SessionID, schema-valid; then the close.")
_TUPLE_PURPOSE = ("Verify that the SECC answers a PowerDeliveryReq (Start) selecting a schedule it did not "
                  "offer (SAScheduleTupleID; ISO 15118-20 Scheduled mode: SelectedScheduleTupleID) with "
                  "ResponseCode FAILED_TariffSelectionInvalid (ISO 15118-20: "
                  "FAILED_ScheduleSelectionInvalid), then closes the TCP connection within "
                  "par_CMN_TCP_Connection_Termination_Timeout.")


@secc_case("TC_SECC_DC_VKT_PowerDelivery_006", protocols=ALL, from_standard=False,
           requirements=reqs(SEQUENCE_REQS, ALL), purpose=_TUPLE_PURPOSE, steps=_TUPLE_STEPS)
def dc_power_delivery_006(t: Tester) -> None:
    _unoffered_tuple(t)


@secc_case("TC_SECC_AC_VKT_PowerDelivery_006", protocols=("iso2", "iso20"), from_standard=False,
           requirements=reqs(SEQUENCE_REQS, ("iso2", "iso20")), purpose=_TUPLE_PURPOSE, steps=_TUPLE_STEPS)
def ac_power_delivery_006(t: Tester) -> None:
    _unoffered_tuple(t)


@secc_case("TC_SECC_DC_VKT_PowerDelivery_007", protocols=("iso2",), from_standard=False,
           requirements=reqs(SEQUENCE_REQS, ("iso2",), "V2G2-225"),
           purpose="Verify that the SECC refuses a PowerDeliveryReq (Start) whose ChargingProfile asks for "
                   "more power than the PMaxSchedule of the selected SAScheduleTuple allows (the EV must "
                   "stay within it) with ResponseCode FAILED_ChargingProfileInvalid, then closes the TCP "
                   "connection within par_CMN_TCP_Connection_Termination_Timeout. ISO 15118-2 only: DIN 70121 "
                   "DC chargers treat the profile as information (real DIN cars exceed PMax).",
           steps=("GoodCase up to PowerDeliveryReq (Start); send it with every ChargingProfileEntryMaxPower "
                  "ten times the first PMax of the selected tuple.",
                  "Check the answer: FAILED_ChargingProfileInvalid, the current SessionID, schema-valid; the "
                  "close."))
def dc_power_delivery_007(t: Tester) -> None:
    n = msg(t, "PowerDelivery")
    reach(t, n + "Req")
    cpd = t.received_last("ChargeParameterDiscoveryRes")
    tuples = cpd.body.sa_schedule_list.sa_schedule_tuple if cpd and cpd.body.sa_schedule_list else []
    req = t.pending(n + "Req")
    chosen = req.charging_profile.sa_schedule_tuple_id if family(t) == "din" else req.sa_schedule_tuple_id
    sched = next((st for st in tuples if st.sa_schedule_tuple_id == chosen), None)
    if sched is None or req.charging_profile is None:
        t.inconc("not applicable: no ChargingProfile or no offered tuple to compare with")
    pmax = sched.p_max_schedule.p_max_schedule_entry[0].p_max

    def too_much(r: Any) -> None:
        for e in r.charging_profile.profile_entry:
            if isinstance(pmax, int):  # DIN: a bare number
                e.charging_profile_entry_max_power = min(pmax * 10, 32767)
            elif pmax.multiplier < 3:
                e.charging_profile_entry_max_power = type(pmax)(
                    multiplier=pmax.multiplier + 1, unit=pmax.unit, value=pmax.value)
            else:
                e.charging_profile_entry_max_power = type(pmax)(multiplier=3, unit=pmax.unit,
                                                                value=min(pmax.value * 10, 32767))
    t.log(f"profile entries at ten times PMax ({value(pmax):g} W)")
    at = mark(t)
    t.send(n + "Req", too_much)
    response(t, n, "FAILED_ChargingProfileInvalid", after=at)
    closes(t)
