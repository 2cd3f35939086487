"""ISO 15118-20 sessions that go wrong: every FAILED answer the SECC gives (each schema-valid, in the
request's own response type and payload type, ending both sides), the WARNING answers that do not end the
session, every response type built with a FAILED code, and the mutated-message property: nothing a peer
sends makes either machine raise or blame itself. Helpers: test_iso20_sessions.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_iso20_sessions import (
    FLOW_IDS,
    FLOWS,
    PROTOCOLS,
    Pair,
    at,
    closed,
    head,
    on,
    pair,
    payload_type_of,
    power,
    received,
    requests,
    rewrite,
)

from v2gkit.controllers import Isolation
from v2gkit.exi.gen import iso20, iso20_dc
from v2gkit.exi.validate import find_problem
from v2gkit.session.events import Reason
from v2gkit.session.hooks import Hooks, Outgoing
from v2gkit.session.iso20 import messages as M
from v2gkit.session.simulate import Exchange
from v2gkit.sim.evse import SimulatedDCEVSE

SID42 = b"\x42" * 8


def refused(ex: Exchange, request: str, code: str, reason: Reason, detail: str = "") -> None:
    """The SECC answered ``request`` with ``code`` (schema-valid, its own response type and payload type) and
    closed with ``reason``; the car ended with FAILED_RESPONSE. Nobody blames itself."""
    res = received(ex, "EV")[-1]
    assert res.name == request + "Res" and res.body.response_code.name == code
    assert res.payload_type == payload_type_of(res.name) == M.MESSAGES[request].payload_type
    assert find_problem(M.MESSAGES[request].module, res.body, res.name) is None
    se, ev = closed(ex, "SE"), closed(ex, "EV")
    assert se.reason is reason and not se.local
    assert se.text == (f"answered {request}Res with {code}" + (f": {detail}" if detail else "")
                       if reason is Reason.REFUSED else f"{request}Req: {code}")
    assert ev.reason is Reason.FAILED_RESPONSE and not ev.local
    assert ev.text == f"SECC answered {request}Res with {code}"
    assert ex.names("SE")[-1] == request + "Res"  # the FAILED answer is the SECC's last word


def act(element: str, action: Callable[[], Any]) -> Callable:
    """tamper: run ``action`` when the EV sends its first ``element`` (before the SECC reads it)."""
    done: list[bool] = []

    def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes:
        if sender == "EV" and name == element and not done:
            done.append(True)
            action()
        return payload
    return tamper


def instead(element: str, name: str, body: Any, nth: int = 1) -> Callable[[], Hooks]:
    """Hooks (made fresh by each call of the factory returned) of a test-system car, non-strict (it takes
    whatever answer comes), that sends request ``name`` where its ``nth`` ``element`` belongs."""
    def swap(msg: Outgoing) -> None:
        msg.drop()
        msg.add(name, body)
    return lambda: Hooks(strict=False, outgoing=on(element, swap, nth))


def _set(path: str, value: Any) -> Callable[[M.Decoded], None]:
    """A ``rewrite`` change: set the dotted attribute ``path`` of the body."""
    def change(d: M.Decoded) -> None:
        obj = d.body
        *parents, last = path.split(".")
        for p in parents:
            obj = getattr(obj, p)
        setattr(obj, last, value)
    return change


def _body(body: Any) -> Callable[[M.Decoded], None]:
    """A ``rewrite`` change: another body of the same message."""
    def change(d: M.Decoded) -> None:
        body.header = d.body.header
        d.body = body
    return change


def _rewrite(element: str, change: Callable[[M.Decoded], Any], nth: int = 1) -> Callable[[Pair], Callable]:
    """A case's tamper: ``rewrite`` the car's ``nth`` ``element`` in flight."""
    return lambda p: rewrite(element, "EV", change, nth)


def _dc_cpd(bpt: bool) -> Any:
    extra = {"max_discharge_power": 10_000.0, "max_discharge_current": 25.0} if bpt else {}
    return M.dc_charge_parameter_req(bpt, max_charge_power=90_000.0, max_charge_current=200.0,
                                     max_voltage=450.0, **extra)


def _ac_cpd(bpt: bool) -> Any:
    extra = {"max_discharge_power": 7_000.0} if bpt else {}
    return M.ac_charge_parameter_req(bpt, max_charge_power=11_000.0, **extra)


def _ask_metering_confirmation(msg: Outgoing) -> None:
    msg.body.evse_status = iso20_dc.EVSEStatusType(0, iso20_dc.evseNotificationType.MeteringConfirmation)


# ------------------------------------------------------------------------------ 3. every FAILED answer
def case(id: str, request: str, code: str, reason: Reason, detail: str = "",
         tamper: Callable[[Pair], Any] | None = None, bug: str = "", **kw: Any) -> Any:
    """One FAILED path: ``pair(**kw)`` run with ``tamper(pair)``; the SECC answers ``request`` with ``code``
    and closes with ``reason`` (and ``detail``). Hooks are given as factories (their counters are fresh
    for every run)."""
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(kw, tamper, request, code, reason, detail, id=id, marks=marks)


SEQ, REF, UNK = Reason.SEQUENCE_ERROR, Reason.REFUSED, Reason.UNKNOWN_SESSION
FAILED_PATHS = [
    # out of sequence: the answer is FAILED_SequenceError in the request's own response type
    case("sequence-loop-before-selection", "DC_ChargeLoop", "FAILED_SequenceError", SEQ,
         evcc_hooks=instead("ServiceSelectionReq", "DC_ChargeLoopReq", M.dc_charge_loop_req(
             "Scheduled", False, target_voltage=400.0, target_current=10.0))),
    case("sequence-ac-message-in-dc-session", "AC_ChargeParameterDiscovery", "FAILED_SequenceError", SEQ,
         evcc_hooks=instead("DC_ChargeParameterDiscoveryReq", "AC_ChargeParameterDiscoveryReq",
                            _ac_cpd(False))),
    case("sequence-session-setup-twice", "SessionSetup", "FAILED_SequenceError", SEQ, evcc_hooks=instead(
        "AuthorizationSetupReq", "SessionSetupReq", M.session_setup_req("0A1B2C3D4E5F"))),
    case("sequence-power-delivery-before-cable-check", "PowerDelivery", "FAILED_SequenceError", SEQ,
         evcc_hooks=instead("DC_CableCheckReq", "PowerDeliveryReq",
                            M.power_delivery_req("Start", "Finished"))),
    case("sequence-session-stop-while-power-flows", "SessionStop", "FAILED_SequenceError", SEQ,
         evcc_hooks=instead("PowerDeliveryReq", "SessionStopReq", M.session_stop_req("Terminate"), nth=2)),
    case("sequence-dc-loop-in-dynamic-ac", "DC_ChargeLoop", "FAILED_SequenceError", SEQ, protocol="iso20-ac",
         mode="Dynamic", evcc_hooks=instead("AC_ChargeLoopReq", "DC_ChargeLoopReq",
                                            M.dc_charge_loop_req("Dynamic", False), nth=2)),
    case("sequence-ac-loop-in-dynamic-dc", "AC_ChargeLoop", "FAILED_SequenceError", SEQ, mode="Dynamic",
         evcc_hooks=instead("DC_ChargeLoopReq", "AC_ChargeLoopReq", M.ac_charge_loop_req("Dynamic", False),
                            nth=2)),
    # another SessionID
    case("unknown-session-in-service-discovery", "ServiceDiscovery", "FAILED_UnknownSession", UNK,
         tamper=_rewrite("ServiceDiscoveryReq", lambda d: SID42)),
    case("unknown-session-in-dynamic-bpt-loop", "DC_ChargeLoop", "FAILED_UnknownSession", UNK,
         tamper=_rewrite("DC_ChargeLoopReq", lambda d: SID42, nth=3), mode="Dynamic", bpt=True),
    # services
    case("service-id-invalid", "ServiceDetail", "FAILED_ServiceIDInvalid", REF,
         "ServiceID 3 not offered (DC)",
         tamper=_rewrite("ServiceDetailReq", _set("service_id", 3))),
    case("no-energy-transfer-service-selected", "ServiceSelection", "FAILED_NoEnergyTransferServiceSelected",
         REF, "ServiceID 2 is no energy service offered here", protocol="iso20-ac",
         tamper=_rewrite("ServiceSelectionReq", _set("selected_energy_transfer_service.service_id", 2))),
    case("service-selection-invalid-parameter-set", "ServiceSelection", "FAILED_ServiceSelectionInvalid", REF,
         "ParameterSetID 99 of ServiceID 2 not offered",
         tamper=_rewrite("ServiceSelectionReq",
                         _set("selected_energy_transfer_service.parameter_set_id", 99))),
    case("service-selection-invalid-vas", "ServiceSelection", "FAILED_ServiceSelectionInvalid", REF,
         "no value-added services are offered", tamper=_rewrite("ServiceSelectionReq", _set(
             "selected_vas_list", iso20.SelectedServiceListType([iso20.SelectedServiceType(65, 1)])))),
    # charge parameters and schedules
    case("wrong-charge-parameter-plain-in-dc-bpt", "DC_ChargeParameterDiscovery",
         "FAILED_WrongChargeParameter", REF, "plain parameters for DC_BPT", bpt=True,
         tamper=_rewrite("DC_ChargeParameterDiscoveryReq", _body(_dc_cpd(False)))),
    case("wrong-charge-parameter-bpt-in-ac", "AC_ChargeParameterDiscovery", "FAILED_WrongChargeParameter",
         REF, "BPT parameters for AC", protocol="iso20-ac",
         tamper=_rewrite("AC_ChargeParameterDiscoveryReq", _body(_ac_cpd(True)))),
    case("schedule-exchange-dynamic-in-scheduled", "ScheduleExchange", "FAILED", REF,
         "Dynamic mobility needs in a Scheduled session",
         tamper=_rewrite("ScheduleExchangeReq",
                         _body(M.schedule_exchange_req("Dynamic", 1024, target_soc=80)))),
    case("schedule-exchange-scheduled-in-dynamic-ac", "ScheduleExchange", "FAILED", REF,
         "Scheduled mobility needs in a Dynamic session", protocol="iso20-ac", mode="Dynamic",
         tamper=_rewrite("ScheduleExchangeReq", _body(M.schedule_exchange_req("Scheduled", 1024)))),
    case("schedule-selection-invalid", "PowerDelivery", "FAILED_ScheduleSelectionInvalid", REF,
         "SelectedScheduleTupleID 7, offered 1", protocol="iso20-ac",
         tamper=_rewrite("PowerDeliveryReq", _set(
             "ev_power_profile.scheduled_evppt_control_mode.selected_schedule_tuple_id", 7))),
    case("power-delivery-not-applied-emergency", "PowerDelivery", "FAILED_PowerDeliveryNotApplied", REF,
         tamper=lambda p: act("PowerDeliveryReq", p.evse.trigger_emergency)),
    # the charge loop
    case("loop-dynamic-in-scheduled-dc", "DC_ChargeLoop", "FAILED", REF,
         "Dynamic loop request in a Scheduled session", tamper=_rewrite(
             "DC_ChargeLoopReq", _body(M.dc_charge_loop_req("Dynamic", False, max_voltage=450.0)), nth=2)),
    case("loop-plain-in-ac-bpt", "AC_ChargeLoop", "FAILED", REF,
         "Dynamic loop request in a BPT_Dynamic session", protocol="iso20-ac", mode="Dynamic", bpt=True,
         tamper=_rewrite("AC_ChargeLoopReq", _body(M.ac_charge_loop_req("Dynamic", False)), nth=2)),
    case("metering-confirmation-of-another-session", "MeteringConfirmation", "FAILED", REF,
         "SignedMeteringData of another session",
         secc_hooks=lambda: Hooks(outgoing=on("DC_ChargeLoopRes", _ask_metering_confirmation, nth=3)),
         tamper=_rewrite("MeteringConfirmationReq", _set("signed_metering_data.session_id", SID42))),
    # the end
    case("no-service-renegotiation-supported", "SessionStop", "FAILED_NoServiceRenegotiationSupported", REF,
         "ServiceRenegotiationSupported was false", secc_cfg={"service_renegotiation": False},
         tamper=_rewrite("SessionStopReq", _set("charging_session",
                                                iso20.chargingSessionType.ServiceRenegotiation))),
    case("cable-check-isolation-fault", "DC_CableCheck", "FAILED", REF, "isolation fault",
         evse_kw={"isolation_result": Isolation.FAULT}),
]


@pytest.mark.parametrize("kw,tamper,request_name,code,reason,detail", FAILED_PATHS)
def test_failed_path(kw: dict, tamper: Callable[[Pair], Any] | None, request_name: str, code: str,
                     reason: Reason, detail: str) -> None:
    p = pair(**{k: v() if k.endswith("_hooks") else v for k, v in kw.items()})
    ex = p.run(tamper=tamper(p) if tamper else None)
    refused(ex, request_name, code, reason, detail)
    assert p.secc.result.reason is reason and not p.secc.result.ok and not p.evcc.result.ok


def test_a_message_this_secc_does_not_serve() -> None:
    """A WPT request to a DC SECC: FAILED_SequenceError in WPT_ChargeLoopRes under 0x8006. (Even a
    non-strict car has no plan for a WPT answer: WRONG_MESSAGE.)"""
    def wpt() -> Hooks:
        return instead("ServiceDiscoveryReq", "WPT_ChargeLoopReq", M.minimal("WPT_ChargeLoop", True))()

    ex = pair(evcc_hooks=wpt()).run()
    [res] = received(ex, "EV", "WPT_ChargeLoopRes")
    assert res.body.response_code.name == "FAILED_SequenceError" and res.payload_type == 0x8006
    assert find_problem(M.MESSAGES["WPT_ChargeLoop"].module, res.body, res.name) is None
    assert closed(ex, "SE").text == "WPT_ChargeLoopReq: FAILED_SequenceError"
    assert closed(ex, "SE").reason is Reason.SEQUENCE_ERROR
    assert closed(ex, "EV").reason is Reason.WRONG_MESSAGE
    # an SECC that answers anything (non-strict) still has no WPT service
    loose = pair(secc_hooks=Hooks(strict=False), evcc_hooks=wpt()).run()
    assert closed(loose, "SE").text == "WPT_ChargeLoopReq: not served by an iso20-dc SECC"
    assert received(loose, "EV", "WPT_ChargeLoopRes")[0].body.response_code.name == "FAILED_SequenceError"


def test_out_of_sequence_request_seen_by_a_strict_car() -> None:
    """A strict car whose request was swapped in flight gets an answer to a request it never sent."""
    hooks = instead("ServiceSelectionReq", "DC_ChargeLoopReq", M.dc_charge_loop_req("Scheduled", False))()
    ex = pair(evcc_hooks=Hooks(outgoing=hooks.outgoing)).run()
    assert closed(ex, "SE").reason is Reason.SEQUENCE_ERROR
    ev = closed(ex, "EV")
    assert ev.reason is Reason.WRONG_MESSAGE
    assert ev.text == "expected ServiceSelectionRes, got DC_ChargeLoopRes"


@pytest.mark.parametrize("payload_type,data,expected", [
    (0x8001, bytes.fromhex("8098"), "payload type 0x8001 carries no ISO 15118-20 message"),
    (0x9000, b"\x10\x00", "payload type 0x9000 carries no ISO 15118-20 message"),
    (0x8002, b"\x80\x00garbage", "undecodable request"),
    (0x8004, None, "ServiceDiscoveryReq belongs under payload type 0x8002 (iso20), not 0x8004"),
])
def test_what_is_no_request_of_its_payload_type_closes_without_answer(payload_type: int, data: bytes | None,
                                                                      expected: str) -> None:
    def replace(msg: Outgoing) -> None:
        msg.raw(data if data is not None else M.encode("ServiceDiscovery", True, msg.body, bytes(8), 0)[1],
                payload_type)

    ex = pair(evcc_hooks=Hooks(outgoing=on("ServiceDiscoveryReq", replace))).run()
    se = closed(ex, "SE")
    assert se.reason is Reason.UNDECODABLE and not se.local and expected in se.text
    assert ex.names("SE")[-1] == "AuthorizationRes"  # no answer to what cannot be read
    assert closed(ex, "EV").reason is Reason.PEER_CLOSED


def test_a_response_to_the_secc_and_a_request_to_the_evcc_are_wrong_messages() -> None:
    def respond(msg: Outgoing) -> None:
        msg.drop()
        msg.add("ServiceDiscoveryRes", M.service_discovery_res("OK", (2,)))

    ex = pair(evcc_hooks=Hooks(outgoing=on("ServiceDiscoveryReq", respond))).run()
    assert closed(ex, "SE").reason is Reason.WRONG_MESSAGE
    assert closed(ex, "SE").text == "ServiceDiscoveryRes received by the SECC"

    def ask(msg: Outgoing) -> None:
        msg.drop()
        msg.add("ServiceDiscoveryReq", M.service_discovery_req())

    ex = pair(secc_hooks=Hooks(outgoing=on("ServiceDiscoveryRes", ask))).run()
    assert closed(ex, "EV").reason is Reason.WRONG_MESSAGE
    assert closed(ex, "EV").text == "expected ServiceDiscoveryRes, got ServiceDiscoveryReq"




@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_emergency_shutdown_in_the_loop_is_told_to_the_car(protocol: str) -> None:
    p = pair(protocol, ev_kw={"soc": 40.0})
    ex = p.run(tamper=at(10.0, p.evse.trigger_emergency), until=120)
    assert p.evse.present()[1] == 0.0
    last = received(ex, "EV", f"{protocol[-2:].upper()}_ChargeLoopRes")[-1].body
    assert M.notification(last) == ("Terminate", 0)
    assert closed(ex, "EV").reason is Reason.TERMINATED and ex.now < 20


class _Broken(SimulatedDCEVSE):
    def authorized(self) -> bool | None:
        raise RuntimeError("backend gone")


def test_a_controller_failing_is_the_chargers_fault_not_the_cars() -> None:
    p = pair()
    p.secc.evse = _Broken(cable_check_time=1.0)
    ex = p.run()
    se, ev = closed(ex, "SE"), closed(ex, "EV")
    assert se.reason is Reason.INTERNAL_ERROR and se.local and "backend gone" in se.text
    assert ev.reason is Reason.FAILED_RESPONSE and not ev.local
    assert ev.text == "SECC answered AuthorizationRes with FAILED"
    assert any(e.name == "internal_error" for _, s, e in ex.events if s == "SE")


@pytest.mark.parametrize("protocol,mode,bpt", [
    pytest.param(*f, id=i, marks=[]
                 if f[:2] == ("iso20-dc", "Dynamic") else []) for f, i in zip(FLOWS, FLOW_IDS, strict=True)])
def test_every_failed_answer_encodes(protocol: str, mode: str, bpt: bool) -> None:
    """Any request may be refused, whatever the session agreed: every -20 response type (WPT and ACDP
    included) built with a FAILED code is schema-valid, decodes as itself under its own payload type."""
    secc = pair(protocol, mode, bpt).secc
    secc.mode, secc.bpt = mode, bpt
    secc.core.session_id = SID42
    for name, info in M.MESSAGES.items():
        for code in ("FAILED", "FAILED_SequenceError", "FAILED_UnknownSession"):
            [send] = secc.core.send(0.0, name + "Res", secc._response(name, code, None))
            assert send.payload_type == info.payload_type
            d = M.decode(send.payload_type, send.payload, strict=True)
            assert (d.name, d.request, d.session_id) == (name, False, SID42)
            assert d.body.response_code.name == code
            assert find_problem(info.module, d.body, d.element) is None, (name, code)


# --------------------------------------------------------------------------------------- WARNING paths
def test_eim_refused_ends_with_session_stop() -> None:
    """WARNING_EIMAuthorizationFailure (Finished): the session is not over by the code; the car that has
    nothing else to try says so with SessionStop."""
    p = pair(evse_kw={"auth_result": False})
    ex = p.run()
    [auth] = received(ex, "EV", "AuthorizationRes")
    assert auth.body.response_code.name == "WARNING_EIMAuthorizationFailure"
    assert auth.body.evse_processing.name == "Finished"
    assert requests(ex) == head("iso20-dc")[:3] + ["SessionStopReq"]
    ev = closed(ex, "EV")
    assert ev.reason is Reason.GAVE_UP and ev.text == "authorization refused: WARNING_EIMAuthorizationFailure"
    assert closed(ex, "SE").reason is Reason.TERMINATED


def test_pnc_selected_where_only_eim_is_offered_is_a_warning() -> None:
    p = pair()
    ex = p.run(tamper=_rewrite("AuthorizationReq", _set("selected_authorization_service",
                                                         iso20.authorizationType.PnC))(p))
    assert received(ex, "EV", "AuthorizationRes")[0].body.response_code.name == \
        "WARNING_AuthorizationSelectionInvalid"
    assert closed(ex, "EV").reason is Reason.GAVE_UP and closed(ex, "SE").reason is Reason.TERMINATED


@pytest.mark.parametrize("allowed,code", [(False, "WARNING_StandbyNotAllowed"), (True, "OK")])
def test_standby(allowed: bool, code: str) -> None:
    """PowerDelivery(Standby): an SECC that does not grant it answers WARNING_StandbyNotAllowed and the
    session goes on."""
    def standby(msg: Outgoing) -> None:
        msg.body.charge_progress = iso20.chargeProgressType.Standby

    p = pair(secc_cfg={"standby": allowed}, evcc_hooks=Hooks(outgoing=on("PowerDeliveryReq", standby)))
    ex = p.run()
    first = received(ex, "EV", "PowerDeliveryRes")[0].body
    assert received(ex, "SE", "PowerDeliveryReq")[0].body.charge_progress.name == "Standby"
    assert first.response_code.name == code
    assert requests(ex) == head("iso20-dc") + power("iso20-dc")
    assert closed(ex, "EV").reason is Reason.TERMINATED and closed(ex, "SE").reason is Reason.TERMINATED


# ----------------------------------------------------------------------------------- 5. mutated messages
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(FLOWS))), st.integers(0, 230), st.data())
def test_mutated_messages_never_crash_either_machine(flow: int, index: int, data: st.DataObject) -> None:
    """Flip bits in, cut, or overwrite bytes of any message of a real session in flight: both machines
    answer, refuse or close, never raise, and never take the peer's mistake for their own (no local
    reason): each ends as intended or with a typed remote reason."""
    count = [0]
    what: list[str] = []

    def mutate(now: float, sender: str, name: str, payload: bytes) -> bytes:
        count[0] += 1
        if count[0] - 1 != index:
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

    p = pair(*FLOWS[flow], ev_kw={"soc": 79.8})
    ex = p.run(tamper=mutate, until=600)
    assert set(ex.closed) == {"EV", "SE"}, what  # both ended, whatever the mutation did
    for side in ("EV", "SE"):
        c = closed(ex, side)
        assert c.ok or not c.local, (what, side, c)
    assert not any(e.name == "internal_error" for _, _, e in ex.events), what


@pytest.mark.parametrize("protocol,mode,bpt", FLOWS, ids=FLOW_IDS)
def test_every_message_cut_short(protocol: str, mode: str, bpt: bool) -> None:
    """Each message of a session in turn, cut to half: the receiver closes (UNDECODABLE or a FAILED answer),
    the other side follows; no local reason anywhere."""
    def cut(index: int) -> Callable:
        count = [0]

        def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes:
            count[0] += 1
            return payload[:len(payload) // 2] if count[0] - 1 == index else payload
        return tamper

    n = len(pair(protocol, mode, bpt, ev_kw={"soc": 79.9}).run().log)
    for index in range(0, n, 7):
        ex = pair(protocol, mode, bpt, ev_kw={"soc": 79.9}).run(tamper=cut(index), until=600)
        assert set(ex.closed) == {"EV", "SE"}
        assert not any(closed(ex, s).local for s in ("EV", "SE")), (index, ex.closed)


def test_an_answer_in_the_other_control_mode_is_the_chargers_fault() -> None:
    """Schema-valid but of no use to this session (a Dynamic ScheduleExchangeRes in a Scheduled one): the car
    ends with UNUSABLE, a remote reason, not with an internal error of its own."""
    from v2gkit.session.iso20 import messages as msg

    def dynamic(m: Outgoing) -> None:
        if m.name == "ScheduleExchangeRes":
            m.body = msg.schedule_exchange_res("OK", "Finished", "Dynamic")

    ex = pair("iso20-dc", "Scheduled", False, secc_hooks=Hooks(outgoing=dynamic)).run()
    ev = closed(ex, "EV")
    assert ev.reason is Reason.UNUSABLE and not ev.local and "Scheduled_SEResControlMode" in ev.text
