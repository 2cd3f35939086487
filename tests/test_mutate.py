"""The byte-level fault builders (testsys/mutate.py), each checked against v2gkit's own readers.

V2GTP header faults: V2GTPReader reports the fault with the HEADER_RULES action the builder expects, and the
stream stays in sync exactly when the expectation says so. Malformed EXI: the decoder raises the typed ExiError
(at the bit offset, where the builder knows it). SDP faults: parse_request/parse_response refuse them and the
SDP server and client drop them. Stream shapes: the reader reassembles the same messages from any cut.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2gkit.exi import (
    SCHEMAS,
    ExiError,
    ExiEventCodeError,
    ExiHeaderError,
    ExiTrailingDataError,
    ExiTruncatedError,
    decode,
    decode_element,
    decode_lenient,
    encode,
    schema_module,
)
from v2gkit.sdp import Ignored as SDPIgnored
from v2gkit.sdp import (
    SDPClient,
    SDPError,
    SDPRequest,
    SDPServer,
    Security,
    SecurityPolicy,
    parse_request,
    parse_response,
)
from v2gkit.sim import iso2_dc
from v2gkit.testsys import mutate as mu
from v2gkit.testsys.mutate import Expect
from v2gkit.v2gtp import (
    HEADER_RULES,
    ISO2_PAYLOAD_TYPES,
    Action,
    Fault,
    HeaderFault,
    PayloadType,
    ReaderState,
    V2GTPError,
    V2GTPMessage,
    V2GTPReader,
    decode_datagram,
    frame,
)

SEQUENCE = iso2_dc.sequence()
#: (name, EXI document) of real ISO 15118-2 messages, short and long
DOCS = [(name, encode(msg)) for name, _d, msg in SEQUENCE[:4]] + [
    ("ChargeParameterDiscoveryRes(24)", encode(iso2_dc.charge_parameter_discovery_res(24)))]
SESSION_SETUP = DOCS[0][1]
GOOD = frame(PayloadType.EXI, SESSION_SETUP)


def _feed(data: bytes, reader: V2GTPReader | None = None) -> tuple[V2GTPReader, list]:
    reader = reader or V2GTPReader()
    return reader, reader.feed(data)


def _in_sync(reader: V2GTPReader) -> bool:
    """A valid frame after the fault still comes out whole."""
    return reader.feed(GOOD) == [V2GTPMessage(PayloadType.EXI, SESSION_SETUP)]


# ------------------------------------------------------------------------------------ V2GTP headers


@pytest.mark.parametrize(("name", "payload"), DOCS, ids=[n for n, _ in DOCS])
@pytest.mark.parametrize("build", [mu.header_version, mu.header_inverse, mu.header_length_huge])
def test_untrustworthy_headers_close_the_connection(build: Callable[[bytes], mu.Mutation], name: str,
                                                      payload: bytes) -> None:
    m = build(payload)
    reader, out = _feed(m.data)
    assert out == [HeaderFault(m.fault, m.data[:8], HEADER_RULES[m.fault], 0)]
    assert m.expect is Expect.CLOSE and HEADER_RULES[m.fault] is Action.CLOSE
    assert reader.state is ReaderState.CLOSED and reader.buffered == 0  # nothing of a 4 GiB claim is kept
    assert reader.feed(GOOD) == []


@pytest.mark.parametrize(("name", "payload"), DOCS, ids=[n for n, _ in DOCS])
def test_unknown_payload_type_is_skipped_and_the_stream_stays_in_sync(name: str, payload: bytes) -> None:
    m = mu.header_payload_type(payload)
    assert m.data[2:4] == b"\x70\x01" and m.expect is Expect.DISCARD
    reader, out = _feed(m.data)
    assert out == [HeaderFault(Fault.PAYLOAD_TYPE, m.data[:8], Action.DISCARD, 0)]
    assert _in_sync(reader)
    # an ISO 15118-20 payload type on a DIN / ISO-2 connection is the same fault
    m = mu.header_payload_type(payload, PayloadType.ISO20_DC)
    reader, out = _feed(m.data, V2GTPReader(accept=ISO2_PAYLOAD_TYPES))
    assert [o.fault for o in out] == [Fault.PAYLOAD_TYPE] and _in_sync(reader)
    with pytest.raises(ValueError):
        mu.header_payload_type(payload, PayloadType.EXI)


def test_zero_length() -> None:
    """Alone, the empty message is dropped; with the payload after it (as ISO 15118-4 sends it), the payload
    is read as the next header: not V2GTP, so the connection is closed. No answer either way."""
    alone = mu.header_length_zero(SESSION_SETUP, with_payload=False)
    reader, out = _feed(alone.data)
    assert alone.data == bytes.fromhex("01fe800100000000") and alone.expect is Expect.DISCARD
    assert [(o.fault, o.action) for o in out] == [(Fault.LENGTH_ZERO, Action.DISCARD)]
    assert _in_sync(reader)

    followed = mu.header_length_zero(SESSION_SETUP)
    reader, out = _feed(followed.data)
    assert followed.expect is Expect.CLOSE and followed.fault is Fault.LENGTH_ZERO
    assert [(o.fault, o.action) for o in out] == [(Fault.LENGTH_ZERO, Action.DISCARD), (Fault.VERSION, Action.CLOSE)]
    assert reader.state is ReaderState.CLOSED

    short = mu.header_length_zero(bytes.fromhex("8098"), PayloadType.EXI)
    reader, out = _feed(short.data)
    assert short.expect is Expect.STALL
    assert [o.fault for o in out] == [Fault.LENGTH_ZERO] and reader.buffered == 2


@pytest.mark.parametrize(("name", "payload"), DOCS, ids=[n for n, _ in DOCS])
def test_short_length_gives_a_cut_document(name: str, payload: bytes) -> None:
    for by in (1, 2, len(payload) // 2):
        m = mu.header_length_short(payload, by=by)
        assert m.expect is Expect.REFUSE
        _reader, out = _feed(m.data)
        assert out[0] == V2GTPMessage(PayloadType.EXI, payload[:-by])
        with pytest.raises(ExiError):
            decode(out[0].payload, "iso2")


def test_long_length_waits_or_is_refused_at_the_limit() -> None:
    m = mu.header_length_long(SESSION_SETUP, by=5)
    reader, out = _feed(m.data)
    assert m.expect is Expect.STALL and out == [] and reader.buffered == len(m.data)
    assert reader.feed(b"\x00" * 4) == []  # one byte still missing
    big = mu.header_length_long(SESSION_SETUP, by=100_000)
    reader, out = _feed(big.data)
    assert big.expect is Expect.CLOSE and [o.fault for o in out] == [Fault.LENGTH_TOO_LARGE]
    # a receiver with a larger limit waits for it
    assert mu.header_length_long(SESSION_SETUP, by=100_000, limit=1 << 20).expect is Expect.STALL


def test_huge_length_and_raw_frame() -> None:
    m = mu.header_length_huge(b"")
    assert m.data == bytes.fromhex("01fe8001ffffffff")
    assert mu.raw_frame(b"\x80", payload_type=0x9000, version=2, inverse=3, length=9) == bytes.fromhex("0203" "9000" "00000009" "80")
    assert mu.raw_frame(SESSION_SETUP) == GOOD
    with pytest.raises(ValueError):
        mu.header_length_huge(b"", length=100)


# ------------------------------------------------------------------------------------ malformed EXI


@pytest.mark.parametrize(("name", "doc"), DOCS, ids=[n for n, _ in DOCS])
def test_every_cut_runs_out_of_stream(name: str, doc: bytes) -> None:
    for n in range(len(doc)):
        m = mu.exi_truncated(doc, n)
        with pytest.raises(ExiTruncatedError) as err:
            decode(m.data, "iso2")
        assert m.error is ExiTruncatedError and m.expect is Expect.REFUSE
        assert err.value.bit_offset is not None and err.value.bit_offset <= 8 * n
        with pytest.raises(ExiTruncatedError):
            decode_lenient(m.data, "iso2")


@pytest.mark.parametrize(("name", "doc"), DOCS[:2], ids=[n for n, _ in DOCS[:2]])
def test_every_bit_cut_is_judged_by_the_decoder(name: str, doc: bytes) -> None:
    for nbits in range(8, 8 * len(doc)):
        try:
            m = mu.exi_truncated_bits(doc, nbits, "iso2")
        except ValueError:  # the bits cut were the final padding
            assert int.from_bytes(doc, "big") & ((1 << (8 * len(doc) - nbits)) - 1) == 0
            continue
        assert len(m.data) == (nbits + 7) // 8
        if m.expect is Expect.REFUSE:
            with pytest.raises(m.error) as err:
                decode(m.data, "iso2")
            assert err.value.bit_offset == m.bit
        else:
            assert decode_element(m.data, "iso2")[1] != decode(doc, "iso2")


@pytest.mark.parametrize("kind", sorted(mu.EXI_HEADERS))
def test_bad_exi_headers(kind: str) -> None:
    m = mu.exi_bad_header(SESSION_SETUP, kind)
    assert (m.error, m.bit) == (ExiHeaderError, 0)
    with pytest.raises(ExiHeaderError) as err:
        decode(m.data, "iso2")
    assert err.value.bit_offset == 0
    with pytest.raises(ValueError, match="choose one of"):
        mu.exi_bad_header(SESSION_SETUP, "nonsense")


def test_every_single_bit_flip_is_judged() -> None:
    """A small exhaustive fuzz: the decoder refuses with a typed error or reads another document."""
    doc = SESSION_SETUP
    seen = set()
    for b in range(8 * len(doc)):
        m = mu.exi_flipped(doc, [b], "iso2")
        seen.add(m.expect)
        if b < 8:
            assert (m.expect, m.error, m.bit) == (Expect.REFUSE, ExiHeaderError, 0)
        if m.expect is Expect.REFUSE:
            with pytest.raises(m.error):
                decode(m.data, "iso2")
    assert seen == {Expect.REFUSE, Expect.PROCESS}


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_out_of_range_document_event_code(schema: str) -> None:
    mod = schema_module(schema)
    doc = b"\x80" + bytes(16)
    m = mu.exi_bad_first_event(doc, schema)
    with pytest.raises(ExiEventCodeError) as err:
        decode(m.data, schema)
    assert err.value.bit_offset == m.bit == 8 + mod.DOC_WIDTH
    with pytest.raises(ValueError, match="SE"):
        mu.exi_bad_first_event(doc, schema, code=len(mod.DOC_ELEMENTS))  # SE(*): legal EXI, not out of range


def test_out_of_range_event_code_in_a_real_message() -> None:
    m = mu.exi_bad_first_event(SESSION_SETUP, "iso2")
    assert m.data[1:] != SESSION_SETUP[1:] and len(m.data) == len(SESSION_SETUP)
    with pytest.raises(ExiEventCodeError, match="document element code 81 of 80"):
        decode(m.data, "iso2")


@pytest.mark.parametrize(("name", "doc"), DOCS, ids=[n for n, _ in DOCS])
@pytest.mark.parametrize("garbage", [b"\xff", b"\x00\x00", b"\xde\xad\xbe\xef"])
def test_trailing_garbage(name: str, doc: bytes, garbage: bytes) -> None:
    m = mu.exi_trailing(doc, garbage)
    with pytest.raises(ExiTrailingDataError) as err:
        decode(m.data, "iso2")
    assert 8 * len(doc) - 8 < err.value.bit_offset <= 8 * len(doc)  # where the document ends
    kept = decode_lenient(m.data, "iso2")
    assert kept.value == decode(doc, "iso2") and kept.trailing == garbage
    with pytest.raises(ValueError, match="OpenV2G"):
        mu.exi_trailing(doc, b"\x00")


def test_random_bytes_never_crash_the_decoder() -> None:
    outcomes = set()
    for seed in range(200):
        for header in (False, True):
            m = mu.exi_random(1 + seed % 40, seed, header)
            assert m.data == mu.exi_random(1 + seed % 40, seed, header).data  # the seed fixes it
            outcomes.add(m.expect)
            if m.data[0] != 0x80:
                assert (m.error, m.bit) == (ExiHeaderError, 0)
    assert Expect.REFUSE in outcomes


# ------------------------------------------------------------------------------------ SDP


def _server() -> SDPServer:
    return SDPServer(ipaddress.IPv6Address("fe80::1"), {Security.NONE: 49152, Security.TLS: 49153},
                     SecurityPolicy.ECHO)


REQUEST_FAULTS = [
    mu.sdp_req_security(), mu.sdp_req_security(0xFF), mu.sdp_req_transport(), mu.sdp_req_length(),
    mu.sdp_req_length(3), mu.sdp_req_size(), mu.sdp_req_size(1), mu.sdp_req_payload_type(),
    mu.sdp_req_payload_type(PayloadType.SDP_RESPONSE), mu.sdp_req_version(), mu.sdp_req_inverse(),
]


@pytest.mark.parametrize("m", REQUEST_FAULTS, ids=[m.why for m in REQUEST_FAULTS])
def test_sdp_request_faults_get_no_answer(m: mu.Mutation) -> None:
    assert m.expect is Expect.NO_ANSWER
    with pytest.raises(SDPError):
        parse_request(m.data)
    server = _server()
    answer, what = server.datagram_received(m.data)
    assert answer is None and what.startswith("dropped") and server.answered == 0
    if m.fault is not None:
        with pytest.raises(V2GTPError) as err:
            decode_datagram(m.data, (PayloadType.SDP_REQUEST,))
        assert err.value.fault is m.fault
    # the valid request next to it is answered
    assert server.datagram_received(SDPRequest().to_bytes())[0] is not None


def test_sdp_udp_transport_is_defined_but_not_offered() -> None:
    m = mu.sdp_req_transport(0x10)
    assert parse_request(m.data).transport == 0x10  # a defined value ...
    answer, what = _server().datagram_received(m.data)
    assert answer is None and "only TCP" in what  # ... that no V2G session runs over
    assert mu.sdp_request_datagram() == SDPRequest().to_bytes()


RESPONSE_FAULTS = [
    mu.sdp_res_port_zero(), mu.sdp_res_security(), mu.sdp_res_transport(), mu.sdp_res_length(),
    mu.sdp_res_length(19), mu.sdp_res_payload_type(), mu.sdp_res_payload_type(PayloadType.SDP_REQUEST),
    mu.sdp_res_address("ff02::1"), mu.sdp_res_address("::"),
]


@pytest.mark.parametrize("m", RESPONSE_FAULTS, ids=[m.why for m in RESPONSE_FAULTS])
def test_sdp_response_faults_are_ignored_by_the_car(m: mu.Mutation) -> None:
    assert m.expect is Expect.IGNORE
    with pytest.raises(SDPError):
        parse_response(m.data)
    client = SDPClient()
    client.start()
    assert [type(o) for o in client.datagram_received(m.data)] == [SDPIgnored]
    assert client.result is None
    assert client.datagram_received(mu.sdp_response_datagram())[0].response.port == mu.SECC_PORT


def test_sdp_response_udp_transport_is_ignored_by_the_client() -> None:
    m = mu.sdp_res_transport(0x10)
    assert parse_response(m.data).transport == 0x10
    client = SDPClient()
    client.start()
    out = client.datagram_received(m.data)
    assert isinstance(out[0], SDPIgnored) and "only TCP" in out[0].reason


def test_sdp_response_with_a_global_address() -> None:
    """ISO 15118 links carry link-local addresses; v2gkit's parser takes any unicast one (its loopback
    tests use ::1), so this fault is one for other cars: here it parses."""
    m = mu.sdp_res_address()
    assert m.expect is Expect.IGNORE
    assert parse_response(m.data).address == ipaddress.IPv6Address("2001:db8::1")
    with pytest.raises(ValueError, match="link-local"):
        mu.sdp_res_address("fe80::7")


# ------------------------------------------------------------------------------------ TCP stream shapes

FRAMES = [frame(PayloadType.EXI, d) for _n, d in DOCS]


def _messages(chunks: list[bytes]) -> list:
    reader = V2GTPReader()
    return [o for c in chunks for o in reader.feed(c)]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_shape_of_the_stream_gives_the_same_messages(data: st.DataObject) -> None:
    frames = data.draw(st.lists(st.sampled_from(FRAMES), min_size=1, max_size=5), label="frames")
    whole = b"".join(frames)
    offsets = data.draw(st.lists(st.integers(1, len(whole) - 1), max_size=12), label="offsets")
    want = [V2GTPMessage(PayloadType.EXI, f[8:]) for f in frames]
    chunks = mu.reshape(frames, offsets)
    assert b"".join(chunks) == whole and len(chunks) == len(set(offsets)) + 1
    assert _messages(chunks) == want
    assert _messages(mu.merge(frames)) == want


def test_split_shapes() -> None:
    assert mu.split(GOOD, [3, 8]) == [GOOD[:3], GOOD[3:8], GOOD[8:]]
    assert mu.split(GOOD, []) == [GOOD]
    assert _messages(mu.split_every(GOOD, 1)) == [V2GTPMessage(PayloadType.EXI, SESSION_SETUP)]
    assert all(len(c) == 1 for c in mu.split_every(GOOD, 1))
    for bad in ([0], [len(GOOD)], [-1]):
        with pytest.raises(ValueError):
            mu.split(GOOD, bad)
    with pytest.raises(ValueError):
        mu.split_every(GOOD, 0)


def test_mutations_are_bytes_for_the_adapter() -> None:
    m = mu.header_version(SESSION_SETUP)
    assert bytes(m) == m.data and isinstance(m.data, bytes) and m.why
    with pytest.raises(ValueError):
        mu.header_version(SESSION_SETUP, version=1)
