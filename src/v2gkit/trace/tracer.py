"""The one object network adapters call to record a session as pcapng and/or JSON lines.

Adapters only see socket payloads; the tracer rebuilds TCP/UDP frames around them for the pcapng
and decodes EXI for the JSON lines. It is a no-op when no output is configured, and a payload
that does not decode is logged as an error, never raised into the charging session.
"""

from __future__ import annotations

import ipaddress
import os
import struct
import zlib
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, BinaryIO

from v2gkit.exi.api import decode_element
from v2gkit.exi.convert import to_json_obj
from v2gkit.exi.errors import ExiError
from v2gkit.v2gtp import (
    HEADER_SIZE,
    INVERSE_VERSION,
    ISO20_SCHEMAS,
    ISO20_SIDE_SCHEMAS,
    PAYLOAD_TYPE_NAMES,
    VERSION,
    PayloadType,
)

from .frames import Endpoint, as_endpoint
from .jsonl import JsonlWriter
from .pcapng import SDP_PORT, PcapngWriter, TcpFlow, timestamp_us, udp

#: V2GTP payload types ([V2G2-107], ISO 15118-20 table 13) -> names used in the JSON lines (one home: v2gtp)
PAYLOAD_TYPES: dict[int, str] = {int(k): v for k, v in PAYLOAD_TYPE_NAMES.items()}

#: schema sets a V2GTP payload may be decoded with (xmldsig is fragments only, never a whole message)
TRACE_SCHEMAS: tuple[str, ...] = ("apphand", "din", "iso2", "iso20", "iso20-ac", "iso20-dc", "iso20-wpt",
                                  "iso20-acdp")

ROLES: tuple[str, ...] = ("EVCC", "SECC")


_SDP_SECURITY = {0x00: "TLS", 0x10: "none"}
_SDP_TRANSPORT = {0x00: "TCP", 0x10: "UDP"}


@dataclass(frozen=True)
class V2gtpInfo:
    """What the V2GTP header says, for logging; ``error`` is set when it is not a valid header."""

    payload_type: int | None
    payload: bytes
    error: str | None


def parse_v2gtp(frame: bytes) -> V2gtpInfo:
    """Split a V2GTP frame; an invalid header leaves the whole frame as payload and explains why."""
    if len(frame) < HEADER_SIZE:
        return V2gtpInfo(None, frame,
                         f"frame of {len(frame)} octet(s) is shorter than the 8-octet V2GTP header")
    version, inverse, ptype, length = struct.unpack("!BBHI", frame[:HEADER_SIZE])
    if version != VERSION or inverse != INVERSE_VERSION:
        return V2gtpInfo(None, frame, f"V2GTP header version 0x{version:02X} / inverse 0x{inverse:02X}; "
                                      "expected 0x01 / 0xFE")
    payload = frame[HEADER_SIZE:]
    error = None
    if length != len(payload):
        error = f"V2GTP header announces {length} payload octet(s), frame carries {len(payload)}"
    return V2gtpInfo(ptype, payload, error)


def format_endpoint(ep: Endpoint) -> str:
    """'[addr]:port', the usual notation for IPv6 socket addresses."""
    return f"[{ep.address}]:{ep.port}"


def _sdp_fields(ptype: int, payload: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """Readable SDP request/response fields ([V2G2-140..142]); wireless variants are left as hex."""
    def code(table: dict[int, str], value: int) -> str:
        return table.get(value, f"0x{value:02X}")

    if ptype == PayloadType.SDP_REQUEST:
        if len(payload) != 2:
            return None, f"SDP request payload must be 2 octets, got {len(payload)}"
        return {"Security": code(_SDP_SECURITY, payload[0]),
                "TransportProtocol": code(_SDP_TRANSPORT, payload[1])}, None
    if ptype == PayloadType.SDP_RESPONSE:
        if len(payload) != 20:
            return None, f"SDP response payload must be 20 octets, got {len(payload)}"
        return {"SeccIpAddress": str(ipaddress.IPv6Address(payload[:16])),
                "SeccPort": int.from_bytes(payload[16:18], "big"),
                "Security": code(_SDP_SECURITY, payload[18]),
                "TransportProtocol": code(_SDP_TRANSPORT, payload[19])}, None
    return None, None


def decode_payload(payload: bytes, schema: str) -> dict[str, Any]:
    """Decode an EXI payload for the log: schema, message and content, or schema and error."""
    fields: dict[str, Any] = {"schema": schema}
    if schema not in TRACE_SCHEMAS:
        fields["error"] = f"unknown schema {schema!r}; choose one of: {' '.join(TRACE_SCHEMAS)}"
        return fields
    try:
        root, obj = decode_element(payload, schema, strict=False)
        content = to_json_obj(obj, element=root)
    except (ExiError, ValueError) as e:
        fields["error"] = str(e)
        return fields
    except Exception as e:  # noqa: BLE001 - a decoder bug must not break the charging session
        fields["error"] = f"internal decoder error ({type(e).__name__}: {e})"
        return fields
    fields["message"] = root
    body = content.get("V2G_Message", {}).get("Body") if root == "V2G_Message" else None
    if isinstance(body, dict) and len(body) == 1:
        fields["body"] = next(iter(body))
    fields["content"] = content
    return fields


@dataclass
class _Conn:
    """What the tracer remembers about one TCP connection."""

    client: Endpoint
    server: Endpoint
    flow: TcpFlow | None


def _check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be a bool, got {type(value).__name__}")
    return value


def _check_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def _check_frame(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"frame must be bytes, got {type(value).__name__}")
    return bytes(value)


def _tls_comment(tls: dict[str, Any]) -> str:
    """A one-line summary of the TLS parameters for the SYN's pcapng comment."""
    parts = [f"{k}={v.hex() if isinstance(v, (bytes, bytearray)) else v}" for k, v in tls.items()]
    return "TLS (payload shown decrypted): " + ", ".join(parts)


#: a trace file is rotated at this size (pcapng and JSON lines each; a full session takes ~0.2 MB)
TRACE_MAX_BYTES = 64 * 1024 * 1024
#: ... and this many rotated files are kept beside it (path.1 newest)
TRACE_BACKUPS = 4


class Tracer:
    """Records SDP datagrams and V2GTP-over-TCP messages as pcapng and/or JSON lines.

    Outputs are paths (opened and closed by the tracer, rotated at ``max_bytes`` with ``backups`` old
    files kept; None: never rotated) or file objects (left open, never rotated).
    ``role`` is the endpoint that owns the tracer: the EVCC is the TCP client, the SECC the
    server, which turns ``sent`` into a direction on the wire and ``tx``/``rx`` in the log.
    Argument errors raise TypeError/ValueError; decoding problems only ever become ``error`` fields.
    """

    def __init__(self, pcapng: str | os.PathLike[str] | BinaryIO | None = None,
                 jsonl: str | os.PathLike[str] | IO[Any] | None = None, role: str = "EVCC", *,
                 max_bytes: int | None = TRACE_MAX_BYTES, backups: int = TRACE_BACKUPS) -> None:
        if not isinstance(role, str):
            raise TypeError(f"role must be a str, got {type(role).__name__}")
        if role.upper() not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        self.role = role.upper()
        self._pcap: PcapngWriter | None = None
        self._jsonl: JsonlWriter | None = None
        self._conns: dict[str, _Conn] = {}
        if pcapng is not None:
            self._pcap = PcapngWriter(pcapng, max_bytes=max_bytes, backups=backups)
        if jsonl is not None:
            try:
                self._jsonl = JsonlWriter(jsonl, max_bytes=max_bytes, backups=backups)
            except BaseException:
                if self._pcap is not None:
                    self._pcap.close()
                raise

    @property
    def enabled(self) -> bool:
        """False when there is nothing to write (no outputs, or closed): every call returns at once."""
        return self._pcap is not None or self._jsonl is not None

    def _from_client(self, sent: bool) -> bool:
        """The EVCC is the TCP client, so what it sends goes client -> server."""
        return sent if self.role == "EVCC" else not sent

    def _direction(self, sent: bool) -> str:
        return "tx" if sent else "rx"

    def _payload_fields(self, info: V2gtpInfo) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if info.payload_type is not None:
            fields["payload_type"] = f"0x{info.payload_type:04X}"
            fields["payload_type_name"] = PAYLOAD_TYPES.get(info.payload_type, "unknown")
        fields["length"] = len(info.payload)
        fields["hex"] = info.payload.hex().upper()
        return fields

    @staticmethod
    def _add_error(fields: dict[str, Any], error: str | None) -> None:
        if error:
            fields["error"] = f"{fields['error']}; {error}" if "error" in fields else error

    def _write_json(self, ts: float, fields: dict[str, Any]) -> None:
        """Write a record; a content the JSON encoder rejects is replaced by an error, not raised."""
        assert self._jsonl is not None
        try:
            self._jsonl.write(ts, fields)
        except ValueError as e:
            if "content" not in fields:
                raise
            fields = {k: v for k, v in fields.items() if k != "content"}
            self._add_error(fields, str(e))
            self._jsonl.write(ts, fields)

    def sdp(self, ts: float, sent: bool, src: Endpoint, dst: Endpoint, frame: bytes) -> None:
        """One SDP datagram (V2GTP header + payload), e.g. EV -> [ff02::1]:15118 or SECC -> EV."""
        if not self.enabled:
            return
        timestamp_us(ts)
        _check_bool(sent, "sent")
        src = as_endpoint(src, "source")
        dst = as_endpoint(dst, "destination")
        frame = _check_frame(frame)
        if self._pcap is not None:
            src_is_ev = sent if self.role == "EVCC" else not sent
            udp(self._pcap, ts, src, dst, frame, src_is_ev=src_is_ev)
        if self._jsonl is not None:
            info = parse_v2gtp(frame)
            fields: dict[str, Any] = {"conn": "sdp", "dir": self._direction(sent), "role": self.role,
                                      "src": format_endpoint(src), "dst": format_endpoint(dst)}
            fields.update(self._payload_fields(info))
            self._add_error(fields, info.error)
            if info.payload_type is not None:
                sdp, error = _sdp_fields(info.payload_type, info.payload)
                if sdp is not None:
                    fields["sdp"] = sdp
                self._add_error(fields, error)
            self._write_json(ts, fields)

    def tcp_open(self, ts: float, conn: str, client: Endpoint, server: Endpoint,
                 tls: dict[str, Any] | None = None) -> None:
        """A TCP (or TLS) connection was established; writes the handshake and a ``tcp_open`` event."""
        if not self.enabled:
            return
        timestamp_us(ts)
        _check_str(conn, "conn")
        client = as_endpoint(client, "client")
        server = as_endpoint(server, "server")
        if tls is not None and not isinstance(tls, dict):
            raise TypeError(f"tls must be a dict or None, got {type(tls).__name__}")
        self._open(ts, conn, client, server, tls, implicit=False)

    def _open(self, ts: float, conn: str, client: Endpoint, server: Endpoint, tls: dict[str, Any] | None,
              implicit: bool) -> _Conn:
        flow = None
        if self._pcap is not None:
            flow = TcpFlow(self._pcap, client, server)
            comment = f"v2gkit connection {conn}"
            if implicit:
                comment += " (not announced with tcp_open: endpoints are placeholders)"
            if tls:
                comment += "; " + _tls_comment(tls)
            flow.open(ts, comment=comment)
        state = self._conns[conn] = _Conn(client, server, flow)
        if self._jsonl is not None:
            fields: dict[str, Any] = {"event": "tcp_open", "conn": conn, "role": self.role,
                                      "client": format_endpoint(client), "server": format_endpoint(server)}
            if tls is not None:
                fields["tls"] = tls
            if implicit:
                fields["implicit"] = True
            self._jsonl.write(ts, fields)
        return state

    def _placeholder(self, ts: float, conn: str) -> _Conn:
        """Invent endpoints for a connection the adapter never announced, rather than fail."""
        port = 49152 + zlib.crc32(conn.encode("utf-8", "replace")) % 16384
        client, server = Endpoint("fe80::1", port), Endpoint("fe80::2", SDP_PORT)
        return self._open(ts, conn, client, server, None, implicit=True)

    def v2g(self, ts: float, conn: str, sent: bool, frame: bytes, schema: str | None = None) -> None:
        """One V2GTP message as sent on the wire; ``schema`` (apphand, din, iso2, iso20...) decodes it."""
        if not self.enabled:
            return
        timestamp_us(ts)
        _check_str(conn, "conn")
        _check_bool(sent, "sent")
        frame = _check_frame(frame)
        if schema is not None:
            _check_str(schema, "schema")
        state = self._conns.get(conn) or self._placeholder(ts, conn)
        from_client = self._from_client(sent)
        if state.flow is not None:
            state.flow.data(ts, from_client, frame)
        if self._jsonl is not None:
            src, dst = (state.client, state.server) if from_client else (state.server, state.client)
            info = parse_v2gtp(frame)
            fields: dict[str, Any] = {"conn": conn, "dir": self._direction(sent), "role": self.role,
                                      "src": format_endpoint(src), "dst": format_endpoint(dst)}
            fields.update(self._payload_fields(info))
            self._add_error(fields, info.error)
            if schema is not None and info.payload_type is not None:
                # a -20 connection mixes schema sets: the payload type names each message's
                pt = info.payload_type
                decoded = decode_payload(info.payload, ISO20_SCHEMAS.get(pt) or ISO20_SIDE_SCHEMAS.get(pt) or schema)
                error = decoded.pop("error", None)
                fields.update(decoded)
                self._add_error(fields, error)
            self._write_json(ts, fields)

    def tcp_close(self, ts: float, conn: str, by_client: bool) -> None:
        """The connection ended; writes the FIN exchange and a ``tcp_close`` event."""
        if not self.enabled:
            return
        timestamp_us(ts)
        _check_str(conn, "conn")
        _check_bool(by_client, "by_client")
        state = self._conns.pop(conn, None)
        if state is not None and state.flow is not None:
            state.flow.close(ts, by_client)
        if self._jsonl is not None:
            fields: dict[str, Any] = {"event": "tcp_close", "conn": conn, "role": self.role,
                                      "by": "client" if by_client else "server"}
            if state is None:
                fields["error"] = "connection was not open"
            self._jsonl.write(ts, fields)

    def close(self) -> None:
        """Close both outputs; later calls are no-ops. Open connections are left without FIN."""
        pcap, jsonl = self._pcap, self._jsonl
        self._pcap = self._jsonl = None
        self._conns.clear()
        try:
            if pcap is not None:
                pcap.close()
        finally:
            if jsonl is not None:
                jsonl.close()

    def __enter__(self) -> Tracer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
