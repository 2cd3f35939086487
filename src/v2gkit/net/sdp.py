"""asyncio SDP: the SECC's UDP responder and the EVCC's discovery, around the sans-IO objects in sdp.py.

On a real link both sides use the interface's link-local address and the all-nodes group ff02::1,
which only exists per interface (it does not work on ``lo``). ``loopback=True`` swaps that for
unicast to ::1 so one host can run both roles.

The responder binds its port exclusively (no SO_REUSEADDR): with it, a second SECC on the same port
would start without complaint and Linux would hand each request to only one of them. Several chargers
on one host still share port 15118, one per interface: a socket bound to its interface with
SO_BINDTODEVICE does not conflict with a socket bound to another one. Junk datagrams are counted and
reported to a rate-limited :class:`~v2gkit.net.faults.FaultLog`; nothing is kept per datagram.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import socket
import struct
import time
from typing import Any

from .. import sdp as core
from ..session.events import Closed, Event, Reason, Received, Send, Timer
from ..v2gtp import V2GTPError, decode_datagram, frame
from .faults import FaultLog, default_fault_log
from .iface import if_index, link_local_address
from .v2g import TraceSink

__all__ = ["DiscoveryError", "SDPPortInUse", "SDPResponder", "discover", "start_responder"]

log = logging.getLogger("v2gkit.sdp")
#: answers waiting in the socket's send queue beyond this many bytes are dropped (a flood of requests
#: from a peer that does not read its answers must not fill memory)
_MAX_UNSENT = 65536


class SDPPortInUse(OSError):
    """Another socket (usually another SECC) already holds the SDP port."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.EADDRINUSE


class DiscoveryError(TimeoutError):
    """No usable SDP response; ``attempts`` requests were sent."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class _SDPTrace:
    """Adapter from socket addresses to the tracer's sdp() call (tracer may be None)."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    def __call__(self, sent: bool, src: Any, dst: Any, datagram: bytes) -> None:
        if self.tracer is not None:
            self.tracer.sdp(time.time(), sent, (src[0].split("%")[0], src[1]), (dst[0].split("%")[0], dst[1]),
                            datagram)


def _udp_socket(bind: tuple, interface: str | None) -> socket.socket:
    """A non-blocking UDP socket bound exclusively (see the module docstring: no SO_REUSEADDR)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        if interface:
            # only this interface's traffic reaches the socket (several chargers = several interfaces)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, if_index(interface))
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        sock.bind(bind)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class SDPResponder(asyncio.DatagramProtocol):
    """The SECC's UDP side: every datagram goes through the sans-IO SDPServer; answers go back unicast
    to the sender's address and port. ``stats`` counts what happened (answered, dropped, unsent);
    ``last`` says what happened to the latest datagram."""

    def __init__(self, server: core.SDPServer, tracer: TraceSink | None = None,
                 faults: FaultLog | None = None) -> None:
        self.server = server
        self._trace = _SDPTrace(tracer)
        self.faults = faults or default_fault_log
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple = ("::", core.SDP_PORT)
        self.stats: collections.Counter[str] = collections.Counter()
        self.last = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.local = transport.get_extra_info("sockname")

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        dst = (str(core.SDP_MULTICAST), self.local[1])
        self._trace(False, addr, dst, data)
        response, what = self.server.datagram_received(data)
        self.last = what
        if response is None:
            self.stats["dropped"] += 1
            if self.server.enabled:
                self.faults.report("sdp_junk", "SDP from [%s]:%s %s", addr[0].split("%")[0], addr[1], what,
                                   level=logging.INFO)
            return
        self.stats["answered"] += 1
        log.debug("SDP from [%s]:%s: %s", addr[0], addr[1], what)
        if self.transport is None:
            return
        if self.transport.get_write_buffer_size() > _MAX_UNSENT:
            self.stats["unsent"] += 1
            return
        self.transport.sendto(response, addr)
        self._trace(True, (str(self.server.address), self.local[1]), addr, response)

    def error_received(self, exc: Exception) -> None:
        log.warning("SDP socket error: %s", exc)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def start_responder(server: core.SDPServer, *, interface: str | None = None, loopback: bool = False,
                          port: int = core.SDP_PORT, tracer: TraceSink | None = None,
                          faults: FaultLog | None = None) -> SDPResponder:
    """Listen for SDP requests on UDP ``port``: joined to ff02::1 on ``interface``, or on ::1.
    SDPPortInUse when another socket holds the port there (a second SECC must not start silently)."""
    where = "::1" if loopback else f"interface {interface}"
    try:
        if loopback:
            sock = _udp_socket(("::1", port), None)
        elif interface:
            sock = _udp_socket(("::", port), interface)
        else:
            raise ValueError("give the interface the EV is connected to, or loopback=True")
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        raise SDPPortInUse(f"SDP port {port} on {where} is already in use (is another SECC running there?): "
                           "stop it, or give this one another SDP port") from None
    try:
        if interface and not loopback:
            mreq = core.SDP_MULTICAST.packed + struct.pack("@I", if_index(interface))
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(lambda: SDPResponder(server, tracer, faults), sock=sock)
    except BaseException:
        sock.close()
        raise
    return proto


class _ClientProtocol(asyncio.DatagramProtocol):
    """Runs the EVCC's SDP machine (``sdp.SDPClientMachine``: the one interface of every protocol machine)
    on a UDP socket: its Sends go out framed, its timers are call_later, its Closed ends the discovery."""

    def __init__(self, client: core.SDPClient, target: tuple, trace: _SDPTrace, hooks: Any = None) -> None:
        self.client = client
        self.machine = core.SDPClientMachine(client, hooks)
        self.target = target
        self.trace = trace
        self.transport: asyncio.DatagramTransport | None = None
        self.done: asyncio.Future[core.SDPResponse] = asyncio.get_running_loop().create_future()
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.response: core.SDPResponse | None = None
        self.local: tuple = ("::", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.local = transport.get_extra_info("sockname")
        loop = asyncio.get_running_loop()
        self.run(self.machine.start(loop.time()))

    def _fire(self, name: str) -> None:
        self.timers.pop(name, None)
        now = asyncio.get_running_loop().time()
        self.run(self.machine.timer(now, name))

    def run(self, outputs: list) -> None:
        loop = asyncio.get_running_loop()
        for out in outputs:
            if isinstance(out, Send):
                assert self.transport is not None
                datagram = frame(out.payload_type, out.payload)
                self.transport.sendto(datagram, self.target)
                self.trace(True, self.local, self.target, datagram)
            elif isinstance(out, Timer):
                old = self.timers.pop(out.name, None)
                if old is not None:
                    old.cancel()
                if out.delay is not None:
                    self.timers[out.name] = loop.call_later(out.delay, self._fire, out.name)
            elif isinstance(out, Received):
                self.response = out.body
            elif isinstance(out, Closed):
                if out.reason is Reason.DISCOVERED and self.response is not None:
                    self._finish(self.response)
                else:
                    self._finish(DiscoveryError(out.text, self.client.attempts))
            elif isinstance(out, Event) and out.name == "sdp_ignored":
                log.info("SDP answer ignored: %s", out.data["reason"])

    def _finish(self, result: core.SDPResponse | Exception) -> None:
        for handle in self.timers.values():
            handle.cancel()
        if not self.done.done():
            if isinstance(result, Exception):
                self.done.set_exception(result)
            else:
                self.done.set_result(result)

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.trace(False, addr, self.local, data)
        try:
            message = decode_datagram(data)
        except V2GTPError as e:  # not even a V2GTP datagram: noted like any answer the machine ignores
            self.machine.ignored.append(str(e))
            log.info("SDP answer ignored: %s", e)
            return
        self.run(self.machine.receive(asyncio.get_running_loop().time(), message))

    def error_received(self, exc: Exception) -> None:
        log.warning("SDP socket error: %s", exc)


async def discover(*, interface: str | None = None, loopback: bool = False,
                   security: core.Security = core.Security.NONE, port: int = core.SDP_PORT,
                   max_requests: int = 50, interval: float = 0.25, accept_downgrade: bool = True,
                   tls_capable: bool = True, tracer: TraceSink | None = None,
                   hooks: Any = None) -> tuple[core.SDPResponse, int]:
    """Find the SECC: (its response, requests sent). Raises DiscoveryError after ``max_requests``.
    ``hooks``: the test system's (session.hooks.Hooks) on the SDP machine."""
    if loopback:
        sock = _udp_socket(("::1", 0), None)
        target: tuple = ("::1", port)
    elif interface:
        scope = if_index(interface)
        sock = _udp_socket((str(link_local_address(interface)), 0, 0, scope), interface)
        target = (str(core.SDP_MULTICAST), port, 0, scope)
    else:
        raise ValueError("give the interface to the charger, or loopback=True")
    client = core.SDPClient(security, max_requests=max_requests, interval=interval,
                            accept_downgrade=accept_downgrade, tls_capable=tls_capable)
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _ClientProtocol(client, target, _SDPTrace(tracer), hooks), sock=sock)
    try:
        response = await proto.done
    finally:
        for handle in proto.timers.values():
            handle.cancel()
        transport.close()
    if response.address.is_link_local and interface is None and not loopback:
        raise DiscoveryError("SECC gave a link-local address but no interface is known", client.attempts)
    return response, client.attempts
