"""asyncio TCP/TLS connections carrying V2GTP: a client, a server, and the connection object both use.

The connection feeds whatever TCP delivers into the sans-IO :class:`~v2gkit.v2gtp.V2GTPReader`, hands
out whole messages, applies the header rules (discard or close) and reports every frame to an optional
tracer. Each server connection runs in its own task: one misbehaving peer never touches another. The
server enforces :class:`~v2gkit.net.limits.ConnectionLimits` (how many connections, how long until the
session starts) and reports peer faults to a rate-limited :class:`~v2gkit.net.faults.FaultLog`.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import itertools
import logging
import random
import resource
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from ..v2gtp import (
    DEFAULT_MAX_PAYLOAD,
    TCP_PAYLOAD_TYPES,
    Action,
    HeaderFault,
    V2GTPMessage,
    V2GTPReader,
    frame,
)
from .faults import FaultLog, default_fault_log
from .iface import if_index, link_local_address
from .limits import ConnectionLimits, ConnectionTable, fd_budget
from .tls import describe, peer_key_problem

__all__ = [
    "ConnectionClosed",
    "serve_dynamic",
    "TraceSink",
    "V2GConnection",
    "V2GServer",
    "V2GTPProtocolError",
    "connect",
    "serve",
]

log = logging.getLogger("v2gkit.net")
_conn_ids = itertools.count(1)
_READ_SIZE = 65536
#: accept() errors that mean "no resources for another socket now": back off instead of spinning
_STARVED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: first and longest pause of the accept loop while out of file descriptors with nothing to evict
_ACCEPT_BACKOFF = (0.01, 1.0)
#: an episode without file descriptors ends (one line says so) after this long without a failure
_STARVED_QUIET = 5.0
#: the accept loop's pause after a newcomer evicted a connection: at most 200 evictions a second, so a
#: connection that progresses within 31 x 5 ms keeps its slot against a flood from its own address
_EVICTION_PACE = 0.005


class TraceSink(Protocol):
    """What a connection reports to (v2gkit.trace.Tracer implements it)."""

    def tcp_open(self, ts: float, conn: str, client: Any, server: Any, tls: dict | None = None) -> None: ...
    def v2g(self, ts: float, conn: str, sent: bool, frame: bytes, schema: str | None = None) -> None: ...
    def tcp_close(self, ts: float, conn: str, by_client: bool) -> None: ...


class ConnectionClosed(ConnectionError):
    """The peer closed the connection (or we did)."""


class V2GTPProtocolError(ConnectionError):
    """A header fault whose rule is CLOSE; the connection has been closed."""

    def __init__(self, fault: HeaderFault) -> None:
        super().__init__(fault.message)
        self.fault = fault


def _endpoint(sockaddr: Any) -> tuple[str, int]:
    host, port = sockaddr[0], sockaddr[1]
    return host.split("%", 1)[0], port


def tls_info(ssl_object: Any) -> dict[str, Any] | None:
    """Negotiated version, suite and peer certificate CN (None on plain TCP), for logs and traces."""
    return None if ssl_object is None else dict(describe(ssl_object))


class V2GConnection:
    """One V2G TCP or TLS connection. ``schema`` names the EXI schema of the payloads, for traces."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, is_client: bool,
                 max_payload: int = DEFAULT_MAX_PAYLOAD, accept: Iterable[int] = TCP_PAYLOAD_TYPES,
                 tracer: TraceSink | None = None, schema: str | None = "apphand",
                 faults: FaultLog | None = None) -> None:
        self._reader = reader
        self._writer = writer
        self._v2gtp = V2GTPReader(max_payload, accept)
        self._pending: collections.deque[V2GTPMessage] = collections.deque()
        self.is_client = is_client
        self.tracer = tracer
        self.schema = schema
        self.id = f"tcp{next(_conn_ids)}"
        self.local = _endpoint(writer.get_extra_info("sockname"))
        self.peer = _endpoint(writer.get_extra_info("peername"))
        self.tls = tls_info(writer.get_extra_info("ssl_object"))
        #: header faults seen (counted, not kept: a peer may send discardable junk for ever)
        self.fault_count = 0
        self.last_fault: HeaderFault | None = None
        self.fault_log = faults or default_fault_log
        #: called by :meth:`handshake_done` and :meth:`established` (the server's connection limits)
        self.on_handshake_done: Callable[[], None] | None = None
        self.on_established: Callable[[], None] | None = None
        self._established_on_message = False
        self.closed = False
        if tracer is not None:
            client, server = (self.local, self.peer) if is_client else (self.peer, self.local)
            tracer.tcp_open(time.time(), self.id, client, server, self.tls)

    def __repr__(self) -> str:
        kind = self.tls["version"] if self.tls else "TCP"
        return f"<V2GConnection {self.id} {kind} [{self.local[0]}]:{self.local[1]} <-> [{self.peer[0]}]:{self.peer[1]}>"

    async def send(self, payload_type: int, payload: bytes) -> None:
        self.send_nowait(payload_type, payload)
        await self._writer.drain()

    def send_nowait(self, payload_type: int, payload: bytes) -> None:
        """Queue a message on the socket without waiting for the buffer to drain: a session sends one
        response per request, so the buffer cannot grow without bound, and the hot path stays one hop."""
        self.write_nowait(frame(payload_type, payload))

    def write_nowait(self, data: bytes) -> None:
        """Bytes exactly as given, without waiting (``send_nowait``'s frames; the test system's broken headers
        and split frames)."""
        if self.closed:
            raise ConnectionClosed("connection is closed")
        self._writer.write(data)
        if self.tracer is not None:
            self.tracer.v2g(time.time(), self.id, True, data, self.schema)

    def abort(self, reset: bool = False) -> None:
        """Close now without waiting for buffered data to drain; ``reset``: with a TCP RST (SO_LINGER 0),
        as a crashed or hostile peer would."""
        if self.closed:
            return
        self.closed = True
        if self.tracer is not None:
            self.tracer.tcp_close(time.time(), self.id, by_client=self.is_client)
        sock = self._writer.get_extra_info("socket")
        if reset and sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            self._writer.transport.abort()
        else:
            self._writer.close()

    async def send_raw(self, data: bytes) -> None:
        """Bytes exactly as given (test systems inject broken headers with this)."""
        self._writer.write(data)
        if self.tracer is not None:
            self.tracer.v2g(time.time(), self.id, True, data, self.schema)
        await self._writer.drain()

    async def receive(self, timeout: float | None = None) -> V2GTPMessage:
        """The next message. TimeoutError when none is complete within ``timeout`` seconds (discarded
        messages do not restart the clock); ConnectionClosed at EOF; V2GTPProtocolError on a fatal header."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._pending:
            if self.closed:
                raise ConnectionClosed("connection is closed")
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                data = await asyncio.wait_for(self._reader.read(_READ_SIZE), left)
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError) as e:
                await self.close()
                raise ConnectionClosed(f"connection lost: {e}") from None
            if not data:
                await self.close(by_peer=True)
                raise ConnectionClosed("peer closed the connection")
            for ev in self._v2gtp.feed(data):
                if isinstance(ev, V2GTPMessage):
                    if self.tracer is not None:
                        self.tracer.v2g(time.time(), self.id, False, ev.to_bytes(), self.schema)
                    self._pending.append(ev)
                    continue
                self.fault_count += 1
                self.last_fault = ev
                self.fault_log.report("v2gtp_header", "%s [%s]:%s: %s", self.id, self.peer[0], self.peer[1],
                                      ev.message)
                if self.tracer is not None:
                    self.tracer.v2g(time.time(), self.id, False, ev.header, None)
                if ev.action is Action.CLOSE:
                    await self.close()
                    raise V2GTPProtocolError(ev)
        if self._established_on_message:
            self.established()
        return self._pending.popleft()

    def handshake_done(self) -> None:
        """The supportedAppProtocol handshake succeeded; the session starts with the next message (its
        SessionSetupReq), and then :meth:`established` follows by itself. A peer that falls silent in
        between is still idle to the server's connection limits."""
        self._established_on_message = True
        cb, self.on_handshake_done = self.on_handshake_done, None
        if cb is not None:
            cb()

    def established(self) -> None:
        """The session has started: the connection is no longer evicted for newcomers and has no deadline."""
        self._established_on_message = False
        cb, self.on_established = self.on_established, None
        if cb is not None:
            cb()

    async def close(self, by_peer: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        if self.tracer is not None:
            self.tracer.tcp_close(time.time(), self.id, by_client=self.is_client != by_peer)
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, ssl.SSLError, OSError):
            pass

    async def __aenter__(self) -> V2GConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _sockaddr(address: str, port: int, interface: str | None) -> tuple[str, int, int, int]:
    scope = if_index(interface) if interface else 0
    return (address.split("%", 1)[0], port, 0, scope)


async def connect(address: str, port: int, *, interface: str | None = None, ssl_context: ssl.SSLContext | None = None,
                  tracer: TraceSink | None = None, timeout: float = 20.0,
                  max_payload: int = DEFAULT_MAX_PAYLOAD, accept: Iterable[int] = TCP_PAYLOAD_TYPES,
                  ) -> V2GConnection:
    """TCP (and TLS when ``ssl_context`` is given) to the SECC; a link-local address needs ``interface``.

    ``timeout`` bounds TCP and TLS set-up together (V2G_EVCC_CommunicationSetup_Timeout is 20 s)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if interface:
            sock.bind((str(link_local_address(interface)), 0, 0, if_index(interface)))
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, _sockaddr(address, port, interface))
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=ssl_context, server_hostname=address.split("%", 1)[0] if ssl_context else None,
                ssl_handshake_timeout=timeout if ssl_context else None, limit=_READ_SIZE)
    except BaseException:
        sock.close()
        raise
    problem = peer_key_problem(writer.get_extra_info("ssl_object"))
    if problem is not None:  # a verified chain, but a key ISO 15118-20 does not allow: refuse it
        writer.transport.abort()
        raise ssl.SSLError(f"TLS with [{address}]:{port} refused: {problem}")
    return V2GConnection(reader, writer, is_client=True, max_payload=max_payload, accept=accept, tracer=tracer)


Handler = Callable[[V2GConnection], Awaitable[None]]


class _Slot:
    """One accepted connection as the server tracks it: its task, its handshake deadline, its peer."""

    __slots__ = ("conn", "peer", "task", "timer")

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer
        self.task: asyncio.Task | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.conn: V2GConnection | None = None


class V2GServer:
    """A listening SECC socket; ``port`` is the one to announce in SDP. Its own accept loop lets the TLS
    context be chosen per connection from the ClientHello (see ``serve``) and applies the connection
    limits: a newcomer at a full server evicts the oldest connection whose session has not started, and a
    connection whose session has not started within ``limits.start_timeout`` is closed."""

    def __init__(self, sock: socket.socket, handle: Callable[[socket.socket, _Slot], Awaitable[None]], *,
                 limits: ConnectionLimits | None = None, faults: FaultLog | None = None,
                 table: ConnectionTable | None = None) -> None:
        self._sock = sock
        self._handle = handle
        self.table = table if table is not None else ConnectionTable(limits or ConnectionLimits())
        self.limits = self.table.limits
        self.faults = faults or default_fault_log
        self.connections: set[V2GConnection] = set()
        self._slots: set[_Slot] = set()
        self.address, self.port = _endpoint(sock.getsockname())
        #: accepted, refused, evicted and timed-out connections since start
        self.stats: collections.Counter[str] = collections.Counter()
        self._starved_since: float | None = None  # first accept() failure of the current episode
        self._starved_last = 0.0
        self._starved_count = 0
        self._accepting: asyncio.Task | None = asyncio.get_running_loop().create_task(self._accept())

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = _ACCEPT_BACKOFF[0]
        while True:
            try:
                conn_sock, addr = await loop.sock_accept(self._sock)
            except OSError as e:
                if e.errno not in _STARVED:  # e.g. ECONNABORTED: that peer is gone already
                    self.faults.report("accept", "accept on port %s failed: %s", self.port, e)
                    continue
                now = loop.time()
                if self._starved_since is None:
                    self._starved_since = now
                    self._starved_count = 0
                    log.warning("port %s: cannot accept: %s (%d connections open, RLIMIT_NOFILE soft limit "
                                "%d); closing connections whose session has not started, else waiting",
                                self.port, e.strerror or e, len(self.table), _nofile())
                self._starved_last = now
                self._starved_count += 1
                self.faults.admit("accept")
                victim = self.table.oldest_pending()
                if victim is not None:
                    self._evict(victim, "to free a file descriptor")
                    for _ in range(3):  # let its task close the socket before the next accept
                        await asyncio.sleep(0)
                    continue
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _ACCEPT_BACKOFF[1])
                continue
            backoff = _ACCEPT_BACKOFF[0]
            if self._starved_since is not None and loop.time() - self._starved_last >= _STARVED_QUIET:
                log.warning("port %s: accepting again; %d accept() failures for lack of file descriptors over "
                            "%.1f s", self.port, self._starved_count, self._starved_last - self._starved_since)
                self._starved_since = None
            evicted = self._admit(loop, conn_sock, _endpoint(addr))
            # accept() does not wait while the backlog holds connections: let the accepted ones run (and
            # a car finish its handshake) before taking the next, or a flood could evict it unheard. At a
            # full server, pace the evictions: a car at the same address as a flood then has the time
            # of many newcomers to send its next message
            await asyncio.sleep(_EVICTION_PACE if evicted else 0)

    def _admit(self, loop: asyncio.AbstractEventLoop, conn_sock: socket.socket, peer: tuple[str, int]) -> bool:
        """Take the new connection, or refuse it; True when that closed another one."""
        slot = _Slot(peer)
        admission = self.table.admit(slot, peer[0])
        if not admission.accepted:
            self.stats["refused"] += 1
            self.faults.report("limit", "refused [%s]:%s: %s", peer[0], peer[1], admission.reason)
            conn_sock.close()
            return False
        self.stats["accepted"] += 1
        for victim in admission.evict:
            self._evict(victim, f"for [{peer[0]}]:{peer[1]} ({admission.reason})")  # type: ignore[arg-type]
        slot.task = loop.create_task(self._handle(conn_sock, slot))
        slot.task.add_done_callback(lambda _: self._done(slot, conn_sock))
        slot.timer = loop.call_later(self.limits.start_timeout, self._start_expired, slot)
        self._slots.add(slot)
        return bool(admission.evict)

    def _done(self, slot: _Slot, conn_sock: socket.socket) -> None:
        self._forget(slot)
        if slot.conn is None and conn_sock.fileno() >= 0:
            # cancelled before it ran (evicted in the same burst of accepts): nobody else owns the socket
            conn_sock.close()

    def _forget(self, slot: _Slot) -> None:
        self.table.release(slot)
        self._slots.discard(slot)
        if slot.timer is not None:
            slot.timer.cancel()
            slot.timer = None

    def _evict(self, slot: _Slot, why: str) -> None:
        self.stats["evicted"] += 1
        self.faults.report("limit", "closed [%s]:%s before its session started, %s", slot.peer[0], slot.peer[1],
                           why)
        self._forget(slot)
        if slot.task is not None:
            slot.task.cancel()

    def _start_expired(self, slot: _Slot) -> None:
        slot.timer = None
        if not self.table.is_pending(slot):
            return
        self.stats["start_timeout"] += 1
        self.faults.report("handshake", "closed [%s]:%s: no session started within %g s (TLS, "
                           "supportedAppProtocol and a first request)", slot.peer[0], slot.peer[1],
                           self.limits.start_timeout)
        self._forget(slot)
        if slot.task is not None:
            slot.task.cancel()

    def _established(self, slot: _Slot) -> None:
        self.table.established(slot)
        if slot.timer is not None:
            slot.timer.cancel()
            slot.timer = None

    def stop_listening(self) -> None:
        """No new connections (e.g. after the communication setup timeout); open ones stay."""
        if self._accepting is not None:
            # close the socket only once the accept call has let go of it: closing a file descriptor that
            # the event loop still watches lets a new socket inherit that stale registration
            self._accepting.add_done_callback(lambda _: self._sock.close())
            self._accepting.cancel()
            self._accepting = None

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        accepting = self._accepting
        self.stop_listening()
        if accepting is not None:
            await asyncio.gather(accepting, return_exceptions=True)
        tasks = [s.task for s in list(self._slots) if s.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in list(self.connections):
            await c.close()

    async def __aenter__(self) -> V2GServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _nofile() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


#: picks the server context from the client's offer (e.g. TLS 1.3 -> the ISO 15118-20 chain)
ContextSelector = Callable[["ClientHello"], ssl.SSLContext]


class ClientHello:
    """What the SECC needs from a TLS ClientHello to pick its certificate: the offered versions."""

    def __init__(self, versions: frozenset[int]) -> None:
        self.versions = versions

    @property
    def offers_tls13(self) -> bool:
        return 0x0304 in self.versions


def parse_client_hello(data: bytes) -> ClientHello | None:
    """None while ``data`` does not yet hold the whole first record; ValueError if it is not TLS."""
    if len(data) < 5:
        return None
    if data[0] != 0x16:
        raise ValueError(f"not a TLS handshake record (first byte 0x{data[0]:02X})")
    rec_len = int.from_bytes(data[3:5], "big")
    if len(data) < 5 + rec_len:
        return None
    body = data[5:5 + rec_len]
    try:
        if body[0] != 0x01:
            raise ValueError("first handshake message is not a ClientHello")
        legacy = int.from_bytes(body[4:6], "big")
        pos = 4 + 2 + 32
        pos += 1 + body[pos]  # session id
        pos += 2 + int.from_bytes(body[pos:pos + 2], "big")  # cipher suites
        pos += 1 + body[pos]  # compression methods
        versions = {legacy}
        if pos + 2 <= len(body):
            end = min(len(body), pos + 2 + int.from_bytes(body[pos:pos + 2], "big"))
            pos += 2
            while pos + 4 <= end:
                ext, n = int.from_bytes(body[pos:pos + 2], "big"), int.from_bytes(body[pos + 2:pos + 4], "big")
                if ext == 0x002B:  # supported_versions
                    lst = body[pos + 5:pos + 5 + body[pos + 4]]
                    versions = {int.from_bytes(lst[i:i + 2], "big") for i in range(0, len(lst) - 1, 2)}
                pos += 4 + n
    except IndexError:
        raise ValueError("truncated ClientHello") from None
    return ClientHello(frozenset(versions))


async def _peek_client_hello(sock: socket.socket, timeout: float) -> ClientHello:
    """Wait for the ClientHello and read it without consuming it (MSG_PEEK)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = 0.005
    while True:
        readable = loop.create_future()
        loop.add_reader(sock.fileno(), lambda f=readable: f.done() or f.set_result(None))
        try:
            await asyncio.wait_for(readable, max(0.0, deadline - loop.time()))
        finally:
            loop.remove_reader(sock.fileno())
        data = sock.recv(16389, socket.MSG_PEEK)
        if not data:
            raise ConnectionClosed("peer closed before the TLS handshake")
        hello = parse_client_hello(data)
        if hello is not None:
            return hello
        if loop.time() >= deadline:
            raise TimeoutError(f"no complete ClientHello within {timeout:g} s")
        # the rest of the record is on its way (or, from a slow peer, not: back off up to 0.2 s)
        await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
        pause = min(pause * 2, 0.2)


async def serve(handler: Handler, *, host: str = "::", port: int = 0, interface: str | None = None,
                ssl_context: ssl.SSLContext | ContextSelector | None = None, tracer: TraceSink | None = None,
                max_payload: int = DEFAULT_MAX_PAYLOAD, accept: Iterable[int] = TCP_PAYLOAD_TYPES,
                limits: ConnectionLimits | None = None, faults: FaultLog | None = None,
                table: ConnectionTable | None = None,
                on_tls_error: Callable[[tuple[str, int], str], None] | None = None) -> V2GServer:
    """Listen on ``host``/``port`` (on the interface's link-local address when ``interface`` is given)
    and run ``handler(connection)`` for each client in its own task. The handler's exceptions are
    logged and end only that connection. The handler calls ``connection.handshake_done()`` after the
    supportedAppProtocol handshake (or ``established()`` when no session message is to be waited for);
    until the session has started ``limits`` may close the connection (deadline
    ``limits.start_timeout``, TLS included, or eviction for a newcomer at a full server). Listeners that
    share a ``table`` (built with the limits) share the limits too.

    ``ssl_context`` may be a selector called with the peer's ClientHello: a station speaking ISO 15118-2
    and -20 presents its secp256r1 chain over TLS 1.2 and its -20 chain over TLS 1.3. A failed TLS
    handshake goes to ``on_tls_error(peer, reason)`` (asyncio alone would only log it at debug level), or
    else to ``faults``."""
    server: V2GServer
    if table is None:
        table = ConnectionTable(limits or ConnectionLimits())
    limits = table.limits
    fault_log = faults or default_fault_log
    if limits.total > fd_budget():
        log.warning("up to %d connections allowed, but RLIMIT_NOFILE (%d) leaves room for about %d: beyond that "
                    "accept() fails and connections before their handshake are closed to make room",
                    limits.total, _nofile(), fd_budget())

    async def handle(sock: socket.socket, slot: _Slot) -> None:
        loop = asyncio.get_running_loop()
        peer = slot.peer
        reader = asyncio.StreamReader(limit=_READ_SIZE)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ctx = ssl_context
            if ctx is not None and not isinstance(ctx, ssl.SSLContext):
                ctx = ctx(await _peek_client_hello(sock, limits.start_timeout))
            transport, protocol = await loop.connect_accepted_socket(
                lambda: asyncio.StreamReaderProtocol(reader), sock, ssl=ctx,
                ssl_handshake_timeout=limits.start_timeout if ctx is not None else None)
        except (OSError, TimeoutError, ValueError, ConnectionError) as e:  # ssl.SSLError is an OSError
            reason = getattr(e, "verify_message", None) or getattr(e, "reason", None) or str(e) or type(e).__name__
            if ssl_context is not None:
                if on_tls_error is not None:  # its owner counts and reports it
                    on_tls_error(peer, str(reason))
                else:
                    fault_log.report("tls", "TLS handshake with [%s]:%s failed: %s", peer[0], peer[1], reason,
                                     level=logging.INFO)
            sock.close()
            return
        except asyncio.CancelledError:
            sock.close()
            raise
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        problem = peer_key_problem(writer.get_extra_info("ssl_object"))
        if problem is not None:  # a verified chain, but a key ISO 15118-20 does not allow: refuse it
            if on_tls_error is not None:
                on_tls_error(peer, problem)
            else:
                fault_log.report("tls", "TLS handshake with [%s]:%s refused: %s", peer[0], peer[1], problem,
                                 level=logging.INFO)
            transport.abort()
            return
        try:
            conn = V2GConnection(reader, writer, is_client=False, max_payload=max_payload, accept=accept,
                                 tracer=tracer, faults=fault_log)
        except OSError:  # peer vanished during set-up
            transport.abort()
            return
        conn.on_handshake_done = lambda: server.table.handshake_done(slot)
        conn.on_established = lambda: server._established(slot)
        slot.conn = conn
        server.connections.add(conn)
        try:
            await handler(conn)
        except (ConnectionClosed, V2GTPProtocolError, TimeoutError) as e:
            log.debug("%s ended: %s", conn.id, e)
        except asyncio.CancelledError:
            pass  # evicted, timed out, or the server is shutting down
        except Exception:
            log.exception("%s: handler failed", conn.id)
        finally:
            server.connections.discard(conn)
            await conn.close()

    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if interface:
            sock.bind((str(link_local_address(interface)), port, 0, if_index(interface)))
        else:
            sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    server = V2GServer(sock, handle, faults=fault_log, table=table)
    return server


async def serve_dynamic(handler: Handler, **kw: Any) -> V2GServer:
    """``serve`` on a random port of the dynamic range 49152..65535 (``sdp.DYNAMIC_PORTS``), the range an
    SECC announces in SDP (some cars, Josev's, refuse any other); another port is tried on the rare
    collision. OSError when 20 tries found none free."""
    from ..sdp import DYNAMIC_PORTS
    for _ in range(20):
        try:
            return await serve(handler, port=random.randrange(DYNAMIC_PORTS.start, DYNAMIC_PORTS.stop), **kw)
        except OSError:
            continue
    raise OSError(f"no free TCP port in {DYNAMIC_PORTS.start}..{DYNAMIC_PORTS.stop - 1}")
