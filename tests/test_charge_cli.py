"""``v2gkit secc`` and ``v2gkit evcc`` as real processes on loopback: exit codes, --config, the demo."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("mode", ["--dc", "--ac"])
def test_session_exits_0(mode: str) -> None:
    ev, secc_out = _run_pair([mode], [mode, "--soc", "79", "--target-soc", "80", "--speed", "20", "--json"])
    assert ev.returncode == 0, ev.stdout + ev.stderr
    res = json.loads(ev.stdout)
    assert res["ok"] and res["protocol"] == "iso2" and res["soc"] >= 80 and res["reason"] == "terminated"
    assert "ok=True" in secc_out


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


def test_demo_charges_and_reports() -> None:
    r = subprocess.run(CLI + ["demo", "--soc", "78", "--target-soc", "80"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SessionStop OK" in r.stdout and "RTT CurrentDemand" in r.stdout
