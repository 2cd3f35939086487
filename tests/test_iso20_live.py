"""ISO 15118-20 on real sockets: the runner with several payload types on one connection, SECCLink and charge()
picking the -20 machines, the CLI's --bpt/--control-mode/--schedules, the demo, and schedules from TOML on the
wire. (The sans-IO machines are tested in test_iso20_sessions.py; TLS 1.3 on the veth pair in test_netns.py.)"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import pytest

from v2gkit.exi.gen import iso20
from v2gkit.exi.validate import find_problem
from v2gkit.net.charging import charge, secc_sessions
from v2gkit.net.link import SECCLink
from v2gkit.session.din2 import EVCCConfig, SECCConfig
from v2gkit.session.events import Received, Send
from v2gkit.session.iso20.config import EVCC20Config, SECC20Config
from v2gkit.session.iso20.evcc import EVCC20Session
from v2gkit.session.iso20.secc import SECC20Session
from v2gkit.session.simulate import run_pair
from v2gkit.sim.battery import SimulatedBPTEV
from v2gkit.sim.bpt_evse import SimulatedBPTACEVSE, SimulatedBPTDCEVSE
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import SimulatedACEVSE, SimulatedDCEVSE
from v2gkit.sim.scaled import Accelerated
from v2gkit.sim.schedules import example_path, load_schedules
from v2gkit.v2gtp import PayloadType

CLI = [sys.executable, "-m", "v2gkit.cli.main"]
_ports = iter(random.Random().sample(range(31000, 39000), 200))

CASES = [(dc, bpt, mode) for dc in (True, False) for bpt in (False, True) for mode in ("Scheduled", "Dynamic")]


@pytest.mark.parametrize(("dc", "bpt", "mode"), CASES)
async def test_iso20_session_over_loopback(dc: bool, bpt: bool, mode: str) -> None:
    """SDP, TCP, the handshake, then the -20 machines through SECCLink and charge(): every payload type
    the session needs on one connection, each message under its own."""
    protocol = "iso20-dc" if dc else "iso20-ac"
    port = next(_ports)
    records: list = []
    sent: list[tuple[str, int]] = []

    def evse() -> object:
        if bpt:
            return SimulatedBPTDCEVSE(cable_check_time=0.0) if dc else SimulatedBPTACEVSE()
        return SimulatedDCEVSE(cable_check_time=0.0, voltage_slew=1e6, current_slew=1e6) if dc else SimulatedACEVSE()

    link = SECCLink(loopback=True, sdp_port=port, protocols=protocol, allow_iso20_without_tls=True,
                    session=secc_sessions(evse, SECCConfig(dc=dc), on_done=records.append,
                                          iso20=SECC20Config(bpt=bpt)))
    car = (SimulatedBPTEV if bpt else SimulatedEV)(soc=79.0, target_soc=80.0, ac=not dc)
    async with link:
        res = await charge(Accelerated(car, 50.0), EVCCConfig(dc=dc), protocols=protocol, loopback=True,
                           sdp_port=port, allow_iso20_without_tls=True,
                           iso20=EVCC20Config(bpt=bpt, control_mode=mode, loop_interval=0.01),
                           observe=lambda now, o: sent.append((o.name, o.payload_type)) if isinstance(o, Send)
                           else None)
        for _ in range(50):
            if records:
                break
            await __import__("asyncio").sleep(0.02)
    assert res.ok and res.outcome.detail == "terminated", res.outcome.detail
    m = res.machine
    assert isinstance(m, EVCC20Session) and (m.mode, m.bpt, m.dc) == (mode, bpt, dc)
    types = dict(sent)
    assert types["SessionSetupReq"] == PayloadType.ISO20_COMMON and types["PowerDeliveryReq"] == PayloadType.ISO20_COMMON
    loop = "DC_ChargeLoopReq" if dc else "AC_ChargeLoopReq"
    assert types[loop] == (PayloadType.ISO20_DC if dc else PayloadType.ISO20_AC)
    assert records and records[0].outcome.ok and records[0].protocol == protocol and records[0].meter_wh > 0


def test_schedules_from_toml_go_on_the_wire_and_bound_the_car() -> None:
    """v2g_day.toml from 17:00: the offered tuple carries both power schedules and prices, is schema-valid,
    and the car charges within the 10 kW the evening allows."""
    day = load_schedules(example_path("v2g_day.toml")).since(17 * 3600)
    ev = SimulatedBPTEV(capacity_wh=60000, soc=60, target_soc=80, departure_time=14 * 3600, stop_at=60)
    evse = SimulatedBPTDCEVSE(cable_check_time=0.5, schedules=day)
    evcc = EVCC20Session("iso20-dc", ev, EVCC20Config(bpt=True, loop_interval=0.25))
    secc = SECC20Session("iso20-dc", evse, SECC20Config(bpt=True, loop_sequence_timeout=1.0, schedules=day))
    ex = run_pair(evcc, secc, until=600)
    assert ex.closed["EV"][1].ok and ex.closed["SE"][1].ok
    [res] = [r.body for _, s, r in ex.received if s == "EV" and isinstance(r, Received) and r.name == "ScheduleExchangeRes"]
    assert find_problem(iso20, res, "ScheduleExchangeRes") is None
    [t] = res.scheduled_se_res_control_mode.schedule_tuple
    assert t.charging_schedule.absolute_price_schedule is not None and t.discharging_schedule is not None
    first = t.charging_schedule.power_schedule.power_schedule_entries.power_schedule_entry[0]
    assert first.power.value * 10 ** first.power.exponent == 10000  # 16:00-21:00: little charging
    assert evse.meter_wh() <= 10000 * 60 / 3600 + 1  # within 10 kW for the minute it charged


def test_dynamic_v2g_feeds_the_grid_in_the_evening_peak() -> None:
    """Dynamic DC_BPT at 17:00 with v2g_day prices: the charger's planner asks for discharge and the car gives it."""
    day = load_schedules(example_path("v2g_day.toml")).since(17 * 3600)
    ev = SimulatedBPTEV(capacity_wh=60000, soc=60, target_soc=80, departure_time=14 * 3600, stop_at=60)
    evse = SimulatedBPTDCEVSE(cable_check_time=0.5, schedules=day)
    evcc = EVCC20Session("iso20-dc", ev, EVCC20Config(bpt=True, control_mode="Dynamic", loop_interval=0.25))
    secc = SECC20Session("iso20-dc", evse, SECC20Config(bpt=True, loop_sequence_timeout=1.0, schedules=day))
    ex = run_pair(evcc, secc, until=600)
    assert ex.closed["EV"][1].ok
    assert evse.exported_wh() > 100 and abs(ev.discharged_wh - evse.exported_wh()) < 1.0 and ev.soc() < 60


def _cli_pair(secc_args: list[str], evcc_args: list[str]) -> tuple[dict, str]:
    port = str(next(_ports))
    secc = subprocess.Popen(CLI + ["secc", "--loopback", "--sdp-port", port, "--once", *secc_args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert secc.stdout is not None
        first = secc.stdout.readline()
        assert first.startswith("listening"), first
        ev = subprocess.run(CLI + ["evcc", "--loopback", "--sdp-port", port, "--json", *evcc_args],
                            capture_output=True, text=True, timeout=90)
        out, _ = secc.communicate(timeout=30)
    finally:
        if secc.poll() is None:
            secc.kill()
    assert ev.returncode == 0, ev.stdout + ev.stderr
    return json.loads(ev.stdout.splitlines()[-1]), first + out


def test_cli_iso20_dc_bpt_dynamic_with_schedules(tmp_path) -> None:  # noqa: ANN001
    flags = ["--protocols", "iso20-dc,iso2", "--allow-iso20-without-tls", "--bpt", "--control-mode", "dynamic"]
    trace = tmp_path / "secc.jsonl"
    res, secc = _cli_pair(flags + ["--schedules", str(example_path("plain.toml")), "--trace-json", str(trace)],
                          flags + ["--soc", "79", "--target-soc", "80"])
    assert res["ok"] and res["protocol"] == "iso20-dc" and res["soc"] >= 80
    assert "DC_ChargeLoop" in res["round_trip_ms"]
    assert "warm_up=iso20-dc/BPT" in secc and "protocol=iso20-dc ok=True" in secc and "not compliant" in secc
    # the trace decodes each message with its payload type's schema set: one connection, three of them
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    seen = {(r["schema"], r["message"]) for r in records if "message" in r}
    assert ("iso20", "ScheduleExchangeRes") in seen and ("iso20-dc", "DC_ChargeLoopReq") in seen
    assert ("apphand", "supportedAppProtocolReq") in seen and not [r for r in records if r.get("error")]


def test_cli_refuses_a_broken_schedules_file(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "day.toml"
    bad.write_text("[charging_schedule.power_schedule]\nentry = [ { duration = 60, powr = 1 } ]\n")
    r = subprocess.run(CLI + ["secc", "--loopback", "--schedules", str(bad)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "day.toml" in r.stderr and "entry[0]] power: is missing" in r.stderr


@pytest.mark.parametrize("args", [["--protocol", "iso20"], ["--protocol", "iso20", "--ac", "--bpt",
                                                              "--control-mode", "dynamic"]])
def test_demo_iso20_over_tls13(args: list[str], tmp_path) -> None:  # noqa: ANN001
    t = time.perf_counter()
    r = subprocess.run(CLI + ["demo", "--soc", "79", "--pki", str(tmp_path / "pki"), *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "SessionStop OK" in r.stdout and "TLS 1.3 (mutual)" in r.stdout and "iso20-" in r.stdout
    assert time.perf_counter() - t < 120


def test_demo_refuses_iso20_options_without_iso20() -> None:
    r = subprocess.run(CLI + ["demo", "--bpt"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--protocol iso20" in r.stderr
