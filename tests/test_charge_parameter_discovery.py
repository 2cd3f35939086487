"""ChargeParameterDiscoveryReq response codes on the simulated clock: a requested mode the SECC did not offer
is FAILED_WrongEnergyTransferMode (ISO 15118-2 [V2G2-476]; DIN 70121 [V2G-DC-397]: ..Type), an offered mode
with the other kind's parameters FAILED_WrongChargeParameter ([V2G2-477], [V2G-DC-398]); a real Seres car's
frame; and the EVCC requesting only what the SECC offered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from v2gkit.controllers import EVLimits
from v2gkit.session.din2 import EVCCConfig, EVCCSession, SECCConfig, SECCSession
from v2gkit.session.din2.dialect import Dialect
from v2gkit.session.events import Message
from v2gkit.session.simulate import run_pair
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import Cable, SimulatedACEVSE, SimulatedDCEVSE
from v2gkit.v2gtp import PayloadType

SERES = json.loads((Path(__file__).parent / "data" / "seres_charge_parameter_discovery.json").read_text())
LIMITS = EVLimits(max_current=125.0, max_voltage=450.0, max_power=50000.0, min_current=6.0,
                  energy_capacity=60000.0, energy_request=20000.0, full_soc=100, bulk_soc=80)


def _pair(protocol: str, dc: bool, ev_dc: bool | None = None) -> tuple[EVCCSession, SECCSession]:
    ev_dc = dc if ev_dc is None else ev_dc
    cable = Cable()
    ev = SimulatedEV(soc=78.0, target_soc=80.0, ac=not ev_dc, cable=cable)
    evse = SimulatedDCEVSE(cable_check_time=1.0) if dc else SimulatedACEVSE(cable=cable)
    return (EVCCSession(protocol, ev, EVCCConfig(dc=ev_dc, loop_interval=0.25)),
            SECCSession(protocol, evse, SECCConfig(dc=dc)))


def _request(d: Dialect, mode: str, params: str) -> Any:
    """A ChargeParameterDiscoveryReq asking for ``mode`` with ``params`` ("AC" or "DC") parameters."""
    status = d.dc_ev_status(True, "NO_ERROR", 50)
    req = d.charge_parameter_req(params == "DC", LIMITS, status)
    if d.din:
        req.ev_requested_energy_transfer_type = getattr(d.m.EVRequestedEnergyTransferType, mode)
    else:
        req.requested_energy_transfer_mode = getattr(d.m.EnergyTransferModeType, mode)
    return req


def _run_with(protocol: str, dc: bool, mode: str, params: str) -> tuple[Any, Any, Any]:
    """A whole session whose ChargeParameterDiscoveryReq is replaced: (SECC's Close, EVCC's Close, the
    ChargeParameterDiscoveryRes the car received)."""
    d = Dialect(protocol)
    evcc, secc = _pair(protocol, dc)

    def tamper(now: float, side: str, name: str, payload: bytes) -> bytes:
        if side == "EV" and name == "ChargeParameterDiscoveryReq":
            return d.encode(d.decode(payload)[0], "ChargeParameterDiscovery", True, _request(d, mode, params))
        return payload

    ex = run_pair(evcc, secc, tamper=tamper)
    answers = [e.body for _, s, e in ex.received
               if s == "EV" and e.name == "ChargeParameterDiscoveryRes"]
    assert ex.names("SE")[-1] == "ChargeParameterDiscoveryRes" and len(answers) == 1
    return ex.closed["SE"][1], ex.closed["EV"][1], answers[0]


#: (protocol, SECC is DC, requested mode, parameters sent, expected code, why)
CASES = [
    # ISO 15118-2 AC SECC offers AC_three_phase_core and AC_single_phase_core
    ("iso2", False, "DC_extended", "DC", "FAILED_WrongEnergyTransferMode", "DC_extended requested"),
    ("iso2", False, "DC_extended", "AC", "FAILED_WrongEnergyTransferMode", "DC_extended requested"),
    ("iso2", False, "AC_three_phase_core", "DC", "FAILED_WrongChargeParameter",
     "AC_three_phase_core requested with DC_EVChargeParameter"),
    ("iso2", False, "AC_single_phase_core", "DC", "FAILED_WrongChargeParameter",
     "AC_single_phase_core requested with DC_EVChargeParameter"),
    # ISO 15118-2 DC SECC offers DC_extended: an AC request with DC parameters used to be answered OK
    ("iso2", True, "AC_three_phase_core", "DC", "FAILED_WrongEnergyTransferMode",
     "AC_three_phase_core requested, DC_extended offered"),
    ("iso2", True, "DC_core", "DC", "FAILED_WrongEnergyTransferMode", "DC_core requested, DC_extended offered"),
    ("iso2", True, "DC_extended", "AC", "FAILED_WrongChargeParameter",
     "DC_extended requested with AC_EVChargeParameter"),
    # DIN 70121 SECC offers DC_extended
    ("din", True, "AC_three_phase_core", "DC", "FAILED_WrongEnergyTransferType",
     "AC_three_phase_core requested, DC_extended offered"),
    ("din", True, "DC_core", "DC", "FAILED_WrongEnergyTransferType", "DC_core requested, DC_extended offered"),
    ("din", True, "DC_extended", "AC", "FAILED_WrongChargeParameter",
     "DC_extended requested with AC_EVChargeParameter"),
]


@pytest.mark.parametrize(("protocol", "dc", "mode", "params", "code", "why"), CASES)
def test_response_code_and_the_session_ends(protocol: str, dc: bool, mode: str, params: str, code: str,
                                            why: str) -> None:
    se, ev, res = _run_with(protocol, dc, mode, params)
    assert res.response_code.name == code
    assert not se.ok and not se.local and se.text.startswith(f"answered ChargeParameterDiscoveryRes with {code}: ")
    assert why in se.text
    assert not ev.ok and f"SECC answered ChargeParameterDiscoveryRes with {code}" in ev.text


def _answer(secc: SECCSession, code: Any) -> Any:
    """The SECC's ChargeParameterDiscoveryRes with ``code``, through its one exit."""
    [send] = secc.core.send(0.0, "ChargeParameterDiscoveryRes", secc._response("ChargeParameterDiscovery", code, False))
    return send


@pytest.mark.parametrize(("protocol", "dc"), [("iso2", False), ("iso2", True), ("din", True)])
def test_the_abstract_parameter_head_is_a_wrong_charge_parameter(protocol: str, dc: bool) -> None:
    """EVChargeParameter itself (abstract: the encoder refuses it, a lenient decoder lets it through)."""
    _, secc = _pair(protocol, dc)
    d = secc.d
    req = _request(d, secc.offered[0], "DC" if dc else "AC")
    req.ac_ev_charge_parameter = req.dc_ev_charge_parameter = None
    req.ev_charge_parameter = d.m.EVChargeParameterType()
    code, finished = secc._on_charge_parameter_discovery(0.0, secc.session_id, req)
    assert code.name == "FAILED_WrongChargeParameter" and "with EVChargeParameter" in secc._why
    assert d.decode(_answer(secc, code).payload)[1:3] == ("ChargeParameterDiscovery",
                                                                                      False)


@pytest.mark.parametrize(("protocol", "dc"), [("iso2", False), ("iso2", True), ("din", True)])
def test_every_wrong_mode_answer_is_schema_valid(protocol: str, dc: bool) -> None:
    _, secc = _pair(protocol, dc)
    for code in ("FAILED_WrongChargeParameter",
                 "FAILED_WrongEnergyTransferType" if protocol == "din" else "FAILED_WrongEnergyTransferMode"):
        send = _answer(secc, getattr(secc.d.RC, code))
        assert secc.d.decode(send.payload)[3].response_code.name == code


def _frame(d: Dialect, sid: bytes, name: str, body: Any) -> bytes:
    return d.encode(sid, name, True, body)


def test_the_real_seres_frame_gets_what_the_real_charger_answered() -> None:
    """The car's own ChargeParameterDiscoveryReq (its SessionID in the header) after a session set up with
    that SessionID: AC_three_phase_core was offered, DC_EVChargeParameter is the wrong element."""
    d = Dialect("iso2")
    car_sid = bytes.fromhex(SERES["session_id_hex"])
    secc = SECCSession("iso2", SimulatedACEVSE(), SECCConfig(dc=False, session_id=car_sid))
    secc.start(0.0)
    steps = [(bytes(1), "SessionSetup", d.session_setup_req(bytes.fromhex("0011223344"))),
             (car_sid, "ServiceDiscovery", d.service_discovery_req()),
             (car_sid, "PaymentServiceSelection", d.payment_selection_req(1)),
             (car_sid, "Authorization", d.authorization_req())]
    for t, (sid, name, body) in enumerate(steps, 1):
        sends = [o for o in secc.receive(float(t), Message(PayloadType.EXI, _frame(d, sid, name, body))) if hasattr(o, "payload")]
        assert d.is_ok(d.decode(sends[0].payload)[3].response_code), name
    assert secc.session_id == car_sid and "AC_three_phase_core" in secc.offered
    payload = bytes.fromhex(SERES["request_hex"])
    sid, name, _, req = d.decode(payload)
    assert (sid, name, req.requested_energy_transfer_mode.name) == (car_sid, "ChargeParameterDiscovery",
                                                                    "AC_three_phase_core")
    assert req.dc_ev_charge_parameter is not None and req.ac_ev_charge_parameter is None
    out = secc.receive(10.0, Message(PayloadType.EXI, payload))
    ours = d.decode(next(o for o in out if hasattr(o, "payload")).payload)[3]
    theirs = d.decode(bytes.fromhex(SERES["charger_response_hex"]))[3]
    assert ours.response_code == theirs.response_code == d.RC.FAILED_WrongChargeParameter
    close = out[-1]
    assert not close.ok and close.text == ("answered ChargeParameterDiscoveryRes with FAILED_WrongChargeParameter: "
                                             "AC_three_phase_core requested with DC_EVChargeParameter")


def test_the_evcc_requests_a_mode_the_secc_offered() -> None:
    """An AC SECC offering only AC_single_phase_core: the car asks for that one, and charges."""
    d = Dialect("iso2")
    evcc, secc = _pair("iso2", False)
    secc.offered = ("AC_single_phase_core",)

    def tamper(now: float, side: str, name: str, payload: bytes) -> bytes:
        if side == "SE" and name == "ServiceDiscoveryRes":
            sid, _, _, res = d.decode(payload)
            res.charge_service.supported_energy_transfer_mode.energy_transfer_mode = [
                d.m.EnergyTransferModeType.AC_single_phase_core]
            return d.encode(sid, "ServiceDiscovery", False, res)
        return payload

    ex = run_pair(evcc, secc, tamper=tamper)
    reqs = [e.body for _, s, e in ex.received
            if s == "SE" and e.name == "ChargeParameterDiscoveryReq"]
    assert reqs and all(r.requested_energy_transfer_mode.name == "AC_single_phase_core" for r in reqs)
    assert ex.closed["EV"][1].ok and ex.closed["SE"][1].ok


@pytest.mark.parametrize(("protocol", "dc", "ev_dc", "reason"), [
    ("iso2", False, True, "SECC offers AC_three_phase_core, AC_single_phase_core: no DC mode for this DC car"),
    ("iso2", True, False, "SECC offers DC_extended: no AC mode for this AC car"),
])
def test_the_evcc_ends_when_no_offered_mode_fits(protocol: str, dc: bool, ev_dc: bool, reason: str) -> None:
    evcc, secc = _pair(protocol, dc, ev_dc)
    ex = run_pair(evcc, secc)
    assert "ChargeParameterDiscoveryReq" not in ex.names("EV")
    assert ex.names("EV")[-1] == "SessionStopReq"  # the SECC learns it is over now, not at its timeout
    assert (ex.closed["EV"][1].ok, ex.closed["EV"][1].text) == (False, reason)


def test_din_modes_offered_and_read_back_agree() -> None:
    """What the SECC offers (ServiceDiscoveryRes) is what the EVCC reads back, for every kind."""
    for protocol, dc in (("iso2", True), ("iso2", False), ("din", True), ("din", False)):
        d = Dialect(protocol)
        assert d.modes_of(d.service_discovery_res(d.RC.OK, dc)) == d.offered_modes(dc)
