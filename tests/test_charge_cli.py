"""``v2gkit secc`` and ``v2gkit evcc`` as real processes on loopback: exit codes, --config, the demo."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from itertools import count
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "v2gkit.cli.main"]
_ports = count(15600)


def _run_pair(secc_args: list[str], evcc_args: list[str], timeout: float = 60) -> tuple[subprocess.CompletedProcess,
                                                                                          str]:
    port = str(next(_ports))
    secc = subprocess.Popen(CLI + ["secc", "--loopback", "--sdp-port", port, "--once", *secc_args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert secc.stdout is not None
        first = secc.stdout.readline()  # "listening ..." once SDP and TCP are up
        assert first.startswith("listening"), first
        ev = subprocess.run(CLI + ["evcc", "--loopback", "--sdp-port", port, *evcc_args], capture_output=True,
                            text=True, timeout=timeout)
        out, _ = secc.communicate(timeout=10)
    finally:
        secc.kill()
    return ev, first + out


def _secc_energy(secc_out: str) -> float:
    return float(re.search(r"^session .* energy_wh=([0-9.]+) ", secc_out, re.MULTILINE).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize(("mode", "speed"), [("--dc", 60.0), ("--ac", 240.0)])
def test_session_exits_0_and_both_sides_meter_the_same_energy(mode: str, speed: float) -> None:
    """At the loopback default speed (x60 DC, x240 AC): the car's energy is what the SECC metered."""
    ev, secc_out = _run_pair([mode], [mode, "--soc", "79", "--target-soc", "80", "--json"])
    assert ev.returncode == 0, ev.stdout + ev.stderr
    res = json.loads(ev.stdout)
    assert res["ok"] and res["protocol"] == "iso2" and res["soc"] >= 80 and res["reason"] == "terminated"
    assert res["speed"] == speed and "ok=True" in secc_out
    # 1 % of a 60 kWh battery shrunk `speed` times (the last CurrentDemand/ChargingStatus may overshoot by
    # up to 0.1 s of charging, 2.5 Wh); both sides round to 0.1 Wh
    assert 600.0 / speed <= res["charged_wh"] < 600.0 / speed + 2.5
    assert abs(_secc_energy(secc_out) - res["charged_wh"]) <= 0.11, secc_out
    assert f"warm_up=iso2/{mode[2:].upper()}" in secc_out.splitlines()[0]


def _start_pair(evcc_args: list[str]) -> tuple[subprocess.Popen, subprocess.Popen]:
    port = str(next(_ports))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    secc = subprocess.Popen(CLI + ["secc", "--loopback", "--sdp-port", port, "--once"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    assert secc.stdout is not None and secc.stdout.readline().startswith("listening")
    ev = subprocess.Popen(CLI + ["evcc", "--loopback", "--sdp-port", port, *evcc_args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)
    return secc, ev


def _until_charging(ev: subprocess.Popen, lines: int = 2) -> list[str]:
    """The EVCC's output up to its ``lines``-th progress line in the energy loop."""
    assert ev.stdout is not None
    seen: list[str] = []
    while sum(x.startswith("-> CurrentDemandReq soc=") for x in seen) < lines:
        line = ev.stdout.readline()
        assert line, seen
        seen.append(line)
    return seen


def test_ctrl_c_stops_charging_properly_and_both_sides_agree() -> None:
    secc, ev = _start_pair([])
    try:
        head = _until_charging(ev)
        assert head[0].startswith("car: SOC 30 % -> 80 % of a 60 kWh battery at x60 (it holds 1 kWh")
        assert re.search(r"about 2\d s of charging", head[0]), head[0]
        assert re.search(r"soc=3\d\.\d% \(target 80%\) \d+\.\d kW, about 2?\d s to go", head[-1]), head[-1]
        ev.send_signal(signal.SIGINT)
        out, err = ev.communicate(timeout=30)
        secc_out, _ = secc.communicate(timeout=10)
    finally:
        ev.kill()
        secc.kill()
    assert ev.returncode == 0 and "stopping the session properly" in err
    assert "-> PowerDeliveryReq" in out and "session: SessionStop OK (terminated)" in out
    kwh = float(re.search(r"SOC [0-9.]+%, ([0-9.]+) kWh", out).group(1))  # type: ignore[union-attr]
    assert kwh > 0.005 and abs(_secc_energy(secc_out) - kwh * 1000) <= 0.6, (out, secc_out)
    assert "ok=True" in secc_out


def test_second_ctrl_c_aborts_and_the_secc_still_reports_the_energy() -> None:
    secc, ev = _start_pair([])
    try:
        _until_charging(ev)
        ev.send_signal(signal.SIGINT)
        assert ev.stderr is not None and "stopping the session properly" in ev.stderr.readline()
        ev.send_signal(signal.SIGINT)
        out, _ = ev.communicate(timeout=30)
        secc_out, _ = secc.communicate(timeout=10)
    finally:
        ev.kill()
        secc.kill()
    assert ev.returncode == 130, out
    wh = float(re.search(r"session: ABORTED by SIGINT, SOC [0-9.]+%, ([0-9.]+) Wh charged", out).group(1))
    metered = _secc_energy(secc_out)
    assert "ok=False" in secc_out and metered > 5.0
    # the machines advance the physics when a message arrives: a request in flight when the car aborts is
    # metered by the charger only (one CurrentDemand interval, at most 90 kW x ~0.1 s = 2.5 Wh)
    assert abs(metered - wh) <= 3.0, (out, secc_out)


def test_config_file_and_failure_exit(tmp_path: Path) -> None:
    cfg = tmp_path / "v2g.toml"
    cfg.write_text('[secc]\nprotocols = "din"\n[secc.evse]\nauth_result = false\n'
                   '[evcc]\nprotocols = "din,iso2"\nsoc = 79.5\n[evcc.ev]\ncapacity_wh = 20000\n')
    ev, secc_out = _run_pair(["--config", str(cfg)], ["--config", str(cfg)])
    assert ev.returncode == 1
    assert "negotiated: din" in ev.stdout and "SECC answered AuthorizationRes with FAILED" in ev.stdout
    assert "ok=False" in secc_out


def test_bad_config_key_is_a_usage_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[evcc]\nprotocol = 'din'\n")
    r = subprocess.run(CLI + ["evcc", "--loopback", "--config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 2 and "[evcc] has no option 'protocol'" in r.stderr


def test_no_charger_is_exit_1() -> None:
    r = subprocess.run(CLI + ["evcc", "--loopback", "--sdp-port", str(next(_ports))], capture_output=True,
                       text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert r.returncode == 1 and "no valid SDP response after 50 requests" in r.stderr


@pytest.mark.parametrize(("mode", "speed", "loop"), [("--dc", 60, "CurrentDemand"), ("--ac", 240, "ChargingStatus")])
def test_demo_charges_and_reports(mode: str, speed: int, loop: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # pytest sets COLUMNS
    r = subprocess.run(CLI + ["demo", mode, "--soc", "78", "--target-soc", "80"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SessionStop OK" in r.stdout and f"RTT {loop}" in r.stdout
    # not a terminal: 120 columns, the whole title, the reached SOC and its target
    title = rf"v2gkit demo: ISO 15118-2 {mode[2:].upper()} over TCP, loopback, SDP port \d+, battery x{speed} ─"
    assert re.search(title, r.stdout), r.stdout
    assert re.search(r"SOC +8[0-9.]+ % \(target 80 %\)", r.stdout)
    assert "time left  target reached" in r.stdout
    assert f"of a 60 kWh battery at x{speed}" in r.stdout
    car, meter = re.search(r"energy +│ car ([0-9.]+) kWh, charger meter ([0-9.]+) kWh", r.stdout).groups()  # type: ignore[union-attr]
    assert float(car) > 0 and car == meter
