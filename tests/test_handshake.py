"""supportedAppProtocol: the SECC's selection table and the EVCC's checks, on real EXI bytes."""

from __future__ import annotations

import pytest

from v2gkit.exi import api as exi
from v2gkit.exi.errors import ExiEncodeError
from v2gkit.exi.gen import apphand
from v2gkit.session.handshake import (
    DEFAULT_OFFER,
    PROTOCOLS,
    EVHandshake,
    HandshakeError,
    Offer,
    ResponseCode,
    SECCHandshake,
    protocol_list,
)

DIN, ISO2 = "urn:din:70121:2012:MsgDef", "urn:iso:15118:2:2013:MsgDef"
ISO20_DC, ISO20_AC = "urn:iso:std:iso:15118:-20:DC", "urn:iso:std:iso:15118:-20:AC"
TESLA = "urn:tesla:din:2018:MsgDef"
OK, MINOR, FAILED = (ResponseCode.OK_SuccessfulNegotiation, ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation,
                     ResponseCode.Failed_NoNegotiation)


def _answer(entries: list[tuple], supported: str) -> tuple[int, int | None]:
    """entries: (namespace, major, minor, schema_id, priority) -> (response code, schema id) on the wire."""
    req = apphand.supportedAppProtocolReqType(app_protocol=[
        apphand.AppProtocolType(protocol_namespace=n, version_number_major=a, version_number_minor=b,
                                schema_id=s, priority=p) for n, a, b, s, p in entries])
    payload, _ = SECCHandshake(supported).request(exi.encode(req))
    assert payload is not None
    name, res = exi.decode_element(payload, "apphand")
    assert name == "supportedAppProtocolRes"
    return res.response_code, res.schema_id


@pytest.mark.parametrize("entries,supported,expected", [
    # best priority among the supported entries wins, whatever the list order
    ([(DIN, 2, 0, 1, 2), (ISO2, 2, 0, 2, 1)], "din,iso2", (OK, 2)),
    ([(ISO2, 2, 0, 10, 2), (DIN, 2, 0, 11, 1)], "din,iso2", (OK, 11)),
    # the Vector VC-EVCC manual: ISO 15118 priority 1, DIN priority 2, DIN-only charger
    ([(ISO2, 2, 0, 1, 1), (DIN, 2, 0, 2, 2)], "din", (OK, 2)),
    # a real Tesla: an unknown namespace at priority 1 is skipped, not an error
    ([(DIN, 2, 0, 1, 2), (TESLA, 0, 7, 2, 1)], "din,iso2", (OK, 1)),
    # same major, other minor: minor deviation (TC_SECC_CMN_VTB_SupportedAppProtocol_006)
    ([(ISO2, 2, 1, 5, 1)], "iso2", (MINOR, 5)),
    ([(ISO2, 2, 0, 5, 2), (DIN, 2, 3, 6, 1)], "din,iso2", (MINOR, 6)),
    # another major version is another protocol: skipped
    ([(ISO2, 1, 0, 1, 1), (DIN, 2, 0, 2, 2)], "din,iso2", (OK, 2)),
    ([(ISO2, 3, 0, 1, 1)], "iso2", (FAILED, None)),
    # nothing in common (TC_SECC_CMN_VTB_SupportedAppProtocol_002): no SchemaID in the answer
    ([("urn:iso:15118:2:2099:Invalid", 2, 0, 1, 1)], "din,iso2", (FAILED, None)),
    ([(ISO20_DC, 1, 0, 1, 1), (ISO20_AC, 1, 0, 2, 2)], "iso2,din", (FAILED, None)),
    # ISO 15118-20 service namespaces
    ([(ISO20_AC, 1, 0, 7, 2), (ISO20_DC, 1, 0, 8, 1), (ISO2, 2, 0, 9, 3)], "iso20-ac,iso20-dc,iso2", (OK, 8)),
    ([(ISO20_AC, 1, 0, 7, 2), (ISO20_DC, 1, 0, 8, 1), (ISO2, 2, 0, 9, 3)], "iso20-ac,iso2", (OK, 7)),
    # equal priorities: the earlier entry
    ([(DIN, 2, 0, 1, 1), (ISO2, 2, 0, 2, 1)], "din,iso2", (OK, 1)),
])
def test_selection(entries: list[tuple], supported: str, expected: tuple) -> None:
    assert _answer(entries, supported) == expected


def test_twenty_entries_is_the_limit() -> None:
    entries = [(f"urn:x:{i}", 1, 0, i, i) for i in range(1, 20)] + [(DIN, 2, 0, 20, 20)]
    assert _answer(entries, "din") == (OK, 20)
    too_many = apphand.supportedAppProtocolReqType(app_protocol=[
        apphand.AppProtocolType(protocol_namespace="urn:x", version_number_major=1, version_number_minor=0,
                                schema_id=i, priority=1) for i in range(21)])
    with pytest.raises(ExiEncodeError, match="AppProtocol"):
        exi.encode(too_many)


def test_default_offer_keeps_the_configured_order() -> None:
    ev = EVHandshake()
    req = exi.decode(ev.request(), "apphand")
    got = [(e.protocol_namespace, e.schema_id, e.priority) for e in req.app_protocol]
    assert got == [(ISO20_DC, 1, 1), (ISO20_AC, 2, 2), (ISO2, 3, 3), (DIN, 4, 4)]
    assert [p.name for p in protocol_list(DEFAULT_OFFER)] == ["iso20-dc", "iso20-ac", "iso2", "din"]
    req = exi.decode(EVHandshake("din,iso2").request(), "apphand")
    assert [(e.protocol_namespace, e.priority) for e in req.app_protocol] == [(DIN, 1), (ISO2, 2)]


@pytest.mark.parametrize("offer,supported,name,code", [
    ("iso2,din", "din,iso2", "iso2", OK),
    ("din,iso2", "iso2,din", "din", OK),
    ("iso20-dc,iso2,din", "iso2", "iso2", OK),
])
def test_both_roles_agree(offer: str, supported: str, name: str, code: ResponseCode) -> None:
    ev, secc = EVHandshake(offer), SECCHandshake(supported)
    payload, outcome = secc.request(ev.request())
    got = ev.response(payload)
    assert got == outcome and got.protocol.name == name and got.response_code == code


def _res(code: ResponseCode, schema_id: int | None) -> bytes:
    return exi.encode(apphand.supportedAppProtocolResType(response_code=code, schema_id=schema_id))


@pytest.mark.parametrize("payload,match", [
    (_res(FAILED, None), "none of the offered protocols"),
    (_res(OK, 9), "SchemaID 9, which was not offered"),
    (_res(OK, None), "without a SchemaID"),
    (b"\x80\x00", "does not decode"),
    (exi.encode(apphand.supportedAppProtocolReqType(app_protocol=[apphand.AppProtocolType(
        protocol_namespace=DIN, version_number_major=2, version_number_minor=0, schema_id=1, priority=1)])),
     "expected supportedAppProtocolRes"),
])
def test_evcc_checks_the_answer(payload: bytes, match: str) -> None:
    ev = EVHandshake("iso2,din")
    with pytest.raises(HandshakeError, match=match):
        ev.response(payload)


def test_evcc_with_test_offers_refuses_a_foreign_choice() -> None:
    ev = EVHandshake([Offer(TESLA, 0, 7, 2, 1), Offer(DIN, 2, 0, 1, 2)])
    with pytest.raises(HandshakeError, match="cannot speak"):
        ev.response(_res(OK, 2))
    assert ev.response(_res(OK, 1)).protocol is PROTOCOLS["din"]


def test_secc_does_not_answer_garbage() -> None:
    secc = SECCHandshake("din")
    assert secc.request(b"\x80\x00\x01") == (None, None) and "does not decode" in secc.error


@pytest.mark.parametrize("bad,match", [("iso3", "unknown protocol 'iso3'"), ("din,din", "listed twice"),
                                       ("", "no protocols")])
def test_protocol_list_errors(bad: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        protocol_list(bad)
