"""DC preparation (v2gkit's own cases, TC_SECC_DC_VKT_*): CableCheck and PreCharge of DIN/ISO-2 and ISO
15118-20's DC_CableCheck and DC_PreCharge. The tester plays the EVCC."""

from __future__ import annotations

from .... import timing
from ...script import Tester
from ._common import ALL, family, good, msg, patterns, secc_case, value
from .authorization import follow_ongoing

#: how close EVSEPresentVoltage must come to EVTargetVoltage before the EV closes its contactors (the tester's
#: own EVCC criterion, EVCCConfig.pre_charge_tolerance; the standards leave the band to the EV)
PRECHARGE_TOLERANCE = 20.0


@secc_case("TC_SECC_DC_VKT_CableCheck_001", protocols=ALL, from_standard=False, quick=True,
           purpose="Verify that the SECC answers CableCheckReq (ISO 15118-20: DC_CableCheckReq) with "
                   "ResponseCode OK, the current SessionID and EVSEProcessing, that the loop of repeated "
                   "requests ends with Finished within V2G_EVCC_CableCheck_Timeout, and (DIN/ISO-2) that the "
                   "isolation is then neither Invalid nor Fault.",
           steps=("GoodCase up to CableCheckReq; send it.",
                  "Check the answer: OK, the current SessionID, schema-valid; follow Ongoing to Finished "
                  "within V2G_EVCC_CableCheck_Timeout (40 s), each answer OK.",
                  "DIN/ISO-2: check EVSEIsolationStatus of the Finished answer is Valid or Warning."))
def cable_check_001(t: Tester) -> None:
    got = good(t, "CableCheck")
    limit = timing.ISO20_EVCC_CABLE_CHECK_TIMEOUT if family(t) == "iso20" else timing.EVCC_CABLE_CHECK_TIMEOUT
    got = follow_ongoing(t, msg(t, "CableCheck"), got, limit)
    if family(t) != "iso20":
        iso = got.body.dc_evse_status.evse_isolation_status
        name = iso.name if iso is not None else "absent"
        t.check(name in ("Valid", "Warning"), f"EVSEIsolationStatus after the cable check is {name}")


patterns(__name__, "CableCheck", "DC", ALL,
         after="ChargeParameterDiscoveryRes (Finished; ISO 15118-20: ScheduleExchangeRes)")


@secc_case("TC_SECC_DC_VKT_PreCharge_001", protocols=ALL, from_standard=False,
           purpose="Verify that the SECC answers PreChargeReq (ISO 15118-20: DC_PreChargeReq) with "
                   "ResponseCode OK, the current SessionID and EVSEPresentVoltage, and brings its output to "
                   f"the EV's target voltage: within {PRECHARGE_TOLERANCE:g} V before "
                   "V2G_EVCC_PreCharge_Timeout runs out.",
           steps=("GoodCase up to PreChargeReq; send it (the EV's battery voltage as target, 2 A).",
                  "Check the answer: OK, the current SessionID, schema-valid, EVSEPresentVoltage given.",
                  "Follow the tester's PreCharge loop until it moves on to PowerDeliveryReq; check the last "
                  f"EVSEPresentVoltage is within {PRECHARGE_TOLERANCE:g} V of EVTargetVoltage and the loop "
                  "took less than V2G_EVCC_PreCharge_Timeout (7 s; -20: 10 s)."))
def pre_charge_001(t: Tester) -> None:
    n = msg(t, "PreCharge")
    first = good(t, "PreCharge")
    t.check(first.body.evse_present_voltage is not None, "EVSEPresentVoltage given")
    limit = timing.ISO20_EVCC_PRECHARGE_TIMEOUT if family(t) == "iso20" else timing.EVCC_PRECHARGE_TIMEOUT
    if not t.until(msg(t, "PowerDelivery") + "Req", timeout=limit + 5):
        t.fail("the tester's EVCC never got to PowerDeliveryReq: the SECC's voltage did not reach the "
               f"target ({t.machine_closed.text if t.machine_closed else 'timeout'})")
    last = t.received_last(n + "Res")
    target = value(t.pending(n + "Req").ev_target_voltage)
    present = value(last.body.evse_present_voltage)
    t.check(abs(present - target) <= PRECHARGE_TOLERANCE,
            f"EVSEPresentVoltage {present:g} V within {PRECHARGE_TOLERANCE:g} V of EVTargetVoltage "
            f"{target:g} V")
    t.check(last.t - first.t <= limit, f"PreCharge done in {last.t - first.t:.2f} s (limit {limit:g} s)")


patterns(__name__, "PreCharge", "DC", ALL, after="CableCheckRes (Finished; ISO 15118-20: DC_CableCheckRes)")
