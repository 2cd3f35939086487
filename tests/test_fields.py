"""Field access on codec objects by script API function: the seed's examples on the wire, values at the
script boundary, faults allowed and impossibilities refused, lists, choices, and properties over random
messages."""

from __future__ import annotations

import base64
import copy
import itertools
from typing import Any

import pytest
from conftest import need_shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import generatable, instances

from v2gkit.exi import ExiEncodeError, encode, schema_module
from v2gkit.exi.convert import from_xml, to_dict
from v2gkit.testsys import fields
from v2gkit.testsys.api import ScriptValueError, all_functions, resolve
from v2gkit.testsys.api.names import REGISTRY
from v2gkit.v2gtp import PayloadType, frame


def fn(family: str, role: str, name: str) -> Any:
    f = resolve(family, role, name)
    assert f is not None, name
    return f


def doc(schema: str, session_id: str = "0000000000000000") -> Any:
    m = schema_module(schema)
    return m.V2G_MessageType(header=m.MessageHeaderType(session_id=bytes.fromhex(session_id)), body=m.BodyType())


def run(obj: Any, family: str, role: str, *calls: tuple) -> list[Any]:
    return [fields.call(obj, fn(family, role, name), args) for name, *args in calls]


# ------------------------------------------------------------------------------ the seed's pages on the wire


def test_seed_iso2_session_setup_res_is_the_pages_31_octets() -> None:
    seed = need_shared("seeds", "004_9ff65cbc69335124.txt").read_text()
    d = doc("iso2", "C1A61BDEADFA4655")
    run(d, "iso2", "secc", ("Set_SessionSetupRes_EVSEID", "KR*TC1*ISO1*001"),
        ("Set_SessionSetupRes_ResponseCode", "FAILED_SequenceError"))
    exi = encode(d)
    assert len(exi) == 31
    _, from_page = from_xml(seed[seed.index("<?xml"):], "iso2")
    assert exi == encode(from_page)
    assert frame(PayloadType.EXI, exi)[:8] == bytes.fromhex("01FE80010000001F")
    assert fields.get(d, fn("iso2", "secc", "Get_SessionSetupRes_Header_SessionID")) == "C1A61BDEADFA4655"


@pytest.mark.parametrize(("page", "family", "role", "calls", "length"), [
    ("din70121__session-stop-secc.xml", "din", "secc",
     [("Set_SessionStopRes_Header_SessionID", "98AB486B715D38D6"), ("Set_SessionStopRes_ResponseCode", "OK")], 14),
    ("din70121__contract-authentication-evcc.xml", "din", "evcc",
     [("Set_ContractAuthenticationReq_Header_SessionID", "30E319D0B7D3AD32"),
      ("Set_ContractAuthenticationReq_IdSpecified", False)], 13),
])
def test_the_complete_xml_examples_via_the_api(page: str, family: str, role: str, calls: list, length: int) -> None:
    xml = need_shared("lua-api", "xml-examples", page).read_text()
    d = doc(family)
    d.header.session_id = None
    run(d, family, role, *calls)
    _, from_page = from_xml(xml, family)
    assert len(encode(d)) == length == len(encode(from_page))
    assert encode(d) == encode(from_page)


def test_din_evseid_from_the_seed_text_gives_the_pages_30_octets() -> None:
    """DIN EVSEID is hexBinary; the page sets 'KR*TC1*DIN*001' and declares 0x1E octets: its ASCII octets."""
    d = doc("din", "0102030405060708")
    run(d, "din", "secc", ("Set_SessionSetupRes_EVSEID", "KR*TC1*DIN*001"),
        ("Set_SessionSetupRes_ResponseCode", "FAILED_SequenceError"))
    assert d.body.session_setup_res.evseid == b"KR*TC1*DIN*001"
    assert len(encode(d)) == 0x1E
    assert fields.get(d, fn("din", "secc", "Get_SessionSetupRes_EVSEID")) == b"KR*TC1*DIN*001".hex().upper()
    run(d, "din", "secc", ("Set_SessionSetupRes_EVSEID", "4b522a"))  # hex digits: those octets
    assert d.body.session_setup_res.evseid == b"KR*"
    run(d, "din", "secc", ("Set_SessionSetupRes_EVSEID", b"\x00\x01"))
    assert fields.get(d, fn("din", "secc", "Get_SessionSetupRes_EVSEID")) == "0001"


def test_seed_list_idioms() -> None:
    # DIN EVCC: Count + Add gives one item; Add of another field fills the same item
    r = fields.new_message("din", "ServicePaymentSelectionReq")
    run(r, "din", "evcc", ("Set_ServicePaymentSelectionReq_SelectedPaymentOption", "ExternalPayment"),
        ("Set_ServicePaymentSelectionReq_SelectedServiceList_Count", 1),
        ("Add_ServicePaymentSelectionReq_SelectedServiceList_ServiceID", 61000),
        ("Add_ServicePaymentSelectionReq_SelectedServiceList_ParameterSetID", 1))
    items = r.selected_service_list.selected_service
    assert [(s.service_id, s.parameter_set_id) for s in items] == [(61000, 1)]
    run(r, "din", "evcc", ("Add_ServicePaymentSelectionReq_SelectedServiceList_ServiceID", 2))
    assert [s.service_id for s in r.selected_service_list.selected_service] == [61000, 2]
    # SECC side: Exist over the received list (0-based Count / index reads)
    exist = fn("din", "secc", "Exist_ServicePaymentSelection_SelectedService")
    assert fields.exist(r, exist, (61000, 1)) and fields.exist(r, exist, (61000.0,))
    assert fields.exist(r, exist, (2,)) and not fields.exist(r, exist, (2, 1)) and fields.exist(r, exist, (None, 1))
    assert not fields.exist(r, exist, (3,))
    assert fields.get(r, fn("din", "secc", "Get_ServicePaymentSelectionReq_SelectedServiceList_Count")) == 2
    assert fields.get(r, fn("din", "secc", "Get_ServicePaymentSelectionReq_SelectedServiceList_ServiceID"), (1,)) == 2
    assert fields.get(r, fn("din", "secc", "Get_ServicePaymentSelectionReq_SelectedServiceList_ServiceID"), (5,)) is None
    # ISO EVCC: Count + indexed Set (0-based)
    q = fields.new_message("iso2", "PaymentServiceSelectionReq")
    run(q, "iso2", "evcc", ("Set_PaymentServiceSelectionReq_SelectedServiceList_Count", 1),
        ("Set_PaymentServiceSelectionReq_SelectedServiceList_ServiceID", 0, 61000),
        ("Set_PaymentServiceSelectionReq_SelectedServiceList_ParameterSetID", 0, 1))
    assert fields.exist(q, fn("iso2", "secc", "Exist_PaymentServiceSelection_SelectedService"), (61000, 1))
    assert len(encode(q, schema="iso2", element="PaymentServiceSelectionReq")) > 0
    # an index past the end appends default items up to it
    run(q, "iso2", "evcc", ("Set_PaymentServiceSelectionReq_SelectedServiceList_ServiceID", 3, 7))
    assert [s.service_id for s in q.selected_service_list.selected_service] == [61000, 0, 0, 7]
    # Count cuts; Adds after it fill from the first item
    run(q, "iso2", "evcc", ("Set_PaymentServiceSelectionReq_SelectedServiceList_Count", 2),
        ("Add_PaymentServiceSelectionReq_SelectedServiceList_ServiceID", 5))
    assert [s.service_id for s in q.selected_service_list.selected_service] == [5, 0]
    # a sized list survives a deep copy (the engine may copy messages)
    c = copy.deepcopy(q)
    assert c == q and type(c.selected_service_list.selected_service) is type(q.selected_service_list.selected_service)


def test_seed_examples_of_the_other_pages() -> None:
    # ISO-2 PreCharge EVCC: physical value leaf by leaf, Unit as the enum table gives it ("V")
    p = fields.new_message("iso2", "PreChargeReq")
    run(p, "iso2", "evcc", ("Set_PreChargeReq_DC_EVStatus_EVReady", True),
        ("Set_PreChargeReq_DC_EVStatus_EVErrorCode", "NO_ERROR"), ("Set_PreChargeReq_DC_EVStatus_EVRESSSOC", 74),
        ("Set_PreChargeReq_EVTargetVoltage_Multiplier", -1), ("Set_PreChargeReq_EVTargetVoltage_Unit", "V"),
        ("Set_PreChargeReq_EVTargetVoltage_Value", 3900))
    got = run(p, "iso2", "secc", ("Get_PreChargeReq_EVTargetVoltage_Value",), ("Get_PreChargeReq_EVTargetVoltage_Unit",),
              ("Get_PreChargeReq_EVTargetVoltage_Multiplier",), ("Get_PreChargeReq_DC_EVStatus_EVReady",),
              ("Get_PreChargeReq_DC_EVStatus_EVErrorCode",))
    assert got == [3900, "V", -1, True, "NO_ERROR"]
    # ChargingStatus EVCC: Check of an enum
    s = fields.new_message("iso2", "ChargingStatusRes")
    run(s, "iso2", "secc", ("Set_ChargingStatusRes_AC_EVSEStatus_EVSENotification", "None"))
    check = fn("iso2", "evcc", "Check_ChargingStatusRes_AC_EVSEStatus_EVSENotification")
    assert fields.check(s, check, ("None",)) and not fields.check(s, check, ("StopCharging",))
    with pytest.raises(ScriptValueError, match="EVSENotificationType"):
        fields.check(s, check, ("Nothing",))
    # Authorization EVCC: an attribute and a hexBinary
    a = fields.new_message("iso2", "AuthorizationReq")
    run(a, "iso2", "evcc", ("Set_AuthorizationReq_Id", "iso1-authorization"),
        ("Set_AuthorizationReq_GenChallenge", "1112131415161718"))
    assert a.id == "iso1-authorization" and a.gen_challenge == bytes.fromhex("1112131415161718")
    assert run(a, "iso2", "secc", ("Get_AuthorizationReq_GenChallenge",)) == ["1112131415161718"]


def test_iso20_header_paths_and_value_attributes() -> None:
    r = fields.new_message("iso20", "ServiceSelectionRes")
    run(r, "iso20", "secc", ("Set_ServiceSelectionRes_Header_SessionID", "0102030405060708"),
        ("Set_ServiceSelectionRes_Header_TimeStamp", 1_700_000_000),
        ("Set_ServiceSelectionRes_Header_Signature_SignedInfo_SignatureMethod",
         "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"),
        ("Set_ServiceSelectionRes_Header_Signature_SignatureValue", bytes(64).hex()),
        ("Set_ServiceSelectionRes_ResponseCode", "OK"))
    sig = r.header.signature
    assert sig.signed_info.signature_method.algorithm.endswith("ecdsa-sha256")
    assert sig.signature_value.value == bytes(64)
    assert sig.signed_info.canonicalization_method.algorithm == ""  # created with a default
    assert len(encode(r)) > 64
    get = lambda name: fields.get(r, fn("iso20", "secc", name))
    assert get("Get_ServiceSelectionRes_Header_Signature_SignedInfo_SignatureMethod") == \
        get("Get_ServiceSelectionRes_Header_Signature_SignedInfo_SignatureMethod_Algorithm")
    assert get("Get_ServiceSelectionRes_Header_TimeStamp") == 1_700_000_000
    assert get("Get_ServiceSelectionRes_Header_SessionID") == "0102030405060708"


def test_din_iso2_header_paths_need_the_document() -> None:
    body = fields.new_message("din", "SessionStopRes")
    f = fn("din", "secc", "Set_SessionStopRes_Header_SessionID")
    with pytest.raises(TypeError, match="V2G_Message"):
        fields.set(body, f, ("00",))
    d = doc("din")
    d.header = None
    fields.set(d, f, ("AA",))  # creates the header and sets it
    fields.set(d, fn("din", "secc", "Set_SessionStopRes_ResponseCode"), ("FAILED",))  # creates the body element
    assert d.header.session_id == b"\xaa" and d.body.session_stop_res.response_code.name == "FAILED"
    with pytest.raises(TypeError, match="SessionStopResType"):
        fields.get(fields.new_message("din", "SessionStopReq"), fn("din", "secc", "Get_SessionStopRes_ResponseCode"))


# ------------------------------------------------------------------------------ values: faults and errors


def test_facet_breaking_values_are_set_as_given() -> None:
    p = fields.new_message("iso2", "PreChargeRes")
    run(p, "iso2", "secc", ("Set_PreChargeRes_EVSEPresentVoltage_Multiplier", 4),  # schema -3..3, 3 bits: -3..4
        ("Set_PreChargeRes_DC_EVSEStatus_NotificationMaxDelay", 70000),  # unsignedShort, EXI: unbounded
        ("Set_PreChargeRes_EVSEPresentVoltage_Value", 40000))
    assert (p.evse_present_voltage.multiplier, p.dc_evse_status.notification_max_delay) == (4, 70000)
    with pytest.raises(ExiEncodeError):  # the strict encoder refuses; the lenient one (another part) writes it
        encode(p, schema="iso2", element="PreChargeRes")
    s = fields.new_message("iso2", "SessionSetupReq")
    fields.set(s, fn("iso2", "evcc", "Set_SessionSetupReq_EVCCID"), ("1020304050607080",))  # 8 octets, max 6
    assert s.evccid == bytes.fromhex("1020304050607080")
    fields.set(fields.new_message("iso2", "SessionSetupRes"), fn("iso2", "secc", "Set_SessionSetupRes_EVSEID"),
               ("X" * 100,))  # maxLength 37


@pytest.mark.parametrize(("name", "args", "match"), [
    ("Set_PreChargeRes_EVSEPresentVoltage_Multiplier", (5,), "-3..4"),
    ("Set_PreChargeRes_EVSEPresentVoltage_Multiplier", (1.5,), "integer"),
    ("Set_PreChargeRes_EVSEPresentVoltage_Value", ("3900",), "an integer"),
    ("Set_PreChargeRes_EVSEPresentVoltage_Value", (True,), "an integer"),
    ("Set_PreChargeRes_DC_EVSEStatus_NotificationMaxDelay", (-1,), "negative"),
    ("Set_PreChargeRes_ResponseCode", ("FAILED_Sequence",), "ResponseCodeType"),
    ("Set_PreChargeRes_ResponseCode", (3,), "ResponseCodeType"),
    ("Set_PreChargeRes_EVSEPresentVoltage_Unit", ("Volt",), "UnitSymbolType"),
    ("Set_PreChargeRes_DC_EVSEStatus_EVSEIsolationStatusSpecified", ("yes",), "boolean"),
    ("Set_PreChargeRes_ResponseCode", (), "wrong number of arguments"),
    ("Set_PreChargeRes_ResponseCode", ("OK", "OK"), "wrong number of arguments"),
    ("Set_PreChargeRes_ResponseCode", (None,), "Specified"),
])
def test_values_the_stream_cannot_carry_are_errors_naming_function_type_and_value(name: str, args: tuple,
                                                                                    match: str) -> None:
    p = fields.new_message("iso2", "PreChargeRes")
    with pytest.raises(ScriptValueError, match=match) as e:
        fields.set(p, fn("iso2", "secc", name), args)
    assert e.value.function == name and name in str(e.value)
    assert repr(e.value.value) in str(e.value)


def test_value_forms_accepted() -> None:
    p = fields.new_message("iso2", "PreChargeRes")
    m = schema_module("iso2")
    run(p, "iso2", "secc", ("Set_PreChargeRes_ResponseCode", m.responseCodeType.FAILED),
        ("Set_PreChargeRes_EVSEPresentVoltage_Unit", "Unit_A"), ("Set_PreChargeRes_EVSEPresentVoltage_Value", 12.0))
    assert run(p, "iso2", "secc", ("Get_PreChargeRes_ResponseCode",), ("Get_PreChargeRes_EVSEPresentVoltage_Unit",),
               ("Get_PreChargeRes_EVSEPresentVoltage_Value",)) == ["FAILED", "A", 12]
    # an enum member of another schema set goes by its literal
    fields.set(p, fn("iso2", "secc", "Set_PreChargeRes_ResponseCode"), (schema_module("din").responseCodeType.OK,))
    assert p.response_code == m.responseCodeType.OK
    with pytest.raises(ScriptValueError, match="list index"):
        fields.set(fields.new_message("iso2", "PaymentServiceSelectionReq"),
                   fn("iso2", "evcc", "Set_PaymentServiceSelectionReq_SelectedServiceList_ServiceID"), (-1, 5))


# ------------------------------------------------------------------------------ presence and choices


def test_specified_and_choices() -> None:
    p = fields.new_message("iso2", "PreChargeRes")
    spec = fn("iso2", "secc", "Set_PreChargeRes_DC_EVSEStatus_EVSEIsolationStatusSpecified")
    is_spec = fn("iso2", "secc", "Get_PreChargeRes_DC_EVSEStatus_EVSEIsolationStatusSpecified")
    value = fn("iso2", "secc", "Get_PreChargeRes_DC_EVSEStatus_EVSEIsolationStatus")
    assert fields.get(p, is_spec) is False and fields.get(p, value) is None
    fields.set(p, spec, (True,))
    assert fields.get(p, is_spec) is True and fields.get(p, value) == "Invalid"
    fields.set(p, fn("iso2", "secc", "Set_PreChargeRes_DC_EVSEStatus_EVSEIsolationStatus"), ("Valid",))
    fields.set(p, spec, (True,))  # keeps what is there
    assert fields.get(p, value) == "Valid"
    fields.set(p, spec, (False,))
    assert fields.get(p, is_spec) is False and p.dc_evse_status.evse_isolation_status is None
    # a choice: DC_EVChargeParameter replaces AC_EVChargeParameter
    c = fields.new_message("iso2", "ChargeParameterDiscoveryReq")
    assert c.ac_ev_charge_parameter is not None and c.dc_ev_charge_parameter is None
    run(c, "iso2", "evcc", ("Set_ChargeParameterDiscoveryReq_DC_EVChargeParameter_EVMaximumVoltageLimit_Value", 500))
    assert c.ac_ev_charge_parameter is None and c.dc_ev_charge_parameter.ev_maximum_voltage_limit.value == 500
    assert len(encode(c, schema="iso2", element="ChargeParameterDiscoveryReq")) > 10
    run(c, "iso2", "evcc", ("Set_ChargeParameterDiscoveryReq_AC_EVChargeParameterSpecified", True))
    assert c.dc_ev_charge_parameter is None and c.ac_ev_charge_parameter is not None
    assert run(c, "iso2", "evcc", ("Get_ChargeParameterDiscoveryReq_DC_EVChargeParameterSpecified",)) == [False]


@pytest.mark.parametrize("schema", ["apphand", "din", "iso2", "iso20", "iso20-ac", "iso20-dc", "iso20-wpt",
                                    "iso20-acdp"])
def test_every_default_message_encodes(schema: str) -> None:
    """What Set_ creates on its way is valid: each message's default object encodes strictly."""
    t = REGISTRY.tables(schema)
    m = schema_module(schema)
    for msg, (_cls, body_attr) in t.M.items():
        obj = fields.new_message(schema, msg)
        if body_attr:
            d = m.V2G_MessageType(header=fields.new(schema, t.HEADER), body=m.BodyType(**{body_attr: obj}))
            assert encode(d)
        else:
            assert encode(obj, element=t.ELEMENT.get(msg, msg), schema=schema)


# ------------------------------------------------------------------------------ properties over random messages

#: (family, schema, role for which the message is outgoing) of the sampled messages
_SCHEMAS = ["apphand", "din", "iso2", "iso20", "iso20-ac", "iso20-dc", "iso20-wpt", "iso20-acdp"]
_FAMILY = {"apphand": "iso2", "din": "din", "iso2": "iso2"}


def _messages() -> list[tuple[str, str]]:
    out = []
    for schema in _SCHEMAS:
        mod = schema_module(schema)
        for msg, (cls, _attr) in REGISTRY.tables(schema).M.items():
            if generatable(mod, getattr(mod, cls)):
                out.append((schema, msg))
    return out


MESSAGES = _messages()


def _family(schema: str) -> str:
    return _FAMILY.get(schema, "iso20")


def _role(msg: str) -> str:
    return "evcc" if msg.endswith("Req") else "secc"  # the role that sends it: Set/Add exist


@st.composite
def messages(draw: Any) -> tuple[str, str, Any, Any]:
    """(schema, message, object the functions work on, the message element's object)."""
    schema, msg = draw(st.sampled_from(MESSAGES))
    mod = schema_module(schema)
    t = REGISTRY.tables(schema)
    cls, attr = t.M[msg]
    el = draw(instances(mod, getattr(mod, cls)))
    if attr:
        header = draw(instances(mod, mod.MessageHeaderType))
        return schema, msg, mod.V2G_MessageType(header=header, body=mod.BodyType(**{attr: el})), el
    return schema, msg, el, el


def _oracle(tree_root: dict | None, f: Any, idx: tuple[int, ...]) -> Any:
    """The value the codec object holds at ``f``'s path, read from its XSD-keyed dict (convert.to_dict)."""
    node = f.node
    cur: Any = tree_root
    k = 0
    path = node.path[1:] if node.scope == "header" else node.path
    steps = node.steps
    for level, name in enumerate(path):
        if not isinstance(cur, dict) or name not in cur:
            cur = None
            break
        cur = cur[name]
        if steps[level][1]:
            if f.leaf == "Count" and level == len(path) - 1:
                break
            i = idx[k]
            k += 1
            cur = cur[i] if i < len(cur) else None
        if cur is None:
            break
    if f.leaf == "Count":
        return len(cur) if cur else 0
    if f.leaf == "Specified":
        return cur is not None
    if cur is not None and node.value_attr:
        key = "value" if node.value_attr == "value" else next(
            a for a in cur if a.lower() == node.value_attr.replace("_", ""))
        cur = cur.get(key)
    if cur is not None and node.simple.kind == "b64":
        cur = base64.b64decode(cur).hex().upper()
    return cur


def _root_dict(schema: str, obj: Any, f: Any) -> dict | None:
    d = to_dict(obj)
    if f.body_attr:
        return d.get("Header") if f.node.scope == "header" else d.get("Body", {}).get(f.element)
    return d


def _index_sets(n: int) -> list[tuple[int, ...]]:
    if n == 0:
        return [()]
    if n <= 2:
        return list(itertools.product(range(4), repeat=n))
    return [(0,) * n, (1,) * n, (3,) * n]


def _getters(schema: str, msg: str) -> list[Any]:
    fam = _family(schema)
    return [f for f in all_functions(fam, _role(msg)) if f.message == msg and f.kind == "Get"]


_GETTERS: dict[tuple[str, str], list[Any]] = {}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages())
def test_every_get_reads_what_the_codec_object_holds(m: tuple) -> None:
    schema, msg, obj, _el = m
    getters = _GETTERS.get((schema, msg))
    if getters is None:
        getters = _GETTERS[(schema, msg)] = _getters(schema, msg)
    for f in getters:
        root = _root_dict(schema, obj, f)
        for idx in _index_sets(f.indexes):
            assert fields.get(obj, f, idx) == _oracle(root, f, idx), (f.name, idx)


def _values(f: Any) -> st.SearchStrategy:
    si = f.simple
    k = si.kind
    if k == "enum":
        return st.sampled_from(si.literals)
    if k in ("nbit", "uint", "int"):
        lo = si.lo if si.lo is not None else -(2**40)
        hi = si.hi if si.hi is not None else 2**40
        return st.integers(lo, hi)
    if k == "bool":
        return st.booleans()
    if k == "string":
        return st.text(max_size=12)
    return st.binary(max_size=12).map(lambda b: b.hex().upper())


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages(), st.data())
def test_set_then_get_returns_the_value_and_specified_toggles(m: tuple, data: Any) -> None:
    schema, msg, obj, _el = m
    fam, role = _family(schema), _role(msg)
    setters = [f for f in all_functions(fam, role) if f.message == msg and f.kind == "Set"]
    for f in data.draw(st.lists(st.sampled_from(setters), min_size=1, max_size=8), label="setters"):
        idx = tuple(data.draw(st.integers(0, 2)) for _ in range(f.indexes))
        getter = resolve(fam, role, "G" + f.name[1:])
        if f.leaf == "Specified":
            on = data.draw(st.booleans())
            fields.set(obj, f, idx + (on,))
            assert fields.get(obj, getter, idx) is on
            value = resolve(fam, role, "G" + f.name[1:-9])
            if not on and value is not None:
                assert fields.get(obj, value, idx + (0,) * (value.indexes - len(idx))) is None
        elif f.leaf == "Count":
            n = data.draw(st.integers(0, 3))
            fields.set(obj, f, idx + (n,))
            assert fields.get(obj, getter, idx) == n
        else:
            v = data.draw(_values(f), label=f.name)
            fields.set(obj, f, idx + (v,))
            assert fields.get(obj, getter, idx) == v, f.name


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages(), st.data())
def test_specified_true_keeps_the_message_valid(m: tuple, data: Any) -> None:
    """Creating an optional element (and a choice alternative) by Specified(true) leaves an encodable message."""
    schema, msg, obj, _el = m
    fam, role = _family(schema), _role(msg)
    spec = [f for f in all_functions(fam, role) if f.message == msg and f.kind == "Set" and f.leaf == "Specified"
            and not any(p.startswith("Header") for p in f.path[:1]) and f.indexes == 0]
    if not spec:
        return
    abstract = {n for n in ("EVChargeParameter", "EVSEChargeParameter", "SASchedules", "EVPowerDeliveryParameter",
                            "EVSEStatus", "BodyElement")}
    for f in data.draw(st.lists(st.sampled_from(spec), min_size=1, max_size=4)):
        if f.path[-1] in abstract:
            continue
        fields.set(obj, f, (True,))
    t = REGISTRY.tables(schema)
    if t.M[msg][1]:
        encode(obj)
    else:
        encode(obj, element=t.ELEMENT.get(msg, msg), schema=schema)


def test_a_repeated_choice_keeps_its_other_alternatives() -> None:
    """xmldsig KeyInfo is (KeyName | KeyValue | X509Data | ...)+: adding one kind keeps the others."""
    d = doc("iso2")
    run(d, "iso2", "secc", ("Set_SessionSetupRes_Header_Signature_KeyInfo_KeyName", 0, "k1"),
        ("Set_SessionSetupRes_Header_Signature_KeyInfo_MgmtData", 0, "m1"))
    ki = d.header.signature.key_info
    assert ki.key_name == ["k1"] and ki.mgmt_data == ["m1"]
    assert run(d, "iso2", "evcc", ("Get_SessionSetupRes_Header_Signature_KeyInfo_KeyName_Count",)) == [1]
