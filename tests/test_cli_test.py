"""``v2gkit test``: list, run (--self and over loopback against a real process), lua, table."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from v2gkit.cli.main import main

DATA = Path(__file__).parent / "data" / "lua"
V2GKIT = [sys.executable, "-m", "v2gkit.cli.main"]

CASES = textwrap.dedent('''
    from v2gkit.testsys.catalog import case
    from v2gkit.testsys import steps

    @case("TC_SECC_CMN_VKT_Demo_001", purpose="The SECC answers SessionSetupReq with a new session.",
          protocols=("iso2", "din"), from_standard=False, quick=True)
    def _(t):
        res = steps.response(t, "SessionSetupRes", "OK_NewSessionEstablished")
        t.check(any(res.session_id), "a new SessionID")

    @case("TC_SECC_CMN_VKT_Demo_002", purpose="A ServiceDiscoveryReq first is a sequence error.",
          protocols=("iso2",), from_standard=False)
    def _(t):
        t.send("ServiceDiscoveryReq")
        steps.response(t, "ServiceDiscoveryRes", "FAILED_SequenceError", session=False)
        steps.closes(t)

    @case("TC_SECC_CMN_VKT_Demo_003", purpose="Fails on purpose (to see a fail in reports).",
          protocols=("iso2",), from_standard=False)
    def _(t):
        t.fail("on purpose")
''')

LUA_CASE = textwrap.dedent('''\
    -- @case TC_EVCC_CMN_VKT_DemoLua_001
    -- @purpose The car takes FAILED_SequenceError in SessionSetupRes and closes.
    -- @protocols iso2
    -- @v2gkit
    Secc.Set_SessionSetupRes_ResponseCode(ResponseCodeType.FAILED_SequenceError)
    Secc.Send_SessionSetupRes_001()
    Secc.Verdict_Check(Secc.Expect_Connection_Close(5), "the EVCC closes")
''')


@pytest.fixture
def catalog(tmp_path):
    d = tmp_path / "cat"
    d.mkdir()
    (d / "demo_cases.py").write_text(CASES)
    (d / "demo_lua.lua").write_text(LUA_CASE)
    return d


def test_list_and_select(catalog):
    r = CliRunner().invoke(main, ["test", "list", "--catalog", str(catalog), "*Demo*"])
    assert r.exit_code == 0, r.output
    assert "TC_SECC_CMN_VKT_Demo_001" in r.output and "TC_EVCC_CMN_VKT_DemoLua_001" in r.output


def test_run_self_with_reports(catalog, tmp_path):
    junit, html = tmp_path / "j.xml", tmp_path / "html"
    r = CliRunner().invoke(main, ["test", "run", "--sut", "--self", "--catalog", str(catalog), "*Demo*", "--junit",
                                  str(junit), "--html", str(html), "--results", str(tmp_path / "r.json")])
    assert r.exit_code == 1, r.output  # Demo_003 fails on purpose
    assert "TC_SECC_CMN_VKT_Demo_003" in r.output and "on purpose" in r.output
    assert junit.read_text().count("<testcase") == 4
    assert (html / "report.html").exists() and (html / "traces" / "TC_SECC_CMN_VKT_Demo_001.pcapng").exists()
    res = json.loads((tmp_path / "r.json").read_text())
    verdicts = {x["case_id"]: x["verdict"] for x in res["results"]}
    assert verdicts == {"TC_SECC_CMN_VKT_Demo_001": "pass", "TC_SECC_CMN_VKT_Demo_002": "pass",
                        "TC_SECC_CMN_VKT_Demo_003": "fail", "TC_EVCC_CMN_VKT_DemoLua_001": "pass"}
    r = CliRunner().invoke(main, ["test", "table", str(tmp_path / "r.json")])
    assert r.exit_code == 0 and "TC_SECC_CMN_VKT_Demo_002" in r.output


def test_usage_errors(catalog):
    r = CliRunner().invoke(main, ["test", "run", "--catalog", str(catalog)])
    assert r.exit_code == 2 and "--self" in r.output
    r = CliRunner().invoke(main, ["test", "run", "--loopback", "--catalog", str(catalog), "*Demo*"])
    assert r.exit_code == 2 and "charger or a car" in r.output
    r = CliRunner().invoke(main, ["test", "lua", str(DATA / "seed_iso2_session_setup_secc.lua"), "--role", "secc",
                                  "--address", "[::1]:1"])
    assert r.exit_code == 2


def test_lua_self():
    r = CliRunner().invoke(main, ["test", "lua", str(DATA / "seed_iso2_session_setup_secc.lua"), "--role", "secc",
                                  "--self"])
    assert r.exit_code == 0, r.output
    assert "sent SessionSetupRes" in r.output


def _free_sdp_port() -> int:
    return random.randint(20000, 60000)


def test_seed_lua_over_loopback_against_a_real_evcc():
    """`v2gkit test lua SEED --role secc --loopback` answers SDP, waits for the car (a real `v2gkit evcc`
    process), runs the handshake by default and sends the seed's SessionSetupRes; exit 0."""
    port = str(_free_sdp_port())
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    tester = subprocess.Popen([*V2GKIT, "test", "lua", str(DATA / "seed_iso2_session_setup_secc.lua"), "--role",
                               "secc", "--loopback", "--sdp-port", port, "--timeout", "20"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)
        car = subprocess.run([*V2GKIT, "evcc", "--loopback", "--protocols", "iso2", "--sdp-port", port],
                             env=env, capture_output=True, text=True, timeout=30)
        out, _ = tester.communicate(timeout=30)
    finally:
        tester.kill()
    assert tester.returncode == 0, out
    assert "sent SessionSetupRes" in out
    assert "FAILED_SequenceError" in car.stdout + car.stderr
