"""Decoder fuzzing: whatever the bytes, decoding returns or raises an ExiError, nothing else.

(a) arbitrary bytes, with and without the 0x80 header, for every schema set;
(b) mutations of real streams (tests/data/vectors_sample.jsonl; streams encoded from generated
    instances when the file is absent, and in addition for every schema set): every truncation,
    bit flips, inserted / appended / deleted bytes;
(c) a huge claimed length (string or binary length field of 2**40 and more) fails fast, without
    a big allocation; decoding time grows linearly with the stream.

A stream that decodes must give an object the encoder accepts again (the decoder checks facets).
"""

from __future__ import annotations

import json
import random
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import instances, root_elements

from v2gkit.exi import (
    SCHEMAS,
    ExiError,
    decode_element,
    decode_fragment,
    encode,
    encode_fragment,
    schema_module,
)

VECTORS_FILE = Path(__file__).resolve().parent / "data" / "vectors_sample.jsonl"
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------ the property


def check_decoders(data: bytes, schema: str) -> None:
    """Decode ``data`` as a document and as a fragment: a result or an ExiError, nothing else."""
    for decoder, encoder in ((decode_element, encode), (decode_fragment, encode_fragment)):
        try:
            res = decoder(data, schema)
        except ExiError:
            continue
        except BaseException as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{decoder.__name__}(bytes.fromhex({data.hex()!r}), {schema!r}) raised "
                        f"{type(e).__name__}: {e}")
        items = [res] if decoder is decode_element else res
        for name, obj in items:
            try:
                encoder(obj, element=name, schema=schema)
            except BaseException as e:  # noqa: BLE001
                pytest.fail(f"{decoder.__name__}(bytes.fromhex({data.hex()!r}), {schema!r}) gave a {name} "
                            f"the encoder refuses: {type(e).__name__}: {e}")


# ------------------------------------------------------------------ (a) arbitrary bytes


@pytest.mark.parametrize("schema", list(SCHEMAS))
@settings(FUZZ, max_examples=500)
@given(body=st.binary(max_size=48), header=st.booleans())
def test_random_bytes(schema: str, body: bytes, header: bool) -> None:
    check_decoders((b"\x80" + body) if header else body, schema)


def test_empty_and_header_only() -> None:
    for schema in SCHEMAS:
        for data in (b"", b"\x80", b"\x00", b"\x80\x00", b"\x80\xff", b"\x80" + b"\xff" * 200):
            check_decoders(data, schema)


# ------------------------------------------------------------------ (b) mutations of real streams


def _vectors() -> list[tuple[str, str, bytes]]:
    """(id, schema, bytes) of the valid sample vectors; generated streams when the file is absent."""
    if VECTORS_FILE.exists():
        out = []
        with VECTORS_FILE.open() as f:
            for i, line in enumerate(f):
                if not line.strip():
                    continue
                v = json.loads(line)
                if v.get("negative"):
                    continue
                frag = "frag:" if v.get("fragment") else ""
                out.append((f"{v['schema']}:{frag}{v.get('message', '?')}#{i}", v["schema"],
                            bytes.fromhex(v["hex"])))
        return out
    return _generated_streams()


def _generated_streams() -> list[tuple[str, str, bytes]]:
    """One encoded example per root element of every schema set (deterministic)."""
    from hypothesis import find

    out = []
    for schema in SCHEMAS:
        mod = schema_module(schema)
        for name, cls in root_elements(mod):
            try:
                obj = find(instances(mod, cls), lambda o: True,
                           settings=settings(database=None, derandomize=True))
                out.append((f"{schema}:{name}", schema, encode(obj, element=name, schema=schema)))
            except ExiError:
                continue  # a codec bug, reported by test_properties
    return out


VECTORS = _vectors()
VECTOR_PARAMS = [pytest.param(schema, data, id=vid) for vid, schema, data in VECTORS]


def test_vectors_available() -> None:
    assert len(VECTORS) >= 10


def _flip(data: bytes, bit: int) -> bytes:
    m = bytearray(data)
    m[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(m)


@pytest.mark.parametrize(("schema", "data"), VECTOR_PARAMS)
def test_vector_mutations(schema: str, data: bytes) -> None:
    """Every truncation; every bit flip (or 2048 seeded ones beyond 256 octets); byte insertions."""
    rng = random.Random(data)
    for n in range(len(data)):
        check_decoders(data[:n], schema)
    nbits = len(data) * 8
    bits = range(nbits) if len(data) <= 256 else rng.sample(range(nbits), 2048)
    for b in bits:
        check_decoders(_flip(data, b), schema)
    for _ in range(32):
        pos = rng.randrange(len(data) + 1)
        byte = bytes([rng.choice((0x00, 0xFF, 0x80, 0x7F, rng.randrange(256)))])
        check_decoders(data[:pos] + byte + data[pos:], schema)  # insert
        check_decoders(data + byte * rng.randrange(1, 4), schema)  # append
        if len(data) > 1:
            pos = rng.randrange(1, len(data))
            check_decoders(data[:pos] + data[pos + 1:], schema)  # delete


_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**16), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 2**16), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 2**16), st.integers(0, 255)),
    st.tuples(st.just("set"), st.integers(0, 2**16), st.integers(0, 255)),
)


def _mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    m = bytearray(data)
    for op, pos, val in ops:
        if not m:
            m.append(val)
            continue
        i = pos % len(m)
        if op == "flip":
            m[i] ^= 1 << (val % 8)
        elif op == "insert":
            m.insert(i, val)
        elif op == "delete" and i > 0:  # keep the header most of the time
            del m[i]
        elif op == "set":
            m[i] = val
    return bytes(m)


@settings(FUZZ, max_examples=2000)
@given(vector=st.sampled_from(VECTORS), ops=st.lists(_MUTATION, min_size=1, max_size=6),
       cut=st.none() | st.integers(0, 2**16))
def test_vector_random_mutations(vector: tuple[str, str, bytes], ops: list, cut: int | None) -> None:
    _vid, schema, data = vector
    m = _mutate(data, ops)
    if cut is not None and m:
        m = m[: cut % (len(m) + 1)]
    check_decoders(m, schema)


_ROOTS = {s: root_elements(schema_module(s)) for s in SCHEMAS}


@pytest.mark.parametrize("schema", list(SCHEMAS))
@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_generated_stream_mutations(schema: str, data: st.DataObject) -> None:
    """Mutations of streams encoded from generated instances: reach every message type."""
    mod = schema_module(schema)
    name, cls = data.draw(st.sampled_from(_ROOTS[schema]), label="root")
    obj = data.draw(instances(mod, cls), label="obj")
    fragment = data.draw(st.booleans(), label="fragment")
    try:
        exi = (encode_fragment if fragment else encode)(obj, element=name, schema=schema)
    except ExiError:
        return  # an encoder bug, reported by test_properties
    ops = data.draw(st.lists(_MUTATION, min_size=1, max_size=4), label="ops")
    check_decoders(_mutate(exi, ops), schema)
    cut = data.draw(st.integers(0, len(exi)), label="cut")
    check_decoders(exi[:cut], schema)


# ------------------------------------------------------------------ (c) huge claimed lengths


def _bits(data: bytes) -> str:
    return "".join(f"{b:08b}" for b in data)


def _pack(bits: str) -> bytes:
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def _uvarint(v: int) -> str:
    """EXI unsigned integer: 7-bit groups, least significant first, high bit = more follow."""
    out = []
    while True:
        o, v = v & 127, v >> 7
        out.append(o | (128 if v else 0))
        if not v:
            return "".join(f"{x:08b}" for x in out)


def _with_length(data: bytes, payload: bytes, old_len_field: int, new_len_field: int) -> bytes:
    """Replace the 8-bit length field in front of ``payload`` (found at any bit offset)."""
    bits, pb = _bits(data), _bits(payload)
    i = bits.index(pb)
    assert bits[i - 8:i] == f"{old_len_field:08b}", "length field not where expected"
    return _pack(bits[:i - 8] + _uvarint(new_len_field) + bits[i:])


def _fails_fast(data: bytes, decoder: Any, schema: str) -> ExiError:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ExiError) as ei:
            decoder(data, schema)
        elapsed = time.perf_counter() - t0
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert peak < 1_000_000, f"peak allocation {peak} octets"
    return ei.value


MARKER = "MARKER!!"  # 8 ASCII characters: length field n + 2 = 10 (one octet)
CLAIMS = [2**40, 2**40 + 2, 2**62, 10**30]


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"len={c:#x}")
@pytest.mark.parametrize("fragment", [False, True], ids=["document", "fragment"])
def test_huge_string_length_fails_fast(claim: int, fragment: bool) -> None:
    mod = schema_module("xmldsig")
    obj = mod.DigestMethodType(algorithm=MARKER)
    if fragment:
        exi = encode_fragment(obj, element="DigestMethod", schema="xmldsig")
    else:
        exi = encode(obj, element="DigestMethod", schema="xmldsig")
    bad = _with_length(exi, MARKER.encode(), len(MARKER) + 2, claim)
    _fails_fast(bad, decode_fragment if fragment else decode_element, "xmldsig")


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"len={c:#x}")
@pytest.mark.parametrize("schema", ["xmldsig", "iso2", "iso20"])
def test_huge_binary_length_fails_fast(schema: str, claim: int) -> None:
    mod = schema_module(schema)
    payload = bytes(range(0xA0, 0xB0))  # 16 octets, length field 16
    ref = mod.ReferenceType(digest_method=mod.DigestMethodType(algorithm="x"), digest_value=payload)
    exi = encode(ref, element="Reference", schema=schema)
    bad = _with_length(exi, payload, len(payload), claim)
    _fails_fast(bad, decode_element, schema)


def test_huge_unsigned_integer_fails_fast() -> None:
    """An unsigned integer of 100 000 continuation octets: refused after at most ~100."""
    mod = schema_module("iso2")
    payload = bytes(range(0xA0, 0xB0))
    ref = mod.ReferenceType(digest_method=mod.DigestMethodType(algorithm="x"), digest_value=payload)
    exi = encode(ref, element="Reference", schema="iso2")
    bits, pb = _bits(exi), _bits(payload)
    i = bits.index(pb)
    bad = _pack(bits[:i - 8] + "11111111" * 100_000 + "00000001" + bits[i:])
    _fails_fast(bad, decode_element, "iso2")
    _fails_fast(bad, decode_fragment, "iso2")


def test_decode_time_is_linear_in_stream_size() -> None:
    """A long string of non-ASCII characters (legal: xmldsig Algorithm has no length facet).

    Decoding 8 times the data must not take much more than 8 times as long (quadratic: ~64x).
    """
    mod = schema_module("xmldsig")

    def decode_time(n: int) -> float:
        exi = encode(mod.DigestMethodType(algorithm="é" * n), element="DigestMethod", schema="xmldsig")
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            decode_element(exi, "xmldsig")
            best = min(best, time.perf_counter() - t0)
        return best

    small, large = decode_time(4_000), decode_time(32_000)
    assert large < 24 * small + 0.05, (
        f"8x the data took {large / small:.0f}x the time ({small:.3f} s -> {large:.3f} s)")
