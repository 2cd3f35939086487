"""Lenient encoding: the encoder writes what the stream can carry but a facet forbids, and says what.

The test system injects values out of range (issue 11, item 4) with ``encode(..., strict=False)``; a real peer
sees them as decode_lenient does. The properties: for facet-breaking values within what the EXI
representation carries, lenient encode -> lenient decode gives the message back, with the same report (bit
offset and text) on both sides, and strict decode refuses at the first of those offsets; strict encoding
still refuses and names the field. Values the stream cannot carry raise in both modes, naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import instances, root_elements

from v2gkit.exi import (
    SCHEMAS,
    ExiEncodeError,
    ExiError,
    ExiValueError,
    decode,
    decode_element,
    decode_fragment,
    decode_lenient,
    encode,
    encode_fragment,
    encode_lenient,
    schema_module,
)
from v2gkit.exi.runtime import UINT_CARRIED, WHOLE_MAX
from v2gkit.sim import iso2_dc

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
WIDE = 2**40


# ------------------------------------------------------------------ what a facet-breaking value may be


def _nbit_top(lo: int, hi: int) -> int:
    """The largest value an n-bit field of range lo..hi carries (lo + 2**n - 1)."""
    return lo + (1 << math.ceil(math.log2(hi - lo + 1))) - 1


def carried(spec: tuple) -> st.SearchStrategy | None:
    """Values breaking the facet of ``spec`` that the stream still carries; None when there are none."""
    kind, lo, hi, _enum, max_len = spec
    opts: list[st.SearchStrategy] = []
    if kind == "nbit" and _nbit_top(lo, hi) > hi:
        opts.append(st.integers(hi + 1, _nbit_top(lo, hi)))
    elif kind in ("uint", "int"):
        if hi is not None:
            opts.append(st.integers(hi + 1, hi + WIDE))
        if lo is not None and kind == "int":
            opts.append(st.integers(lo - WIDE, lo - 1))
        if lo is not None and kind == "uint" and lo > 0:
            opts.append(st.integers(0, lo - 1))
    elif kind == "string" and max_len is not None:
        opts.append(st.text(st.characters(exclude_categories=("Cs",)), min_size=max_len + 1, max_size=max_len + 9))
    elif kind in ("hex", "b64") and max_len is not None:
        opts.append(st.binary(min_size=max_len + 1, max_size=max_len + 9))
    return st.one_of(opts) if opts else None


def uncarried(spec: tuple) -> st.SearchStrategy:
    """Values no EXI stream of this schema can carry in the field of ``spec``."""
    kind, lo, hi, enum_cls, _max_len = spec
    if kind == "nbit":
        return st.one_of(st.integers(lo - WIDE, lo - 1), st.integers(_nbit_top(lo, hi) + 1, _nbit_top(lo, hi) + WIDE),
                         st.just("7"), st.just(1.5))
    if kind in ("uint", "int"):
        big = st.integers(UINT_CARRIED, UINT_CARRIED + WIDE)
        wrong = st.sampled_from(["7", 2.0])
        if kind == "uint":
            return st.one_of(st.integers(-WIDE, -1), big, wrong)
        return st.one_of(big, big.map(lambda v: -v - 1), wrong)
    if kind == "enum":
        return st.one_of(st.integers(len(enum_cls), len(enum_cls) + 64), st.just("OK"))
    if kind == "string":
        return st.sampled_from([5, b"text"])
    if kind in ("hex", "b64"):
        return st.sampled_from(["00ff", 3])
    return st.sampled_from(["yes", 2])  # bool


# ------------------------------------------------------------------ the fields of a message


Target = tuple[Callable[[Any], None], tuple, str]  # (set the value, simple spec, path as ExiEncodeError names it)


def simple_fields(mod: Any, obj: Any, path: str) -> list[Target]:
    """Every simple value present in ``obj``'s tree: how to set it, its spec and its path."""
    out: list[Target] = []
    for row in mod.META.get(type(obj), ()):
        py, xsd, _ns, _kind, t, is_list, *_ = row
        here = f"{path}.{xsd}"
        v = getattr(obj, py)
        items = v if is_list else ([] if v is None else [v])
        for i, x in enumerate(items):
            p = f"{here}[{i}]" if is_list else here
            if isinstance(t, type):
                out += simple_fields(mod, x, p)
            elif is_list:
                out.append((lambda val, lst=v, i=i: lst.__setitem__(i, val), t, p))
            else:
                out.append((lambda val, o=obj, py=py: setattr(o, py, val), t, p))
    return out


def _roots(schema: str, with_carried: bool = False) -> list[tuple[str, type]]:
    """The generatable roots; ``with_carried``: only those reaching a field with a carried violation."""
    mod = schema_module(schema)
    out = []
    for name, cls in root_elements(mod):
        seen: set[type] = set()
        todo = [cls]
        hit = not with_carried
        while todo and not hit:
            c = todo.pop()
            if c in seen or c in mod.UNSUPPORTED or c in mod.CONSTRAINED:
                continue
            seen.add(c)
            for row in mod.META[c]:
                if isinstance(row[4], type):
                    todo.append(row[4])
                elif carried(row[4]) is not None:
                    hit = True
        if hit:
            out.append((name, cls))
    return out


#: schema sets with a facet the stream can break (xmldsig has none: no bounded integer, no maxLength)
FACETED = [s for s in SCHEMAS if _roots(s, with_carried=True)]


# ------------------------------------------------------------------ properties


def test_every_message_schema_has_facets_to_break() -> None:
    assert set(SCHEMAS) - set(FACETED) == {"xmldsig"}


@pytest.mark.parametrize("schema", FACETED)
@SETTINGS
@given(data=st.data())
def test_carried_violations_round_trip_with_the_same_report(schema: str, data: st.DataObject) -> None:
    mod = schema_module(schema)
    element, cls = data.draw(st.sampled_from(_roots(schema, with_carried=True)), label="root")
    obj = data.draw(instances(mod, cls), label="obj")
    clean = encode_lenient(obj, element, schema)
    assert clean.clean and clean.data == encode(obj, element, schema)  # nothing to let through: strict bytes
    fields = [(f, carried(f[1])) for f in simple_fields(mod, obj, element)]
    fields = [(f, s) for f, s in fields if s is not None]
    assume(fields)
    chosen = data.draw(st.lists(st.sampled_from(range(len(fields))), min_size=1, max_size=4, unique=True),
                       label="fields")
    paths = set()
    for i in chosen:
        (set_value, _spec, path), values = fields[i]
        set_value(data.draw(values, label=path))
        paths.add(path)

    with pytest.raises(ExiEncodeError) as refused:
        encode(obj, element, schema)
    assert refused.value.path in paths, (refused.value.path, paths)

    got = encode_lenient(obj, element, schema)
    assert len(got.violations) == len(chosen), got.violations
    assert got.data == encode(obj, element, schema, strict=False)
    kept = decode_lenient(got.data, schema)
    assert (kept.element, kept.value) == (element, obj)
    assert kept.violations == got.violations  # the same offsets and texts on both sides
    assert not kept.trailing
    with pytest.raises(ExiValueError) as strict:
        decode(got.data, schema)
    assert strict.value.bit_offset == got.violations[0][0]


@pytest.mark.parametrize("schema", list(SCHEMAS))
@SETTINGS
@given(data=st.data())
def test_values_the_stream_cannot_carry_still_raise(schema: str, data: st.DataObject) -> None:
    mod = schema_module(schema)
    element, cls = data.draw(st.sampled_from(_roots(schema)), label="root")
    obj = data.draw(instances(mod, cls), label="obj")
    fields = simple_fields(mod, obj, element)
    assume(fields)
    set_value, spec, path = data.draw(st.sampled_from(fields), label="field")
    set_value(data.draw(uncarried(spec), label="value"))
    for strict in (True, False):
        with pytest.raises(ExiEncodeError) as err:
            encode(obj, element, schema, strict=strict)
        assert err.value.path == path, (strict, err.value.path, str(err.value))


# ------------------------------------------------------------------ examples


def _cd_req() -> Any:
    return iso2_dc.current_demand_req()


def test_example_faults_and_their_report() -> None:
    """The faults a test script sets most: a SoC above 100, a multiplier of 4, a 9-octet SessionID."""
    m = _cd_req()
    b = m.body.current_demand_req
    b.dc_ev_status.evresssoc = 127  # 0..100 in 7 bits: up to 127 is carried
    b.ev_target_current.multiplier = 4  # -3..3 in 3 bits: up to 4
    b.ev_target_current.value = 40000  # xs:short
    m.header.session_id = bytes(9)  # hexBinary maxLength 8
    got = encode_lenient(m)
    assert [w for _o, w in got.violations] == [
        "binary of 9 octets, schema allows 8", "EVRESSSOC: 127 above 100", "Multiplier: 4 above 3",
        "Value: 40000 out of range"]
    assert decode_lenient(got.data, "iso2").value == m
    with pytest.raises(ExiError, match="at bit 26: binary of 9 octets"):
        decode(got.data, "iso2")
    with pytest.raises(ExiEncodeError) as err:
        encode(m)
    assert err.value.path == "V2G_Message.Header.SessionID"


def test_lenient_errors_name_the_value_that_cannot_be_carried() -> None:
    """A carried violation earlier in the message does not hide the one the stream cannot carry."""
    m = _cd_req()
    b = m.body.current_demand_req
    b.dc_ev_status.evresssoc = 101  # carried
    b.ev_target_current.multiplier = 5  # not: 3 bits from -3 reach 4
    with pytest.raises(ExiEncodeError) as err:
        encode(m, strict=False)
    assert err.value.path == "V2G_Message.Body.CurrentDemandReq.EVTargetCurrent.Multiplier"
    assert "carries only -3..4" in str(err.value)
    b.ev_target_current.multiplier = 0
    b.ev_target_current.value = 1 << 800
    with pytest.raises(ExiEncodeError, match="an integer of 801 bits is longer than decoders read"):
        encode(m, strict=False)
    b.ev_target_current.value = 0
    b.ev_target_current.unit = 9  # unitSymbolType has 7 literals: no 10th
    with pytest.raises(ExiEncodeError) as err:
        encode(m, strict=False)
    assert err.value.path == "V2G_Message.Body.CurrentDemandReq.EVTargetCurrent.Unit"


def test_unsigned_and_integer_limits() -> None:
    """An unsigned integer takes 0 and up, up to 100 octets; a signed one the same magnitude either way."""
    d = schema_module("din")
    st_ = d.DC_EVStatusType(ev_ready=True, ev_error_code=d.DC_EVErrorCodeType.NO_ERROR, evresssoc=50)
    for soc, ok in ((101, True), (127, True), (128, False), (-1, False)):  # DIN EVRESSSOC: byte 0..100, 7 bits
        st_.evresssoc = soc
        if ok:
            assert decode_lenient(encode(st_, "DC_EVStatus", "din", strict=False), "din").value == st_
        else:
            with pytest.raises(ExiEncodeError):
                encode(st_, "DC_EVStatus", "din", strict=False)
    m = _cd_req()
    pv = m.body.current_demand_req.ev_target_current  # Value: xs:short
    for v in (UINT_CARRIED - 1, -UINT_CARRIED):  # the longest magnitudes the decoders read
        pv.value = v
        got = encode_lenient(m)
        kept = decode_lenient(got.data, "iso2")
        assert kept.value == m and kept.violations == got.violations
    for v in (UINT_CARRIED, -UINT_CARRIED - 1):
        pv.value = v
        with pytest.raises(ExiEncodeError, match="longer than decoders read"):
            encode(m, strict=False)


def test_long_message_offsets_after_spilled_octets() -> None:
    """A message long enough that the encoder spills octets and the decoder reads through a window."""
    m = iso2_dc.charge_parameter_discovery_res(400)
    entries = m.body.charge_parameter_discovery_res.sa_schedule_list.sa_schedule_tuple[0].p_max_schedule.p_max_schedule_entry
    entries[3].p_max.multiplier = 4
    entries[-2].p_max.multiplier = 4
    got = encode_lenient(m)
    assert len(got.data) > WHOLE_MAX
    kept = decode_lenient(got.data, "iso2")
    assert kept.value == m
    assert kept.violations == got.violations and len(got.violations) == 2
    assert got.violations[1][0] > 8 * 1024  # past the encoder's first spill


def test_abstract_elements_are_written_with_their_declared_type() -> None:
    m = schema_module("iso2")
    req = m.ChargeParameterDiscoveryReqType(requested_energy_transfer_mode=m.EnergyTransferModeType.DC_extended,
                                            ev_charge_parameter=m.EVChargeParameterType(departure_time=5))
    msg = m.V2G_MessageType(header=m.MessageHeaderType(session_id=bytes(8)),
                            body=m.BodyType(charge_parameter_discovery_req=req))
    with pytest.raises(ExiEncodeError, match="abstract element"):
        encode(msg)
    got = encode_lenient(msg)
    assert [w.split(" is ")[0] for _o, w in got.violations] == ["EVChargeParameter"]
    kept = decode_lenient(got.data, "iso2")
    assert kept.value == msg and kept.violations == got.violations
    # the body element itself, as the libcbv2g lineage writes an empty body
    body = m.V2G_MessageType(header=m.MessageHeaderType(session_id=bytes(8)), body=m.BodyType(body_element=m.BodyBaseType()))
    got = encode_lenient(body)
    assert decode_lenient(got.data, "iso2").violations == got.violations
    # a member's type in the head's place is not what the head's grammar carries
    req.ev_charge_parameter = m.AC_EVChargeParameterType()
    with pytest.raises(ExiEncodeError, match="AC_EVChargeParameterType"):
        encode(msg, strict=False)


def test_fragments() -> None:
    m = schema_module("iso2")
    auth = m.AuthorizationReqType(id="ID1", gen_challenge=bytes(17))  # GenChallenge: 16 octets
    with pytest.raises(ExiEncodeError):
        encode_fragment(auth, "AuthorizationReq", "iso2")
    got = encode_lenient(auth, "AuthorizationReq", "iso2", fragment=True)
    assert got.data == encode_fragment(auth, "AuthorizationReq", "iso2", strict=False)
    assert [w for _o, w in got.violations] == ["binary of 17 octets, schema allows 16"]
    assert decode_fragment(got.data, "iso2", strict=False) == [("AuthorizationReq", auth)]
    with pytest.raises(ExiValueError):
        decode_fragment(got.data, "iso2")


def test_patterns_are_not_facets_of_this_codec() -> None:
    """The codec checks no xs:pattern in either direction: a pattern-breaking EVSEID encodes strictly."""
    res = iso2_dc.sequence()[1][2]
    res.body.session_setup_res.evseid = "not an EVSE ID!"
    assert decode_element(encode(res), "iso2")[1] == res


def test_lenient_mode_ends_with_the_call() -> None:
    """The mode is per call: a strict encode right after a lenient one (or a failed one) refuses again."""
    m = _cd_req()
    m.body.current_demand_req.dc_ev_status.evresssoc = 101
    encode(m, strict=False)
    with pytest.raises(ExiEncodeError):
        encode(m)
    m.body.current_demand_req.ev_target_current.multiplier = 9
    with pytest.raises(ExiEncodeError):
        encode(m, strict=False)
    m.body.current_demand_req.ev_target_current.multiplier = 0
    with pytest.raises(ExiEncodeError):
        encode(m)
