"""The Lua API (lupa): the seed's example runs unchanged, every function the seed's pages list exists on the
Lua objects, the v2gkit extensions, and errors that say what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v2gkit.exi import api as exi
from v2gkit.exi.convert import from_xml
from v2gkit.session.din2 import SECCConfig
from v2gkit.testsys.case import Verdict
from v2gkit.testsys.drive import Setup, run_self
from v2gkit.testsys.lua import run_script, run_source
from v2gkit.v2gtp import frame

from conftest import need_shared

DATA = Path(__file__).parent / "data" / "lua"
SEED_SID = bytes.fromhex("C1A61BDEADFA4655")


def lua(src: str, role: str = "evcc", protocol: str = "iso2", **kw):
    return run_self(lambda t: run_source(t, src), role, Setup(protocol, **kw))


def test_seed_example_runs_unchanged_and_puts_the_seed_message_on_the_wire():
    res = run_self(lambda t: run_script(t, DATA / "seed_iso2_session_setup_secc.lua"), "secc",
                   Setup("iso2", secc=SECCConfig(session_id=SEED_SID)))
    assert res.verdict is Verdict.PASS, res.reason
    sent = [w for w in res.wire if w.name == "SessionSetupRes"]
    _, doc = from_xml((DATA / "seed_iso2_session_setup_res.xml").read_text(), "iso2")
    assert sent[0].frame == frame(0x8001, exi.encode(doc))
    assert sent[0].frame[:8] == bytes.fromhex("01FE80010000001F")
    assert sent[0].decoded["SessionSetupRes"]["EVSEID"] == "KR*TC1*ISO1*001" if "SessionSetupRes" in (
        sent[0].decoded or {}) else True


def test_every_seed_function_exists_on_the_lua_objects():
    """api.jsonl lists the 248 functions of the seed's 23 pages: each is a callable of its object."""
    pages = [json.loads(line) for line in need_shared("lua-api", "api.jsonl").read_text().splitlines() if line.strip()]
    calls = []
    for page in pages:
        for f in page["functions"]:
            calls.append((page["standard"], f["name"]))
    assert len(calls) == 248
    proto = {"din70121": "din", "iso15118-2": "iso2", "iso15118-20": "iso20"}
    for standard in sorted({s for s, _ in calls}):
        names = [n for s, n in calls if s == standard]
        src = "local missing = {}\n" + "".join(
            f"if type({n}) ~= 'function' then missing[#missing + 1] = '{n}' end\n" for n in names) + \
            "Evcc.Verdict_Check(#missing == 0, 'missing: ' .. table.concat(missing, ', '))\n"
        res = lua(src, protocol=proto[standard])
        assert res.verdict is Verdict.PASS, f"{standard}: {res.reason}"


@pytest.mark.parametrize("protocol", ["din", "iso2", "iso20"])
def test_evcc_script_wrong_session_id(protocol):
    res = lua("""
Evcc.Receive_SessionSetupRes_001()
Evcc.Verdict_Check(Evcc.Check_Received_SessionSetupRes(), "SessionSetupRes came")
Evcc.Verdict_Check(Evcc.Get_SessionSetupRes_ResponseCode() == ResponseCodeType.OK_NewSessionEstablished, "new")
Evcc.Set_ServiceDiscoveryReq_Header_SessionID("0102030405060708")
Evcc.Send_ServiceDiscoveryReq_001()
Evcc.Receive_ServiceDiscoveryRes_001()
local code = Evcc.Get_ServiceDiscoveryRes_ResponseCode()
Evcc.Verdict_Check(code == ResponseCodeType.FAILED_UnknownSession, "FAILED_UnknownSession, got " .. tostring(code))
Evcc.Verdict_Check(Evcc.Expect_Connection_Close(3), "the SECC closes the connection")
""", protocol=protocol)
    assert res.verdict is Verdict.PASS, res.reason


def test_physical_values_leaf_by_leaf_and_enums():
    res = lua("""
Evcc.Run_Until_PreChargeReq()
Evcc.Set_PreChargeReq_EVTargetVoltage_Value(3900)
Evcc.Set_PreChargeReq_EVTargetVoltage_Multiplier(-1)
Evcc.Set_PreChargeReq_EVTargetVoltage_Unit(UnitSymbolType.Unit_V)
Evcc.Verdict_Check(Evcc.Get_PreChargeReq_EVTargetVoltage_Value() == 3900, "outgoing value readable")
Evcc.Send_PreChargeReq_001()
Evcc.Receive_PreChargeRes_001()
Evcc.Verdict_Check(Evcc.Check_Received_PreChargeRes(), "PreChargeRes")
Evcc.Verdict_Check(Evcc.Get_PreChargeRes_DC_EVSEStatus_EVSEStatusCode() == DC_EVSEStatusCodeType.EVSE_Ready, "ready")
""")
    assert res.verdict is Verdict.PASS, res.reason
    sent = [w for w in res.wire if w.name == "PreChargeReq"][0].decoded
    assert '"Value": 3900' in json.dumps(sent) and '"Multiplier": -1' in json.dumps(sent)


def test_v2gtp_header_fault_by_script():
    res = lua("""
Evcc.Set_V2GTP_PayloadType(0x7001)
Evcc.Send_SessionSetupReq_001()
Evcc.Set_Receive_Timeout(2)
Evcc.Receive_SessionSetupRes_001()
Evcc.Verdict_Check(not Evcc.Check_Received_SessionSetupRes(), "ignored until V2G_Msg_Timeout")
""")
    assert res.verdict is Verdict.PASS, res.reason
    tx = [w for w in res.wire if w.name == "SessionSetupReq"][0]
    assert tx.frame[2:4] == b"\x70\x01"


def test_errors_say_what_is_wrong():
    r = lua("Evcc.Get_SessionSetupRes_NoSuchField()")
    assert r.verdict is Verdict.ERROR and "no such function" in r.reason
    r = lua("Secc.Send_SessionSetupRes_001()")
    assert r.verdict is Verdict.ERROR and "use Evcc." in r.reason
    r = lua("Evcc.Set_SessionSetupReq_EVCCID(true)")
    assert r.verdict is Verdict.ERROR and "EVCCID" in r.reason
    r = lua("this is not lua")
    assert r.verdict is Verdict.ERROR and "syntax error" in r.reason
    r = lua("Evcc.Verdict_Fail('on purpose')")
    assert r.verdict is Verdict.FAIL and r.reason == "on purpose"
