"""ISO 15118-20 sessions, both roles, on the simulated clock: every energy mode x control mode x BPT, every
timer, pause and resume, the EVSE's notifications, service and schedule renegotiation, and the test system's
hooks. The FAILED/WARNING paths and the mutated-message property are in test_iso20_session_errors.py (which
shares the helpers below)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from v2gkit.controllers import CPState
from v2gkit.exi.gen import iso20_dc
from v2gkit.session.events import Closed, Message, Reason, Received
from v2gkit.session.hooks import Hooks, Outgoing
from v2gkit.session.iso20 import messages as M
from v2gkit.session.iso20.config import EVCC20Config, SECC20Config
from v2gkit.session.iso20.core import NEXT
from v2gkit.session.iso20.evcc import EVCC20Session
from v2gkit.session.iso20.secc import SECC20Session
from v2gkit.session.iso20.services import ServiceID
from v2gkit.session.paused import PausedSessions
from v2gkit.session.simulate import Exchange, run_pair
from v2gkit.sim.battery import SimulatedBPTEV
from v2gkit.sim.bpt_evse import SimulatedBPTACEVSE, SimulatedBPTDCEVSE
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import Cable, SimulatedACEVSE, SimulatedDCEVSE

PROTOCOLS = ("iso20-dc", "iso20-ac")
MODES = ("Scheduled", "Dynamic")
#: every energy mode x control mode x plain/BPT
FLOWS = [(p, m, b) for p in PROTOCOLS for m in MODES for b in (False, True)]
FLOW_IDS = [f"{p[6:]}-{m}-{'bpt' if b else 'plain'}" for p, m, b in FLOWS]


# ---------------------------------------------------------------------------------------------- helpers
@dataclass
class Pair:
    evcc: EVCC20Session
    secc: SECC20Session
    ev: Any
    evse: Any

    def run(self, **kw: Any) -> Exchange:
        return run_pair(self.evcc, self.secc, **kw)


def pair(protocol: str = "iso20-dc", mode: str = "Scheduled", bpt: bool = False, *, ev_kw: dict | None = None,
         evse_kw: dict | None = None, ev_cfg: dict | None = None, secc_cfg: dict | None = None,
         paused: PausedSessions | None = None, secc_hooks: Hooks | None = None,
         evcc_hooks: Hooks | None = None) -> Pair:
    """A car and a charger of the kind asked (BPT: the bidirectional simulators), 1 % SOC to charge."""
    dc = protocol == "iso20-dc"
    cable = Cable()
    ev = (SimulatedBPTEV if bpt else SimulatedEV)(**{"soc": 79.0, "target_soc": 80.0, "ac": not dc,
                                                     "cable": cable, **(ev_kw or {})})
    if dc:
        evse = (SimulatedBPTDCEVSE if bpt else SimulatedDCEVSE)(**{"cable_check_time": 1.0,
                                                                   **(evse_kw or {})})
    else:
        evse = (SimulatedBPTACEVSE if bpt else SimulatedACEVSE)(**{"cable": cable, **(evse_kw or {})})
    evcc = EVCC20Session(protocol, ev, EVCC20Config(**{"bpt": bpt, "control_mode": mode, "loop_interval": 0.2,
                                                       **(ev_cfg or {})}), hooks=evcc_hooks)
    secc = SECC20Session(protocol, evse, SECC20Config(**{"bpt": bpt, **(secc_cfg or {})}), paused,
                         hooks=secc_hooks)
    return Pair(evcc, secc, ev, evse)


def closed(ex: Exchange, side: str) -> Closed:
    return ex.closed[side][1]


def closed_at(ex: Exchange, side: str) -> float:
    return ex.closed[side][0]


def requests(ex: Exchange) -> list[str]:
    """The EV's requests in order, loops collapsed."""
    out: list[str] = []
    for n in ex.names("EV"):
        if not out or out[-1] != n:
            out.append(n)
    return out


def received(ex: Exchange, side: str, name: str | None = None) -> list[Received]:
    return [r for _, s, r in ex.received if s == side and (name is None or r.name == name)]


def sent_at(ex: Exchange, name: str, which: int = -1) -> float:
    return [t for t, _, n in ex.log if n == name][which]


def payload_type_of(element: str) -> int:
    """Where each -20 message travels: DC_* 0x8004, AC_* 0x8003, ACDP_* 0x8005, WPT_* 0x8006, the common
    messages 0x8002."""
    prefixes = {"DC": 0x8004, "AC": 0x8003, "ACDP": 0x8005, "WPT": 0x8006}
    return prefixes.get(element.split("_")[0], 0x8002)


def head(protocol: str) -> list[str]:
    return ["SessionSetupReq", "AuthorizationSetupReq", "AuthorizationReq", "ServiceDiscoveryReq",
            "ServiceDetailReq", "ServiceSelectionReq", f"{protocol[-2:].upper()}_ChargeParameterDiscoveryReq",
            "ScheduleExchangeReq"]


def power(protocol: str) -> list[str]:
    if protocol == "iso20-dc":
        return ["DC_CableCheckReq", "DC_PreChargeReq", "PowerDeliveryReq", "DC_ChargeLoopReq",
                "PowerDeliveryReq", "DC_WeldingDetectionReq", "SessionStopReq"]
    return ["PowerDeliveryReq", "AC_ChargeLoopReq", "PowerDeliveryReq", "SessionStopReq"]


def drop(element: str, side: str, nth: int = 1) -> Callable:
    """tamper: lose the ``nth`` ``element`` sent by ``side`` (and nothing else)."""
    count = [0]

    def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes | None:
        if sender == side and name == element:
            count[0] += 1
            if count[0] == nth:
                return None
        return payload
    return tamper


def at(when: float, action: Callable[[], Any]) -> Callable:
    """tamper: run ``action`` once, with the first message sent at or after ``when``."""
    done: list[float] = []

    def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes:
        if now >= when and not done:
            done.append(now)
            action()
        return payload
    return tamper


def rewrite(element: str, side: str, change: Callable[[M.Decoded], Any], nth: int = 1) -> Callable:
    """tamper: decode the ``nth`` ``element`` from ``side`` in flight, let ``change`` edit its body (or return
    a new SessionID), and encode it again under the same payload type (the sender does not know)."""
    count = [0]

    def tamper(now: float, sender: str, name: str, payload: bytes) -> bytes:
        if sender != side or name != element:
            return payload
        count[0] += 1
        if count[0] != nth:
            return payload
        d = M.decode(M.MESSAGES[element[:-3]].payload_type, payload)
        sid = change(d)
        return M.encode(d.name, d.request, d.body, sid if isinstance(sid, bytes) else d.session_id,
                        d.timestamp)[1]
    return tamper


def on(element: str, action: Callable[[Outgoing], Any], nth: int = 1) -> Callable[[Outgoing], None]:
    """An outgoing hook that applies ``action`` to the ``nth`` message called ``element``."""
    count = [0]

    def hook(msg: Outgoing) -> None:
        if msg.name == element:
            count[0] += 1
            if count[0] == nth:
                action(msg)
    return hook


# ---------------------------------------------------------------------------------- 1. whole sessions
@pytest.mark.parametrize("protocol,mode,bpt", FLOWS, ids=FLOW_IDS)
def test_full_session(protocol: str, mode: str, bpt: bool) -> None:
    p = pair(protocol, mode, bpt)
    t0 = int(time.time())
    ex = p.run()
    t1 = int(time.time()) + 1
    assert closed(ex, "EV").reason is Reason.TERMINATED and closed(ex, "SE").reason is Reason.TERMINATED
    assert requests(ex) == head(protocol) + power(protocol)
    # the SECC answers each request in its own response type, nothing else
    assert [n[:-3] for n in ex.names("EV")] == [n[:-3] for n in ex.names("SE")]
    # agreed: the service, control mode and BPT-ness asked for, on both sides
    dc = protocol == "iso20-dc"
    service = {(True, False): ServiceID.DC, (True, True): ServiceID.DC_BPT, (False, False): ServiceID.AC,
               (False, True): ServiceID.AC_BPT}[dc, bpt]
    assert (p.secc.service, p.secc.mode, p.secc.bpt) == (service, mode, bpt)
    assert (p.evcc.service, p.evcc.mode, p.evcc.bpt) == (service, mode, bpt)
    loop = "DC_ChargeLoop" if dc else "AC_ChargeLoop"
    for side, element in (("SE", loop + "Req"), ("EV", loop + "Res")):
        assert {M.variant(r.body) for r in received(ex, side, element)} == {(mode, bpt)}
    cpd = received(ex, "SE", f"{'DC' if dc else 'AC'}_ChargeParameterDiscoveryReq")[0].body
    assert M.is_bpt(cpd) is bpt
    [selection] = received(ex, "SE", "ServiceSelectionReq")
    assert selection.body.selected_energy_transfer_service.service_id == service
    # payload type, SessionID and TimeStamp of every message, both ways
    sid = p.secc.session_id
    assert p.evcc.session_id == sid and sid != bytes(8) and len(sid) == 8
    everything = [r for _, _, r in ex.received]
    assert len(everything) == len(ex.log)
    for r in everything:
        assert r.payload_type == payload_type_of(r.name), r.name
        assert r.body.header.session_id == (bytes(8) if r.name == "SessionSetupReq" else sid), r.name
        assert t0 <= r.body.header.time_stamp <= t1, r.name
    # energy flowed and the meters agree
    assert p.evse.meter_wh() > 0 and p.secc.result.energy_wh == p.evse.meter_wh()
    assert p.evse.meter_wh() == pytest.approx(p.ev.charged_wh, rel=0.05) and p.ev.soc() >= 80.0
    assert p.secc.result.ok and p.evcc.result.ok and p.secc.result.messages == p.evcc.result.messages
    assert p.ev.cp_state is CPState.B


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_car_takes_what_the_charger_offers(protocol: str) -> None:
    """A BPT car that wants Scheduled mode, at a charger offering plain energy in Dynamic mode only: the
    session is plain Dynamic, and both sides agree on it."""
    p = pair(protocol, "Scheduled", True, secc_cfg={"bpt": False, "control_modes": ("Dynamic",)})
    ex = p.run()
    plain = ServiceID.DC if protocol == "iso20-dc" else ServiceID.AC
    [discovery] = received(ex, "EV", "ServiceDiscoveryRes")
    assert [s.service_id for s in discovery.body.energy_transfer_service_list.service] == [plain]
    assert (p.secc.service, p.secc.mode, p.secc.bpt) == (p.evcc.service, p.evcc.mode, p.evcc.bpt) == (
        plain, "Dynamic", False)
    assert closed(ex, "EV").reason is Reason.TERMINATED and p.evse.meter_wh() > 0


def test_default_configuration() -> None:
    """Nothing configured but the kind of session: the EVCC's own loop pace (0.1 s) and every default."""
    ev, evse = SimulatedEV(soc=79.0, target_soc=80.0), SimulatedDCEVSE(cable_check_time=1.0)
    ex = run_pair(EVCC20Session("iso20-dc", ev), SECC20Session("iso20-dc", evse))
    assert closed(ex, "EV").reason is Reason.TERMINATED and closed(ex, "SE").reason is Reason.TERMINATED
    assert requests(ex) == head("iso20-dc") + power("iso20-dc") and evse.meter_wh() > 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bpt_power_delivery_selects_the_charge_channel(protocol: str) -> None:
    ex = pair(protocol, "Dynamic", True).run()
    progress = [(r.body.charge_progress.name, r.body.bpt_channel_selection) for r in received(ex, "SE",
                                                                                                "PowerDeliveryReq")]
    assert progress[0][0] == "Start" and progress[0][1] is not None and progress[0][1].name == "Charge"
    assert progress[-1] == ("Stop", None)


class _Discharging(SimulatedBPTDCEVSE):
    """A DC_BPT charger whose Dynamic-mode plan is to take 5 kW from the car."""

    def target_power(self) -> float:
        return -5000.0


def test_dynamic_bpt_follows_the_chargers_plan_to_discharge() -> None:
    p = pair("iso20-dc", "Dynamic", True, ev_kw={"soc": 60.0, "target_soc": 60.0, "stop_at": 30.0,
                                                "departure_time": 8 * 3600})
    p.evse = _Discharging(cable_check_time=1.0)
    p.secc = SECC20Session("iso20-dc", p.evse, SECC20Config(bpt=True))
    ex = p.run()
    assert closed(ex, "EV").reason is Reason.TERMINATED
    assert p.ev.discharged_wh > 0 and p.evse.exported_wh() > 0


def test_rules_table_covers_every_outcome() -> None:
    targets = {n for v in NEXT.values() for n in v}
    assert targets <= {k.split(":")[0] for k in NEXT}
    assert NEXT["SessionStop"] == frozenset()
    # while power may flow only PowerDelivery (or MeteringConfirmation) interrupts the loop
    for key in ("DC_ChargeLoop", "AC_ChargeLoop", "MeteringConfirmation:DC", "PowerDelivery:Start:AC"):
        assert "SessionStop" not in NEXT[key]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_schedule_exchange_ongoing(protocol: str) -> None:
    p = pair(protocol, secc_cfg={"schedule_exchange_ongoing": 3})
    ex = p.run()
    procs = [r.body.evse_processing.name for r in received(ex, "EV", "ScheduleExchangeRes")]
    assert procs == ["Ongoing", "Ongoing", "Ongoing", "Finished"]
    assert closed(ex, "EV").reason is Reason.TERMINATED


def test_authorization_ongoing_loop() -> None:
    ex = pair(evse_kw={"auth_delay": 2.0}).run()
    assert closed(ex, "EV").ok and 9 <= ex.names("EV").count("AuthorizationReq") <= 11  # every 0.2 s for 2 s


# -------------------------------------------------------------------------------------------- 2. timers
@pytest.mark.parametrize("protocol,request_name,timeout", [
    ("iso20-dc", "SessionSetup", 2.0), ("iso20-dc", "AuthorizationSetup", 2.0),
    ("iso20-ac", "ServiceDiscovery", 2.0), ("iso20-dc", "ServiceDetail", 5.0),
    ("iso20-ac", "ServiceDetail", 5.0), ("iso20-dc", "ServiceSelection", 2.0),
    ("iso20-dc", "DC_ChargeParameterDiscovery", 2.0), ("iso20-ac", "AC_ChargeParameterDiscovery", 2.0),
    ("iso20-dc", "ScheduleExchange", 2.0), ("iso20-dc", "DC_CableCheck", 2.0),
    ("iso20-dc", "DC_PreCharge", 2.0), ("iso20-dc", "PowerDelivery", 2.0), ("iso20-ac", "PowerDelivery", 2.0),
    ("iso20-dc", "DC_ChargeLoop", 0.5), ("iso20-ac", "AC_ChargeLoop", 0.5),
    ("iso20-dc", "DC_WeldingDetection", 2.0), ("iso20-ac", "Authorization", 2.0),
])
def test_evcc_message_timeout(protocol: str, request_name: str, timeout: float) -> None:
    """V2G_EVCC_Msg_Timeout: 2 s (Table 215; PowerDelivery too, unlike ISO-2's 5 s), 5 s for ServiceDetail,
    0.5 s in the charge loops (Tables 216/217)."""
    ex = pair(protocol).run(tamper=drop(request_name + "Res", "SE", nth=3 if "Loop" in request_name else 1))
    ev = closed(ex, "EV")
    assert ev.reason is Reason.MESSAGE_TIMEOUT and not ev.local
    assert ev.text == f"V2G_EVCC_Msg_Timeout: no {request_name}Res within {timeout:g} s"
    assert closed_at(ex, "EV") - sent_at(ex, request_name + "Req") == pytest.approx(timeout)


@pytest.mark.parametrize("protocol,dropped,after,delay", [
    ("iso20-dc", "ServiceDiscoveryReq", "Authorization", 60.0),
    ("iso20-ac", "PowerDeliveryReq", "ScheduleExchange", 60.0),
    ("iso20-dc", "DC_PreChargeReq", "DC_CableCheck", 60.0),
    ("iso20-dc", "DC_ChargeLoopReq", "DC_ChargeLoop", 0.5),
    ("iso20-ac", "AC_ChargeLoopReq", "AC_ChargeLoop", 0.5),
])
def test_secc_sequence_timeout(protocol: str, dropped: str, after: str, delay: float) -> None:
    """V2G_SECC_Sequence_Timeout: 60 s after any response, 0.5 s after a ChargeLoopRes."""
    p = pair(protocol, ev_cfg={"msg_timeout_default": 1000.0, "msg_timeouts": {"DC_ChargeLoop": 1000.0,
                                                                               "AC_ChargeLoop": 1000.0}})
    ex = p.run(tamper=drop(dropped, "EV", nth=5 if "Loop" in dropped else 1))
    se = closed(ex, "SE")
    assert se.reason is Reason.SEQUENCE_TIMEOUT and not se.local
    assert se.text == f"V2G_SECC_Sequence_Timeout: no request within {delay:g} s after {after}Res"
    assert closed_at(ex, "SE") - sent_at(ex, after + "Res") == pytest.approx(delay)
    assert closed(ex, "EV").reason is Reason.PEER_CLOSED


@pytest.mark.parametrize("what,kw", [
    ("Authorization", {"evse_kw": {"auth_delay": 500.0}}),
    ("ScheduleExchange", {"secc_cfg": {"schedule_exchange_ongoing": 10**6}}),
])
@pytest.mark.parametrize("who", ["SE", "EV"])
def test_ongoing_limits(what: str, kw: dict, who: str) -> None:
    """The SECC answers FAILED after 55 s of Ongoing (V2G_SECC_Ongoing_Performance_Time); an SECC that
    waits longer meets the EV's 60 s V2G_EVCC_Ongoing_Timeout."""
    if who == "EV":
        kw = {**kw, "secc_cfg": {**kw.get("secc_cfg", {}), "ongoing_limit": 1000.0}}
    ex = pair("iso20-dc", **kw).run()
    start = sent_at(ex, what + "Req", 0)
    ev, se = closed(ex, "EV"), closed(ex, "SE")
    if who == "SE":
        assert se.reason is Reason.REFUSED
        assert se.text == f"answered {what}Res with FAILED: still not finished after 55 s"
        assert ev.reason is Reason.FAILED_RESPONSE and ev.text == f"SECC answered {what}Res with FAILED"
        assert closed_at(ex, "SE") - start == pytest.approx(55.0, abs=0.25)
    else:
        assert ev.reason is Reason.ONGOING_TIMEOUT and ev.text == f"{what} still not finished after 60 s"
        assert closed_at(ex, "EV") - start == pytest.approx(60.0, abs=0.25)
        assert se.reason is Reason.PEER_CLOSED


@pytest.mark.parametrize("secc_limit,who,text,limit", [
    (None, "SE", "SECC answered DC_CableCheckRes with FAILED", 38.0),
    (1000.0, "EV", "DC_CableCheck still not finished after 40 s", 40.0),
])
def test_cable_check_limits(secc_limit: float | None, who: str, text: str, limit: float) -> None:
    p = pair(evse_kw={"cable_check_time": 500.0},
             secc_cfg={"cable_check_limit": secc_limit} if secc_limit else {})
    ex = p.run()
    ev = closed(ex, "EV")
    assert ev.text == text
    assert ev.reason is (Reason.FAILED_RESPONSE if who == "SE" else Reason.ONGOING_TIMEOUT)
    assert closed_at(ex, who) - sent_at(ex, "DC_CableCheckReq", 0) == pytest.approx(limit, abs=0.25)
    if who == "SE":
        assert closed(ex, "SE").text == "answered DC_CableCheckRes with FAILED: still not finished after 38 s"


def test_pre_charge_timeout() -> None:
    ex = pair(evse_kw={"voltage_slew": 10.0}).run()  # far too slow to reach the battery in 10 s
    ev = closed(ex, "EV")
    assert ev.reason is Reason.ONGOING_TIMEOUT and ev.text == "DC_PreCharge still not finished after 10 s"
    assert closed_at(ex, "EV") - sent_at(ex, "DC_PreChargeReq", 0) == pytest.approx(10.0, abs=0.25)


# ------------------------------------------------------------------- 4. pause, notifications, renegotiation
def _pause(protocol: str, mode: str, bpt: bool, paused: PausedSessions) -> tuple[Pair, Exchange]:
    p = pair(protocol, mode, bpt, ev_kw={"soc": 50.0, "pause_at": 5.0}, paused=paused)
    ex = p.run()
    assert closed(ex, "EV").reason is Reason.PAUSED and closed(ex, "SE").reason is Reason.PAUSED
    [stop] = received(ex, "SE", "SessionStopReq")
    assert stop.body.charging_session.name == "Pause" and p.evcc.result.paused and p.secc.result.paused
    assert p.secc.session_id in paused
    return p, ex


@pytest.mark.parametrize("protocol,mode,bpt", [("iso20-dc", "Dynamic", True),
                                               ("iso20-ac", "Scheduled", False)])
def test_pause_and_resume_with_the_old_session_id(protocol: str, mode: str, bpt: bool) -> None:
    paused = PausedSessions()
    first, _ = _pause(protocol, mode, bpt, paused)
    sid = first.secc.session_id
    # the car comes back with the old SessionID and remembers what it agreed
    p = pair(protocol, mode, bpt, ev_kw={"soc": 79.0}, ev_cfg={"resume_session_id": sid}, paused=paused)
    p.evcc.service, p.evcc.mode, p.evcc.bpt = first.evcc.service, first.evcc.mode, first.evcc.bpt
    ex = p.run()
    [setup] = received(ex, "EV", "SessionSetupRes")
    assert setup.body.response_code.name == "OK_OldSessionJoined" and setup.body.header.session_id == sid
    assert received(ex, "SE", "SessionSetupReq")[0].body.header.session_id == sid
    # no authorization, no services: straight to ChargeParameterDiscovery ([V2G20-1032])
    assert requests(ex) == ["SessionSetupReq"] + head(protocol)[6:] + power(protocol)
    assert (p.secc.service, p.secc.mode, p.secc.bpt) == (first.secc.service, mode, bpt)
    assert closed(ex, "EV").reason is Reason.TERMINATED and closed(ex, "SE").reason is Reason.TERMINATED
    assert p.evcc.session_id == p.secc.session_id == sid and sid not in paused


def test_resume_from_the_configuration_alone() -> None:
    paused = PausedSessions()
    first, _ = _pause("iso20-dc", "Scheduled", False, paused)
    p = pair(ev_kw={"soc": 79.0}, ev_cfg={"resume_session_id": first.secc.session_id}, paused=paused)
    ex = p.run()
    assert closed(ex, "EV").reason is Reason.TERMINATED
    assert requests(ex)[1] == "DC_ChargeParameterDiscoveryReq"


def test_resume_of_an_unknown_session_starts_a_new_one() -> None:
    p = pair(ev_cfg={"resume_session_id": bytes.fromhex("0102030405060708")})
    ex = p.run()
    [setup] = received(ex, "EV", "SessionSetupRes")
    assert setup.body.response_code.name == "OK_NewSessionEstablished"
    assert p.evcc.session_id == p.secc.session_id != bytes.fromhex("0102030405060708")
    assert requests(ex) == head("iso20-dc") + power("iso20-dc") and closed(ex, "EV").ok


def test_a_paused_dc_session_is_no_ac_session() -> None:
    paused = PausedSessions()
    first, _ = _pause("iso20-dc", "Scheduled", False, paused)
    p = pair("iso20-ac", ev_cfg={"resume_session_id": first.secc.session_id}, paused=paused)
    ex = p.run()
    assert received(ex, "EV", "SessionSetupRes")[0].body.response_code.name == "OK_NewSessionEstablished"
    assert closed(ex, "EV").reason is Reason.TERMINATED


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("notify,session,reason", [("request_pause", "Pause", Reason.PAUSED),
                                                   ("request_stop", "Terminate", Reason.TERMINATED)])
def test_evse_notification_ends_the_session(protocol: str, notify: str, session: str, reason: Reason) -> None:
    p = pair(protocol, "Dynamic", ev_kw={"soc": 40.0})
    ex = p.run(tamper=at(10.0, getattr(p.evse, notify)))
    assert closed(ex, "EV").reason is reason and closed(ex, "SE").reason is reason
    loop = f"{protocol[-2:].upper()}_ChargeLoopRes"
    notes = [M.notification(r.body) for r in received(ex, "EV", loop)]
    assert notes[-1] == (session, 60 if session == "Pause" else 0) and notes[0] == (None, 0)
    assert received(ex, "SE", "SessionStopReq")[0].body.charging_session.name == session
    assert p.ev.soc() < 80 and ex.now < 30
    assert (p.secc.session_id in p.secc.paused) is (session == "Pause")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_service_renegotiation_on_the_same_connection(protocol: str) -> None:
    p = pair(protocol, ev_kw={"soc": 70.0})
    ex = p.run(tamper=at(5.0, p.evse.request_service_renegotiation))
    assert closed(ex, "EV").reason is Reason.TERMINATED and closed(ex, "SE").reason is Reason.TERMINATED
    seq = requests(ex)
    stop = seq.index("SessionStopReq")
    assert seq[:stop + 1] == head(protocol) + power(protocol)  # a whole session up to SessionStop ...
    assert seq[stop + 1:] == head(protocol)[3:] + power(protocol)  # ... then ServiceDiscovery again
    assert [r.body.charging_session.name for r in received(ex, "SE", "SessionStopReq")] == [
        "ServiceRenegotiation", "Terminate"]
    assert all(r.body.service_renegotiation_supported for r in received(ex, "EV", "ServiceDiscoveryRes"))
    assert len({r.body.header.session_id for _, _, r in ex.received[1:]}) == 1  # one SessionID throughout
    assert p.ev.soc() >= 80.0


def test_service_renegotiation_not_offered_is_not_asked_for() -> None:
    """ServiceRenegotiationSupported=false: the charger's wish is not sent on ([V2G20-1652]), the car
    charges to the end."""
    p = pair(ev_kw={"soc": 70.0}, secc_cfg={"service_renegotiation": False})
    ex = p.run(tamper=at(5.0, p.evse.request_service_renegotiation))
    assert not received(ex, "EV", "ServiceDiscoveryRes")[0].body.service_renegotiation_supported
    assert requests(ex) == head("iso20-dc") + power("iso20-dc")
    assert closed(ex, "EV").reason is Reason.TERMINATED
    assert all(M.notification(r.body)[0] is None for r in received(ex, "EV", "DC_ChargeLoopRes"))


@pytest.mark.parametrize("protocol,mode", [("iso20-dc", "Scheduled"), ("iso20-ac", "Dynamic")])
def test_schedule_renegotiation(protocol: str, mode: str) -> None:
    p = pair(protocol, mode, ev_kw={"soc": 70.0})
    ex = p.run(tamper=at(5.0, p.evse.request_renegotiation))
    assert closed(ex, "EV").reason is Reason.TERMINATED and p.ev.soc() >= 80
    seq = requests(ex)
    loop = f"{protocol[-2:].upper()}_ChargeLoopReq"
    i = seq.index(loop)
    assert seq[i:i + 5] == [loop, "PowerDeliveryReq", "ScheduleExchangeReq", "PowerDeliveryReq", loop]
    assert [r.body.charge_progress.name for r in received(ex, "SE", "PowerDeliveryReq")] == [
        "Start", "ScheduleRenegotiation", "Start", "Stop"]
    assert received(ex, "EV", "ScheduleExchangeRes")[-1].body.evse_processing.name == "Finished"


def test_metering_confirmation_on_request() -> None:
    """EVSENotification MeteringConfirmation: the car confirms its session's meter reading and the loop
    goes on."""
    def ask(msg: Outgoing) -> None:
        msg.body.evse_status = iso20_dc.EVSEStatusType(0, iso20_dc.evseNotificationType.MeteringConfirmation)

    p = pair(secc_hooks=Hooks(outgoing=on("DC_ChargeLoopRes", ask, nth=3)))
    ex = p.run()
    seq = ex.names("EV")
    i = seq.index("MeteringConfirmationReq")
    assert seq[i - 1] == seq[i + 1] == "DC_ChargeLoopReq" and seq.count("MeteringConfirmationReq") == 1
    [mc] = received(ex, "SE", "MeteringConfirmationReq")
    assert mc.body.signed_metering_data.session_id == p.secc.session_id and mc.payload_type == 0x8002
    assert received(ex, "EV", "MeteringConfirmationRes")[0].body.response_code.name == "OK"
    assert closed(ex, "EV").reason is Reason.TERMINATED


def test_meter_info_when_asked() -> None:
    p = pair(ev_cfg={"meter_info_requested": True})
    ex = p.run()
    meters = [M.meter_info_of(r.body) for r in received(ex, "EV", "DC_ChargeLoopRes")]
    assert all(m is not None for m in meters) and meters[-1].charged_wh > meters[0].charged_wh


# ----------------------------------------------------------------------------------------------- 6. hooks
def test_outgoing_hook_changes_a_field_the_peer_sees() -> None:
    def rename(msg: Outgoing) -> None:
        msg.body.evseid = "DE*HOOK*E1"

    ex = pair(secc_hooks=Hooks(outgoing=on("SessionSetupRes", rename))).run()
    assert received(ex, "EV", "SessionSetupRes")[0].body.evseid == "DE*HOOK*E1" and closed(ex, "EV").ok
    assert any(e.name == "hook" for _, s, e in ex.events if s == "SE")


def test_outgoing_hook_drops_a_message() -> None:
    ex = pair(secc_hooks=Hooks(outgoing=on("ServiceDetailRes", Outgoing.drop))).run()
    ev = closed(ex, "EV")
    assert ev.reason is Reason.MESSAGE_TIMEOUT and "ServiceDetailRes within 5 s" in ev.text
    assert "ServiceDetailRes" not in ex.names("SE")
    assert closed_at(ex, "EV") - sent_at(ex, "ServiceDetailReq") == pytest.approx(5.0)


@pytest.mark.parametrize("delay,ok", [(0.2, True), (0.6, False)])
def test_outgoing_hook_delays_a_message(delay: float, ok: bool) -> None:
    """A DC_ChargeLoopRes 0.2 s late still makes the EV's 0.5 s; 0.6 s late does not. (The SECC's 0.5 s
    sequence timer runs from the answer as built: the hook lies to the peer, not to the machine.)"""
    ex = pair(secc_hooks=Hooks(outgoing=on("DC_ChargeLoopRes", lambda m: m.delay(delay), nth=2))).run()
    ev = closed(ex, "EV")
    assert ev.ok is ok
    if not ok:
        assert ev.reason is Reason.MESSAGE_TIMEOUT and "DC_ChargeLoopRes within 0.5 s" in ev.text


@pytest.mark.parametrize("raw,payload_type,expected", [
    (b"\x80\x00garbage", None, "undecodable response"),
    (None, 0x8004, "ServiceDiscoveryRes belongs under payload type 0x8002 (iso20), not 0x8004"),
])
def test_outgoing_hook_sends_raw_bytes(raw: bytes | None, payload_type: int | None, expected: str) -> None:
    """Raw bytes, or the right message under the wrong payload type: the car cannot read it."""
    def replace(msg: Outgoing) -> None:
        data = raw if raw is not None else M.encode("ServiceDiscovery", False, msg.body, bytes(8), 0)[1]
        msg.raw(data, payload_type)

    ex = pair(secc_hooks=Hooks(outgoing=on("ServiceDiscoveryRes", replace))).run()
    ev = closed(ex, "EV")
    assert ev.reason is Reason.UNDECODABLE and not ev.local and expected in ev.text


def test_outgoing_hook_adds_a_message() -> None:
    """An unsolicited second SessionSetupRes: the car sees a response it did not ask for."""
    twice = on("SessionSetupRes", lambda m: m.add("SessionSetupRes", m.body))
    ex = pair(secc_hooks=Hooks(outgoing=twice)).run()
    assert ex.names("SE")[:2] == ["SessionSetupRes", "SessionSetupRes"]
    ev = closed(ex, "EV")
    assert ev.reason is Reason.WRONG_MESSAGE
    assert ev.text == "expected AuthorizationSetupRes, got SessionSetupRes"


def test_incoming_hook_sees_every_message_before_decoding() -> None:
    """The car's incoming hook sees the V2GTP messages under their payload types and loses the first
    DC_ChargeLoopRes (0x8004 after the PowerDeliveryRes, 0x8002): the car times out after 0.5 s."""
    seen: list[Message] = []

    def lose(now: float, m: Message) -> Message | None:
        seen.append(m)
        types = [x.payload_type for x in seen]
        return None if types[-2:] == [0x8002, 0x8004] and types.count(0x8004) > 4 else m

    ex = pair(evcc_hooks=Hooks(incoming=lose)).run()
    ev = closed(ex, "EV")
    assert ev.reason is Reason.MESSAGE_TIMEOUT and "DC_ChargeLoopRes within 0.5 s" in ev.text
    assert {m.payload_type for m in seen} == {0x8002, 0x8004} and len(seen) == len(ex.names("SE"))


def _loop_instead_of_selection(msg: Outgoing) -> None:
    """An EV outgoing hook: send a DC_ChargeLoopReq where the ServiceSelectionReq belongs."""
    msg.drop()
    msg.add("DC_ChargeLoopReq", M.dc_charge_loop_req("Scheduled", False, target_voltage=400.0,
                                                     target_current=10.0))


def test_strict_secc_refuses_out_of_sequence_and_non_strict_answers_in_kind() -> None:
    ex = pair(evcc_hooks=Hooks(outgoing=on("ServiceSelectionReq", _loop_instead_of_selection))).run()
    assert closed(ex, "SE").reason is Reason.SEQUENCE_ERROR
    loose = pair(secc_hooks=Hooks(strict=False),
                 evcc_hooks=Hooks(outgoing=on("ServiceSelectionReq", _loop_instead_of_selection))).run()
    [res] = received(loose, "EV", "DC_ChargeLoopRes")
    assert res.body.response_code.name == "OK" and res.payload_type == 0x8004
    assert closed(loose, "EV").reason is Reason.WRONG_MESSAGE  # the strict car expected ServiceSelectionRes


def test_non_strict_secc_accepts_another_session_id() -> None:
    def other(d: M.Decoded) -> bytes:
        return b"\x42" * 8

    strict = pair().run(tamper=rewrite("ServiceDiscoveryReq", "EV", other))
    assert closed(strict, "SE").reason is Reason.UNKNOWN_SESSION
    loose = pair(secc_hooks=Hooks(strict=False)).run(tamper=rewrite("ServiceDiscoveryReq", "EV", other))
    assert closed(loose, "SE").reason is Reason.TERMINATED and closed(loose, "EV").reason is Reason.TERMINATED


def test_non_strict_evcc_accepts_another_session_id() -> None:
    def other(d: M.Decoded) -> bytes:
        return b"\x42" * 8

    strict = pair().run(tamper=rewrite("ServiceDiscoveryRes", "SE", other))
    ev = closed(strict, "EV")
    assert ev.reason is Reason.UNKNOWN_SESSION and "carries SessionID 4242424242424242" in ev.text
    loose = pair(evcc_hooks=Hooks(strict=False)).run(tamper=rewrite("ServiceDiscoveryRes", "SE", other))
    assert closed(loose, "EV").reason is Reason.TERMINATED


def test_rules_passed_in_are_checked_by_both_roles() -> None:
    """A table without AuthorizationSetup after SessionSetup: the SECC refuses it (the peer's fault), an
    EVCC given the same table knows its own plan breaks it (ours)."""
    rules = dict(NEXT, SessionSetup=frozenset({"SessionStop"}))
    ex = pair(secc_hooks=Hooks(rules=rules)).run()
    se = closed(ex, "SE")
    assert se.reason is Reason.SEQUENCE_ERROR and not se.local
    assert se.text == "AuthorizationSetupReq: FAILED_SequenceError"
    ex = pair(evcc_hooks=Hooks(rules=rules)).run()
    ev = closed(ex, "EV")
    assert ev.reason is Reason.RULES_BROKEN and ev.local
    assert "AuthorizationSetupReq after SessionSetupRes; allowed: SessionStop" in ev.text
    assert closed(pair(evcc_hooks=Hooks(rules=rules, strict=False)).run(), "EV").reason is Reason.TERMINATED


def test_randomness_comes_from_outside() -> None:
    p = pair(secc_hooks=Hooks(random_bytes=lambda n: bytes(range(1, n + 1))))
    ex = p.run()
    assert p.secc.session_id == p.evcc.session_id == bytes(range(1, 9)) and closed(ex, "EV").ok
    assert received(ex, "EV", "SessionSetupRes")[0].body.header.session_id == bytes(range(1, 9))


def test_fixed_session_id_from_the_configuration() -> None:
    p = pair(secc_cfg={"session_id": bytes.fromhex("0102030405060708")},
             secc_hooks=Hooks(random_bytes=lambda n: b"\xff" * n))
    p.run()
    assert p.evcc.session_id == p.secc.session_id == bytes.fromhex("0102030405060708") and p.evcc.result.ok
