"""V2G Transfer Protocol (ISO 15118-2 7.8.3, ISO 15118-20 Table 12): the 8-byte header and a sans-IO
stream reader.

Every V2G message travels as ``01 FE | payload type (u16) | payload length (u32) | payload``. On TCP the
reader reassembles messages split across segments and splits segments that carry several messages; on
UDP (SDP) one datagram is one message. Header faults never raise out of the reader: they come out as
:class:`HeaderFault` events whose :class:`Action` says what the connection must do (``HEADER_RULES``).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "HEADER_RULES",
    "HEADER_SIZE",
    "INVERSE_VERSION",
    "ISO2_PAYLOAD_TYPES",
    "TCP_PAYLOAD_TYPES",
    "UDP_PAYLOAD_TYPES",
    "VERSION",
    "Action",
    "Fault",
    "HeaderFault",
    "PayloadType",
    "V2GTPError",
    "V2GTPMessage",
    "V2GTPReader",
    "decode_datagram",
    "frame",
    "parse_header",
]

VERSION = 0x01
INVERSE_VERSION = 0xFE
HEADER_SIZE = 8
#: Largest payload accepted by default. The biggest real V2G messages are certificate installation
#: responses of a few kB; 64 kB leaves room for long ISO 15118-20 certificate chains.
DEFAULT_MAX_PAYLOAD = 65536

_HEADER = struct.Struct(">BBHI")
_MAGIC = bytes((VERSION, INVERSE_VERSION))


class PayloadType(enum.IntEnum):
    """Payload types of ISO 15118-2 Table 10 and ISO 15118-20 Table 12."""

    #: SAP (supportedAppProtocol), DIN 70121 and ISO 15118-2 messages
    EXI = 0x8001
    ISO20_COMMON = 0x8002
    ISO20_AC = 0x8003
    ISO20_DC = 0x8004
    ISO20_ACDP = 0x8005
    ISO20_WPT = 0x8006
    ISO20_SCHEDULE_RENEGOTIATION = 0x8101
    ISO20_METERING_CONFIRMATION = 0x8102
    ISO20_ACDP_SYSTEM_STATUS = 0x8103
    ISO20_PARKING_STATUS = 0x8104
    SDP_REQUEST = 0x9000
    SDP_RESPONSE = 0x9001
    SDP_REQUEST_WIRELESS = 0x9002
    SDP_RESPONSE_WIRELESS = 0x9003


#: names of the payload types, for traces and logs
PAYLOAD_TYPE_NAMES: dict[int, str] = {
    PayloadType.EXI: "EXI",
    PayloadType.ISO20_COMMON: "ISO-20 common",
    PayloadType.ISO20_AC: "ISO-20 AC",
    PayloadType.ISO20_DC: "ISO-20 DC",
    PayloadType.ISO20_ACDP: "ISO-20 ACDP",
    PayloadType.ISO20_WPT: "ISO-20 WPT",
    PayloadType.ISO20_SCHEDULE_RENEGOTIATION: "ISO-20 schedule renegotiation",
    PayloadType.ISO20_METERING_CONFIRMATION: "ISO-20 metering confirmation",
    PayloadType.ISO20_ACDP_SYSTEM_STATUS: "ISO-20 ACDP system status",
    PayloadType.ISO20_PARKING_STATUS: "ISO-20 parking status",
    PayloadType.SDP_REQUEST: "SDP request",
    PayloadType.SDP_RESPONSE: "SDP response",
    PayloadType.SDP_REQUEST_WIRELESS: "SDP request (wireless)",
    PayloadType.SDP_RESPONSE_WIRELESS: "SDP response (wireless)",
}

#: the EXI schema set (exi.api name) of each ISO 15118-20 payload type: the payload type names the schema, so
#: one -20 connection carries messages of several (CommonMessages, AC, DC, ACDP, WPT)
ISO20_SCHEMAS: dict[int, str] = {
    PayloadType.ISO20_COMMON: "iso20",
    PayloadType.ISO20_AC: "iso20-ac",
    PayloadType.ISO20_DC: "iso20-dc",
    PayloadType.ISO20_ACDP: "iso20-acdp",
    PayloadType.ISO20_WPT: "iso20-wpt",
}

#: the side streams of ISO 15118-20's multiplexed communication (8.6.5) and the schema set of their messages
ISO20_SIDE_SCHEMAS: dict[int, str] = {PayloadType.ISO20_ACDP_SYSTEM_STATUS: "iso20-acdp"}

#: Payload types that may arrive on the V2G TCP/TLS connection (ISO 15118-20 list)
TCP_PAYLOAD_TYPES = frozenset(p for p in PayloadType if p < 0x9000)
#: ... on the SDP UDP socket
UDP_PAYLOAD_TYPES = frozenset(p for p in PayloadType if p >= 0x9000)
#: DIN 70121 and ISO 15118-2 know only one payload type on TCP
ISO2_PAYLOAD_TYPES = frozenset({PayloadType.EXI})


class Fault(enum.Enum):
    """What can be wrong with a V2GTP header."""

    VERSION = "protocol version or its inverse is not 0x01/0xFE"
    PAYLOAD_TYPE = "payload type not supported here"
    LENGTH_ZERO = "payload length is 0"
    LENGTH_TOO_LARGE = "payload length exceeds the receive limit"
    LENGTH_MISMATCH = "datagram length differs from header length"  # UDP only


class Action(enum.Enum):
    """What the connection does about a fault."""

    #: drop this message (its payload is skipped unread) and keep reading the stream
    DISCARD = "discard"
    #: the stream cannot be trusted any more: stop reading and close the TCP connection
    CLOSE = "close"


#: The rules, in one place. A receiver never answers a bad header (the ISO 15118-4 V2GTP test
#: purposes expect silence until the tester's V2G_Msg_Timeout). A wrong version means the bytes are
#: not V2GTP at all, so the length cannot be trusted either and the TCP connection is closed. A
#: length beyond the receive limit is never buffered; the connection is closed as well since the
#: peer announced something it cannot legitimately send. Unknown payload types and empty payloads
#: leave the stream in sync: the message is dropped and reading goes on.
HEADER_RULES: dict[Fault, Action] = {
    Fault.VERSION: Action.CLOSE,
    Fault.LENGTH_TOO_LARGE: Action.CLOSE,
    Fault.PAYLOAD_TYPE: Action.DISCARD,
    Fault.LENGTH_ZERO: Action.DISCARD,
    Fault.LENGTH_MISMATCH: Action.DISCARD,
}


class V2GTPMessage(NamedTuple):
    """One complete message: the payload without its header (a tuple: cheap on the hot path)."""

    payload_type: int
    payload: bytes

    def to_bytes(self) -> bytes:
        return frame(self.payload_type, self.payload)


class HeaderFault(NamedTuple):
    """A bad header seen by the reader; ``action`` is taken from HEADER_RULES."""

    fault: Fault
    header: bytes
    action: Action
    offset: int  # stream offset of the header

    @property
    def message(self) -> str:
        v, iv, pt, ln = _HEADER.unpack(self.header)
        return (f"V2GTP header at stream offset {self.offset}: {self.fault.value} "
                f"(version 0x{v:02X}/0x{iv:02X}, payload type 0x{pt:04X}, length {ln}); "
                f"{self.action.value}")


class V2GTPError(ValueError):
    """A single datagram or header that cannot be used; ``fault`` says why."""

    def __init__(self, fault: Fault | None, message: str) -> None:
        super().__init__(message)
        self.fault = fault


def frame(payload_type: int, payload: bytes | bytearray | memoryview) -> bytes:
    """Header + payload, ready for the socket."""
    return _HEADER.pack(VERSION, INVERSE_VERSION, payload_type, len(payload)) + payload


def parse_header(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """(payload type, payload length) of a header; V2GTPError when it is short or has a bad version."""
    if len(data) < HEADER_SIZE:
        raise V2GTPError(None, f"V2GTP header needs {HEADER_SIZE} bytes, got {len(data)}")
    v, iv, pt, ln = _HEADER.unpack_from(data)
    if v != VERSION or iv != INVERSE_VERSION:
        raise V2GTPError(Fault.VERSION, f"not V2GTP: version 0x{v:02X}, inverse 0x{iv:02X} "
                                        f"(expected 0x01, 0xFE)")
    return pt, ln


def decode_datagram(data: bytes | bytearray | memoryview,
                    accept: Iterable[int] = UDP_PAYLOAD_TYPES) -> V2GTPMessage:
    """One UDP datagram -> message. Raises V2GTPError with the fault; the caller drops the datagram."""
    pt, ln = parse_header(data)
    if pt not in accept:
        raise V2GTPError(Fault.PAYLOAD_TYPE, f"payload type 0x{pt:04X} not accepted here")
    if ln == 0:
        raise V2GTPError(Fault.LENGTH_ZERO, "payload length is 0")
    if len(data) - HEADER_SIZE != ln:
        raise V2GTPError(Fault.LENGTH_MISMATCH,
                         f"header says {ln} payload bytes, datagram has {len(data) - HEADER_SIZE}")
    return V2GTPMessage(pt, bytes(data[HEADER_SIZE:]))


class ReaderState(enum.Enum):
    HEADER = "reading header"
    PAYLOAD = "reading payload"
    SKIPPING = "skipping a discarded payload"
    CLOSED = "closed after a fatal header fault"


class V2GTPReader:
    """Sans-IO TCP stream reader: ``feed(bytes)`` returns the complete messages and header faults.

    Memory stays bounded by ``max_payload`` whatever a length field claims: a discarded payload is
    counted down, never stored. After a CLOSE fault the reader ignores everything that follows.
    """

    __slots__ = ("_buf", "_need", "_offset", "_type", "accept", "max_payload", "state")

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD,
                 accept: Iterable[int] = TCP_PAYLOAD_TYPES) -> None:
        self.max_payload = max_payload
        self.accept = frozenset(accept)
        self.state = ReaderState.HEADER
        self._buf = bytearray()
        self._type = 0
        self._need = 0  # payload bytes still expected (PAYLOAD) or to skip (SKIPPING)
        self._offset = 0  # stream offset of _buf[0]

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[V2GTPMessage | HeaderFault]:
        if self.state is not ReaderState.HEADER or self._buf:
            if self.state is ReaderState.CLOSED or not data:
                return []
        elif len(data) >= HEADER_SIZE:
            # hottest path: exactly one valid message in the segment
            v, iv, pt, ln = _HEADER.unpack_from(data)
            if (len(data) == HEADER_SIZE + ln and v == VERSION and iv == INVERSE_VERSION and 0 < ln <= self.max_payload
                    and pt in self.accept):
                self._offset += len(data)
                return [V2GTPMessage(pt, bytes(data[HEADER_SIZE:]))]
        out: list[V2GTPMessage | HeaderFault] = []
        if not self._buf and self.state is ReaderState.HEADER:
            # hot path: whole messages straight from the segment, no buffer copy
            data = memoryview(data)
            pos = self._scan(data, 0, out)
            if pos < len(data):
                self._buf += data[pos:]
            self._offset += pos
            return out
        self._buf += data
        with memoryview(self._buf) as mv:
            pos = self._scan(mv, 0, out)
        self._offset += pos
        del self._buf[:pos]
        return out

    def _scan(self, mv: memoryview, pos: int, out: list[V2GTPMessage | HeaderFault]) -> int:
        """Consume as much of mv as possible; returns the position of the first unconsumed byte."""
        end = len(mv)
        while pos < end:
            state = self.state
            if state is ReaderState.HEADER:
                if end - pos < HEADER_SIZE:
                    return pos
                v, iv, pt, ln = _HEADER.unpack_from(mv, pos)
                fault = None
                if v != VERSION or iv != INVERSE_VERSION:
                    fault = Fault.VERSION
                elif ln > self.max_payload:
                    fault = Fault.LENGTH_TOO_LARGE
                elif pt not in self.accept:
                    fault = Fault.PAYLOAD_TYPE
                elif ln == 0:
                    fault = Fault.LENGTH_ZERO
                if fault is None:
                    if end - pos - HEADER_SIZE >= ln:
                        start = pos + HEADER_SIZE
                        out.append(V2GTPMessage(pt, bytes(mv[start:start + ln])))
                        pos = start + ln
                        continue
                    self._type, self._need = pt, ln
                    self.state = ReaderState.PAYLOAD
                    return pos  # keep the header in the buffer until the payload is complete
                action = HEADER_RULES[fault]
                out.append(HeaderFault(fault, bytes(mv[pos:pos + HEADER_SIZE]), action, self._offset + pos))
                pos += HEADER_SIZE
                if action is Action.CLOSE:
                    self.state = ReaderState.CLOSED
                    return end
                if ln:
                    self._need = ln
                    self.state = ReaderState.SKIPPING
            elif state is ReaderState.PAYLOAD:
                if end - pos - HEADER_SIZE < self._need:
                    return pos
                start = pos + HEADER_SIZE
                out.append(V2GTPMessage(self._type, bytes(mv[start:start + self._need])))
                pos = start + self._need
                self.state = ReaderState.HEADER
            elif state is ReaderState.SKIPPING:
                n = min(self._need, end - pos)
                self._need -= n
                pos += n
                if not self._need:
                    self.state = ReaderState.HEADER
            else:
                return end
        return pos
