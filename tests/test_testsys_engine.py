"""The test system's engine: the emulator (v2gkit's machines bent by a script), the script hand-over and the
Python API, on the simulated clock against v2gkit's own machines."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2gkit.exi import api as exi
from v2gkit.exi.convert import from_xml
from v2gkit.exi.gen import iso2
from v2gkit.session.din2 import SECCConfig
from v2gkit.testsys.case import Verdict
from v2gkit.testsys.drive import Setup, run_self
from v2gkit.v2gtp import frame

DATA = Path(__file__).parent / "data" / "lua"
PROTOCOLS = ("din", "iso2", "iso20")


def names(res, direction=None):
    return [w.name for w in res.wire if w.channel == "tcp" and (direction is None or w.direction == direction)]


def test_seed_session_setup_res_on_the_wire():
    """The seed's example (set EVSEID and FAILED_SequenceError, send) as a Python script: the frame on the
    wire is the seed's V2GTP header (length 0x1F) and the EXI of the seed's XML."""
    def seed(t):
        def edit(res):
            res.evseid = "KR*TC1*ISO1*001"
            res.response_code = iso2.responseCodeType.FAILED_SequenceError
        t.set("SessionSetupRes", edit)
        t.send("SessionSetupRes")

    res = run_self(seed, "secc", Setup("iso2", secc=SECCConfig(session_id=bytes.fromhex("C1A61BDEADFA4655"))))
    assert res.verdict is Verdict.PASS, res.reason
    sent = [w for w in res.wire if w.name == "SessionSetupRes"]
    assert len(sent) == 1
    _, doc = from_xml((DATA / "seed_iso2_session_setup_res.xml").read_text(), "iso2")
    want = frame(0x8001, exi.encode(doc))
    assert want[:8].hex() == "01fe80010000001f"
    assert sent[0].frame == want


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_good_session_setup(protocol):
    def case(t):
        res = t.expect("SessionSetupRes")
        t.check(res.body.response_code.name == "OK_NewSessionEstablished", "new session")
        t.check(any(res.session_id), "a SessionID other than 0")

    res = run_self(case, "evcc", Setup(protocol))
    assert res.verdict is Verdict.PASS, res.reason
    assert res.seconds < 1.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_message_instead_of_session_setup(protocol):
    """TC_SECC_CMN_VTB_SessionSetup_002 in Python: ServiceDiscoveryReq instead of SessionSetupReq."""
    def case(t):
        t.send("ServiceDiscoveryReq")
        res = t.expect("ServiceDiscoveryRes")
        t.check(res.body.response_code.name == "FAILED_SequenceError", res.body.response_code.name)
        t.check(t.expect_close(within=3.0), "the SECC closes the connection")

    res = run_self(case, "evcc", Setup(protocol))
    assert res.verdict is Verdict.PASS, res.reason
    assert names(res, "tx")[-1] == "ServiceDiscoveryReq"
    assert "SessionSetupReq" not in names(res, "tx")


@pytest.mark.parametrize("protocol", ("din", "iso2"))
def test_preamble_then_session_stop(protocol):
    def case(t):
        t.expect("CurrentDemandRes")
        t.preamble("SessionStopReq")
        t.send("SessionStopReq")
        t.check(t.expect("SessionStopRes").body.response_code.name == "OK", "SessionStopRes OK")

    res = run_self(case, "evcc", Setup(protocol))
    assert res.verdict is Verdict.PASS, res.reason
    assert names(res).count("CurrentDemandReq") >= 1


def test_verdicts_fail_inconc_error():
    assert run_self(lambda t: t.fail("no"), "evcc").verdict is Verdict.FAIL
    assert run_self(lambda t: t.inconc("?"), "evcc").verdict is Verdict.INCONC
    r = run_self(lambda t: 1 / 0, "evcc")
    assert r.verdict is Verdict.ERROR and "ZeroDivisionError" in r.reason
    # fail then a later check that passes: still fail (TTCN-3 setverdict)
    def twice(t):
        t.check(False, "first", stop=False)
        t.check(True, "second")
    r = run_self(twice, "evcc")
    assert r.verdict is Verdict.FAIL and r.reason == "first"


def test_receive_timeout_and_check_received():
    def case(t):
        t.check(t.receive("CurrentDemandRes", timeout=0.001) is None, "not within 1 ms")
        t.check(not t.check_received("CurrentDemandRes"), "Check_Received false")
        t.check(t.receive("SessionSetupRes") is not None and t.check_received("SessionSetupRes"), "got it later")
    r = run_self(case, "evcc", Setup("iso2"))
    assert r.verdict is Verdict.PASS, r.reason


def test_bad_edit_is_a_script_error_not_a_crash():
    def case(t):
        t.set("SessionSetupReq", lambda b: setattr(b, "no_such_field_at_all", 1) or b.nope)
        t.send("SessionSetupReq")
    r = run_self(case, "evcc", Setup("iso2"))
    assert r.verdict is Verdict.ERROR and "cannot send SessionSetupReq" in r.reason


def test_raw_bytes_bad_header_is_ignored_by_the_secc():
    """TC_SECC_CMN_VTB_V2GTPSessionSetup_002 in Python: a SessionSetupReq with payload length 0 is dropped."""
    def case(t):
        t.send("SessionSetupReq", transform=lambda f: f[:4] + bytes(4) + f[8:])
        t.check(t.receive("SessionSetupRes", timeout=2.0) is None, "no answer until V2G_Msg_Timeout")
    r = run_self(case, "evcc", Setup("iso2"))
    assert r.verdict is Verdict.PASS, r.reason


def test_close_and_reset():
    def case(t):
        t.expect("SessionSetupRes")
        t.close(reset=True)
        t.check(not t.connected and t.closed_by == "tester", "closed by the tester")
    r = run_self(case, "evcc", Setup("iso2"))
    assert r.verdict is Verdict.PASS, r.reason
    assert any(w.name == "reset" for w in r.wire)


def test_split_frame_is_reassembled():
    """A frame split into three TCP segments is one message to the SECC."""
    def case(t):
        t.send("SessionSetupReq", transform=lambda f: [f[:3], f[3:10], f[10:]])
        t.check(t.receive("SessionSetupRes") is not None, "answered")
    r = run_self(case, "evcc", Setup("iso2"))
    assert r.verdict is Verdict.PASS, r.reason


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_out_of_range_values_go_on_the_wire(protocol):
    """Lenient encoding: a value that breaks a facet (an EVCCID longer than its maxLength) is sent."""
    def case(t):
        def long_id(b):
            if protocol == "iso20":
                b.evccid = "X" * 300  # maxLength 255
            else:
                b.evccid = bytes(range(40))  # maxLength 6 (ISO-2) / 8 (DIN)
        t.send("SessionSetupReq", long_id)
        t.receive("SessionSetupRes", timeout=2.0)
    r = run_self(case, "evcc", Setup(protocol))
    assert r.verdict is Verdict.PASS, r.reason
    assert len([w for w in r.wire if w.name == "SessionSetupReq"][0].frame) > 40


def test_sdp_answer_faults_for_a_car():
    """Tester SECC: an SDP answer with port 0 is not used by the (in-process) car; a good one is."""
    def bad_port(t):
        t.sdp_answer(lambda d: d[:24] + b"\x00\x00" + d[26:])
        t.check(t.receive("SessionSetupReq", timeout=20) is None, "the car does not connect to port 0")
        t.check(len(t.sdp_requests) > 1, "it keeps asking")

    def good(t):
        t.check(t.receive("SessionSetupReq") is not None, "the car connects")
        t.check(t.sdp_requests[0][8:] == b"\x10\x00", "it asks for no TLS over TCP")

    for fn in (bad_port, good):
        r = run_self(fn, "secc", Setup("iso2"))
        assert r.verdict is Verdict.PASS, r.reason


def test_sdp_requests_to_an_secc():
    """Tester EVCC: a valid SDP request is answered, one with payload type 0x7000 is not (V2GTPSDP_003)."""
    def case(t):
        r = t.sdp(bytes.fromhex("01fe9000000000021000"))
        t.check(r is not None and r[:4] == bytes.fromhex("01fe9001") and len(r) == 8 + 20, "answered, 20 octets")
        t.check(t.sdp(bytes.fromhex("01fe7000000000021000")) is None, "0x7000 ignored")
    r = run_self(case, "evcc", Setup("iso2"))
    assert r.verdict is Verdict.PASS, r.reason
    assert [w.name for w in r.wire if w.channel == "sdp"] == ["SDPReq", "SDPRes", "SDPReq"]
