"""ISO 15118-20 WPT and ACDP sessions, both roles, on the simulated clock with the simulators of sim/wpt.py and
sim/acdp.py: whole sessions to SessionStop (message order per role, payload types, every message schema-valid),
the WARNING_WPT paths (a knock out of alignment while charging, a wrong pairing code), a FAILED path of each
service with its own handling ([V2G20-5067] for WPT, the ACDP exception procedure of [V2G20-4025]/[V2G20-4057]),
the timers of Tables 218/219, the ACDP_SystemStatus side stream, and the mutated-message property."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2gkit import timing
from v2gkit.controllers import (
    ACDPChargerController,
    ACDPVehicleController,
    EVController,
    EVSEController,
    Isolation,
    WPTMethods,
    WPTSupplyController,
    WPTVehicleController,
)
from v2gkit.exi.validate import find_problem
from v2gkit.session.events import Closed, Reason, Received
from v2gkit.session.iso20 import acdp_messages as A
from v2gkit.session.iso20 import messages as M
from v2gkit.session.iso20 import wpt_messages as W
from v2gkit.session.iso20.acdp import (
    ACDP_RULES,
    ACDPEVCCConfig,
    ACDPEVCCSession,
    ACDPSECCConfig,
    ACDPSECCSession,
)
from v2gkit.session.iso20.config import EVCC20Config
from v2gkit.session.iso20.wpt import WPT_RULES, WPTEVCCConfig, WPTEVCCSession, WPTSECCConfig, WPTSECCSession
from v2gkit.session.simulate import Exchange, run_pair
from v2gkit.sim.acdp import ChargeBay, SimulatedACDPVehicle, SimulatedPantograph
from v2gkit.sim.wpt import ParkingSpot, SimulatedWPTPad, SimulatedWPTVehicle
from v2gkit.v2gtp import V2GTPMessage

SID = bytes.fromhex("0102030405060708")


# ---------------------------------------------------------------------------------------------- helpers
def wpt_pair(car: dict | None = None, pad: dict | None = None, ev_cfg: dict | None = None,
             se_cfg: dict | None = None, spot: dict | None = None) -> tuple[WPTEVCCSession, WPTSECCSession, Any, Any]:
    """A car 0.5 % short of its target over a 11 kW pad, parked 400/150 mm off the pad's coil."""
    where = ParkingSpot(**(spot or {}))
    p = SimulatedWPTPad(where, **(pad or {}))
    c = SimulatedWPTVehicle(where, **{"soc": 79.5, "target_soc": 80.0, "capacity_wh": 10_000.0, **(car or {})})
    ev = WPTEVCCSession("iso20-wpt", c, WPTEVCCConfig(**{"loop_interval": 0.2, **(ev_cfg or {})}))
    se = WPTSECCSession("iso20-wpt", p, WPTSECCConfig(**{"session_id": SID, **(se_cfg or {})}))
    return ev, se, c, p


def acdp_pair(car: dict | None = None, pantograph: dict | None = None, ev_cfg: dict | None = None,
              se_cfg: dict | None = None) -> tuple[ACDPEVCCSession, ACDPSECCSession, Any, Any]:
    """A DC car 0.5 % short of its target driving into a pantograph's bay from 3 m away."""
    bay = ChargeBay()
    p = SimulatedPantograph(bay, **{"cable_check_time": 1.0, **(pantograph or {})})
    c = SimulatedACDPVehicle(bay, **{"soc": 79.5, "target_soc": 80.0, "capacity_wh": 10_000.0, **(car or {})})
    ev = ACDPEVCCSession("iso20-acdp", c, ACDPEVCCConfig(**{"loop_interval": 0.2, **(ev_cfg or {})}))
    se = ACDPSECCSession("iso20-acdp", p, ACDPSECCConfig(**{"session_id": SID, **(se_cfg or {})}))
    return ev, se, c, p


def closed(ex: Exchange, side: str) -> Closed:
    return ex.closed[side][1]


def flow(ex: Exchange, side: str, side_stream: bool = False) -> list[str]:
    """The messages ``side`` sent, repeats collapsed; the ACDP_SystemStatus side stream left out unless asked."""
    out: list[str] = []
    for n in ex.names(side):
        if not side_stream and n.startswith("ACDP_SystemStatus"):
            continue
        if not out or out[-1] != n:
            out.append(n)
    return out


def received(ex: Exchange, side: str, name: str | None = None) -> list[Received]:
    return [r for _, s, r in ex.received if s == side and (name is None or r.name == name)]


def codes(ex: Exchange, name: str) -> list[str]:
    """The response codes the EV received for ``name``Res, in order."""
    return [r.body.response_code.name for r in received(ex, "EV", name + "Res")]


def sent_at(ex: Exchange, name: str, which: int = -1) -> float:
    return [t for t, _, n in ex.log if n == name][which]


def all_valid(ex: Exchange) -> int:
    """Every message both sides received decodes to a schema-valid body under its schema's payload type
    (ACDP_SystemStatus on its side stream, 0x8103). Returns how many were checked."""
    n = 0
    for _, _, r in ex.received:
        info = M.MESSAGES[r.name[:-3]]
        assert find_problem(info.module, r.body, r.name) is None, r.name
        expected = 0x8103 if r.name.startswith("ACDP_SystemStatus") else int(info.payload_type)
        assert r.payload_type == expected, (r.name, hex(r.payload_type))
        n += 1
    return n


def drop(element: str, nth: int = 1) -> Callable:
    """tamper: lose the ``nth`` ``element`` (and nothing else)."""
    count = [0]

    def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes | None:
        if name == element:
            count[0] += 1
            if count[0] == nth:
                return None
        return payload
    return tamper


def when(element: str, action: Callable[[], Any], nth: int = 1) -> Callable:
    """tamper: run ``action`` when ``element`` is sent for the ``nth`` time (before the peer reads it)."""
    count = [0]

    def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes:
        if name == element:
            count[0] += 1
            if count[0] == nth:
                action()
        return payload
    return tamper


WPT_HEAD = ["SessionSetupReq", "WPT_FinePositioningSetupReq", "WPT_FinePositioningReq", "WPT_PairingReq",
            "AuthorizationSetupReq", "AuthorizationReq", "ServiceDiscoveryReq", "ServiceDetailReq",
            "ServiceSelectionReq", "WPT_ChargeParameterDiscoveryReq", "ScheduleExchangeReq",
            "WPT_AlignmentCheckReq"]
WPT_TAIL = ["PowerDeliveryReq", "WPT_ChargeLoopReq", "PowerDeliveryReq", "SessionStopReq"]
ACDP_FLOW = ["SessionSetupReq", "ACDP_VehiclePositioningReq", "AuthorizationSetupReq", "AuthorizationReq",
             "ServiceDiscoveryReq", "ServiceDetailReq", "ServiceSelectionReq", "DC_ChargeParameterDiscoveryReq",
             "ScheduleExchangeReq", "ACDP_ConnectReq", "DC_CableCheckReq", "DC_PreChargeReq", "PowerDeliveryReq",
             "DC_ChargeLoopReq", "PowerDeliveryReq", "ACDP_DisconnectReq", "SessionStopReq"]


# ------------------------------------------------------------------------------------------- the pieces
def test_the_simulators_are_the_controllers() -> None:
    _, _, car, pad = wpt_pair()
    assert isinstance(pad, WPTSupplyController) and isinstance(pad, EVSEController)
    assert isinstance(car, WPTVehicleController) and isinstance(car, EVController)
    _, _, car, pan = acdp_pair()
    assert isinstance(pan, ACDPChargerController) and isinstance(car, ACDPVehicleController)


def test_the_rules_name_real_messages() -> None:
    """Every request a rules table allows is a -20 message; every WPT/ACDP message has a place in its table."""
    for rules, own in ((WPT_RULES, "WPT_"), (ACDP_RULES, "ACDP_")):
        allowed = set().union(*rules.values())
        assert allowed <= set(M.MESSAGES), allowed - set(M.MESSAGES)
        mine = {n for n in M.MESSAGES if n.startswith(own)} - {"ACDP_SystemStatus"}  # the side stream
        assert mine <= allowed, mine - allowed
    assert "DC_WeldingDetection" not in set().union(*ACDP_RULES.values())  # [V2G20-4045]


@pytest.mark.parametrize("code", ["OK", "WARNING_WPT", "FAILED", "FAILED_SequenceError", "FAILED_UnknownSession"])
def test_every_wpt_and_acdp_response_is_schema_valid_for_any_code(code: str) -> None:
    """What a SECC sends with nothing but a response code (a refused request) encodes and is schema-valid."""
    _, se, _, _ = wpt_pair()
    _, ase, _, _ = acdp_pair()
    for s, names in ((se, se.BUILD), (ase, ase.BUILD)):
        for name in names:
            [send] = s.core.send(0.0, name + "Res", s._response(name, code, None))
            d = M.decode(send.payload_type, send.payload, strict=True)
            assert d.name == name and not d.request and d.body.response_code.name == code
            assert find_problem(M.MESSAGES[name].module, d.body, d.element) is None


def test_wpt_message_builders_round_trip() -> None:
    methods = WPTMethods(("LPE", "Manual"), ("External confirmation", "LPE"), ("PowerCheck",))
    d = M.decode(*M.encode("WPT_FinePositioningSetup", True, W.fine_positioning_setup_req(methods), SID, 1))
    assert W.methods_of(d.body) == methods and d.payload_type == 0x8006
    assert methods.common(WPTMethods(("Manual",), ("LPE",), ("LPE", "PowerCheck"))) == \
        WPTMethods(("Manual",), ("LPE",), ("PowerCheck",))
    assert methods.common(WPTMethods(("LF_TxEV",), ("LPE",), ("PowerCheck",))) is None
    d = M.decode(*M.encode("WPT_ChargeLoop", False, W.charge_loop_res(
        "OK", 7000.0, 11_000.0, 0.0, power_input=7600.0, notification="Terminate"), SID, 1))
    v = W.charge_loop_values(d.body)
    assert (v.power_request, v.max_output_power, v.power_input, v.diagnostics) == (7000.0, 11_000.0, 7600.0,
                                                                                  "SPCNoIssue")
    assert M.notification(d.body) == ("Terminate", 0)
    with pytest.raises(ValueError, match="no WPT_PairingMethodType"):
        W.fine_positioning_setup_req(WPTMethods(pairing=("Bluetooth",)))


def test_acdp_message_builders_round_trip() -> None:
    ev = A.EVTechnicalStatus(True, True, True, -66.0, "StateC", 74, "OK_NoEVError", False)
    d = M.decode(*M.encode("ACDP_SystemStatus", True, A.system_status_req(ev), SID, 1))
    assert A.technical_status_of(d.body) == ev
    se = A.EVSESystemStatus("EndPosition", True, "Safe", ev_in_charge_position=True, ev_association=True)
    d = M.decode(*M.encode("ACDP_SystemStatus", False, A.system_status_res("OK", se), SID, 1))
    assert A.system_status_of(d.body) == se and not se.must_stop
    assert A.EVSESystemStatus(emergency_shutdown=True).must_stop and A.EVSESystemStatus(isolation="Fault").must_stop
    # Disconnect shares Connect's types in the XSD: the element still tells them apart
    for name, body in (("ACDP_Connect", A.connect_res("OK", "Ongoing", "State_B", "Moving")),
                       ("ACDP_Disconnect", A.disconnect_res("OK", "Ongoing", "State_B", "Moving"))):
        d = M.decode(*M.encode(name, False, body, SID, 1))
        assert d.name == name and A.device_status_of(d.body) == ("State_B", "Moving")
    d = M.decode(*M.encode("ACDP_VehiclePositioning", False, A.vehicle_positioning_res(
        "OK", "Ongoing", True, 40000, -12, 300, 600, False), SID, 1))
    processing, pos = A.positioning_of(d.body)
    assert processing == "Ongoing" and pos.x_deviation == 32767 and pos.y_deviation == -12  # xs:short


# ------------------------------------------------------------------------------------------- WPT flows
@pytest.mark.parametrize("mode", ["Scheduled", "Dynamic"])
def test_wpt_session_to_session_stop(mode: str) -> None:
    ev, se, car, pad = wpt_pair(ev_cfg={"control_mode": mode})
    ex = run_pair(ev, se)
    assert flow(ex, "EV") == WPT_HEAD + WPT_TAIL
    assert flow(ex, "SE") == [n[:-3] + "Res" for n in WPT_HEAD + WPT_TAIL]
    assert closed(ex, "EV").reason is closed(ex, "SE").reason is Reason.TERMINATED
    assert ev.result.ok and se.result.ok and ev.mode == se.mode == mode
    assert all_valid(ex) == len(ex.log)
    # the setup is an offer, then the choice confirmed one method per list ([V2G20-5006])
    setups = received(ex, "SE", "WPT_FinePositioningSetupReq")
    assert [M.processing(r.body) for r in setups] == ["Ongoing", "Finished"]
    assert W.methods_of(received(ex, "EV", "WPT_FinePositioningSetupRes")[-1].body) == \
        ev.choice == se.agreed == WPTMethods(("LPE",), ("LPE",), ("PowerCheck",))
    # positioning moved the car from 427 mm off the coil to where its driver stops, then it paired
    assert car.path[0][1:] != car.path[-1][1:] == (20.0, -10.0)
    pairing = received(ex, "SE", "WPT_PairingReq")
    assert pairing[-1].body.observed_id_code == pad.pairing_code() == 4711
    assert [M.processing(r.body) for r in pairing][-1] == "Finished"
    # the alignment check told the car what the pad transmitted
    check = received(ex, "EV", "WPT_AlignmentCheckRes")
    assert any(r.body.power_transmitted is not None and M.value_of(r.body.power_transmitted) == 500.0 for r in check)
    # energy: what the car stored came over the link at the spot's efficiency; the pad's meter is the grid side
    assert car.soc() >= 80.0
    eff = car.spot.efficiency()
    assert car.charged_wh == pytest.approx(pad.delivered_wh, rel=0.02)
    assert car.charged_wh / pad.meter_wh() == pytest.approx(eff, rel=0.02) and 0.9 < eff < 0.93
    assert se.result.energy_wh == pytest.approx(pad.meter_wh())
    # the loop's answers carry the pad's limits and its input power
    loop = received(ex, "EV", "WPT_ChargeLoopRes")
    values = [W.charge_loop_values(r.body) for r in loop]
    assert all(v.max_output_power == 11_000.0 for v in values)
    assert max(v.power_input or 0.0 for v in values) == pytest.approx(11_000.0 / eff, rel=0.01)


def test_wpt_positioning_and_pairing_follow_the_car() -> None:
    """The EV says Finished when it stands; pairing stays Ongoing until the code is observed (1 s here)."""
    ev, se, _, _ = wpt_pair(car={"pairing_time": 1.0})
    ex = run_pair(ev, se)
    fp = [M.processing(r.body) for r in received(ex, "SE", "WPT_FinePositioningReq")]
    assert fp[-1] == "Finished" and set(fp[:-1]) == {"Ongoing"}
    assert len(fp) >= 20  # 427 mm at 100 mm/s: over 4 s of 0.2 s polls
    pairing = received(ex, "SE", "WPT_PairingReq")
    assert [r.body.observed_id_code for r in pairing[:-1]] == [None] * (len(pairing) - 1)
    assert 1.0 <= sent_at(ex, "WPT_PairingReq") - sent_at(ex, "WPT_PairingReq", 0) < 1.3


def test_wpt_misalignment_while_charging_repositions() -> None:
    """A knock moves the car 150 mm while it charges: the pad answers WARNING_WPT in the loop and stops, the car
    checks the alignment ([V2G20-5058]), which fails with WARNING_WPT too ([V2G20-5057]); it positions again,
    pairs, and per [V2G20-5032] runs authorization and service selection again before charging on."""
    ev, se, car, _ = wpt_pair(car={"shift_at": (1.0, 150.0, 0.0)})
    ex = run_pair(ev, se)
    assert codes(ex, "WPT_ChargeLoop").count("WARNING_WPT") == 1
    assert codes(ex, "WPT_AlignmentCheck").count("WARNING_WPT") == 1
    requests = flow(ex, "EV")
    warned = requests.index("WPT_AlignmentCheckReq", requests.index("WPT_ChargeLoopReq"))
    assert requests[warned:] == ["WPT_AlignmentCheckReq"] + WPT_HEAD[1:] + WPT_TAIL[:2] + WPT_TAIL[2:]
    # the car's last alignment check said Failed; the pad had stopped the power with the loop's warning
    failed = [r for r in received(ex, "SE", "WPT_AlignmentCheckReq") if W.result_code(r.body) == "EVResultFailed"]
    assert len(failed) == 1
    diag = [W.charge_loop_values(r.body).diagnostics for r in received(ex, "EV", "WPT_ChargeLoopRes")
            if r.body.response_code.name == "WARNING_WPT"]
    assert diag == ["SPCPowerTransferAnomalyDetected"]
    assert ev.attempts == 2 and ev.result.ok and se.result.ok and car.soc() >= 80.0
    assert all_valid(ex) == len(ex.log)


def test_wpt_knock_before_power_delivery_warns() -> None:
    """The car is knocked out of alignment after the alignment check: PowerDelivery(Start) is answered
    WARNING_WPT ([V2G20-5061]) and the car positions again from WPT_FinePositioningSetup."""
    ev, se, car, _ = wpt_pair()
    ex = run_pair(ev, se, tamper=when("PowerDeliveryReq", lambda: car.spot.move(120.0, 0.0)))
    assert codes(ex, "PowerDelivery")[0] == "WARNING_WPT"
    requests = flow(ex, "EV")
    first = requests.index("PowerDeliveryReq")
    assert requests[first:first + 3] == ["PowerDeliveryReq", "WPT_FinePositioningSetupReq", "WPT_FinePositioningReq"]
    assert requests[-len(WPT_TAIL):] == WPT_TAIL and ev.result.ok and ev.attempts == 2


def test_wpt_wrong_pairing_code_warns_until_the_car_gives_up() -> None:
    """The car observes a neighbouring pad's code: WARNING_WPT ([V2G20-5016], the default choice), the car
    positions and pairs again ([V2G20-5054]) and gives up after its third attempt with SessionStop."""
    ev, se, _, _ = wpt_pair(car={"observed_code": 99}, ev_cfg={"max_positioning_attempts": 3})
    ex = run_pair(ev, se)
    assert codes(ex, "WPT_Pairing").count("WARNING_WPT") == 3
    assert flow(ex, "EV").count("WPT_FinePositioningSetupReq") == 3 and flow(ex, "EV")[-1] == "SessionStopReq"
    assert "AuthorizationSetupReq" not in flow(ex, "EV")
    assert closed(ex, "EV").reason is Reason.GAVE_UP and "after 3 positionings" in closed(ex, "EV").text
    assert closed(ex, "SE").reason is Reason.TERMINATED


def test_wpt_failed_pairing_the_ev_ends_with_session_stop() -> None:
    """A pad that answers a failed pairing with FAILED (its choice, NOTE 1 of [V2G20-5016]): the car sends
    SessionStopReq ([V2G20-5067]), the SECC answers it and closes; both end as the refusal."""
    ev, se, _, pad = wpt_pair(car={"observed_code": 99}, se_cfg={"pairing_failure": "FAILED"})
    ex = run_pair(ev, se)
    assert codes(ex, "WPT_Pairing")[-1] == "FAILED"
    assert ex.names("EV")[-2:] == ["WPT_PairingReq", "SessionStopReq"]
    assert ex.names("SE")[-2:] == ["WPT_PairingRes", "SessionStopRes"] and codes(ex, "SessionStop") == ["OK"]
    assert closed(ex, "SE").reason is Reason.REFUSED and "observed pairing code 99" in closed(ex, "SE").text
    assert closed(ex, "EV").reason is Reason.FAILED_RESPONSE
    assert closed(ex, "EV").text == "SECC answered WPT_PairingRes with FAILED"
    assert not ev.result.ok and not se.result.ok and pad.output_power() == 0.0
    assert any(e.name == "wind_down" for _, s, e in ex.events if s == "SE")


def test_wpt_incompatible_devices_fail_at_once() -> None:
    """WPT_ChargeParameterDiscovery is no message of [V2G20-5067]: FAILED_WrongChargeParameter ends the session
    at once on both sides, as in AC/DC."""
    ev, se, _, _ = wpt_pair(car={"ground_clearance": (300, 400)})
    ex = run_pair(ev, se)
    assert ex.names("EV")[-1] == "WPT_ChargeParameterDiscoveryReq"
    assert codes(ex, "WPT_ChargeParameterDiscovery") == ["FAILED_WrongChargeParameter"]
    assert closed(ex, "SE").reason is Reason.REFUSED and "ground clearance 300..400 mm" in closed(ex, "SE").text
    assert closed(ex, "EV").reason is Reason.FAILED_RESPONSE
    ev, se, _, _ = wpt_pair(car={"natural_frequency": 140_000.0})
    assert "natural frequency" in closed(run_pair(ev, se), "SE").text


def test_wpt_sequence_error_ends_at_once() -> None:
    """A WPT SECC answers a request out of sequence with FAILED_SequenceError and stops ([V2G20-1482])."""
    _, se, _, _ = wpt_pair()
    se.start(0.0)
    out = se.receive(0.1, _req(se.core, "WPT_ChargeLoop", W.charge_loop_req(1000.0, 0.0)))
    assert [o.name for o in out if hasattr(o, "payload")] == ["WPT_ChargeLoopRes"]
    assert isinstance(out[-1], Closed) and out[-1].reason is Reason.SEQUENCE_ERROR


def test_wpt_foreign_object_stops_the_transfer() -> None:
    """The pad detects a foreign object: it stops, says why in SPCChargeDiagnostics and asks the car to
    terminate; the session ends normally."""
    ev, se, car, pad = wpt_pair(car={"soc": 70.0})
    ex = run_pair(ev, se, tamper=when("WPT_ChargeLoopReq", lambda: pad.detect("SPCFODDetected"), nth=5))
    last = received(ex, "EV", "WPT_ChargeLoopRes")[-1]
    assert W.charge_loop_values(last.body).diagnostics == "SPCFODDetected" and M.notification(last.body)[0] == \
        "Terminate"
    assert flow(ex, "EV")[-2:] == ["PowerDeliveryReq", "SessionStopReq"] and ev.result.ok and car.soc() < 80.0


def test_wpt_pause_and_resume_skip_positioning() -> None:
    """The car pauses; resuming with the old SessionID goes straight to WPT_ChargeParameterDiscovery
    ([V2G20-5046]): no positioning, no authorization."""
    from v2gkit.session.paused import PausedSessions
    paused = PausedSessions()
    where = ParkingSpot()
    pad = SimulatedWPTPad(where)
    car = SimulatedWPTVehicle(where, soc=79.0, target_soc=80.0, capacity_wh=10_000.0, pause_at=1.0)
    ev = WPTEVCCSession("iso20-wpt", car, WPTEVCCConfig(loop_interval=0.2))
    se = WPTSECCSession("iso20-wpt", pad, WPTSECCConfig(session_id=SID), paused)
    ex = run_pair(ev, se)
    assert closed(ex, "EV").reason is Reason.PAUSED and closed(ex, "SE").reason is Reason.PAUSED
    car.pause_at = None
    ev2 = WPTEVCCSession("iso20-wpt", car, WPTEVCCConfig(loop_interval=0.2, resume_session_id=SID))
    se2 = WPTSECCSession("iso20-wpt", pad, WPTSECCConfig(session_id=b"\x09" * 8), paused)
    ex2 = run_pair(ev2, se2)
    assert codes(ex2, "SessionSetup") == ["OK_OldSessionJoined"]
    assert flow(ex2, "EV")[:3] == ["SessionSetupReq", "WPT_ChargeParameterDiscoveryReq", "ScheduleExchangeReq"]
    assert ev2.result.ok and car.soc() >= 80.0


# ------------------------------------------------------------------------------------------ ACDP flows
@pytest.mark.parametrize("mode,bpt", [("Scheduled", False), ("Dynamic", False), ("Scheduled", True),
                                      ("Dynamic", True)])
def test_acdp_session_to_session_stop(mode: str, bpt: bool) -> None:
    """DC_ACDP (4) and DC_ACDP_BPT (7; the simulators only charge) in both control modes."""
    ev, se, car, pan = acdp_pair(ev_cfg={"control_mode": mode, "bpt": bpt}, se_cfg={"bpt": bpt})
    ex = run_pair(ev, se)
    assert flow(ex, "EV") == ACDP_FLOW
    assert flow(ex, "SE") == [n[:-3] + "Res" for n in ACDP_FLOW]
    assert closed(ex, "EV").reason is closed(ex, "SE").reason is Reason.TERMINATED
    assert ev.result.ok and se.result.ok and ev.mode == se.mode == mode
    assert ev.service == se.service == (7 if bpt else 4)
    assert M.is_bpt(received(ex, "SE", "DC_ChargeLoopReq")[-1].body) is bpt
    assert all_valid(ex) == len(ex.log)
    # the car drove in by the charger's positioning information and stopped inside the contact window
    assert car.seen[0].y_deviation == -3000 and car.seen[-1].in_charge_position
    positioning = received(ex, "SE", "ACDP_VehiclePositioningReq")
    assert [r.body.ev_mobility_status for r in positioning][-1] is True
    assert codes(ex, "ACDP_VehiclePositioning")[-1] == "OK"
    # the pantograph came down (Moving, then EndPosition with the pilot), went home after PowerDelivery(Stop)
    connect = [A.device_status_of(r.body) for r in received(ex, "EV", "ACDP_ConnectRes")]
    assert connect[0] == ("State_A", "Moving") and connect[-1] == ("State_B", "EndPosition")
    disconnect = [A.device_status_of(r.body) for r in received(ex, "EV", "ACDP_DisconnectRes")]
    assert disconnect[-1] == ("State_A", "Home") and pan.mechanical() == "Home"
    assert [s.value for _, s in pan.bay.cable.cp_events] == ["B", "C", "B", "A"]  # contact, charge, stop, lift
    # the side stream ran from SessionSetupRes to SessionStopRes, once a second ([V2G20-4016], [V2G20-4056])
    status = [t for t, s, n in ex.log if s == "EV" and n == "ACDP_SystemStatusReq"]
    assert ev.status_exchanges == se.status_answers == len(status) >= 10
    assert status[0] == pytest.approx(sent_at(ex, "SessionSetupRes") + 0.002, abs=1e-9)
    assert all(b - a == pytest.approx(timing.ISO20_ACDP_SYSTEM_STATUS_INTERVAL, abs=0.01)
               for a, b in itertools.pairwise(status))
    assert status[-1] < sent_at(ex, "SessionStopReq")
    assert ev.evse_status is not None and pan.last_ev_status is not None and pan.last_ev_status.immobilized
    assert car.soc() >= 80.0 and car.charged_wh == pytest.approx(pan.meter_wh(), rel=0.05)


def test_acdp_car_outside_the_contact_window_runs_the_exception_procedure() -> None:
    """The driver stops 400 mm off: the pantograph cannot make contact, ACDP_ConnectRes FAILED. Neither side
    stops there ([V2G20-4025], [V2G20-4057]): the car sends ACDP_Disconnect until the pantograph is home, then
    SessionStop; both end as the refusal."""
    ev, se, _, pan = acdp_pair(car={"park_at": (400.0, 0.0)})
    ex = run_pair(ev, se)
    assert codes(ex, "ACDP_Connect")[-1] == "FAILED"
    assert flow(ex, "EV")[-3:] == ["ACDP_ConnectReq", "ACDP_DisconnectReq", "SessionStopReq"]
    assert codes(ex, "ACDP_Disconnect")[-1] == "OK" and codes(ex, "SessionStop") == ["OK"]
    assert closed(ex, "SE").reason is Reason.REFUSED and "cannot make contact" in closed(ex, "SE").text
    assert closed(ex, "EV").reason is Reason.FAILED_RESPONSE
    assert closed(ex, "EV").text == "SECC answered ACDP_ConnectRes with FAILED"
    assert pan.mechanical() == "Home" and all_valid(ex) == len(ex.log)
    assert [e.data["allowed"] for _, s, e in ex.events if e.name == "wind_down"] == [
        ["ACDP_Disconnect", "PowerDelivery", "SessionStop"]]


def test_acdp_isolation_fault_lifts_the_pantograph() -> None:
    """The cable check finds an isolation fault (FAILED): the exception procedure still brings the pantograph
    home before SessionStop."""
    ev, se, _, pan = acdp_pair(pantograph={"isolation_result": Isolation.FAULT})
    ex = run_pair(ev, se)
    assert codes(ex, "DC_CableCheck")[-1] == "FAILED"
    assert flow(ex, "EV")[-3:] == ["DC_CableCheckReq", "ACDP_DisconnectReq", "SessionStopReq"]
    assert closed(ex, "EV").reason is Reason.FAILED_RESPONSE and pan.mechanical() == "Home"


def test_acdp_sequence_error_does_not_end_the_session() -> None:
    """[V2G20-4057]: after FAILED_SequenceError an ACDP SECC stays for the exception procedure: PowerDelivery
    only to stop, then ACDP_Disconnect or SessionStop; it closes after SessionStopRes."""
    _, se, _, _ = acdp_pair()
    se.start(0.0)
    out = se.receive(0.1, _req(se.core, "SessionSetup", M.session_setup_req("EV1"), sid=bytes(8)))
    assert [o.name for o in out if hasattr(o, "payload")] == ["SessionSetupRes"]
    out = se.receive(0.2, _req(se.core, "DC_CableCheck", M.dc_cable_check_req()))
    assert [o.name for o in out if hasattr(o, "payload")] == ["DC_CableCheckRes"]
    assert not any(isinstance(o, Closed) for o in out) and se.state == "Exception"
    out = se.receive(0.3, _req(se.core, "ACDP_Disconnect", A.disconnect_req()))
    assert not any(isinstance(o, Closed) for o in out)
    out = se.receive(0.4, _req(se.core, "SessionStop", M.session_stop_req()))
    assert [o.name for o in out if hasattr(o, "payload")] == ["SessionStopRes"]
    assert isinstance(out[-1], Closed) and out[-1].reason is Reason.SEQUENCE_ERROR
    assert out[-1].text == "DC_CableCheckReq: FAILED_SequenceError"


def test_acdp_wrong_session_id_ends_at_once() -> None:
    _, se, _, _ = acdp_pair()
    se.start(0.0)
    se.receive(0.1, _req(se.core, "SessionSetup", M.session_setup_req("EV1"), sid=bytes(8)))
    out = se.receive(0.2, _req(se.core, "ACDP_VehiclePositioning", A.vehicle_positioning_req(), sid=b"\x42" * 8))
    assert isinstance(out[-1], Closed) and out[-1].reason is Reason.UNKNOWN_SESSION


def test_acdp_emergency_is_told_on_the_side_stream_and_in_the_loop() -> None:
    """The charger's emergency: current off, Terminate in the loop, EVSEEmergencyShutdown in the status, the
    pantograph goes home; the car stops, disconnects and ends the session."""
    ev, se, car, pan = acdp_pair(car={"soc": 60.0})
    ex = run_pair(ev, se, tamper=when("DC_ChargeLoopReq", pan.trigger_emergency, nth=10))
    assert any(A.system_status_of(r.body).emergency_shutdown for r in received(ex, "EV", "ACDP_SystemStatusRes"))
    assert flow(ex, "EV")[-4:] == ["DC_ChargeLoopReq", "PowerDeliveryReq", "ACDP_DisconnectReq", "SessionStopReq"]
    assert closed(ex, "EV").reason is Reason.TERMINATED and pan.mechanical() == "Home" and car.soc() < 80.0


def test_acdp_status_failed_stops_the_car() -> None:
    """A charger that cannot tell its status answers ACDP_SystemStatusReq with FAILED ([V2G20-4018]); the car
    takes that as a reason to end: power off, pantograph home, SessionStop."""
    ev, se, _, pan = acdp_pair(car={"soc": 60.0})

    def broken() -> None:
        def system_status() -> Any:
            raise RuntimeError("status bus down")
        pan.system_status = system_status  # type: ignore[method-assign]

    ex = run_pair(ev, se, tamper=when("DC_ChargeLoopReq", broken, nth=3))
    assert "FAILED" in [r.body.response_code.name for r in received(ex, "EV", "ACDP_SystemStatusRes")]
    assert flow(ex, "EV")[-3:] == ["PowerDeliveryReq", "ACDP_DisconnectReq", "SessionStopReq"]
    assert closed(ex, "EV").reason is Reason.FAILED_RESPONSE and "ACDP_SystemStatusReq" in closed(ex, "EV").text
    assert closed(ex, "SE").reason is Reason.TERMINATED  # the SECC saw an orderly end
    assert any(e.name == "internal_error" for _, s, e in ex.events if s == "SE")  # its own fault, said so


# --------------------------------------------------------------------------------- timers (Tables 218/219)
@pytest.mark.parametrize("element,timeout", [
    ("WPT_FinePositioningSetupRes", 2.0), ("WPT_FinePositioningRes", 2.0), ("WPT_PairingRes", 2.0),
    ("WPT_AlignmentCheckRes", 2.0), ("WPT_ChargeLoopRes", 0.5), ("WPT_ChargeParameterDiscoveryRes", 2.0)])
def test_wpt_evcc_message_timeouts(element: str, timeout: float) -> None:
    """V2G_EVCC_Msg_Timeout, Table 218 ([V2G20-5069]); WPT_ChargeParameterDiscovery has Table 215's 2 s."""
    ev, se, _, _ = wpt_pair()
    ex = run_pair(ev, se, tamper=drop(element))
    c = closed(ex, "EV")
    assert c.reason is Reason.MESSAGE_TIMEOUT and c.text == f"V2G_EVCC_Msg_Timeout: no {element} within {timeout:g} s"
    req = element[:-3] + "Req"
    assert ex.closed["EV"][0] - sent_at(ex, req) == pytest.approx(timeout)


@pytest.mark.parametrize("element,timeout", [("WPT_ChargeLoopReq", 0.5), ("WPT_PairingReq", 60.0),
                                             ("WPT_AlignmentCheckReq", 60.0)])
def test_wpt_secc_sequence_timeouts(element: str, timeout: float) -> None:
    """V2G_SECC_Sequence_Timeout: 0.5 s after WPT_ChargeLoopRes (Table 218, [V2G20-5070]), 60 s otherwise (a
    patient car here, so that its own 2 s V2G_EVCC_Msg_Timeout does not end the session first)."""
    ev, se, _, _ = wpt_pair(ev_cfg={"msg_timeouts": {element[:-3]: 100.0}})
    ex = run_pair(ev, se, tamper=drop(element, 3))
    c = closed(ex, "SE")
    assert c.reason is Reason.SEQUENCE_TIMEOUT
    last_res = max(t for t, s, n in ex.log if s == "SE")
    assert ex.closed["SE"][0] - last_res == pytest.approx(timeout)


@pytest.mark.parametrize("element", ["ACDP_VehiclePositioningRes", "ACDP_ConnectRes", "ACDP_DisconnectRes",
                                     "ACDP_SystemStatusRes"])
def test_acdp_evcc_message_timeouts(element: str) -> None:
    """V2G_EVCC_Msg_Timeout, Table 219 ([V2G20-4020]): 2 s for each ACDP request, the side stream's too."""
    ev, se, _, _ = acdp_pair()
    ex = run_pair(ev, se, tamper=drop(element))
    c = closed(ex, "EV")
    assert c.reason is Reason.MESSAGE_TIMEOUT and c.text == f"V2G_EVCC_Msg_Timeout: no {element} within 2 s"
    assert ex.closed["EV"][0] - sent_at(ex, element[:-3] + "Req", 0 if "SystemStatus" in element else -1) == \
        pytest.approx(2.0)


@pytest.mark.parametrize("element,timeout", [("ACDP_ConnectReq", 60.0), ("DC_ChargeLoopReq", 0.5)])
def test_acdp_secc_sequence_timeouts(element: str, timeout: float) -> None:
    """60 s after an ACDP answer (Table 219 has no sequence timeout of its own), 0.5 s after DC_ChargeLoopRes
    (Table 217); the side stream's answers do not re-arm it."""
    ev, se, _, _ = acdp_pair(ev_cfg={"msg_timeouts": {element[:-3]: 100.0}})
    ex = run_pair(ev, se, tamper=drop(element, 3))
    assert closed(ex, "SE").reason is Reason.SEQUENCE_TIMEOUT
    last_main = max(t for t, s, n in ex.log if s == "SE" and not n.startswith("ACDP_SystemStatus"))
    assert ex.closed["SE"][0] - last_main == pytest.approx(timeout)


def test_timing_values() -> None:
    """Table 218/219 values where the sessions take them from."""
    cfg = WPTEVCCConfig()
    for name in ("WPT_FinePositioningSetup", "WPT_FinePositioning", "WPT_Pairing", "WPT_AlignmentCheck",
                 "ACDP_VehiclePositioning", "ACDP_Connect", "ACDP_Disconnect", "ACDP_SystemStatus"):
        assert cfg.msg_timeouts.get(name, cfg.msg_timeout_default) == 2.0
    assert cfg.msg_timeouts["WPT_ChargeLoop"] == 0.5
    assert timing.ISO20_SECC_PERFORMANCE_TIME["WPT_ChargeLoop"] == 0.25
    assert timing.ISO20_SECC_PERFORMANCE_TIME_DEFAULT == 1.5
    assert timing.ISO20_ACDP_SYSTEM_STATUS_END_TIMEOUT == 60.0


def test_configs_are_checked() -> None:
    from v2gkit.session.config import ConfigError
    with pytest.raises(ConfigError, match="pairing_failure"):
        WPTSECCConfig(pairing_failure="WARNING_Whatever")
    with pytest.raises(ConfigError, match="max_positioning_attempts"):
        WPTEVCCConfig(max_positioning_attempts=0)
    with pytest.raises(ConfigError, match="bpt"):
        WPTEVCCConfig(bpt=True)
    with pytest.raises(ConfigError, match="status_interval"):
        ACDPEVCCConfig(status_interval=0)
    with pytest.raises(ValueError, match="iso20-wpt"):
        WPTSECCSession("iso20-dc", SimulatedWPTPad())
    with pytest.raises(ValueError, match="iso20-acdp"):
        ACDPEVCCSession("iso20-dc", SimulatedACDPVehicle(), ACDPEVCCConfig())
    assert isinstance(ACDPEVCCConfig(), EVCC20Config)


# ------------------------------------------------------------------------------------------ the property
def _req(core: Any, name: str, body: Any, sid: bytes | None = None) -> V2GTPMessage:
    pt, payload = M.encode(name, True, body, core.session_id if sid is None else sid, 1_700_000_000)
    return V2GTPMessage(pt, payload)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["wpt", "acdp"]), st.integers(0, 150), st.data())
def test_mutated_messages_never_crash_either_machine(service: str, index: int, data: st.DataObject) -> None:
    """Flip bits in, cut, or overwrite a byte of any message of a real WPT or ACDP session in flight: both
    machines answer, refuse or close, never raise, and never take the peer's mistake for their own."""
    count = [0]
    what: list[str] = []

    def mutate(now: float, sender: str, name: str, payload: bytes) -> bytes:
        count[0] += 1
        if count[0] - 1 != index or not payload:
            return payload
        mutated = bytearray(payload)
        kind = data.draw(st.sampled_from(["flip", "cut", "byte"]))
        if kind == "flip":
            for _ in range(data.draw(st.integers(1, 4))):
                pos = data.draw(st.integers(0, len(mutated) * 8 - 1))
                mutated[pos // 8] ^= 1 << (pos % 8)
        elif kind == "cut":
            mutated = mutated[:data.draw(st.integers(0, len(mutated) - 1))]
        else:
            mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
        what.append(f"{kind} in {name} from {sender}")
        return bytes(mutated)

    if service == "wpt":
        ev, se, _, _ = wpt_pair(car={"soc": 79.9}, spot={"offset": (60.0, 0.0)})
    else:
        ev, se, _, _ = acdp_pair(car={"soc": 79.9, "speed": 3000.0})
    ex = run_pair(ev, se, tamper=mutate, until=900)
    assert set(ex.closed) == {"EV", "SE"}, what
    for side in ("EV", "SE"):
        c = closed(ex, side)
        assert c.ok or not c.local, (what, side, c)
    assert not any(e.name == "internal_error" for _, _, e in ex.events), what


@pytest.mark.parametrize("service", ["wpt", "acdp"])
def test_every_message_cut_short(service: str) -> None:
    """Every third message of a session in turn, cut to half: the receiver closes (UNDECODABLE or a FAILED
    answer, ACDP after its exception procedure), the other side follows; no local reason anywhere."""
    def make() -> tuple[Any, Any]:
        if service == "wpt":
            ev, se, _, _ = wpt_pair(car={"soc": 79.9}, spot={"offset": (60.0, 0.0)})
        else:
            ev, se, _, _ = acdp_pair(car={"soc": 79.9, "speed": 3000.0})
        return ev, se

    def cut(index: int) -> Callable:
        count = [0]

        def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes:
            count[0] += 1
            return payload[:len(payload) // 2] if count[0] - 1 == index else payload
        return tamper

    n = len(run_pair(*make()).log)
    for index in range(0, n, 3):
        ex = run_pair(*make(), tamper=cut(index), until=900)
        assert set(ex.closed) == {"EV", "SE"}
        assert not any(closed(ex, s).local for s in ("EV", "SE")), (index, ex.closed)


@pytest.mark.parametrize("service", ["wpt", "acdp"])
def test_service_renegotiation_goes_back_to_service_discovery(service: str) -> None:
    """EVSENotification=ServiceRenegotiation in the loop ([V2G20-5096] WPT, [V2G20-1599] DC): the car stops
    (ACDP: and lifts the pantograph), SessionStop(ServiceRenegotiation), ServiceDiscovery on the same
    connection, and the service's flow again; the ACDP status stream keeps running through it."""
    if service == "wpt":
        ev, se, car, charger = wpt_pair(car={"soc": 79.0})
        loop, again = "WPT_ChargeLoopReq", ["WPT_ChargeParameterDiscoveryReq", "ScheduleExchangeReq",
                                            "WPT_AlignmentCheckReq"] + WPT_TAIL
    else:
        ev, se, car, charger = acdp_pair(car={"soc": 79.0})
        loop, again = "DC_ChargeLoopReq", ACDP_FLOW[7:]
    ex = run_pair(ev, se, tamper=when(loop, charger.request_service_renegotiation, nth=2))
    requests = flow(ex, "EV")
    stop = requests.index("SessionStopReq")
    assert requests[stop + 1:] == ["ServiceDiscoveryReq", "ServiceDetailReq", "ServiceSelectionReq"] + again
    sessions = [r.body.charging_session.name for r in received(ex, "SE", "SessionStopReq")]
    assert sessions == ["ServiceRenegotiation", "Terminate"] and ev.result.ok and car.soc() >= 80.0
    if service == "acdp":
        after = [t for t, s, n in ex.log if s == "EV" and n == "ACDP_SystemStatusReq"
                 and t > sent_at(ex, "SessionStopReq", 0)]
        assert after and ev.status_exchanges == se.status_answers
