"""Real streams: decode, re-encode to the identical bytes, and agree with Josev's decoder."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from conftest import DATA, PROTOCOLS, load_jsonl, need_shared

from v2gkit.exi import ExiError, decode_fragment, encode, encode_fragment
from v2gkit.exi.api import _start, decode_element, schema_module
from v2gkit.exi.convert import to_json_obj

EXCEPTIONS = {e["hex"]: e for e in json.loads((DATA / "vector_exceptions.json").read_text())}
JOSEV_DIFFS = {e["hex"]: e for e in json.loads((DATA / "josev_differences.json").read_text())}


def decode_with_rest(data: bytes, schema: str) -> tuple[str, object, int]:
    """Like decode_element, plus the number of bits left after the document (padding)."""
    mod = schema_module(schema)
    B, total = _start(data)
    r = total - 8 - mod.DOC_WIDTH
    k = (B >> r) & ((1 << mod.DOC_WIDTH) - 1)
    name, obj = decode_element(data, schema)
    dec = mod.DOC_ELEMENTS[k][2]  # the decoder of a stream held whole
    _obj, _B, rest = dec(B, r)
    return name, obj, rest


def check_roundtrip(v: dict) -> str:
    """'exact', 'padding' or 'zero-octet'; raises AssertionError otherwise."""
    schema, fragment = PROTOCOLS[v["protocol"]]
    data = bytes.fromhex(v["hex"])
    if fragment:
        items = decode_fragment(data, schema)
        assert len(items) == 1
        name, obj = items[0]
        assert encode_fragment(obj, element=name, schema=schema) == data
        return "exact"
    name, obj, rest = decode_with_rest(data, schema)
    back = encode(obj, element=name, schema=schema)
    if back == data:
        return "exact"
    if data == back + b"\x00":
        return "zero-octet"  # OpenV2G appends a zero octet; see tests/data/README.md
    # identical up to padding bits after the end of the document
    assert len(back) == len(data) and back[:-1] == data[:-1], (back.hex(), data.hex())
    assert rest < 8 and (back[-1] ^ data[-1]) >> rest == 0, (back.hex(), data.hex(), rest)
    return "padding"


def _run_all(rows: list[dict]) -> Counter:
    outcome: Counter = Counter()
    failures = []
    for v in rows:
        if v["protocol"] not in PROTOCOLS:
            continue
        exc = EXCEPTIONS.get(v["hex"])
        try:
            how = check_roundtrip(v)
            if exc is not None:
                failures.append((v["message"], v["hex"][:40], f"listed as {exc['expect']} but round-trips"))
            outcome[how] += 1
        except ExiError as e:
            if exc is None or exc["expect"] != type(e).__name__:
                failures.append((v["message"], v["hex"][:40], repr(e)))
            outcome["listed-error"] += 1
        except AssertionError as e:
            if exc is None or exc["expect"] != "reencode-differs":
                failures.append((v["message"], v["hex"][:40], f"re-encoding differs {e}"))
            outcome["listed-differs"] += 1
    assert not failures, f"{len(failures)} vectors fail, first: {failures[:5]}"
    return outcome


def test_all_curated_vectors_roundtrip() -> None:
    rows = load_jsonl(need_shared("vectors", "vectors.jsonl"))
    outcome = _run_all(rows)
    assert outcome["exact"] >= 1900, outcome
    assert outcome["listed-error"] + outcome["listed-differs"] == len(EXCEPTIONS)


def test_bulk_vectors_roundtrip() -> None:
    rows = load_jsonl(need_shared("vectors", "vectors_bulk.jsonl"))
    outcome = _run_all(rows)
    assert outcome["exact"] >= 10000, outcome


def test_negative_vectors_fail_with_exi_error() -> None:
    rows = load_jsonl(need_shared("vectors", "vectors.jsonl"))
    neg = [v for v in rows if v["protocol"].startswith("INVALID") or "2016-DIS" in v["protocol"]
           or v["protocol"].startswith("unknown")]
    neg += [v for v in rows if "NEGATIVE" in v["notes"] and v["protocol"] in PROTOCOLS]
    assert len(neg) >= 6
    for v in neg:
        schema = PROTOCOLS.get(v["protocol"], ("iso2", False))[0]
        with pytest.raises(ExiError):
            check_roundtrip({**v, "protocol": next(p for p, s in PROTOCOLS.items() if s[0] == schema)})


def test_sample_vectors_roundtrip_without_shared() -> None:
    """The small committed set: runs everywhere, ../shared or not."""
    rows = load_jsonl(DATA / "vectors_sample.jsonl")
    assert len(rows) > 100
    for v in rows:
        if v.get("negative"):
            with pytest.raises(ExiError):
                check_roundtrip({**v, "protocol": "ISO-2"})
        else:
            assert check_roundtrip(v) in ("exact", "padding", "zero-octet"), v["message"]


def _json_diff(a: object, b: object, path: str = "") -> list[str]:
    if type(a) is not type(b):
        return [path]
    if isinstance(a, dict):
        out = []
        for k in set(a) | set(b):  # type: ignore[arg-type]
            if k not in a or k not in b:  # type: ignore[operator]
                out.append(f"{path}.{k}")
            else:
                out += _json_diff(a[k], b[k], f"{path}.{k}")  # type: ignore[index]
        return out
    if isinstance(a, list):
        if len(a) != len(b):  # type: ignore[arg-type]
            return [path]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _json_diff(x, y, f"{path}[{i}]")]  # type: ignore[arg-type]
    return [] if a == b else [path]


def test_json_equals_josev() -> None:
    rows = load_jsonl(need_shared("vectors", "crosscheck_josev.jsonl"))
    compared = 0
    failures = []
    for v in rows:
        if not v["josev_decoded"] or v["protocol"] not in PROTOCOLS:
            continue
        schema, fragment = PROTOCOLS[v["protocol"]]
        listed = JOSEV_DIFFS.get(v["hex"])
        data = bytes.fromhex(v["hex"])
        try:
            if fragment:
                name, obj = decode_fragment(data, schema)[0]
            else:
                name, obj = decode_element(data, schema)
        except ExiError as e:
            if not (listed and listed["kind"] == "v2gkit-rejects" and listed["error"] == type(e).__name__):
                failures.append((v["message"], v["hex"][:40], repr(e)))
                continue
            # rejected for a facet: decoded leniently, the content must match Josev's
            name, obj = (decode_fragment(data, schema, strict=False)[0] if fragment
                         else decode_element(data, schema, strict=False))
        diff = sorted(_json_diff(json.loads(v["josev_decoded"]), to_json_obj(obj, element=name)))
        if diff and not (listed and listed["kind"] == "json-differs" and sorted(listed["paths"]) == diff):
            failures.append((v["message"], v["hex"][:40], diff))
        if not diff and listed and listed["kind"] != "v2gkit-rejects":
            failures.append((v["message"], v["hex"][:40], "listed as different but equal"))
        compared += 1
    assert not failures, failures[:5]
    assert compared >= 1950


def test_facet_violations_decode_leniently() -> None:
    """Values outside a schema facet are errors by default and kept with strict=False."""
    from v2gkit.exi import ExiValueError

    facet = [e for e in EXCEPTIONS.values() if e["expect"] == "ExiValueError" and "empty content" not in e["reason"]
             and ("outside the schema" in e["reason"] or "schema allows" in e["reason"])]
    assert len(facet) >= 4
    for e in facet:
        schema = PROTOCOLS[e["protocol"]][0]
        data = bytes.fromhex(e["hex"])
        with pytest.raises(ExiValueError) as ei:
            decode_element(data, schema)
        assert "strict=False" in str(ei.value)
        name, obj = decode_element(data, schema, strict=False)
        assert name
    seres = next(e for e in facet if "Seres" in e["reason"])
    msg = decode_element(bytes.fromhex(seres["hex"]), "iso2", strict=False)[1]
    entries = msg.body.power_delivery_req.charging_profile.profile_entry
    assert any(p.charging_profile_entry_max_number_of_phases_in_use == 4 for p in entries)
