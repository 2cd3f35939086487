"""The ISO 15118-20 message layer: the table, framing, builders, readers, the service catalogue.

Every builder's output goes through encode -> decode and must come back equal and schema-valid
(``find_problem``); every response builder also with a FAILED code and nothing else. The readers run on real
-20 streams (Josev, the dSPACE/Josev AC BPT trace, EDF DC BPT) kept in tests/data/iso20/streams.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, need_shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import generatable, instances

from v2gkit.exi import api as exi
from v2gkit.exi.errors import ExiEncodeError, ExiError
from v2gkit.exi.validate import find_problem
from v2gkit.session.iso20 import messages as M
from v2gkit.session.iso20 import services as S
from v2gkit.session.iso20.messages import (
    AbsolutePriceSchedule,
    DisplayParameters,
    EnergyOffer,
    MeterInfo,
    Overstay,
    OverstayRule,
    PowerEntry,
    PowerProfile,
    PowerSchedule,
    PriceLevelSchedule,
    PriceRule,
    PriceRuleStack,
    Receipt,
    ScheduleTuple,
    Service,
    TaxRule,
)
from v2gkit.v2gtp import PayloadType

SID = bytes.fromhex("0123456789abcdef")
TS = 1_700_000_000
PAYLOAD_TYPES = (0x8002, 0x8003, 0x8004, 0x8005, 0x8006)
CODES = [c.name for c in M.iso20.responseCodeType]
STREAMS = json.loads((DATA / "iso20" / "streams.json").read_text())["streams"]


def roundtrip(name: str, request: bool, body: Any) -> M.Decoded:
    """encode -> decode; the decoded message equals what was built and is schema-valid."""
    pt, data = M.encode(name, request, body, SID, TS)
    assert pt == M.MESSAGES[name].payload_type
    d = M.decode(pt, data)
    assert (d.name, d.request, d.session_id, d.timestamp) == (name, request, SID, TS)
    assert d.body == body
    assert d.header is d.body.header
    assert find_problem(M.MESSAGES[name].module, d.body, d.element) is None
    assert M.decode(pt, data, strict=True).body == body
    return d


# =========================================================================================== the table

def test_table_has_every_message_of_the_five_schemas() -> None:
    by_schema: dict[str, set[str]] = {}
    for i in M.MESSAGES.values():
        by_schema.setdefault(i.schema, set()).add(i.name)
        assert (i.request, i.response) == (i.name + "Req", i.name + "Res")
    assert by_schema == {
        "iso20": {"SessionSetup", "AuthorizationSetup", "Authorization", "CertificateInstallation",
                  "ServiceDiscovery", "ServiceDetail", "ServiceSelection", "ScheduleExchange",
                  "PowerDelivery",
                  "MeteringConfirmation", "SessionStop", "VehicleCheckIn", "VehicleCheckOut"},
        "iso20-ac": {"AC_ChargeParameterDiscovery", "AC_ChargeLoop"},
        "iso20-dc": {"DC_ChargeParameterDiscovery", "DC_CableCheck", "DC_PreCharge", "DC_ChargeLoop",
                     "DC_WeldingDetection"},
        "iso20-wpt": {"WPT_FinePositioningSetup", "WPT_FinePositioning", "WPT_Pairing",
                      "WPT_ChargeParameterDiscovery", "WPT_AlignmentCheck", "WPT_ChargeLoop"},
        "iso20-acdp": {"ACDP_VehiclePositioning", "ACDP_Connect", "ACDP_Disconnect", "ACDP_SystemStatus"},
    }


def test_payload_types_follow_the_schema() -> None:
    pts = {"iso20": PayloadType.ISO20_COMMON, "iso20-ac": PayloadType.ISO20_AC,
           "iso20-dc": PayloadType.ISO20_DC, "iso20-acdp": PayloadType.ISO20_ACDP,
           "iso20-wpt": PayloadType.ISO20_WPT}
    for i in M.MESSAGES.values():
        assert i.payload_type == pts[i.schema], i.name
    assert M.MESSAGES["ScheduleExchange"].payload_type == 0x8002
    assert M.MESSAGES["AC_ChargeParameterDiscovery"].payload_type == 0x8003
    assert M.MESSAGES["DC_ChargeParameterDiscovery"].payload_type == 0x8004
    assert M.MESSAGES["ACDP_Connect"].payload_type == 0x8005
    assert M.MESSAGES["WPT_ChargeLoop"].payload_type == 0x8006


def test_table_matches_the_xsds() -> None:
    """Each request/response element is declared in the XSD of its schema, and every V2GRequest/-Response
    extension declared there is in the table."""
    root = need_shared("schemas", "iso20")
    files = {"iso20": "V2G_CI_CommonMessages.xsd", "iso20-ac": "V2G_CI_AC.xsd", "iso20-dc": "V2G_CI_DC.xsd",
             "iso20-wpt": "V2G_CI_WPT.xsd", "iso20-acdp": "V2G_CI_ACDP.xsd"}
    for schema, f in files.items():
        text = (root / f).read_text()
        declared = set(re.findall(r'<xs:element name="([A-Za-z_]+Re[qs])" type="', text))
        ns = re.search(r'targetNamespace="([^"]+)"', text).group(1)
        ours = {i.element(r) for i in M.MESSAGES.values() if i.schema == schema for r in (True, False)}
        assert ours == declared, schema
        assert {i.namespace for i in M.MESSAGES.values() if i.schema == schema} == {ns}


def test_info_names_the_known_messages() -> None:
    with pytest.raises(ValueError, match="DC_ChargeLoop"):
        M.info("CurrentDemand")


# ========================================================================================= numbers

@given(st.floats(min_value=-3.2e131, max_value=3.2e131, allow_nan=False))
def test_rational_keeps_the_value(x: float) -> None:
    r = M.rational(x)
    assert -128 <= r.exponent <= 127 and -32768 <= r.value <= 32767
    step = 10.0 ** r.exponent
    assert abs(M.value_of(r) - x) <= step / 2 * (1 + 1e-9) + 1e-300


@given(st.floats(min_value=1e-120, max_value=3e131) | st.floats(min_value=-3e131, max_value=-1e-120))
def test_rational_takes_the_finest_exponent(x: float) -> None:
    r = M.rational(x)
    if r.exponent > -128:  # one finer would not fit 16 bits
        e = r.exponent - 1
        n = round(x * 10.0 ** -e) if e < 0 else round(x / 10.0 ** e)
        assert not -32768 <= n <= 32767


def test_rational_examples() -> None:
    assert (M.rational(400).exponent, M.rational(400).value) == (-1, 4000)
    assert (M.rational(150_000).exponent, M.rational(150_000).value) == (1, 15000)
    assert (M.rational(0).exponent, M.rational(0).value) == (0, 0)
    assert (M.rational(-32768).exponent, M.rational(-32768).value) == (0, -32768)
    assert M.value_of(M.rational(230.0)) == 230.0
    assert M.value_of(M.rational(0.1)) == 0.1
    assert M.value_of(None) == 0.0
    assert type(M.rational(1, M.iso20_dc)) is M.iso20_dc.RationalNumberType
    for bad in (float("inf"), float("nan"), 1e200):
        with pytest.raises(ValueError):
            M.rational(bad)


def test_per_phase() -> None:
    one = M.per_phase("ev_maximum_charge_power", 11_000)
    assert list(one) == ["ev_maximum_charge_power"]
    three = M.per_phase("ev_maximum_charge_power", (3700, 3600, 3500))
    assert list(three) == ["ev_maximum_charge_power", "ev_maximum_charge_power_l2",
                           "ev_maximum_charge_power_l3"]
    req = M.iso20_ac.AC_CPDReqEnergyTransferModeType(**three,
                                                     ev_minimum_charge_power=M.rational(0, M.iso20_ac))
    assert M.phases_of(req, "ev_maximum_charge_power") == (3700, 3600, 3500)
    assert M.phases_of(req, "ev_minimum_charge_power") == (0.0,)
    assert M.phases_of(M.iso20_ac.AC_CPDReqEnergyTransferModeType(), "ev_maximum_charge_power") == ()
    with pytest.raises(ValueError):
        M.per_phase("x", (1, 2))  # type: ignore[arg-type]


def test_response_code_families() -> None:
    for c in CODES:
        assert [M.is_ok(c), M.is_warning(c), M.is_failed(c)].count(True) == 1, c
    assert M.is_failed(M.iso20_dc.responseCodeType.FAILED_SequenceError)
    assert M.is_warning("WARNING_StandbyNotAllowed") and M.is_ok("OK_OldSessionJoined")
    assert not (M.is_ok(None) or M.is_warning(None) or M.is_failed(None))


# ===================================================================================== builders

PRICE = AbsolutePriceSchedule(
    7, (PriceRuleStack(3600, (PriceRule(0.35, 0.0),
                              PriceRule(0.45, 11_000.0, parking_fee=1.5, parking_fee_period=3600,
                                        carbon_dioxide_emission=120, renewable_generation_percentage=60))),),
    id="p1", description="day rate", minimum_cost=1.0, maximum_cost=80.0,
    tax_rules=(TaxRule(1, 0.19, name="VAT", included_in_price=True),),
    overstay=Overstay((OverstayRule(7200, 10.0, 3600, "blocking fee"),), time_threshold=7200,
                      power_threshold=100.0),
    additional_services=(("parking", 2.0),))
LEVELS = PriceLevelSchedule(8, 3, ((1800, 0), (1800, 2)), id="l1", description="levels")
CHARGE = PowerSchedule((PowerEntry(1800, 50_000.0), PowerEntry(1800, 25_000.0)), time_anchor=TS,
                       available_energy=60_000.0, power_tolerance=1_000.0)
AC3 = PowerSchedule((PowerEntry(3600, 3700.0, 3700.0, 3600.0),))
DISCHARGE = PowerSchedule((PowerEntry(3600, -10_000.0),))
TUPLES = (ScheduleTuple(1, CHARGE, PRICE), ScheduleTuple(2, AC3, LEVELS, DISCHARGE, PRICE),
          ScheduleTuple(3, CHARGE))
OFFER = EnergyOffer(((1800, -5_000.0), (1800, 5_000.0)), ((3600, ((0.2, 0.0), (0.3, 7_000.0))),))
PROFILE = PowerProfile((PowerEntry(600, 40_000.0), PowerEntry(600, 20_000.0)), "Scheduled", 2,
                       "PowerToleranceConfirmed", TS)
METER = MeterInfo("meter-1", 12_345, 10, 11, 12, b"\x01" * 64, -3, TS)
RECEIPT = Receipt(TS, (12.5, 0.35), (1.0, 0.5), None, (3.0, 1.5), ((1, 2.1), (2, 0.4)))
DISPLAY = DisplayParameters(55, 20, 80, 100, 600, 1800, 3600, False, 77_000.0, False)

DC_LIMITS = dict(max_charge_power=150_000, min_charge_power=0, max_charge_current=300, min_charge_current=0,
                 max_voltage=920, min_voltage=150)
DC_DISCHARGE = dict(max_discharge_power=11_000, min_discharge_power=0, max_discharge_current=25,
                    min_discharge_current=0)
DC_LOOP_REQ = {
    ("Scheduled", False): dict(target_current=120.5, target_voltage=405.0, target_energy_request=40_000,
                               max_energy_request=50_000, min_energy_request=1_000, max_charge_power=150_000,
                               min_charge_power=0, max_charge_current=300, max_voltage=450, min_voltage=200),
    ("Scheduled", True): dict(target_current=-20, target_voltage=400.0, max_discharge_power=11_000,
                              min_discharge_power=0, max_discharge_current=25),
    ("Dynamic", False): dict(departure_time=7200, target_energy_request=40_000, max_energy_request=50_000,
                             min_energy_request=1_000, max_charge_power=150_000, min_charge_power=0,
                             max_charge_current=300, max_voltage=450, min_voltage=200),
    ("Dynamic", True): dict(departure_time=7200, target_energy_request=40_000, max_energy_request=50_000,
                            min_energy_request=-10_000, max_charge_power=150_000, min_charge_power=0,
                            max_charge_current=300, max_voltage=450, min_voltage=200,
                            max_discharge_power=11_000, min_discharge_power=0, max_discharge_current=25,
                            max_v2x_energy_request=20_000, min_v2x_energy_request=-5_000),
}
DC_LOOP_RES = {
    ("Scheduled", False): dict(max_charge_power=150_000, min_charge_power=0, max_charge_current=300,
                               max_voltage=920),
    ("Scheduled", True): dict(max_charge_power=150_000, max_discharge_power=11_000, min_discharge_power=0,
                              max_discharge_current=25, min_voltage=150),
    ("Dynamic", False): dict(departure_time=3600, min_soc=20, target_soc=80, ack_max_delay=30,
                             max_charge_power=150_000, min_charge_power=0, max_charge_current=300,
                             max_voltage=920),
    ("Dynamic", True): dict(ack_max_delay=30, max_charge_power=150_000, min_charge_power=0,
                            max_charge_current=300, max_voltage=920, max_discharge_power=11_000,
                            min_discharge_power=0, max_discharge_current=25, min_voltage=150),
}
AC_LOOP_REQ = {
    ("Scheduled", False): dict(present_active_power=(3700, 3700, 3650), present_reactive_power=100,
                               max_charge_power=11_000, target_energy_request=20_000),
    ("Scheduled", True): dict(present_active_power=-3000, max_discharge_power=(3700, 3700, 3700),
                              min_discharge_power=0),
    ("Dynamic", False): dict(departure_time=3600, target_energy_request=20_000, max_energy_request=30_000,
                             min_energy_request=0, max_charge_power=(3700, 3700, 3700),
                             min_charge_power=1_400, present_active_power=11_000, present_reactive_power=0),
    ("Dynamic", True): dict(departure_time=3600, target_energy_request=20_000, max_energy_request=30_000,
                            min_energy_request=-5_000, max_charge_power=11_000, min_charge_power=0,
                            present_active_power=-3_000, present_reactive_power=0, max_discharge_power=11_000,
                            min_discharge_power=0, max_v2x_energy_request=10_000, min_v2x_energy_request=0),
}
AC_LOOP_RES = {
    ("Scheduled", False): dict(target_active_power=11_000, present_active_power=(3600, 3600, 3600)),
    ("Scheduled", True): dict(target_active_power=-7_000, target_reactive_power=0),
    ("Dynamic", False): dict(departure_time=3600, min_soc=10, target_soc=90, ack_max_delay=30,
                             target_active_power=(3700, 3700, 3700)),
    ("Dynamic", True): dict(target_active_power=-3_000, present_active_power=-2_900),
}
VARIANTS = [(mode, bpt) for mode in ("Scheduled", "Dynamic") for bpt in (False, True)]


def _cases() -> list[tuple[str, str, bool, Callable[[], Any]]]:
    """(id, name, request, build) for every builder, defaults and parameter combinations."""
    c: list[tuple[str, str, bool, Callable[[], Any]]] = []

    def add(cid: str, name: str, request: bool, build: Callable[[], Any]) -> None:
        c.append((cid, name, request, build))

    add("session_setup_req", "SessionSetup", True, lambda: M.session_setup_req("WMIV1234567890ABCD"))
    add("session_setup_res", "SessionSetup", False, lambda: M.session_setup_res("OK_NewSessionEstablished",
                                                                               "DE*ABC*E123"))
    add("authorization_setup_req", "AuthorizationSetup", True, M.authorization_setup_req)
    add("authorization_setup_res eim", "AuthorizationSetup", False, lambda: M.authorization_setup_res("OK"))
    add("authorization_setup_res pnc", "AuthorizationSetup", False, lambda: M.authorization_setup_res(
        "OK", ("EIM", "PnC"), True, bytes(range(16)), ("emsp-1", "emsp-2")))
    add("authorization_req eim", "Authorization", True, M.authorization_req)
    add("authorization_req pnc", "Authorization", True, lambda: M.authorization_req(M.pnc_authorization_mode(
        bytes(16), b"\x30" * 40, [b"\x31" * 30, b"\x32" * 30])))
    for p in ("Finished", "Ongoing", "Ongoing_WaitingForCustomerInteraction"):
        add(f"authorization_res {p}", "Authorization", False, lambda p=p: M.authorization_res("OK", p))
    add("authorization_res refused", "Authorization", False,
        lambda: M.authorization_res("WARNING_EIMAuthorizationFailure"))
    add("service_discovery_req", "ServiceDiscovery", True, M.service_discovery_req)
    add("service_discovery_req ids", "ServiceDiscovery", True, lambda: M.service_discovery_req([2, 6, 65]))
    add("service_discovery_res", "ServiceDiscovery", False, lambda: M.service_discovery_res(
        "OK", [S.ServiceID.DC, Service(S.ServiceID.DC_BPT, True)], [Service(65, True), 66], True))
    add("service_detail_req", "ServiceDetail", True, lambda: M.service_detail_req(2))
    for sid in S.ServiceID:
        add(f"service_detail_res {sid.name}", "ServiceDetail", False,
            lambda sid=sid: M.service_detail_res("OK", sid, S.default_parameter_sets(sid)))
    add("service_detail_res mixed values", "ServiceDetail", False, lambda: M.service_detail_res(
        "OK", 2, [S.ParameterSet(1, {"A": True, "B": -5, "C": 2.5, "D": "text"})]))
    add("service_selection_req", "ServiceSelection", True, lambda: M.service_selection_req(6, 2))
    add("service_selection_req vas", "ServiceSelection", True,
        lambda: M.service_selection_req(6, 2, [(65, 1)]))
    add("service_selection_res", "ServiceSelection", False, lambda: M.service_selection_res("OK"))
    add("schedule_exchange_req scheduled", "ScheduleExchange", True, M.schedule_exchange_req)
    add("schedule_exchange_req scheduled full", "ScheduleExchange", True, lambda: M.schedule_exchange_req(
        "Scheduled", 24, OFFER, departure_time=7200, target_energy_request=40_000, max_energy_request=60_000,
        min_energy_request=5_000))
    add("schedule_exchange_req dynamic", "ScheduleExchange", True, lambda: M.schedule_exchange_req("Dynamic"))
    add("schedule_exchange_req dynamic bpt", "ScheduleExchange", True, lambda: M.schedule_exchange_req(
        "Dynamic", 1024, departure_time=3600, min_soc=20, target_soc=80, target_energy_request=40_000,
        max_energy_request=60_000, min_energy_request=5_000, max_v2x_energy_request=10_000,
        min_v2x_energy_request=-10_000))
    add("schedule_exchange_res scheduled", "ScheduleExchange", False, lambda: M.schedule_exchange_res(
        "OK", "Finished", "Scheduled", TUPLES))
    add("schedule_exchange_res scheduled ongoing", "ScheduleExchange", False, lambda: M.schedule_exchange_res(
        "OK", "Ongoing", go_to_pause=False))
    add("schedule_exchange_res dynamic", "ScheduleExchange", False, lambda: M.schedule_exchange_res(
        "OK", mode="Dynamic"))
    add("schedule_exchange_res dynamic prices", "ScheduleExchange", False, lambda: M.schedule_exchange_res(
        "OK", mode="Dynamic", departure_time=3600, min_soc=20, target_soc=80, price=PRICE))
    add("schedule_exchange_res dynamic levels", "ScheduleExchange", False, lambda: M.schedule_exchange_res(
        "OK", mode="Dynamic", price=LEVELS, go_to_pause=True))
    for progress in ("Start", "Stop", "Standby", "ScheduleRenegotiation"):
        add(f"power_delivery_req {progress}", "PowerDelivery", True,
            lambda progress=progress: M.power_delivery_req(progress))
    add("power_delivery_req scheduled profile", "PowerDelivery", True, lambda: M.power_delivery_req(
        "Start", "Finished", PROFILE))
    add("power_delivery_req dynamic bpt", "PowerDelivery", True, lambda: M.power_delivery_req(
        "Start", "Ongoing", PowerProfile((PowerEntry(0, 0.0),), "Dynamic"), "Discharge"))
    add("power_delivery_res", "PowerDelivery", False, lambda: M.power_delivery_res("OK"))
    add("power_delivery_res status", "PowerDelivery", False, lambda: M.power_delivery_res(
        "WARNING_StandbyNotAllowed", "Pause", 60))
    add("metering_confirmation_req", "MeteringConfirmation", True, lambda: M.metering_confirmation_req(
        SID, METER, receipt=RECEIPT))
    add("metering_confirmation_req dynamic", "MeteringConfirmation", True,
        lambda: M.metering_confirmation_req(SID, MeterInfo("m", 1), "Dynamic"))
    add("metering_confirmation_res", "MeteringConfirmation", False, lambda: M.metering_confirmation_res("OK"))
    for s in ("Terminate", "Pause", "ServiceRenegotiation"):
        add(f"session_stop_req {s}", "SessionStop", True, lambda s=s: M.session_stop_req(s))
    add("session_stop_req explained", "SessionStop", True, lambda: M.session_stop_req(
        "Terminate", "EV-42", "battery too hot"))
    add("session_stop_res", "SessionStop", False, lambda: M.session_stop_res("OK"))
    add("vehicle_check_in_req", "VehicleCheckIn", True, M.vehicle_check_in_req)
    add("vehicle_check_in_req full", "VehicleCheckIn", True, lambda: M.vehicle_check_in_req(
        "Processing", "AutoParking", 10, -20, 30))
    add("vehicle_check_in_res", "VehicleCheckIn", False, lambda: M.vehicle_check_in_res("OK", 3, 4, -5))
    add("vehicle_check_out_req", "VehicleCheckOut", True, lambda: M.vehicle_check_out_req("Completed", TS))
    add("vehicle_check_out_res", "VehicleCheckOut", False, lambda: M.vehicle_check_out_res("OK", "Scheduled"))
    # AC
    add("ac_cpd_req", "AC_ChargeParameterDiscovery", True, M.ac_charge_parameter_req)
    add("ac_cpd_req three phase", "AC_ChargeParameterDiscovery", True, lambda: M.ac_charge_parameter_req(
        max_charge_power=(3700, 3700, 3700), min_charge_power=(1400, 1400, 1400)))
    add("ac_cpd_req bpt", "AC_ChargeParameterDiscovery", True, lambda: M.ac_charge_parameter_req(
        True, max_charge_power=11_000, min_charge_power=1_400, max_discharge_power=(3700, 3700, 3700),
        min_discharge_power=0))
    add("ac_cpd_res", "AC_ChargeParameterDiscovery", False, lambda: M.ac_charge_parameter_res(
        "OK", max_charge_power=22_000, min_charge_power=1_400, nominal_frequency=50,
        max_power_asymmetry=4_600, power_ramp_limitation=1_000, present_active_power=(0, 0, 0)))
    add("ac_cpd_res bpt", "AC_ChargeParameterDiscovery", False, lambda: M.ac_charge_parameter_res(
        "OK", True, max_charge_power=11_000, min_charge_power=0, nominal_frequency=50,
        max_discharge_power=11_000, min_discharge_power=0))
    for v in VARIANTS:
        add(f"ac_loop_req {v}", "AC_ChargeLoop", True, lambda v=v: M.ac_charge_loop_req(*v))
        add(f"ac_loop_req {v} values", "AC_ChargeLoop", True, lambda v=v: M.ac_charge_loop_req(
            *v, True, DISPLAY, **AC_LOOP_REQ[v]))
        add(f"ac_loop_res {v}", "AC_ChargeLoop", False, lambda v=v: M.ac_charge_loop_res("OK", *v))
        add(f"ac_loop_res {v} values", "AC_ChargeLoop", False, lambda v=v: M.ac_charge_loop_res(
            "OK", *v, "ServiceRenegotiation", 10, METER, RECEIPT, 50.0, **AC_LOOP_RES[v]))
    # DC
    add("dc_cpd_req", "DC_ChargeParameterDiscovery", True, lambda: M.dc_charge_parameter_req(
        **DC_LIMITS, target_soc=80))
    add("dc_cpd_req bpt", "DC_ChargeParameterDiscovery", True, lambda: M.dc_charge_parameter_req(
        True, **DC_LIMITS, **DC_DISCHARGE))
    add("dc_cpd_res", "DC_ChargeParameterDiscovery", False, lambda: M.dc_charge_parameter_res(
        "OK", **DC_LIMITS, power_ramp_limitation=5_000))
    add("dc_cpd_res bpt", "DC_ChargeParameterDiscovery", False, lambda: M.dc_charge_parameter_res(
        "OK", True, **DC_LIMITS, **DC_DISCHARGE))
    add("dc_cable_check_req", "DC_CableCheck", True, M.dc_cable_check_req)
    add("dc_cable_check_res ongoing", "DC_CableCheck", False, lambda: M.dc_cable_check_res("OK", "Ongoing"))
    add("dc_pre_charge_req", "DC_PreCharge", True, lambda: M.dc_pre_charge_req(398.5, 400))
    add("dc_pre_charge_req finished", "DC_PreCharge", True, lambda: M.dc_pre_charge_req(400, 400, "Finished"))
    add("dc_pre_charge_res", "DC_PreCharge", False, lambda: M.dc_pre_charge_res("OK", 399.9))
    for v in VARIANTS:
        add(f"dc_loop_req {v}", "DC_ChargeLoop", True, lambda v=v: M.dc_charge_loop_req(*v))
        add(f"dc_loop_req {v} values", "DC_ChargeLoop", True, lambda v=v: M.dc_charge_loop_req(
            *v, 401.2, True, DISPLAY, **DC_LOOP_REQ[v]))
        add(f"dc_loop_res {v}", "DC_ChargeLoop", False, lambda v=v: M.dc_charge_loop_res("OK", *v))
        add(f"dc_loop_res {v} values", "DC_ChargeLoop", False, lambda v=v: M.dc_charge_loop_res(
            "OK", *v, 401.0, 120.3, True, False, True, "Pause", 60, METER, RECEIPT, **DC_LOOP_RES[v]))
    add("dc_welding_detection_req", "DC_WeldingDetection", True, M.dc_welding_detection_req)
    add("dc_welding_detection_res", "DC_WeldingDetection", False,
        lambda: M.dc_welding_detection_res("OK", 12.5))
    return c


CASES = _cases()


@pytest.mark.parametrize(("name", "request_", "build"), [pytest.param(n, r, b, id=i) for i, n, r, b in CASES])
def test_builder_roundtrip(name: str, request_: bool, build: Callable[[], Any]) -> None:
    roundtrip(name, request_, build())


#: every response builder, called with nothing but a response code (and the agreed variant)
RESPONSE_BUILDERS: dict[str, Callable[..., Any]] = {
    "SessionSetup": M.session_setup_res, "AuthorizationSetup": M.authorization_setup_res,
    "Authorization": M.authorization_res, "ServiceDiscovery": M.service_discovery_res,
    "ServiceDetail": M.service_detail_res, "ServiceSelection": M.service_selection_res,
    "PowerDelivery": M.power_delivery_res, "MeteringConfirmation": M.metering_confirmation_res,
    "SessionStop": M.session_stop_res, "VehicleCheckIn": M.vehicle_check_in_res,
    "VehicleCheckOut": M.vehicle_check_out_res, "DC_CableCheck": M.dc_cable_check_res,
    "DC_PreCharge": M.dc_pre_charge_res, "DC_WeldingDetection": M.dc_welding_detection_res,
}
VARIANT_RESPONSE_BUILDERS: dict[str, Callable[..., Any]] = {
    "ScheduleExchange": lambda code, mode, bpt: M.schedule_exchange_res(code, mode=mode),
    "AC_ChargeParameterDiscovery": lambda code, mode, bpt: M.ac_charge_parameter_res(code, bpt),
    "DC_ChargeParameterDiscovery": lambda code, mode, bpt: M.dc_charge_parameter_res(code, bpt),
    "AC_ChargeLoop": M.ac_charge_loop_res, "DC_ChargeLoop": M.dc_charge_loop_res,
}
FAILED_CODES = [c for c in CODES if c.startswith("FAILED")]


def test_every_builder_is_tested() -> None:
    builders = {n for n in dir(M) if n.endswith(("_req", "_res")) and callable(getattr(M, n))}
    used = {b.__name__ for b in RESPONSE_BUILDERS.values()} | {
        "schedule_exchange_res", "ac_charge_parameter_res", "dc_charge_parameter_res", "ac_charge_loop_res",
        "dc_charge_loop_res"}
    assert {b for b in builders if b.endswith("_res")} == used
    names = {n for _i, n, _r, _b in CASES}
    assert names == {n for n, i in M.MESSAGES.items() if i.schema in ("iso20", "iso20-ac", "iso20-dc")} - {
        "CertificateInstallation"}


@pytest.mark.parametrize("code", FAILED_CODES + ["WARNING_EIMAuthorizationFailure", "OK"])
def test_response_builders_need_only_the_code(code: str) -> None:
    for name, build in RESPONSE_BUILDERS.items():
        if name in ("ServiceDiscovery", "ServiceDetail") and not M.is_failed(code):
            with pytest.raises(ValueError, match="at least one"):
                build(code)
            continue
        roundtrip(name, False, build(code))
    for name, build in VARIANT_RESPONSE_BUILDERS.items():
        for mode, bpt in VARIANTS:
            if name == "ScheduleExchange" and mode == "Scheduled" and not M.is_failed(code):
                with pytest.raises(ValueError, match="at least one schedule tuple"):
                    build(code, mode, bpt)
                continue
            d = roundtrip(name, False, build(code, mode, bpt))
            assert M.response_code(d.body) == code
            if name.endswith("ChargeLoop"):
                assert M.variant(d.body) == (mode, bpt)  # answered in kind, even when FAILED
            elif name.endswith("ChargeParameterDiscovery"):
                assert M.is_bpt(d.body) == bpt
            else:
                assert M.control_mode(d.body) == mode


@pytest.mark.parametrize("name", list(M.MESSAGES))
def test_minimal_messages_of_the_whole_table(name: str) -> None:
    """WPT and ACDP included: minimal content round-trips and is schema-valid, in every variant."""
    for mode, bpt in VARIANTS:
        roundtrip(name, True, M.minimal(name, True, mode=mode, bpt=bpt))
        for code in ("FAILED", "FAILED_SequenceError", "OK"):
            d = roundtrip(name, False, M.minimal(name, False, code, mode, bpt))
            assert M.response_code(d.body) == code
            if name.endswith("ChargeLoop") and not name.startswith("WPT"):
                assert M.variant(d.body) == (mode, bpt)


def test_builders_refuse_what_the_schema_cannot_say() -> None:
    with pytest.raises(TypeError, match="max_charge_power"):
        M.dc_charge_loop_req(target_curent=10)  # a typo names the valid keywords
    with pytest.raises(ValueError, match="Scheduled or Dynamic"):
        M.dc_charge_loop_res("OK", "Sheduled")
    with pytest.raises(ValueError, match="responseCodeType"):
        M.session_stop_res("OK_Fine")
    with pytest.raises(ValueError, match="target_current takes one value"):
        M.dc_charge_loop_req(target_current=(1, 2, 3))  # DC has no phases
    with pytest.raises(ValueError, match="one value or three"):
        M.ac_charge_loop_req(present_active_power=(1, 2))
    with pytest.raises(ValueError, match="PnC"):
        M.authorization_setup_res("OK", ("EIM",), gen_challenge=bytes(16))
    with pytest.raises(ValueError):
        M.schedule_exchange_req("Dynamic", offer=OFFER)
    with pytest.raises(ValueError):
        M.schedule_exchange_res("OK", mode="Scheduled", tuples=TUPLES, price=PRICE)
    with pytest.raises(ValueError):
        M.schedule_exchange_res("OK", mode="Dynamic", tuples=TUPLES)
    too_many = M.schedule_exchange_res("OK", tuples=TUPLES + TUPLES)  # the schema allows three
    with pytest.raises(ExiEncodeError, match="ScheduleTuple"):
        M.encode("ScheduleExchange", False, too_many, SID, TS)


def test_encode_checks_the_body_type() -> None:
    with pytest.raises(TypeError, match="DC_ChargeLoopReqType"):
        M.encode("DC_ChargeLoop", True, M.ac_charge_loop_req(), SID, TS)
    with pytest.raises(ValueError, match="no ISO 15118-20 message"):
        M.encode("CurrentDemand", True, M.dc_charge_loop_req(), SID, TS)
    # ACDP_Connect and ACDP_Disconnect share one XSD type: its plain class encodes as either
    base = M.iso20_acdp.ACDP_ConnectReqType(None, M.iso20_acdp.electricalChargingDeviceStatusType(1))
    for name in ("ACDP_Connect", "ACDP_Disconnect"):
        pt, data = M.encode(name, True, base, SID, TS)
        assert M.decode(pt, data).name == name


def test_encode_leaves_nothing_behind_between_sessions() -> None:
    """The same body encoded for two sessions carries each one's header."""
    body = M.dc_charge_loop_req(target_current=10, target_voltage=400)
    _, a = M.encode("DC_ChargeLoop", True, body, b"\x01" * 8, 1)
    _, b = M.encode("DC_ChargeLoop", True, body, b"\x02" * 8, 2)
    assert M.decode(0x8004, a).session_id == b"\x01" * 8 and M.decode(0x8004, b).timestamp == 2


# ================================================================================ decode errors

def test_wrong_payload_type_is_a_message_error() -> None:
    body = M.dc_charge_loop_req(**DC_LOOP_REQ[("Scheduled", False)])
    _pt, data = M.encode("DC_ChargeLoop", True, body, SID, TS)
    with pytest.raises(M.MessageError, match="DC_ChargeLoopReq belongs under payload type 0x8004"):
        M.decode(0x8002, data)
    for bad in (0x8001, 0x8101, 0x9000, 0):
        with pytest.raises(M.MessageError, match="carries no ISO 15118-20 message"):
            M.decode(bad, data)


def _refused_or_also_valid(other: int, data: bytes) -> bool:
    """``data`` under payload type ``other`` is a MessageError, unless the octets are also a complete valid
    message of that schema (EXI carries no schema id: then they are what the payload type says). True for
    the latter."""
    try:
        d = M.decode(other, data)
    except M.MessageError:
        return False
    schema = M.MESSAGES[d.name].schema
    assert exi.encode(exi.decode(data, schema), element=d.element, schema=schema) == data
    return True


def test_every_built_message_under_every_other_payload_type() -> None:
    """MessageError but for a few tiny messages that are valid in two grammars (an EIM AuthorizationReq is
    also an ACDP_ConnectReq)."""
    same = []
    for _i, name, request, build in CASES:
        pt, data = M.encode(name, request, build(), SID, TS)
        same += [(name, request, other) for other in PAYLOAD_TYPES
                 if other != pt and _refused_or_also_valid(other, data)]
    assert len(same) <= 4, same


def test_not_a_message_is_a_message_error() -> None:
    """A global element of the schema that is no request/response (a control mode, a signature part)."""
    data = exi.encode(M.iso20_dc.Scheduled_DC_CLResControlModeType())
    with pytest.raises(M.MessageError, match="no ISO 15118-20 request or response"):
        M.decode(0x8004, data)


def test_truncated_and_garbage_are_exi_errors() -> None:
    body = M.dc_charge_loop_res("OK", "Dynamic", True, **DC_LOOP_RES[("Dynamic", True)])
    _, data = M.encode("DC_ChargeLoop", False, body, SID, TS)
    for n in range(len(data) - 1):
        with pytest.raises((ExiError, M.MessageError)):
            M.decode(0x8004, data[:n])
    with pytest.raises(ExiError):
        M.decode(0x8004, b"")
    with pytest.raises(ExiError):
        M.decode(0x8004, b"\x40" + data[1:])  # not the V2G EXI header


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pt=st.sampled_from(PAYLOAD_TYPES + (0x8001, 0x8101)), data=st.binary(max_size=80),
       prefix=st.booleans(), strict=st.booleans())
def test_any_bytes_decode_or_raise_a_typed_error(pt: int, data: bytes, prefix: bool, strict: bool) -> None:
    payload = (b"\x80" + data) if prefix else data  # mostly past the header byte, into the grammar
    try:
        d = M.decode(pt, payload, strict)
    except (ExiError, M.MessageError):
        return
    assert isinstance(d, M.Decoded) and d.payload_type == pt and d.name in M.MESSAGES


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
@pytest.mark.parametrize("name", list(M.MESSAGES))
def test_any_instance_frames_through_the_table(name: str, data: st.DataObject) -> None:
    """Arbitrary valid instances of every -20 request and response (strategies.instances) go through
    encode/decode with their payload type."""
    i = M.MESSAGES[name]
    for request in (True, False):
        cls = i.type(request)
        if not generatable(i.module, cls):
            continue
        obj = data.draw(instances(i.module, cls), label=i.element(request))
        pt, raw = M.encode(name, request, obj, obj.header.session_id, obj.header.time_stamp,
                           obj.header.signature)
        d = M.decode(pt, raw, strict=True)
        assert (d.name, d.request, d.body) == (name, request, obj)


# =================================================================================== readers

def _built(name: str, request: bool, body: Any) -> Any:
    return roundtrip(name, request, body).body


def test_variant_of_built_messages() -> None:
    for mode, bpt in VARIANTS:
        for name, build in (("DC_ChargeLoop", M.dc_charge_loop_req), ("AC_ChargeLoop", M.ac_charge_loop_req)):
            assert M.variant(_built(name, True, build(mode, bpt))) == (mode, bpt)
    assert M.variant(_built("AC_ChargeParameterDiscovery", True, M.ac_charge_parameter_req(True))) == \
        (None, True)
    assert M.variant(_built("DC_ChargeParameterDiscovery", False, M.dc_charge_parameter_res("OK"))) == \
        (None, False)
    assert M.variant(_built("ScheduleExchange", True, M.schedule_exchange_req())) == ("Scheduled", False)
    assert M.variant(_built("ScheduleExchange", True, M.schedule_exchange_req(offer=OFFER))) == \
        ("Scheduled", True)
    assert M.variant(_built("ScheduleExchange", True, M.schedule_exchange_req(
        "Dynamic", max_v2x_energy_request=1))) == ("Dynamic", True)
    assert M.variant(_built("ScheduleExchange", False, M.schedule_exchange_res("OK", tuples=TUPLES))) == \
        ("Scheduled", True)
    assert M.variant(_built("ScheduleExchange", False, M.schedule_exchange_res("OK", tuples=TUPLES[:1]))) == \
        ("Scheduled", False)
    assert M.variant(_built("ScheduleExchange", False, M.schedule_exchange_res("OK", mode="Dynamic"))) == \
        ("Dynamic", False)
    assert M.variant(_built("PowerDelivery", True, M.power_delivery_req("Stop"))) == (None, False)
    start = M.power_delivery_req("Start", profile=PROFILE, channel="Charge")
    assert M.variant(_built("PowerDelivery", True, start)) == ("Scheduled", True)
    assert M.variant(_built("MeteringConfirmation", True, M.metering_confirmation_req(
        SID, METER, "Dynamic"))) == ("Dynamic", False)
    assert M.variant(M.session_stop_req()) == (None, False)
    # the abstract head decodes (EXI can carry it) but tells nothing
    head = M.iso20_dc.DC_ChargeLoopReqType(None, None, False, M.rational(0, M.iso20_dc))
    head.cl_req_control_mode = M.iso20_dc.CLReqControlModeType()
    assert M.variant(head) == (None, False)


def test_concrete_type_decides_not_the_field() -> None:
    """A BPT_ element in the plain field (only a hand-made object can do that) reads as what it is."""
    body = M.dc_charge_loop_req("Scheduled", False)
    body.scheduled_dc_cl_req_control_mode = M.iso20_dc.BPT_Scheduled_DC_CLReqControlModeType()
    assert M.variant(body) == ("Scheduled", True)


def test_values_of_reads_back_what_was_built() -> None:
    for v in VARIANTS:
        for name, build, vals, extra in (
                ("DC_ChargeLoop", M.dc_charge_loop_req, DC_LOOP_REQ[v], {"present_voltage": 401.5}),
                ("DC_ChargeLoop", lambda *a, **k: M.dc_charge_loop_res("OK", *a, **k), DC_LOOP_RES[v],
                 {"present_voltage": 400.0, "present_current": 99.5}),
                ("AC_ChargeLoop", M.ac_charge_loop_req, AC_LOOP_REQ[v], {}),
                ("AC_ChargeLoop", lambda *a, **k: M.ac_charge_loop_res("OK", *a, **k), AC_LOOP_RES[v], {})):
            request = build in (M.dc_charge_loop_req, M.ac_charge_loop_req)
            body = _built(name, request, build(*v, **extra, **vals))
            got = M.values_of(body)
            want = dict(extra)
            for k, x in vals.items():
                if isinstance(x, tuple):
                    want[k], want[k + "_l2"], want[k + "_l3"] = x
                else:
                    want[k] = x
            assert {k: got[k] for k in want} == pytest.approx(want), (name, v)
            # and the values rebuild the same message
            flags = ("meter_info_requested", "power_limit_achieved", "current_limit_achieved",
                     "voltage_limit_achieved")
            rebuilt = {k: x for k, x in got.items() if k not in flags}
            again = build(*v, **rebuilt)
            assert M.values_of(_built(name, request, again)) == got


def test_structured_readers_give_back_the_inputs() -> None:
    res = _built("ScheduleExchange", False, M.schedule_exchange_res("OK", tuples=TUPLES))
    assert M.schedules_of(res) == TUPLES
    res = _built("ScheduleExchange", False, M.schedule_exchange_res("OK", mode="Dynamic", price=PRICE))
    assert M.price_of(res) == PRICE and M.schedules_of(res) == ()
    res = _built("ScheduleExchange", False, M.schedule_exchange_res("OK", mode="Dynamic", price=LEVELS))
    assert M.price_of(res) == LEVELS
    req = _built("ScheduleExchange", True, M.schedule_exchange_req(offer=OFFER))
    assert M.offer_of(req) == OFFER
    assert M.power_profile_of(_built("PowerDelivery", True, M.power_delivery_req(profile=PROFILE))) == PROFILE
    loop = _built("DC_ChargeLoop", False, M.dc_charge_loop_res(
        "OK", meter=METER, receipt=RECEIPT, notification="ScheduleRenegotiation", max_delay=5))
    assert (M.meter_info_of(loop), M.receipt_of(loop)) == (METER, RECEIPT)
    assert M.notification(loop) == ("ScheduleRenegotiation", 5)
    assert M.notification(M.dc_charge_loop_res("OK")) == (None, 0)
    assert M.display_of(_built("AC_ChargeLoop", True, M.ac_charge_loop_req(display=DISPLAY))) == DISPLAY
    disc = _built("ServiceDiscovery", False,
                  M.service_discovery_res("OK", [2, Service(6, True)], [Service(65)]))
    assert M.services_of(disc) == ((Service(2), Service(6, True)), (Service(65),))
    assert M.charge_progress(M.power_delivery_req("Standby")) == "Standby"
    assert M.processing(M.dc_cable_check_res("OK", "Ongoing")) == "Ongoing"
    assert M.processing(M.dc_pre_charge_req(1, 2, "Finished")) == "Finished"


# ================================================================================= real streams

def _stream_params() -> list:
    return [pytest.param(s, id=f"{s['group']}:{s['element']}:{k}") for k, s in enumerate(STREAMS)]


@pytest.mark.parametrize("s", _stream_params())
def test_real_streams_decode_and_reencode(s: dict) -> None:
    data = bytes.fromhex(s["hex"])
    d = M.decode(s["payload_type"], data)
    assert d.element == s["element"]
    assert M.MESSAGES[d.name].payload_type == s["payload_type"]
    assert M.decode(s["payload_type"], data, strict=True).body == d.body
    pt, again = M.encode(d.name, d.request, d.body, d.session_id, d.timestamp, d.header.signature)
    assert pt == s["payload_type"]
    if s["reencodes"]:
        assert again == data
    else:  # the peer's encoder left non-zero padding bits: everything else is the same
        assert len(again) == len(data) and again[:-1] == data[:-1]
    for other in PAYLOAD_TYPES:
        if other != pt:
            _refused_or_also_valid(other, data)


def _streams(group: str, element: str) -> list[Any]:
    out = [M.decode(s["payload_type"], bytes.fromhex(s["hex"])).body for s in STREAMS
           if s["group"] == group and s["element"] == element]
    assert out, (group, element)
    return out


def test_the_streams_cover_each_kind() -> None:
    kinds = {(s["group"], s["element"]) for s in STREAMS}
    for name in ("SessionSetup", "AuthorizationSetup", "Authorization", "ServiceDiscovery", "ServiceDetail",
                 "ServiceSelection", "ScheduleExchange", "PowerDelivery", "SessionStop",
                 "DC_ChargeParameterDiscovery",
                 "DC_CableCheck", "DC_PreCharge", "DC_ChargeLoop", "DC_WeldingDetection"):
        assert ("josev", name + "Req") in kinds and ("josev", name + "Res") in kinds
    for name in ("AC_ChargeParameterDiscovery", "AC_ChargeLoop", "ScheduleExchange", "PowerDelivery"):
        assert {("dspace-josev-ac-bpt", name + "Req"), ("dspace-josev-ac-bpt", name + "Res")} <= kinds
    assert ("edf-dc-bpt", "DC_ChargeLoopReq") in kinds


def test_readers_on_josev_dc() -> None:
    for req in _streams("josev", "DC_ChargeLoopReq"):
        assert M.variant(req) == ("Scheduled", False)
        v = M.values_of(req)
        # (Josev's EV simulator reports EVPresentVoltage 20e3 V)
        assert v["present_voltage"] > 0 and v["target_voltage"] > 0 and v["target_current"] >= 0
    for res in _streams("josev", "DC_ChargeLoopRes"):
        assert M.variant(res) == ("Scheduled", False) and M.is_ok(M.response_code(res))
        v = M.values_of(res)
        assert {"present_voltage", "present_current", "power_limit_achieved"} <= set(v)
    for req in _streams("josev", "DC_ChargeParameterDiscoveryReq"):
        assert M.variant(req) == (None, False)
        v = M.values_of(req)
        assert v["max_voltage"] > v["min_voltage"] >= 0 and v["max_charge_power"] > 0
    for res in _streams("josev", "DC_ChargeParameterDiscoveryRes"):
        assert not M.is_bpt(res) and M.values_of(res)["max_charge_current"] > 0
    for req in _streams("josev", "ScheduleExchangeReq"):
        # Josev's EVCC offers to discharge (EVEnergyOffer, -10 kW) in a plain DC session: the message carries
        # discharge information, the session's BPT-ness is the selected service's
        assert M.variant(req) == ("Scheduled", True)
        assert M.offer_of(req).power[0][1] < 0
    for res in _streams("josev", "ScheduleExchangeRes"):
        assert M.control_mode(res) == "Scheduled" and M.processing(res) == "Finished"
        tuples = M.schedules_of(res)
        assert tuples and all(t.charging.entries for t in tuples)
    progress = {M.charge_progress(r) for r in _streams("josev", "PowerDeliveryReq")}
    assert progress == {"Start", "Stop"}
    for req in _streams("josev", "PowerDeliveryReq"):
        if M.charge_progress(req) == "Start":
            p = M.power_profile_of(req)
            assert p is not None and p.mode == "Scheduled" and M.control_mode(req) == "Scheduled"
    assert {M.processing(r) for r in _streams("josev", "DC_CableCheckRes")} <= {"Finished", "Ongoing"}
    for req in _streams("josev", "DC_PreChargeReq"):
        assert M.processing(req) in ("Ongoing", "Finished") and M.values_of(req)["target_voltage"] > 0
    for res in _streams("josev", "AuthorizationSetupRes"):
        assert "EIM" in [s.name for s in res.authorization_services]
    sets = [ps for r in _streams("josev", "ServiceDetailRes") for ps in S.parameter_sets_of(r)]
    assert sets and all(ps.control_mode in (S.ControlMode.SCHEDULED, S.ControlMode.DYNAMIC) for ps in sets)
    energy, _vas = M.services_of(_streams("josev", "ServiceDiscoveryRes")[0])
    assert S.ServiceID.DC in {s.id for s in energy}


def test_readers_on_dspace_josev_ac_bpt() -> None:
    g = "dspace-josev-ac-bpt"
    for req in _streams(g, "AC_ChargeLoopReq"):
        assert M.variant(req) == ("Scheduled", True)
        assert "present_active_power" in M.values_of(req)
    for res in _streams(g, "AC_ChargeLoopRes"):
        assert M.variant(res) == ("Scheduled", True)
    assert M.is_bpt(_streams(g, "AC_ChargeParameterDiscoveryReq")[0])
    res = _streams(g, "AC_ChargeParameterDiscoveryRes")[0]
    assert M.is_bpt(res) and M.values_of(res)["nominal_frequency"] in (50.0, 60.0)
    start = next(r for r in _streams(g, "PowerDeliveryReq") if M.charge_progress(r) == "Start")
    assert M.variant(start) == ("Scheduled", True) and start.bpt_channel_selection.name == "Charge"
    tuples = M.schedules_of(_streams(g, "ScheduleExchangeRes")[0])
    assert tuples and all(t.discharging is not None for t in tuples)
    assert M.is_bpt(_streams(g, "ScheduleExchangeRes")[0])
    sets = S.parameter_sets_of(_streams(g, "ServiceDetailRes")[0])
    assert all(ps.bpt_channel == S.BPTChannel.UNIFIED for ps in sets)
    energy, _ = M.services_of(_streams(g, "ServiceDiscoveryRes")[0])
    assert S.ServiceID.AC_BPT in {s.id for s in energy}


def test_readers_on_edf_dc_bpt_dynamic() -> None:
    g = "edf-dc-bpt"
    req = _streams(g, "DC_ChargeLoopReq")[0]
    assert M.variant(req) == ("Dynamic", True)
    v = M.values_of(req)
    assert {"max_discharge_power", "min_discharge_power", "max_discharge_current",
            "target_energy_request"} <= set(v)
    assert M.is_bpt(_streams(g, "DC_ChargeParameterDiscoveryReq")[0])
    assert M.control_mode(_streams(g, "ScheduleExchangeReq")[0]) == "Dynamic"


# ===================================================================================== services

def test_service_ids() -> None:
    assert [int(s) for s in S.ServiceID] == [1, 2, 3, 4, 5, 6, 7, 65, 66]
    assert S.ENERGY_SERVICES | S.VALUE_ADDED_SERVICES == set(S.ServiceID)
    assert S.BPT_SERVICES <= S.ENERGY_SERVICES and S.AC_SERVICES.isdisjoint(S.DC_SERVICES)


def test_parameter_set_roundtrip_through_service_detail() -> None:
    ps = S.ParameterSet(3, [("Connector", 2), ("Flag", True), ("Rate", 2.5), ("Protocol", "https"),
                            ("GeneratorMode", 1), ("GeneratorMode", 2)])
    res = _built("ServiceDetail", False, M.service_detail_res("OK", 2, [ps]))
    assert S.parameter_sets_of(res) == (ps,)
    assert ps["GeneratorMode"] == 1 and ps.get("Missing") is None and next(iter(ps)) == "Connector"
    with pytest.raises(KeyError):
        ps["Missing"]
    alias = M.iso20.ParameterSetType(1, [M.iso20.ParameterType("DetectionMethodGridCodeIslanding",
                                                                int_value=2)])
    assert S.ParameterSet.from_element(alias).get(S.Param.GRID_CODE_ISLANDING) == 2
    with pytest.raises(TypeError):
        S.ParameterSet(1, {"x": [1]}).to_element()  # type: ignore[dict-item]


def test_default_parameter_sets() -> None:
    dc = S.default_parameter_sets(S.ServiceID.DC)
    assert [(p.id, p.control_mode, p.mobility_needs_mode) for p in dc] == [
        (1, S.ControlMode.SCHEDULED, S.MobilityNeedsMode.PROVIDED_BY_EVCC),
        (2, S.ControlMode.DYNAMIC, S.MobilityNeedsMode.PROVIDED_BY_EVCC)]
    assert dc[0]["Connector"] == S.DCConnector.EXTENDED and dc[0].pricing == S.Pricing.NONE
    dyn = S.default_parameter_sets(S.ServiceID.DC_BPT, control_modes=[S.ControlMode.DYNAMIC],
                                   secc_mobility_needs=True, first_id=0)
    assert [(p.id, p.mobility_needs_mode) for p in dyn] == [(0, S.MobilityNeedsMode.PROVIDED_BY_EVCC),
                                                           (1, S.MobilityNeedsMode.PROVIDED_BY_SECC)]
    assert all(p.bpt_channel == S.BPTChannel.UNIFIED and p["GeneratorMode"] == 1 for p in dyn)
    ac = S.default_parameter_sets(S.ServiceID.AC_BPT, islanding=S.GridCodeIslanding.PASSIVE)
    assert ac[0]["EVSENominalVoltage"] == 230 and ac[0]["Connector"] == S.ACConnector.THREE_PHASE
    assert ac[0][S.Param.GRID_CODE_ISLANDING] == 2
    assert S.default_parameter_sets(S.ServiceID.INTERNET)[0]["Port"] == 443
    for sid in S.ServiceID:  # every offer fits a ServiceDetailRes
        for ps in S.default_parameter_sets(sid):
            assert all(isinstance(v, (int, str)) for _k, v in ps.parameters)
    assert S.ControlMode.DYNAMIC.label == "Dynamic"
    # the set's control mode name drives the builders
    chosen = S.default_parameter_sets(S.ServiceID.DC_BPT)[1]
    body = M.dc_charge_loop_req(chosen.control_mode.label, True)
    assert M.variant(body) == ("Dynamic", True)


def test_the_data_file_says_where_it_comes_from() -> None:
    doc = json.loads((DATA / "iso20" / "streams.json").read_text())
    assert "vectors.jsonl" in doc["about"]
    assert all(s["source"] for s in doc["streams"])


def test_data_file_matches_shared() -> None:
    """The copied streams are the shared vectors' bytes (skipped without ../shared)."""
    path: Path = need_shared("vectors", "vectors.jsonl")
    hexes = set()
    for f in (path, path.with_name("vectors_bulk.jsonl")):
        with f.open() as fh:
            for line in fh:
                hexes.add(json.loads(line)["hex"])
    assert all(s["hex"] in hexes for s in STREAMS)
