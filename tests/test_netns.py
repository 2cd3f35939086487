"""Two hosts joined by a veth pair in private network namespaces, real processes on each side: SDP over
IPv6 link-local multicast, TCP and TLS 1.2/1.3 to the announced link-local address, the app handshake,
and the pcapng trace of it all read back by scapy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from v2gkit.net.netns import netns_available

V2GKIT = [sys.executable, "-m", "v2gkit.cli.main"]


@pytest.fixture(scope="module", autouse=True)
def _netns() -> None:
    why = netns_available()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the veth tests: {why}")
    pytest.skip(f"private network namespaces are not available here: {why}")


def _pair(secc: str, evcc: str, timeout: float = 60) -> tuple[int, list[str], list[str]]:
    cmd = [*V2GKIT, "netns", "--secc", f"{sys.executable} -m v2gkit.cli.main {secc}",
           "--evcc", f"{sys.executable} -m v2gkit.cli.main {evcc}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = r.stdout.splitlines()
    ev = [ln[7:] for ln in lines if ln.startswith("[evcc] ")]
    se = [ln[7:] for ln in lines if ln.startswith("[secc] ")]
    assert r.returncode in (0, 1), r.stdout + r.stderr
    return r.returncode, ev, se


def test_sdp_discover_over_veth() -> None:
    rc, ev, se = _pair("secc -i v2g-secc --protocols iso2,din", "sdp discover -i v2g-ev --json")
    assert rc == 0, (ev, se)
    res = json.loads(ev[-1])
    assert res["address"] == "fe80::1" and res["security"] == "NONE" and res["transport"] == "TCP"
    assert 49152 <= res["port"] <= 65535 and res["requests"] == 1


def test_discover_fails_cleanly_without_a_charger() -> None:
    rc, ev, _ = _pair("secc -i v2g-secc --sdp-port 15119", "sdp discover -i v2g-ev --max-requests 3 --interval 0.05")
    assert rc == 1 and ev == ["error: no valid SDP response after 3 requests 0.05 s apart on v2g-ev"]


def test_tcp_link_and_pcapng(tmp_path: Path) -> None:
    from scapy.all import TCP, UDP, IPv6, rdpcap  # independent reader

    pcap, log = tmp_path / "ev.pcapng", tmp_path / "ev.jsonl"
    rc, ev, se = _pair("secc -i v2g-secc --protocols iso2,din",
                       f"evcc -i v2g-ev --protocols din,iso2 --handshake-only --json --pcap {pcap} --trace-json {log}")
    assert rc == 0, (ev, se)
    res = json.loads(ev[-1])
    assert res["protocol"] == "din" and res["tls"] is None and res["address"] == "fe80::1"
    assert any(s.startswith("negotiated") and "protocol=din" in s for s in se)
    packets = rdpcap(str(pcap))
    sdp = [p for p in packets if UDP in p]
    assert sdp[0][IPv6].dst == "ff02::1" and sdp[0][UDP].dport == 15118
    assert sdp[1][IPv6].src == "fe80::1" and bytes(sdp[1][UDP].payload)[:4] == bytes.fromhex("01fe9001")
    tcp = [p for p in packets if TCP in p]
    assert {p[TCP].dport for p in tcp if p[IPv6].src == "fe80::2"} == {res["port"]}
    data = b"".join(bytes(p[TCP].payload) for p in tcp if p[IPv6].src == "fe80::2")
    assert data.startswith(bytes.fromhex("01fe8001"))  # supportedAppProtocolReq
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x.get("message") for x in lines if x.get("message")] == ["supportedAppProtocolReq",
                                                                      "supportedAppProtocolRes"]


def test_tls12_link_iso2(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    rc, ev, se = _pair(f"secc -i v2g-secc --protocols iso2,din --tls --pki {tmp_path}/pki",
                       f"evcc -i v2g-ev --protocols iso2,din --tls --pki {tmp_path}/pki --json --keylog {keylog} --handshake-only")
    assert rc == 0, (ev, se)
    res = json.loads(ev[-1])
    assert res["security"] == "TLS" and res["protocol"] == "iso2"
    assert res["tls"]["version"] == "TLSv1.2" and res["tls"]["cipher"] == "ECDHE-ECDSA-AES128-SHA256"
    assert res["tls"]["peer_cn"] == "SECC-DEMO-1"
    assert "CLIENT_RANDOM" in keylog.read_text()


def test_tls13_mutual_link_iso20(tmp_path: Path) -> None:
    rc, ev, se = _pair(f"secc -i v2g-secc --protocols iso20-dc,iso2 --tls-only --pki {tmp_path}/pki",
                       f"evcc -i v2g-ev --protocols iso20-dc,iso2,din --tls --pki {tmp_path}/pki --json --handshake-only")
    assert rc == 0, (ev, se)
    res = json.loads(ev[-1])
    assert res["tls"]["version"] == "TLSv1.3" and res["tls"]["cipher"] == "TLS_AES_256_GCM_SHA384"
    assert res["protocol"] == "iso20-dc" and res["namespace"] == "urn:iso:std:iso:15118:-20:DC"
    connected = [s for s in se if s.startswith("connected")]
    assert connected and "V2GKITDEMO" in connected[0]  # the SECC saw the vehicle certificate


@pytest.mark.parametrize("protocol,mode,tls", [("din", "--dc", False), ("iso2", "--dc", True), ("iso2", "--ac", False)])
def test_full_session_over_veth(tmp_path: Path, protocol: str, mode: str, tls: bool) -> None:
    """Two processes, two namespaces: SDP, TCP (or TLS 1.2), handshake and a whole charging session."""
    t = f"--tls --pki {tmp_path}/pki" if tls else ""
    rc, ev, se = _pair(f"secc -i v2g-secc --protocols {protocol} {mode} {t} --once",
                       f"evcc -i v2g-ev --protocols {protocol} {mode} {t} --soc 79 --target-soc 80 --speed 30 --json")
    assert rc == 0, (ev, se)
    res = json.loads(ev[-1])
    assert res["ok"] and res["reason"] == "terminated" and res["protocol"] == protocol and res["soc"] >= 80
    assert (res["tls"] or {}).get("version") == ("TLSv1.2" if tls else None)
    done = [s for s in se if s.startswith("session ")]
    assert done and "ok=True" in done[0] and "reason=terminated" in done[0]


@pytest.mark.parametrize("mode,bpt,control", [("--dc", "--bpt", "dynamic"), ("--ac", "", "scheduled")])
def test_iso20_session_over_tls13_on_veth(tmp_path: Path, mode: str, bpt: str, control: str) -> None:
    """ISO 15118-20 as the standard wants it: TLS 1.3 with mutual authentication (the vehicle certificate),
    then a whole -20 session, in two processes on two namespaces."""
    pki = f"--pki {tmp_path}/pki"
    rc, ev, se = _pair(f"secc -i v2g-secc --protocols iso20-dc,iso20-ac,iso2 {mode} {bpt} --control-mode {control} "
                       f"--tls-only {pki} --once",
                       f"evcc -i v2g-ev --protocols iso20-dc,iso20-ac,iso2 {mode} {bpt} --control-mode {control} "
                       f"--tls {pki} --soc 79 --target-soc 80 --speed 30 --json")
    assert rc == 0, (ev, se)
    res = json.loads(ev[-1])
    assert res["ok"] and res["reason"] == "terminated" and res["soc"] >= 80
    assert res["protocol"] == ("iso20-dc" if mode == "--dc" else "iso20-ac")
    assert res["tls"]["version"] == "TLSv1.3" and res["tls"]["peer_cn"]
    connected = [s for s in se if s.startswith("connected")]
    assert connected and "V2GKITDEMO" in connected[0]  # mutual: the SECC saw the vehicle certificate
    done = [s for s in se if s.startswith("session ")]
    assert done and "ok=True" in done[0] and "protocol=iso20" in done[0]
    assert not any("not compliant" in line for line in ev + se)
