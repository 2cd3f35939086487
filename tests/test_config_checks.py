"""Configuration values are checked when the configuration is made (ConfigError naming the field; the CLI
turns it into a usage error naming the key), and a message of ours that cannot be built ends the session as
a local fault (Closed.local) with the reason, instead of raising."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from v2gkit.session.config import ConfigError
from v2gkit.session.din2 import EVCCConfig, EVCCSession, SECCConfig, SECCSession
from v2gkit.session.events import Closed, Event, Message, Received
from v2gkit.session.simulate import run_pair
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import SimulatedDCEVSE
from v2gkit.v2gtp import PayloadType

CLI = [sys.executable, "-m", "v2gkit.cli.main"]


@pytest.mark.parametrize(("field", "value"), [
    ("session_id", b""), ("session_id", bytes(9)), ("session_id", "0102"),
    ("evse_id", ""), ("evse_id", "E" * 38), ("evse_id", 5),
    ("meter_id", "m" * 33), ("receipt_interval", 0), ("receipt_interval", True),
    ("sequence_timeout", 0.0), ("ongoing_limit", float("inf")), ("cable_check_limit", float("nan")),
    ("schedule_duration", 0), ("schedule_duration", 86401), ("charge_parameter_ongoing", -1), ("dc", 1),
])
def test_secc_config_refuses(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as e:
        SECCConfig(**{field: value})
    assert e.value.field == field and str(e.value).startswith(f"{field}: ")


@pytest.mark.parametrize(("field", "value"), [
    ("resume_session_id", bytes(9)), ("resume_session_id", b""), ("loop_interval", -0.1),
    ("msg_timeout_default", 0), ("ongoing_timeout", float("inf")), ("cable_check_timeout", -1),
    ("pre_charge_timeout", "7"), ("pre_charge_tolerance", -1.0), ("welding_voltage", float("nan")),
    ("welding_max_requests", -1), ("service_detail_ids", (70000,)), ("service_detail_ids", [1]),
    ("msg_timeouts", {"CurrentDemnd": 1.0}), ("msg_timeouts", {"CurrentDemand": 0.0}), ("dc", None),
])
def test_evcc_config_refuses(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as e:
        EVCCConfig(**{field: value})
    assert e.value.field == field


def test_what_the_schemas_allow_is_accepted() -> None:
    for sid in (b"\x01", bytes(range(8))):
        assert SECCConfig(session_id=sid).session_id == sid and EVCCConfig(resume_session_id=sid)
    SECCConfig(evse_id="E" * 37, meter_id="m" * 32, receipt_interval=1, schedule_duration=86400)
    EVCCConfig(loop_interval=0, msg_timeouts={"CertificateInstallation": 5.0}, service_detail_ids=(0, 65535))


def test_evse_id_per_protocol() -> None:
    """ISO 15118-2: 7..37 characters; DIN 70121: at most 32 octets. A value one protocol can send is a
    valid configuration; a session of the other refuses it when made."""
    cfg = SECCConfig(evse_id="E" * 35)
    cfg.check("iso2")
    with pytest.raises(ConfigError, match="at most 32 octets"):
        cfg.check("din")
    with pytest.raises(ConfigError, match="7 to 37 characters"):
        SECCSession("iso2", SimulatedDCEVSE(), SECCConfig(evse_id="DE*1"))
    SECCSession("din", SimulatedDCEVSE(), SECCConfig(evse_id="DE*1"))


def _sessions(secc_cfg: SECCConfig, ev_cfg: EVCCConfig | None = None) -> tuple[EVCCSession, SECCSession]:
    ev = SimulatedEV(soc=78.0, target_soc=80.0)
    return EVCCSession("iso2", ev, ev_cfg or EVCCConfig(loop_interval=0.25)), SECCSession("iso2", SimulatedDCEVSE(),
                                                                                          secc_cfg)


def test_an_answer_that_cannot_be_built_is_a_local_fault() -> None:
    """A 9-octet SessionID that slipped past the checks: SessionSetupRes cannot be encoded. The SECC ends
    the session with the reason (Closed.local) and an event, and does not raise."""
    cfg = SECCConfig()
    cfg.session_id = bytes(range(9))  # bypasses __post_init__, as a program could
    evcc, secc = _sessions(cfg)
    ex = run_pair(evcc, secc)
    _, close = ex.closed["SE"]
    assert not close.ok and close.local
    assert close.text.startswith("internal error: cannot build SessionSetupRes: ExiEncodeError: "), close.text
    assert secc.result.detail == close.text and ex.names("SE") == []
    events = [e for _, s, e in ex.events if s == "SE" and e.name == "internal_error"]
    assert len(events) == 1 and events[0].data["name"] == "SessionSetupRes"
    assert not ex.closed["EV"][1].ok and not ex.closed["EV"][1].local  # the car just saw the connection go


def test_a_failed_answer_that_cannot_be_built_is_a_local_fault_too() -> None:
    """The FAILED path builds its answer as well (here FAILED_SequenceError to a second SessionSetupReq
    after the configuration broke): still a Closed, never an exception."""
    secc = SECCSession("iso2", SimulatedDCEVSE(), SECCConfig())
    d = secc.d
    setup = d.encode(bytes(1), "SessionSetup", True, d.session_setup_req(b"\x00\x11\x22\x33\x44\x55"))
    secc.start(0.0)
    assert not any(isinstance(o, Closed) for o in secc.receive(0.1, Message(PayloadType.EXI, setup)))
    secc.cfg.evse_id = "x" * 64  # too long for the EVSEID of every answer that carries one
    out = secc.receive(0.2, Message(PayloadType.EXI, setup))
    close = out[-1]
    assert isinstance(close, Closed) and close.local and "cannot build SessionSetupRes" in close.text
    assert isinstance(out[0], Received) and [o.name for o in out if isinstance(o, Event)] == ["internal_error"]
    assert secc.receive(0.3, Message(PayloadType.EXI, setup)) == []


def test_a_request_that_cannot_be_built_is_a_local_fault() -> None:
    cfg = EVCCConfig(loop_interval=0.25)
    cfg.resume_session_id = bytes(9)
    evcc, secc = _sessions(SECCConfig(), cfg)
    ex = run_pair(evcc, secc)
    _, close = ex.closed["EV"]
    assert not close.ok and close.local and close.text.startswith("internal error: cannot build SessionSetupReq:")
    assert evcc.result.detail == close.text and ex.names("EV") == []


async def test_the_runner_logs_the_local_fault(caplog: pytest.LogCaptureFixture) -> None:
    """On a real loopback connection: the session's Outcome carries the reason and marks it local; the
    runner logs it with the builder's traceback."""
    from v2gkit.net.runner import run_machine
    from v2gkit.net.v2g import connect, serve
    from v2gkit.v2gtp import PayloadType

    cfg = SECCConfig()
    cfg.session_id = bytes(9)
    secc = SECCSession("iso2", SimulatedDCEVSE(), cfg)
    outcomes = []

    async def handler(conn: Any) -> None:
        conn.schema = "iso2"
        conn.handshake_done()
        outcomes.append(await run_machine(conn, secc))

    server = await serve(handler, host="::1", port=0)
    try:
        conn = await connect("::1", server.port)
        conn.schema = "iso2"
        d = secc.d
        with caplog.at_level(logging.ERROR, logger="v2gkit.session"):
            await conn.send(PayloadType.EXI, d.encode(bytes(1), "SessionSetup", True, d.session_setup_req(bytes(6))))
            with pytest.raises(Exception):  # noqa: B017 - the SECC closes without an answer
                await conn.receive(5)
            await conn.close()
    finally:
        await server.close()
    assert outcomes and outcomes[0].local and not outcomes[0].ok
    assert outcomes[0].detail.startswith("internal error: cannot build SessionSetupRes")
    rec = [r for r in caplog.records if "internal error: cannot build SessionSetupRes" in r.getMessage()]
    assert rec and rec[0].exc_info is not None


@pytest.mark.parametrize(("table", "text", "line"), [
    ("[secc.session]", 'session_id = "0102030405060708090a"',
     "[secc.session] session_id = '0102030405060708090a': a SessionID is 1 to 8 octets"),
    ("[secc.session]", 'session_id = ""', "[secc.session] session_id = '': a SessionID is 1 to 8 octets"),
    ("[secc.session]", "schedule_duration = 90000", "[secc.session] schedule_duration = 90000: must be 1..86400"),
    ("[secc.session]", 'evse_id = "DE*V2G*E1234567890123456789012345678"',
     "[secc.session] evse_id = 'DE*V2G*E1234567890123456789012345678': DIN SPEC 70121 allows at most 32 octets"),
])
def test_a_bad_session_value_is_a_usage_error_naming_the_key(tmp_path: Path, table: str, text: str,
                                                             line: str) -> None:
    cfg = tmp_path / "v2g.toml"
    cfg.write_text(f"{table}\n{text}\n")
    r = subprocess.run(CLI + ["secc", "--loopback", "--sdp-port", "15861", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith(f"error: {cfg}: {line}"), r.stderr
    assert "listening" not in r.stdout and "Traceback" not in r.stderr


def test_a_bad_evcc_session_value_is_a_usage_error(tmp_path: Path) -> None:
    cfg = tmp_path / "v2g.toml"
    cfg.write_text('[evcc.session]\nresume_session_id = "00112233445566778899"\n')
    r = subprocess.run(CLI + ["evcc", "--loopback", "--sdp-port", "15862", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and (f"error: {cfg}: [evcc.session] resume_session_id = '00112233445566778899': "
                                  "a SessionID is 1 to 8 octets") in r.stderr, r.stderr
