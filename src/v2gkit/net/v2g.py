"""asyncio TCP/TLS connections carrying V2GTP: a client, a server, and the connection object both use.

The connection feeds whatever TCP delivers into the sans-IO :class:`~v2gkit.v2gtp.V2GTPReader`, hands
out whole messages, applies the header rules (discard or close) and reports every frame to an optional
tracer. Each server connection runs in its own task: one misbehaving peer never touches another.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import socket
import ssl
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
from .iface import if_index, link_local_address
from .tls import describe

__all__ = [
    "ConnectionClosed",
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
                 tracer: TraceSink | None = None, schema: str | None = "apphand") -> None:
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
        self.faults: list[HeaderFault] = []
        self.closed = False
        if tracer is not None:
            client, server = (self.local, self.peer) if is_client else (self.peer, self.local)
            tracer.tcp_open(time.time(), self.id, client, server, self.tls)

    def __repr__(self) -> str:
        kind = self.tls["version"] if self.tls else "TCP"
        return f"<V2GConnection {self.id} {kind} [{self.local[0]}]:{self.local[1]} <-> [{self.peer[0]}]:{self.peer[1]}>"

    async def send(self, payload_type: int, payload: bytes) -> None:
        if self.closed:
            raise ConnectionClosed("connection is closed")
        data = frame(payload_type, payload)
        self._writer.write(data)
        if self.tracer is not None:
            self.tracer.v2g(time.time(), self.id, True, data, self.schema)
        await self._writer.drain()

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
                self.faults.append(ev)
                log.warning("%s: %s", self.id, ev.message)
                if self.tracer is not None:
                    self.tracer.v2g(time.time(), self.id, False, ev.header, None)
                if ev.action is Action.CLOSE:
                    await self.close()
                    raise V2GTPProtocolError(ev)
        return self._pending.popleft()

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
    return V2GConnection(reader, writer, is_client=True, max_payload=max_payload, accept=accept, tracer=tracer)


Handler = Callable[[V2GConnection], Awaitable[None]]


class V2GServer:
    """A listening SECC socket; ``port`` is the one to announce in SDP."""

    def __init__(self, server: asyncio.base_events.Server, connections: set[V2GConnection],
                 tasks: set[asyncio.Task]) -> None:
        self._server = server
        self.connections = connections
        self._tasks = tasks
        sockname = server.sockets[0].getsockname()
        self.address, self.port = _endpoint(sockname)

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for c in list(self.connections):
            await c.close()
        await self._server.wait_closed()

    def stop_listening(self) -> None:
        """No new connections (e.g. after the communication setup timeout); open ones stay."""
        self._server.close()

    async def __aenter__(self) -> V2GServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve(handler: Handler, *, host: str = "::", port: int = 0, interface: str | None = None,
                ssl_context: ssl.SSLContext | None = None, tracer: TraceSink | None = None,
                max_payload: int = DEFAULT_MAX_PAYLOAD, accept: Iterable[int] = TCP_PAYLOAD_TYPES,
                tls_handshake_timeout: float = 18.0) -> V2GServer:
    """Listen on ``host``/``port`` (on the interface's link-local address when ``interface`` is given)
    and run ``handler(connection)`` for each client in its own task. The handler's exceptions are
    logged and end only that connection."""
    connections: set[V2GConnection] = set()
    tasks: set[asyncio.Task] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            conn = V2GConnection(reader, writer, is_client=False, max_payload=max_payload, accept=accept,
                                 tracer=tracer)
        except Exception:  # peer vanished during set-up
            writer.close()
            return
        connections.add(conn)
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(conn)
        except (ConnectionClosed, V2GTPProtocolError, TimeoutError) as e:
            log.info("%s ended: %s", conn.id, e)
        except asyncio.CancelledError:
            pass  # server shutting down
        except Exception:
            log.exception("%s: handler failed", conn.id)
        finally:
            tasks.discard(task)
            connections.discard(conn)
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
        server = await asyncio.start_server(on_client, sock=sock, ssl=ssl_context, limit=_READ_SIZE,
                                            ssl_handshake_timeout=tls_handshake_timeout if ssl_context else None)
    except BaseException:
        sock.close()
        raise
    return V2GServer(server, connections, tasks)
