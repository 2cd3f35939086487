"""Schema-valid messages of a chosen size, for the codec's size sweep, the abuse suite and fuzz seeds.

The only unbounded part the V2G schemas offer is the xmldsig ``Signature`` that every message header
(DIN, ISO 15118-2, ISO 15118-20) may carry: its ``SignedInfo`` takes any number of ``Reference``
entries. A message of N KiB is a small request whose header signature holds as many references as it
takes. ``digest=0`` makes each reference empty (URI and DigestValue absent or empty): the most elements
per KiB, the hardest case for a decoder; ``digest=32`` gives references as a signer writes them.
"""

from __future__ import annotations

from typing import Any

from .api import encode, schema_module

#: schema -> the message carried (its header holds the signature); the schemas without a header-only
#: message carry the ``Signature`` global element itself as the document
CARRIER: dict[str, str] = {
    "din": "SessionSetupReq", "iso2": "SessionSetupReq", "iso20": "AuthorizationSetupReq",
    "iso20-dc": "DC_CableCheckReq", "iso20-ac": "Signature", "iso20-wpt": "Signature",
    "iso20-acdp": "Signature", "xmldsig": "Signature",
}


def signature(schema: str, references: int, digest: int = 32) -> Any:
    """An xmldsig Signature with ``references`` Reference entries (of ``digest`` octets each)."""
    m = schema_module(schema)
    refs = [m.ReferenceType(uri=f"#id{i}" if digest else None,
                            digest_method=m.DigestMethodType(
                                algorithm="http://www.w3.org/2001/04/xmlenc#sha256" if digest else ""),
                            digest_value=bytes(range(digest)))
            for i in range(references)]
    info = m.SignedInfoType(
        canonicalization_method=m.CanonicalizationMethodType(algorithm="http://www.w3.org/TR/canonical-exi/"),
        signature_method=m.SignatureMethodType(algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"),
        reference=refs)
    return m.SignatureType(signed_info=info, signature_value=m.SignatureValueType(value=bytes(64)))


def signed_message(schema: str, references: int, digest: int = 32,
                   session_id: bytes = bytes(8)) -> tuple[Any, str]:
    """(message object, document element name) of ``schema`` carrying a signature of that many references
    (``session_id`` in its header; one zero octet asks an SECC for a new session)."""
    m = schema_module(schema)
    sig = signature(schema, references, digest)
    carrier = CARRIER.get(schema)
    if carrier is None:
        raise ValueError(f"schema {schema!r} has no unbounded content (choose one of {', '.join(CARRIER)})")
    if carrier == "Signature":
        return sig, "Signature"
    if schema in ("din", "iso2"):
        body = m.BodyType(session_setup_req=m.SessionSetupReqType(evccid=bytes.fromhex("0A0B0C0D0E0F")))
        return m.V2G_MessageType(header=m.MessageHeaderType(session_id=session_id, signature=sig), body=body), "V2G_Message"
    header = m.MessageHeaderType(session_id=session_id, time_stamp=1_700_000_000, signature=sig)
    return getattr(m, carrier + "Type")(header=header), carrier


def message_of_size(schema: str, size: int, digest: int = 32) -> tuple[Any, str, bytes]:
    """The smallest such message whose EXI stream has at least ``size`` octets: (object, element, stream)."""

    def build(n: int) -> tuple[Any, str, bytes]:
        obj, element = signed_message(schema, n, digest)
        return obj, element, encode(obj, element=element, schema=schema)

    hi = 1
    while len(build(hi)[2]) < size:
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:  # the smallest count that reaches the size
        mid = (lo + hi) // 2
        if len(build(mid)[2]) < size:
            lo = mid
        else:
            hi = mid
    return build(hi)
