"""The script API names: generated from the schemas, every seed function resolves as its page says, the seed's
quirks, enum tables, and the committed tables are what the generator makes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import load_jsonl, need_shared

from v2gkit.exi.api import schema_module
from v2gkit.testsys.api import FAMILIES, enum_tables, functions, resolve, split_qualified
from v2gkit.testsys.api import generate as gen
from v2gkit.testsys.api.enums import LUA_KEYWORDS
from v2gkit.testsys.api.names import REGISTRY, Registry, all_functions

STANDARD = {"din70121": "din", "iso15118-2": "iso2", "iso15118-20": "iso20"}
#: the pages' kinds -> ours (the pages call both Check_Received_ and Check_<Msg>_<Path> "Check")
KIND = {"Send": "Send", "Receive": "Receive", "Get": "Get", "Set": "Set", "Add": "Add", "Exist": "Exist"}
#: the pages' return types -> what our functions return (the ISO-20 page writes .NET types)
RETURNS = {"Byte[]": "string", "String": "string", "UInt64": "number", "UInt16": "number", "Boolean": "boolean",
           "-": "", None: ""}
#: page quirks about the return type (README section 6)
RETURN_QUIRKS = {"Evcc.Get_WeldingDetectionRes_ResponseCode": "string"}  # DIN page says string, it is an enum


def _variants(fn) -> set[str]:
    """The dotted paths a page may write for a function's node: full, or a wrapper's list item left out."""
    node = fn.node
    out = set()
    for spelling, _ in [(".".join(p for p in parts if p is not None), 0) for parts in _parts(node)]:
        out.add(spelling)
    return out


def _parts(node) -> list[list]:
    out = [list(node.path)]
    for w in node.pairs:
        out += [[None if i == w + 1 else p for i, p in enumerate(parts)] for parts in out]
    return out


def _expected_path(f: dict) -> tuple[str, str] | None:
    """(dotted path, leaf) the page gives for a function: from the Korean line, else the parsed field path."""
    desc = f.get("desc_ko")
    if desc:
        m = re.match(r"^(\w+?)((?:\.[\w\[\]]+)*) (조회|설정|확인|수신|송신)$", desc)
        assert m, desc
        path = m.group(2).lstrip(".").replace("[0]", "")
        if path == "Received":
            return "", ""
        for leaf in ("Count", "Specified"):
            if path.endswith("." + leaf):
                return path[: -len(leaf) - 1], leaf
        return path, ""
    fp = f.get("field_path")
    if fp is None:
        return None
    return fp, "?"


def test_every_seed_function_resolves_as_its_page_says() -> None:
    pages = load_jsonl(need_shared("lua-api", "api.jsonl"))
    seen = 0
    for page in pages:
        family = STANDARD[page["standard"]]
        for f in page["functions"]:
            seen += 1
            role, name = split_qualified(f["name"])
            assert role == page["role"], f["name"]
            fn = resolve(family, role, name)
            assert fn is not None, f"{f['name']} does not resolve"
            # kind
            if f["kind"] == "Check":
                assert fn.kind == ("CheckReceived" if name.startswith("Check_Received_") else "Check"), f["name"]
            else:
                assert fn.kind == KIND[f["kind"]], f["name"]
            # message element (the Exist quirk: the page's name lacks Req, its description has it)
            if fn.kind == "Exist":
                assert f["message_element"] + "Req" == fn.message == "PaymentServiceSelectionReq"
            else:
                assert fn.message == f["message_element"], f["name"]
            # parameters
            assert fn.nparams == len(f.get("params") or []), (f["name"], fn.params)
            # path
            exp = _expected_path(f)
            if fn.kind in ("Send", "Receive", "CheckReceived"):
                assert fn.path == () and (exp is None or exp[0] == ""), f["name"]
            else:
                assert exp is not None, f["name"]
                path, leaf = exp
                if leaf == "?":  # only the parsed field path: compare with underscores, the way it was split
                    got = {v.replace(".", "_") + (("Specified" if fn.leaf == "Specified" else "_" + fn.leaf)
                                                  if fn.leaf else "") for v in _variants(fn)}
                    assert path.replace(".", "_") in got, (f["name"], path, got)
                else:
                    assert path in _variants(fn), (f["name"], path, _variants(fn))
                    assert fn.leaf == leaf, f["name"]
            # return type
            if f.get("returns") is None:  # page A of DIN SessionSetup-SECC has no return column
                continue
            page_ret = RETURN_QUIRKS.get(f["name"], RETURNS.get(f["returns"], f["returns"]))
            if f["name"] in RETURN_QUIRKS:
                assert fn.returns == fn.enum and page_ret == "string"
            else:
                assert fn.returns == page_ret, (f["name"], fn.returns, page_ret)
    assert seen == 248


def test_seed_quirks_and_forms() -> None:
    # ISO-20 page: upper-case SECC. is the SECC
    assert split_qualified("SECC.Get_ServiceSelectionReq_Header_TimeStamp") == (
        "secc", "Get_ServiceSelectionReq_Header_TimeStamp")
    # Exist without Req; with it too
    a = resolve("iso2", "secc", "Exist_PaymentServiceSelection_SelectedService")
    b = resolve("iso2", "secc", "Exist_PaymentServiceSelectionReq_SelectedService")
    assert a.node is b.node and a.params == ("serviceID", "parameterSetID")
    assert a.path == ("SelectedServiceList", "SelectedService")
    # DIN list style: Count of the wrapper, Add of an item field
    c = resolve("din", "evcc", "Set_ServicePaymentSelectionReq_SelectedServiceList_Count")
    assert (c.path, c.leaf, c.params) == (("SelectedServiceList", "SelectedService"), "Count", ("count",))
    d = resolve("din", "evcc", "Add_ServicePaymentSelectionReq_SelectedServiceList_ServiceID")
    assert d.path == ("SelectedServiceList", "SelectedService", "ServiceID") and d.params == ("serviceID",)
    # ISO style indexed Set; the full spelling names the same field
    e = resolve("iso2", "evcc", "Set_PaymentServiceSelectionReq_SelectedServiceList_ServiceID")
    f = resolve("iso2", "evcc", "Set_PaymentServiceSelectionReq_SelectedServiceList_SelectedService_ServiceID")
    assert e.node is f.node and e.params == ("index", "serviceID") and e.indexes == 1
    # Multiplier has a getter although the pages list only Set
    g = resolve("iso2", "secc", "Get_PreChargeRes_EVSEPresentVoltage_Multiplier")
    assert g.value_kind == "int" and g.returns == "number"
    # underscores inside element names
    h = resolve("iso2", "secc", "Set_PreChargeRes_DC_EVSEStatus_EVSEIsolationStatusSpecified")
    assert (h.path, h.leaf, h.params) == (("DC_EVSEStatus", "EVSEIsolationStatus"), "Specified", ("isSpecified",))
    # Header paths in every family (DIN/ISO-2: V2G_Message.Header; ISO-20: the message's own)
    for fam, msg in (("din", "SessionStopRes"), ("iso2", "SessionSetupRes"), ("iso20", "ServiceSelectionRes")):
        s = resolve(fam, "secc", f"Set_{msg}_Header_SessionID")
        assert s is not None and s.path == ("Header", "SessionID") and s.value_kind == "hex"
        assert resolve(fam, "secc", f"Get_{msg}_Header_Signature_SignedInfo_SignatureMethod").value_kind == "string"
    assert resolve("iso2", "evcc", "Get_SessionSetupRes_Header_Notification_FaultCode").enum == "FaultCodeType"
    assert resolve("iso20", "secc", "Get_ServiceSelectionReq_Header_TimeStamp").returns == "number"
    # the other -20 schemas' messages, and the app handshake in every family
    assert resolve("iso20", "evcc", "Set_DC_ChargeLoopReq_EVPresentVoltage_Exponent").family == "iso20-dc"
    assert resolve("iso20-ac", "secc", "Receive_ServiceSelectionReq_001").family == "iso20"
    for fam in FAMILIES:
        ap = resolve(fam, "secc", "Set_SupportedAppProtocolRes_ResponseCode")
        assert ap.family == "apphand" and ap.element == "supportedAppProtocolRes"
        assert ap.enum == "ResponseCodeType"
    assert resolve("din", "evcc", "Add_SupportedAppProtocolReq_AppProtocol_ProtocolNamespace").params == (
        "protocolNamespace",)
    # Send 002 is ours; Receive has only 001
    assert resolve("iso2", "secc", "Send_SessionSetupRes_002").variant == "002"
    assert resolve("iso2", "secc", "Receive_SessionSetupReq_002") is None
    # directions: no Set of a received message, no Receive of a sent one, no Exist of an outgoing list
    assert resolve("iso2", "secc", "Set_SessionSetupReq_EVCCID") is None
    assert resolve("iso2", "secc", "Receive_SessionSetupRes_001") is None
    assert resolve("iso2", "evcc", "Exist_PaymentServiceSelection_SelectedService") is None
    assert resolve("iso2", "evcc", "Get_SessionSetupReq_EVCCID").direction == "out"
    # Check only for enum fields
    assert resolve("iso2", "evcc", "Check_SessionSetupRes_EVSEID") is None
    assert resolve("iso2", "evcc", "Check_SessionSetupRes_ResponseCode").params == ("expected",)
    # nonsense
    for bad in ("Get_SessionSetupRes", "Get_SessionSetupRes_", "Get_NoSuchRes_X", "Frob_SessionSetupRes_EVSEID",
                "Get_SessionSetupRes_EVSEID_Count", "Get_SessionSetupRes_ResponseCodeSpecified", ""):
        assert resolve("iso2", "secc", bad) is None, bad
    with pytest.raises(ValueError, match="unknown family"):
        resolve("iso3", "secc", "Get_X_Y")


def test_nested_lists_take_one_index_per_list() -> None:
    fn = resolve("iso2", "secc", "Set_ChargeParameterDiscoveryRes_SAScheduleList_PMaxSchedule_PMax_Value")
    assert fn.path == ("SAScheduleList", "SAScheduleTuple", "PMaxSchedule", "PMaxScheduleEntry", "PMax", "Value")
    assert fn.params == ("index1", "index2", "value") and fn.indexes == 2
    n = resolve("iso2", "secc", "Set_ChargeParameterDiscoveryRes_SAScheduleList_PMaxSchedule_Count")
    assert n.params == ("index", "count") and n.path[-1] == "PMaxScheduleEntry"
    a = resolve("iso2", "secc", "Add_ChargeParameterDiscoveryRes_SAScheduleList_PMaxSchedule_PMax_Value")
    assert a.params == ("index", "value")


def test_ambiguous_spellings_resolve_to_nothing_and_get_a_longer_canonical_name() -> None:
    # ISO-20 ServiceDiscoveryRes has EnergyTransferServiceList.Service and VASList.Service
    assert resolve("iso20", "evcc", "Exist_ServiceDiscovery_Service") is None
    e = resolve("iso20", "evcc", "Exist_ServiceDiscovery_VASList")
    assert e.path == ("VASList", "Service")
    assert "Exist_ServiceDiscovery_VASList" in set(functions("iso20", "evcc"))


@pytest.mark.parametrize("family", ["din", "iso2", "iso20"])
def test_every_generated_name_is_unique_and_resolves_to_itself(family: str) -> None:
    for role in ("secc", "evcc"):
        fns = list(all_functions(family, role))
        names = Counter(f.name for f in fns)
        assert not [n for n, k in names.items() if k > 1]
        keys = Counter((f.kind, f.message, f.path, f.leaf, f.variant) for f in fns)
        assert not [k for k, v in keys.items() if v > 1]
        for f in fns[:: max(1, len(fns) // 500)]:
            assert resolve(family, role, f.name) is f
        kinds = Counter(f.kind for f in fns)
        incoming = {f.message for f in fns if f.direction == "in"}
        outgoing = {f.message for f in fns if f.direction == "out"}
        assert kinds["Receive"] == kinds["CheckReceived"] == len(incoming)
        assert kinds["Send"] == 2 * len(outgoing)
        assert all(m.endswith("Req") == (role == "secc") for m in incoming)
        assert kinds["Get"] > 1000


def test_resolution_is_cached() -> None:
    reg = Registry()
    a = reg.resolve("iso2", "secc", "Set_SessionSetupRes_EVSEID")
    assert reg.resolve("iso2", "secc", "Set_SessionSetupRes_EVSEID") is a
    assert reg.resolve("iso2", "secc", "Get_Nothing") is None
    assert ("iso2", "secc", "Get_Nothing") in reg._cache


def test_enum_tables_use_the_seed_spellings() -> None:
    din, iso2, iso20 = enum_tables("din"), enum_tables("iso2"), enum_tables("iso20")
    assert iso2["ResponseCodeType"]["FAILED_SequenceError"] == "FAILED_SequenceError"
    assert iso2["UnitSymbolType"]["Unit_V"] == "V" and iso2["UnitSymbolType"]["Unit_A"] == "A"
    assert iso2["EVSENotificationType"]["None"] == "None"
    assert iso2["ChargingSessionType"]["Terminate"] == "Terminate"
    assert iso2["IsolationLevelType"]["Valid"] == "Valid"
    assert iso2["DC_EVErrorCodeType"]["NO_ERROR"] == "NO_ERROR"
    assert iso2["PaymentOptionType"]["ExternalPayment"] == "ExternalPayment"
    assert iso2["EVSEProcessingType"]["Ongoing_WaitingForCustomerInteraction"] == "Ongoing_WaitingForCustomerInteraction"
    assert din["EVSEProcessingType"].keys() == {"Finished", "Ongoing"}  # per family: DIN has two
    assert din["UnitSymbolType"]["Unit_W_s"] == "W/s" and din["UnitSymbolType"]["W/s"] == "W/s"
    assert iso20["WPT_PowerClassType"]["MF_WPT1"] == "MF-WPT1"
    assert iso20["WPT_PairingMethodType"]["External_confirmation"] == "External confirmation"
    assert iso2["ResponseCodeType"]["OK_SuccessfulNegotiation"] == "OK_SuccessfulNegotiation"  # app handshake
    assert "FAILED_UnknownSession" in iso20["ResponseCodeType"]
    ident = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
    for fam in FAMILIES:
        for tname, members in enum_tables(fam).items():
            assert ident.match(tname) and tname not in LUA_KEYWORDS
            for member, lit in members.items():
                assert member == lit or (ident.match(member) and member not in LUA_KEYWORDS), (tname, member)
                assert ident.match(member) or member == lit
            # every literal is reachable through an identifier
            lits = {lit for m, lit in members.items() if ident.match(m)}
            assert lits == set(members.values()), tname


def test_every_enum_field_names_an_enum_table_of_its_family() -> None:
    for fam in ("din", "iso2", "iso20"):
        tables = enum_tables(fam)
        for fn in all_functions(fam, "secc"):
            if fn.enum:
                assert set(fn.simple.literals) <= set(tables[fn.enum].values()), fn.name if fn.simple else fn


@pytest.mark.parametrize("schema", sorted(gen.SETS.values()))
def test_tables_match_the_codec(schema: str) -> None:
    """Every class, attribute and enumeration the tables name is the codec's, with the same literals."""
    t = REGISTRY.tables(schema)
    mod = schema_module(schema)
    for cls_name, (simple, children) in t.T.items():
        cls = getattr(mod, cls_name)
        meta = {row[0]: row for row in mod.META[cls]}
        if simple is not None:
            assert "value" in meta
        for name, py, ea, _mn, mx, _t, _g, _a in children:
            assert py in meta, (cls_name, py)
            assert meta[py][1] == name and meta[py][3] == {"e": "elem", "a": "attr"}[ea]
            assert meta[py][5] == (mx is None or mx > 1)
    for kind, *_rest, enum_cls, _xsd, literals in t.S:
        if kind == "enum":
            assert tuple(getattr(mod, enum_cls)._xsd) == literals
    for msg, (cls_name, body_attr) in t.M.items():
        assert msg in t.ELEMENT or msg in {r[0] for r in mod.DOC_ELEMENTS}
        if body_attr:
            assert body_attr in mod.BodyType._fields


@pytest.mark.parametrize("name", list(gen.SETS))
def test_generated_tables_have_not_drifted(name: str) -> None:
    schemas = need_shared("schemas")
    committed = (gen.DEFAULT_OUT / f"{name}.py").read_text()
    fresh = gen.generate(name, schemas)
    assert fresh == committed, f"tables/{name}.py is stale: run `{gen.COMMAND}`"


def test_docs_count_table_has_not_drifted() -> None:
    doc = gen.DOCS.read_text()
    assert gen.with_counts(doc, gen.count_table()) == doc, f"docs/script-api.md counts are stale: run `{gen.COMMAND}`"


def test_generator_is_one_command(tmp_path: Path) -> None:
    schemas = need_shared("schemas")
    docs = tmp_path / "script-api.md"
    docs.write_text(f"intro\n{gen.COUNT_BEGIN}\nold\n{gen.COUNT_END}\nend\n")
    assert gen.main(["--schemas", str(schemas), "--out", str(tmp_path / "t"), "--docs", str(docs)]) == 0
    for name in gen.SETS:
        assert (tmp_path / "t" / f"{name}.py").read_text() == (gen.DEFAULT_OUT / f"{name}.py").read_text()
    assert gen.count_table() in docs.read_text() and docs.read_text().endswith("end\n")
    assert gen.main(["--schemas", str(tmp_path / "none")]) == 2


def test_tables_stay_small() -> None:
    total = sum(p.stat().st_size for p in gen.DEFAULT_OUT.glob("*.py"))
    assert total < 400_000, total


def test_no_field_tree_reaches_the_depth_bound() -> None:
    """The V2G schemas do not recurse: every message's tree ends well before MAX_DEPTH (nothing is cut)."""
    deepest = 0
    for schema in gen.SETS.values():
        for msg in REGISTRY.tables(schema).M:
            deepest = max(deepest, max(len(n.path) for n in REGISTRY.tree(schema, msg).nodes))
    assert deepest == 9 < gen.MAX_DEPTH
