"""V2GTP framing: reassembly at any split, concatenations, every header fault and its rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2gkit.v2gtp import (
    HEADER_RULES,
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
    parse_header,
)

# seed 004: the SessionSetupRes of the VC-EVCC manual excerpt, 0x1F payload bytes
SEED_SESSION_SETUP_RES = bytes.fromhex("01fe80010000001f") + bytes(0x1F)

messages = st.lists(st.tuples(st.sampled_from(sorted(PayloadType.__members__.values())[:10]),
                              st.binary(min_size=1, max_size=300)), min_size=1, max_size=8)


def _feed_split(reader: V2GTPReader, data: bytes, cuts: list[int]) -> list:
    out, prev = [], 0
    for c in sorted(set(cuts)) + [len(data)]:
        out += reader.feed(data[prev:c])
        prev = c
    return out


@settings(max_examples=300, deadline=None)
@given(messages, st.lists(st.integers(0, 3000), max_size=12))
def test_any_split_gives_the_same_messages(msgs: list[tuple[int, bytes]], cuts: list[int]) -> None:
    data = b"".join(frame(t, p) for t, p in msgs)
    cuts = [c for c in cuts if c <= len(data)]
    events = _feed_split(V2GTPReader(), data, cuts)
    assert events == [V2GTPMessage(t, p) for t, p in msgs]


@settings(max_examples=100, deadline=None)
@given(messages)
def test_byte_by_byte(msgs: list[tuple[int, bytes]]) -> None:
    data = b"".join(frame(t, p) for t, p in msgs)
    r = V2GTPReader()
    events = [e for i in range(len(data)) for e in r.feed(data[i:i + 1])]
    assert events == [V2GTPMessage(t, p) for t, p in msgs]
    assert r.buffered == 0 and r.state is ReaderState.HEADER


def test_header_layout_and_seed_message() -> None:
    assert frame(PayloadType.EXI, b"\x80\x98") == bytes.fromhex("01fe8001000000028098")
    (msg,) = V2GTPReader().feed(SEED_SESSION_SETUP_RES)
    assert msg.payload_type == 0x8001 and len(msg.payload) == 0x1F
    assert parse_header(SEED_SESSION_SETUP_RES) == (0x8001, 31)


def _bad(header: bytes, payload: bytes = b"") -> tuple[list, V2GTPReader]:
    r = V2GTPReader(max_payload=1000, accept={PayloadType.EXI})
    good = frame(PayloadType.EXI, b"after")
    return r.feed(header + payload + good), r


@pytest.mark.parametrize("header,fault", [
    (bytes.fromhex("ff fe 8001 00000005"), Fault.VERSION),     # TC_..._V2GTPSessionSetup_004
    (bytes.fromhex("01 ff 8001 00000005"), Fault.VERSION),     # TC_..._V2GTPSessionSetup_005
    (bytes.fromhex("02 fd 8001 00000005"), Fault.VERSION),     # a consistent but unknown version
    (bytes.fromhex("01 fe 8001 000003e9"), Fault.LENGTH_TOO_LARGE),
    (bytes.fromhex("01 fe 8001 ffffffff"), Fault.LENGTH_TOO_LARGE),
])
def test_fatal_faults_close_and_ignore_the_rest(header: bytes, fault: Fault) -> None:
    events, r = _bad(header, b"12345")
    assert len(events) == 1 and isinstance(events[0], HeaderFault)
    assert events[0].fault is fault and events[0].action is Action.CLOSE is HEADER_RULES[fault]
    assert r.state is ReaderState.CLOSED and r.buffered == 0
    assert r.feed(frame(PayloadType.EXI, b"x")) == []  # nothing after a close
    assert "stream offset 0" in events[0].message


@pytest.mark.parametrize("header,payload,fault", [
    (bytes.fromhex("01 fe 7001 00000005"), b"12345", Fault.PAYLOAD_TYPE),  # TC_..._V2GTPSessionSetup_003
    (bytes.fromhex("01 fe 8002 00000003"), b"abc", Fault.PAYLOAD_TYPE),    # -20 type on a -2 connection
    (bytes.fromhex("01 fe a000 00000002"), b"xy", Fault.PAYLOAD_TYPE),     # manufacturer specific
    (bytes.fromhex("01 fe 8001 00000000"), b"", Fault.LENGTH_ZERO),        # TC_..._V2GTPSessionSetup_002
])
def test_discarded_messages_keep_the_stream_in_sync(header: bytes, payload: bytes, fault: Fault) -> None:
    events, r = _bad(header, payload)
    assert [type(e) for e in events] == [HeaderFault, V2GTPMessage]
    assert events[0].fault is fault and events[0].action is Action.DISCARD
    assert events[1] == V2GTPMessage(PayloadType.EXI, b"after")


def test_oversized_length_never_allocates() -> None:
    r = V2GTPReader(max_payload=65536)
    (ev,) = r.feed(bytes.fromhex("01fe8001fffffff0") + bytes(100))
    assert ev.fault is Fault.LENGTH_TOO_LARGE and r.buffered == 0


def test_discarded_payload_is_skipped_not_stored() -> None:
    r = V2GTPReader(accept={PayloadType.EXI})
    assert r.feed(bytes.fromhex("01fe7001") + (60000).to_bytes(4, "big"))[0].fault is Fault.PAYLOAD_TYPE
    for _ in range(59):
        assert r.feed(bytes(1000)) == [] and r.buffered == 0
    assert r.feed(bytes(1000) + frame(0x8001, b"ok")) == [V2GTPMessage(0x8001, b"ok")]


def test_partial_payload_is_bounded_by_the_limit() -> None:
    r = V2GTPReader(max_payload=500)
    r.feed(frame(0x8001, bytes(500))[:-1])
    assert r.buffered == 8 + 499


@pytest.mark.parametrize("data,fault", [
    (bytes.fromhex("01fe9000000000021000"), None),
    (bytes.fromhex("01fe900000000000"), Fault.LENGTH_ZERO),        # TC_..._V2GTPSDP_002
    (bytes.fromhex("01fe700000000002 1000"), Fault.PAYLOAD_TYPE),  # TC_..._V2GTPSDP_003
    (bytes.fromhex("fffe900000000002 1000"), Fault.VERSION),       # TC_..._V2GTPSDP_004
    (bytes.fromhex("01ff900000000002 1000"), Fault.VERSION),       # TC_..._V2GTPSDP_005
    (bytes.fromhex("01fe900000000003 1000"), Fault.LENGTH_MISMATCH),
])
def test_datagrams(data: bytes, fault: Fault | None) -> None:
    if fault is None:
        assert decode_datagram(data) == V2GTPMessage(0x9000, b"\x10\x00")
    else:
        with pytest.raises(V2GTPError) as e:
            decode_datagram(data)
        assert e.value.fault is fault


def test_short_header() -> None:
    with pytest.raises(V2GTPError, match="needs 8 bytes"):
        parse_header(b"\x01\xfe")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=5))
def test_garbage_never_raises_and_stays_bounded(data: bytes, cuts: list[int]) -> None:
    r = V2GTPReader(max_payload=64)
    events = _feed_split(r, data, [c for c in cuts if c <= len(data)])
    assert all(isinstance(e, (V2GTPMessage, HeaderFault)) for e in events)
    assert r.buffered <= 8 + 64
