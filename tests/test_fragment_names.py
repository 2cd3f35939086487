"""Fragment element names: a local name declared more than once in a schema set is named {namespace}local.

Found by the fuzzer: ISO-20 CommonTypes Exponent (a byte) came back as xmldsig's Exponent (base64), and
ISO-2's header SessionID re-encoded as the body's SessionID (another event code): a digest over such a
fragment would not match the peer's.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import generatable, instances, simple

from v2gkit.exi import SCHEMAS, ExiEncodeError, decode_fragment, encode_fragment, schema_module
from v2gkit.exi.api import fragment_names
from v2gkit.exi.convert import from_xml, to_xml


@pytest.mark.parametrize(("schema", "stream", "name", "value"), [
    ("iso20", "802e9f51a0", "{urn:iso:std:iso:15118:-20:CommonTypes}Exponent", -3),
    ("iso20-wpt", "80323eb080", "{urn:iso:std:iso:15118:-20:CommonTypes}Exponent", -3),
    ("iso2", "80c50400810182028303843d00", "{urn:iso:15118:2:2013:MsgHeader}SessionID", bytes(range(1, 9))),
])
def test_shared_names_come_back_qualified_and_encode_back_the_same(schema: str, stream: str, name: str,
                                                                    value: object) -> None:
    data = bytes.fromhex(stream)
    assert decode_fragment(data, schema) == [(name, value)]
    assert encode_fragment(value, element=name, schema=schema) == data


def test_a_bare_shared_name_is_refused_not_guessed() -> None:
    with pytest.raises(ExiEncodeError, match=r"'SessionID' names 2 elements of schema iso2: say which"):
        encode_fragment(bytes(8), element="SessionID", schema="iso2")
    # a unique name works bare and qualified
    m = schema_module("iso2")
    info = m.SignedInfoType(canonicalization_method=m.CanonicalizationMethodType(algorithm="a"),
                            signature_method=m.SignatureMethodType(algorithm="b"),
                            reference=[m.ReferenceType(digest_method=m.DigestMethodType(algorithm="c"),
                                                       digest_value=b"d")])
    bare = encode_fragment(info, element="SignedInfo", schema="iso2")
    assert encode_fragment(info, element="{http://www.w3.org/2000/09/xmldsig#}SignedInfo", schema="iso2") == bare
    assert decode_fragment(bare, "iso2") == [("SignedInfo", info)]


def _shared_rows() -> list:
    out = []
    for schema in SCHEMAS:
        mod = schema_module(schema)
        names, _ = fragment_names(mod)
        for i, row in enumerate(mod.FRAG_ELEMENTS):
            if names[i].startswith("{") and (not isinstance(row[4], type) or generatable(mod, row[4])):
                out.append(pytest.param(schema, names[i], row[4], id=f"{schema}:{names[i]}"))
    return out


@pytest.mark.parametrize(("schema", "name", "t"), _shared_rows())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_shared_name_round_trips(schema: str, name: str, t: object, data: st.DataObject) -> None:
    mod = schema_module(schema)
    value = data.draw(instances(mod, t, xml_safe=True) if isinstance(t, type) else simple(t, True))
    stream = encode_fragment(value, element=name, schema=schema)
    assert decode_fragment(stream, schema) == [(name, value)]
    if isinstance(t, type):
        assert from_xml(to_xml(value, element=name, fragment=True), schema, fragment=True) == (name, value)
