"""The measured deviations of the C codec lineages from EXI 1.0 (tests/data/codec_deviations.json).

Each entry has the spec-following stream (v2gkit must read it and write exactly it) and, where one is
known, the deviant stream with what v2gkit does with it: a typed error at a bit offset, a lenient read
with what was kept, or a read whose re-encoding is the spec form. README: "Codec lineages".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v2gkit.exi import ExiError, decode_element, decode_lenient, encode

VECTORS = json.loads((Path(__file__).parent / "data" / "codec_deviations.json").read_text())


def _id(v: dict) -> str:
    return f"{v['lineage']}:{v['schema']}:{v.get('deviant', v.get('spec'))[:16]}"


@pytest.mark.parametrize("v", [v for v in VECTORS if "spec" in v], ids=_id)
def test_spec_form_round_trips(v: dict) -> None:
    data = bytes.fromhex(v["spec"])
    element, obj = decode_element(data, v["schema"])
    assert element == v["element"]
    assert encode(obj, element=element, schema=v["schema"]) == data


@pytest.mark.parametrize("v", [v for v in VECTORS if "deviant" in v], ids=_id)
def test_deviant_form(v: dict) -> None:
    data, want = bytes.fromhex(v["deviant"]), v["v2gkit"]
    if "reencodes" in want:
        element, obj = decode_element(data, v["schema"])
        assert element == v["element"]
        assert encode(obj, element=element, schema=v["schema"]).hex() == want["reencodes"]
        return
    with pytest.raises(ExiError) as err:
        decode_element(data, v["schema"])
    assert (type(err.value).__name__, err.value.bit_offset) == (want["error"], want["bit"])
    if "lenient" in want:
        kept = decode_lenient(data, v["schema"])
        assert kept.element == v["element"]
        assert [[o, w] for o, w in kept.violations] == want["lenient"]["violations"]
        assert kept.trailing.hex() == want["lenient"]["trailing"]
    else:  # nothing to keep: lenient decoding refuses it the same way
        with pytest.raises(type(err.value)):
            decode_lenient(data, v["schema"])


def test_abstract_elements_are_never_encoded() -> None:
    """EXI keeps abstract heads in the grammar, the schema keeps them off the wire: encoding refuses them."""
    from v2gkit.exi import ExiEncodeError
    from v2gkit.exi.api import schema_module

    m = schema_module("iso2")
    req = m.ChargeParameterDiscoveryReqType(requested_energy_transfer_mode=m.EnergyTransferModeType.DC_extended,
                                            ev_charge_parameter=m.EVChargeParameterType(departure_time=5))
    msg = m.V2G_MessageType(header=m.MessageHeaderType(session_id=bytes(8)),
                            body=m.BodyType(charge_parameter_discovery_req=req))
    with pytest.raises(ExiEncodeError) as err:
        encode(msg)
    assert err.value.path == "V2G_Message.Body.ChargeParameterDiscoveryReq.EVChargeParameter"
    assert "set one of AC_EVChargeParameter, DC_EVChargeParameter" in str(err.value)
    with pytest.raises(ExiEncodeError, match="EVSEStatus is an abstract element"):
        encode(m.EVSEStatusType(notification_max_delay=0, evse_notification=m.EVSENotificationType.None_),
               element="EVSEStatus", schema="iso2")
    with pytest.raises(ExiEncodeError, match="BodyElement is an abstract element"):
        encode(m.V2G_MessageType(header=m.MessageHeaderType(session_id=bytes(8)),
                                 body=m.BodyType(body_element=m.BodyBaseType())))
    # the member is fine
    req.ev_charge_parameter = None
    req.dc_ev_charge_parameter = m.DC_EVChargeParameterType(
        dc_ev_status=m.DC_EVStatusType(ev_ready=True, ev_error_code=m.DC_EVErrorCodeType.NO_ERROR, evresssoc=50),
        ev_maximum_current_limit=m.PhysicalValueType(multiplier=0, unit=m.unitSymbolType.A, value=100),
        ev_maximum_voltage_limit=m.PhysicalValueType(multiplier=0, unit=m.unitSymbolType.V, value=400))
    assert decode_element(encode(msg), "iso2") == ("V2G_Message", msg)


def test_an_abstract_document_element_is_read_only_leniently() -> None:
    data = bytes.fromhex("8098001230")  # an empty ISO-2 Body; its abstract BodyElement as the document:
    from v2gkit.exi.api import schema_module

    mod = schema_module("iso2")
    idx = next(i for i, row in enumerate(mod.DOC_ELEMENTS) if row[0] == "BodyElement")
    stream = bytes([0x80, idx << (8 - mod.DOC_WIDTH)])  # SE(BodyElement), then EE (code 0) of empty content
    with pytest.raises(ExiError, match="BodyElement is an abstract element"):
        decode_element(stream, "iso2")
    kept = decode_lenient(stream, "iso2")
    assert kept.element == "BodyElement" and kept.violations[0][0] == 8 + mod.DOC_WIDTH  # after its event code
    assert decode_element(data, "iso2")[0] == "V2G_Message"
