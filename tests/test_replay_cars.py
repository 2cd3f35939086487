"""Real cars' recorded requests, byte for byte, into v2gkit's SECC over loopback TCP (issue 9)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_shared

from v2gkit.testsys.captures import KEPT, RecordedSession, load_sessions, rebuild, sessions_from_json
from v2gkit.testsys.replay_cars import describe, replay_cars, summary_rows

DATA = Path(__file__).parent / "data" / "real_sessions.json"


def _kept() -> list[RecordedSession]:
    return sessions_from_json(json.loads(DATA.read_text()))


def _replay(sessions: list[RecordedSession]):
    return asyncio.run(replay_cars(sessions))


def test_kept_sessions_are_the_listed_ones_with_their_source() -> None:
    kept = _kept()
    assert [s.label for s in kept] == list(KEPT)
    for s in kept:
        assert s.source.startswith("github:EVerest/logfiles@")
        assert s.requests and s.requests[0].name == "SessionSetupReq"
        assert s.session_id and all(len(f.payload) > 2 for f in s.frames)


def test_kept_real_cars_pass_against_the_secc() -> None:
    results = {r.session.label: r for r in _replay(_kept())}
    assert len(results) == len(KEPT)
    for r in results.values():
        assert r.passed, describe(r)
    # answered OK throughout, the whole recorded DIN session including the energy loop
    bmw = results[KEPT[0]]
    assert bmw.verdict == "ok" and bmw.sent >= 20
    # a SessionStopReq right after PowerDeliveryRes(Start): FAILED_SequenceError, as EVerest answered
    vw = results[KEPT[3]]
    assert vw.verdict == "agrees"
    assert vw.first_failure == ("SessionStopReq", "FAILED_SequenceError", "FAILED_SequenceError")


def test_seres_ac_request_with_dc_parameters_gets_wrong_charge_parameter() -> None:
    """Seres 3, ISO-2 AC: RequestedEnergyTransferMode AC_three_phase_core with a DC_EVChargeParameter. The
    mode was offered, the parameters do not fit it: FAILED_WrongChargeParameter, as the charger said."""
    seres = next(s for s in _kept() if "Seres" in s.label)
    [r] = _replay([seres])
    assert r.first_failure is not None and r.first_failure[0] == "ChargeParameterDiscoveryReq"
    assert r.first_failure[1:] == ("FAILED_WrongChargeParameter", "FAILED_WrongChargeParameter"), describe(r)


def test_resumed_session_gets_the_requests_the_collection_kept_once() -> None:
    """Audi Q4 paused and came back with its old SessionID: the bytes it sent again were kept under the
    first session only; the rebuilt second session has them back, in the protocol's order."""
    second = next(s for s in _kept() if s.label == "Audi/Q4/ac_iso2-1.dump#1")
    kinds = [f.kind for f in second.requests]
    assert kinds[:2] == ["SessionSetup", "ServiceDiscovery"] and kinds[-1] == "SessionStop"
    assert kinds.index("ChargingStatus") < len(kinds) - 2  # PowerDelivery Stop before SessionStop
    assert any(f.borrowed for f in second.requests)
    rec = second.recorded_answer(next(f for f in second.requests if f.kind == "ChargingStatus"))
    assert rec is not None and rec.name == "ChargingStatusRes"


def _row(source: str, name: str, packet: int | None, hexs: str, also: str = "", protocol: str = "ISO-2") -> dict:
    notes = "Real-vehicle charging capture from EVerest/logfiles (car: X). This frame " + (
        "EV->EVSE" if name.endswith("Req") else "EVSE->EV") + (f": pcap packet #{packet}, V2GTP" if packet else "")
    if also:
        notes += f" | Same bytes also found in: {also}"
    proto = "apphand" if name.startswith("supported") else protocol
    return {"source": source, "protocol": proto, "message": name, "hex": hexs, "notes": notes}


def test_rebuild_orders_by_packet_and_borrows_frames_back() -> None:
    """Rows grouped by direction are ordered by packet number; a frame kept under another capture that
    names this one comes back where the protocol needs it."""
    kept = _kept()
    taycan = next(s for s in kept if "Taycan" in s.label)
    a = "github:EVerest/logfiles@x:Make/Model/a.dump"
    b = "github:EVerest/logfiles@x:Make/Model/b.dump"
    by_kind = {f.name: f for f in taycan.frames}
    setup_req, setup_res = by_kind["SessionSetupReq"], by_kind["SessionSetupRes"]
    sd_req, sd_res = by_kind["ServiceDiscoveryReq"], by_kind["ServiceDiscoveryRes"]
    rows = [  # responses first, as the files group them
        _row(a, "SessionSetupRes", 12, setup_res.payload.hex()),
        _row(a, "ServiceDiscoveryRes", 16, sd_res.payload.hex()),
        _row(a, "ServiceDiscoveryReq", 14, sd_req.payload.hex()),
        # kept under b, and a holds the same bytes
        _row(b, "SessionSetupReq", 3, setup_req.payload.hex(), also=a),
    ]
    [sa, sb] = sorted(rebuild(rows), key=lambda s: s.source)
    assert [f.name for f in sa.frames] == ["SessionSetupReq", "SessionSetupRes", "ServiceDiscoveryReq",
                                           "ServiceDiscoveryRes"]
    assert sa.frames[0].borrowed == b and sa.frames[0].order < 12
    assert sa.session_id == setup_res.session_id and sa.dc
    assert [f.name for f in sb.frames] == ["SessionSetupReq"]


def test_shared_every_real_car_session_passes() -> None:
    """The whole collection: every session of a real car (EVerest/logfiles, tux-evse trace-logs, pyPLC
    as the charger) replayed; each passes."""
    vectors = need_shared("vectors", "vectors.jsonl").parent
    sessions = load_sessions(vectors)
    results = _replay(sessions)
    failed = [describe(r) for r in results if not r.passed]
    table = "\n".join(f"{row.model}: {sorted(row.protocols)} sessions={row.sessions} requests={row.requests} "
                      f"ok={row.ok} agrees={row.agrees} failed={len(row.failed)}" for row in summary_rows(results))
    assert not failed, "\n".join(failed) + "\n" + table
    assert len(results) >= 80 and sum(r.sent for r in results) >= 2200, table
    assert sum(r.verdict == "agrees" for r in results) >= 3  # VW id.3/VW (tux) SessionStop, Seres CPD


def test_cli_replay_cars_kept_prints_the_table() -> None:
    env = {"COLUMNS": "160", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "v2gkit.cli.main", "replay", "cars", "--kept"],
                         capture_output=True, text=True, timeout=120, env=env, check=False)
    assert "Porsche Taycan" in run.stdout and "9 sessions" in run.stdout, run.stdout + run.stderr
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("only", ["no-such-car"])
def test_cli_replay_cars_says_when_nothing_matches(only: str) -> None:
    run = subprocess.run([sys.executable, "-m", "v2gkit.cli.main", "replay", "cars", "--kept", "--only", only],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2 and "matches 'no-such-car'" in run.stderr


def test_requests_into_another_secc_carry_its_session_id() -> None:
    from v2gkit.session.din2.dialect import Dialect
    bmw = _kept()[0]
    d = Dialect(bmw.protocol)
    req = next(f for f in bmw.requests if f.kind == "CurrentDemand")
    new = d.with_session_id(req.payload, b"\x01\x02\x03\x04\x05\x06\x07\x08")
    sid, name, is_req, body = d.decode(new)
    assert (sid, name, is_req) == (b"\x01\x02\x03\x04\x05\x06\x07\x08", "CurrentDemand", True)
    assert body == d.decode(req.payload)[3]
    # every other bit stays as the car sent it, also when the SessionID's length changes
    short = d.with_session_id(new, b"\x2a")
    assert len(short) == len(new) - 7 and d.decode(short)[0] == b"\x2a" and d.decode(short)[3] == body
    assert d.with_session_id(short, req.session_id) == req.payload


def test_cli_replay_kept_cars_into_a_v2gkit_secc_process(tmp_path: Path) -> None:
    """Another SECC (here v2gkit secc in its own process, DC, random SessionIDs) found by SDP on ::1: the
    DC sessions pass with its SessionIDs, the AC ones are skipped (it offers DC only)."""
    import time

    from v2gkit.testsys.replay_cars import free_udp_port
    port = free_udp_port()
    cfg = tmp_path / "secc.toml"
    cfg.write_text("[secc.evse]\ncable_check_time = 0.05\nvoltage_slew = 100000.0\ncurrent_slew = 100000.0\n"
                   "max_voltage = 1000.0\nmax_current = 500.0\nmax_power = 400000.0\n")
    out = open(tmp_path / "secc.out", "w")
    secc = subprocess.Popen([sys.executable, "-m", "v2gkit.cli.main", "secc", "--loopback", "--sdp-port", str(port),
                             "--protocols", "iso2,din", "--config", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "listening" not in (tmp_path / "secc.out").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        run = subprocess.run([sys.executable, "-m", "v2gkit.cli.main", "replay", "cars", "--kept", "-v",
                              "--secc-loopback", "--sdp-port", str(port)], capture_output=True, text=True,
                             timeout=120, check=False, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    finally:
        secc.terminate()
        secc.wait(10)
        out.close()
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr.count(" PASS ") == 4 and run.stderr.count(" SKIPPED ") == 5, run.stderr
    assert "offers DC_extended, the car asks AC_three_phase_core" in run.stderr
    log = (tmp_path / "secc.out").read_text()
    assert log.count("ok=True reason=terminated") >= 3, log


def _rows_of(session: RecordedSession) -> list[dict]:
    """The recorded (not borrowed) frames of a kept session as vector rows, as the collection has them."""
    protocol = {"din": "DIN", "iso2": "ISO-2"}[session.protocol]
    return [_row(session.source, f.name, int(f.order), f.payload.hex(), protocol=protocol) for f in session.frames
            if f.borrowed is None and f.order == int(f.order)]


@pytest.mark.parametrize("index", [0, 2, 3])
def test_rebuild_does_not_depend_on_the_order_of_rows(index: int) -> None:
    """The files group rows by direction; any order of the rows rebuilds the same session."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    rows = _rows_of(_kept()[index])
    want = [(f.name, f.payload) for s in rebuild(rows) for f in s.frames]
    assert len(want) == len(rows)

    @settings(max_examples=25, deadline=None)
    @given(st.permutations(rows))
    def check(shuffled: list[dict]) -> None:
        assert [(f.name, f.payload) for s in rebuild(shuffled) for f in s.frames] == want

    check()


@pytest.mark.parametrize("direction", ["cars", "chargers"])
def test_readme_tables_are_what_the_replay_prints(direction: str) -> None:
    """The README's tables are generated (v2gkit replay cars|chargers --markdown): they must not drift."""
    vectors = need_shared("vectors", "vectors.jsonl").parent
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    start = f"<!-- v2gkit replay {direction} --markdown -->\n"
    assert start in readme
    table = readme.split(start, 1)[1].split("\n<!-- end -->", 1)[0]
    run = subprocess.run([sys.executable, "-m", "v2gkit.cli.main", "replay", direction, "--markdown",
                          "--vectors", str(vectors)], capture_output=True, text=True, timeout=300, check=False)
    assert run.stdout.strip() == table.strip(), (
        f"README's {direction} table is out of date: run `./run replay {direction} --markdown` and paste it\n"
        + run.stdout)


def test_cli_replay_writes_the_traffic_as_pcapng_and_json_lines(tmp_path: Path) -> None:
    pcap, jsonl = tmp_path / "taycan.pcapng", tmp_path / "taycan.jsonl"
    run = subprocess.run([sys.executable, "-m", "v2gkit.cli.main", "replay", "cars", "--kept", "--only", "Taycan",
                          "--pcap", str(pcap), "--trace-json", str(jsonl)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert pcap.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header block
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    messages = [x for x in lines if x.get("dir") in ("rx", "tx")]
    sent = int(run.stdout.split(" requests")[0].split()[-1])  # "1 sessions, 48 requests, ..."
    assert len([x for x in messages if x["dir"] == "rx"]) == sent  # every request the car sent, seen by the SECC
    assert len([x for x in messages if x["dir"] == "tx"]) == sent  # and every answer


def test_an_secc_port_that_refuses_the_connection_is_an_error_not_a_crash() -> None:
    import socket

    from v2gkit.testsys.replay_cars import CarReplay, Target
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]  # closed again when the replay connects
    replay = CarReplay(Target(loopback=True))
    r = asyncio.run(replay._drive(_kept()[0], "::1", port, None))
    assert r.verdict == "error" and "TCP [::1]" in r.detail and not r.passed
