"""SDP: message formats, the sans-IO client and server rules, and a real UDP exchange on ::1."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from v2gkit import sdp
from v2gkit.net.sdp import DiscoveryError, SDPPortInUse, discover, start_responder
from v2gkit.sdp import (
    Discovered,
    DiscoveryFailed,
    Ignored,
    Security,
    SecurityPolicy,
    SendRequest,
    StartTimer,
    Transport,
)

SECC = ipaddress.IPv6Address("fe80::1")
PORTS = {Security.NONE: 50001, Security.TLS: 50002}


def test_request_and_response_bytes() -> None:
    assert sdp.SDPRequest(Security.NONE).to_bytes() == bytes.fromhex("01fe9000000000021000")
    assert sdp.SDPRequest(Security.TLS).to_bytes() == bytes.fromhex("01fe9000000000020000")
    res = sdp.SDPResponse(SECC, 50001, Security.NONE)
    # TC_SECC_CMN_VTB_V2GTPSDP_001: response header 01 FE 90 01, payload length 0x14
    assert res.to_bytes() == bytes.fromhex("01fe90010000001 4".replace(" ", "")) + SECC.packed + bytes.fromhex("c3511000")
    assert sdp.parse_response(res.to_bytes()) == res


@pytest.mark.parametrize("data,msg", [
    (bytes.fromhex("01fe9000000000022000"), "security 0x20 is reserved"),
    (bytes.fromhex("01fe9000000000021001"), "transport protocol 0x01 is reserved"),
    (bytes.fromhex("01fe900000000003100000"), "payload must be 2 bytes"),
    (bytes.fromhex("01fe9001000000021000"), "not accepted"),
])
def test_bad_requests(data: bytes, msg: str) -> None:
    with pytest.raises(sdp.SDPError, match=msg):
        sdp.parse_request(data)


@pytest.mark.parametrize("policy,asked,answered", [
    (SecurityPolicy.ECHO, Security.NONE, Security.NONE),       # TC_SECC_CMN_VTB_SDP_001
    (SecurityPolicy.ECHO, Security.TLS, Security.TLS),         # TC_SECC_CMN_VTB_SDP_002/003
    (SecurityPolicy.NONE_ONLY, Security.TLS, Security.NONE),   # TC_SECC_CMN_VTB_SDP_007 (downgrade)
    (SecurityPolicy.TLS_ONLY, Security.NONE, Security.TLS),
])
def test_server_policy(policy: SecurityPolicy, asked: Security, answered: Security) -> None:
    server = sdp.SDPServer(SECC, PORTS, policy)
    data, why = server.datagram_received(sdp.SDPRequest(asked).to_bytes())
    res = sdp.parse_response(data)
    assert (res.security, res.port, res.address, res.transport) == (answered, PORTS[answered], SECC, Transport.TCP)
    assert answered.name in why


@pytest.mark.parametrize("data", [
    bytes.fromhex("01fe900000000000"),          # TC_SECC_CMN_VTB_V2GTPSDP_002: length 0
    bytes.fromhex("01fe7000000000021000"),      # _003: payload type 0x7000
    bytes.fromhex("fffe9000000000021000"),      # _004: version 0xFF
    bytes.fromhex("01ff9000000000021000"),      # _005: inverse 0xFF
    bytes.fromhex("01fe9000000000021010"),      # UDP transport: not offered
    b"", b"\x01",
])
def test_server_ignores_bad_requests(data: bytes) -> None:
    server = sdp.SDPServer(SECC, PORTS)
    assert server.datagram_received(data)[0] is None and server.answered == 0


def test_stopped_server_is_silent() -> None:
    """TC_SECC_CMN_VTB_SDP_004..006: after the communication setup timeout no answers."""
    server = sdp.SDPServer(SECC, PORTS)
    server.stop()
    assert server.datagram_received(sdp.SDPRequest().to_bytes()) == (None, "SDP server stopped")


def test_policy_needs_its_ports() -> None:
    with pytest.raises(ValueError, match="needs a listening port for: TLS"):
        sdp.SDPServer(SECC, {Security.NONE: 50000}, SecurityPolicy.ECHO)


def test_client_retries_then_fails() -> None:
    c = sdp.SDPClient(Security.NONE, max_requests=50, interval=0.25)
    out = c.start()
    assert out == [SendRequest(sdp.SDPRequest().to_bytes(), 1), StartTimer(0.25)]
    for n in range(2, 51):
        out = c.timer_expired()
        assert out[0] == SendRequest(sdp.SDPRequest().to_bytes(), n)
    (failed,) = c.timer_expired()
    assert isinstance(failed, DiscoveryFailed) and failed.attempts == 50 and "50 requests" in failed.reason
    assert c.timer_expired() == []


def test_client_takes_first_valid_answer_and_ignores_junk() -> None:
    c = sdp.SDPClient(Security.TLS, accept_downgrade=False)
    c.start()
    none = sdp.SDPResponse(SECC, 50001, Security.NONE).to_bytes()
    (ign,) = c.datagram_received(none)
    assert isinstance(ign, Ignored) and "downgrade" in ign.reason
    (ign,) = c.datagram_received(b"junk")
    assert isinstance(ign, Ignored)
    bad_port = bytearray(sdp.SDPResponse(SECC, 1, Security.TLS).to_bytes())
    bad_port[24:26] = b"\0\0"
    assert isinstance(c.datagram_received(bytes(bad_port))[0], Ignored)
    multicast = sdp.SDPResponse(ipaddress.IPv6Address("ff02::1"), 50002, Security.TLS).to_bytes()
    assert "not a unicast" in c.datagram_received(multicast)[0].reason
    c.timer_expired()
    (ok,) = c.datagram_received(sdp.SDPResponse(SECC, 50002, Security.TLS).to_bytes())
    assert isinstance(ok, Discovered) and ok.attempts == 2 and ok.response.port == 50002
    assert isinstance(c.datagram_received(none)[0], Ignored)  # after the result


def test_client_without_tls_refuses_a_tls_only_secc() -> None:
    c = sdp.SDPClient(Security.NONE, tls_capable=False)
    c.start()
    (ign,) = c.datagram_received(sdp.SDPResponse(SECC, 50002, Security.TLS).to_bytes())
    assert isinstance(ign, Ignored) and "no TLS configuration" in ign.reason


def test_wireless_formats() -> None:
    req = sdp.WirelessSDPRequest(Security.TLS, Transport.TCP, 0x0100, 0x10, "WMIV1234567890ABCDEX", "")
    data = req.to_bytes()
    assert data[:8] == bytes.fromhex("01fe90020000003d") and len(data) == 8 + 61
    back = sdp.parse_wireless_request(data)
    assert back.evid == "WMIV1234567890ABCDEX" and back.p2ps_ppd == 0x0100 and back.coupling_type == 0x10
    server = sdp.SDPServer(SECC, PORTS, wireless=(0x10, "DE*ABC*E1234"))
    res = sdp.parse_wireless_response(server.datagram_received(data)[0])
    assert res.diag_status is sdp.DiagStatus.FINISHED_WITH_EVSEID and res.evseid.endswith("DE*ABC*E1234")
    assert len(res.to_bytes()) == 8 + 58
    assert sdp.SDPServer(SECC, PORTS).datagram_received(data)[0] is None  # not offered
    with pytest.raises(sdp.SDPError, match="longer than 20"):
        sdp.WirelessSDPRequest(Security.TLS, Transport.TCP, 0, 0, "X" * 21).to_bytes()


async def test_discovery_over_udp_on_loopback() -> None:
    server = sdp.SDPServer(ipaddress.IPv6Address("::1"), PORTS, SecurityPolicy.ECHO)
    responder = await start_responder(server, loopback=True, port=15200)
    try:
        res, attempts = await discover(loopback=True, port=15200, security=Security.TLS)
        assert (res.address, res.port, res.security, attempts) == (ipaddress.IPv6Address("::1"), 50002,
                                                                    Security.TLS, 1)
        assert responder.last == "asked TLS, answered TLS port 50002" and responder.stats == {"answered": 1}
    finally:
        responder.close()


async def test_a_second_responder_on_the_same_port_fails_clearly() -> None:
    """A second SECC on the SDP port must not start silently (with SO_REUSEADDR it did, and Linux then
    handed each request to only one of them)."""
    server = sdp.SDPServer(ipaddress.IPv6Address("::1"), PORTS, SecurityPolicy.ECHO)
    first = await start_responder(server, loopback=True, port=15202)
    try:
        with pytest.raises(SDPPortInUse, match="SDP port 15202 on ::1 is already in use"):
            await start_responder(server, loopback=True, port=15202)
        res, _ = await discover(loopback=True, port=15202)  # the first one still answers
        assert res.port == 50001
    finally:
        first.close()
    await asyncio.sleep(0)  # the transport closes its socket on the next loop iteration
    second = await start_responder(server, loopback=True, port=15202)  # free again once closed
    second.close()


async def test_junk_is_counted_not_kept() -> None:
    from v2gkit.net.faults import FaultLog

    faults = FaultLog(rate=0.0, burst=1)
    server = sdp.SDPServer(ipaddress.IPv6Address("::1"), PORTS, SecurityPolicy.ECHO)
    responder = await start_responder(server, loopback=True, port=15203, faults=faults)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=("::1", 15203))
    try:
        for i in range(300):
            transport.sendto(b"junk%d" % i)
            if i % 50 == 0:
                await asyncio.sleep(0.01)
        for _ in range(100):
            if responder.stats["dropped"] == 300:
                break
            await asyncio.sleep(0.01)
        assert responder.stats == {"dropped": 300} and faults.counts == {"sdp_junk": 300}
        assert faults.suppressed == 299  # a burst of one line, no refill
        assert not hasattr(responder, "log")
    finally:
        transport.close()
        responder.close()


async def test_discovery_gives_up() -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(DiscoveryError) as e:
        await discover(loopback=True, port=15201, max_requests=4, interval=0.05)
    assert e.value.attempts == 4
    assert 0.15 <= loop.time() - t0 < 2.0
