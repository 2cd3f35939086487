"""Reports from CaseResults: the results file, JUnit XML, the HTML report, per-case traces, tables.

The results are realistic: the frames of a real ISO 15118-2 DC session between v2gkit's machines on the
simulated clock, decoded by the codec, plus failures carrying a hostile SUT's strings, empty wires and
binary frames that do not decode."""

from __future__ import annotations

import html.parser
import io
import json
import math
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from v2gkit.session.din2 import EVCCConfig, EVCCSession, SECCConfig, SECCSession
from v2gkit.session.simulate import run_pair
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import Cable, SimulatedDCEVSE
from v2gkit.testsys.case import CaseResult, Step, Verdict, WireRecord
from v2gkit.testsys.report import (
    html_report,
    junit_xml,
    markdown_table,
    merge_runs,
    print_summary,
    read_results,
    write_html,
    write_junit,
    write_results,
    write_traces,
)
from v2gkit.testsys.report.junit import classname
from v2gkit.testsys.report.results import Run, dumps, loads
from v2gkit.testsys.report.table import matrix_table, read_runs, summary_table
from v2gkit.testsys.report.traces import parse_endpoint, trace_stem
from v2gkit.trace import decode_payload
from v2gkit.v2gtp import frame

T0 = 1_760_000_000.0  # a fixed start, so the files do not depend on the clock
HOSTILE = ('</td></tr></table><script>alert("x")</script><img src=x onerror=alert(1)> & "q" \'s\' '
           "\x1b[31mred\x1b[0m \x00nul \r\u202eevil\u202c [bold]markup[/bold] | pipe `tick` *em* \ud800")


@cache
def session_wire() -> tuple[WireRecord, ...]:
    """A whole ISO-2 DC session as the tester (the EVCC) saw it: SDP, connect, every message, close."""
    cable = Cable()
    ev = SimulatedEV(soc=78.0, target_soc=80.0, ac=False, cable=cable)
    evcc = EVCCSession("iso2", ev, EVCCConfig(dc=True, loop_interval=0.25))
    secc = SECCSession("iso2", SimulatedDCEVSE(cable_check_time=1.0), SECCConfig(dc=True))
    log: list[tuple[float, str, str, bytes]] = []

    def tamper(now: float, side: str, name: str, payload: bytes) -> bytes:
        log.append((now, side, name, payload))
        return payload

    run_pair(evcc, secc, tamper=tamper)
    sdp_res = bytes.fromhex("fe800000000000000000000000000002") + (61851).to_bytes(2, "big") + b"\x10\x00"
    wire = [WireRecord(0.0, "tx", "sdp", 0x9000, frame(0x9000, b"\x10\x00"), "SDPReq",
                       {"Security": "none", "TransportProtocol": "TCP"}),
            WireRecord(0.001, "rx", "sdp", 0x9001, frame(0x9001, sdp_res), "SDPRes", None),
            WireRecord(0.002, "", "event", name="connect")]
    for now, side, name, payload in log:
        content = decode_payload(payload, "iso2").get("content")
        assert content is not None, name
        direction = "tx" if side == "EV" else "rx"
        wire.append(WireRecord(0.003 + now, direction, "tcp", 0x8001, frame(0x8001, payload), name, content))
    wire.append(WireRecord(wire[-1].t + 0.001, "tx", "event", name="close"))
    return tuple(wire)


def passing(case_id: str = "TC_SECC_DC_VTB_CurrentDemand_001", sut: str = "v2gkit self", n: int | None = None
            ) -> CaseResult:
    wire = list(session_wire())
    if n is not None:
        wire = wire[:n]
    return CaseResult(case_id=case_id, title="CurrentDemand loop until the target SOC",
                      purpose="Verify that the SECC answers every CurrentDemandReq\nwithin the timeout.",
                      requirements=("V2G2-538", "V2G-DC-497"), sut=sut, protocol="iso2", verdict=Verdict.PASS,
                      started=T0, seconds=0.041, sim_seconds=wire[-1].t,
                      steps=[Step(0.003, "Send SessionSetupReq"),
                             Step(wire[-1].t, "all answers in time", Verdict.PASS)],
                      wire=wire)


def hostile_fail(sut: str = "v2gkit self") -> CaseResult:
    """A SUT that answers with strings meant to break the reports."""
    decoded = {"V2G_Message": {"Header": {"SessionID": "00"},
                               "Body": {"SessionSetupRes": {"ResponseCode": "FAILED", "EVSEID": HOSTILE}}}}
    wire = [WireRecord(0.0, "", "event", name="connect", note=HOSTILE),
            WireRecord(0.001, "tx", "tcp", 0x8001, frame(0x8001, b"\x80\x01\x02"), "SessionSetupReq",
                       {"V2G_Message": {"Body": {"SessionSetupReq": {"EVCCID": "0A"}}}}),
            WireRecord(0.012, "rx", "tcp", 0x8001, frame(0x8001, b"\x80\x9a\x02\x00"), HOSTILE, decoded,
                       HOSTILE)]
    return CaseResult(case_id="TC_SECC_CMN_VTB_SessionSetup_001", title=HOSTILE, purpose=HOSTILE,
                      requirements=("V2G2-538", HOSTILE), sut=sut, protocol="din", verdict=Verdict.FAIL,
                      reason="ResponseCode FAILED, expected OK_NewSessionEstablished: " + HOSTILE,
                      started=T0 + 1, seconds=0.013, steps=[Step(0.012, HOSTILE, Verdict.FAIL)], wire=wire,
                      local_endpoint="[fe80::a%veth0]:50001", remote_endpoint="[fe80::b]:61851")


def inconc_empty(sut: str = "v2gkit self") -> CaseResult:
    return CaseResult(case_id="TC_SECC_CMN_VTB_SupportedAppProtocol_004",
                      title="App handshake with 20 protocols", sut=sut, verdict=Verdict.INCONC,
                      reason="the SUT never answered the SDP request",
                      started=T0 + 2, seconds=2.5,
                      steps=[Step(2.5, "no SDPRes within 2.5 s", Verdict.INCONC)])


BINARY = bytes(range(256)) * 20  # 5120 octets that are no V2GTP frame at all


def error_binary(sut: str = "v2gkit self") -> CaseResult:
    """Frames that do not decode (bad header, garbage EXI, oversized), over TLS, and a reset."""
    wire = [WireRecord(0.0, "tx", "sdp", 0x9000, frame(0x9000, b"\x00\x00"), "SDPReq"),
            WireRecord(0.004, "tx", "tls", 0x8001, frame(0x8001, b"\x80\x00\x01"), "SessionSetupReq",
                       {"V2G_Message": {}}),
            WireRecord(0.009, "rx", "tls", None, BINARY, "", None, "not a V2GTP frame: version 0x00"),
            WireRecord(0.010, "rx", "tls", 0x8001, frame(0x8001, b"\xff" * 70_000), "", None,
                       "EXI: unexpected event code at bit 3"),
            WireRecord(0.011, "rx", "event", name="reset", note="connection reset by the SUT")]
    return CaseResult(case_id="TC_EVCC_AC_VTB_SessionSetup_002", title="Garbage from the car", sut=sut,
                      verdict=Verdict.ERROR, reason="tester: decoder raised", started=T0 + 3, seconds=0.02,
                      steps=[Step(0.011, "test system error", Verdict.ERROR)], wire=wire)


def run_results(sut: str = "v2gkit self") -> list[CaseResult]:
    return [passing(sut=sut), hostile_fail(sut), inconc_empty(sut), error_binary(sut)]


# --------------------------------------------------------------------------------------------- results file


def test_results_file_round_trips_every_field(tmp_path: Path) -> None:
    results = run_results()
    path = write_results(tmp_path / "run.json", results, label="v2gkit self",
                         meta={"command": "v2gkit test run"})
    run = read_results(path)
    assert run.label == "v2gkit self" and run.meta == {"command": "v2gkit test run"} and run.path == str(path)
    assert run.results == results  # bytes, verdicts, steps, decoded content, lone surrogate included
    assert path.read_bytes().isascii()
    assert not (tmp_path / "run.json.tmp").exists()


def test_results_file_without_label_uses_the_sut_then_the_file_name(tmp_path: Path) -> None:
    p = write_results(tmp_path / "a.json", [inconc_empty("Josev veth")])
    assert read_results(p).label == "Josev veth"
    p = write_results(tmp_path / "b.json", [CaseResult("TC_SECC_CMN_VTB_SessionStop_001")])
    assert read_results(p).label == "b"


def test_results_file_writes_non_finite_numbers_as_null() -> None:
    r = CaseResult("TC_SECC_CMN_VTB_SessionStop_001", seconds=math.nan, sim_seconds=math.inf,
                   steps=[Step(math.inf, "x")])
    back = loads(dumps([r])).results[0]
    assert back.seconds == 0.0 and back.sim_seconds is None and back.steps[0].t == 0.0


@pytest.mark.parametrize("text,message", [
    ("{", "not JSON"),
    ('{"results": []}', "not a v2gkit results file"),
    ('{"format": "v2gkit-test-results", "version": 99, "results": []}', "version 99"),
    ('{"format": "v2gkit-test-results", "version": 1, "results": [{"title": "x"}]}',
     "result 0 has no case_id"),
    ('{"format": "v2gkit-test-results", "version": 1, "results": [{"case_id": "TC_A", "verdict": "passed"}]}',
     "result 0 (TC_A): verdict 'passed' is not one of pass, inconc, fail, error"),
    ('{"format": "v2gkit-test-results", "version": 1, "results": [{"case_id": "TC_A", '
     '"wire": [{"frame": "zz"}]}]}',
     "wire record 0 frame is not hexadecimal"),
    ('{"format": "v2gkit-test-results", "version": 1, "results": [{"case_id": "TC_A", "seconds": "1"}]}',
     "seconds must be a number"),
])
def test_bad_results_files_say_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="bad.json") as info:
        read_results(path)
    assert message in str(info.value)


def test_missing_results_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be read"):
        read_results(tmp_path / "none.json")


# ------------------------------------------------------------------------------------------------------ JUnit

# The JUnit XML conventions Jenkins' and GitLab's importers follow (the widely used "JUnit 10" schema, reduced
# to what v2gkit writes): a testsuites root, testsuite with name/tests required, testcase with name and
# classname, at most one of skipped/error/failure before system-out, decimal times, timestamps without zone.
JUNIT_XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
 <xs:simpleType name="time"><xs:restriction base="xs:decimal"><xs:minInclusive value="0"/></xs:restriction>
 </xs:simpleType>
 <xs:simpleType name="stamp"><xs:restriction base="xs:string">
  <xs:pattern value="[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"/></xs:restriction></xs:simpleType>
 <xs:complexType name="problem"><xs:simpleContent><xs:extension base="xs:string">
  <xs:attribute name="message" type="xs:string"/><xs:attribute name="type" type="xs:string" use="required"/>
 </xs:extension></xs:simpleContent></xs:complexType>
 <xs:element name="testsuites"><xs:complexType><xs:sequence>
  <xs:element name="testsuite" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
   <xs:element name="properties" minOccurs="0"><xs:complexType><xs:sequence>
    <xs:element name="property" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
     <xs:attribute name="name" type="xs:string" use="required"/>
     <xs:attribute name="value" type="xs:string" use="required"/></xs:complexType></xs:element>
   </xs:sequence></xs:complexType></xs:element>
   <xs:element name="testcase" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
    <xs:choice minOccurs="0">
     <xs:element name="skipped"><xs:complexType><xs:simpleContent><xs:extension base="xs:string">
      <xs:attribute name="message" type="xs:string"/></xs:extension></xs:simpleContent></xs:complexType>
     </xs:element>
     <xs:element name="error" type="problem"/><xs:element name="failure" type="problem"/>
    </xs:choice>
    <xs:element name="system-out" type="xs:string" minOccurs="0"/>
    <xs:element name="system-err" type="xs:string" minOccurs="0"/></xs:sequence>
    <xs:attribute name="name" type="xs:string" use="required"/>
    <xs:attribute name="classname" type="xs:string" use="required"/>
    <xs:attribute name="time" type="time" use="required"/></xs:complexType></xs:element>
   <xs:element name="system-out" type="xs:string" minOccurs="0"/>
   <xs:element name="system-err" type="xs:string" minOccurs="0"/></xs:sequence>
   <xs:attribute name="name" type="xs:string" use="required"/>
   <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
   <xs:attribute name="failures" type="xs:nonNegativeInteger" use="required"/>
   <xs:attribute name="errors" type="xs:nonNegativeInteger" use="required"/>
   <xs:attribute name="skipped" type="xs:nonNegativeInteger" use="required"/>
   <xs:attribute name="time" type="time" use="required"/>
   <xs:attribute name="timestamp" type="stamp" use="required"/>
   <xs:attribute name="hostname" type="xs:token" use="required"/>
   <xs:attribute name="id" type="xs:int" use="required"/>
   <xs:attribute name="package" type="xs:token" use="required"/></xs:complexType></xs:element>
 </xs:sequence>
 <xs:attribute name="name" type="xs:string"/><xs:attribute name="time" type="time"/>
 <xs:attribute name="tests" type="xs:nonNegativeInteger"/>
 <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
 <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
 <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
 </xs:complexType></xs:element>
</xs:schema>
"""


def test_junit_maps_verdicts_and_parses_back(tmp_path: Path) -> None:
    import xmlschema

    path = write_junit(tmp_path / "junit.xml", run_results(), hostname="ci-runner")
    data = path.read_bytes()
    xmlschema.XMLSchema(JUNIT_XSD).validate(data.decode("utf-8"))
    root = ET.fromstring(data)
    assert root.tag == "testsuites"
    counts = [root.get(k) for k in ("tests", "failures", "errors", "skipped")]
    assert counts == ["4", "1", "1", "1"]
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "v2gkit self" and suite.get("hostname") == "ci-runner"
    assert suite.get("timestamp") == "2025-10-09T08:53:20" and suite.get("time") == "2.574"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"sut": "v2gkit self", "protocols": "din, iso2"}
    cases = {tc.get("name"): tc for tc in suite.findall("testcase")}
    ok = cases["TC_SECC_DC_VTB_CurrentDemand_001"]
    assert ok.get("classname") == "SECC.DC.CurrentDemand" and ok.get("time") == "0.041"
    assert [c.tag for c in ok] == ["system-out"]
    out = ok.find("system-out").text
    assert "Send SessionSetupReq" in out and "CurrentDemandReq" in out and "requirements: V2G2-538" in out
    fail = cases["TC_SECC_CMN_VTB_SessionSetup_001"]
    (failure,) = fail.findall("failure")
    assert failure.get("type") == "fail" and failure.get("message").startswith("ResponseCode FAILED")
    assert "\\x1b[31mred" in failure.get("message") and "\\x00nul" in failure.get("message")  # made visible
    assert '<script>alert("x")</script>' in failure.get("message")  # text, not markup: the parser says so
    inconc = cases["TC_SECC_CMN_VTB_SupportedAppProtocol_004"]
    assert inconc.find("skipped").get("message") == "inconc: the SUT never answered the SDP request"
    err = cases["TC_EVCC_AC_VTB_SessionSetup_002"]
    assert err.find("error").get("type") == "error"
    assert err.find("error").get("message") == "tester: decoder raised"
    assert err.get("classname") == "EVCC.AC.SessionSetup"
    assert "not a V2GTP frame" in err.find("system-out").text


def test_junit_has_a_suite_per_sut_and_keeps_the_tests_apart() -> None:
    results = run_results("v2gkit self") + run_results("Josev veth")
    root = ET.fromstring(junit_xml(results, hostname="h"))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["v2gkit self", "Josev veth"]
    assert [s.get("id") for s in suites] == ["0", "1"] and root.get("tests") == "8"
    names = {(tc.get("classname"), tc.get("name")) for tc in root.iter("testcase")}
    assert len(names) == 8  # the same case against two SUTs is two tests in Jenkins
    assert ("Josev_veth.SECC.DC.CurrentDemand", "TC_SECC_DC_VTB_CurrentDemand_001") in names


def test_junit_classname_of_an_odd_id() -> None:
    assert classname("TC_SECC_CMN_VTB_SessionSetup_001") == "SECC.CMN.SessionSetup"
    assert classname("my.own case") == "other"
    assert classname("TC_EVCC_DC_VTB_PreCharge_002", "v2gkit self (veth)") == (
        "v2gkit_self_veth.EVCC.DC.PreCharge")


def test_junit_of_no_results_is_valid() -> None:
    root = ET.fromstring(junit_xml([], hostname="h"))
    assert root.get("tests") == "0" and root.findall("testsuite") == []


# ------------------------------------------------------------------------------------------------------- HTML


class _Page(html.parser.HTMLParser):
    """What a browser would make of the page's markup: elements, attributes, scripts, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.scripts += tag == "script"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _ladder_rows(p: _Page) -> list[dict[str, str | None]]:
    return [a for t, a in p.tags if t == "tr" and (a.get("class") or "x").split()[0] in ("tx", "rx", "ev")]


def _parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


def test_html_report_summary_table_and_cases(tmp_path: Path) -> None:
    results = run_results()
    path = write_html(tmp_path, results, traces="traces")
    assert path == tmp_path / "report.html"
    page = path.read_text(encoding="utf-8")
    p = _parse(page)
    text = "".join(p.text)
    # summary: counts per verdict, SUT, protocols, wall time from the first start to the last end
    counts = {a["data-verdict"]: a for t, a in p.tags if t == "div" and "data-verdict" in a}
    assert set(counts) == {"pass", "fail", "inconc", "error"}
    assert "v2gkit self" in text and "iso2 (1), din (1)" in text and "4.50 s (cases: 2.57 s)" in text
    # the table: a row per case, linking to its details
    rows = [a for t, a in p.tags if t == "tr" and "data-case" in a]
    assert [r["data-verdict"] for r in rows] == ["pass", "fail", "inconc", "error"]
    details = {a["id"]: a for t, a in p.tags if t == "details" and a.get("class") == "case"}
    assert set(details) == {r["data-case"] for r in rows}
    # the ladder: one message row per frame, events in between; decoded content as pretty JSON
    ladder_rows = _ladder_rows(p)
    assert len(ladder_rows) == sum(len(r.wire) for r in results)
    assert '"EVCCID": "0A1B2C3D4E5F"' in text and "CurrentDemandRes" in text
    assert "ms since the case started" in text and "0.0" in text
    # undecodable frames: the note and at most HEX_LIMIT octets as hex
    assert "EXI: unexpected event code at bit 3" in text and "67960 more octets" in text
    # traces linked by the same names write_traces uses
    hrefs = [a["href"] for t, a in p.tags if t == "a" and a.get("href", "").startswith("traces/")]
    assert "traces/TC_SECC_DC_VTB_CurrentDemand_001.pcapng" in hrefs
    # no external assets: nothing is loaded from anywhere
    assert not [a for t, a in p.tags if "src" in a or (t == "link")]
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page


def test_html_escapes_everything_a_sut_sends() -> None:
    page = html_report(run_results())
    p = _parse(page)
    # the one script is the report's own, carrying the nonce the Content-Security-Policy allows
    assert p.scripts == 1
    (script,) = [a for t, a in p.tags if t == "script"]
    csp = next(a["content"] for t, a in p.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert f"'nonce-{script['nonce']}'" in csp and "default-src 'none'" in csp
    assert not [(t, k) for t, a in p.tags for k in a if k.startswith("on")]  # no event handler attribute
    assert not [t for t, _ in p.tags if t in ("img", "iframe", "object", "embed", "base", "form")]
    text = "".join(p.text)
    assert '<script>alert("x")</script><img src=x onerror=alert(1)>' in text  # shown as text
    assert "\\x1b[31mred" in text and "\\x00nul" in text and "\\u202eevil" in text and "\\ud800" in text
    assert "\x1b" not in page and "\x00" not in page and "\u202e" not in page
    page.encode("utf-8")  # no lone surrogate left


def test_html_of_no_results() -> None:
    p = _parse(html_report([]))
    assert "0 of 0" not in "".join(p.text) and p.scripts == 1


# ----------------------------------------------------------------------------------------------------- traces


def _tcp_stream(packets: list) -> bytes:
    from scapy.layers.inet import TCP

    return b"".join(bytes(p[TCP].payload) for p in packets if TCP in p and bytes(p[TCP].payload))


def test_traces_pcapng_holds_the_frames_in_order(tmp_path: Path) -> None:
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    result = passing()
    ((pcap, jsonl),) = write_traces(tmp_path, [result])
    assert pcap.name == "TC_SECC_DC_VTB_CurrentDemand_001.pcapng" and jsonl.suffix == ".jsonl"
    packets = rdpcap(str(pcap))
    udp = [p for p in packets if UDP in p]
    assert [bytes(p[UDP].payload) for p in udp] == [w.frame for w in result.wire if w.channel == "sdp"]
    assert udp[0][IPv6].dst == "ff02::1" and udp[0][UDP].dport == 15118
    assert udp[1][IPv6].src == "fe80::2" and udp[1][UDP].sport == 15118
    tcp_frames = [w.frame for w in result.wire if w.channel == "tcp"]
    assert _tcp_stream(packets) == b"".join(tcp_frames)
    syn = next(p for p in packets if TCP in p and p[TCP].flags == "S")
    # placeholders: tester fe80::1, the SUT at the address and port its SDP response announced
    where = (syn[IPv6].src, syn[IPv6].dst, syn[TCP].sport, syn[TCP].dport)
    assert where == ("fe80::1", "fe80::2", 49152, 61851)
    assert [p.time for p in packets] == sorted(p.time for p in packets)
    assert float(packets[0].time) == pytest.approx(T0, abs=1e-3)
    assert any(TCP in p and "F" in p[TCP].flags for p in packets)  # the close


def test_traces_jsonl_lines_decode(tmp_path: Path) -> None:
    results = run_results()
    written = write_traces(tmp_path, results)
    for r, (_, jsonl) in zip(results, written, strict=True):
        lines = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
        head = lines[0]
        assert head["event"] == "case" and head["case_id"] == r.case_id and head["verdict"] == r.verdict.value
        frames = [x for x in lines if "hex" in x]
        assert len(frames) == sum(1 for w in r.wire if w.channel != "event")
        assert [bytes.fromhex(x["hex"]) for x in frames] == [w.frame for w in r.wire if w.channel != "event"]
        steps = [x for x in lines if x.get("event") == "step"]
        assert [s["text"] for s in steps] == [s.text for s in r.steps]
        assert all(x["t"] >= T0 for x in lines)
    ok = [json.loads(line) for line in written[0][1].read_text().splitlines()]
    setup = next(x for x in ok if x.get("name") == "SessionSetupReq")
    assert setup["dir"] == "tx" and setup["role"] == "EVCC" and setup["payload_type"] == "0x8001"
    assert setup["content"]["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] == "0A1B2C3D4E5F"
    assert setup["src"] == "[fe80::1]:49152" and setup["dst"] == "[fe80::2]:61851"


def test_traces_of_hostile_binary_and_empty_results(tmp_path: Path) -> None:
    from scapy.layers.inet import TCP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    fail, inconc, error = hostile_fail(), inconc_empty(), error_binary()
    (fp, fj), (ip, ij), (ep, ej) = write_traces(tmp_path, [fail, inconc, error])
    # endpoints from the result (scope and IPv6 kept)
    packets = rdpcap(str(fp))
    syn = next(p for p in packets if TCP in p and p[TCP].flags == "S")
    where = (syn[IPv6].src, syn[TCP].sport, syn[IPv6].dst, syn[TCP].dport)
    assert where == ("fe80::a", 50001, "fe80::b", 61851)
    assert _tcp_stream(packets) == b"".join(w.frame for w in fail.wire if w.channel == "tcp")
    lines = [json.loads(x) for x in fj.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["reason"].endswith("pipe `tick` *em* \ud800")  # the lone surrogate comes back
    assert any(x.get("note", "").startswith("</td></tr>") for x in lines)
    # nothing on the wire: a valid capture with no packets, a trace with the case line and the step
    assert rdpcap(str(ip)) == [] or len(rdpcap(str(ip))) == 0
    assert [json.loads(x)["event"] for x in ij.read_text().splitlines()] == ["case", "step"]
    # garbage, an oversized frame over TLS (split into segments), and a reset by the SUT (a car: the tester
    # plays the SECC)
    packets = rdpcap(str(ep))
    assert _tcp_stream(packets) == b"".join(w.frame for w in error.wire if w.channel == "tls")
    rst = [p for p in packets if TCP in p and "R" in p[TCP].flags]
    assert len(rst) == 1 and rst[0][IPv6].src == "fe80::2"  # the SUT (the EVCC, TCP client) reset
    lines = [json.loads(x) for x in ej.read_text().splitlines()]
    garbage = next(x for x in lines if x.get("note") == "not a V2GTP frame: version 0x00")
    assert garbage["error"].startswith("V2GTP header version 0x00") and garbage["dir"] == "rx"
    assert next(x for x in lines if x.get("event") == "reset")["by"] == "sut"


def test_trace_names_are_safe_and_unique(tmp_path: Path) -> None:
    assert trace_stem("../../etc/passwd") == "etc_passwd"
    assert trace_stem("TC_SECC_CMN_VTB_SessionSetup_001") == "TC_SECC_CMN_VTB_SessionSetup_001"
    written = write_traces(tmp_path, [inconc_empty(), inconc_empty()])
    assert [p.name for p, _ in written] == ["TC_SECC_CMN_VTB_SupportedAppProtocol_004.pcapng",
                                           "TC_SECC_CMN_VTB_SupportedAppProtocol_004-2.pcapng"]


def test_parse_endpoint() -> None:
    assert parse_endpoint("[fe80::1%veth0]:15118") == ("fe80::1%veth0", 15118, None)
    assert parse_endpoint("[::1]") == ("::1", 0, None)
    assert parse_endpoint("::1") == ("::1", 0, None)
    assert parse_endpoint("127.0.0.1:8080") == ("::ffff:127.0.0.1", 8080, None)
    assert parse_endpoint("charger.local:15118") is None and parse_endpoint("") is None
    assert parse_endpoint("[::1]:99999") is None


# ----------------------------------------------------------------------------------------------------- tables


def _runs() -> list[Run]:
    self_ = run_results("v2gkit self")
    veth = [passing(sut="v2gkit veth"), hostile_fail("v2gkit veth")]
    josev = [passing(sut="Josev veth"), inconc_empty("Josev veth")]
    josev[0].verdict, josev[0].reason = Verdict.FAIL, "CurrentDemandRes after 260 ms (limit 250 ms)"
    return [Run("v2gkit self", self_), Run("v2gkit veth", veth), Run("Josev veth", josev)]


def test_markdown_table_case_by_case_one_column_per_sut() -> None:
    md = markdown_table(_runs())
    lines = md.splitlines()
    assert lines[0] == "| Case | v2gkit self | v2gkit veth | Josev veth |"
    assert lines[1] == "|---|---|---|---|"
    rows = {line.split(" | ")[0][2:]: line for line in lines[2:]}
    assert rows["`TC_SECC_DC_VTB_CurrentDemand_001`"] == (
        "| `TC_SECC_DC_VTB_CurrentDemand_001` | pass | pass "
        "| **fail**: CurrentDemandRes after 260 ms (limit 250 ms) |")
    assert rows["`TC_EVCC_AC_VTB_SessionSetup_002`"].endswith("| error: tester: decoder raised | – | – |")
    assert "inconc: the SUT never answered the SDP request" in (
        rows["`TC_SECC_CMN_VTB_SupportedAppProtocol_004`"])
    assert lines[-1] == "| **total** | 1/4 pass | 1/2 pass | 0/2 pass |"
    # hostile reasons cannot break the row, inject HTML or start formatting
    assert rows["`TC_SECC_CMN_VTB_SessionSetup_001`"].endswith("OK_NewSessionEstablished: &lt;/t… | – |")
    assert len(lines) == 2 + 4 + 1 and md.endswith("\n")
    # hostile reasons in full cannot break the row, inject HTML or start formatting
    long = markdown_table(_runs(), reason_limit=1000).splitlines()
    hostile = next(line for line in long if line.startswith("| `TC_SECC_CMN_VTB_SessionSetup_001`"))
    assert "<" not in hostile and "&lt;script&gt;alert(\"x\")&lt;/script&gt;" in hostile
    assert "[bold\\]markup\\[/bold\\]" in hostile and "\\*em\\*" in hostile and "\\`tick\\`" in hostile
    assert "\\x1b\\[31mred" in hostile and "\x1b" not in hostile and "\\ud800" in hostile
    cells = hostile.replace("\\|", "").split("|")
    assert len(cells) == 6  # | a | b | c | d |: four cells and the two empty ends


def test_markdown_titles_column_and_later_runs_win(tmp_path: Path) -> None:
    first = write_results(tmp_path / "full.json", run_results("v2gkit veth"))
    rerun = [passing(sut="v2gkit veth")]
    rerun[0].case_id = "TC_SECC_CMN_VTB_SessionSetup_001"
    second = write_results(tmp_path / "rerun.json", rerun)
    runs = read_runs([first, second])
    m = merge_runs(runs)
    assert m.labels == ["v2gkit veth"]
    assert m.get("TC_SECC_CMN_VTB_SessionSetup_001", "v2gkit veth").verdict is Verdict.PASS
    md = markdown_table(m, titles=True)
    assert md.splitlines()[0] == "| Case | Title | v2gkit veth |"
    relabelled = read_runs([first], labels=["v2gkit veth (CI)"])
    assert relabelled[0].label == "v2gkit veth (CI)"


def test_terminal_summary_and_matrix_show_strings_as_text() -> None:
    console = Console(record=True, width=400, file=io.StringIO(), color_system=None)
    print_summary(run_results(), console)
    console.print(summary_table(run_results(), reason_width=300))
    out = console.export_text()
    assert "TC_SECC_DC_VTB_CurrentDemand_001" in out and "pass" in out
    assert "[bold]markup[/bold]" in out  # a SUT's markup is printed, not interpreted
    assert "\x1b" not in out and "1 pass, 1 fail, 1 inconc, 1 error" in out
    narrow = Console(record=True, width=80, file=io.StringIO(), color_system=None)
    print_summary(run_results(), narrow)
    lines = narrow.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert len([line for line in lines if line.startswith("│ TC_")]) == 4  # one line per case, however long
    assert any("│ fail    │    0.013 │ ResponseCod…" in line for line in lines)
    problems = Console(record=True, width=200, file=io.StringIO(), color_system=None)
    problems.print(summary_table(run_results(), problems_only=True))
    assert "TC_SECC_DC_VTB_CurrentDemand_001" not in problems.export_text()
    matrix = Console(record=True, width=240, file=io.StringIO(), color_system=None)
    matrix.print(matrix_table(_runs()))
    text = matrix.export_text()
    assert "Josev veth" in text and "fail: CurrentDemandRes after 260 ms" in text


def test_html_keeps_long_cases_small_and_the_trace_has_the_rest() -> None:
    long = passing()  # a whole session: ~500 records
    n = len(long.wire)
    left_out = "left out of this report to keep it small"
    page = html_report([long])
    assert page.count(left_out) == n - 200
    p = _parse(page)
    assert len(_ladder_rows(p)) == n
    assert '"SessionStopReq"' in page  # the end of the session keeps its content
    full = html_report([long], content_limit=None)
    assert left_out not in full and len(full) > len(page)


def test_traces_keep_packets_whose_notes_are_huge(tmp_path: Path) -> None:
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    r = hostile_fail()
    r.reason = "x" * 100_000
    r.wire[2] = WireRecord(0.012, "rx", "tcp", 0x8001, frame(0x8001, b"\x80"), "y" * 70_000, None,
                           "z" * 70_000)
    ((pcap, jsonl),) = write_traces(tmp_path, [r])
    assert _tcp_stream(rdpcap(str(pcap))) == b"".join(w.frame for w in r.wire if w.channel == "tcp")
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert any(x.get("note") == "z" * 70_000 for x in lines)  # the JSON lines keep it whole
    assert not any("pcapng" in x for x in lines)  # nothing was left out of the capture
    assert any(TCP in p for p in rdpcap(str(pcap)))


def test_write_html_to_a_new_folder(tmp_path: Path) -> None:
    path = write_html(tmp_path / "run1", [inconc_empty()])
    assert path == tmp_path / "run1" / "report.html" and path.is_file()
    assert write_html(tmp_path / "r.html", []) == tmp_path / "r.html"


def test_write_report_folder_links_its_traces(tmp_path: Path) -> None:
    from v2gkit.testsys.report import write_report

    results = run_results()
    page = write_report(tmp_path / "run", results, label="v2gkit self")
    p = _parse(page.read_text(encoding="utf-8"))
    links = [a["href"] for t, a in p.tags if t == "a" and a.get("href", "").startswith("traces/")]
    assert len(links) == 2 * len(results)
    assert all((page.parent / link).is_file() for link in links)
    assert read_results(page.parent / "results.json").results == results


# ---------------------------------------------------------------------------------------- any input at all

_text = st.text(st.characters(exclude_categories=()), max_size=40)
_record = st.builds(WireRecord, t=st.floats(allow_nan=True, allow_infinity=True),
                    direction=st.sampled_from(["tx", "rx", ""]),
                    channel=st.sampled_from(["sdp", "tcp", "tls", "event", "other"]),
                    payload_type=st.none() | st.integers(0, 0xFFFF), frame=st.binary(max_size=80), name=_text,
                    decoded=st.none() | st.dictionaries(_text, _text, max_size=3), note=_text)
_result = st.builds(CaseResult, case_id=_text.filter(bool), title=_text, purpose=_text, reason=_text,
                    sut=_text, protocol=_text, verdict=st.sampled_from(list(Verdict)),
                    started=st.floats(allow_nan=True, allow_infinity=True),
                    seconds=st.floats(allow_nan=True, allow_infinity=True),
                    steps=st.lists(st.builds(Step, t=st.floats(), text=_text), max_size=3),
                    wire=st.lists(_record, max_size=6), local_endpoint=_text, remote_endpoint=_text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_result, min_size=1, max_size=3))
def test_any_result_gives_valid_reports(tmp_path: Path, results: list[CaseResult]) -> None:
    ET.fromstring(junit_xml(results, hostname="h"))
    page = html_report(results)
    page.encode("utf-8")
    assert _parse(page).scripts == 1
    written = write_traces(tmp_path / "t", results)
    for _, jsonl in written:
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            json.loads(line)
    back = loads(dumps(results)).results
    assert [r.case_id for r in back] == [r.case_id for r in results]
    markdown_table([Run("x", results)])
