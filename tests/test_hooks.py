"""The session architecture's promises: one interface for every machine (handshake and sessions), hooks for
the test system (outgoing, incoming, non-strict, rules, fixed randomness), each with a test, and our own
faults kept apart from the peer's. All on the simulated clock, through the real machines."""

from __future__ import annotations

from typing import Any

from v2gkit.session.din2 import NEXT, EVCCConfig, EVCCSession, SECCConfig, SECCSession
from v2gkit.session.din2.dialect import Dialect
from v2gkit.session.events import Closed, Message, Negotiated, Reason, Received, Send, Timer
from v2gkit.session.handshake import EVHandshake, SECCHandshake
from v2gkit.session.hooks import Hooks, Outgoing
from v2gkit.session.simulate import Exchange, run_pair
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import SimulatedDCEVSE
from v2gkit.v2gtp import PayloadType


def _pair(secc_hooks: Hooks | None = None, evcc_hooks: Hooks | None = None, protocol: str = "iso2",
          **ev: Any) -> tuple[EVCCSession, SECCSession]:
    evcc = EVCCSession(protocol, SimulatedEV(soc=79.5, target_soc=80.0, **ev), EVCCConfig(), hooks=evcc_hooks)
    secc = SECCSession(protocol, SimulatedDCEVSE(cable_check_time=0.2), SECCConfig(), hooks=secc_hooks)
    return evcc, secc


def _closed(ex: Exchange, side: str) -> Closed:
    return ex.closed[side][1]


def _on(name: str, action: Any) -> Any:
    """An outgoing hook that applies ``action(msg)`` to the first message called ``name``."""
    seen = []

    def hook(msg: Outgoing) -> None:
        if msg.name == name and not seen:
            seen.append(msg.now)
            action(msg)

    return hook


def test_without_hooks_a_session_ends_as_intended() -> None:
    ex = run_pair(*_pair())
    assert _closed(ex, "EV").reason is Reason.TERMINATED and _closed(ex, "SE").reason is Reason.TERMINATED
    assert _closed(ex, "EV").ok and not _closed(ex, "EV").local


def test_outgoing_hook_changes_a_field_the_peer_sees() -> None:
    def rename(msg: Outgoing) -> None:
        msg.body.evseid = "DE*HOOK*E1"

    ex = run_pair(*_pair(Hooks(outgoing=_on("SessionSetupRes", rename))))
    [setup] = [r.body for _, s, r in ex.received if s == "EV" and r.name == "SessionSetupRes"]
    assert setup.evseid == "DE*HOOK*E1" and _closed(ex, "EV").ok


def test_outgoing_hook_drops_a_message_and_the_peer_times_out() -> None:
    ex = run_pair(*_pair(Hooks(outgoing=_on("ServiceDiscoveryRes", Outgoing.drop))))
    ev = _closed(ex, "EV")
    assert ev.reason is Reason.MESSAGE_TIMEOUT and "ServiceDiscoveryRes" in ev.text and not ev.local
    t_sent = next(t for t, s, n in ex.log if s == "EV" and n == "ServiceDiscoveryReq")
    assert abs(ex.closed["EV"][0] - t_sent - 2.0) < 0.01  # V2G_EVCC_Msg_Timeout: 2 s


def test_outgoing_hook_delays_a_message() -> None:
    """CurrentDemandRes 0.1 s late still makes the 0.25 s timeout; 0.3 s late does not."""
    ok = run_pair(*_pair(Hooks(outgoing=_on("CurrentDemandRes", lambda m: m.delay(0.1)))))
    assert _closed(ok, "EV").ok
    late = run_pair(*_pair(Hooks(outgoing=_on("CurrentDemandRes", lambda m: m.delay(0.3)))))
    assert _closed(late, "EV").reason is Reason.MESSAGE_TIMEOUT and "CurrentDemandRes" in _closed(late, "EV").text


def test_outgoing_hook_replaces_a_message_with_raw_bytes() -> None:
    ex = run_pair(*_pair(Hooks(outgoing=_on("ServiceDiscoveryRes", lambda m: m.raw(b"\x80\x00garbage")))))
    assert _closed(ex, "EV").reason is Reason.UNDECODABLE


def test_outgoing_hook_adds_a_message() -> None:
    """An unsolicited second SessionSetupRes after the first: the car sees a response it did not ask for."""
    def twice(msg: Outgoing) -> None:
        msg.add("SessionSetupRes", msg.body)

    ex = run_pair(*_pair(Hooks(outgoing=_on("SessionSetupRes", twice))))
    assert ex.names("SE")[:2] == ["SessionSetupRes", "SessionSetupRes"]
    ev = _closed(ex, "EV")
    assert ev.reason is Reason.WRONG_MESSAGE and "expected ServiceDiscoveryRes, got SessionSetupRes" in ev.text


def test_incoming_hook_sees_messages_before_decoding() -> None:
    """Dropping every PreChargeRes on arrival: the car times out; the hook saw the raw V2GTP message."""
    seen: list[Message] = []

    def lose(now: float, msg: Message) -> Message | None:
        seen.append(msg)
        return None if len(seen) == 6 else msg  # the 6th response the car gets: the first PreChargeRes... or any

    ex = run_pair(*_pair(evcc_hooks=Hooks(incoming=lose)))
    assert all(m.payload_type == PayloadType.EXI for m in seen)
    assert _closed(ex, "EV").reason is Reason.MESSAGE_TIMEOUT


def _cd_instead_of(name: str, ev: SimulatedEV | None = None) -> Any:
    d = Dialect("iso2")
    ev = ev or SimulatedEV()

    def tamper(t: float, side: str, n: str, payload: bytes) -> bytes:
        if side == "EV" and n == name:
            sid = d.decode(payload)[0]
            return d.encode(sid, "CurrentDemand", True, d.current_demand_req(
                d.dc_ev_status(True, "NO_ERROR", 50), (400, 10), ev.limits(), False, False, (None, None)))
        return payload

    return tamper


def test_strict_secc_refuses_out_of_sequence_and_non_strict_answers() -> None:
    ex = run_pair(*_pair(), tamper=_cd_instead_of("PaymentServiceSelectionReq"))
    assert _closed(ex, "SE").reason is Reason.SEQUENCE_ERROR
    loose = run_pair(*_pair(Hooks(strict=False)), tamper=_cd_instead_of("PaymentServiceSelectionReq"))
    [cd] = [r.body for _, s, r in loose.received if s == "EV" and r.name == "CurrentDemandRes"]
    assert cd.response_code.name == "OK"  # the SECC answered in kind; the car then sees a wrong response
    assert _closed(loose, "EV").reason is Reason.WRONG_MESSAGE


def test_non_strict_secc_accepts_another_session_id() -> None:
    d = Dialect("iso2")

    def other_sid(t: float, side: str, n: str, payload: bytes) -> bytes:
        return d.with_session_id(payload, b"\x42" * 8) if side == "EV" and n == "ServiceDiscoveryReq" else payload

    strict = run_pair(*_pair(), tamper=other_sid)
    assert _closed(strict, "SE").reason is Reason.UNKNOWN_SESSION
    loose = run_pair(*_pair(Hooks(strict=False), Hooks(strict=False)), tamper=other_sid)
    assert _closed(loose, "SE").ok and _closed(loose, "EV").ok


def test_rules_passed_in_are_checked_by_both_roles() -> None:
    """A table without ServiceDiscovery after SessionSetup: the SECC refuses it (remote fault), and an EVCC
    given the same table knows its own plan breaks it (local fault)."""
    rules = dict(NEXT, SessionSetup=frozenset({"SessionStop"}))
    ex = run_pair(*_pair(Hooks(rules=rules)))
    se = _closed(ex, "SE")
    assert se.reason is Reason.SEQUENCE_ERROR and not se.local and "ServiceDiscoveryReq" in se.text
    ex = run_pair(*_pair(evcc_hooks=Hooks(rules=rules)))
    ev = _closed(ex, "EV")
    assert ev.reason is Reason.RULES_BROKEN and ev.local and "ServiceDiscoveryReq after SessionSetupRes" in ev.text


def test_non_strict_evcc_may_break_the_rules() -> None:
    rules = dict(NEXT, SessionSetup=frozenset({"SessionStop"}))
    ex = run_pair(*_pair(evcc_hooks=Hooks(rules=rules, strict=False)))
    assert _closed(ex, "EV").ok


def test_randomness_comes_from_outside() -> None:
    evcc, secc = _pair(Hooks(random_bytes=lambda n: bytes(range(1, n + 1))))
    run_pair(evcc, secc)
    assert secc.session_id == evcc.session_id == bytes(range(1, 9))


class _Broken(SimulatedDCEVSE):
    def authorized(self) -> bool | None:
        raise RuntimeError("backend gone")


def test_a_controller_failing_is_our_fault_not_the_cars() -> None:
    evcc = EVCCSession("iso2", SimulatedEV(), EVCCConfig())
    secc = SECCSession("iso2", _Broken(), SECCConfig())
    ex = run_pair(evcc, secc)
    se, ev = _closed(ex, "SE"), _closed(ex, "EV")
    assert se.reason is Reason.INTERNAL_ERROR and se.local and "backend gone" in se.text
    # the car still got a schema-valid FAILED answer, and sees the charger's refusal as the charger's doing
    assert ev.reason is Reason.FAILED_RESPONSE and not ev.local and "AuthorizationRes with FAILED" in ev.text
    assert any(e.name == "internal_error" for _, s, e in ex.events if s == "SE")


class _BrokenEV(SimulatedEV):
    def precharge_target(self) -> tuple[float, float]:
        raise ZeroDivisionError("no battery voltage")


def test_a_car_controller_failing_is_the_evccs_fault() -> None:
    ex = run_pair(EVCCSession("iso2", _BrokenEV(), EVCCConfig()), SECCSession("iso2", SimulatedDCEVSE(), SECCConfig()))
    ev = _closed(ex, "EV")
    assert ev.reason is Reason.INTERNAL_ERROR and ev.local and "cannot build PreChargeReq" in ev.text
    assert not _closed(ex, "SE").local  # the SECC saw the connection close, nothing of its own


# ------------------------------------------------------------------------------------- the handshake
def test_handshake_and_session_run_as_one_pipeline_on_the_simulated_clock() -> None:
    def then(side: str, negotiated: Negotiated) -> Any:
        evcc, secc = sessions
        return evcc if side == "EV" else secc

    sessions = _pair()
    ex = run_pair(EVHandshake("iso2,din"), SECCHandshake("din,iso2"), then=then)
    assert ex.negotiated["EV"].protocol.name == ex.negotiated["SE"].protocol.name == "iso2"
    assert ex.log[0][2] == "supportedAppProtocolReq" and ex.log[1][2] == "supportedAppProtocolRes"
    assert _closed(ex, "EV").ok and _closed(ex, "SE").ok


def test_handshake_timeout_lives_in_the_machine() -> None:
    ev = EVHandshake("iso2", timeout=2.0)
    out = ev.start(0.0)
    assert isinstance(out[0], Send) and out[0].payload_type == PayloadType.EXI and Timer("handshake", 2.0) in out
    [*_, closed] = ev.timer(2.0, "handshake")
    assert closed == Closed(Reason.HANDSHAKE_TIMEOUT, "no supportedAppProtocolRes within 2 s")
    secc = SECCHandshake("iso2", timeout=18.0)
    assert secc.start(0.0) == [Timer("handshake", 18.0)]
    assert secc.timer(18.0, "handshake")[-1].reason is Reason.HANDSHAKE_TIMEOUT


def test_handshake_outcomes_are_typed() -> None:
    ev, secc = EVHandshake("iso2"), SECCHandshake("din")
    req = ev.start(0.0)[0]
    out = secc.receive(0.1, Message(req.payload_type, req.payload))
    assert isinstance(out[-1], Closed) and out[-1].reason is Reason.NO_NEGOTIATION
    res = next(o for o in out if isinstance(o, Send))
    assert ev.receive(0.2, Message(res.payload_type, res.payload))[-1].reason is Reason.NO_NEGOTIATION
    assert SECCHandshake("iso2").receive(0.0, Message(PayloadType.EXI, b"\x80junk"))[-1].reason is Reason.UNDECODABLE
    assert SECCHandshake("iso2").receive(0.0, Message(0x8002, req.payload))[-1].reason is Reason.WRONG_MESSAGE


def test_handshake_hooks() -> None:
    """The test system's outgoing hook edits the offer (a wrong major version); incoming sees the answer."""
    def major_3(msg: Outgoing) -> None:
        for entry in msg.body.app_protocol:
            entry.version_number_major = 3

    got: list[Message] = []
    ev = EVHandshake("iso2", hooks=Hooks(outgoing=major_3, incoming=lambda now, m: got.append(m) or m))
    req = next(o for o in ev.start(0.0) if isinstance(o, Send))
    out = SECCHandshake("iso2").receive(0.1, Message(req.payload_type, req.payload))
    assert out[-1].reason is Reason.NO_NEGOTIATION
    res = next(o for o in out if isinstance(o, Send))
    assert isinstance(ev.receive(0.2, Message(res.payload_type, res.payload))[-1], Closed) and len(got) == 1
    assert [o.name for o in out if isinstance(o, Received)] == ["supportedAppProtocolReq"]


def test_iso20_timestamps_come_from_outside() -> None:
    """ISO 15118-20 headers carry a TimeStamp: a test system fixes it like the SessionID."""
    from v2gkit.session.iso20.evcc import EVCC20Session
    from v2gkit.session.iso20.secc import SECC20Session

    hooks = Hooks(random_bytes=lambda n: b"\x11" * n, wall_clock=lambda now: 1_700_000_000 + int(now))
    ex = run_pair(EVCC20Session("iso20-dc", SimulatedEV(soc=79.5, target_soc=80.0), hooks=hooks),
                  SECC20Session("iso20-dc", SimulatedDCEVSE(cable_check_time=0.2), hooks=hooks))
    stamps = [(t, r.body.header.time_stamp) for t, _, r in ex.received]
    assert stamps and all(stamp == 1_700_000_000 + int(t - 0.002) or stamp == 1_700_000_000 + int(t)
                          for t, stamp in stamps)
    assert {r.body.header.session_id for _, s, r in ex.received if r.name != "SessionSetupReq"} == {b"\x11" * 8}


# ------------------------------------------------------------------------------------------------ SDP
def _sdp(server_hooks: Hooks | None = None, client_hooks: Hooks | None = None, requests: int = 3) -> Exchange:
    import ipaddress

    from v2gkit.sdp import SDPClient, SDPClientMachine, SDPServer, SDPServerMachine, Security, SecurityPolicy

    server = SDPServer(ipaddress.IPv6Address("fe80::1"), {Security.NONE: 50000}, SecurityPolicy.NONE_ONLY)
    return run_pair(SDPClientMachine(SDPClient(Security.NONE, max_requests=requests), client_hooks),
                    SDPServerMachine(server, server_hooks), until=5.0)


def test_sdp_is_a_machine_like_the_sessions() -> None:
    ex = _sdp()
    assert [n for _, _, n in ex.log] == ["SDPReq", "SDPRes"]
    [(_, _, res)] = [(t, s, r) for t, s, r in ex.received if s == "EV"]
    assert res.payload_type == PayloadType.SDP_RESPONSE and res.body.port == 50000
    assert _closed(ex, "EV").reason is Reason.DISCOVERED and _closed(ex, "EV").ok


def test_sdp_hooks() -> None:
    """The test system answers SDP with another port, or not at all, or the car's incoming hook loses it."""
    import dataclasses

    def other_port(msg: Outgoing) -> None:
        msg.body = dataclasses.replace(msg.body, port=61000)

    ex = _sdp(Hooks(outgoing=other_port))
    assert [r.body.port for _, s, r in ex.received if s == "EV"] == [61000]
    silent = _sdp(Hooks(outgoing=Outgoing.drop), requests=3)
    ev = _closed(silent, "EV")
    assert ev.reason is Reason.NO_ANSWER and not ev.ok and silent.closed["EV"][0] == 0.75  # 3 x 0.25 s
    lost = _sdp(client_hooks=Hooks(incoming=lambda now, m: None), requests=2)
    assert _closed(lost, "EV").reason is Reason.NO_ANSWER and lost.names("SE") == ["SDPRes", "SDPRes"]
