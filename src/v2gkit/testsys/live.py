"""The emulator on a live link: the test system against any implementation over SDP and TCP/TLS.

As the EVCC (testing a charger) it finds the SECC with SDP on an interface (or loopback), or goes straight to
``address``, connects and runs the emulator on the connection (the app handshake is the emulator's).
As the SECC (testing a car) it answers SDP and listens, and runs the emulator on the first connection.
Both use v2gkit's own network adapters (``net.sdp``, ``net.v2g``, ``net.runner``); the emulator is the same
machine that runs on the simulated clock.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import sdp as core
from .. import timing
from ..net.iface import link_local_address
from ..net.runner import run_machine
from ..net.sdp import discover, start_responder
from ..net.v2g import V2GConnection, connect, serve_dynamic
from .case import Case, CaseResult, Step, Verdict, WireRecord
from .drive import Setup, make_emulator, run_script, setup_for, verdict_of
from .emulator import SdpOp, TesterSDP
from .script import Tester

__all__ = ["Target", "run_live"]


@dataclass(frozen=True)
class Target:
    """Where the SUT is. ``interface``: SDP and link-local addresses on it (the veth pair, a PLC modem);
    ``loopback``: SDP and TCP on ::1; ``address``: (host, port) of an SECC, no SDP. ``tls``: ask for TLS in SDP
    (tester EVCC) or offer it (tester SECC) with ``ssl_context``. ``pki_dir``: the test PKI a case's TLS
    profile (``Case.tls``, testsys/tlsfaults.py) builds its certificates from: the SUT must trust its roots
    (default: v2gkit's own ``~/.cache/v2gkit/pki``, what ``v2gkit secc/evcc --pki`` use)."""

    interface: str | None = None
    loopback: bool = False
    address: tuple[str, int] | None = None
    tls: bool = False
    ssl_context: ssl.SSLContext | None = None
    sdp_port: int = core.SDP_PORT
    #: how long the tester SECC waits for the car to connect, and the tester EVCC's SDP attempts
    connect_timeout: float = 20.0
    pki_dir: Path | None = None

    def describe(self) -> str:
        if self.address:
            return f"[{self.address[0]}]:{self.address[1]}"
        return "loopback" if self.loopback else f"interface {self.interface}"


async def _sdp_exchange(target: Target, datagram: bytes, timeout: float) -> bytes | None:
    """One SDP request datagram to the SECC (multicast on the interface, or ::1) and its first answer."""
    loop = asyncio.get_running_loop()
    if target.loopback or target.interface is None:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind(("::1", 0))
        dest: tuple = ("::1", target.sdp_port)
    else:
        scope = socket.if_nametoindex(target.interface)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind((str(link_local_address(target.interface)), 0, 0, scope))
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, scope)
        dest = (str(core.SDP_MULTICAST), target.sdp_port, 0, scope)
    sock.setblocking(False)
    try:
        await loop.sock_sendto(sock, datagram, dest)
        try:
            data, _ = await asyncio.wait_for(loop.sock_recvfrom(sock, 4096), timeout)
        except TimeoutError:
            return None
        return data
    finally:
        sock.close()


async def _before_connection(emu: Any, target: Target, t0: float) -> None:
    """The script's SDP requests and waits that come before the connection (tester EVCC)."""
    loop = asyncio.get_running_loop()
    while (op := emu.pre_op()) is not None:
        if isinstance(op, SdpOp):
            answer = await _sdp_exchange(target, op.datagram, op.timeout if op.timeout is not None else timing.SDP_TIMEOUT)
            emu.pre_answer(answer, loop.time() - t0)
        else:
            await asyncio.sleep(op.timeout or 0.0)
            emu.pre_answer(True, loop.time() - t0)


#: after a car failed the TLS handshake, how long the tester SECC still watches for a retry or a plain-TCP
#: fallback (a new SDP request) before it ends the case
TLS_RETRY_WATCH = 1.0


def _tls_record(t: float, name: str, note: str) -> WireRecord:
    """A TLS event for the case's wire: ``tls_handshake`` (done, on the tester's side) or ``tls_failed``."""
    return WireRecord(t, "", "tls", name=name, note=note)


def _answer_of(emu: Any) -> core.SDPResponse | None:
    """The SECC the script's own SDP requests found (the last valid answer), if any."""
    for w in reversed(emu.wire):
        if w.channel == "sdp" and w.direction == "rx":
            try:
                return core.parse_response(w.frame)
            except (core.SDPError, ValueError):
                continue
    return None


async def _tester_evcc(emu_runner: Callable[[V2GConnection], asyncio.Future], target: Target,
                       notes: list[Step], records: list[WireRecord], t0: float, found: Any = None) -> None:
    if target.address is not None:
        host, port = target.address
        use_tls = target.tls
    elif found is not None:  # the script asked SDP itself (and may have waited since): no second discovery
        host, port, use_tls = str(found.address), found.port, found.security is core.Security.TLS
        notes.append(Step(0.0, f"the SECC the script's SDP found: [{host}]:{port} ({found.security.name})"))
    else:
        security = core.Security.TLS if target.tls else core.Security.NONE
        secc, attempts = await discover(interface=target.interface, loopback=target.loopback, security=security,
                                        port=target.sdp_port, max_requests=max(1, int(target.connect_timeout / 0.25)),
                                        tls_capable=target.ssl_context is not None)
        notes.append(Step(0.0, f"SDP: SECC at [{secc.address}]:{secc.port} ({secc.security.name}) after {attempts} "
                                f"request(s)"))
        host, port, use_tls = str(secc.address), secc.port, secc.security is core.Security.TLS
    try:
        conn = await connect(host, port,
                             interface=None if target.loopback or target.address else target.interface,
                             ssl_context=target.ssl_context if use_tls else None,
                             timeout=target.connect_timeout)
    except (ssl.SSLError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
        if use_tls:  # TCP was up: the TLS handshake failed (an alert, or the SECC hung up)
            why = f"{type(e).__name__}: {e}" if str(e) else f"{type(e).__name__} (the SECC hung up)"
            records.append(_tls_record(time.perf_counter() - t0, "tls_failed", why))
        raise
    await emu_runner(conn)


async def _tester_secc(emu_runner: Callable[[V2GConnection], asyncio.Future], target: Target,
                       notes: list[Step], emu: Any, records: list[WireRecord]) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    done: asyncio.Future[None] = loop.create_future()
    connected = asyncio.Event()
    tls_failed = asyncio.Event()

    failures: list[str] = []

    def on_tls_error(peer: tuple[str, int], reason: str) -> None:
        failures.append(f"[{peer[0]}]:{peer[1]}: {reason}")
        records.append(_tls_record(loop.time() - t0, "tls_failed", failures[-1]))  # the SDP records' clock
        tls_failed.set()

    async def handler(conn: V2GConnection) -> None:
        if connected.is_set():  # one connection per case; a second car is turned away
            await conn.close()
            return
        connected.set()
        conn.handshake_done()
        try:
            await emu_runner(conn)
        finally:
            if not done.done():
                done.set_result(None)

    if target.loopback:
        address = ipaddress.IPv6Address("::1")
    elif target.interface:
        address = link_local_address(target.interface)
    else:
        raise ValueError("the tester SECC needs an interface or loopback")
    server = await serve_dynamic(handler, host="::1" if target.loopback else "::",
                                 interface=None if target.loopback else target.interface,
                                 ssl_context=target.ssl_context if target.tls else None,
                                 on_tls_error=on_tls_error if target.tls else None)
    sec = core.Security.TLS if target.tls else core.Security.NONE
    policy = core.SecurityPolicy.TLS_ONLY if target.tls else core.SecurityPolicy.NONE_ONLY
    sdp = TesterSDP(core.SDPServer(address, {sec: server.port}, policy), emu, lambda: loop.time() - t0)
    responder = await start_responder(sdp, interface=target.interface,  # type: ignore[arg-type]
                                      loopback=target.loopback, port=target.sdp_port)
    notes.append(Step(0.0, f"listening on [{address}]:{server.port}, SDP on port {target.sdp_port}"))
    try:
        waits = [asyncio.ensure_future(connected.wait()), asyncio.ensure_future(tls_failed.wait())]
        try:
            await asyncio.wait(waits, timeout=target.connect_timeout, return_when=asyncio.FIRST_COMPLETED)
            if not connected.is_set() and tls_failed.is_set():  # watch for a retry before giving up
                await asyncio.wait([waits[0]], timeout=TLS_RETRY_WATCH)
        finally:
            for w in waits:
                w.cancel()
        if not connected.is_set():
            if failures:
                raise ConnectionError(f"the TLS handshake with the car failed: {failures[-1]}")
            raise TimeoutError(f"no car connected within {target.connect_timeout:g} s")
        await done
    finally:
        responder.close()
        await server.close()


async def run_live(body: Callable[[Tester], None], role: str, target: Target, setup: Setup | None = None, *,
                   case: Case | None = None, sut: str = "") -> CaseResult:
    """Run ``body`` with the tester in ``role`` against the SUT at ``target``. A ``case`` with a TLS profile
    (``Case.tls``) runs with the tester's context from :mod:`v2gkit.testsys.tlsfaults` instead of the
    target's, and gets its verdict from what happened on the TLS layer (``tlsfaults.judge``)."""
    setup = setup or Setup()
    if case is not None and case.tls:
        from . import tlsfaults
        ctx = tlsfaults.context(case.tls, role, setup.protocol, target.pki_dir)
        target = replace(target, tls=True, ssl_context=ctx)
    t_wall, t0 = time.time(), time.perf_counter()
    emu = make_emulator(role, setup)
    tester, thread = run_script(emu, body, setup.session_protocol, setup.dc)
    notes: list[Step] = []
    records: list[WireRecord] = []  # TLS handshakes done and failed (channel "tls")
    endpoints: list[str] = ["", ""]

    async def on_conn(conn: V2GConnection) -> None:
        endpoints[:] = [f"[{conn.local[0]}]:{conn.local[1]}", f"[{conn.peer[0]}]:{conn.peer[1]}"]
        if conn.tls:
            info = conn.tls
            cn = f", peer certificate CN={info['peer_cn']}" if info.get("peer_cn") else \
                ", no peer certificate"
            records.append(_tls_record(time.perf_counter() - t0, "tls_handshake",
                                       f"{info['version']} {info['cipher']}{cn}"))
        outcome = await run_machine(conn, emu)
        notes.append(Step(emu.now - (emu.t0 or 0.0), f"connection runner ended: {outcome.detail}"))

    error = ""
    try:
        if role == "evcc":
            await _before_connection(emu, target, asyncio.get_running_loop().time())
            found = _answer_of(emu)
            if emu.done is None:
                try:
                    await _tester_evcc(on_conn, target, notes, records, t0, found)
                except (OSError, TimeoutError, ConnectionError) as e:
                    if found is None or emu.t0 is not None:
                        raise
                    # the script found the SECC itself: a refused connection is the SUT's answer, for the
                    # script to judge (ISO 15118-4 SupportedAppProtocol_005: no connection after the set-up
                    # timeout)
                    why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                    notes.append(Step(time.perf_counter() - t0, f"no connection: {why}"))
                    emu.t0 = emu.now = asyncio.get_running_loop().time()
                    emu.peer_closed(emu.now, f"no connection: {why}")
        else:
            await _tester_secc(on_conn, target, notes, emu, records)
    except (OSError, TimeoutError, ConnectionError, ssl.SSLError) as e:
        error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    finally:
        await asyncio.get_running_loop().run_in_executor(None, thread.abort)
    verdict, reason = verdict_of(tester, emu)
    if error and emu.t0 is None:  # never connected: the case could not run (not the SUT's verdict to fail)
        verdict, reason = Verdict.INCONC, f"no connection to the SUT: {error}"
    res = CaseResult(case.case_id if case else "script", title=case.title if case else "",
                     purpose=case.purpose if case else "", requirements=case.requirements if case else (),
                     sut=sut or target.describe(), protocol=emu.protocol or "", verdict=verdict, reason=reason,
                     started=t_wall, seconds=time.perf_counter() - t0, steps=notes + list(tester.steps),
                     wire=records + list(emu.wire), local_endpoint=endpoints[0], remote_endpoint=endpoints[1])
    if case is not None and case.tls:
        res = tlsfaults.judge(case, setup.protocol, res, target.pki_dir)
    return res


async def run_case_live(case: Case, target: Target, setup: Setup | None = None, *, protocol: str | None = None,
                        sut: str = "") -> CaseResult:
    """Run ``case`` against the SUT at ``target``: the tester plays the case's role (TC_SECC_*: the EVCC)."""
    st = setup_for(case, protocol, setup)
    if st is None:
        return CaseResult(case.case_id, case.title, case.purpose, case.requirements, sut=sut or target.describe(),
                          protocol=protocol or "", verdict=Verdict.INCONC,
                          reason=f"not applicable: the case is for {', '.join(case.protocols)}")
    if "tls" in case.needs and not target.tls:
        return CaseResult(case.case_id, case.title, case.purpose, case.requirements, sut=sut or target.describe(),
                          protocol=st.session_protocol, verdict=Verdict.INCONC,
                          reason="not applicable: the run has no TLS (give a TLS context)")
    assert case.run is not None
    return await run_live(case.run, case.role, target, st, case=case, sut=sut)
