"""Per case, a pcapng (for Wireshark) and a JSON-lines trace (for people and scripts) from the case's
``CaseResult.wire``.

``<dir>/<case_id>.pcapng`` rebuilds Ethernet/IPv6/UDP|TCP frames around the recorded V2GTP frames with
v2gkit.trace (SDP as UDP to [ff02::1]:15118 and back, each TCP/TLS connection with its handshake, data and
teardown; TLS payloads are shown decrypted and say so). Each packet's comment names the message and any note.
``<dir>/<case_id>.jsonl`` has one line per frame, connection event and step of the case, in time order, with
the fields of v2gkit's session traces (``conn``, ``dir``, ``role``, ``src``, ``dst``, ``payload_type``,
``hex``, ...) plus ``name``, ``content`` (the decoded message) and ``note``; its first line describes the
case.

Endpoints are the result's ``local_endpoint`` (the tester) and ``remote_endpoint`` (the SUT) when set
(``[addr]:port``, ``addr``; IPv4 is shown IPv4-mapped). Otherwise they are placeholders: the tester is
``fe80::1``, the SUT ``fe80::2``; the SECC's TCP port is the one its SDP response announced, else 15118; the
EVCC's port is 49152 (the first dynamic port), one more for each further connection of the case.
"""

from __future__ import annotations

import io
import ipaddress
import math
import os
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from v2gkit.trace import JsonlWriter, PcapngWriter, TcpFlow, udp
from v2gkit.trace.frames import (
    EV_MAC,
    SECC_MAC,
    TCP_ACK,
    TCP_RST,
    Endpoint,
    as_endpoint,
    endpoint_mac,
    is_multicast,
    tcp_frame,
)
from v2gkit.trace.pcapng import SDP_PORT
from v2gkit.v2gtp import HEADER_SIZE, PAYLOAD_TYPE_NAMES, PayloadType

from ..case import CASE_ID, CaseResult, WireRecord, tester_role
from ._text import printable

__all__ = ["PLACEHOLDER_SUT", "PLACEHOLDER_TESTER", "SDP_MULTICAST", "parse_endpoint", "trace_stem",
           "trace_stems", "write_trace", "write_traces"]

#: link-local placeholders when the result does not say where the tester and the SUT were
PLACEHOLDER_TESTER = "fe80::1"
PLACEHOLDER_SUT = "fe80::2"
#: the EVCC's placeholder port: the first dynamic port (RFC 6335); +1 per further connection
PLACEHOLDER_EVCC_PORT = 49152
#: SDP requests go to all nodes on the link ([V2G2-139])
SDP_MULTICAST = "ff02::1"

_OPEN = {"connect", "connected", "open", "tcp_open", "tls_open", "accept", "accepted"}
_CLOSE = {"close", "closed", "fin", "tcp_close", "disconnect", "disconnected"}
_RESET = {"reset", "rst", "abort"}


def trace_stem(case_id: str) -> str:
    """A file name stem for a case ID that cannot leave the folder or surprise a shell."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", case_id).strip("._") or "case"
    return stem[:150]


def parse_endpoint(text: str) -> Endpoint | None:
    """``[addr%scope]:port``, ``[addr]``, ``addr`` or ``a.b.c.d:port`` as an Endpoint (port 0 when none);
    None when it is not an address."""
    text = (text or "").strip()
    if not text:
        return None
    m = re.fullmatch(r"\[([^\]]+)\](?::(\d{1,5}))?", text)
    if m:
        addr, port = m.group(1), m.group(2)
    else:
        m4 = re.fullmatch(r"(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?", text)
        addr, port = (m4.group(1), m4.group(2)) if m4 else (text, None)
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    address = addr if ip.version == 6 else f"::ffff:{ip}"
    p = int(port) if port else 0
    if p > 0xFFFF:
        return None
    try:
        return as_endpoint(Endpoint(address, p))
    except (TypeError, ValueError):
        return None


def _tester_role(r: CaseResult) -> str:
    """"evcc" or "secc": from the ID, else from who sent the SDP request or the first request."""
    if CASE_ID.match(r.case_id):
        return tester_role(r.case_id)
    for w in r.wire:
        if w.payload_type == PayloadType.SDP_REQUEST and w.direction in ("tx", "rx"):
            return "evcc" if w.direction == "tx" else "secc"
        if w.name.endswith("Req") and w.direction in ("tx", "rx"):
            return "evcc" if w.direction == "tx" else "secc"
    return "evcc"


def _announced_secc(wire: list[WireRecord]) -> Endpoint | None:
    """The SECC address and port an SDP response on the wire announced ([V2G2-141]), if it is usable."""
    for w in wire:
        f = bytes(w.frame)
        if w.channel == "sdp" and len(f) == HEADER_SIZE + 20 and f[2:4] == b"\x90\x01":
            addr = str(ipaddress.IPv6Address(f[HEADER_SIZE:HEADER_SIZE + 16]))
            port = int.from_bytes(f[HEADER_SIZE + 16:HEADER_SIZE + 18], "big")
            if is_multicast(addr) or ipaddress.IPv6Address(addr).is_unspecified:
                return None
            return Endpoint(addr, port)
    return None


class _Sides:
    """Who is where: the EVCC (TCP client, SDP client) and the SECC (TCP server)."""

    def __init__(self, r: CaseResult) -> None:
        self.tester = _tester_role(r)
        local, remote = parse_endpoint(r.local_endpoint), parse_endpoint(r.remote_endpoint)
        tester_ep = local or Endpoint(PLACEHOLDER_TESTER, 0)
        sut_ep = remote or Endpoint(PLACEHOLDER_SUT, 0)
        ev, se = (tester_ep, sut_ep) if self.tester == "evcc" else (sut_ep, tester_ep)
        if (remote if self.tester == "evcc" else local) is None:
            announced = _announced_secc(r.wire)
            if announced is not None:
                se = announced
        if is_multicast(ev.address):
            ev = Endpoint(PLACEHOLDER_TESTER if self.tester == "evcc" else PLACEHOLDER_SUT, ev.port)
        if is_multicast(se.address):
            se = Endpoint(PLACEHOLDER_SUT if self.tester == "evcc" else PLACEHOLDER_TESTER, se.port)
        self.ev = Endpoint(ev.address, ev.port or PLACEHOLDER_EVCC_PORT)
        self.se = Endpoint(se.address, se.port or SDP_PORT)
        self.placeholders = local is None or remote is None

    def from_ev(self, w: WireRecord) -> bool:
        """Did the EVCC send this frame? ``tx`` is the tester's; a record without direction is guessed."""
        if w.direction in ("tx", "rx"):
            return (w.direction == "tx") == (self.tester == "evcc")
        if w.payload_type is not None:
            return w.payload_type == PayloadType.SDP_REQUEST or w.name.endswith("Req")
        return self.tester == "evcc"


def _finite(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else 0.0


#: the latest time a trace can carry (the JSON lines' ISO dates end with the year 9999)
_MAX_TS = 253402300799.0


def _ts(base: float, t: float, last: float) -> float:
    """The record's time: the case's start plus ``t``, kept where both formats can write it."""
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
        return last
    return min(base + max(float(t), 0.0), _MAX_TS)


def _v2gtp_fields(frame: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if len(frame) >= HEADER_SIZE:
        version, inverse, ptype, length = struct.unpack("!BBHI", frame[:HEADER_SIZE])
        if version == 1 and inverse == 0xFE:
            fields["payload_type"] = f"0x{ptype:04X}"
            fields["payload_type_name"] = PAYLOAD_TYPE_NAMES.get(ptype, "unknown")
            fields["length"] = len(frame) - HEADER_SIZE
            if length != len(frame) - HEADER_SIZE:
                fields["error"] = (f"V2GTP header announces {length} payload octet(s), frame carries "
                                   f"{len(frame) - HEADER_SIZE}")
        else:
            fields["error"] = (f"V2GTP header version 0x{version:02X} / inverse 0x{inverse:02X}; "
                               "expected 0x01 / 0xFE")
    elif frame:
        fields["error"] = f"frame of {len(frame)} octet(s) is shorter than the 8-octet V2GTP header"
    fields["hex"] = frame.hex().upper()
    return fields


#: characters of a pcapng comment (an option holds at most 65535 octets; a SUT's string may be longer)
COMMENT_LIMIT = 2000


def _comment(*texts: str) -> str | None:
    text = printable(" - ".join(t for t in texts if t))
    if len(text) > COMMENT_LIMIT:
        text = text[:COMMENT_LIMIT - 1] + "…"
    return text or None


#: characters JSON allows raw in a string but line-based readers take for line ends (Python's splitlines,
#: JavaScript before ES2019), and lone surrogates, which UTF-8 cannot hold: written as \uXXXX escapes,
#: which JSON reads back as the same string
_JSON_ODD = re.compile("[\x85\u2028\u2029\ud800-\udfff]")


class _JsonLines(io.TextIOBase):
    """The JSON-lines file: one record per line whatever a SUT's strings hold."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in close()

    def write(self, s: str) -> int:
        self._f.write(_JSON_ODD.sub(lambda m: f"\\u{ord(m.group()):04x}", s))
        return len(s)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self.closed:
            super().close()  # flushes first
            self._f.close()


def _fmt(ep: Endpoint) -> str:
    return f"[{ep.address}]:{ep.port}"


class _CaseTrace:
    def __init__(self, r: CaseResult, pcap: PcapngWriter, jsonl: JsonlWriter) -> None:
        self.r, self.pcap, self.jsonl = r, pcap, jsonl
        self.sides = _Sides(r)
        self.role = self.sides.tester.upper()
        self.flow: TcpFlow | None = None
        self.conn = ""
        self.count = 0
        self.client = self.sides.ev

    def _open(self, ts: float, tls: bool, why: str) -> TcpFlow:
        self.count += 1
        port = self.sides.ev.port + self.count - 1
        self.client = Endpoint(self.sides.ev.address, port if port <= 0xFFFF else PLACEHOLDER_EVCC_PORT)
        self.conn = f"{'tls' if tls else 'tcp'}{self.count}"
        flow = TcpFlow(self.pcap, self.client, self.sides.se)
        comment = f"v2gkit test connection {self.conn} ({why})"
        if tls:
            comment += "; TLS: payload shown decrypted"
        if self.sides.placeholders:
            comment += "; endpoints partly placeholders (the result did not record them)"
        flow.open(ts, comment=comment)
        self.flow = flow
        record: dict[str, Any] = {"event": "tcp_open", "conn": self.conn, "role": self.role,
                                  "client": _fmt(self.client), "server": _fmt(self.sides.se)}
        if tls:
            record["tls"] = True
        self.jsonl.write(ts, record)
        return flow

    def frame(self, ts: float, w: WireRecord) -> None:
        frame = bytes(w.frame)
        from_ev = self.sides.from_ev(w)
        comment = _comment(w.name, w.note)
        fields: dict[str, Any] = {}
        if w.channel == "sdp":
            src = self.sides.ev if from_ev else Endpoint(self.sides.se.address, SDP_PORT)
            dst = Endpoint(SDP_MULTICAST, SDP_PORT) if from_ev else self.sides.ev
            conn = "sdp"
            try:
                udp(self.pcap, ts, src, dst, frame, src_is_ev=from_ev, comment=comment)
            except (TypeError, ValueError) as e:
                fields["pcapng"] = f"not in the pcapng: {e}"
        else:
            tls = w.channel == "tls"
            flow = self.flow or self._open(ts, tls, "first frame")
            conn = self.conn
            src, dst = (self.client, self.sides.se) if from_ev else (self.sides.se, self.client)
            try:
                flow.data(ts, from_ev, frame, comment=comment)
            except (TypeError, ValueError) as e:
                fields["pcapng"] = f"not in the pcapng: {e}"
        direction = w.direction or ("tx" if from_ev == (self.role == "EVCC") else "rx")
        record: dict[str, Any] = {"conn": conn, "dir": direction, "role": self.role, "src": _fmt(src),
                                  "dst": _fmt(dst), "channel": w.channel}
        if w.name:
            record["name"] = w.name
        record.update(_v2gtp_fields(frame))
        if w.payload_type is not None and "payload_type" not in record:
            record["payload_type"] = f"0x{w.payload_type:04X}"
        if w.decoded is not None:
            record["content"] = w.decoded
        if w.note:
            record["note"] = w.note
        record.update(fields)
        self.jsonl.write(ts, record)

    def event(self, ts: float, w: WireRecord) -> None:
        name = w.name.lower()
        by_ev = self.sides.from_ev(w) if w.direction else self.role == "EVCC"
        record: dict[str, Any] = {"event": w.name or "event", "role": self.role,
                                  "by": ("tester" if w.direction != "rx" else "sut")}
        if name in _OPEN:
            if self.flow is not None and not self.flow.closed:
                self.flow.close(ts, by_ev)
            self._open(ts, "tls" in name, w.name)
            record["conn"] = self.conn
        elif name in _CLOSE and self.flow is not None:
            record["conn"] = self.conn
            self.flow.close(ts, by_ev)
            self.flow = None
        elif name in _RESET and self.flow is not None:
            record["conn"] = self.conn
            self._reset(ts, by_ev, w)
            self.flow = None
        if w.note:
            record["note"] = w.note
        self.jsonl.write(ts, record)

    def _reset(self, ts: float, by_ev: bool, w: WireRecord) -> None:
        """A RST+ACK from the side that aborted (TcpFlow only knows orderly closes)."""
        assert self.flow is not None
        seq_c, seq_s = self.flow.next_seq
        c, s = self.client, self.sides.se
        mac_c, mac_s = endpoint_mac(c, EV_MAC), endpoint_mac(s, SECC_MAC)
        if by_ev:
            frame = tcp_frame(c, s, mac_c, mac_s, seq_c, seq_s, TCP_RST | TCP_ACK)
        else:
            frame = tcp_frame(s, c, mac_s, mac_c, seq_s, seq_c, TCP_RST | TCP_ACK)
        self.pcap.write_packet(ts, frame, _comment(w.name, w.note))

    def step(self, ts: float, s: Any) -> None:
        record: dict[str, Any] = {"event": "step", "text": s.text}
        if s.verdict is not None:
            record["verdict"] = s.verdict.value
        self.jsonl.write(ts, record)


def _header(r: CaseResult, sides: _Sides) -> dict[str, Any]:
    tester_ep, sut_ep = (sides.ev, sides.se) if sides.tester == "evcc" else (sides.se, sides.ev)
    return {"event": "case", "case_id": r.case_id, "title": r.title, "verdict": r.verdict.value,
            "reason": r.reason, "sut": r.sut, "protocol": r.protocol, "requirements": list(r.requirements),
            "tester_role": sides.tester.upper(), "tester": _fmt(tester_ep), "sut_endpoint": _fmt(sut_ep),
            "placeholders": sides.placeholders, "seconds": r.seconds if math.isfinite(r.seconds) else None}


def write_trace(directory: str | os.PathLike[str], result: CaseResult, *, stem: str | None = None
                ) -> tuple[Path, Path]:
    """Write ``<stem>.pcapng`` and ``<stem>.jsonl`` (stem: the case ID made file-safe) into ``directory``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or trace_stem(result.case_id)
    pcap_path, jsonl_path = folder / f"{stem}.pcapng", folder / f"{stem}.jsonl"
    base = min(max(_finite(result.started), 0.0), 1e10)
    comment = _comment(f"v2gkit test {result.case_id}: {result.verdict.value}"
                       + (f" ({result.reason})" if result.reason else "")
                       + (f"; SUT {result.sut}" if result.sut else ""))
    comment = comment or "v2gkit test"
    with _JsonLines(jsonl_path) as text, \
            PcapngWriter(pcap_path, comment=comment) as pcap, JsonlWriter(text) as jsonl:
        trace = _CaseTrace(result, pcap, jsonl)
        jsonl.write(base, _header(result, trace.sides))
        items: list[tuple[float, int, int, Any]] = []
        for i, w in enumerate(result.wire):
            items.append((w.t, 0, i, w))
        for i, s in enumerate(result.steps):
            items.append((s.t, 1, i, s))
        items.sort(key=lambda x: (_finite(x[0]), x[1], x[2]))
        last = base
        for t, kind, _, item in items:
            ts = last = _ts(base, t, last)
            if kind == 1:
                trace.step(ts, item)
            elif item.channel == "event":
                trace.event(ts, item)
            else:
                trace.frame(ts, item)
    return pcap_path, jsonl_path


def trace_stems(results: Iterable[CaseResult]) -> list[str]:
    """The file stem of each result's traces: the case ID made file-safe, ``-2``, ``-3``, ... for a case ID
    seen again (the HTML report links with the same names)."""
    out = []
    used: dict[str, int] = {}
    for r in results:
        stem = trace_stem(r.case_id)
        n = used.get(stem.lower(), 0) + 1
        used[stem.lower()] = n
        out.append(stem if n == 1 else f"{stem}-{n}")
    return out


def write_traces(directory: str | os.PathLike[str], results: Iterable[CaseResult]) -> list[tuple[Path, Path]]:
    """:func:`write_trace` for each result, named by :func:`trace_stems`."""
    results = list(results)
    stems = trace_stems(results)
    return [write_trace(directory, r, stem=stem) for r, stem in zip(results, stems, strict=True)]
