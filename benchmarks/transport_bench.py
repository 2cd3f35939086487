"""Transport benchmark: the sans-IO cores (V2GTP reader, SDP, handshake) in µs per call, and real loopback
sockets: message round trips over TCP, TLS 1.2 and TLS 1.3, and the whole communication set-up.

Prints medians (and p99 for round trips). Run: ``./run bench transport`` or
``.venv/bin/python benchmarks/transport_bench.py``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

from exi_bench import median_us  # same folder: run as a script

from v2gkit import sdp
from v2gkit.exi import encode
from v2gkit.net.link import SECCLink, ev_link
from v2gkit.net.tls import client_context, server_context
from v2gkit.net.v2g import V2GConnection, connect, serve
from v2gkit.pki.quick import make_test_pki
from v2gkit.session.handshake import EVHandshake, SECCHandshake
from v2gkit.sim.iso2_dc import current_demand_req
from v2gkit.v2gtp import V2GTPReader, frame


def per_call_us(fn: Callable[[], object], n: int = 0, runs: int = 15) -> float:
    """Median µs per call over ``runs`` calibrated runs (the codec benchmark's timer; ``n`` is ignored)."""
    return median_us(fn, runs)[0]


def core_rows() -> list[tuple[str, float]]:
    cd = frame(0x8001, encode(current_demand_req()))
    ten = cd * 10
    half = len(cd) // 2
    r = V2GTPReader()
    req = sdp.SDPRequest(sdp.Security.TLS).to_bytes()
    server = sdp.SDPServer(ipaddress.IPv6Address("fe80::1"), {sdp.Security.NONE: 50000, sdp.Security.TLS: 50001})
    res = sdp.SDPResponse(ipaddress.IPv6Address("fe80::1"), 50001, sdp.Security.TLS).to_bytes()
    ev = EVHandshake()
    sap_req = ev.request()
    secc = SECCHandshake("iso20-dc,iso2,din")
    sap_res, _ = secc.request(sap_req)
    return [
        (f"V2GTP reader: 1 CurrentDemandReq frame ({len(cd)} B) per segment", per_call_us(lambda: r.feed(cd))),
        ("V2GTP reader: the same frame split over 2 segments",
         per_call_us(lambda: (r.feed(cd[:half]), r.feed(cd[half:])))),
        ("V2GTP reader: 10 frames in one segment, per frame", per_call_us(lambda: r.feed(ten), n=2000) / 10),
        ("V2GTP frame(): header + payload", per_call_us(lambda: frame(0x8001, cd))),
        ("SDP server: request in, response out", per_call_us(lambda: server.datagram_received(req))),
        ("SDP client: parse + check a response", per_call_us(lambda: sdp.parse_response(res))),
        ("handshake SECC: decode 4-entry req, select, encode res", per_call_us(lambda: secc.request(sap_req), n=5000)),
        ("handshake EVCC: decode and check the res", per_call_us(lambda: ev.response(sap_res), n=5000)),
    ]


async def _echo(conn: V2GConnection) -> None:
    while True:
        m = await conn.receive()
        await conn.send(m.payload_type, m.payload)


async def round_trips(ssl_server: object, ssl_client: object, n: int = 3000) -> tuple[float, float]:
    """Median and p99 (µs) of send + receive of one CurrentDemandReq-sized message, echoed."""
    payload = encode(current_demand_req())
    async with await serve(_echo, host="::1", ssl_context=ssl_server) as srv:  # type: ignore[arg-type]
        conn = await connect("::1", srv.port, ssl_context=ssl_client)  # type: ignore[arg-type]
        for _ in range(200):
            await conn.send(0x8001, payload)
            await conn.receive()
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            await conn.send(0x8001, payload)
            await conn.receive()
            samples.append((time.perf_counter() - t) * 1e6)
        await conn.close()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


async def setup_times(policy: sdp.SecurityPolicy, sctx: object, cctx: object, protocols: str,
                      n: int = 30) -> tuple[float, str]:
    """Median ms of SDP + TCP/TLS + supportedAppProtocol, loopback."""
    link = SECCLink(loopback=True, sdp_port=15450, protocols=protocols, policy=policy, ssl_context=sctx)  # type: ignore[arg-type]
    samples, what = [], ""
    async with link:
        for _ in range(n):
            t = time.perf_counter()
            ev = await ev_link(loopback=True, sdp_port=15450, protocols=protocols,
                               tls=policy is not sdp.SecurityPolicy.NONE_ONLY, ssl_context=cctx)  # type: ignore[arg-type]
            samples.append((time.perf_counter() - t) * 1e3)
            what = f"{ev.connection.tls['version'] if ev.connection.tls else 'TCP'} -> {ev.protocol.name}"
            await ev.connection.close()
    return statistics.median(samples), what


async def network_rows() -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        p2, p20 = make_test_pki(f"{d}/2", "iso2"), make_test_pki(f"{d}/20", "iso20")
        s2 = server_context("iso2", p2.secc_chain, p2.secc_key)
        c2 = client_context("iso2", p2.v2g_root)
        s20 = server_context("iso20", p20.secc_chain, p20.secc_key, client_roots=[p20.oem_root])
        c20 = client_context("iso20", p20.v2g_root, cert_chain=p20.vehicle_chain, key=p20.vehicle_key)
        for name, s, c in (("TCP", None, None), ("TLS 1.2", s2, c2), ("TLS 1.3", s20, c20)):
            med, p99 = await round_trips(s, c)
            rows.append((f"round trip, CurrentDemandReq-sized, {name}", f"{med:.0f} µs (p99 {p99:.0f} µs)"))
        for policy, s, c, protos in ((sdp.SecurityPolicy.NONE_ONLY, None, None, "iso2,din"),
                                     (sdp.SecurityPolicy.TLS_ONLY, s2, c2, "iso2,din"),
                                     (sdp.SecurityPolicy.TLS_ONLY, s20, c20, "iso20-dc,iso2")):
            med, what = await setup_times(policy, s, c, protos)
            rows.append((f"communication set-up (SDP + connect + handshake), {what}", f"{med:.2f} ms"))
    return rows


def main() -> None:
    print(f"python {sys.version.split()[0]}; medians of 15 runs (µs per call) for the cores\n")
    for name, us in core_rows():
        print(f"  {name:<66} {us:8.2f} µs")
    print("\nloopback sockets, one asyncio process (both ends)\n")
    for name, value in asyncio.run(network_rows()):
        print(f"  {name:<66} {value}")


if __name__ == "__main__":
    main()
