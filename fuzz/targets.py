"""Fuzz targets: one harness function per parser, each with the oracles that say what a bug is.

A harness takes one input (bytes) and returns quietly, or raises. ``Finding`` means an oracle said no
(the input shows a bug); any other exception escaping a harness is a bug in the code under test as well
(the parsers promise typed errors only). Harnesses are deterministic: the same bytes give the same outcome,
so every finding reproduces from its file alone.

Oracles, by target group:

- exi-<schema>: every input is decoded as a document and as a fragment, strictly and leniently. Decoders
  raise only ExiError subclasses, never a wrapped internal exception, with a bit offset inside the input.
  What decodes strictly decodes leniently to the same object, re-encodes (encode/encode_fragment) and
  decodes again to an equal object. What decodes only leniently may be refused by the encoder with
  ExiEncodeError (it can hold out-of-facet values), nothing else; if the encoder takes it, it round-trips.
  decode_lenient reads the same document as decode_element(strict=False) and reports violations or
  trailing octets exactly when strict decoding refuses it.
- v2gtp: input = 2 control octets + a TCP stream. The control octets choose max_payload, the accepted
  payload types and how the stream is cut into segments. V2GTPReader.feed never raises, gives what an
  independent reference reader gives for the whole stream (messages, header faults with stream offsets,
  bytes left buffered), whatever the segmentation, and never buffers more than one header + max_payload.
  parse_header/decode_datagram raise only V2GTPError, and an accepted datagram is re-framed to itself.
- sdp: input = one datagram. The four parsers raise only SDPError and what they accept serialises back
  to the same datagram; SDPServer (three policies, with and without wireless SDP) and SDPClient (both
  securities, strict and lax) never raise, answer only valid requests, and their answers parse.
- handshake: input = the EXI payload of the app handshake. SECCHandshake.request (four configurations)
  never raises; it answers exactly the decodable supportedAppProtocolReq, with the entry a reference
  selection picks; EVHandshake.response raises only HandshakeError and accepts only an offered SchemaID.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from v2gkit import sdp, v2gtp
from v2gkit.exi import (
    SCHEMAS,
    ExiEncodeError,
    ExiError,
    decode_element,
    decode_fragment,
    decode_lenient,
    encode,
    encode_fragment,
)
from v2gkit.session import handshake

__all__ = ["GROUPS", "TARGETS", "Finding", "Target", "resolve"]


class Finding(AssertionError):
    """An oracle says the input shows a bug. ``kind`` is short and stable: findings are grouped by it."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


def _short(obj: Any, limit: int = 300) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


@dataclass(frozen=True)
class Target:
    """A fuzz target: the harness, its seeds, and the limits libFuzzer runs it with."""

    name: str
    group: str
    doc: str
    run: Callable[[bytes], None]
    #: seed inputs (bytes); built lazily, they may read ../shared
    seeds: Callable[[], Iterable[bytes]]
    #: libFuzzer -max_len: the codec is quadratic in message size today, longer inputs only cost time
    max_len: int = 4096
    #: seconds per input beyond which the input is reported as slow (not a failure)
    slow: float = 0.25
    #: modules to import before fuzzing (under instrumentation, so their code is covered)
    modules: tuple[str, ...] = ()
    libfuzzer_args: tuple[str, ...] = field(default=())


# ------------------------------------------------------------------------------------------- EXI decoders

#: Exceptions that the codec API is allowed to turn into an ExiError: reading past the end of the stream
#: shows up as a negative shift count inside the generated code, and the API reports it as truncation.
#: Any other wrapped exception (the API wraps everything) is an internal error made to look like bad input.
_EXPECTED_INTERNAL = (("ValueError", "negative shift count"),)


def _wrapped_internal(e: ExiError) -> BaseException | None:
    """The internal exception an ExiError wraps, when it is not an expected one (else None)."""
    ctx = e.__context__  # what was being handled when the API raised e (a _Fail: the codec's own report)
    if ctx is None or isinstance(ctx, ExiError) or type(ctx).__name__ == "_Fail":
        return None
    if (type(ctx).__name__, str(ctx)) in _EXPECTED_INTERNAL:
        return None
    return ctx


def _decode(data: bytes, schema: str, doc: bool, strict: bool, report: bool = False) -> Any:
    """(name, obj) or [(name, obj), ...] (``report``: decode_lenient's Lenient); or the ExiError,
    after checking it is a proper one."""
    mode = f"{'document' if doc else 'fragment'}/{'strict' if strict else 'lenient'}"
    if report:
        mode = "decode_lenient"
    try:
        if report:
            return decode_lenient(data, schema)
        return (decode_element if doc else decode_fragment)(data, schema, strict=strict)
    except ExiError as e:
        inner = _wrapped_internal(e)
        if inner is not None:
            raise Finding(f"{mode} decoder hides an internal {type(inner).__name__}",
                          f"{type(e).__name__}({e}) wraps {type(inner).__name__}: {inner}") from e
        if type(e) is ExiError:
            raise Finding(f"{mode} decoder raised the untyped base ExiError", str(e)) from e
        if e.bit_offset is not None and not 0 <= e.bit_offset <= 8 * len(data):
            raise Finding(f"{mode} error bit offset outside the input",
                          f"{type(e).__name__} at bit {e.bit_offset} of {8 * len(data)}") from e
        return e


def _roundtrip(items: list[tuple[str, Any]], schema: str, doc: bool, strict: bool) -> None:
    """Encode what was decoded and decode it again: the same object must come back."""
    mode = f"{'document' if doc else 'fragment'}/{'strict' if strict else 'lenient'}"
    enc = encode if doc else encode_fragment
    for name, obj in items:
        try:
            exi = enc(obj, element=name, schema=schema)
        except ExiEncodeError as e:
            if strict:
                raise Finding(f"{mode}: the encoder refuses a decoded {name}",
                              f"{e}; object {_short(obj)}") from e
            continue  # lenient decoding may keep values the schema forbids
        except ExiError as e:
            raise Finding(f"{mode}: encoding a decoded {name} raised {type(e).__name__}", str(e)) from e
        try:
            back = (decode_element(exi, schema, strict=strict) if doc
                    else decode_fragment(exi, schema, strict=strict))
        except ExiError as e:
            raise Finding(f"{mode}: re-encoded {name} does not decode",
                          f"{type(e).__name__}: {e}; re-encoded {exi.hex()}") from e
        want = (name, obj) if doc else [(name, obj)]
        if back != want:
            raise Finding(f"{mode}: {name} changes in a round trip",
                          f"decoded {_short(obj)}; after encode+decode {_short(back)}")


def _check_report(data: bytes, schema: str, strict: Any, lenient: Any) -> None:
    """decode_lenient reads what decode_element(strict=False) reads, and lists something exactly when
    strict decoding refuses the document (a facet, an abstract element, octets after the end)."""
    rep = _decode(data, schema, True, False, report=True)
    if isinstance(rep, ExiError) or isinstance(lenient, ExiError):
        if isinstance(rep, ExiError) != isinstance(lenient, ExiError):
            raise Finding("decode_lenient and decode_element(strict=False) disagree on decoding",
                          f"decode_lenient {_short(rep)}; decode_element {_short(lenient)}")
        return
    if (rep.element, rep.value) != lenient:
        raise Finding("decode_lenient and decode_element(strict=False) read different documents",
                      f"{_short((rep.element, rep.value))} vs {_short(lenient)}")
    if not isinstance(strict, ExiError) and not rep.clean:
        raise Finding("decode_lenient reports violations in a document strict decoding accepts",
                      f"violations {rep.violations}, trailing {rep.trailing.hex()}")
    if isinstance(strict, ExiError) and rep.clean:
        raise Finding(f"decode_lenient reports nothing where strict decoding raises {type(strict).__name__}",
                      str(strict))


def exi_harness(schema: str) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        for doc in (True, False):
            strict = _decode(data, schema, doc, True)
            lenient = _decode(data, schema, doc, False)
            what = "document" if doc else "fragment"
            if doc:
                _check_report(data, schema, strict, lenient)
            if isinstance(strict, ExiError):
                if not isinstance(lenient, ExiError):
                    _roundtrip([lenient] if doc else lenient, schema, doc, strict=False)
                continue
            if isinstance(lenient, ExiError):
                raise Finding(f"{what}: strict decoding succeeds, lenient fails",
                              f"{type(lenient).__name__}: {lenient}")
            if lenient != strict:
                raise Finding(f"{what}: strict and lenient decoding differ",
                              f"strict {_short(strict)}; lenient {_short(lenient)}")
            _roundtrip([strict] if doc else strict, schema, doc, strict=True)

    run.__name__ = f"run_exi_{SCHEMAS[schema]}"
    return run


# ------------------------------------------------------------------------------------------- V2GTP

#: control octet 0, bits 0-1: the reader's max_payload (0 refuses every payload; 2**32-1 trusts any claim)
MAX_PAYLOADS = (v2gtp.DEFAULT_MAX_PAYLOAD, 16, 0, 2**32 - 1)
#: control octet 0, bits 2-3: the accepted payload types
ACCEPTS = (v2gtp.TCP_PAYLOAD_TYPES, v2gtp.ISO2_PAYLOAD_TYPES, v2gtp.UDP_PAYLOAD_TYPES,
           frozenset(range(65536)))
_HEADER = struct.Struct(">BBHI")


def reference_reader(stream: bytes, max_payload: int, accept: frozenset[int]
                     ) -> tuple[list[v2gtp.V2GTPMessage | v2gtp.HeaderFault], int]:
    """What a reader must make of a whole stream, written as plainly as possible: the events and the
    number of bytes it holds at the end (an incomplete header, or a header and part of its payload)."""
    out: list[v2gtp.V2GTPMessage | v2gtp.HeaderFault] = []
    pos, end = 0, len(stream)
    while end - pos >= v2gtp.HEADER_SIZE:
        version, inverse, ptype, length = _HEADER.unpack_from(stream, pos)
        if version != v2gtp.VERSION or inverse != v2gtp.INVERSE_VERSION:
            fault = v2gtp.Fault.VERSION
        elif length > max_payload:
            fault = v2gtp.Fault.LENGTH_TOO_LARGE
        elif ptype not in accept:
            fault = v2gtp.Fault.PAYLOAD_TYPE
        elif length == 0:
            fault = v2gtp.Fault.LENGTH_ZERO
        else:
            if end - pos - v2gtp.HEADER_SIZE < length:
                return out, end - pos
            start = pos + v2gtp.HEADER_SIZE
            out.append(v2gtp.V2GTPMessage(ptype, stream[start:start + length]))
            pos = start + length
            continue
        action = v2gtp.HEADER_RULES[fault]
        out.append(v2gtp.HeaderFault(fault, stream[pos:pos + v2gtp.HEADER_SIZE], action, pos))
        if action is v2gtp.Action.CLOSE:
            return out, 0
        pos += v2gtp.HEADER_SIZE + length
    return out, max(0, end - pos)


def segments(stream: bytes, how: int, seed: int) -> list[bytes]:
    """Cut the stream: whole, octet by octet (up to 512 octets), or at ``how`` seeded random places."""
    if how == 0 or not stream:
        return [stream]
    if how == 1 and len(stream) <= 512:
        return [stream[i:i + 1] for i in range(len(stream))]
    rng = random.Random(seed)
    cuts = sorted(rng.randrange(len(stream) + 1) for _ in range(how))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]


def run_v2gtp(data: bytes) -> None:
    if len(data) < 2:
        return
    cfg, seed, stream = data[0], data[1], data[2:]
    max_payload, accept = MAX_PAYLOADS[cfg & 3], ACCEPTS[(cfg >> 2) & 3]
    reader = v2gtp.V2GTPReader(max_payload=max_payload, accept=accept)
    events: list[v2gtp.V2GTPMessage | v2gtp.HeaderFault] = []
    as_bytearray = bool(cfg & 0x80)
    for seg in segments(stream, (cfg >> 4) & 7, seed):
        events += reader.feed(bytearray(seg) if as_bytearray else seg)
        if reader.buffered > v2gtp.HEADER_SIZE + max_payload:
            raise Finding("reader buffers more than a header and max_payload",
                          f"{reader.buffered} bytes buffered, max_payload {max_payload}")
    want, held = reference_reader(stream, max_payload, accept)
    if events != want:
        first = next((i for i, (a, b) in enumerate(zip(events, want)) if a != b), min(len(events), len(want)))
        raise Finding("reader output differs from the reference reader",
                      f"{len(events)} events vs {len(want)}; first difference at event {first}: "
                      f"{_short(events[first:first + 1])} vs {_short(want[first:first + 1])}")
    if reader.buffered != held:
        raise Finding("reader holds a different number of bytes than the reference reader",
                      f"{reader.buffered} vs {held}")
    for ev in events:
        if isinstance(ev, v2gtp.HeaderFault):
            str(ev.message)
    # the one-datagram and header parsers on the same bytes
    try:
        ptype, length = v2gtp.parse_header(stream)
    except v2gtp.V2GTPError:
        pass
    else:
        if (ptype, length) != _HEADER.unpack_from(stream)[2:]:
            raise Finding("parse_header returns other values than the header holds")
    try:
        msg = v2gtp.decode_datagram(stream, accept)
    except v2gtp.V2GTPError:
        return
    if msg.payload_type not in accept or msg.to_bytes() != stream:
        raise Finding("decode_datagram accepts a datagram that does not re-frame to itself")


# ------------------------------------------------------------------------------------------- SDP

_SECC = ipaddress.IPv6Address("fe80::1")
_PORTS = {sdp.Security.NONE: 50000, sdp.Security.TLS: 50001}
_WIRELESS_TYPES = (v2gtp.PayloadType.SDP_REQUEST_WIRELESS, v2gtp.PayloadType.SDP_RESPONSE_WIRELESS)


def _servers() -> list[sdp.SDPServer]:
    stopped = sdp.SDPServer(_SECC, _PORTS)
    stopped.stop()  # communication set-up timed out: answers nothing any more
    return [sdp.SDPServer(_SECC, _PORTS, sdp.SecurityPolicy.ECHO, wireless=(0x10, "DE*ABC*E1234")),
            sdp.SDPServer(_SECC, {sdp.Security.TLS: 50001}, sdp.SecurityPolicy.TLS_ONLY),
            sdp.SDPServer(_SECC, {sdp.Security.NONE: 50000}, sdp.SecurityPolicy.NONE_ONLY, wireless=(0, "")),
            stopped]


_CLIENTS = ((sdp.Security.NONE, True, True), (sdp.Security.TLS, True, True), (sdp.Security.TLS, False, False),
            (sdp.Security.NONE, False, False))


def _same_wireless(a: Any, b: Any) -> bool:
    """Wireless IDs travel padded with '0' on the left and come back with the padding (sdp._fixed_id)."""
    for f in a.__dataclass_fields__:
        x, y = getattr(a, f), getattr(b, f)
        if f in ("evid", "evseid"):
            x, y = x.rstrip("\0").lstrip("0"), y.lstrip("0")
        if x != y:
            return False
    return True


def run_sdp(data: bytes) -> None:
    parsed: dict[str, Any] = {}
    for parse in (sdp.parse_request, sdp.parse_response, sdp.parse_wireless_request,
                  sdp.parse_wireless_response):
        try:
            obj = parse(data)
        except sdp.SDPError:
            continue
        parsed[parse.__name__] = obj
        try:
            back = obj.to_bytes()
        except sdp.SDPError as e:
            if "not ASCII" in str(e):
                continue  # an ID with non-ASCII octets parses (with U+FFFD) but cannot be sent again
            raise Finding(f"{parse.__name__}: the parsed message does not serialise", str(e)) from e
        if "wireless" in parse.__name__:
            if len(back) != len(data) or not _same_wireless(obj, parse(back)):
                raise Finding(f"{parse.__name__}: the message changes in a round trip",
                              f"{_short(obj)} -> {back.hex()}")
        elif back != data:
            raise Finding(f"{parse.__name__}: the message changes in a round trip",
                          f"{_short(obj)} -> {back.hex()}")

    for server in _servers():
        answer, why = server.datagram_received(data)
        if not isinstance(why, str):
            raise Finding("SDP server gives no reason")
        if answer is None:
            continue
        if not server.enabled:
            raise Finding("a stopped SDP server answers", why)
        wireless = data[2:4] == v2gtp.PayloadType.SDP_REQUEST_WIRELESS.to_bytes(2, "big")
        asked = parsed.get("parse_wireless_request" if wireless else "parse_request")
        if asked is None:
            raise Finding("SDP server answers a datagram that is not a valid request", why)
        res = (sdp.parse_wireless_response if wireless else sdp.parse_response)(answer)
        if res.port != server.ports[res.security] or res.security != server.choose(asked.security):
            raise Finding("SDP server answers with a port or security it was not given", _short(res))

    for security, downgrade, tls in _CLIENTS:
        client = sdp.SDPClient(security, accept_downgrade=downgrade, tls_capable=tls)
        client.start()
        (out,) = client.datagram_received(data)
        if isinstance(out, sdp.Discovered):
            if "parse_response" not in parsed or out.response != parsed["parse_response"]:
                raise Finding("SDP client discovers an SECC from an invalid response", _short(out))
            if out.response.transport is not sdp.Transport.TCP:
                raise Finding("SDP client takes a non-TCP transport")
            if not all(isinstance(o, sdp.Ignored) for o in client.datagram_received(data)):
                raise Finding("SDP client does not ignore datagrams after discovery")
        elif not isinstance(out, sdp.Ignored):
            raise Finding("SDP client answers a datagram with something else than Discovered/Ignored",
                          _short(out))


# ------------------------------------------------------------------------------------------- handshake

_SECC_CONFIGS: tuple[tuple[str, ...], ...] = (
    ("iso20-dc", "iso20-ac", "iso2", "din"), ("din",), (), tuple(handshake.PROTOCOLS))
#: the EVCC's offers: the default, and one with a namespace v2gkit cannot speak (SchemaID 7) next to DIN
_EV_OFFERS: tuple[tuple[Any, ...], ...] = (
    handshake.DEFAULT_OFFER, (handshake.Offer("urn:test:unknown", 1, 0, 7, 1), handshake.PROTOCOLS["din"]))


def _reference_select(entries: list[Any], supported: tuple[str, ...]) -> Any:
    """The entry the SECC must pick: lowest Priority among supported namespaces with the same major
    version; on equal priority the first in the list."""
    known = {handshake.PROTOCOLS[n].namespace: handshake.PROTOCOLS[n] for n in supported}
    best = None
    for i, e in enumerate(entries):
        p = known.get(e.protocol_namespace)
        if p is not None and e.version_number_major == p.major and (best is None or e.priority < best[0]):
            best = (e.priority, i, e, p)
    return best


def run_handshake(data: bytes) -> None:
    try:
        name, req = decode_element(data, "apphand")
    except ExiError:
        name, req = None, None
    codes = handshake.ResponseCode
    for supported in _SECC_CONFIGS:
        secc = handshake.SECCHandshake(list(supported))
        answer, outcome = secc.request(data)
        if name != "supportedAppProtocolReq":
            if answer is not None or outcome is not None or not secc.error:
                raise Finding("SECC answers a payload that is not a supportedAppProtocolReq", _short(name))
            continue
        if answer is None:
            raise Finding("SECC gives no answer to a valid supportedAppProtocolReq", str(secc.error))
        rname, res = decode_element(answer, "apphand")
        if rname != "supportedAppProtocolRes":
            raise Finding("SECC answers with something else than supportedAppProtocolRes", rname)
        best = _reference_select(req.app_protocol or [], supported)
        if best is None:
            if (res.response_code != codes.Failed_NoNegotiation or outcome is not None
                    or res.schema_id is not None):
                raise Finding("SECC negotiates where no offered protocol is supported", _short(res))
            continue
        _prio, _i, entry, proto = best
        code = (codes.OK_SuccessfulNegotiation if entry.version_number_minor == proto.minor
                else codes.OK_SuccessfulNegotiationWithMinorDeviation)
        if (res.response_code, res.schema_id) != (code, entry.schema_id) or outcome is None \
                or (outcome.protocol, outcome.schema_id, outcome.response_code) \
                != (proto, entry.schema_id, code):
            raise Finding("SECC picks another entry than the reference selection",
                          f"answer {_short(res)}, outcome {_short(outcome)}; expected {code.name} "
                          f"SchemaID {entry.schema_id} ({proto.name})")

    for offer in _EV_OFFERS:
        ev = handshake.EVHandshake(list(offer))
        try:
            got = ev.response(data)
        except handshake.HandshakeError:
            continue
        offered = {o.schema_id: o for o in ev.offers}
        if name != "supportedAppProtocolRes" or got.schema_id not in offered \
                or got.response_code == codes.Failed_NoNegotiation \
                or got.protocol.namespace != offered[got.schema_id].namespace:
            raise Finding("EV accepts a response it must refuse", _short(got))


# ------------------------------------------------------------------------------------------- registry


def _exi_seeds(schema: str) -> Callable[[], Iterable[bytes]]:
    def seeds() -> Iterable[bytes]:
        from .seeds import exi_seeds
        return exi_seeds(schema)
    return seeds


def _lazy(name: str) -> Callable[[], Iterable[bytes]]:
    def seeds() -> Iterable[bytes]:
        from . import seeds as mod
        return getattr(mod, name)()
    return seeds


TARGETS: dict[str, Target] = {}
for _schema, _module in SCHEMAS.items():
    TARGETS[f"exi-{_schema}"] = Target(
        f"exi-{_schema}", "exi", f"{_schema} decoders: document and fragment, strict and lenient, round trip",
        exi_harness(_schema), _exi_seeds(_schema), max_len=4096, slow=0.25,
        modules=(f"v2gkit.exi.gen.{_module}",))
TARGETS["v2gtp"] = Target(
    "v2gtp", "v2gtp", "V2GTPReader.feed over arbitrary segmentation, parse_header, decode_datagram",
    run_v2gtp, _lazy("v2gtp_seeds"), max_len=4096, slow=0.1, modules=("v2gkit.v2gtp",),
    libfuzzer_args=("-use_value_profile=1",))
TARGETS["sdp"] = Target(
    "sdp", "sdp", "SDP parsers (plain and wireless), SDPServer and SDPClient datagram handling",
    run_sdp, _lazy("sdp_seeds"), max_len=128, slow=0.05, modules=("v2gkit.sdp",),
    libfuzzer_args=("-use_value_profile=1",))
TARGETS["handshake"] = Target(
    "handshake", "handshake", "SECC and EVCC app handshake (supportedAppProtocol) fed arbitrary payloads",
    run_handshake, _lazy("handshake_seeds"), max_len=4096, slow=0.25,
    modules=("v2gkit.exi.gen.apphand", "v2gkit.session.handshake"))

GROUPS: dict[str, list[str]] = {}
for _t in TARGETS.values():
    GROUPS.setdefault(_t.group, []).append(_t.name)


def resolve(names: Iterable[str]) -> list[Target]:
    """Target and group names (``exi``, ``exi-iso2``, ``all``) -> targets, order kept, no duplicates."""
    out: list[Target] = []
    for n in names:
        if n == "all":
            picked = list(TARGETS)
        elif n in GROUPS:
            picked = GROUPS[n]
        elif n in TARGETS:
            picked = [n]
        elif f"exi-{n}" in TARGETS:
            picked = [f"exi-{n}"]
        else:
            raise ValueError(f"unknown fuzz target {n!r}; choose from: all, {', '.join(GROUPS)}, "
                             f"{', '.join(TARGETS)}")
        out += [TARGETS[p] for p in picked if TARGETS[p] not in out]
    return out


__all__ += ["exi_harness", "reference_reader", "run_handshake", "run_sdp", "run_v2gtp", "segments"]
