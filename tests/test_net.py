"""asyncio adapters on real loopback sockets: framing over TCP, header rules, isolation of bad peers,
and the whole communication set-up (SDP, TCP, handshake) with its failure paths."""

from __future__ import annotations

import asyncio

import pytest

from v2gkit.net.link import LinkError, SECCLink, ev_link
from v2gkit.net.v2g import ConnectionClosed, V2GConnection, V2GTPProtocolError, connect, serve
from v2gkit.sdp import SecurityPolicy
from v2gkit.v2gtp import Fault, PayloadType, frame

_ports = iter(range(15400, 15500))


async def _echo_server() -> tuple:
    """A server that echoes each message it receives and records what happened."""
    seen: list = []

    async def handler(conn: V2GConnection) -> None:
        try:
            while True:
                msg = await conn.receive()
                seen.append(msg)
                await conn.send(msg.payload_type, msg.payload)
        except V2GTPProtocolError as e:
            seen.append(e.fault)
            raise

    srv = await serve(handler, host="::1")
    return srv, seen


async def test_messages_split_and_merged_over_tcp() -> None:
    srv, seen = await _echo_server()
    async with srv:
        conn = await connect("::1", srv.port)
        data = frame(0x8001, b"A" * 3000) + frame(0x8001, b"B") + frame(0x8001, b"C" * 10)
        for i in range(0, len(data), 7):  # 7-byte writes, each its own TCP segment
            await conn.send_raw(data[i:i + 7])
            await asyncio.sleep(0) if i % 70 else await asyncio.sleep(0.001)
        got = [await conn.receive(2) for _ in range(3)]
        assert [m.payload for m in got] == [b"A" * 3000, b"B", b"C" * 10]
        await conn.close()


async def test_bad_version_closes_only_that_connection() -> None:
    srv, seen = await _echo_server()
    async with srv:
        good = await connect("::1", srv.port)
        bad = await connect("::1", srv.port)
        await bad.send_raw(bytes.fromhex("fffe8001000000020000"))  # TC_SECC_CMN_VTB_V2GTPSessionSetup_004
        with pytest.raises(ConnectionClosed):
            await bad.receive(2)  # no answer: the SECC closed the connection
        assert any(getattr(f, "fault", None) is Fault.VERSION for f in seen)
        await good.send(0x8001, b"still fine")
        assert (await good.receive(2)).payload == b"still fine"
        await good.close()


async def test_unknown_payload_type_is_ignored_and_the_stream_goes_on() -> None:
    srv, seen = await _echo_server()
    async with srv:
        conn = await connect("::1", srv.port)
        await conn.send_raw(bytes.fromhex("01fe700100000003") + b"xyz" + frame(0x8001, b"next"))
        assert (await conn.receive(2)).payload == b"next"
        assert len(seen) == 1
        await conn.close()


async def test_zero_length_gets_no_answer() -> None:
    """TC_SECC_CMN_VTB_V2GTPSessionSetup_002: the SUT ignores it; the tester's message timeout fires."""
    srv, seen = await _echo_server()
    async with srv:
        conn = await connect("::1", srv.port)
        await conn.send_raw(bytes.fromhex("01fe800100000000"))
        with pytest.raises(TimeoutError):
            await conn.receive(0.3)
        await conn.close()


async def test_client_sees_a_fatal_header_from_the_server() -> None:
    async def handler(conn: V2GConnection) -> None:
        await conn.send_raw(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await asyncio.sleep(1)

    async with await serve(handler, host="::1") as srv:
        conn = await connect("::1", srv.port)
        with pytest.raises(V2GTPProtocolError) as e:
            await conn.receive(2)
        assert e.value.fault.fault is Fault.VERSION and conn.closed


async def _secc(**kw: object) -> SECCLink:
    port = next(_ports)
    link = SECCLink(loopback=True, sdp_port=port, **kw)  # type: ignore[arg-type]
    return await link.start()


async def test_link_over_tcp() -> None:
    secc = await _secc(protocols="iso2,din")
    try:
        ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="din,iso2")
        assert ev.protocol.name == "din" and ev.negotiated.schema_id == 1 and ev.connection.tls is None
        assert ev.sdp_requests == 1 and 49152 <= ev.secc.port <= 65535
        await ev.connection.close()
        await asyncio.sleep(0.05)
        assert [n.protocol.name for n in secc.negotiated] == ["din"]
    finally:
        await secc.close()


async def test_iso20_is_never_offered_over_plain_tcp() -> None:
    secc = await _secc(protocols="iso20-dc,iso2")
    try:
        ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso20-dc,iso2")
        assert ev.protocol.name == "iso2"
        await ev.connection.close()
        with pytest.raises(LinkError, match="ISO 15118-20 needs TLS 1.3"):
            await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso20-dc")
    finally:
        await secc.close()


async def test_no_common_protocol_fails_and_the_secc_closes() -> None:
    events: list = []
    secc = await _secc(protocols="din", on_event=lambda n, i: events.append(n))
    try:
        with pytest.raises(LinkError, match="Failed_NoNegotiation"):
            await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso2")
        await asyncio.sleep(0.05)
        assert "handshake_failed" in events and not secc.servers[next(iter(secc.servers))].connections
    finally:
        await secc.close()


async def test_secc_closes_when_the_handshake_does_not_come() -> None:
    """TC_SECC_CMN_VTB_SupportedAppProtocol_003, with the sequence timeout shortened."""
    events: list = []
    secc = await _secc(protocols="din", sap_timeout=0.2, on_event=lambda n, i: events.append((n, i)))
    try:
        srv = next(iter(secc.servers.values()))
        conn = await connect("::1", srv.port)
        with pytest.raises(ConnectionClosed):
            await conn.receive(2)
        assert any(n == "closed" and "no supportedAppProtocolReq" in i["reason"] for n, i in events)
    finally:
        await secc.close()


async def test_setup_timeout_stops_sdp_and_listening() -> None:
    """TC_SECC_CMN_VTB_SDP_004 and SupportedAppProtocol_005, with a short V2G_SECC_CommunicationSetup_Timeout."""
    secc = await _secc(protocols="din", setup_timeout=0.1)
    try:
        await asyncio.sleep(0.2)
        with pytest.raises(LinkError, match="SDP: no valid SDP response after 3 requests"):
            await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="din", sdp_max_requests=3,
                          sdp_interval=0.05)
        port = next(iter(secc.servers.values())).port
        with pytest.raises(OSError):
            await connect("::1", port, timeout=1)
    finally:
        await secc.close()


async def test_tls_requested_but_secc_downgrades() -> None:
    """TC_SECC_CMN_VTB_SDP_007: the EVCC asks for TLS, the SECC without TLS answers 0x10."""
    secc = await _secc(protocols="iso2", policy=SecurityPolicy.NONE_ONLY)
    try:
        ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso2", tls=True)
        assert ev.secc.security.name == "NONE" and ev.connection.tls is None
        await ev.connection.close()
    finally:
        await secc.close()


async def test_payload_types_other_than_exi_before_the_handshake() -> None:
    events: list = []
    secc = await _secc(protocols="din", on_event=lambda n, i: events.append((n, i)))
    try:
        conn = await connect("::1", next(iter(secc.servers.values())).port)
        await conn.send(PayloadType.ISO20_DC, b"\x80")
        with pytest.raises(ConnectionClosed):
            await conn.receive(2)
        assert any("payload type 0x8004" in i.get("reason", "") for n, i in events)
    finally:
        await secc.close()


# ------------------------------------------------------------------------------------------------ TLS
@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from v2gkit.pki.quick import make_test_pki
    return {c: make_test_pki(tmp_path_factory.mktemp(c), c) for c in ("iso2", "iso20")}


@pytest.fixture(scope="module")
def pki(pkis: dict) -> object:
    return pkis["iso20"]


def _tls(pki: object, server: str, client: str, vehicle_cert: bool = True) -> tuple:
    from v2gkit.net.tls import client_context, server_context
    p = pki  # type: ignore[assignment]
    roots = [p.oem_root] if server != "iso2" else None  # type: ignore[attr-defined]
    sctx = server_context(server, p.secc_chain, p.secc_key, client_roots=roots)  # type: ignore
    ident = {"cert_chain": p.vehicle_chain, "key": p.vehicle_key} if client != "iso2" and vehicle_cert else {}  # type: ignore
    cctx = client_context(client, p.v2g_root, **ident)  # type: ignore
    return sctx, cctx


@pytest.mark.parametrize("chain,server,client,vehicle_cert,version,protocol", [
    ("iso20", "iso2+iso20", "iso2+iso20", True, "TLSv1.3", "iso20-dc"),  # both speak -20: TLS 1.3, mutual
    ("iso2", "iso2+iso20", "iso2", True, "TLSv1.2", "iso2"),     # an ISO 15118-2 car at a dual charger
    ("iso2", "iso2", "iso2+iso20", True, "TLSv1.2", "iso2"),     # a dual car at an ISO 15118-2 charger
    ("iso20", "iso2+iso20", "iso2+iso20", False, "TLSv1.3", "iso2"),  # no vehicle certificate: no -20
    ("iso20", "iso20", "iso20", True, "TLSv1.3", "iso20-dc"),
])
async def test_tls_version_decides_what_is_offered(pkis: dict, chain: str, server: str, client: str,
                                                   vehicle_cert: bool, version: str, protocol: str) -> None:
    sctx, cctx = _tls(pkis[chain], server, client, vehicle_cert)
    secc = await _secc(protocols="iso20-dc,iso2,din", policy=SecurityPolicy.TLS_ONLY, ssl_context=sctx)
    try:
        ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso20-dc,iso2,din", tls=True,
                           ssl_context=cctx)
        assert ev.connection.tls["version"] == version and ev.protocol.name == protocol
        assert ev.connection.tls["peer_cn"] == "SECC-DEMO-1"
        await ev.connection.close()
    finally:
        await secc.close()


async def test_p521_chain_is_refused_by_an_iso2_car(pkis: dict) -> None:
    """ISO 15118-2 cars know secp256r1 only: a charger presenting its -20 (P-521) chain over TLS 1.2 fails."""
    sctx, cctx = _tls(pkis["iso20"], "iso2+iso20", "iso2")
    events: list = []
    secc = await _secc(protocols="iso20-dc,iso2", policy=SecurityPolicy.TLS_ONLY, ssl_context=sctx,
                       on_event=lambda n, i: events.append((n, i)))
    try:
        with pytest.raises(LinkError, match="TLS handshake with .* failed"):
            await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso2", tls=True, ssl_context=cctx)
    finally:
        await secc.close()
    assert ("tls_failed", {"peer": "::1", "reason": "NO_SHARED_CIPHER"}) in events


async def test_tls_answer_without_a_tls_configuration(pkis: dict) -> None:
    sctx, _ = _tls(pkis["iso2"], "iso2", "iso2")
    secc = await _secc(protocols="iso2", policy=SecurityPolicy.TLS_ONLY, ssl_context=sctx)
    try:
        with pytest.raises(LinkError, match="SDP: no valid SDP response after 2 requests.*no TLS configuration"):
            await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso2", sdp_max_requests=2,
                          sdp_interval=0.05)
    finally:
        await secc.close()


async def test_tls_failure_is_a_link_error_and_the_secc_lives_on(pkis: dict, tmp_path: object) -> None:
    from v2gkit.net.tls import client_context
    from v2gkit.pki.quick import make_test_pki
    other = make_test_pki(tmp_path, "iso2")  # a different V2G root
    sctx, cctx = _tls(pkis["iso2"], "iso2", "iso2")
    events: list = []
    secc = await _secc(protocols="iso2", policy=SecurityPolicy.TLS_ONLY, ssl_context=sctx,
                       on_event=lambda n, i: events.append((n, i)))
    try:
        with pytest.raises(LinkError, match="unable to get local issuer certificate"):
            await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso2", tls=True,
                          ssl_context=client_context("iso2", other.v2g_root))
        ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso2", tls=True, ssl_context=cctx)
        assert ev.protocol.name == "iso2"
        await ev.connection.close()
    finally:
        await secc.close()
    assert [n for n, _ in events].count("tls_failed") == 1


@pytest.mark.parametrize("protocols,tls_version,client_cert,expected", [
    ("iso20-dc,iso2,din", None, False, ["iso2", "din"]),
    ("iso20-dc,iso2,din", "TLSv1.2", False, ["iso2"]),
    ("iso20-dc,iso2,din", "TLSv1.3", True, ["iso20-dc", "iso2"]),
    ("iso20-dc,iso2,din", "TLSv1.3", False, ["iso2"]),
    ("din", "TLSv1.2", False, []),
])
def test_usable_protocols(protocols: str, tls_version: str | None, client_cert: bool, expected: list) -> None:
    from v2gkit.net.link import usable_protocols
    from v2gkit.session.handshake import protocol_list
    tls = {"version": tls_version} if tls_version else None
    got = usable_protocols(protocol_list(protocols), tls, client_certificate=client_cert)
    assert [p.name for p in got] == expected


async def test_din_never_runs_over_tls(pkis: dict) -> None:
    """DIN 70121 has no TLS: a DIN-only car asks for none, and a DIN-only station reached over TLS refuses."""
    sctx, cctx = _tls(pkis["iso2"], "iso2", "iso2")
    events: list = []
    secc = await _secc(protocols="din,iso2", policy=SecurityPolicy.ECHO, ssl_context=sctx)
    try:
        ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="din", tls=True, ssl_context=cctx)
        assert ev.secc.security.name == "NONE" and ev.protocol.name == "din"
        await ev.connection.close()
    finally:
        await secc.close()
    secc = await _secc(protocols="din", policy=SecurityPolicy.TLS_ONLY, ssl_context=sctx,
                       on_event=lambda n, i: events.append((n, i)))
    try:
        with pytest.raises(LinkError, match="Failed_NoNegotiation"):
            await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso2,din", tls=True, ssl_context=cctx)
        assert any(n == "handshake_failed" and "DIN 70121 runs only without TLS" in i["reason"] for n, i in events)
    finally:
        await secc.close()


def _client_hello(ctx: object) -> bytes:
    import ssl
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="secc")  # type: ignore[attr-defined]
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_client_hello_versions(pkis: dict) -> None:
    from v2gkit.net.v2g import parse_client_hello
    _, c2 = _tls(pkis["iso2"], "iso2", "iso2")
    _, c20 = _tls(pkis["iso20"], "iso20", "iso20")
    _, both = _tls(pkis["iso20"], "iso2+iso20", "iso2+iso20")
    h2, h20, hb = (_client_hello(c) for c in (c2, c20, both))
    assert parse_client_hello(h2).versions == {0x0303} and not parse_client_hello(h2).offers_tls13
    assert parse_client_hello(h20).versions == {0x0304}
    assert parse_client_hello(hb).versions == {0x0303, 0x0304}
    assert parse_client_hello(h2[:40]) is None  # record not complete yet
    with pytest.raises(ValueError, match="not a TLS handshake record"):
        parse_client_hello(frame(0x8001, b"\x80\x00"))
    with pytest.raises(ValueError, match="truncated"):
        parse_client_hello(bytes((0x16, 3, 1, 0, 5)) + h2[5:10])  # a complete record cut inside the hello
    for cut in range(len(h2)):  # no prefix of a real hello raises anything but ValueError
        try:
            parse_client_hello(h2[:cut])
        except ValueError:
            pass


async def test_dual_station_presents_the_chain_the_car_can_check(pkis: dict) -> None:
    """One station, two chains: TLS 1.2 cars get the secp256r1 chain, TLS 1.3 cars the ISO 15118-20 one."""
    from v2gkit.net.tls import by_version, client_context, server_context
    p2, p20 = pkis["iso2"], pkis["iso20"]
    sel = by_version(server_context("iso2", p2.secc_chain, p2.secc_key),
                     server_context("iso20", p20.secc_chain, p20.secc_key, client_roots=[p20.oem_root]))
    events: list = []
    secc = await _secc(protocols="iso20-dc,iso2,din", policy=SecurityPolicy.TLS_ONLY, ssl_context=sel,
                       on_event=lambda n, i: events.append((n, i)))
    try:
        car2 = client_context("iso2", p2.v2g_root)
        car20 = client_context("iso2+iso20", [p2.v2g_root, p20.v2g_root], cert_chain=p20.vehicle_chain,
                               key=p20.vehicle_key)
        for ctx, version, proto in ((car2, "TLSv1.2", "iso2"), (car20, "TLSv1.3", "iso20-dc")):
            ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso20-dc,iso2", tls=True,
                               ssl_context=ctx)
            assert (ev.connection.tls["version"], ev.protocol.name) == (version, proto)
            await ev.connection.close()
        # plain TCP bytes sent to the TLS port: refused, reported, and the station carries on
        conn = await connect("::1", secc.servers[next(iter(secc.servers))].port)
        await conn.send(0x8001, b"\x80\x00")
        with pytest.raises(ConnectionClosed):
            await conn.receive(2)
        assert any(n == "tls_failed" and "not a TLS handshake record" in i["reason"] for n, i in events)
    finally:
        await secc.close()


async def test_pause_and_resume_over_tcp() -> None:
    """A paused session rejoined on a new TCP connection with its old SessionID."""
    from v2gkit.net.charging import charge, secc_sessions
    from v2gkit.session.din2 import EVCCConfig, SECCConfig
    from v2gkit.session.paused import PausedSessions
    from v2gkit.sim.ev import SimulatedEV
    from v2gkit.sim.evse import SimulatedDCEVSE
    from v2gkit.sim.scaled import Accelerated

    paused, done = PausedSessions(), []
    secc = await _secc(protocols="iso2", session=secc_sessions(lambda: SimulatedDCEVSE(cable_check_time=0.1),
                                                                SECCConfig(), paused=paused, on_done=done.append))
    try:
        ev = SimulatedEV(soc=60, target_soc=61, pause_at=1.0)
        first = await charge(Accelerated(ev, 20), EVCCConfig(loop_interval=0.02), protocols="iso2", loopback=True,
                             sdp_port=secc.sdp_port)
        sid = first.machine.session_id
        assert first.ok and first.outcome.detail == "paused" and sid in paused
        ev.pause_at = None
        second = await charge(Accelerated(ev, 20), EVCCConfig(loop_interval=0.02, resume_session_id=sid),
                              protocols="iso2", loopback=True, sdp_port=secc.sdp_port)
        assert second.ok and second.outcome.detail == "terminated" and second.machine.session_id == sid
        assert ev.soc() >= 61 and sid not in paused
        await asyncio.sleep(0.05)
        assert [r.outcome.detail for r in done] == ["paused", "terminated"]
    finally:
        await secc.close()


async def test_late_answers_are_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers slower than V2G_SECC_Msg_Performance_Time are counted and logged (here: every one)."""
    from v2gkit import timing
    from v2gkit.net.charging import charge, secc_sessions
    from v2gkit.net.runner import LATE_KEPT
    from v2gkit.session.din2 import EVCCConfig, SECCConfig
    from v2gkit.sim.ev import SimulatedEV
    from v2gkit.sim.evse import SimulatedDCEVSE
    from v2gkit.sim.scaled import Accelerated

    monkeypatch.setattr(timing, "SECC_PERFORMANCE_TIME_DEFAULT", 0.0)
    monkeypatch.setattr(timing, "SECC_PERFORMANCE_TIME", {})
    done: list = []
    secc = await _secc(protocols="din", session=secc_sessions(lambda: SimulatedDCEVSE(cable_check_time=0.1),
                                                               SECCConfig(), on_done=done.append))
    try:
        res = await charge(Accelerated(SimulatedEV(soc=79, target_soc=80), 50), EVCCConfig(loop_interval=0.01),
                           protocols="din", loopback=True, sdp_port=secc.sdp_port)
        assert res.ok
        await asyncio.sleep(0.05)
        o = done[0].outcome
        assert o.late_count == o.sent and len(o.late) == min(o.sent, LATE_KEPT)  # a bounded list, all counted
        assert o.late[0][0] == "SessionSetupRes"
    finally:
        await secc.close()


async def test_a_failing_machine_ends_its_session_at_once() -> None:
    """A machine that raises (our bug, not the peer's) ends that session now with the reason, instead of
    leaving it to wait for its next timer."""
    from v2gkit.net.runner import run_machine
    from v2gkit.session.events import Timer

    class Broken:
        def start(self, now: float) -> list:
            return [Timer("sequence", 60.0)]

        def receive(self, now: float, payload: bytes) -> list:
            raise RuntimeError("boom")

        def timer(self, now: float, name: str) -> list:
            return []

    outcomes: list = []

    async def handler(conn: V2GConnection) -> None:
        outcomes.append(await run_machine(conn, Broken()))  # type: ignore[arg-type]

    async with await serve(handler, host="::1") as srv:
        conn = await connect("::1", srv.port)
        await conn.send(0x8001, b"\x80\x98")
        with pytest.raises(ConnectionClosed):
            await conn.receive(2)
        await asyncio.sleep(0.05)
        assert outcomes[0].detail == "internal error: RuntimeError: boom" and not outcomes[0].ok


def test_iso20_without_tls_only_when_allowed() -> None:
    from v2gkit.net.link import usable_protocols
    from v2gkit.session.handshake import protocol_list
    offer = protocol_list("iso20-dc,iso2")
    assert [p.name for p in usable_protocols(offer, None)] == ["iso2"]
    assert [p.name for p in usable_protocols(offer, None, allow_iso20_without_tls=True)] == ["iso20-dc", "iso2"]
    # the allowance is for plain TCP, as Josev runs it; TLS 1.2 never carries -20
    assert [p.name for p in usable_protocols(offer, {"version": "TLSv1.2"}, allow_iso20_without_tls=True)] == ["iso2"]


async def test_iso20_over_plain_tcp_needs_the_option_on_both_sides(caplog: pytest.LogCaptureFixture) -> None:
    """Josev's -20 EIM set-up: SDP security 0x10, plain TCP. Both roles must opt in; it is logged as not
    compliant."""
    secc = await _secc(protocols="iso20-dc,iso2")
    try:
        ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso20-dc,iso2")
        assert ev.protocol.name == "iso2"  # neither side allowed it: -20 is not even offered
        await ev.connection.close()
        ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso20-dc,iso2",
                           allow_iso20_without_tls=True)
        assert ev.protocol.name == "iso2"  # the EV offers it, the SECC does not take it
        await ev.connection.close()
    finally:
        await secc.close()
    secc = await _secc(protocols="iso20-dc,iso2", allow_iso20_without_tls=True)
    try:
        with caplog.at_level("WARNING"):
            ev = await ev_link(loopback=True, sdp_port=secc.sdp_port, protocols="iso20-dc,iso2",
                               allow_iso20_without_tls=True)
            assert ev.protocol.name == "iso20-dc" and ev.connection.tls is None
            await ev.connection.close()
            await asyncio.sleep(0.05)
        assert sum("not compliant" in r.getMessage() for r in caplog.records) == 2  # one line per role
        assert secc.stats["iso20_without_tls"] == 1
    finally:
        await secc.close()
