"""Communication set-up for both roles: SDP, TCP or TLS, then the supportedAppProtocol handshake.

This is everything before SessionSetupReq. The EVCC side returns an :class:`EVLink` (the connection and
the negotiated protocol); the SECC side runs the SDP responder and the listeners and hands each
negotiated connection to a session handler. ISO 15118-20 is only offered and accepted over TLS 1.3
([V2G20-1237]: never over plain TCP or TLS 1.2), whatever the configured protocol list says.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import sdp as core
from .. import timing
from ..session.events import Closed, Reason
from ..session.handshake import (
    DEFAULT_OFFER,
    AppProtocol,
    EVHandshake,
    Negotiated,
    SECCHandshake,
    protocol_list,
)
from .faults import FaultLog
from .iface import link_local_address
from .limits import ConnectionLimits, ConnectionTable
from .runner import run_machine
from .sdp import SDPResponder, discover, start_responder
from .v2g import ContextSelector, TraceSink, V2GConnection, V2GServer, connect, serve_dynamic

__all__ = ["EVLink", "LinkError", "SECCLink", "SessionHandler", "ev_link", "usable_protocols"]

log = logging.getLogger("v2gkit.link")


class LinkError(ConnectionError):
    """Communication set-up failed; the message says at which step and why."""


#: logged once per connection that runs ISO 15118-20 over plain TCP because it was allowed
NOT_COMPLIANT = ("ISO 15118-20 over plain TCP (--allow-iso20-without-tls): not compliant with ISO 15118-20, which "
                 "allows only TLS 1.3 with mutual authentication ([V2G20-1237], [V2G20-2356])")


#: the EV side's rate limit for that line (a test system runs many cars in one process)
_plain_iso20 = FaultLog("v2gkit.link", label="ISO 15118-20 sessions without TLS")


def usable_protocols(protocols: Sequence[AppProtocol], tls: dict | None, *, client_certificate: bool = True,
                     allow_iso20_without_tls: bool = False) -> list[AppProtocol]:
    """The protocols this connection may carry: ISO 15118-20 needs TLS 1.3 with the vehicle certificate
    ([V2G20-1237]); DIN SPEC 70121 has no TLS at all; ISO 15118-2 runs either way.
    ``allow_iso20_without_tls`` also lets -20 run over plain TCP (not TLS 1.2): what Josev's -20 EIM
    scenarios do (SDP security 0x10); never the default, and logged as not compliant."""
    version = tls.get("version") if tls else None
    out = []
    for p in protocols:
        if p.name.startswith("iso20"):
            plain = version is None and allow_iso20_without_tls
            if not plain and (version != "TLSv1.3" or not client_certificate):
                continue
        elif p.name == "din" and version is not None:
            continue
        out.append(p)
    return out


def _why_none(tls: dict | None) -> str:
    return (f"over {tls['version']}: DIN 70121 runs only without TLS, ISO 15118-20 only over TLS 1.3" if tls
            else "over plain TCP: ISO 15118-20 needs TLS 1.3")


@dataclass
class EVLink:
    connection: V2GConnection
    negotiated: Negotiated
    secc: core.SDPResponse
    sdp_requests: int
    setup_seconds: float

    @property
    def protocol(self) -> AppProtocol:
        return self.negotiated.protocol


async def ev_link(*, interface: str | None = None, loopback: bool = False,
                  protocols: str | Sequence[str | AppProtocol] = DEFAULT_OFFER, tls: bool = False,
                  ssl_context: ssl.SSLContext | None = None, sdp_port: int = core.SDP_PORT,
                  sdp_max_requests: int = timing.SDP_MAX_REQUESTS, sdp_interval: float = timing.SDP_TIMEOUT,
                  tracer: TraceSink | None = None, sap_timeout: float = timing.EVCC_SAP_TIMEOUT,
                  setup_timeout: float = timing.EVCC_COMMUNICATION_SETUP_TIMEOUT,
                  allow_iso20_without_tls: bool = False) -> EVLink:
    """Discover the SECC, connect as its SDP answer says, negotiate the protocol.

    ``tls`` is what the SDP request asks for; the answer decides. ``ssl_context`` (a client context with
    the V2G roots) is needed whenever the SECC answers with TLS. ``allow_iso20_without_tls``: offer
    ISO 15118-20 over plain TCP too (not compliant; for peers such as Josev's -20 EIM set-up)."""
    t0 = time.monotonic()
    offer = protocol_list(protocols)
    # a DIN 70121-only car never asks for TLS: DIN has none
    security = core.Security.TLS if tls and any(p.name != "din" for p in offer) else core.Security.NONE
    try:
        secc, attempts = await discover(interface=interface, loopback=loopback, security=security, port=sdp_port,
                                        max_requests=sdp_max_requests, interval=sdp_interval,
                                        tls_capable=ssl_context is not None, tracer=tracer)
    except TimeoutError as e:
        raise LinkError(f"SDP: {e}") from None
    use_tls = secc.security is core.Security.TLS
    if use_tls and ssl_context is None:
        raise LinkError("SECC answered with TLS but no TLS client context (V2G root certificates) is configured")
    host = str(secc.address)
    try:
        conn = await connect(host, secc.port, interface=None if loopback else interface,
                             ssl_context=ssl_context if use_tls else None, tracer=tracer, timeout=setup_timeout)
    except ssl.SSLError as e:
        raise LinkError(f"TLS with [{host}]:{secc.port} failed: {e}") from None
    except (OSError, TimeoutError) as e:
        detail = str(e) or ("timed out" if isinstance(e, TimeoutError) else type(e).__name__)
        if use_tls:  # the SECC aborted the handshake: it refused our TLS version, suites or certificate
            raise LinkError(f"TLS handshake with [{host}]:{secc.port} failed: {detail}") from None
        raise LinkError(f"TCP connection to [{host}]:{secc.port} failed: {detail}") from None
    try:
        usable = usable_protocols(offer, conn.tls, allow_iso20_without_tls=allow_iso20_without_tls)
        if not usable:
            raise LinkError(f"none of {', '.join(p.name for p in offer)} can run {_why_none(conn.tls)}")
        outcome = await run_machine(conn, EVHandshake(usable, timeout=sap_timeout))
        if outcome.negotiated is None:
            raise LinkError(outcome.detail)
        negotiated = outcome.negotiated
    except BaseException:
        await conn.close()
        raise
    conn.schema = negotiated.protocol.schema
    if conn.tls is None and negotiated.protocol.name.startswith("iso20") and _plain_iso20.admit("iso20_without_tls"):
        log.warning("%s: %s", conn.id, NOT_COMPLIANT)
    return EVLink(conn, negotiated, secc, attempts, time.monotonic() - t0)


SessionHandler = Callable[[V2GConnection, Negotiated], Awaitable[None]]


async def _hold_open(conn: V2GConnection, negotiated: Negotiated) -> None:
    """Default session handler: keep the connection until the peer closes it."""
    while True:
        await conn.receive()


#: how many recent negotiations SECCLink keeps for inspection (the counters keep the rest)
RECENT = 16


@dataclass
class SECCLink:
    """The charger's listeners: SDP on UDP 15118, plain TCP and/or TLS on ports from the dynamic range.

    ``setup_timeout``: when no handshake succeeds within it, SDP and the listeners stop
    (V2G_SECC_CommunicationSetup_Timeout; ISO 15118-4 TC_SECC_CMN_VTB_SDP_004). ``limits`` caps the
    connections of all listeners together (see :mod:`v2gkit.net.limits`); ``sap_timeout`` bounds the
    wait for supportedAppProtocolReq once TCP/TLS is up. Peer faults go to ``faults`` (counted,
    rate-limited lines, a summary every minute); per-connection events (connected, negotiated, closed...)
    are rate-limited the same way, so a flood of peers cannot flood the log or ``on_event``. Nothing is
    kept per connection once it is gone: ``stats`` counts, ``negotiated`` holds the last few handshakes."""

    interface: str | None = None
    loopback: bool = False
    protocols: str | Sequence[str | AppProtocol] = DEFAULT_OFFER
    policy: core.SecurityPolicy = core.SecurityPolicy.NONE_ONLY
    ssl_context: ssl.SSLContext | ContextSelector | None = None
    session: SessionHandler = _hold_open
    tracer: TraceSink | None = None
    sdp_port: int = core.SDP_PORT
    sap_timeout: float = timing.SECC_SESSION_START_TIMEOUT
    setup_timeout: float | None = None
    limits: ConnectionLimits | None = None
    on_event: Callable[[str, dict[str, Any]], None] | None = None
    #: accept ISO 15118-20 over plain TCP (not compliant; logged per session): for Josev's -20 EIM set-up
    allow_iso20_without_tls: bool = False
    faults: FaultLog = field(default_factory=FaultLog)
    negotiated: collections.deque[Negotiated] = field(default_factory=lambda: collections.deque(maxlen=RECENT),
                                                      init=False)
    stats: collections.Counter[str] = field(default_factory=collections.Counter, init=False)
    servers: dict[core.Security, V2GServer] = field(default_factory=dict, init=False)
    responder: SDPResponder | None = field(default=None, init=False)
    sdp: core.SDPServer | None = field(default=None, init=False)
    _setup_timer: asyncio.TimerHandle | None = field(default=None, init=False)
    _events: FaultLog = field(default_factory=lambda: FaultLog("v2gkit.link", label="connection events",
                                                               summary_level=logging.INFO), init=False)
    _summaries: asyncio.Task | None = field(default=None, init=False)
    #: connections being handled now (handshake or session); the setup timeout has fired
    _busy: int = field(default=0, init=False)
    expired: bool = field(default=False, init=False)
    _finished: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    async def expired_and_idle(self) -> None:
        """Return once the setup timeout has fired and no connection is left (the ones open then have
        ended): this link has nothing more to do. Never returns without ``setup_timeout``, or once a
        handshake succeeded in time (that cancels the timeout)."""
        await self._finished.wait()

    def _check_finished(self) -> None:
        if self.expired and self._busy == 0:
            self._finished.set()

    def _event(self, name: str, **info: Any) -> None:
        log.info("%s %s", name, info)
        if self.on_event is not None:
            self.on_event(name, info)

    def _peer_event(self, name: str, kind: str | None, **info: Any) -> None:
        """A per-connection event: counted always, reported while the rate limit allows. ``kind`` names
        the peer fault it is (None: a normal event such as ``connected``)."""
        self.stats[name] += 1
        if (self.faults if kind else self._events).admit(kind or name):
            self._event(name, **info)

    async def start(self) -> SECCLink:
        try:
            return await self._start()
        except BaseException:
            await self.close()
            raise

    async def _start(self) -> SECCLink:
        supported = protocol_list(self.protocols)
        if self.policy is not core.SecurityPolicy.NONE_ONLY and self.ssl_context is None:
            raise LinkError(f"SDP policy {self.policy.value!r} needs a TLS server context (SECC certificate)")
        if self.loopback:
            address = ipaddress.IPv6Address("::1")
        elif self.interface:
            address = link_local_address(self.interface)
        else:
            raise LinkError("give the interface the EV is connected to, or loopback=True")
        wanted = {core.SecurityPolicy.ECHO: (core.Security.NONE, core.Security.TLS),
                  core.SecurityPolicy.NONE_ONLY: (core.Security.NONE,),
                  core.SecurityPolicy.TLS_ONLY: (core.Security.TLS,)}[self.policy]
        table = ConnectionTable(self.limits or ConnectionLimits())  # one for TCP and TLS together
        for sec in wanted:
            ctx = self.ssl_context if sec is core.Security.TLS else None
            try:
                self.servers[sec] = await serve_dynamic(
                    lambda c, sup=supported: self._on_connection(c, sup),
                    host="::1" if self.loopback else "::",
                    interface=None if self.loopback else self.interface, ssl_context=ctx, tracer=self.tracer,
                    table=table, faults=self.faults,
                    on_tls_error=lambda peer, why: self._peer_event("tls_failed", "tls", peer=peer[0],
                                                                     reason=why))
            except OSError as e:
                raise LinkError(str(e)) from None
        self.sdp = core.SDPServer(address, {s: srv.port for s, srv in self.servers.items()}, self.policy)
        self.responder = await start_responder(self.sdp, interface=self.interface, loopback=self.loopback,
                                               port=self.sdp_port, tracer=self.tracer, faults=self.faults)
        if self.setup_timeout is not None:
            self._setup_timer = asyncio.get_running_loop().call_later(self.setup_timeout, self._setup_expired)
        self._summaries = asyncio.get_running_loop().create_task(self._summarise())
        self._event("listening", address=str(address), sdp_port=self.sdp_port,
                    ports={s.name: srv.port for s, srv in self.servers.items()},
                    max_connections=table.limits.total, max_per_peer=table.limits.per_peer)
        return self

    async def _summarise(self) -> None:
        """The periodic summary lines of both rate limiters."""
        while True:
            await asyncio.sleep(self.faults.summary_interval)
            self.faults.tick()
            self._events.tick()

    def _setup_expired(self) -> None:
        self._setup_timer = None
        self._event("setup_timeout", seconds=self.setup_timeout)
        self.stop_accepting()
        self.expired = True
        self._check_finished()

    def stop_accepting(self) -> None:
        """SDP answers nothing and the listeners refuse new connections; open sessions go on."""
        if self.sdp is not None:
            self.sdp.stop()
        for srv in self.servers.values():
            srv.stop_listening()

    async def _on_connection(self, conn: V2GConnection, supported: list[AppProtocol]) -> None:
        self._busy += 1
        try:
            await self._handle(conn, supported)
        finally:
            self._busy -= 1
            self._check_finished()

    async def _handle(self, conn: V2GConnection, supported: list[AppProtocol]) -> None:
        self._peer_event("connected", None, conn=conn.id, peer=conn.peer[0], tls=conn.tls)
        # may be empty (e.g. a DIN-only station reached over TLS): the handshake then fails properly
        usable = usable_protocols(supported, conn.tls, client_certificate=bool(conn.tls and conn.tls.get("peer_cn")),
                                  allow_iso20_without_tls=self.allow_iso20_without_tls)
        def failed(now: float, out: object) -> None:
            """Reported as the machine closes, before the runner closes the connection."""
            if not isinstance(out, Closed):
                return
            if out.reason is Reason.NO_NEGOTIATION:
                # Failed_NoNegotiation: the session ends here (ISO 15118-4 SupportedAppProtocol_002)
                reason = out.text if usable else f"no configured protocol can run {_why_none(conn.tls)}"
                self._peer_event("handshake_failed", "handshake", conn=conn.id, peer=conn.peer[0], reason=reason)
            else:
                self._peer_event("closed", "handshake", conn=conn.id, peer=conn.peer[0], reason=out.text)

        outcome = await run_machine(conn, SECCHandshake(usable, timeout=self.sap_timeout), observe=failed)
        negotiated = outcome.negotiated
        if negotiated is None:
            if outcome.reason is Reason.PEER_CLOSED:  # the machine never closed: the peer went away first
                self._peer_event("closed", "handshake", conn=conn.id, peer=conn.peer[0], reason=outcome.detail)
            return
        if self._setup_timer is not None:
            self._setup_timer.cancel()
            self._setup_timer = None
        conn.handshake_done()  # the session has started once its SessionSetupReq arrives
        if conn.tls is None and negotiated.protocol.name.startswith("iso20"):
            self.stats["iso20_without_tls"] += 1
            if self._events.admit("iso20_without_tls"):
                log.warning("%s: %s", conn.id, NOT_COMPLIANT)
        conn.schema = negotiated.protocol.schema
        self.negotiated.append(negotiated)
        self.stats["negotiated:" + negotiated.protocol.name] += 1
        self._peer_event("negotiated", None, conn=conn.id, protocol=negotiated.protocol.name,
                         schema_id=negotiated.schema_id, response_code=negotiated.response_code.name)
        await self.session(conn, negotiated)

    async def close(self) -> None:
        if self._setup_timer is not None:
            self._setup_timer.cancel()
        if self._summaries is not None:
            self._summaries.cancel()
            self._summaries = None
        if self.responder is not None:
            self.responder.close()
        for srv in self.servers.values():
            await srv.close()

    async def __aenter__(self) -> SECCLink:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
