"""DIN 70121 and ISO 15118-2 sessions, both roles, on the simulated clock: full sessions, the error paths
ISO 15118-4 checks, every timer, EVSE notifications, emergency shutdown, pause and resume."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2gkit.controllers import CPState
from v2gkit.exi.gen import iso2
from v2gkit.session.din2 import NEXT, EVCCConfig, EVCCSession, SECCConfig, SECCSession
from v2gkit.session.din2.dialect import Dialect
from v2gkit.session.paused import PausedSessions
from v2gkit.session.simulate import Exchange, run_pair
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import Cable, SimulatedACEVSE, SimulatedDCEVSE

CASES = [("din", True), ("iso2", True), ("iso2", False)]


def _pair(protocol: str = "iso2", dc: bool = True, *, ev_kw: dict | None = None, evse_kw: dict | None = None,
          ev_cfg: dict | None = None, secc_cfg: dict | None = None, paused: PausedSessions | None = None
          ) -> tuple[EVCCSession, SECCSession, SimulatedEV, Any]:
    cable = Cable()
    ev = SimulatedEV(**{"soc": 78.0, "target_soc": 80.0, "ac": not dc, "cable": cable, **(ev_kw or {})})
    evse = (SimulatedDCEVSE(**{"cable_check_time": 1.0, **(evse_kw or {})}) if dc
            else SimulatedACEVSE(**{"cable": cable, **(evse_kw or {})}))
    evcc = EVCCSession(protocol, ev, EVCCConfig(**{"dc": dc, "loop_interval": 0.25, **(ev_cfg or {})}))
    secc = SECCSession(protocol, evse, SECCConfig(**{"dc": dc, **(secc_cfg or {})}), paused)
    return evcc, secc, ev, evse


def _closed(ex: Exchange, side: str) -> tuple[float, bool, str]:
    t, c = ex.closed[side]
    return t, c.ok, c.text


def _requests(ex: Exchange) -> list[str]:
    """Request names in order, loops collapsed."""
    out: list[str] = []
    for n in ex.names("EV"):
        if not out or out[-1] != n:
            out.append(n)
    return out


@pytest.mark.parametrize("protocol,dc", CASES)
def test_full_session(protocol: str, dc: bool) -> None:
    evcc, secc, ev, evse = _pair(protocol, dc)
    t0 = time.perf_counter()
    ex = run_pair(evcc, secc)
    wall = time.perf_counter() - t0
    assert _closed(ex, "EV")[1:] == (True, "terminated") and _closed(ex, "SE")[1:] == (True, "terminated")
    head = ["SessionSetupReq", "ServiceDiscoveryReq", "PaymentServiceSelectionReq", "AuthorizationReq",
            "ChargeParameterDiscoveryReq"]
    power = (["CableCheckReq", "PreChargeReq", "PowerDeliveryReq", "CurrentDemandReq", "PowerDeliveryReq",
              "WeldingDetectionReq", "SessionStopReq"] if dc else
             ["PowerDeliveryReq", "ChargingStatusReq", "PowerDeliveryReq", "SessionStopReq"])
    assert _requests(ex) == head + power
    assert ev.soc() >= 80.0 and secc.result.messages == evcc.result.messages
    assert evse.meter_wh() == pytest.approx(ev.charged_wh, rel=0.02)
    assert wall < 1.0, f"{wall:.2f} s wall for {ex.now:.0f} simulated seconds"
    assert ev.cp_state is CPState.B  # back to B at the end
    states = [s for _, s in ev.cable.cp_events]
    assert states == [CPState.C, CPState.B]  # C only while power may flow (DC: from the cable check on)


def test_wire_names_are_the_protocols_own() -> None:
    """The machines say PaymentServiceSelection; DIN's wire says ServicePaymentSelection."""
    d = Dialect("din")
    payload = d.encode(b"\x01" * 8, "PaymentServiceSelection", True, d.payment_selection_req(1))
    from v2gkit.exi import api
    msg = api.decode(payload, "din")
    assert msg.body.service_payment_selection_req is not None
    assert d.decode(payload)[1:3] == ("PaymentServiceSelection", True)


def test_authorization_ongoing_loop() -> None:
    evcc, secc, _, _ = _pair(evse_kw={"auth_delay": 2.0})
    ex = run_pair(evcc, secc)
    assert _closed(ex, "EV")[1]
    assert 8 <= ex.names("EV").count("AuthorizationReq") <= 10  # polled every 0.25 s for 2 s


def _replace(when: str, side: str, make: Callable[[bytes], bytes]) -> Callable:
    done = []

    def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes | None:
        if sender == side and name == when and not done:
            done.append(now)
            return make(payload)
        return payload
    return tamper


def test_sequence_error() -> None:
    """A request out of sequence gets FAILED_SequenceError and the connection closes."""
    d = Dialect("iso2")
    evcc, secc, ev, _ = _pair()
    current_demand = lambda p: d.encode(d.decode(p)[0], "CurrentDemand", True, d.current_demand_req(
        d.dc_ev_status(True, "NO_ERROR", 50), (400, 10), ev.limits(), False, False, (None, None)))
    ex = run_pair(evcc, secc, tamper=_replace("PaymentServiceSelectionReq", "EV", current_demand))
    assert _closed(ex, "SE")[1:] == (False, "CurrentDemandReq: FAILED_SequenceError")
    res = [e for _, s, e in ex.received if s == "EV"][-1]
    assert res.name == "CurrentDemandRes" and res.body.response_code == iso2.responseCodeType.FAILED_SequenceError
    t, ok, reason = _closed(ex, "EV")
    assert not ok and "expected PaymentServiceSelectionRes, got CurrentDemandRes" in reason


def test_unknown_session() -> None:
    d = Dialect("iso2")
    evcc, secc, _, _ = _pair()
    wrong_id = lambda p: d.encode(b"\xAA" * 8, *d.decode(p)[1:])
    ex = run_pair(evcc, secc, tamper=_replace("ServiceDiscoveryReq", "EV", wrong_id))
    assert _closed(ex, "SE")[1:] == (False, "ServiceDiscoveryReq: FAILED_UnknownSession")
    assert "FAILED_UnknownSession" in _closed(ex, "EV")[2]


def test_undecodable_request_closes_without_answer() -> None:
    evcc, secc, _, _ = _pair()
    ex = run_pair(evcc, secc, tamper=_replace("ServiceDiscoveryReq", "EV", lambda p: b"\x80\x98\xff"))
    assert not _closed(ex, "SE")[1] and "undecodable" in _closed(ex, "SE")[2]
    assert ex.names("SE") == ["SessionSetupRes"]


@pytest.mark.parametrize("side", ["EV", "SE"])
def test_another_global_element_is_not_a_v2g_message(side: str) -> None:
    """80 92 decodes leniently to the schema's IntervalType element, not to a V2G_Message: refused like
    any undecodable message (found by the abuse suite, where it left an SECC session waiting 60 s)."""
    evcc, secc, _, _ = _pair()
    name = "ServiceDiscoveryReq" if side == "EV" else "ServiceDiscoveryRes"
    ex = run_pair(evcc, secc, tamper=_replace(name, side, lambda p: bytes.fromhex("8092")))
    receiver = "SE" if side == "EV" else "EV"
    assert not _closed(ex, receiver)[1] and "IntervalType where a V2G_Message belongs" in _closed(ex, receiver)[2]


def _drop(name: str, side: str, after: float = 0.0) -> Callable:
    def tamper(now: float, sender: str, n: str, payload: bytes) -> bytes | None:
        return None if sender == side and n == name and now >= after else payload
    return tamper


def _sent_at(ex: Exchange, name: str) -> float:
    return [t for t, _, n in ex.log if n == name][-1]


@pytest.mark.parametrize("request_name,timeout", [("CurrentDemand", 0.25), ("PowerDelivery", 5.0),
                                                  ("ChargeParameterDiscovery", 2.0)])
def test_evcc_message_timeouts(request_name: str, timeout: float) -> None:
    evcc, secc, _, _ = _pair()
    ex = run_pair(evcc, secc, tamper=_drop(request_name + "Res", "SE"))
    t, ok, reason = _closed(ex, "EV")
    assert not ok and reason == f"V2G_EVCC_Msg_Timeout: no {request_name}Res within {timeout:g} s"
    assert t - _sent_at(ex, request_name + "Req") == pytest.approx(timeout)


def test_secc_sequence_timeout() -> None:
    evcc, secc, _, _ = _pair(ev_cfg={"msg_timeout_default": 1000.0})
    ex = run_pair(evcc, secc, tamper=_drop("ChargeParameterDiscoveryReq", "EV"))
    t, ok, reason = _closed(ex, "SE")
    assert not ok and reason.startswith("V2G_SECC_Sequence_Timeout") and "after AuthorizationRes" in reason
    assert t - _sent_at(ex, "AuthorizationRes") == pytest.approx(60.0)


@pytest.mark.parametrize("secc_limit,who,expected", [
    (None, "SE", "AuthorizationRes with FAILED"),  # the SECC gives up at 55 s
    (1000.0, "EV", "Authorization still not finished after 60 s"),  # the EVCC at 60 s
])
def test_ongoing_timeouts(secc_limit: float | None, who: str, expected: str) -> None:
    cfg = {"ongoing_limit": secc_limit} if secc_limit else {}
    evcc, secc, _, _ = _pair(evse_kw={"auth_delay": 500.0}, secc_cfg=cfg)
    ex = run_pair(evcc, secc)
    t, ok, reason = _closed(ex, "EV")
    assert not ok and expected in reason
    assert t == pytest.approx(55.0 if who == "SE" else 60.0, abs=0.3)


@pytest.mark.parametrize("secc_limit,expected,at", [
    (None, "CableCheckRes with FAILED", 38.0), (1000.0, "CableCheck still not finished after 40 s", 40.0)])
def test_cable_check_limits(secc_limit: float | None, expected: str, at: float) -> None:
    cfg = {"cable_check_limit": secc_limit} if secc_limit else {}
    evcc, secc, _, evse = _pair(evse_kw={"cable_check_time": 500.0}, secc_cfg=cfg)
    ex = run_pair(evcc, secc)
    t, ok, reason = _closed(ex, "EV")
    start = [t for t, _, n in ex.log if n == "CableCheckReq"][0]
    assert not ok and expected in reason and t - start == pytest.approx(at, abs=0.3)


def test_pre_charge_timeout() -> None:
    evcc, secc, _, _ = _pair(evse_kw={"voltage_slew": 10.0})  # far too slow to reach the battery in 7 s
    ex = run_pair(evcc, secc)
    t, ok, reason = _closed(ex, "EV")
    start = [t for t, _, n in ex.log if n == "PreChargeReq"][0]
    assert not ok and "PreCharge still not finished after 7 s" in reason
    assert t - start == pytest.approx(7.0, abs=0.3)


def _at(time_: float, action: Callable[[], None]) -> Callable:
    done = []

    def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes:
        if now >= time_ and not done:
            done.append(now)
            action()
        return payload
    return tamper


@pytest.mark.parametrize("protocol,dc", CASES)
def test_evse_stop_charging(protocol: str, dc: bool) -> None:
    evcc, secc, ev, evse = _pair(protocol, dc, ev_kw={"soc": 40.0})
    ex = run_pair(evcc, secc, tamper=_at(10.0, evse.request_stop))
    assert _closed(ex, "EV")[1:] == (True, "terminated") and ev.soc() < 80
    assert ex.now < 60


def test_renegotiation() -> None:
    evcc, secc, ev, evse = _pair(ev_kw={"soc": 70.0})
    ex = run_pair(evcc, secc, tamper=_at(5.0, evse.request_renegotiation))
    assert _closed(ex, "EV")[1:] == (True, "terminated") and ev.soc() >= 80
    seq = _requests(ex)
    i = seq.index("CurrentDemandReq")
    assert seq[i:i + 5] == ["CurrentDemandReq", "PowerDeliveryReq", "ChargeParameterDiscoveryReq",
                            "PowerDeliveryReq", "CurrentDemandReq"]


def test_emergency_shutdown_ends_cleanly() -> None:
    evcc, secc, ev, evse = _pair(ev_kw={"soc": 40.0})
    seen = []
    ex = run_pair(evcc, secc, tamper=_at(10.0, lambda: (evse.trigger_emergency(), seen.append(True))))
    assert seen and _closed(ex, "EV")[1:] == (True, "terminated")
    codes = [e.body.dc_evse_status.evse_status_code.name for _, s, e in ex.received
             if s == "EV" and e.name == "CurrentDemandRes"]
    assert codes[-1] == "EVSE_EmergencyShutdown" and evse.present()[1] == 0.0


def test_ev_side_stop() -> None:
    evcc, secc, ev, _ = _pair(ev_kw={"soc": 40.0, "stop_at": 15.0})
    ex = run_pair(evcc, secc)
    assert _closed(ex, "EV")[1:] == (True, "terminated") and ex.now < 40 and ev.soc() < 80


@pytest.mark.parametrize("code_on,failure", [("auth_result", "AuthorizationRes with FAILED")])
def test_evcc_stops_on_failed(code_on: str, failure: str) -> None:
    evcc, secc, ev, _ = _pair(evse_kw={code_on: False})
    ex = run_pair(evcc, secc)
    assert not _closed(ex, "EV")[1] and failure in _closed(ex, "EV")[2] and ev.cp_state is CPState.B


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_no_usable_payment_option_ends_with_session_stop(protocol: str) -> None:
    """An SECC that offers Contract only (EVerest's PnC configuration, VW id.4 recording): the EIM car
    selects nothing it was not offered (that would only earn FAILED_PaymentSelectionInvalid) and ends
    the session with SessionStop, so the SECC learns at once that it is over."""
    d = Dialect(protocol)

    def contract_only(p: bytes) -> bytes:
        sid, _, _, body = d.decode(p)
        (body.payment_options if d.din else body.payment_option_list).payment_option = [d.m.paymentOptionType.Contract]
        return d.encode(sid, "ServiceDiscovery", False, body)
    evcc, secc, _, _ = _pair(protocol)
    ex = run_pair(evcc, secc, tamper=_replace("ServiceDiscoveryRes", "SE", contract_only))
    assert _requests(ex) == ["SessionSetupReq", "ServiceDiscoveryReq", "SessionStopReq"]
    assert _closed(ex, "EV")[1:] == (False, "SECC does not offer ExternalPayment")
    assert _closed(ex, "SE")[1:] == (True, "terminated")


def test_welding_detection_is_optional() -> None:
    """welding_max_requests=0: SessionStop right after PowerDelivery(Stop), as cars without it do."""
    evcc, secc, _, _ = _pair(ev_cfg={"welding_max_requests": 0})
    ex = run_pair(evcc, secc)
    assert _closed(ex, "EV")[1:] == (True, "terminated")
    assert _requests(ex)[-3:] == ["CurrentDemandReq", "PowerDeliveryReq", "SessionStopReq"]


def test_metering_receipt() -> None:
    evcc, secc, _, _ = _pair(secc_cfg={"receipt_interval": 5})
    ex = run_pair(evcc, secc)
    assert _closed(ex, "EV")[1]
    names = ex.names("EV")
    receipts = names.count("MeteringReceiptReq")
    assert receipts >= 1 and names[names.index("MeteringReceiptReq") - 1] == "CurrentDemandReq"
    assert receipts == names.count("CurrentDemandReq") // 5


def test_pause_and_resume() -> None:
    paused = PausedSessions()
    evcc, secc, ev, evse = _pair(ev_kw={"soc": 50.0, "pause_at": 10.0}, paused=paused)
    ex = run_pair(evcc, secc)
    assert _closed(ex, "EV")[1:] == (True, "paused") and evcc.result.paused
    sid = evcc.result.session_id
    assert sid in paused and secc.result.paused
    body = [b for _, s, b in ex.received if s == "SE" and b.name == "SessionStopReq"][0].body
    assert body.charging_session == iso2.chargingSessionType.Pause
    # the car comes back with the old SessionID
    ev2 = SimulatedEV(soc=ev.soc(), target_soc=ev.soc() + 1)
    evcc2 = EVCCSession("iso2", ev2, EVCCConfig(loop_interval=0.25, resume_session_id=sid))
    secc2 = SECCSession("iso2", SimulatedDCEVSE(cable_check_time=1.0), SECCConfig(), paused)
    ex2 = run_pair(evcc2, secc2)
    setup = [e.body for _, s, e in ex2.received if s == "EV" and e.name == "SessionSetupRes"][0]
    assert setup.response_code == iso2.responseCodeType.OK_OldSessionJoined and evcc2.session_id == sid
    assert _closed(ex2, "EV")[1:] == (True, "terminated") and sid not in paused


def test_resume_of_an_unknown_session_starts_a_new_one() -> None:
    evcc, secc, _, _ = _pair(ev_cfg={"resume_session_id": b"\x01\x02\x03\x04\x05\x06\x07\x08"})
    ex = run_pair(evcc, secc)
    setup = [e.body for _, s, e in ex.received if s == "EV" and e.name == "SessionSetupRes"][0]
    assert setup.response_code == iso2.responseCodeType.OK_NewSessionEstablished
    assert evcc.session_id != b"\x01\x02\x03\x04\x05\x06\x07\x08" and _closed(ex, "EV")[1]


def test_rules_table_covers_every_outcome() -> None:
    targets = {n for v in NEXT.values() for n in v}
    assert targets <= {k.split(":")[0] for k in NEXT} | {"SessionStop"}
    assert NEXT["SessionStop"] == frozenset()
    # while power flows only PowerDelivery (or a metering receipt) may interrupt the loop
    assert "SessionStop" not in NEXT["CurrentDemand"] | NEXT["ChargingStatus"]


def test_secc_answers_what_it_received() -> None:
    """Every Send of the SECC is the response to the request just received."""
    evcc, secc, _, _ = _pair()
    ex = run_pair(evcc, secc)
    reqs, ress = ex.names("EV"), ex.names("SE")
    assert [r[:-3] for r in reqs] == [r[:-3] for r in ress]


def test_service_detail_when_configured() -> None:
    evcc, secc, _, _ = _pair(ev_cfg={"service_detail_ids": (1, 1)})
    ex = run_pair(evcc, secc)
    assert _requests(ex)[:4] == ["SessionSetupReq", "ServiceDiscoveryReq", "ServiceDetailReq",
                                 "PaymentServiceSelectionReq"]
    assert ex.names("EV").count("ServiceDetailReq") == 2 and _closed(ex, "EV")[1]


def test_unknown_service_detail_is_refused() -> None:
    evcc, secc, _, _ = _pair(ev_cfg={"service_detail_ids": (7,)})
    ex = run_pair(evcc, secc)
    assert "ServiceDetailRes with FAILED_ServiceIDInvalid" in _closed(ex, "EV")[2]


@pytest.mark.parametrize("protocol,dc", CASES)
def test_charge_parameter_discovery_ongoing(protocol: str, dc: bool) -> None:
    evcc, secc, _, _ = _pair(protocol, dc, secc_cfg={"charge_parameter_ongoing": 3})
    ex = run_pair(evcc, secc)
    assert ex.names("EV").count("ChargeParameterDiscoveryReq") == 4 and _closed(ex, "EV")[1:] == (True, "terminated")
    procs = [e.body.evse_processing.name for _, s, e in ex.received
             if s == "EV" and e.name == "ChargeParameterDiscoveryRes"]
    assert procs == ["Ongoing", "Ongoing", "Ongoing", "Finished"]


@pytest.mark.parametrize("protocol,dc", CASES)
def test_every_failed_answer_encodes(protocol: str, dc: bool) -> None:
    """A sequence error may hit any request: its FAILED response must still be schema-valid."""
    from v2gkit.session.din2.dialect import CANONICAL
    _, secc, _, _ = _pair(protocol, dc)
    for name in CANONICAL:
        if protocol == "din" and name in ("ServiceDetail",):
            continue
        if dc and name == "ChargingStatus" or not dc and name in ("CableCheck", "PreCharge", "CurrentDemand",
                                                                  "WeldingDetection"):
            continue
        for code in ("FAILED_SequenceError", "FAILED_UnknownSession"):
            [send] = secc.core.send(0.0, name + "Res", secc._response(name, getattr(secc.d.RC, code), False))
            assert secc.d.decode(send.payload)[1:3] == (name, False)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CASES), st.integers(0, 60), st.data())
def test_mutated_messages_never_crash_either_machine(case: tuple[str, bool], index: int,
                                                      data: st.DataObject) -> None:
    """Flip bits in, or cut, any message of a real session: both machines answer, refuse or close (each
    within its timeouts), but never raise."""
    protocol, dc = case
    count = [0]

    def mutate(now: float, sender: str, name: str, payload: bytes) -> bytes:
        count[0] += 1
        if count[0] - 1 != index:
            return payload
        mutated = bytearray(payload)
        for _ in range(data.draw(st.integers(1, 4))):
            pos = data.draw(st.integers(0, len(mutated) * 8 - 1))
            mutated[pos // 8] ^= 1 << (pos % 8)
        if data.draw(st.booleans()):
            mutated = mutated[:data.draw(st.integers(0, len(mutated)))]
        return bytes(mutated)

    evcc, secc, _, _ = _pair(protocol, dc)
    ex = run_pair(evcc, secc, tamper=mutate, until=600)
    assert set(ex.closed) == {"EV", "SE"}  # both ended, whatever the mutation did


def test_fixed_session_id() -> None:
    evcc, secc, _, _ = _pair(secc_cfg={"session_id": bytes.fromhex("0102030405060708")})
    run_pair(evcc, secc)
    assert evcc.session_id == secc.session_id == bytes.fromhex("0102030405060708") and evcc.result.ok
