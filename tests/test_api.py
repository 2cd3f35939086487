"""The codec API: documents, fragments, typed errors, the seed's SessionSetupRes."""

from __future__ import annotations

import time

import pytest

from v2gkit.exi import (
    ExiEncodeError,
    ExiError,
    ExiEventCodeError,
    ExiHeaderError,
    ExiStringTableError,
    ExiTrailingDataError,
    ExiTruncatedError,
    ExiUnsupportedError,
    ExiValueError,
    decode,
    decode_element,
    decode_fragment,
    encode,
    encode_fragment,
)
from v2gkit.exi.convert import from_json, from_xml, to_json, to_xml
from v2gkit.exi.gen import apphand, din, iso2, iso20, xmldsig
from v2gkit.sim import iso2_dc

DIN_SESSION_SETUP_REQ = bytes.fromhex("809a02000000000000000011d01a121dc983cd6000")


def test_seed_004_session_setup_res_is_31_bytes() -> None:
    """The Lua API seed: SessionSetupRes FAILED_SequenceError, EVSEID 'KR*TC1*ISO1*001', V2GTP length 0x1F."""
    msg = iso2.V2G_MessageType(
        header=iso2.MessageHeaderType(session_id=bytes.fromhex("C1A61BDEADFA4655")),
        body=iso2.BodyType(session_setup_res=iso2.SessionSetupResType(
            response_code=iso2.responseCodeType.FAILED_SequenceError, evseid="KR*TC1*ISO1*001")))
    data = encode(msg)
    assert len(data) == 0x1F
    assert decode(data, "iso2") == msg
    # and the seed's XML example gives the same bytes
    xml = """<s3:V2G_Message xmlns:s1="urn:iso:15118:2:2013:MsgBody" xmlns:s3="urn:iso:15118:2:2013:MsgDef"
      xmlns:s4="urn:iso:15118:2:2013:MsgHeader"><s3:Header><s4:SessionID>C1A61BDEADFA4655</s4:SessionID></s3:Header>
      <s3:Body><s1:SessionSetupRes><s1:ResponseCode>FAILED_SequenceError</s1:ResponseCode>
      <s1:EVSEID>KR*TC1*ISO1*001</s1:EVSEID></s1:SessionSetupRes></s3:Body></s3:V2G_Message>"""
    name, obj = from_xml(xml, "iso2")
    assert name == "V2G_Message" and encode(obj) == data


def test_din_session_setup_req_json() -> None:
    msg = decode(DIN_SESSION_SETUP_REQ, "din")
    assert to_json(msg) == ('{"V2G_Message":{"Header":{"SessionID":"0000000000000000"},'
                            '"Body":{"SessionSetupReq":{"EVCCID":"84877260F358"}}}}')
    assert encode(msg) == DIN_SESSION_SETUP_REQ


def test_full_iso2_dc_sequence_roundtrips_all_forms() -> None:
    for name, _direction, msg in iso2_dc.sequence():
        data = encode(msg)
        assert data[0] == 0x80 and data[1] == 0x98, name
        assert decode(data, "iso2") == msg
        assert from_json(to_json(msg), "iso2") == ("V2G_Message", msg)
        assert from_xml(to_xml(msg), "iso2") == ("V2G_Message", msg)


def test_apphand_and_iso20_roots() -> None:
    req = apphand.supportedAppProtocolReqType(app_protocol=[apphand.AppProtocolType(
        protocol_namespace="urn:iso:std:iso:15118:-20:AC", version_number_major=1, version_number_minor=0,
        schema_id=1, priority=1)])
    data = encode(req)
    assert data.hex() == "8000f3ab9371d34b9b79d39ba321d34b9b79d189a98989c1d1699181d20a18010000040040"
    assert decode_element(data, "apphand") == ("supportedAppProtocolReq", req)
    setup = iso20.SessionSetupReqType(header=iso20.MessageHeaderType(session_id=bytes(8), time_stamp=1),
                                      evccid="WMIV1234567890ABCDEX")
    data = encode(setup)
    assert data[:2] == bytes.fromhex("808c")  # vectors README: -20 SessionSetupReq prefix
    assert decode_element(data, "iso20") == ("SessionSetupReq", setup)


def test_signed_info_fragment_standalone_grammar() -> None:
    si = xmldsig.SignedInfoType(
        canonicalization_method=xmldsig.CanonicalizationMethodType(algorithm="http://www.w3.org/TR/canonical-exi/"),
        signature_method=xmldsig.SignatureMethodType(
            algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"),
        reference=[xmldsig.ReferenceType(
            uri="#ID1", transforms=xmldsig.TransformsType(transform=[xmldsig.TransformType(
                algorithm="http://www.w3.org/TR/canonical-exi/")]),
            digest_method=xmldsig.DigestMethodType(algorithm="http://www.w3.org/2001/04/xmlenc#sha256"),
            digest_value=bytes(32))])
    data = encode_fragment(si)
    assert data[:2] == bytes.fromhex("8081")  # vectors README 3.3: standalone xmldsig grammar
    assert decode_fragment(data, "xmldsig") == [("SignedInfo", si)]


def test_emaid_fragment_uses_the_relaxed_element_fragment_grammar() -> None:
    emaid = iso2.EMAIDType(id="ID4", value="DEAAA0001234567")
    data = encode_fragment(emaid, element="eMAID")
    assert decode_fragment(data, "iso2") == [("eMAID", emaid)]
    plain = encode_fragment("DEAAA0001234567", element="eMAID", schema="iso2")
    assert decode_fragment(plain, "iso2") == [("eMAID", "DEAAA0001234567")]


@pytest.mark.parametrize("data,err", [
    (b"", ExiTruncatedError),
    (bytes.fromhex("40"), ExiHeaderError),
    (bytes.fromhex("0108008000e2"), ExiHeaderError),
    (DIN_SESSION_SETUP_REQ[:-3], ExiTruncatedError),
    (DIN_SESSION_SETUP_REQ[:2], ExiTruncatedError),
    (DIN_SESSION_SETUP_REQ + b"\x01\x02", ExiTrailingDataError),
    (bytes.fromhex("80ff"), ExiEventCodeError),
])
def test_bad_input_raises_typed_errors(data: bytes, err: type[ExiError]) -> None:
    with pytest.raises(err) as ei:
        decode(data, "din")
    assert ei.value.bit_offset is not None
    assert "at bit" in str(ei.value)


@pytest.mark.parametrize("hit", [0, 1])
def test_string_table_hit_is_rejected(hit: int) -> None:
    """ProtocolNamespace's length field sits at bit 13 (header 8, doc 2, SE 1, SE 1, CH 1)."""
    req = apphand.supportedAppProtocolReqType(app_protocol=[apphand.AppProtocolType(
        protocol_namespace="", version_number_major=1, version_number_minor=0, schema_id=1, priority=1)])
    good = encode(req)
    n = int.from_bytes(good, "big")
    total = len(good) * 8
    assert (n >> (total - 13 - 8)) & 0xFF == 2  # empty string: length 0 + 2
    patched = (n & ~(0xFF << (total - 21))) | (hit << (total - 21))
    with pytest.raises(ExiStringTableError) as ei:
        decode(patched.to_bytes(len(good), "big"), "apphand")
    assert ei.value.bit_offset == 21


def test_out_of_range_enum_index() -> None:
    # apphand supportedAppProtocolRes: ResponseCode index 3 does not exist (3 values in 2 bits)
    with pytest.raises(ExiValueError) as ei:
        decode(bytes.fromhex("804c80"), "apphand")
    assert "ResponseCode" in str(ei.value)


def test_huge_length_fails_fast_without_allocating() -> None:
    # a binary length claiming 2**60 octets right after the header of a DIN SessionSetupReq
    head = bytes.fromhex("809a02")  # V2G_Message, Header, SessionID: CH, then the length varint
    evil = head[:2] + bytes([0x02 | 0x01]) + bytes([0xFF] * 8) + b"\x01" + b"\x00" * 4
    t = time.perf_counter()
    with pytest.raises(ExiError):
        decode(evil, "din")
    assert time.perf_counter() - t < 0.5


def test_unsupported_second_level_event() -> None:
    # CDReq whose first CH bit is flipped to the escape: xsi:type/nil etc.
    data = bytearray(encode(iso2_dc.current_demand_req()))
    with pytest.raises(ExiError):
        for i in range(len(data) * 8):
            flipped = bytearray(data)
            flipped[i // 8] ^= 0x80 >> (i % 8)
            try:
                decode(bytes(flipped), "iso2")
            except ExiUnsupportedError:
                raise
            except ExiError:
                continue


def test_encode_errors_name_the_field() -> None:
    msg = iso2_dc.current_demand_req()
    msg.body.current_demand_req.ev_target_current.value = 40000  # short: -32768..32767
    with pytest.raises(ExiEncodeError) as ei:
        encode(msg)
    assert ei.value.path == "V2G_Message.Body.CurrentDemandReq.EVTargetCurrent.Value"
    msg = iso2_dc.current_demand_req()
    msg.body.current_demand_req.ev_target_voltage = None
    with pytest.raises(ExiEncodeError) as ei:
        encode(msg)
    assert ei.value.path.endswith("CurrentDemandReq.EVTargetVoltage")
    assert "mandatory" in str(ei.value)
    msg = iso2_dc.sequence()[1][2]
    msg.body.session_setup_res.evseid = "X" * 38  # maxLength 37
    with pytest.raises(ExiEncodeError) as ei:
        encode(msg)
    assert ei.value.path.endswith("SessionSetupRes.EVSEID")


def test_schema_limits_not_capped() -> None:
    """maxOccurs comes from the XSD: 1024 PMaxScheduleEntry in ISO-2 (cbexigen caps at 12)."""
    msg = iso2_dc.charge_parameter_discovery_res(entries=1024)
    assert decode(encode(msg), "iso2") == msg
    msg = iso2_dc.charge_parameter_discovery_res(entries=1025)
    with pytest.raises(ExiEncodeError):
        encode(msg)


def test_real_car_quirks() -> None:
    # one-byte SessionID 00 (Polestar 2, Josev EVCC)
    m = din.V2G_MessageType(header=din.MessageHeaderType(session_id=b"\x00"),
                            body=din.BodyType(session_setup_req=din.SessionSetupReqType(evccid=bytes(6))))
    assert decode(encode(m), "din") == m
    # NUL characters in a string (BMW iX ServiceScope)
    s = iso2.V2G_MessageType(header=iso2.MessageHeaderType(session_id=bytes(8)), body=iso2.BodyType(
        service_discovery_req=iso2.ServiceDiscoveryReqType(service_scope="\x00" * 10)))
    assert decode(encode(s), "iso2") == s


def test_nested_group_content_models() -> None:
    """xmldsig DSAKeyValue (optional pairs), PGPData (choice of sequences), SPKIData (repeated pair)."""
    x = xmldsig
    full = x.DSAKeyValueType(p=b"\x01", q=b"\x02", g=b"\x03", y=b"\x04", j=b"\x05", seed=b"\x06",
                             pgen_counter=b"\x07")
    only_y = x.DSAKeyValueType(y=b"\x04")
    for obj in (full, only_y):
        data = encode(obj)
        assert decode_element(data, "xmldsig") == ("DSAKeyValue", obj)
        assert from_json(to_json(obj), "xmldsig") == ("DSAKeyValue", obj)
    with pytest.raises(ExiEncodeError, match="not allowed"):
        encode(x.DSAKeyValueType(p=b"\x01", y=b"\x04"))  # P needs Q
    with pytest.raises(ExiEncodeError, match="incomplete"):
        encode(x.DSAKeyValueType(g=b"\x03"))  # Y is mandatory
    for obj in (x.PGPDataType(pgp_key_id=b"\x01", pgp_key_packet=b"\x02"), x.PGPDataType(pgp_key_packet=b"\x02"),
                x.PGPDataType(pgp_key_id=b"\x01")):
        assert decode(encode(obj), "xmldsig") == obj
    spki = x.SPKIDataType(spki_sexp=[b"\x01", b"\x02\x03"])
    assert decode(encode(spki), "xmldsig") == spki
    # inside a Signature's KeyInfo
    sig_key = x.KeyInfoType(key_value=[x.KeyValueType(dsa_key_value=only_y)])
    assert decode(encode(sig_key), "xmldsig") == sig_key


def test_acdp_elements_sharing_a_type_have_their_own_class() -> None:
    """ACDP_DisconnectReq reuses ACDP_ConnectReqType: each element still decodes to its own class."""
    from v2gkit.exi.gen import iso20_acdp as a

    h = a.MessageHeaderType(session_id=bytes(8), time_stamp=5)
    seen = {}
    for cls in (a.ACDP_ConnectReq, a.ACDP_DisconnectReq):
        obj = cls(header=h, ev_electrical_charging_device_status=a.electricalChargingDeviceStatusType.State_A)
        data = encode(obj)  # no element= needed: the class names the element
        back = decode(data, "iso20-acdp")
        assert type(back) is cls and back == obj
        assert from_json(to_json(obj), "iso20-acdp") == (cls.__name__, obj)
        seen[cls.__name__] = data
    # same content, different document element code (EXI 8.5.1 order: Connect 0, Disconnect 2)
    assert seen["ACDP_ConnectReq"] != seen["ACDP_DisconnectReq"]
    assert a.ACDP_ConnectReq(header=h) != a.ACDP_DisconnectReq(header=h)
