"""Real chargers' recorded answers drive v2gkit's EVCC through the whole stack on ::1 (testsys.replay_chargers):
the nine sessions kept in tests/data always, every recorded charger session of ../shared/vectors when there."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
from conftest import need_shared

from v2gkit.exi import api as exi
from v2gkit.session import din2 as charging
from v2gkit.session.din2.dialect import Dialect
from v2gkit.session.events import Closed, Message, Reason, Send
from v2gkit.testsys.captures import Frame, RecordedSession, load_sessions, sessions_from_json
from v2gkit.testsys.replay_chargers import (
    ChargerReplay,
    ScriptedCharger,
    _verdict,
    car_for,
    describe,
    replay_chargers,
    summary_rows,
)
from v2gkit.v2gtp import PayloadType

KEPT = Path(__file__).parent / "data" / "real_sessions.json"


def _kept() -> dict[str, RecordedSession]:
    return {s.label: s for s in sessions_from_json(json.loads(KEPT.read_text()))}


def _table(results: list) -> str:
    lines = [describe(r) for r in results]
    for row in summary_rows(results):
        lines.append(f"{row.model}: {', '.join(sorted(row.protocols))}; {row.sessions} sessions, {row.requests} "
                     f"requests; ok {row.ok}; stopped {dict(collections.Counter(row.stopped))}; "
                     f"incomplete {dict(collections.Counter(row.incomplete))}; differs {row.failed}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the scripted charger
def _label(kept: dict[str, RecordedSession], part: str) -> RecordedSession:
    return next(s for label, s in kept.items() if part in label)


def _request(d: Dialect, sid: bytes, name: str) -> Message:
    bodies = {"ServiceDiscovery": d.service_discovery_req(), "SessionStop": d.session_stop_req(False),
              "Authorization": d.authorization_req()}
    return Message(PayloadType.EXI, d.encode(sid, name, True, bodies[name]))


def test_scripted_charger_answers_in_recorded_order_then_repeats_the_last() -> None:
    s = _label(_kept(), "Audi/Q4/ac_iso2-1.dump#0")
    d, sc = Dialect(s.protocol), ScriptedCharger(s)
    recorded = [f.payload for f in s.responses if f.kind == "Authorization"]
    assert len(recorded) == 2
    sent = [sc.receive(0.0, _request(d, s.session_id, "Authorization"))[0] for _ in range(3)]
    assert all(isinstance(o, Send) for o in sent)
    assert [o.payload for o in sent] == [recorded[0], recorded[1], recorded[1]]  # unchanged bytes: same SessionID
    assert sc.used_up("Authorization") and sc.re_encoded == 0


def test_scripted_charger_gives_every_answer_the_sessions_id() -> None:
    """A response kept under another capture carries that capture's SessionID: re-encoded with ours."""
    s = _label(_kept(), "Audi/Q4/ac_iso2-1.dump#0")
    d = Dialect(s.protocol)
    other = bytes(range(1, 9))
    res = d.encode(other, "ServiceDiscovery", False, d.decode(next(f.payload for f in s.responses
                                                                    if f.kind == "ServiceDiscovery"))[3])
    frames = [f for f in s.frames if f.kind != "ServiceDiscovery"]
    frames.append(Frame(1e9, s.protocol, "ServiceDiscoveryRes", res, other, borrowed="elsewhere"))
    sc = ScriptedCharger(RecordedSession(s.source, s.car, s.charger, s.protocol, s.dc, s.session_id, frames))
    out = sc.receive(0.0, _request(d, s.session_id, "ServiceDiscovery"))[0]
    assert isinstance(out, Send) and out.payload != res and sc.re_encoded == 1
    msg = exi.decode(out.payload, s.protocol)
    assert msg.header.session_id == s.session_id
    assert d.decode(out.payload)[3] == d.decode(res)[3]  # the body as recorded


def test_scripted_charger_closes_where_the_recording_has_no_answer() -> None:
    s = _label(_kept(), "VW/id.4/iso_15118-2_DC")  # ends at SessionStop: no ChargeParameterDiscoveryRes
    d, sc = Dialect(s.protocol), ScriptedCharger(s)
    body = d.charge_parameter_req(True, car_for(s, sc)[0].limits(), d.dc_ev_status(True, "NO_ERROR", 50))
    out = sc.receive(0.0, Message(PayloadType.EXI, d.encode(s.session_id, "ChargeParameterDiscovery", True, body)))
    assert out == [Closed(Reason.NO_SESSION, "recording has no ChargeParameterDiscoveryRes")]
    assert _verdict(s, sc, False, "connection closed", 5, True).verdict == "recording incomplete"


def test_a_request_after_a_failed_answer_is_a_difference() -> None:
    """What the verdict guards: an EVCC that went on after FAILED would be caught."""
    s = _label(_kept(), "VW/id.4/iso_15118-2_DC")
    d, sc = Dialect(s.protocol), ScriptedCharger(s)
    for f in s.requests[:3]:  # SessionSetup, ServiceDiscovery, PaymentServiceSelection (FAILED_PaymentSelectionInvalid)
        assert isinstance(sc.receive(0.0, Message(PayloadType.EXI, f.payload))[0], Send)
    assert sc.failed == ("PaymentServiceSelectionRes", "FAILED_PaymentSelectionInvalid")
    out = sc.receive(0.0, _request(d, s.session_id, "SessionStop"))
    assert isinstance(out[0], Closed) and sc.after_end == ["SessionStopReq"]
    reason = "SECC answered PaymentServiceSelectionRes with FAILED_PaymentSelectionInvalid"
    r = _verdict(s, sc, False, reason, 4, True)
    assert r.verdict == "differs" and "went on after" in r.detail


def test_car_is_configured_from_the_recording() -> None:
    kept = _kept()
    s = _label(kept, "Porsche/Taycan_4S")
    ev, cfg = car_for(s, ScriptedCharger(s))
    d = Dialect(s.protocol)
    last_target = [d.decode(f.payload)[3].ev_target_voltage for f in s.frames if f.name == "PreChargeReq"][-1]
    assert ev.precharge_target()[0] == pytest.approx(last_target.value * 10.0 ** last_target.multiplier)
    assert cfg.loop_interval == 0.0 and cfg.msg_timeouts == charging.EVCCConfig().msg_timeouts
    ac, ac_cfg = car_for(_label(kept, "Skoda/Enyaq"), ScriptedCharger(_label(kept, "Skoda/Enyaq")))
    assert ac.ac and not ac_cfg.dc


# ---------------------------------------------------------------------------- replays over ::1
async def test_kept_sessions() -> None:
    kept = _kept()
    results = await replay_chargers(kept.values())
    table = _table(results)
    print("\n" + table)
    assert len(results) == sum(s.real_charger for s in kept.values()) == 9
    assert all(r.passed for r in results), table
    by = {r.session.label: r for r in results}
    # a whole EVerest DC session (BMW iX, DIN): charged, WeldingDetection, SessionStopRes OK
    bmw = by[next(k for k in by if k.startswith("BMW/iX"))]
    assert bmw.verdict == "ok" and bmw.reason == "terminated" and bmw.sent > 20
    # EVerest's PnC configuration offers Contract only: the recorded VW id.4 selected ExternalPayment anyway
    # and earned FAILED_PaymentSelectionInvalid; v2gkit's EIM car selects nothing it was not offered and
    # ends the session with SessionStop (answered OK by the recorded SessionStopRes)
    vw = by[next(k for k in by if "4_config-dc-iso2-pnc" in k)]
    assert vw.verdict == "stopped as required" and vw.reason == "SECC does not offer ExternalPayment"
    assert vw.failed is None and vw.sent == 4  # handshake, SessionSetup, ServiceDiscovery, SessionStop
    # a FAILED answer: the EVCC ends right there, naming it, and sends nothing more
    seres = by[next(k for k in by if k.startswith("Seres/"))]
    assert seres.verdict == "stopped as required"
    assert seres.reason == "SECC answered ChargeParameterDiscoveryRes with FAILED_WrongChargeParameter"


async def test_evcc_ending_with_another_reason_is_a_difference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check sees the EVCC's own reason: one that does not name the code is no pass."""
    monkeypatch.setattr(charging.evcc, "_fail_reason", lambda name, code: f"{name} went wrong")
    s = _label(_kept(), "Seres/")
    r = await ChargerReplay().run(s)
    assert r.verdict == "differs" and "not 'SECC answered ChargeParameterDiscoveryRes" in r.detail


async def test_every_recorded_charger_session() -> None:
    vectors = need_shared("vectors", "vectors.jsonl").parent
    sessions = [s for s in load_sessions(vectors) if s.real_charger]
    results = await replay_chargers(sessions)
    table = _table(results)
    print("\n" + table)
    assert len(results) >= 80, table
    verdicts = collections.Counter(r.verdict for r in results)
    assert verdicts["differs"] == 0, table
    assert verdicts["ok"] >= 40 and verdicts["stopped as required"] >= 10, table
    models = {row.model for row in summary_rows(results)}
    assert {"EVerest EvseV2G", "Josev SECC", "Alpitronic DC charger", "Compleo DC charger",
            "Tesla Supercharger"} <= models, table
