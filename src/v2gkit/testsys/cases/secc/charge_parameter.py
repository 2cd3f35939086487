"""Charge parameters (v2gkit's own cases, TC_SECC_AC/DC_VKT_ChargeParameterDiscovery_*, TC_SECC_CMN_VKT_
ScheduleExchange_*): DIN/ISO-2 ChargeParameterDiscovery (with its EVSEProcessing loop and SAScheduleList), ISO
15118-20 AC_/DC_ChargeParameterDiscovery and ScheduleExchange. The tester plays the EVCC."""

from __future__ import annotations

from typing import Any

from .... import timing
from ....exi.gen import din, iso2, iso20, iso20_ac, iso20_dc
from ...script import Tester
from ._common import (
    ALL,
    DIN_ISO2,
    SEQUENCE_REQS,
    closes,
    family,
    good,
    mark,
    msg,
    patterns,
    reach,
    reqs,
    response,
    secc_case,
    value,
)
from .authorization import follow_ongoing
from .services import offered_modes

CPD = "ChargeParameterDiscovery"
ISO2_MODES = [m.name for m in iso2.EnergyTransferModeType]
DIN_MODES = [m.name for m in din.EVRequestedEnergyTransferType]
#: DIN's offered (combined) type -> the requested types it admits (session/din2/dialect.py DIN_SUPPORTED)
_AFTER = "AuthorizationRes (DIN: ContractAuthenticationRes; ISO 15118-20: ServiceSelectionRes)"


def _pv(m: Any, v: float, unit: str) -> Any:
    return m.PhysicalValueType(multiplier=0, unit=m.unitSymbolType[unit], value=int(v))


def _rn(v: int, m: Any = iso20) -> Any:
    """A RationalNumber of schema module ``m`` (each -20 schema has its own type)."""
    return m.RationalNumberType(exponent=0, value=v)


def _check_cpd(t: Tester, got: Any) -> None:
    """What a DIN/ISO-2 answer must hold once Finished: the kind's EVSE parameters and a schedule."""
    b = got.body
    if family(t) == "iso20":
        dc = msg(t, CPD).startswith("DC")
        mode = (b.dc_cpd_res_energy_transfer_mode or b.bpt_dc_cpd_res_energy_transfer_mode) if dc else (
            b.ac_cpd_res_energy_transfer_mode or b.bpt_ac_cpd_res_energy_transfer_mode)
        t.check(mode is not None, "the EVSE's charge parameters of the session's kind")
        if mode is not None:
            lim = value(mode.evse_maximum_charge_power)
            t.check(lim > 0, f"EVSEMaximumChargePower {lim:g} W > 0")
        return
    dc = b.dc_evse_charge_parameter is not None
    t.check(dc or b.ac_evse_charge_parameter is not None, "the EVSE's charge parameters")
    if dc:
        p = b.dc_evse_charge_parameter
        t.check(value(p.evse_maximum_voltage_limit) > 0 and value(p.evse_maximum_current_limit) > 0,
                f"DC limits {value(p.evse_maximum_voltage_limit):g} V, "
                f"{value(p.evse_maximum_current_limit):g} A")
    lst = b.sa_schedule_list
    tuples = lst.sa_schedule_tuple if lst is not None else []
    t.check(len(tuples) > 0, f"an SAScheduleList with {len(tuples)} SAScheduleTuple(s) once Finished")


def _cpd_good(t: Tester) -> None:
    got = good(t, CPD)
    if family(t) != "iso20":
        got = follow_ongoing(t, msg(t, CPD), got, timing.EVCC_ONGOING_TIMEOUT)
    _check_cpd(t, got)


_GOOD_STEPS = ("GoodCase up to ChargeParameterDiscoveryReq (-20: the kind's); send it.",
               "Check the answer: OK, the current SessionID, schema-valid; DIN/ISO-2: follow EVSEProcessing "
               "Ongoing to Finished within V2G_EVCC_Ongoing_Timeout; then the EVSE parameters of the kind "
               "and (DIN/ISO-2) an SAScheduleList with at least one tuple.")


@secc_case("TC_SECC_DC_VKT_ChargeParameterDiscovery_001", protocols=ALL, from_standard=False, quick=True,
           purpose="Verify that the SECC answers a DC ChargeParameterDiscoveryReq (ISO 15118-20: "
                   "DC_ChargeParameterDiscoveryReq) with ResponseCode OK, the current SessionID, its DC "
                   "limits and, once EVSEProcessing is Finished, an SAScheduleList.", steps=_GOOD_STEPS)
def dc_cpd_001(t: Tester) -> None:
    _cpd_good(t)


@secc_case("TC_SECC_AC_VKT_ChargeParameterDiscovery_001", protocols=("iso2", "iso20"), from_standard=False,
           purpose="Verify that the SECC answers an AC ChargeParameterDiscoveryReq (ISO 15118-20: "
                   "AC_ChargeParameterDiscoveryReq) with ResponseCode OK, the current SessionID, its AC "
                   "parameters and, once EVSEProcessing is Finished, an SAScheduleList.", steps=_GOOD_STEPS)
def ac_cpd_001(t: Tester) -> None:
    _cpd_good(t)


patterns(__name__, CPD, "DC", ALL, after=_AFTER)
patterns(__name__, CPD, "AC", ("iso2", "iso20"), after=_AFTER)


# ------------------------------------------------------------------------------ wrong mode, wrong parameters
def _refused(t: Tester, edit: Any, *codes: str) -> None:
    n = msg(t, CPD)
    at = mark(t)
    t.send(n + "Req", edit)
    response(t, n, *codes, after=at)
    closes(t)


def _wrong_mode(t: Tester, dc: bool) -> None:
    reach(t, msg(t, CPD) + "Req")
    offered = offered_modes(t.received_last("ServiceDiscoveryRes"))
    fam = family(t)
    if fam == "din":  # DIN offers one combined type; a requested DC type it does not name is not offered
        candidates = [m for m in DIN_MODES if m.startswith("DC") and not any(m in o for o in offered)]
    else:
        same = [m for m in ISO2_MODES if m.startswith("DC" if dc else "AC") and m not in offered]
        other = [m for m in ISO2_MODES if not m.startswith("DC" if dc else "AC") and m not in offered]
        candidates = same or other
    if not candidates:
        t.inconc(f"not applicable: the SUT offers every energy transfer mode ({', '.join(offered)})")
    mode = candidates[0]
    kind_kept = mode.startswith("DC") == dc
    wrong = "FAILED_WrongEnergyTransferType" if fam == "din" else "FAILED_WrongEnergyTransferMode"
    # a mode of the other kind goes with the session's parameters: a SUT may see those as the fault first
    codes = (wrong,) if kind_kept else (wrong, "FAILED_WrongChargeParameter")
    t.log(f"requesting {mode}; offered: {', '.join(offered)}")

    def edit(req: Any) -> None:
        if fam == "din":
            req.ev_requested_energy_transfer_type = din.EVRequestedEnergyTransferType[mode]
        else:
            req.requested_energy_transfer_mode = iso2.EnergyTransferModeType[mode]
    _refused(t, edit, *codes)


@secc_case("TC_SECC_DC_VKT_ChargeParameterDiscovery_005", protocols=DIN_ISO2, from_standard=False,
           requirements=reqs(SEQUENCE_REQS, DIN_ISO2, "V2G2-476", "V2G-DC-397"),
           purpose="Verify that the SECC answers a ChargeParameterDiscoveryReq requesting an energy transfer "
                   "mode it did not offer in ServiceDiscoveryRes with ResponseCode "
                   "FAILED_WrongEnergyTransferMode (DIN: FAILED_WrongEnergyTransferType), then closes the "
                   "TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to ChargeParameterDiscoveryReq; send it requesting a DC mode "
                  "ServiceDiscoveryRes did not offer (DC parameters kept).",
                  "Check the answer: the FAILED code above, the current SessionID, schema-valid; then the "
                  "close."))
def dc_cpd_005(t: Tester) -> None:
    _wrong_mode(t, dc=True)


@secc_case("TC_SECC_AC_VKT_ChargeParameterDiscovery_005", protocols=("iso2",), from_standard=False,
           requirements=reqs(SEQUENCE_REQS, ("iso2",), "V2G2-476"),
           purpose="Verify that the SECC answers an AC ChargeParameterDiscoveryReq requesting an energy "
                   "transfer mode it did not offer with ResponseCode FAILED_WrongEnergyTransferMode (when "
                   "the mode is of the other kind, FAILED_WrongChargeParameter is accepted too: the "
                   "parameters no longer fit either), then closes the TCP connection within "
                   "par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to ChargeParameterDiscoveryReq; send it requesting a mode ServiceDiscoveryRes "
                  "did not offer (an AC one if any, else a DC one; AC parameters kept).",
                  "Check the answer: the FAILED code above, the current SessionID, schema-valid; then the "
                  "close."))
def ac_cpd_005(t: Tester) -> None:
    _wrong_mode(t, dc=False)


def _other_parameters(t: Tester, dc: bool) -> None:
    """The offered mode, the other kind's parameter element (DIN/ISO-2); -20: the BPT variant in a plain
    session."""
    reach(t, msg(t, CPD) + "Req")
    fam = family(t)

    def edit(req: Any) -> None:
        if fam == "iso20":
            if dc:
                req.dc_cpd_req_energy_transfer_mode = None
                req.bpt_dc_cpd_req_energy_transfer_mode = iso20_dc.BPT_DC_CPDReqEnergyTransferModeType(
                    ev_maximum_charge_power=_rn(9000, iso20_dc), ev_minimum_charge_power=_rn(0, iso20_dc),
                    ev_maximum_charge_current=_rn(200, iso20_dc), ev_minimum_charge_current=_rn(0, iso20_dc),
                    ev_maximum_voltage=_rn(450, iso20_dc), ev_minimum_voltage=_rn(0, iso20_dc),
                    ev_maximum_discharge_power=_rn(9000, iso20_dc),
                    ev_minimum_discharge_power=_rn(0, iso20_dc),
                    ev_maximum_discharge_current=_rn(200, iso20_dc),
                    ev_minimum_discharge_current=_rn(0, iso20_dc))
            else:
                req.ac_cpd_req_energy_transfer_mode = None
                req.bpt_ac_cpd_req_energy_transfer_mode = iso20_ac.BPT_AC_CPDReqEnergyTransferModeType(
                    ev_maximum_charge_power=_rn(11000, iso20_ac), ev_minimum_charge_power=_rn(0, iso20_ac),
                    ev_maximum_discharge_power=_rn(11000, iso20_ac),
                    ev_minimum_discharge_power=_rn(0, iso20_ac))
            return
        m = din if fam == "din" else iso2
        if dc:
            req.dc_ev_charge_parameter = None
            req.ac_ev_charge_parameter = m.AC_EVChargeParameterType(
                departure_time=3600, e_amount=_pv(m, 6000, "Wh"), ev_max_voltage=_pv(m, 400, "V"),
                ev_max_current=_pv(m, 16, "A"), ev_min_current=_pv(m, 6, "A"))
        else:
            req.ac_ev_charge_parameter = None
            req.dc_ev_charge_parameter = m.DC_EVChargeParameterType(
                dc_ev_status=m.DC_EVStatusType(ev_ready=True, ev_error_code=m.DC_EVErrorCodeType.NO_ERROR,
                                               evresssoc=50),
                ev_maximum_current_limit=_pv(m, 200, "A"), ev_maximum_voltage_limit=_pv(m, 450, "V"))
    t.log("the offered mode with " + ("BPT parameters in a plain session" if fam == "iso20" else
                                      f"{'AC' if dc else 'DC'} parameters"))
    _refused(t, edit, "FAILED_WrongChargeParameter")


@secc_case("TC_SECC_DC_VKT_ChargeParameterDiscovery_006", protocols=ALL, from_standard=False,
           requirements=reqs(SEQUENCE_REQS, ALL, "V2G2-477", "V2G-DC-398", "V2G20-2272"),
           purpose="Verify that the SECC answers a DC ChargeParameterDiscoveryReq whose parameters do not "
                   "fit the requested mode (DIN/ISO-2: AC_EVChargeParameter with a DC mode; ISO 15118-20: "
                   "BPT parameters for a plain DC service) with ResponseCode FAILED_WrongChargeParameter, "
                   "then closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to the ChargeParameterDiscoveryReq; send it with the parameters of the other "
                  "kind (-20: BPT_DC_CPDReqEnergyTransferMode).",
                  "Check the answer: FAILED_WrongChargeParameter, the current SessionID, schema-valid; then "
                  "the close."))
def dc_cpd_006(t: Tester) -> None:
    _other_parameters(t, dc=True)


@secc_case("TC_SECC_AC_VKT_ChargeParameterDiscovery_006", protocols=("iso2", "iso20"), from_standard=False,
           requirements=reqs(SEQUENCE_REQS, ("iso2", "iso20"), "V2G2-477", "V2G20-1619"),
           purpose="Verify that the SECC answers an AC ChargeParameterDiscoveryReq whose parameters do not "
                   "fit the requested mode (ISO-2: DC_EVChargeParameter with an AC mode; ISO 15118-20: BPT "
                   "parameters for a plain AC service) with ResponseCode FAILED_WrongChargeParameter, then "
                   "closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to the ChargeParameterDiscoveryReq; send it with the parameters of the other "
                  "kind (-20: BPT_AC_CPDReqEnergyTransferMode).",
                  "Check the answer: FAILED_WrongChargeParameter, the current SessionID, schema-valid; then "
                  "the close."))
def ac_cpd_006(t: Tester) -> None:
    _other_parameters(t, dc=False)


# ------------------------------------------------------------------------------------ ScheduleExchange (-20)
@secc_case("TC_SECC_CMN_VKT_ScheduleExchange_001", protocols=("iso20",), from_standard=False,
           purpose="Verify that the SECC answers ScheduleExchangeReq with ResponseCode OK and the current "
                   "SessionID, that its EVSEProcessing Ongoing loop ends with Finished within "
                   "V2G_EVCC_Ongoing_Timeout, and that a Finished answer in Scheduled mode offers at least "
                   "one ScheduleTuple (Dynamic mode: the Dynamic control mode element).",
           steps=("GoodCase up to ScheduleExchangeReq; send it.",
                  "Check the answer: OK, the current SessionID, schema-valid; follow Ongoing to Finished "
                  "within 60 s.",
                  "Check the Finished answer's control mode element (Scheduled: at least one "
                  "ScheduleTuple)."))
def schedule_exchange_001(t: Tester) -> None:
    got = good(t, "ScheduleExchange")
    got = follow_ongoing(t, "ScheduleExchange", got, timing.ISO20_EVCC_ONGOING_TIMEOUT)
    b = got.body
    if b.scheduled_se_res_control_mode is not None:
        n = len(b.scheduled_se_res_control_mode.schedule_tuple or [])
        t.check(n > 0, f"{n} ScheduleTuple(s) offered")
    else:
        t.check(b.dynamic_se_res_control_mode is not None, "a control mode element (Scheduled or Dynamic)")


patterns(__name__, "ScheduleExchange", "CMN", ("iso20",),
         after="DC_ChargeParameterDiscoveryRes (AC sessions: AC_ChargeParameterDiscoveryRes)")


@secc_case("TC_SECC_CMN_VKT_ScheduleExchange_005", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-2222",),
           purpose="Verify that the SECC refuses a ScheduleExchangeReq whose control mode element is not the "
                   "one agreed in ServiceSelection (Dynamic mobility needs in a Scheduled session, or the "
                   "reverse) with a FAILED ResponseCode, then closes the TCP connection within "
                   "par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to ScheduleExchangeReq; send it with the other control mode's element.",
                  "Check the answer: a FAILED code, the current SessionID, schema-valid; then the close."))
def schedule_exchange_005(t: Tester) -> None:
    reach(t, "ScheduleExchangeReq")

    def other_mode(req: Any) -> None:
        if req.scheduled_se_req_control_mode is not None:
            req.scheduled_se_req_control_mode = None
            req.dynamic_se_req_control_mode = iso20.Dynamic_SEReqControlModeType(
                departure_time=7200, ev_target_energy_request=_rn(6000), ev_maximum_energy_request=_rn(12000),
                ev_minimum_energy_request=_rn(0))
        else:
            req.dynamic_se_req_control_mode = None
            req.scheduled_se_req_control_mode = iso20.Scheduled_SEReqControlModeType()
    at = mark(t)
    t.send("ScheduleExchangeReq", other_mode)
    got = response(t, "ScheduleExchange", after=at)
    t.check(got.body.response_code.name.startswith("FAILED"), "a FAILED ResponseCode "
                                                              f"({got.body.response_code.name})")
    closes(t)
