"""Tracing: pcapng read back by scapy (and tshark when present), an independent block walker, JSON lines."""

from __future__ import annotations

import io
import ipaddress
import json
import math
import os
import shutil
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, load_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgReader

from v2gkit.trace import (
    PAYLOAD_TYPES,
    TRACE_SCHEMAS,
    Endpoint,
    JsonlWriter,
    PcapngWriter,
    TcpFlow,
    Tracer,
    udp,
)
from v2gkit.trace.frames import (
    EV_MAC,
    SECC_MAC,
    destination_mac,
    endpoint_mac,
    eui64_mac,
    hop_limit,
    internet_checksum,
)
from v2gkit.trace.tracer import decode_payload, parse_v2gtp

EV = Endpoint("fe80::1234:56ff:fe78:9abc", 50123)  # EUI-64: MAC 10:34:56:78:9a:bc
EV_EUI_MAC = "10:34:56:78:9a:bc"
SECC = Endpoint("fe80::2", 61000)  # not EUI-64: default SECC MAC
SECC_SDP = Endpoint("fe80::2", 15118)
ALL_NODES = Endpoint("ff02::1", 15118)
T0 = 1739635913.123456
MSS = 1440

FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


def vector(schema: str, message: str) -> bytes:
    """A real EXI stream from the project's sample vectors."""
    for v in load_jsonl(DATA / "vectors_sample.jsonl"):
        if v["schema"] == schema and v["message"] == message and not v.get("negative") and not v["fragment"]:
            return bytes.fromhex(v["hex"])
    raise AssertionError(f"no vector {schema} {message}")


def v2gtp(payload: bytes, ptype: int = 0x8001, version: int = 1) -> bytes:
    return struct.pack("!BBHI", version, version ^ 0xFF, ptype, len(payload)) + payload


def us(ts: float) -> int:
    return round(ts * 1_000_000)


class Session:
    """Drives a Tracer through SDP, one TCP connection with messages both ways, and its close,
    remembering what the pcapng and JSON lines must contain."""

    def __init__(self, tmp: Path) -> None:
        self.pcap_path = tmp / "s.pcapng"
        self.jsonl_path = tmp / "s.jsonl"
        self.times: list[float] = []  # expected timestamp of every packet, in order
        self.to_server = b""
        self.to_client = b""
        self.big = v2gtp(bytes(range(256)) * 14, 0x8001)  # 3592 octets on the wire: 3 segments
        self.bad_header = v2gtp(vector("iso2", "SessionSetupReq"), version=2)
        self.sdp_req = v2gtp(b"\x10\x00", 0x9000)
        self.sdp_res = v2gtp(ipaddress.IPv6Address(SECC.address).packed + struct.pack("!H", SECC.port)
                             + b"\x10\x00", 0x9001)
        self.messages: list[tuple[bool, bytes, str | None]] = [
            (True, v2gtp(vector("apphand", "supportedAppProtocolReq")), "apphand"),
            (False, v2gtp(vector("apphand", "supportedAppProtocolRes")), "apphand"),
            (True, v2gtp(vector("iso2", "SessionSetupReq")), "iso2"),
            (False, v2gtp(vector("iso2", "SessionSetupRes")), "iso2"),
            (False, self.big, None),
            (True, v2gtp(b"\x80\x12\x34\xff\xff\xff\xff\xff"), "iso2"),  # garbage EXI
            (True, self.bad_header, "iso2"),
            (False, v2gtp(vector("iso2", "ServiceDiscoveryRes")), "iso2"),
        ]
        self.msg_times: list[float] = []
        with Tracer(pcapng=self.pcap_path, jsonl=self.jsonl_path, role="EVCC") as t:
            ts = T0
            t.sdp(ts, True, EV, ALL_NODES, self.sdp_req)
            self.times.append(ts)
            ts += 0.012345
            t.sdp(ts, False, SECC_SDP, EV, self.sdp_res)
            self.times.append(ts)
            ts += 0.1
            self.open_ts = ts
            t.tcp_open(ts, "c1", EV, SECC, tls=None)
            self.times += [ts] * 3
            for sent, frame, schema in self.messages:
                ts += 0.010001
                self.msg_times.append(ts)
                t.v2g(ts, "c1", sent, frame, schema=schema)
                self.times += [ts] * (math.ceil(len(frame) / MSS) + 1)
                if sent:
                    self.to_server += frame
                else:
                    self.to_client += frame
            ts += 0.5
            self.close_ts = ts
            t.tcp_close(ts, "c1", by_client=True)
            self.times += [ts] * 3

    def packets(self) -> list[Any]:
        with PcapNgReader(str(self.pcap_path)) as r:
            return list(r)

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.jsonl_path.read_text("utf-8").splitlines()]


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return Session(tmp_path)


# ------------------------------------------------------------------ pcapng read back with scapy


def test_layers_ports_macs_and_timestamps(session: Session) -> None:
    pkts = session.packets()
    assert len(pkts) == len(session.times)
    for p, ts in zip(pkts, session.times):
        assert p.haslayer(Ether) and p.haslayer(IPv6)
        assert p[Ether].type == 0x86DD
        assert p[IPv6].version == 6 and p[IPv6].tc == 0 and p[IPv6].fl == 0
        assert p.haslayer(TCP) != p.haslayer(UDP)
        assert int(p.time * 1_000_000) == us(ts)  # pcapng keeps exact microseconds
        assert p[IPv6].hlim == 255  # every destination here is link-local or multicast

    req, res = pkts[0], pkts[1]
    assert req.haslayer(UDP) and res.haslayer(UDP)
    assert req[IPv6].src == EV.address and req[IPv6].dst == "ff02::1" and req[IPv6].nh == 17
    assert req[UDP].sport == EV.port and req[UDP].dport == 15118
    assert req[Ether].dst == "33:33:00:00:00:01"
    assert req[Ether].src == EV_EUI_MAC
    assert bytes(req[UDP].payload) == session.sdp_req
    assert res[UDP].sport == 15118 and res[UDP].dport == EV.port
    assert res[Ether].src == "02:00:00:00:00:02" and res[Ether].dst == EV_EUI_MAC
    assert bytes(res[UDP].payload) == session.sdp_res

    tcp = pkts[2:]
    assert all(p.haslayer(TCP) and p[IPv6].nh == 6 for p in tcp)
    for p in tcp:
        from_client = p[IPv6].src == EV.address
        if from_client:
            assert (p[TCP].sport, p[TCP].dport) == (EV.port, SECC.port)
            assert (p[Ether].src, p[Ether].dst) == (EV_EUI_MAC, "02:00:00:00:00:02")
            assert p[IPv6].dst == SECC.address
        else:
            assert (p[TCP].sport, p[TCP].dport) == (SECC.port, EV.port)
            assert (p[Ether].src, p[Ether].dst) == ("02:00:00:00:00:02", EV_EUI_MAC)
            assert p[IPv6].src == SECC.address and p[IPv6].dst == EV.address
    syn = tcp[0]
    assert syn[TCP].flags == SYN and ("MSS", MSS) in syn[TCP].options
    assert any(b"c1" in c for c in syn.comments)


def test_tcp_handshake_reassembly_and_sequence_numbers(session: Session) -> None:
    tcp = [p for p in session.packets() if p.haslayer(TCP)]
    flags = [int(p[TCP].flags) for p in tcp]
    assert flags[:3] == [SYN, SYN | ACK, ACK]
    assert flags[-3:] == [FIN | ACK, FIN | ACK, ACK]
    assert tcp[-3][IPv6].src == EV.address  # closed by the client
    assert tcp[1][TCP].options and ("MSS", MSS) in tcp[1][TCP].options

    nxt: dict[bool, int] = {}  # next expected sequence number per direction (True: from client)
    streams: dict[bool, bytes] = {True: b"", False: b""}
    for i, p in enumerate(tcp):
        side = p[IPv6].src == EV.address
        seg = p[TCP]
        data = bytes(seg.payload)
        if seg.flags & SYN:
            nxt[side] = seg.seq
        assert seg.seq == nxt[side], f"packet {i}: seq {seg.seq} != {nxt[side]}"
        if seg.flags & ACK:
            assert seg.ack == nxt[not side], f"packet {i}: ack {seg.ack} != {nxt[not side]}"
        else:
            assert seg.flags == SYN and i == 0
        assert len(data) <= MSS
        if data:
            assert seg.flags == PSH | ACK
        flag_len = (1 if seg.flags & SYN else 0) + (1 if seg.flags & FIN else 0)
        nxt[side] = (seg.seq + len(data) + flag_len) % 2**32
        streams[side] += data
    assert streams[True] == session.to_server
    assert streams[False] == session.to_client
    assert session.bad_header in streams[True]  # written as is despite its bad header

    # every data burst is followed by a bare ACK from the other side, and the big frame was split
    data_pkts = [p for p in tcp if len(p[TCP].payload)]
    big_segments = [p for p in data_pkts if bytes(p[TCP].payload) in session.big]
    assert len(big_segments) == 3 and [len(p[TCP].payload) for p in big_segments] == [1440, 1440, 712]
    for i, p in enumerate(tcp[:-1]):
        nxt_p = tcp[i + 1]
        if len(p[TCP].payload) and not len(nxt_p[TCP].payload) and not nxt_p[TCP].flags & FIN:
            assert nxt_p[TCP].flags == ACK and nxt_p[IPv6].src != p[IPv6].src


def test_checksums_recomputed_by_scapy(session: Session) -> None:
    for p in session.packets():
        layer = TCP if p.haslayer(TCP) else UDP
        original = p[layer].chksum
        copy = p.copy()
        del copy[layer].chksum
        rebuilt = Ether(bytes(copy))
        assert rebuilt[layer].chksum == original
        assert p[IPv6].plen == len(p[IPv6].payload)


def test_tshark_agrees(session: Session) -> None:
    """Wireshark's own engine opens the file and finds every checksum good (.ci/run installs tshark)."""
    if not shutil.which("tshark"):
        if os.environ.get("CI") == "true":
            pytest.fail("tshark is missing: .ci/run installs it (Debian package tshark)")
        pytest.skip("tshark not installed (apt-get install tshark); the scapy checks above still ran")
    cmd = ["tshark", "-r", str(session.pcap_path), "-o", "tcp.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE", "-T", "fields", "-e", "tcp.checksum.status",
           "-e", "udp.checksum.status"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)
    statuses = [s for line in out.stdout.splitlines() for s in line.split("\t") if s]
    assert len(statuses) == len(session.times)
    assert set(statuses) <= {"Good", "1"}  # the name or the value (PROTO_CHECKSUM_E_GOOD = 1)


# ------------------------------------------------------------------ independent block walker


def walk_blocks(raw: bytes) -> list[tuple[int, bytes]]:
    """(block type, body) for every block, checking the length fields at both ends."""
    blocks = []
    pos = 0
    while pos < len(raw):
        btype, total = struct.unpack_from("<II", raw, pos)
        assert total % 4 == 0 and total >= 12 and pos + total <= len(raw)
        (trailer,) = struct.unpack_from("<I", raw, pos + total - 4)
        assert trailer == total
        blocks.append((btype, raw[pos + 8:pos + total - 4]))
        pos += total
    assert pos == len(raw)
    return blocks


def read_options(data: bytes) -> dict[int, bytes]:
    opts: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        code, length = struct.unpack_from("<HH", data, pos)
        if code == 0:
            assert length == 0 and pos + 4 == len(data)
            break
        opts[code] = data[pos + 4:pos + 4 + length]
        pos += 4 + length + (-length % 4)
    return opts


def test_block_structure(session: Session) -> None:
    blocks = walk_blocks(session.pcap_path.read_bytes())
    (shb_type, shb), (idb_type, idb), *epbs = blocks
    assert shb_type == 0x0A0D0D0A
    magic, major, minor, section_len = struct.unpack_from("<IHHq", shb)
    assert magic == 0x1A2B3C4D and (major, minor) == (1, 0) and section_len == -1
    assert b"v2gkit" in read_options(shb[16:])[1]
    assert idb_type == 1
    linktype, _, snaplen = struct.unpack_from("<HHI", idb)
    assert (linktype, snaplen) == (1, 65535)
    assert read_options(idb[8:])[9] == b"\x06"
    assert [t for t, _ in epbs] == [6] * len(session.times)
    for (_, body), ts in zip(epbs, session.times):
        iface, hi, lo, caplen, origlen = struct.unpack_from("<IIIII", body)
        assert iface == 0 and caplen == origlen and (hi << 32 | lo) == us(ts)
        assert len(body) >= 20 + caplen + (-caplen % 4)


def test_writer_on_file_object_truncates_to_snaplen_and_checks_input() -> None:
    buf = io.BytesIO()
    with PcapngWriter(buf) as w:
        w.write_packet(1.0, b"\xaa" * 70000, comment="big")
        w.write_packet(2, b"\x01\x02\x03")
        with pytest.raises(TypeError):
            w.write_packet(3.0, "text")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            w.write_packet(float("nan"), b"x")
        with pytest.raises(ValueError):
            w.write_packet(-1.0, b"x")
        with pytest.raises(TypeError):
            w.write_packet("now", b"x")  # type: ignore[arg-type]
    assert not buf.closed  # the owner's file stays open
    with pytest.raises(ValueError):
        w.write_packet(4.0, b"x")
    blocks = walk_blocks(buf.getvalue())
    assert [t for t, _ in blocks] == [0x0A0D0D0A, 1, 6, 6]
    _, _, _, caplen, origlen = struct.unpack_from("<IIIII", blocks[2][1])
    assert (caplen, origlen) == (65535, 70000)
    assert read_options(blocks[2][1][20 + 65536:])[1] == b"big"
    _, hi, lo, caplen, _ = struct.unpack_from("<IIIII", blocks[3][1])
    assert caplen == 3 and (hi << 32 | lo) == 2_000_000
    with pytest.raises(TypeError):
        PcapngWriter(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------ frames and flows on their own


def test_mac_and_hop_limit_rules() -> None:
    assert eui64_mac(EV.address) == bytes.fromhex("103456789abc")
    assert eui64_mac("fe80::2") is None
    assert eui64_mac("2001:db8::1234:56ff:fe78:9abc") is None  # only link-local addresses
    assert endpoint_mac(SECC, SECC_MAC) == SECC_MAC
    given = bytes.fromhex("021122334455")
    assert endpoint_mac(Endpoint(EV.address, 1, given), EV_MAC) == given  # given beats EUI-64
    assert endpoint_mac(Endpoint("fe80::1", 1, "00:01:02:03:04:05"), EV_MAC) == bytes(range(6))
    assert destination_mac(Endpoint("ff02::1:ff12:3456", 1), EV_MAC) == bytes.fromhex("3333ff123456")
    assert hop_limit("ff02::1") == 255 and hop_limit("fe80::1") == 255 and hop_limit("2001:db8::1") == 64
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D  # RFC 1071 example


def test_flow_implicit_open_global_addresses_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "f.pcapng"
    client, server = Endpoint("2001:db8::10", 40000), Endpoint("2001:db8::20", 15118)
    with PcapngWriter(path) as w:
        flow = TcpFlow(w, client, server, isn_client=0xFFFFFFF0, isn_server=7)
        flow.data(10.0, True, b"A" * 40)  # wraps the client's sequence space
        flow.data(11.0, False, b"")  # nothing to send, nothing written
        flow.close(12.0, from_client=False)
        with pytest.raises(ValueError):
            flow.data(13.0, True, b"late")
        udp(w, 14.0, Endpoint("2001:db8::10", 50000), Endpoint("2001:db8::20", 15118), b"")
    with PcapNgReader(str(path)) as r:
        pkts = list(r)
    assert [int(p[TCP].flags) for p in pkts[:-1]] == [SYN, SYN | ACK, ACK, PSH | ACK, ACK,
                                                        FIN | ACK, FIN | ACK, ACK]
    assert pkts[0][TCP].seq == 0xFFFFFFF0 and pkts[3][TCP].seq == 0xFFFFFFF1
    assert pkts[4][TCP].ack == (0xFFFFFFF1 + 40) % 2**32
    assert pkts[5][IPv6].src == server.address  # closed by the server
    assert all(p[IPv6].hlim == 64 for p in pkts)
    assert pkts[0][Ether].src == "02:00:00:00:00:01" and pkts[0][Ether].dst == "02:00:00:00:00:02"
    u = pkts[-1]
    assert u[UDP].len == 8 and u[Ether].src == "02:00:00:00:00:01"
    copy = u.copy()
    del copy[UDP].chksum
    assert Ether(bytes(copy))[UDP].chksum == u[UDP].chksum != 0


def test_flow_and_udp_reject_bad_input(tmp_path: Path) -> None:
    with PcapngWriter(tmp_path / "x.pcapng") as w:
        with pytest.raises(ValueError, match="IPv6"):
            TcpFlow(w, Endpoint("192.168.1.1", 1), SECC)
        with pytest.raises(ValueError, match="port"):
            TcpFlow(w, Endpoint("fe80::1", 70000), SECC)
        with pytest.raises(TypeError):
            TcpFlow(w, "fe80::1", SECC)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="MAC"):
            TcpFlow(w, Endpoint("fe80::1", 1, b"\x00"), SECC)
        with pytest.raises(ValueError, match="multicast"):
            TcpFlow(w, Endpoint("ff02::1", 1), SECC)
        with pytest.raises(ValueError, match="multicast"):
            udp(w, 1.0, ALL_NODES, EV, b"")
        with pytest.raises(ValueError, match="too large"):
            udp(w, 1.0, EV, ALL_NODES, bytes(65528))
        with pytest.raises(TypeError):
            udp(w, 1.0, EV, ALL_NODES, "payload")  # type: ignore[arg-type]
        flow = TcpFlow(w, EV, SECC)
        flow.open(1.0)
        with pytest.raises(ValueError, match="already open"):
            flow.open(2.0)
        with pytest.raises(TypeError):
            flow.data(2.0, 1, b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TcpFlow("not a writer", EV, SECC)  # type: ignore[arg-type]


# ------------------------------------------------------------------ JSON lines


def test_jsonl_records(session: Session) -> None:
    recs = session.records()
    assert len(recs) == 2 + 1 + len(session.messages) + 1

    req, res, opened = recs[0], recs[1], recs[2]
    whole = datetime.fromtimestamp(1739635913, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert req["ts"] == whole + ".123456Z"
    assert req["t"] == T0
    assert (req["conn"], req["dir"], req["role"]) == ("sdp", "tx", "EVCC")
    assert (req["src"], req["dst"]) == (f"[{EV.address}]:{EV.port}", "[ff02::1]:15118")
    assert (req["payload_type"], req["payload_type_name"], req["length"], req["hex"]) == (
        "0x9000", "SDP request", 2, "1000")
    assert req["sdp"] == {"Security": "none", "TransportProtocol": "TCP"}
    assert (res["dir"], res["payload_type_name"], res["length"]) == ("rx", "SDP response", 20)
    assert res["sdp"]["SeccIpAddress"] == "fe80::2" and res["sdp"]["SeccPort"] == SECC.port
    assert opened["event"] == "tcp_open" and opened["conn"] == "c1" and opened["t"] == session.open_ts
    assert opened["client"] == f"[{EV.address}]:{EV.port}" and opened["server"] == "[fe80::2]:61000"
    assert "tls" not in opened

    msgs = recs[3:3 + len(session.messages)]
    for rec, (sent, frame, schema), ts in zip(msgs, session.messages, session.msg_times):
        assert rec["conn"] == "c1" and rec["t"] == ts and rec["role"] == "EVCC"
        assert rec["dir"] == ("tx" if sent else "rx")
        ev, secc = f"[{EV.address}]:{EV.port}", f"[{SECC.address}]:{SECC.port}"
        assert (rec["src"], rec["dst"]) == ((ev, secc) if sent else (secc, ev))
        assert not ("content" in rec and "error" in rec)

    app_req, app_res, setup_req, setup_res, big, garbage, bad, disc_res = msgs
    payload = vector("apphand", "supportedAppProtocolReq")
    assert (app_req["schema"], app_req["message"]) == ("apphand", "supportedAppProtocolReq")
    assert (app_req["payload_type"], app_req["payload_type_name"]) == ("0x8001", "EXI")
    assert app_req["length"] == len(payload) and app_req["hex"] == payload.hex().upper()
    protocols = app_req["content"]["supportedAppProtocolReq"]["AppProtocol"]
    assert "urn:iso:15118:2:2013:MsgDef" in [p["ProtocolNamespace"] for p in protocols]
    assert "error" not in app_req
    assert app_res["message"] == "supportedAppProtocolRes"
    assert "ResponseCode" in app_res["content"]["supportedAppProtocolRes"]
    assert (setup_req["schema"], setup_req["message"]) == ("iso2", "V2G_Message")
    assert setup_req["body"] == "SessionSetupReq"
    assert "EVCCID" in setup_req["content"]["V2G_Message"]["Body"]["SessionSetupReq"]
    assert setup_res["body"] == "SessionSetupRes" and disc_res["body"] == "ServiceDiscoveryRes"
    assert big["length"] == len(session.big) - 8 and "schema" not in big and "error" not in big
    assert garbage["schema"] == "iso2" and garbage["error"] and "content" not in garbage
    assert bad["error"].startswith("V2GTP header version 0x02") and "payload_type" not in bad
    assert bad["hex"] == session.bad_header.hex().upper() and bad["length"] == len(session.bad_header)

    closed = recs[-1]
    assert closed == {"ts": closed["ts"], "t": session.close_ts, "event": "tcp_close", "conn": "c1",
                      "role": "EVCC", "by": "client"}


def test_secc_role_directions_and_tls_event(tmp_path: Path) -> None:
    pcap, log = io.BytesIO(), io.StringIO()
    t = Tracer(pcapng=pcap, jsonl=log, role="secc")
    t.tcp_open(5.0, "tls-1", EV, SECC, tls={"version": "TLSv1.3", "session_id": b"\x01\x02"})
    t.v2g(5.5, "tls-1", True, v2gtp(vector("apphand", "supportedAppProtocolRes")), schema="apphand")
    t.close()
    t.close()  # idempotent; later calls are no-ops
    t.v2g(6.0, "tls-1", True, b"ignored")
    path = tmp_path / "secc.pcapng"
    path.write_bytes(pcap.getvalue())
    with PcapNgReader(str(path)) as r:
        pkts = list(r)
    data = [p for p in pkts if len(p[TCP].payload)]
    assert len(data) == 1 and data[0][IPv6].src == SECC.address  # SECC sends server -> client
    assert any(b"TLSv1.3" in c for c in pkts[0].comments)
    recs = [json.loads(line) for line in log.getvalue().splitlines()]
    assert recs[0]["tls"] == {"version": "TLSv1.3", "session_id": "0102"}
    assert (recs[1]["role"], recs[1]["dir"], recs[1]["message"]) == ("SECC", "tx", "supportedAppProtocolRes")
    assert recs[1]["src"] == "[fe80::2]:61000"


def test_unannounced_connection_and_close_get_placeholders(tmp_path: Path) -> None:
    log = tmp_path / "u.jsonl"
    with Tracer(pcapng=tmp_path / "u.pcapng", jsonl=log) as t:
        t.v2g(1.0, "ghost", False, v2gtp(b"\x80"), schema="din")
        t.tcp_close(2.0, "ghost", by_client=False)
        t.tcp_close(3.0, "never", by_client=True)
        t.v2g(4.0, "c", True, v2gtp(b"\x80"), schema="no-such-schema")
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert recs[0]["event"] == "tcp_open" and recs[0]["implicit"] is True
    assert recs[1]["dir"] == "rx" and recs[1]["error"]
    assert recs[2]["event"] == "tcp_close" and "error" not in recs[2]
    assert recs[3]["error"] == "connection was not open"
    assert "unknown schema" in recs[5]["error"]
    with PcapNgReader(str(tmp_path / "u.pcapng")) as r:
        pkts = list(r)
    assert b"placeholders" in pkts[0].comments[0]


def test_jsonl_writer_on_binary_and_text_targets() -> None:
    raw = io.BytesIO()
    w = JsonlWriter(raw)
    w.event(0.25, "note", text="é", blob=b"\xab")
    with pytest.raises(ValueError):
        w.write(1.0, {"x": float("nan")})
    with pytest.raises(ValueError):
        w.write(1.0, {"ts": "reserved"})
    with pytest.raises(TypeError):
        w.write(1.0, ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        w.write(1e300, {})
    w.close()
    with pytest.raises(ValueError):
        w.write(1.0, {})
    rec = json.loads(raw.getvalue().decode("utf-8"))
    assert rec == {"ts": "1970-01-01T00:00:00.250000Z", "t": 0.25, "event": "note", "text": "é", "blob": "AB"}


def test_no_outputs_does_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    t = Tracer()
    assert not t.enabled
    t.sdp(1.0, True, EV, ALL_NODES, b"\x01\xfe\x90\x00")
    t.tcp_open(1.0, "c", EV, SECC)
    t.v2g(1.0, "c", True, b"garbage", schema="iso2")
    t.tcp_close(1.0, "c", True)
    t.close()
    assert list(tmp_path.iterdir()) == []


def test_tracer_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="role"):
        Tracer(role="EV")
    with pytest.raises(TypeError):
        Tracer(role=None)  # type: ignore[arg-type]
    with Tracer(jsonl=tmp_path / "a.jsonl") as t:
        with pytest.raises(TypeError):
            t.v2g(1.0, "c", "yes", b"")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            t.v2g(1.0, "c", True, "text")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            t.tcp_open(float("inf"), "c", EV, SECC)
        with pytest.raises(TypeError):
            t.tcp_open(1.0, "c", EV, SECC, tls="TLSv1.3")  # type: ignore[arg-type]


def test_v2gtp_header_parsing_and_payload_table() -> None:
    ok = parse_v2gtp(v2gtp(b"\x80\x00", 0x8004))
    assert (ok.payload_type, ok.payload, ok.error) == (0x8004, b"\x80\x00", None)
    short = parse_v2gtp(b"\x01\xfe\x80")
    assert short.payload_type is None and "shorter" in (short.error or "")
    liar = parse_v2gtp(b"\x01\xfe\x80\x01\x00\x00\x00\x09\x80")
    assert liar.payload_type == 0x8001 and "announces 9" in (liar.error or "")
    assert PAYLOAD_TYPES[0x8001] == "EXI" and PAYLOAD_TYPES[0x9003] == "SDP response (wireless)"
    assert len(PAYLOAD_TYPES) == 14


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=64), schema=st.sampled_from(TRACE_SCHEMAS))
def test_decode_payload_never_raises(payload: bytes, schema: str) -> None:
    fields = decode_payload(b"\x80" + payload, schema)
    assert fields["schema"] == schema
    assert ("content" in fields) != ("error" in fields)
