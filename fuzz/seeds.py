"""Seed corpora: real streams where we have them, hand-built frames and datagrams where we do not.

EXI seeds come from tests/data/vectors_sample.jsonl (in the repo) and, when it is there,
../shared/vectors/vectors.jsonl (its ``protocol`` names map to schema sets as in tests/conftest.py).
Transport seeds are built with the library's own writers, so they are valid to start with; the fuzzer
breaks them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from v2gkit import sdp
from v2gkit.exi import encode
from v2gkit.exi.gen import apphand
from v2gkit.session import handshake
from v2gkit.v2gtp import PayloadType, frame

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "vectors_sample.jsonl"


def shared_dir() -> Path:
    """../shared beside the checkout, or $V2GKIT_SHARED (the rule of tests/conftest.py)."""
    return Path(os.environ.get("V2GKIT_SHARED", ROOT.parent / "shared"))


def _protocol_map() -> dict[str, tuple[str, bool]]:
    """vectors.jsonl ``protocol`` -> (schema set, fragment): the table lives in tests/conftest.py."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from conftest import PROTOCOLS  # type: ignore[import-not-found]

    return PROTOCOLS


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def vectors(schema: str | None = None) -> list[tuple[str, bytes]]:
    """(schema, stream) of the sample and shared vectors, deduplicated, sample first."""
    out: dict[bytes, str] = {}
    for v in _jsonl(SAMPLE):
        out.setdefault(bytes.fromhex(v["hex"]), v["schema"])
    shared = shared_dir() / "vectors" / "vectors.jsonl"
    if shared.exists():
        protocols = _protocol_map()
        for v in _jsonl(shared):
            hit = protocols.get(v.get("protocol", ""))
            if hit:
                out.setdefault(bytes.fromhex(v["hex"]), hit[0])
    return [(s, data) for data, s in out.items() if schema is None or s == schema]


def exi_seeds(schema: str) -> list[bytes]:
    """Every vector of the schema set (documents and fragments: the harness tries both readings)."""
    return [data for _s, data in vectors(schema)]


def _small(schema: str, n: int) -> list[bytes]:
    return sorted(exi_seeds(schema), key=len)[:n]


def v2gtp_seeds() -> list[bytes]:
    """2 control octets (see targets.run_v2gtp) + a stream of frames, good and bad."""
    din, iso2, iso20 = _small("din", 3), _small("iso2", 3), _small("iso20", 2)
    good = [frame(PayloadType.EXI, p) for p in din + iso2]
    good += [frame(PayloadType.ISO20_COMMON, p) for p in iso20]
    sdp_req = sdp.SDPRequest().to_bytes()
    streams = [
        *good,
        b"".join(good[:3]),
        good[0] + good[1][:11],  # a frame and the start of the next
        b"\x02\xfd\x80\x01\x00\x00\x00\x04abcd" + good[0],  # wrong version: the connection closes
        b"\x01\xfe\x80\x01\xff\xff\xff\xff" + good[0],  # length beyond any limit
        b"\x01\xfe\x80\x01\x00\x00\x00\x00" + good[0],  # empty payload: dropped, stream goes on
        b"\x01\xfe\x12\x34\x00\x00\x00\x03xyz" + good[1],  # unknown type: skipped
        sdp_req + good[2],  # a UDP payload type on TCP
        good[0][:5],
        sdp_req,
    ]
    controls = [(0x00, 0), (0x10, 0), (0x30, 7), (0x71, 1), (0x84, 3), (0x4B, 9), (0x2E, 5)]
    return [bytes(c) + s for i, s in enumerate(streams) for c in controls[i % 3::3]] + \
        [bytes(c) + streams[2] for c in controls]


def sdp_seeds() -> list[bytes]:
    addr = ipaddress.IPv6Address("fe80::1")
    out = [sdp.SDPRequest(s, t).to_bytes() for s in sdp.Security for t in sdp.Transport]
    out += [sdp.SDPResponse(addr, 50001, s, t).to_bytes() for s in sdp.Security for t in sdp.Transport]
    out.append(sdp.WirelessSDPRequest(sdp.Security.TLS, sdp.Transport.TCP, 0x0100, 0x10,
                                      "WMIV1234567890ABCDEX", "").to_bytes())
    out.append(sdp.WirelessSDPRequest(sdp.Security.NONE, sdp.Transport.TCP, 0, 0).to_bytes())
    out.append(sdp.WirelessSDPResponse(addr, 50000, sdp.Security.NONE, sdp.Transport.TCP,
                                       sdp.DiagStatus.FINISHED_WITH_EVSEID, 0x10, "DE*ABC*E1234").to_bytes())
    out.append(sdp.SDPRequest().to_bytes()[:9])
    out.append(sdp.SDPRequest().to_bytes() + b"\x00")
    return out


def handshake_seeds() -> list[bytes]:
    out = exi_seeds("apphand")
    for offer in (handshake.DEFAULT_OFFER, ("din",), ("iso2", "din"), tuple(handshake.PROTOCOLS)):
        out.append(handshake.EVHandshake(list(offer)).request())
    many = [handshake.Offer(f"urn:test:{i}", 1, i % 3, i, 20 - i) for i in range(20)]
    out.append(encode(handshake.build_request(many)))
    for code in handshake.ResponseCode:
        out.append(encode(apphand.supportedAppProtocolResType(response_code=code)))
        for schema_id in (1, 7):  # targets._EV_OFFERS: 1 is iso20-dc, 7 a namespace v2gkit cannot speak
            out.append(encode(apphand.supportedAppProtocolResType(response_code=code, schema_id=schema_id)))
    return out
