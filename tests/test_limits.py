"""What keeps a long-running SECC bounded: the connection table and its eviction rule, the handshake
deadline, rate-limited fault logging, and the paused-session registry. Sans-IO parts on their own, the
server on real loopback sockets."""

from __future__ import annotations

import asyncio
import logging

import pytest

from v2gkit.net.faults import FaultLog
from v2gkit.net.limits import ConnectionLimits, ConnectionTable
from v2gkit.net.v2g import ConnectionClosed, V2GConnection, connect, serve
from v2gkit.session.paused import PausedSessions


# ------------------------------------------------------------------------------------------ FaultLog
class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_fault_log_counts_everything_and_logs_a_few_lines(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    faults = FaultLog("test.faults", rate=2.0, burst=5, summary_interval=60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.faults"):
        for i in range(10_000):  # 10,000 junk headers within 10 s
            clock.t = i / 1000
            faults.report("v2gtp_header", "bad header %d", i)
        faults.report("tls", "a TLS failure")  # another kind still gets its line
    lines = [r.getMessage() for r in caplog.records]
    assert faults.counts == {"v2gtp_header": 10_000, "tls": 1}
    assert len(lines) <= 5 + 2 * 10 + 1 and lines[-1] == "a TLS failure"
    assert faults.suppressed == 10_001 - len(lines)
    clock.t = 61.0
    with caplog.at_level(logging.INFO, logger="test.faults"):
        faults.tick()
        faults.tick()  # a second tick in the same minute writes nothing
    summary = [r.getMessage() for r in caplog.records][len(lines):]
    assert len(summary) == 1 and summary[0].startswith("peer faults in the last 61 s: v2gtp_header=10000, tls=1")
    assert f"({faults.suppressed} log lines held back)" in summary[0]
    clock.t = 200.0
    assert faults.summary() is None  # a quiet window has nothing to say


# ------------------------------------------------------------------------------------------ the table
def test_table_evicts_the_oldest_pending_connection_of_that_peer() -> None:
    t = ConnectionTable(ConnectionLimits(total=10, per_peer=3))
    assert t.admit("a1", "A").accepted and t.admit("a2", "A").accepted and t.admit("a3", "A").accepted
    t.established("a1")  # its session started: never evicted for a newcomer
    adm = t.admit("a4", "A")
    assert adm.accepted and adm.evict == ("a2",) and "per-peer limit 3" in adm.reason
    assert t.admit("b1", "B").evict == ()  # another peer is not affected
    t.established("a3")
    t.established("a4")
    adm = t.admit("a5", "A")
    assert not adm.accepted and "all with a running session" in adm.reason and len(t) == 4
    t.release("a1")
    assert t.admit("a5", "A").accepted and t.peer_count("A") == 3


def test_table_evicts_the_connection_stuck_longest() -> None:
    """Progress (the handshake) puts a connection at the back of the queue: a car that keeps moving
    outlives any number of idle or silent connections, newer or older."""
    t = ConnectionTable(ConnectionLimits(total=100, per_peer=4))
    for key in ("quiet1", "quiet2", "car"):
        t.admit(key, "A")
    t.handshake_done("quiet1")
    t.handshake_done("quiet2")
    t.handshake_done("car")  # the car's handshake came last: it is the freshest
    assert t.admit("idle1", "A").evict == ()
    assert t.admit("idle2", "A").evict == ("quiet1",)
    assert t.admit("idle3", "A").evict == ("quiet2",)
    assert t.admit("idle4", "A").evict == ("car",)  # no progress while 3 newer ones came: it is stuck too
    assert t.admit("idle5", "A").evict == ("idle1",)


def test_table_total_limit_evicts_anyone_pending_oldest_first() -> None:
    t = ConnectionTable(ConnectionLimits(total=3, per_peer=3))
    for key, peer in (("x", "X"), ("y", "Y"), ("car", "C")):
        assert t.admit(key, peer).accepted
    t.established("car")
    assert t.admit("z", "Z").evict == ("x",)
    assert t.admit("w", "W").evict == ("y",)
    assert t.oldest_pending() == "z" and t.pending == 2 and len(t) == 3
    # both limits at once: the peer's own oldest goes first, then the oldest of anyone else
    t2 = ConnectionTable(ConnectionLimits(total=2, per_peer=1))
    t2.admit("p", "P")
    t2.admit("q", "Q")
    assert t2.admit("p2", "P").evict == ("p",)


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        ConnectionLimits(total=0)
    with pytest.raises(ValueError):
        ConnectionLimits(start_timeout=0)


# ------------------------------------------------------------------------------------- the server
async def _server(limits: ConnectionLimits, faults: FaultLog) -> tuple:
    """A server whose handler completes the 'handshake' on the first message and then echoes."""

    async def handler(conn: V2GConnection) -> None:
        msg = await conn.receive()
        conn.established()  # this toy protocol: the first message starts the session
        while True:
            await conn.send(msg.payload_type, msg.payload)
            msg = await conn.receive()

    return await serve(handler, host="::1", limits=limits, faults=faults)


async def test_idle_connections_cannot_lock_the_car_out() -> None:
    faults = FaultLog(rate=0.0, burst=0)
    async with await _server(ConnectionLimits(total=8, per_peer=8), faults) as srv:
        idle = [await connect("::1", srv.port) for _ in range(20)]
        car = await connect("::1", srv.port)
        await car.send(0x8001, b"handshake")
        assert (await car.receive(2)).payload == b"handshake"
        await car.send(0x8001, b"charging")
        assert (await car.receive(2)).payload == b"charging"
        assert srv.stats["evicted"] == 13 and len(srv.table) == 8 and srv.table.pending == 7
        assert faults.counts["limit"] == 13
        # the evicted ones see their connection closed
        with pytest.raises(ConnectionClosed):
            await idle[0].receive(2)
        for c in idle:
            await c.close()
        await car.close()


async def test_established_connections_are_kept_and_newcomers_refused() -> None:
    faults = FaultLog(rate=0.0, burst=0)
    async with await _server(ConnectionLimits(total=2, per_peer=2), faults) as srv:
        cars = [await connect("::1", srv.port) for _ in range(2)]
        for c in cars:
            await c.send(0x8001, b"hi")
            await c.receive(2)
        late = await connect("::1", srv.port)
        with pytest.raises(ConnectionClosed):
            await late.receive(2)
        assert srv.stats["refused"] == 1 and faults.counts == {"limit": 1}
        for c in cars:
            await c.send(0x8001, b"still here")
            assert (await c.receive(2)).payload == b"still here"
            await c.close()


async def test_start_deadline_closes_silent_and_slow_peers() -> None:
    faults = FaultLog(rate=0.0, burst=0)
    async with await _server(ConnectionLimits(start_timeout=0.3), faults) as srv:
        silent = await connect("::1", srv.port)
        slow = await connect("::1", srv.port)
        await slow.send_raw(b"\x01\xfe")  # slowloris: half a header, then nothing
        for c in (silent, slow):
            with pytest.raises(ConnectionClosed):
                await c.receive(2)
        assert srv.stats["start_timeout"] == 2 and faults.counts == {"handshake": 2}
        assert len(srv.table) == 0 and not srv.connections
        ok = await connect("::1", srv.port)  # a prompt peer is not affected by the deadline
        await ok.send(0x8001, b"hello")
        await asyncio.sleep(0.4)
        await ok.send(0x8001, b"later")
        assert (await ok.receive(2)).payload == b"hello"
        await ok.close()


# ------------------------------------------------------------------------------------ paused sessions
def test_paused_sessions_expire_and_stay_bounded() -> None:
    p = PausedSessions(limit=3, lifetime=100.0)
    for i in range(2000):  # a peer pausing and never coming back, 2000 times
        p.pause(float(i), i.to_bytes(8, "big"), {})
    assert len(p) == 3 and p.evicted == 1997
    assert p.resume(2000.0, (1999).to_bytes(8, "big")) == {} and (1999).to_bytes(8, "big") not in p
    p.pause(2000.0, b"A" * 8, {"energy_wh": 1.0})
    assert p.resume(2100.0, b"A" * 8) == {"energy_wh": 1.0}  # within the lifetime
    p.pause(3000.0, b"B" * 8, {})
    assert p.resume(3100.5, b"B" * 8) is None and p.expired >= 1 and len(p) == 0


async def test_tls_slow_and_junk_peers_are_closed_and_counted(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Over TLS (the context picked from the peeked ClientHello): a half ClientHello that never
    completes is closed at the handshake deadline, a non-TLS peer at once; a real client gets through."""
    from v2gkit.net.tls import client_context, server_context
    from v2gkit.pki.quick import make_test_pki

    pki = make_test_pki(tmp_path_factory.mktemp("pki"), "iso2")
    ctx = server_context("iso2", pki.secc_chain, pki.secc_key)
    faults = FaultLog(rate=0.0, burst=0)

    async def handler(conn: V2GConnection) -> None:
        conn.established()
        msg = await conn.receive()
        await conn.send(msg.payload_type, msg.payload)

    async with await serve(handler, host="::1", ssl_context=lambda hello: ctx, faults=faults,
                           limits=ConnectionLimits(start_timeout=0.5)) as srv:
        slow = [await asyncio.open_connection("::1", srv.port) for _ in range(5)]
        for _, w in slow:
            w.write(bytes.fromhex("16030100ff") + b"\x01")  # a record of 255 octets, 1 of them sent
        junk = await connect("::1", srv.port)
        await junk.send_raw(b"GET / HTTP/1.1\r\n\r\n")
        client = await connect("::1", srv.port, ssl_context=client_context("iso2", pki.v2g_root))
        await client.send(0x8001, b"over TLS")
        assert (await client.receive(2)).payload == b"over TLS"
        for r, _ in slow:  # closed by the SECC (with a reset: it never read what they sent)
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(r.read(), 3)
        assert faults.counts == {"tls": 1, "handshake": 5} and srv.stats["start_timeout"] == 5
        assert isinstance(client.tls, dict) and client.tls["version"] == "TLSv1.2"
        for _, w in slow:
            w.close()
        await junk.close()
        await client.close()


async def test_a_peer_silent_after_the_handshake_is_not_a_session_yet() -> None:
    """supportedAppProtocol done, then nothing: still evictable, and closed at the start deadline (a
    car sends SessionSetupReq at once). A real car's session is established from its SessionSetupReq."""
    from v2gkit.net.charging import charge, secc_sessions
    from v2gkit.net.link import SECCLink
    from v2gkit.session.din2 import EVCCConfig, SECCConfig
    from v2gkit.sim.ev import SimulatedEV
    from v2gkit.sim.evse import SimulatedDCEVSE
    from v2gkit.sim.scaled import Accelerated
    from v2gkit.testsys.abuse import _SAP_REQUEST

    link = await SECCLink(loopback=True, sdp_port=15470, protocols="iso2", limits=ConnectionLimits(start_timeout=0.5),
                          session=secc_sessions(lambda: SimulatedDCEVSE(cable_check_time=0.05), SECCConfig())).start()
    try:
        srv = next(iter(link.servers.values()))
        quiet = []
        for _ in range(3):
            r, w = await asyncio.open_connection("::1", srv.port)
            w.write(_SAP_REQUEST)
            head = await r.readexactly(8)
            await r.readexactly(int.from_bytes(head[4:], "big"))  # supportedAppProtocolRes
            quiet.append((r, w))
        assert srv.table.pending == 3
        res = await charge(Accelerated(SimulatedEV(soc=79.5, target_soc=80), 100), EVCCConfig(loop_interval=0.02),
                           protocols="iso2", loopback=True, sdp_port=15470)
        assert res.ok
        for r, _ in quiet:
            assert await asyncio.wait_for(r.read(), 3) == b""
        assert srv.stats["start_timeout"] == 3 and len(srv.table) == 0
        for _, w in quiet:
            w.close()
    finally:
        await link.close()
