"""Long streams: windowed decoding and spilling encoders give exactly what the whole-stream paths give.

Streams over ``runtime.WHOLE_MAX`` octets are decoded by the general decoders through a sliding window,
and encoders move finished octets out of their accumulator; both keep the codec linear in message size
(``./run bench`` prints the size sweep). These tests pin that the results, errors and bit offsets are
the same as decoding the stream whole.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2gkit.exi import ExiError, ExiTruncatedError, api, decode_element, encode, runtime
from v2gkit.exi.api import schema_module
from v2gkit.exi.samples import CARRIER, message_of_size, signature

SIZE = 64 * 1024


@pytest.mark.parametrize("digest", [0, 32])
@pytest.mark.parametrize("schema", sorted(CARRIER))
def test_64_kib_round_trip(schema: str, digest: int) -> None:
    obj, element, data = message_of_size(schema, SIZE, digest)
    assert SIZE <= len(data) < SIZE + 200
    assert decode_element(data, schema) == (element, obj)
    assert encode(obj, element=element, schema=schema) == data


def outcome(data: bytes, schema: str, strict: bool = True) -> tuple:
    try:
        return ("ok",) + decode_element(data, schema, strict)
    except ExiError as e:
        return (type(e).__name__, e.bit_offset, e.message)


def whole(data: bytes, schema: str, strict: bool = True) -> tuple:
    """Decode as a stream held whole, by the fast decoders (however long it is)."""
    saved = api.WHOLE_MAX
    api.WHOLE_MAX = 1 << 30
    try:
        return outcome(data, schema, strict)
    finally:
        api.WHOLE_MAX = saved


_MESSAGES = {(s, d): message_of_size(s, 3000, d)[2] for s in ("iso2", "din", "iso20-dc", "xmldsig") for d in (0, 32)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(_MESSAGES)), data=st.data())
def test_windowed_decoding_equals_whole(key: tuple[str, int], data: st.DataObject) -> None:
    """Same object, or the same error class, bit offset and text, for any damage to a long stream."""
    stream = bytearray(_MESSAGES[key])
    kind = data.draw(st.sampled_from(["flip", "truncate", "junk", "none"]))
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 3))):
            stream[data.draw(st.integers(1, len(stream) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        del stream[data.draw(st.integers(1, len(stream) - 1)):]
    elif kind == "junk":
        stream += data.draw(st.binary(min_size=1, max_size=4))
    raw = bytes(stream)
    strict = data.draw(st.booleans())
    assert outcome(raw, key[0], strict) == whole(raw, key[0], strict)


@pytest.mark.parametrize("cut", [1, 40, 70, 3000])
def test_truncated_long_stream(cut: int) -> None:
    _obj, _el, data = message_of_size("iso2", SIZE, 0)
    with pytest.raises(ExiTruncatedError) as err:
        decode_element(data[:-cut], "iso2")
    assert whole(data[:-cut], "iso2") == ("ExiTruncatedError", err.value.bit_offset, err.value.message)


def test_long_values_cross_windows() -> None:
    """Strings and binaries longer than a window, ASCII and not, at every alignment."""
    m = schema_module("iso2")
    for shift in range(8):
        sig = signature("iso2", 3 + shift, 32)
        sig.signed_info.reference[1].uri = "é€𝄞x" * 700 + "a" * shift  # 1-, 2-, 3- and 4-octet characters
        sig.signed_info.reference[2].digest_value = bytes(range(256)) * 20
        sig.signature_value = m.SignatureValueType(value=bytes(5000 + shift), id="s" * (runtime.WINDOW_BYTES + shift))
        data = encode(sig, element="Signature", schema="iso2")
        assert len(data) > 4 * runtime.WINDOW_BYTES
        assert decode_element(data, "iso2") == ("Signature", sig)
        assert whole(data, "iso2") == ("ok", "Signature", sig)


def test_spilling_encoder_writes_the_same_octets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encoding with the accumulator spilled equals encoding with it kept whole."""
    streams = {}
    for schema in ("din", "iso2", "iso20", "xmldsig"):
        for digest in (0, 32):
            obj, element, data = message_of_size(schema, 20000, digest)
            streams[schema, digest] = (obj, element, data)
    never = 1 << (1 << 24)
    for schema in ("din", "iso2", "iso20", "xmldsig"):
        monkeypatch.setattr(schema_module(schema), "BIG", never)
    monkeypatch.setattr(runtime, "BIG", never)
    for (schema, _d), (obj, element, data) in streams.items():
        assert encode(obj, element=element, schema=schema) == data
    assert not runtime._spilled


def test_failed_encoding_leaves_nothing_spilled() -> None:
    obj, element, _data = message_of_size("iso2", 20000, 32)
    obj.header.signature.signed_info.reference[-1].digest_method = None  # mandatory
    with pytest.raises(ExiError, match="DigestMethod"):
        encode(obj, element=element, schema="iso2")
    assert not runtime._spilled
    small, el, data = message_of_size("iso2", 100, 32)
    assert encode(small, element=el, schema="iso2") == data


def test_threads_decode_and_encode_long_messages_independently() -> None:
    cases = [message_of_size(s, 30000, d) for s in ("iso2", "din") for d in (0, 32)]
    errors: list[BaseException] = []

    def work(case: tuple) -> None:
        obj, element, data = case
        schema = "iso2" if type(obj).__module__.endswith("iso2") else "din"
        try:
            for _ in range(5):
                assert decode_element(data, schema) == (element, obj)
                assert encode(obj, element=element, schema=schema) == data
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in cases for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
