"""The energy loops (v2gkit's own cases): ISO-2 ChargingStatus (AC), ISO 15118-20 AC_/DC_ChargeLoop (topic
ChargeLoop), and ISO-2 MeteringReceipt in both kinds. DIN/ISO-2 CurrentDemand is in current_demand.py (ISO
15118-4 purposes) with one more v2gkit case here. The tester plays the EVCC."""

from __future__ import annotations

from typing import Any

from ...emulator import Incoming
from ...script import Tester
from ._common import (
    DIN_ISO2,
    MSG_TIMEOUT,
    TERMINATION,
    body_field,
    closes,
    family,
    good,
    kind,
    mark,
    msg,
    patterns,
    reach,
    schema_valid,
    secc_case,
    sequence_timeout,
    value,
)
from .current_demand import NEXT_LOOP

# ---------------------------------------------------------------------------------------------- CurrentDemand


@secc_case("TC_SECC_DC_VKT_CurrentDemand_001", protocols=DIN_ISO2, from_standard=False,
           purpose="Verify that the SECC's CurrentDemandRes stays within what it announced: "
                   "EVSEPresentVoltage and EVSEPresentCurrent are given and within its "
                   "EVSEMaximumVoltageLimit and EVSEMaximumCurrentLimit, and (ISO-2) the EVSEID and the "
                   "SAScheduleTupleID are those of the session.",
           steps=("GoodCase up to CurrentDemandReq; send it.",
                  "Check the CurrentDemandRes: OK, the current SessionID, schema-valid; present values "
                  "within the maximum limits; ISO-2: EVSEID as in SessionSetupRes, SAScheduleTupleID as "
                  "selected in PowerDeliveryReq."))
def vkt_current_demand_001(t: Tester) -> None:
    got = good(t, "CurrentDemand")
    b = got.body
    v, i = value(b.evse_present_voltage), value(b.evse_present_current)
    if b.evse_maximum_voltage_limit is not None:
        t.check(v <= value(b.evse_maximum_voltage_limit), f"EVSEPresentVoltage {v:g} V within "
                                                          f"{value(b.evse_maximum_voltage_limit):g} V")
    if b.evse_maximum_current_limit is not None:
        t.check(i <= value(b.evse_maximum_current_limit), f"EVSEPresentCurrent {i:g} A within "
                                                          f"{value(b.evse_maximum_current_limit):g} A")
    if family(t) == "iso2":
        setup = t.received_last("SessionSetupRes")
        t.check(b.evseid == setup.body.evseid, f"EVSEID {b.evseid!r} as in SessionSetupRes")
        sent = t.pending("PowerDeliveryReq")
        chosen = sent.sa_schedule_tuple_id if sent is not None else None
        t.check(b.sa_schedule_tuple_id == chosen, f"SAScheduleTupleID {b.sa_schedule_tuple_id} as selected "
                                                  f"({chosen})")


@secc_case("TC_SECC_DC_VKT_CurrentDemand_002", protocols=DIN_ISO2, from_standard=False,
           purpose="Verify that the SECC stays within its own limits when a CurrentDemandReq asks for a "
                   "voltage far above them, written with a Multiplier beyond the schema's range (4, by the "
                   "lenient encoder): it either refuses (a FAILED ResponseCode or closing the connection) or "
                   "answers schema-valid with EVSEPresentVoltage within its EVSEMaximumVoltageLimit; it "
                   "never answers with something undecodable.",
           steps=("GoodCase up to CurrentDemandReq; send it with EVTargetVoltage Multiplier 4 (about 40 MV).",
                  "Check: no answer and the connection closed, or a schema-valid CurrentDemandRes: FAILED "
                  "(then the close), or OK with EVSEPresentVoltage not above EVSEMaximumVoltageLimit."))
def vkt_current_demand_002(t: Tester) -> None:
    reach(t, "CurrentDemandReq")
    at = mark(t)
    t.send("CurrentDemandReq", lambda req: setattr(req.ev_target_voltage, "multiplier", 4))
    got = t.receive("CurrentDemandRes", timeout=MSG_TIMEOUT)
    if got is None or not any(got is m for m in t.received[at:]):
        t.check(not t.connected or t.expect_close(TERMINATION), "the SUT refused by closing the connection" if
                not t.connected else "the SUT neither answered nor closed the connection")
        return
    schema_valid(t, got)
    code = got.body.response_code.name
    if code.startswith("FAILED"):
        t.log(f"the SUT refused with {code}")
        closes(t)
        return
    b = got.body
    v = value(b.evse_present_voltage)
    limit = value(b.evse_maximum_voltage_limit) if b.evse_maximum_voltage_limit is not None else None
    if limit is None:
        cpd = t.received_last("ChargeParameterDiscoveryRes")
        limit = value(cpd.body.dc_evse_charge_parameter.evse_maximum_voltage_limit) if cpd else None
    t.check(limit is not None and v <= limit, f"EVSEPresentVoltage {v:g} V within the SECC's maximum "
                                              f"{limit if limit is None else format(limit, 'g')} V")


# --------------------------------------------------------------------------------------------- ChargingStatus
@secc_case("TC_SECC_AC_VKT_ChargingStatus_001", protocols=("iso2",), from_standard=False, quick=True,
           purpose="Verify that the SECC answers ChargingStatusReq with ResponseCode OK, the current "
                   "SessionID, its EVSEID (as in SessionSetupRes), the SAScheduleTupleID selected in "
                   "PowerDeliveryReq and an AC_EVSEStatus.",
           steps=("GoodCase up to ChargingStatusReq; send it.",
                  "Check the ChargingStatusRes: OK, the current SessionID, schema-valid, EVSEID, "
                  "SAScheduleTupleID, AC_EVSEStatus."))
def charging_status_001(t: Tester) -> None:
    got = good(t, "ChargingStatus")
    b = got.body
    setup = t.received_last("SessionSetupRes")
    t.check(b.evseid == setup.body.evseid, f"EVSEID {b.evseid!r} as in SessionSetupRes")
    sent = t.pending("PowerDeliveryReq")
    chosen = sent.sa_schedule_tuple_id if sent is not None else None
    t.check(b.sa_schedule_tuple_id == chosen, f"SAScheduleTupleID {b.sa_schedule_tuple_id} as selected "
                                              f"({chosen})")
    t.check(b.ac_evse_status is not None, "an AC_EVSEStatus")
    if b.receipt_required:
        t.log("the SECC asks for a metering receipt (ReceiptRequired true)")


patterns(__name__, "ChargingStatus", "AC", ("iso2",), after="PowerDeliveryRes (Start)")


# ----------------------------------------------------------------------------------------- ChargeLoop (-20)
def _loop_good(t: Tester) -> None:
    got = good(t, "ChargeLoop")
    b = got.body
    mode = "Scheduled"
    s = t.pending("ServiceSelectionReq")
    if s is not None:
        detail = t.received_last("ServiceDetailRes")
        ps_id = s.selected_energy_transfer_service.parameter_set_id
        for ps in (detail.body.service_parameter_list.parameter_set if detail else []):
            if ps.parameter_set_id == ps_id:
                cm = next((p.int_value for p in ps.parameter if p.name == "ControlMode"), 1)
                mode = "Dynamic" if cm == 2 else "Scheduled"
    attr = f"{mode.lower()}_{kind(t).lower()}_cl_res_control_mode"
    bpt = "bpt_" + attr
    t.check(getattr(b, attr, None) is not None or getattr(b, bpt, None) is not None,
            f"the {mode} control mode element of the answer (the mode agreed in ServiceSelection)")
    if kind(t) == "DC":
        t.check(b.evse_present_voltage is not None and b.evse_present_current is not None,
                f"EVSEPresentVoltage {value(b.evse_present_voltage):g} V, EVSEPresentCurrent "
                f"{value(b.evse_present_current):g} A")


_LOOP_STEPS = ("GoodCase up to the ChargeLoopReq; send it.",
               "Check the ChargeLoopRes: OK, the current SessionID, schema-valid, the agreed control mode's "
               "element (DC: present voltage and current).")


@secc_case("TC_SECC_DC_VKT_ChargeLoop_001", protocols=("iso20",), from_standard=False, quick=True,
           purpose="Verify that the SECC answers DC_ChargeLoopReq with ResponseCode OK, the current "
                   "SessionID, EVSEPresentVoltage, EVSEPresentCurrent and the control mode element agreed in "
                   "ServiceSelection.",
           steps=_LOOP_STEPS)
def dc_charge_loop_001(t: Tester) -> None:
    _loop_good(t)


@secc_case("TC_SECC_AC_VKT_ChargeLoop_001", protocols=("iso20",), from_standard=False,
           purpose="Verify that the SECC answers AC_ChargeLoopReq with ResponseCode OK, the current "
                   "SessionID and the control mode element agreed in ServiceSelection.", steps=_LOOP_STEPS)
def ac_charge_loop_001(t: Tester) -> None:
    _loop_good(t)


patterns(__name__, "ChargeLoop", "DC", ("iso20",), after="PowerDeliveryRes (Start)")
patterns(__name__, "ChargeLoop", "AC", ("iso20",), after="PowerDeliveryRes (Start)")


def _in_loop_timeout(t: Tester) -> None:
    t.expect(msg(t, "ChargeLoop") + "Res")
    sequence_timeout(t, "ChargeLoop")


_IN_LOOP = ("GoodCase into the charge loop: one ChargeLoopRes; then send nothing.",
            "Check that the connection stays open for 0.4 s and that the SUT closes it within 0.1 s plus "
            "par_CMN_TCP_Connection_Termination_Timeout after that.")


@secc_case("TC_SECC_DC_VKT_ChargeLoop_005", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-1502", "V2G20-441", "V2G20-443"),
           purpose="Verify that in the DC charge loop the SECC waits only the loop's "
                   "V2G_SECC_Sequence_Timeout (0.5 s, Table 217) for the next request: silent after a "
                   "DC_ChargeLoopRes, the tester sees the connection closed within that timeout plus "
                   "par_CMN_TCP_Connection_Termination_Timeout (not after 60 s).",
           steps=_IN_LOOP)
def dc_charge_loop_005(t: Tester) -> None:
    _in_loop_timeout(t)


@secc_case("TC_SECC_AC_VKT_ChargeLoop_005", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-1500", "V2G20-441", "V2G20-443"),
           purpose="Verify that in the AC charge loop the SECC waits only the loop's "
                   "V2G_SECC_Sequence_Timeout (0.5 s, Table 216) for the next request: silent after an "
                   "AC_ChargeLoopRes, the tester sees the connection closed within that timeout plus "
                   "par_CMN_TCP_Connection_Termination_Timeout (not after 60 s).",
           steps=_IN_LOOP)
def ac_charge_loop_005(t: Tester) -> None:
    _in_loop_timeout(t)


def _meter_requested(t: Tester) -> None:
    got = good(t, "ChargeLoop", edit=lambda req: setattr(req, "meter_info_requested", True))
    info = got.body.meter_info
    t.check(info is not None, "a MeterInfo in the answer to MeterInfoRequested true")
    if info is not None:
        t.check(bool(info.meter_id), f"the MeterInfo names its meter ({info.meter_id!r})")


_METER = ("GoodCase up to the ChargeLoopReq; send it with MeterInfoRequested true.",
          "Check the ChargeLoopRes: OK, the current SessionID, schema-valid, a MeterInfo with a MeterID.")


@secc_case("TC_SECC_DC_VKT_ChargeLoop_006", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-1081", "V2G20-1082"),
           purpose="Verify that the SECC answers a DC_ChargeLoopReq with MeterInfoRequested true with a "
                   "DC_ChargeLoopRes that carries a MeterInfo.", steps=_METER)
def dc_charge_loop_006(t: Tester) -> None:
    _meter_requested(t)


@secc_case("TC_SECC_AC_VKT_ChargeLoop_006", protocols=("iso20",), from_standard=False,
           requirements=("V2G20-1081", "V2G20-1082"),
           purpose="Verify that the SECC answers an AC_ChargeLoopReq with MeterInfoRequested true with an "
                   "AC_ChargeLoopRes that carries a MeterInfo.", steps=_METER)
def ac_charge_loop_006(t: Tester) -> None:
    _meter_requested(t)


# -------------------------------------------------------------------------------------------- MeteringReceipt
def to_receipt(t: Tester) -> Incoming:
    """Follow the energy loop to the first answer with ReceiptRequired true (none: inconclusive, the SUT does
    not ask for receipts); the tester's machine then wants to send MeteringReceiptReq."""
    loop = "CurrentDemand" if kind(t) == "DC" else "ChargingStatus"
    n = 0
    while True:
        got = t.receive(loop + "Res", timeout=NEXT_LOOP if n else None)
        if got is None:
            t.inconc(f"not applicable: the SUT never set ReceiptRequired true in {n} {loop}Res (the case is "
                     "for SECCs that ask for metering receipts)")
        n += 1
        if body_field(got, "receipt_required") is True:
            t.log(f"{loop}Res #{n} asks for a metering receipt")
            return got


def _receipt_good(t: Tester) -> None:
    to_receipt(t)
    got = good(t, "MeteringReceipt")
    b = got.body
    st = b.dc_evse_status if kind(t) == "DC" else b.ac_evse_status
    t.check(st is not None or b.evse_status is not None, "the EVSE status of the session's kind")


_RECEIPT_PRE = "The SECC asks for metering receipts (ReceiptRequired true in its loop answers; ISO-2 only)."
_RECEIPT_STEPS = ("GoodCase into the energy loop, up to the answer with ReceiptRequired true (none: "
                  "inconclusive).",
                  "Send MeteringReceiptReq (SessionID, SAScheduleTupleID, the MeterInfo received).",
                  "Check the MeteringReceiptRes: OK, the current SessionID, schema-valid, the EVSE status.")


@secc_case("TC_SECC_DC_VKT_MeteringReceipt_001", protocols=("iso2",), from_standard=False, needs=("receipt",),
           purpose="Verify that an SECC asking for a metering receipt in CurrentDemandRes answers the EV's "
                   "MeteringReceiptReq with ResponseCode OK, the current SessionID and a DC_EVSEStatus.",
           preconditions=_RECEIPT_PRE, steps=_RECEIPT_STEPS)
def dc_metering_receipt_001(t: Tester) -> None:
    _receipt_good(t)


@secc_case("TC_SECC_AC_VKT_MeteringReceipt_001", protocols=("iso2",), from_standard=False, needs=("receipt",),
           purpose="Verify that an SECC asking for a metering receipt in ChargingStatusRes answers the EV's "
                   "MeteringReceiptReq with ResponseCode OK, the current SessionID and an AC_EVSEStatus.",
           preconditions=_RECEIPT_PRE, steps=_RECEIPT_STEPS)
def ac_metering_receipt_001(t: Tester) -> None:
    _receipt_good(t)


def _receipt_setup(t: Tester) -> Any:
    to_receipt(t)


patterns(__name__, "MeteringReceipt", "DC", ("iso2",), setup=_receipt_setup, needs=("receipt",),
         after="CurrentDemandRes with ReceiptRequired true")
patterns(__name__, "MeteringReceipt", "AC", ("iso2",), setup=_receipt_setup, needs=("receipt",),
         after="ChargingStatusRes with ReceiptRequired true")
