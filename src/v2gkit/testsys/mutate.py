"""Byte-level faults for the test system: broken V2GTP headers, malformed EXI, bad SDP datagrams, and TCP
stream shapes. Pure functions: bytes in, bytes out; no sockets, clock or randomness beyond a given seed.

Each fault builder returns a :class:`Mutation`: the bytes to put on the wire, what a correct receiver does
with them (:class:`Expect`, the basis of a case's verdict) and, where v2gkit's own readers can say exactly
how they refuse it, the V2GTP :class:`~v2gkit.v2gtp.Fault` or the typed EXI error and its bit offset. The
expectations follow ``v2gtp.HEADER_RULES`` (a receiver never answers a bad header; a header it cannot trust
closes the connection) and the ISO 15118-4 test purposes (the SUT ignores a bad V2GTP header or SDP
request: the tester sees its message timeout). The stream shapers (:func:`split`, :func:`merge`,
:func:`reshape`) return the chunks the network adapter writes one by one; a correct receiver reassembles
them (``Expect.PROCESS``).
"""

from __future__ import annotations

import enum
import ipaddress
import itertools
import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..exi.api import decode_element, schema_module
from ..exi.errors import ExiError, ExiEventCodeError, ExiHeaderError, ExiTrailingDataError, ExiTruncatedError
from ..sdp import REQUEST_SIZE, RESPONSE_SIZE, Security, Transport
from ..v2gtp import (
    DEFAULT_MAX_PAYLOAD,
    HEADER_RULES,
    HEADER_SIZE,
    INVERSE_VERSION,
    VERSION,
    Action,
    Fault,
    PayloadType,
)

__all__ = [
    "Expect",
    "Mutation",
    "exi_bad_first_event",
    "exi_bad_header",
    "exi_flipped",
    "exi_random",
    "exi_trailing",
    "exi_truncated",
    "exi_truncated_bits",
    "header_inverse",
    "header_length_huge",
    "header_length_long",
    "header_length_short",
    "header_length_zero",
    "header_payload_type",
    "header_version",
    "merge",
    "raw_frame",
    "reshape",
    "sdp_req_inverse",
    "sdp_req_length",
    "sdp_req_payload_type",
    "sdp_req_security",
    "sdp_req_size",
    "sdp_req_transport",
    "sdp_req_version",
    "sdp_request_datagram",
    "sdp_res_address",
    "sdp_res_length",
    "sdp_res_payload_type",
    "sdp_res_port_zero",
    "sdp_res_security",
    "sdp_res_transport",
    "sdp_response_datagram",
    "split",
    "split_every",
]

_HEADER = struct.Struct(">BBHI")
#: the payload type ISO 15118-4 uses for "not a V2GTP payload type" on TCP (TC_SECC_CMN_VTB_V2GTPSessionSetup_003)
UNKNOWN_TCP_PAYLOAD_TYPE = 0x7001
#: ... and on UDP (TC_SECC_CMN_VTB_V2GTPSDP_003)
UNKNOWN_UDP_PAYLOAD_TYPE = 0x7000
#: a byte that is not 0x01 nor 0xFE (ISO 15118-4 V2GTP cases use 0xFF for both version fields)
BAD_VERSION = 0xFF
#: a Security / TransportProtocol value the SDP defines for neither (0x00 and 0x10 are defined)
RESERVED_SDP_VALUE = 0x20


class Expect(enum.Enum):
    """What a correct receiver does with a fault (a case turns it into its verdict)."""

    #: reassembles the stream and answers as if the bytes had come in one piece
    PROCESS = "processes it normally"
    #: drops the message unanswered and keeps reading the stream (HEADER_RULES Action.DISCARD)
    DISCARD = "drops the message unanswered and keeps the connection"
    #: answers nothing and closes the TCP connection (HEADER_RULES Action.CLOSE)
    CLOSE = "answers nothing and closes the TCP connection"
    #: waits for bytes that never come: answers nothing until its own timeout ends the session
    STALL = "answers nothing, waiting for the rest of the message, until its own timeout"
    #: does not act on an undecodable message: answers ResponseCode FAILED or closes the TCP connection
    #: (it cannot tell which message it was, so a normal answer is wrong; v2gkit closes: Reason.UNDECODABLE)
    REFUSE = "never answers normally: a FAILED response or closing the TCP connection"
    #: an SECC drops the SDP request datagram: no SDP response (ISO 15118-4 V2GTPSDP: SDP message timeout)
    NO_ANSWER = "sends no SDP response"
    #: an EVCC drops the SDP response and keeps asking, up to its request limit; it never connects to it
    IGNORE = "ignores the SDP response and keeps asking"


@dataclass(frozen=True, slots=True)
class Mutation:
    """A fault ready for the wire: a V2GTP frame (TCP), an EXI payload (frame it with v2gtp.frame) or a
    whole SDP datagram (UDP)."""

    data: bytes
    expect: Expect
    why: str
    #: the V2GTP header fault v2gkit's reader (V2GTPReader, decode_datagram) reports first, if any
    fault: Fault | None = None
    #: the typed error v2gkit's EXI decoder raises (strictly), if one is certain
    error: type[ExiError] | None = None
    #: ... and the bit offset it names, when it is known without decoding
    bit: int | None = None

    def __bytes__(self) -> bytes:
        return self.data


def _on_tcp(fault: Fault) -> Expect:
    """The HEADER_RULES action of a header fault, as an expectation."""
    return Expect.CLOSE if HEADER_RULES[fault] is Action.CLOSE else Expect.DISCARD


# ------------------------------------------------------------------------------------ V2GTP headers (TCP)


def raw_frame(payload: bytes, *, payload_type: int = PayloadType.EXI, version: int = VERSION,
              inverse: int = INVERSE_VERSION, length: int | None = None) -> bytes:
    """A V2GTP frame with any header field set as given (``length`` None: the payload's length)."""
    n = len(payload) if length is None else length
    return _HEADER.pack(version, inverse, payload_type, n) + bytes(payload)


def header_version(payload: bytes, payload_type: int = PayloadType.EXI, version: int = BAD_VERSION) -> Mutation:
    """Protocol version not 0x01 (TC_SECC_CMN_VTB_V2GTPSessionSetup_004): the bytes are not V2GTP, so the length
    cannot be trusted either: no answer, the connection is closed (HEADER_RULES)."""
    if version == VERSION:
        raise ValueError(f"version 0x{version:02X} is the valid one")
    return Mutation(raw_frame(payload, payload_type=payload_type, version=version), _on_tcp(Fault.VERSION),
                    f"V2GTP protocol version 0x{version:02X}", Fault.VERSION)


def header_inverse(payload: bytes, payload_type: int = PayloadType.EXI, inverse: int = BAD_VERSION) -> Mutation:
    """Inverse protocol version not 0xFE (TC_SECC_CMN_VTB_V2GTPSessionSetup_005): treated as a wrong version."""
    if inverse == INVERSE_VERSION:
        raise ValueError(f"inverse version 0x{inverse:02X} is the valid one")
    return Mutation(raw_frame(payload, payload_type=payload_type, inverse=inverse), _on_tcp(Fault.VERSION),
                    f"V2GTP inverse protocol version 0x{inverse:02X}", Fault.VERSION)


def header_payload_type(payload: bytes, payload_type: int = UNKNOWN_TCP_PAYLOAD_TYPE) -> Mutation:
    """A payload type the connection does not carry (TC_SECC_CMN_VTB_V2GTPSessionSetup_003 uses 0x7001; an
    ISO 15118-20 type on a DIN/ISO-2 connection, or an SDP type on TCP, are the same fault): the length is
    sound, so the message is skipped unanswered and the stream stays in sync (HEADER_RULES DISCARD)."""
    if payload_type == PayloadType.EXI:
        raise ValueError("0x8001 is carried by every V2G TCP connection")
    return Mutation(raw_frame(payload, payload_type=payload_type), _on_tcp(Fault.PAYLOAD_TYPE),
                    f"V2GTP payload type 0x{payload_type:04X}", Fault.PAYLOAD_TYPE)


def header_length_zero(payload: bytes, payload_type: int = PayloadType.EXI, with_payload: bool = True) -> Mutation:
    """Payload length 0 (TC_SECC_CMN_VTB_V2GTPSessionSetup_002): the empty message is dropped (HEADER_RULES
    DISCARD). ``with_payload``: the payload still follows the header, as the test case sends it; the receiver
    then reads its first 8 bytes as the next header. An EXI payload (0x80 ...) is no V2GTP header: the
    connection is closed; a payload shorter than a header leaves the receiver waiting. Either way the SUT
    answers nothing, which is what the test case checks (its V2G_Msg_Timeout)."""
    data = raw_frame(payload if with_payload else b"", payload_type=payload_type, length=0)
    if not with_payload or not payload:
        expect = _on_tcp(Fault.LENGTH_ZERO)
    elif len(payload) < HEADER_SIZE:
        expect = Expect.STALL
    elif payload[:2] != bytes((VERSION, INVERSE_VERSION)):
        expect = _on_tcp(Fault.VERSION)
    else:
        raise ValueError("the payload is itself a V2GTP frame: say with_payload=False and send it after")
    return Mutation(data, expect, "V2GTP payload length 0" + (" (payload follows)" if with_payload else ""),
                    Fault.LENGTH_ZERO)


def header_length_short(payload: bytes, payload_type: int = PayloadType.EXI, by: int = 1) -> Mutation:
    """Payload length ``by`` bytes short of the payload: the receiver takes the first part as the message (an
    EXI document cut short: its decoder refuses it) and the rest as the start of the next header."""
    if not 0 < by < len(payload):
        raise ValueError(f"by must be 1..{len(payload) - 1} for a payload of {len(payload)} bytes")
    return Mutation(raw_frame(payload, payload_type=payload_type, length=len(payload) - by), Expect.REFUSE,
                    f"V2GTP payload length {len(payload) - by}, payload has {len(payload)} bytes")


def header_length_long(payload: bytes, payload_type: int = PayloadType.EXI, by: int = 1,
                       limit: int = DEFAULT_MAX_PAYLOAD) -> Mutation:
    """Payload length ``by`` bytes beyond the payload: the receiver waits for the rest (``limit``: the largest
    payload it accepts; a length beyond it is refused at once and the connection closed, HEADER_RULES)."""
    if by < 1:
        raise ValueError("by must be at least 1")
    n = len(payload) + by
    if n > 0xFFFFFFFF:
        raise ValueError("the length field has 32 bits")
    too_large = n > limit
    return Mutation(raw_frame(payload, payload_type=payload_type, length=n),
                    _on_tcp(Fault.LENGTH_TOO_LARGE) if too_large else Expect.STALL,
                    f"V2GTP payload length {n}, payload has {len(payload)} bytes",
                    Fault.LENGTH_TOO_LARGE if too_large else None)


def header_length_huge(payload: bytes, payload_type: int = PayloadType.EXI, length: int = 0xFFFFFFFF,
                       limit: int = DEFAULT_MAX_PAYLOAD) -> Mutation:
    """A length no receiver buffers (4 GiB by default): refused before a byte of it is stored and the
    connection closed (HEADER_RULES); memory stays bounded whatever the field says."""
    if not limit < length <= 0xFFFFFFFF:
        raise ValueError(f"length must be above the receive limit {limit} and fit 32 bits")
    return Mutation(raw_frame(payload, payload_type=payload_type, length=length), _on_tcp(Fault.LENGTH_TOO_LARGE),
                    f"V2GTP payload length {length}", Fault.LENGTH_TOO_LARGE)


# ------------------------------------------------------------------------------------ malformed EXI


def exi_truncated(exi: bytes, nbytes: int) -> Mutation:
    """The first ``nbytes`` octets of an EXI document: every value or event past the cut is missing, so the
    decoder runs out of stream (ExiTruncatedError; at the cut, or where a string or binary claims more octets
    than are left)."""
    if not 0 <= nbytes < len(exi):
        raise ValueError(f"nbytes must be 0..{len(exi) - 1} to cut a document of {len(exi)} octets")
    return Mutation(bytes(exi[:nbytes]), Expect.REFUSE, f"EXI document cut after {nbytes} of {len(exi)} octets",
                    error=ExiTruncatedError)


def exi_truncated_bits(exi: bytes, nbits: int, schema: str) -> Mutation:
    """The first ``nbits`` bits of an EXI document of ``schema``, padded with zero bits to a whole octet as EXI
    pads. The zero bits are read as events and values, so the decoder may fail on them before it runs out of
    stream; the expectation is what v2gkit's decoder makes of the result. A cut inside the final padding
    changes nothing, and the builder refuses it."""
    if not 8 <= nbits < 8 * len(exi):
        raise ValueError(f"nbits must be 8..{8 * len(exi) - 1} (the EXI header octet is kept)")
    n = (nbits + 7) // 8
    keep = int.from_bytes(exi[:n], "big") & ~((1 << (8 * n - nbits)) - 1)
    data = keep.to_bytes(n, "big")
    if data == bytes(exi):
        raise ValueError(f"the bits after bit {nbits} are zero padding: cutting them changes nothing")
    return _judged(data, schema, f"EXI document cut after bit {nbits} of {8 * len(exi)}")


def _judged(data: bytes, schema: str, why: str) -> Mutation:
    """A mutation whose outcome is not fixed by construction: v2gkit's strict decoder says what it is."""
    try:
        decode_element(data, schema)
    except ExiError as e:
        return Mutation(data, Expect.REFUSE, why, error=type(e), bit=e.bit_offset)
    return Mutation(data, Expect.PROCESS, why + " (still a well-formed document)")


#: EXI header variants V2G forbids (it requires exactly 0x80: no cookie, no options, final format version 1)
EXI_HEADERS: dict[str, str] = {
    "cookie": "the '$EXI' cookie before the header",
    "options": "the options-presence bit set (0xA0)",
    "preview": "a preview format version (0x90)",
    "version": "format version 2 (0x81)",
    "distinguishing": "distinguishing bits 11 instead of 10 (0xC0)",
}
_HEADER_BYTE = {"options": 0xA0, "preview": 0x90, "version": 0x81, "distinguishing": 0xC0}


def exi_bad_header(exi: bytes, kind: str = "options") -> Mutation:
    """An EXI header other than V2G's 0x80 (see EXI_HEADERS): the decoder refuses at bit 0 (ExiHeaderError)."""
    if kind not in EXI_HEADERS:
        raise ValueError(f"unknown EXI header fault {kind!r}; choose one of: {', '.join(EXI_HEADERS)}")
    data = b"$EXI" + bytes(exi) if kind == "cookie" else bytes((_HEADER_BYTE[kind],)) + bytes(exi[1:])
    return Mutation(data, Expect.REFUSE, f"EXI header with {EXI_HEADERS[kind]}", error=ExiHeaderError, bit=0)


def exi_flipped(exi: bytes, bits: Iterable[int], schema: str) -> Mutation:
    """The document with the given bits inverted (bit 0: the most significant bit of the first octet).

    What follows depends on the bit: in the header, ExiHeaderError at 0; in an event code, usually an event the
    grammar refuses there (ExiEventCodeError) or a different but well-formed document; in a value, a different
    value. A receiver must refuse what does not decode and take what does as the message it decodes to; the
    expectation is what v2gkit's strict decoder makes of it (``schema``: the document's schema set)."""
    buf = bytearray(exi)
    flipped = sorted(set(bits))
    if not flipped:
        raise ValueError("name at least one bit")
    for b in flipped:
        if not 0 <= b < 8 * len(buf):
            raise ValueError(f"bit {b} is outside the {len(buf)}-octet document")
        buf[b >> 3] ^= 0x80 >> (b & 7)
    return _judged(bytes(buf), schema, f"EXI bit(s) {', '.join(map(str, flipped))} inverted")


def exi_bad_first_event(exi: bytes, schema: str, code: int | None = None) -> Mutation:
    """The document's first event code (which global element it is) set past the schema's elements: no
    grammar has that production, so the decoder refuses at the end of the code (ExiEventCodeError at bit 8 +
    the code's width). ``code`` None: the first code past the elements and the SE(*) wildcard."""
    mod = schema_module(schema)
    w, n = mod.DOC_WIDTH, len(mod.DOC_ELEMENTS)
    k = n + 1 if code is None else code
    if not n < k < (1 << w):
        raise ValueError(f"{schema} has {n} global elements (codes 0..{n - 1}, {n} = SE(*)); an out-of-range "
                         f"code is {n + 1}..{(1 << w) - 1}")
    if exi[:1] != b"\x80":
        raise ValueError("not a V2G EXI document (it must start with 0x80)")
    total = 8 * len(exi)
    v = int.from_bytes(exi, "big")
    shift = total - 8 - w
    v = (v & ~(((1 << w) - 1) << shift)) | (k << shift)
    return Mutation(v.to_bytes(len(exi), "big"), Expect.REFUSE,
                    f"EXI document element code {k} of {n} ({schema})", error=ExiEventCodeError, bit=8 + w)


def exi_trailing(exi: bytes, garbage: bytes = b"\xde\xad\xbe\xef") -> Mutation:
    """Octets after the end of the document. The payload is no longer one EXI document: v2gkit refuses it
    (ExiTrailingDataError where the document ends; decode_lenient keeps the octets as ``trailing``). One lone
    zero octet is the exception v2gkit tolerates: OpenV2G-based encoders append it."""
    if not garbage:
        raise ValueError("give at least one octet of garbage")
    if garbage == b"\x00":
        raise ValueError("v2gkit tolerates one zero octet after a document (the OpenV2G lineage appends it)")
    return Mutation(bytes(exi) + bytes(garbage), Expect.REFUSE, f"{len(garbage)} octet(s) after the document",
                    error=ExiTrailingDataError)


def exi_random(n: int, seed: int = 0, header: bool = False, schema: str = "iso2") -> Mutation:
    """``n`` random octets from ``seed`` (the same every time). ``header``: the first octet is V2G's EXI header
    0x80, so the decoder gets past it into ``schema``'s grammar. Almost always refused; a short random body may
    decode, as any bit string may, and the expectation says so (it is what v2gkit's decoder makes of it)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    body = random.Random(seed).randbytes(n)
    if header:
        body = b"\x80" + body[1:]
    return _judged(body, schema, f"{n} random octets (seed {seed}{', EXI header 0x80' if header else ''})")


# ------------------------------------------------------------------------------------ SDP (UDP datagrams)


def sdp_request_datagram(security: int = Security.NONE, transport: int = Transport.TCP, *,
                         payload_type: int = PayloadType.SDP_REQUEST, version: int = VERSION,
                         inverse: int = INVERSE_VERSION, length: int | None = None, extra: bytes = b"") -> bytes:
    """An SDP request datagram with any field as given (``extra``: octets after the two payload octets)."""
    return raw_frame(bytes((security, transport)) + extra, payload_type=payload_type, version=version,
                     inverse=inverse, length=length)


def _req(why: str, fault: Fault | None = None, **kw: int) -> Mutation:
    return Mutation(sdp_request_datagram(**kw), Expect.NO_ANSWER, why, fault)  # type: ignore[arg-type]


def sdp_req_security(value: int = RESERVED_SDP_VALUE) -> Mutation:
    """A request for a Security that is neither 0x00 (TLS) nor 0x10 (none): the SECC drops it unanswered."""
    if value in (s.value for s in Security):
        raise ValueError(f"0x{value:02X} is a defined Security value")
    return _req(f"SDP request with Security 0x{value:02X}", security=value)


def sdp_req_transport(value: int = RESERVED_SDP_VALUE) -> Mutation:
    """A request for a TransportProtocol other than 0x00 (TCP). 0x10 (UDP) is defined but no V2G session runs
    over it; other values are reserved. Either way the SECC answers nothing."""
    if value == Transport.TCP:
        raise ValueError("0x00 (TCP) is the valid transport")
    return _req(f"SDP request with TransportProtocol 0x{value:02X}", transport=value)


def sdp_req_length(length: int = 0) -> Mutation:
    """A request whose header length is not its 2 payload octets (TC_SECC_CMN_VTB_V2GTPSDP_002 uses 0): the
    datagram is dropped (decode_datagram: LENGTH_ZERO or LENGTH_MISMATCH), no answer."""
    if length == REQUEST_SIZE:
        raise ValueError(f"{REQUEST_SIZE} is the valid length")
    return _req(f"SDP request with payload length {length}", Fault.LENGTH_ZERO if length == 0 else Fault.LENGTH_MISMATCH,
                length=length)


def sdp_req_size(size: int = REQUEST_SIZE + 1) -> Mutation:
    """A request of ``size`` payload octets with a header that agrees: a well-framed datagram, but an SDP request
    has exactly 2 octets; the SECC answers nothing."""
    if size == REQUEST_SIZE or size < 1:
        raise ValueError(f"size must be 1 or more and not {REQUEST_SIZE}")
    payload = bytes((Security.NONE, Transport.TCP, *([0] * (size - 2))))[:size]
    return Mutation(raw_frame(payload, payload_type=PayloadType.SDP_REQUEST), Expect.NO_ANSWER,
                    f"SDP request of {size} payload octets")


def sdp_req_payload_type(payload_type: int = UNKNOWN_UDP_PAYLOAD_TYPE) -> Mutation:
    """A request with another payload type (TC_SECC_CMN_VTB_V2GTPSDP_003 uses 0x7000): no answer."""
    if payload_type in (PayloadType.SDP_REQUEST, PayloadType.SDP_REQUEST_WIRELESS):
        raise ValueError(f"0x{payload_type:04X} is an SDP request payload type")
    return _req(f"SDP request with payload type 0x{payload_type:04X}", Fault.PAYLOAD_TYPE, payload_type=payload_type)


def sdp_req_version(version: int = BAD_VERSION) -> Mutation:
    """A request with protocol version ``version`` (TC_SECC_CMN_VTB_V2GTPSDP_004 uses 0xFF): no answer."""
    if version == VERSION:
        raise ValueError("0x01 is the valid version")
    return _req(f"SDP request with V2GTP version 0x{version:02X}", Fault.VERSION, version=version)


def sdp_req_inverse(inverse: int = BAD_VERSION) -> Mutation:
    """A request with inverse protocol version ``inverse`` (TC_SECC_CMN_VTB_V2GTPSDP_005 uses 0xFF): no answer."""
    if inverse == INVERSE_VERSION:
        raise ValueError("0xFE is the valid inverse version")
    return _req(f"SDP request with V2GTP inverse version 0x{inverse:02X}", Fault.VERSION, inverse=inverse)


#: the SECC address of the response builders: a link-local address, as ISO 15118 links use
SECC_ADDRESS = ipaddress.IPv6Address("fe80::1")
SECC_PORT = 49152


def sdp_response_datagram(address: ipaddress.IPv6Address | str = SECC_ADDRESS, port: int = SECC_PORT,
                          security: int = Security.NONE, transport: int = Transport.TCP, *,
                          payload_type: int = PayloadType.SDP_RESPONSE, version: int = VERSION,
                          inverse: int = INVERSE_VERSION, length: int | None = None) -> bytes:
    """An SDP response datagram with any field as given (for testing an EVCC)."""
    payload = (ipaddress.IPv6Address(address).packed + port.to_bytes(2, "big") + bytes((security, transport)))
    return raw_frame(payload, payload_type=payload_type, version=version, inverse=inverse, length=length)


def _res(why: str, fault: Fault | None = None, **kw: object) -> Mutation:
    return Mutation(sdp_response_datagram(**kw), Expect.IGNORE, why, fault)  # type: ignore[arg-type]


def sdp_res_port_zero(address: ipaddress.IPv6Address | str = SECC_ADDRESS) -> Mutation:
    """A response naming TCP port 0, where nothing can listen: the EVCC must not try to connect."""
    return _res("SDP response with port 0", address=address, port=0)


def sdp_res_address(address: ipaddress.IPv6Address | str = "2001:db8::1", port: int = SECC_PORT) -> Mutation:
    """A response naming an address that is not link-local (default: a documentation address; also multicast
    ff02::1 or the unspecified ::). ISO 15118 links carry link-local addresses only (net/iface.py): the EVCC
    should not connect. v2gkit's parse_response refuses only multicast and unspecified addresses (its loopback
    tests use ::1); a global one parses, and v2gkit's EVCC would try it."""
    a = ipaddress.IPv6Address(address)
    if a.is_link_local:
        raise ValueError(f"{a} is link-local")
    return _res(f"SDP response with address {a}", address=a, port=port)


def sdp_res_security(value: int = RESERVED_SDP_VALUE) -> Mutation:
    """A response with a Security that is neither 0x00 (TLS) nor 0x10 (none)."""
    if value in (s.value for s in Security):
        raise ValueError(f"0x{value:02X} is a defined Security value")
    return _res(f"SDP response with Security 0x{value:02X}", security=value)


def sdp_res_transport(value: int = RESERVED_SDP_VALUE) -> Mutation:
    """A response with a TransportProtocol other than 0x00 (TCP)."""
    if value == Transport.TCP:
        raise ValueError("0x00 (TCP) is the valid transport")
    return _res(f"SDP response with TransportProtocol 0x{value:02X}", transport=value)


def sdp_res_length(length: int = 0) -> Mutation:
    """A response whose header length is not its 20 payload octets."""
    if length == RESPONSE_SIZE:
        raise ValueError(f"{RESPONSE_SIZE} is the valid length")
    return _res(f"SDP response with payload length {length}",
                Fault.LENGTH_ZERO if length == 0 else Fault.LENGTH_MISMATCH, length=length)


def sdp_res_payload_type(payload_type: int = UNKNOWN_UDP_PAYLOAD_TYPE) -> Mutation:
    """A response with another payload type than 0x9001."""
    if payload_type in (PayloadType.SDP_RESPONSE, PayloadType.SDP_RESPONSE_WIRELESS):
        raise ValueError(f"0x{payload_type:04X} is an SDP response payload type")
    return _res(f"SDP response with payload type 0x{payload_type:04X}", Fault.PAYLOAD_TYPE, payload_type=payload_type)


# ------------------------------------------------------------------------------------ TCP stream shapes


def split(data: bytes, offsets: Iterable[int]) -> list[bytes]:
    """``data`` (a frame, or several) cut at the given offsets: the chunks to write one by one. TCP is a byte
    stream, so a receiver must reassemble a message from any cut (``Expect.PROCESS``): a header split in two,
    a payload in many pieces."""
    cuts = sorted(set(offsets))
    if cuts and not (0 < cuts[0] and cuts[-1] < len(data)):
        raise ValueError(f"offsets must lie in 1..{len(data) - 1}")
    bounds = [0, *cuts, len(data)]
    return [bytes(data[a:b]) for a, b in itertools.pairwise(bounds)]


def split_every(data: bytes, size: int) -> list[bytes]:
    """``data`` in chunks of ``size`` octets (1: a byte at a time, as a slow peer sends)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    return [bytes(data[i:i + size]) for i in range(0, len(data), size)]


def merge(frames: Sequence[bytes]) -> list[bytes]:
    """Several frames in one write: a receiver must take every message from it, in order (``Expect.PROCESS``);
    a request pipelined before the answer to the previous one is still a sequence question for the session."""
    return [b"".join(bytes(f) for f in frames)]


def reshape(frames: Sequence[bytes], offsets: Iterable[int]) -> list[bytes]:
    """Frames joined and cut at offsets of the joined stream: segments that end inside one message and start
    inside the next."""
    return split(merge(frames)[0], offsets)
