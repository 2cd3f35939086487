"""SECC Discovery Protocol (ISO 15118-2 7.10, ISO 15118-20 8.x): messages and sans-IO client and server.

The EVCC multicasts an SDP request (wanted security, transport) to ff02::1 port 15118; the SECC answers
with its address, TCP port, and the security and transport it will use. Neither object here touches a
socket or a clock: they take datagrams and timer expiries and return what to send and when.

Both are protocol machines with the one interface of ``session/events.py`` (``start``, ``receive(now,
V2GTPMessage)``, ``timer``; outputs ``Send`` with payload type 0x9000/0x9001, ``Timer``, ``Received``,
``Event``, ``Closed``) and take the test system's ``Hooks`` (outgoing, incoming). The client ends with
``Closed(Reason.DISCOVERED)`` after the ``Received`` SDPRes, or ``Closed(Reason.NO_ANSWER)``.
``start()``/``datagram_received``/``timer_expired`` with the older outputs (SendRequest, StartTimer,
Discovered, ...) remain for callers of the plain steps; both run the same logic.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from typing import Union

from .v2gtp import PayloadType, V2GTPError, decode_datagram, frame

__all__ = [
    "DYNAMIC_PORTS",
    "SDP_MULTICAST",
    "SDP_PORT",
    "DiagStatus",
    "Discovered",
    "DiscoveryFailed",
    "Ignored",
    "SDPClient",
    "SDPClientMachine",
    "SDPError",
    "SDPRequest",
    "SDPResponse",
    "SDPServer",
    "SDPServerMachine",
    "Security",
    "SecurityPolicy",
    "SendRequest",
    "StartTimer",
    "Transport",
    "WirelessSDPRequest",
    "WirelessSDPResponse",
    "parse_request",
    "parse_response",
    "parse_wireless_request",
    "parse_wireless_response",
]

SDP_PORT = 15118
#: the SECC's TCP/TLS server port comes from the dynamic range (IANA; Josev rejects others)
DYNAMIC_PORTS = range(49152, 65536)
SDP_MULTICAST = ipaddress.IPv6Address("ff02::1")
REQUEST_SIZE = 2
RESPONSE_SIZE = 20


class Security(enum.IntEnum):
    TLS = 0x00
    NONE = 0x10


class Transport(enum.IntEnum):
    TCP = 0x00
    UDP = 0x10  # reserved; no V2G session runs over UDP


class SDPError(ValueError):
    """An SDP datagram that cannot be used."""


@dataclass(frozen=True, slots=True)
class SDPRequest:
    security: Security = Security.NONE
    transport: Transport = Transport.TCP

    def to_bytes(self) -> bytes:
        """The whole datagram, V2GTP header included."""
        return frame(PayloadType.SDP_REQUEST, bytes((self.security, self.transport)))


@dataclass(frozen=True, slots=True)
class SDPResponse:
    address: ipaddress.IPv6Address
    port: int
    security: Security
    transport: Transport = Transport.TCP

    def to_bytes(self) -> bytes:
        payload = self.address.packed + self.port.to_bytes(2, "big") + bytes((self.security, self.transport))
        return frame(PayloadType.SDP_RESPONSE, payload)


WIRELESS_REQUEST_SIZE = 61
WIRELESS_RESPONSE_SIZE = 58
EVID_SIZE, EVSEID_SIZE = 20, 36


class DiagStatus(enum.IntEnum):
    """Wireless SDP response: how far the SECC got in finding the EV's parking space."""

    ONGOING = 0x00
    FINISHED_WITH_EVSEID = 0x01
    FINISHED_WITHOUT_EVSEID = 0x02
    ERROR_NO_SECC = 0x10


def _fixed_id(text: str, size: int, what: str) -> bytes:
    """IDs travel as fixed-size ASCII, right-justified and padded with '0' (ISO 15118-20 wireless SDP)."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise SDPError(f"{what} {text!r} is not ASCII") from None
    if len(raw) > size:
        raise SDPError(f"{what} {text!r} is longer than {size} characters")
    return raw.rjust(size, b"0")


def _id_text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("ascii", "replace")


@dataclass(frozen=True, slots=True)
class WirelessSDPRequest:
    """ISO 15118-20 SDP for wireless links (WPT, ACDP): also says how the EV wants to couple."""

    security: Security
    transport: Transport
    p2ps_ppd: int  # 16-bit flags: positioning and pairing methods the EV supports
    coupling_type: int
    evid: str = "ZZ00000"
    evseid: str = ""

    def to_bytes(self) -> bytes:
        payload = (bytes((self.security, self.transport)) + self.p2ps_ppd.to_bytes(2, "big")
                   + bytes((self.coupling_type,)) + _fixed_id(self.evid, EVID_SIZE, "EVID")
                   + _fixed_id(self.evseid, EVSEID_SIZE, "EVSEID"))
        return frame(PayloadType.SDP_REQUEST_WIRELESS, payload)


@dataclass(frozen=True, slots=True)
class WirelessSDPResponse:
    address: ipaddress.IPv6Address
    port: int
    security: Security
    transport: Transport
    diag_status: DiagStatus
    coupling_type: int
    evseid: str = ""

    def to_bytes(self) -> bytes:
        payload = (self.address.packed + self.port.to_bytes(2, "big") + bytes((self.security, self.transport))
                   + bytes((self.diag_status, self.coupling_type)) + _fixed_id(self.evseid, EVSEID_SIZE, "EVSEID"))
        return frame(PayloadType.SDP_RESPONSE_WIRELESS, payload)


def _enum(cls: type[enum.IntEnum], value: int, what: str) -> enum.IntEnum:
    try:
        return cls(value)
    except ValueError:
        raise SDPError(f"{what} 0x{value:02X} is reserved (allowed: "
                       + ", ".join(f"0x{m.value:02X} {m.name}" for m in cls) + ")") from None


def parse_request(datagram: bytes) -> SDPRequest:
    p = _payload(datagram, PayloadType.SDP_REQUEST, REQUEST_SIZE, "SDP request")
    return SDPRequest(_enum(Security, p[0], "security"), _enum(Transport, p[1], "transport protocol"))  # type: ignore[arg-type]


def _payload(datagram: bytes, ptype: PayloadType, size: int, what: str) -> bytes:
    try:
        msg = decode_datagram(datagram, (ptype,))
    except V2GTPError as e:
        raise SDPError(str(e)) from None
    if len(msg.payload) != size:
        raise SDPError(f"{what} payload must be {size} bytes, got {len(msg.payload)}")
    return msg.payload


def parse_wireless_request(datagram: bytes) -> WirelessSDPRequest:
    p = _payload(datagram, PayloadType.SDP_REQUEST_WIRELESS, WIRELESS_REQUEST_SIZE, "wireless SDP request")
    return WirelessSDPRequest(_enum(Security, p[0], "security"), _enum(Transport, p[1], "transport protocol"),  # type: ignore[arg-type]
                              int.from_bytes(p[2:4], "big"), p[4], _id_text(p[5:25]), _id_text(p[25:61]))


def parse_wireless_response(datagram: bytes) -> WirelessSDPResponse:
    p = _payload(datagram, PayloadType.SDP_RESPONSE_WIRELESS, WIRELESS_RESPONSE_SIZE, "wireless SDP response")
    base = _response_fields(p)
    return WirelessSDPResponse(*base, _enum(DiagStatus, p[20], "DiagStatus"), p[21], _id_text(p[22:58]))  # type: ignore[arg-type]


def parse_response(datagram: bytes) -> SDPResponse:
    return SDPResponse(*_response_fields(_payload(datagram, PayloadType.SDP_RESPONSE, RESPONSE_SIZE, "SDP response")))


def _response_fields(p: bytes) -> tuple:
    addr = ipaddress.IPv6Address(p[:16])
    if addr.is_multicast or addr.is_unspecified:
        raise SDPError(f"SECC address {addr} is not a unicast address")
    port = int.from_bytes(p[16:18], "big")
    if port == 0:
        raise SDPError("SECC port is 0")
    return addr, port, _enum(Security, p[18], "security"), _enum(Transport, p[19], "transport protocol")


# --------------------------------------------------------------------------------------------- client
@dataclass(frozen=True, slots=True)
class SendRequest:
    """Send this datagram to ff02::1 (or the loopback target) port 15118."""

    datagram: bytes
    attempt: int


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Call ``timer_expired()`` after ``delay`` seconds unless an answer came first."""

    delay: float


@dataclass(frozen=True, slots=True)
class Discovered:
    response: SDPResponse
    attempts: int


@dataclass(frozen=True, slots=True)
class DiscoveryFailed:
    reason: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """A datagram the client or server dropped, and why (for logs)."""

    reason: str


ClientOutput = Union[SendRequest, StartTimer, Discovered, DiscoveryFailed, Ignored]


class ClientState(enum.Enum):
    IDLE = "idle"
    WAITING = "waiting for an SDP response"
    DISCOVERED = "discovered"
    FAILED = "failed"


class SDPClient:
    """EVCC side: up to ``max_requests`` requests ``interval`` seconds apart; the first valid answer wins.

    ``accept_downgrade``: take a no-TLS answer to a TLS request (ISO 15118-2 lets an SECC without TLS
    answer so; the EVCC decides). ``tls_capable``: take a TLS answer to a no-TLS request (we can do TLS).
    """

    def __init__(self, security: Security = Security.NONE, *, max_requests: int = 50,
                 interval: float = 0.25, accept_downgrade: bool = True, tls_capable: bool = True) -> None:
        if max_requests < 1 or interval <= 0:
            raise ValueError("max_requests must be >= 1 and interval > 0")
        self.request = SDPRequest(security, Transport.TCP)
        self.max_requests = max_requests
        self.interval = interval
        self.accept_downgrade = accept_downgrade
        self.tls_capable = tls_capable
        self.state = ClientState.IDLE
        self.attempts = 0
        self.result: SDPResponse | None = None

    def start(self) -> list[ClientOutput]:
        if self.state is not ClientState.IDLE:
            raise RuntimeError(f"SDP client already started ({self.state.value})")
        self.state = ClientState.WAITING
        return self._send()

    def _send(self) -> list[ClientOutput]:
        self.attempts += 1
        return [SendRequest(self.request.to_bytes(), self.attempts), StartTimer(self.interval)]

    def timer_expired(self) -> list[ClientOutput]:
        if self.state is not ClientState.WAITING:
            return []
        if self.attempts >= self.max_requests:
            self.state = ClientState.FAILED
            return [DiscoveryFailed(f"no valid SDP response after {self.attempts} requests "
                                    f"{self.interval:g} s apart", self.attempts)]
        return self._send()

    def datagram_received(self, datagram: bytes) -> list[ClientOutput]:
        if self.state is not ClientState.WAITING:
            return [Ignored(f"SDP datagram while {self.state.value}")]
        try:
            res = parse_response(datagram)
        except SDPError as e:
            return [Ignored(str(e))]
        problem = self._check(res)
        if problem:
            return [Ignored(problem)]
        self.state = ClientState.DISCOVERED
        self.result = res
        return [Discovered(res, self.attempts)]

    def _check(self, res: SDPResponse) -> str | None:
        if res.transport is not Transport.TCP:
            return f"SECC offers transport {res.transport.name}; only TCP is defined"
        if res.security is Security.NONE and self.request.security is Security.TLS and not self.accept_downgrade:
            return "SECC answered without TLS to a TLS request and downgrade is not allowed"
        if res.security is Security.TLS and self.request.security is Security.NONE and not self.tls_capable:
            return "SECC insists on TLS and this EVCC has no TLS configuration"
        return None


# --------------------------------------------------------------------------------------------- server
class SecurityPolicy(enum.Enum):
    """How an SECC answers the security an EVCC asks for."""

    #: offer what was asked for (both TLS and TCP listeners exist)
    ECHO = "echo"
    #: always TLS
    TLS_ONLY = "tls"
    #: always plain TCP (downgrades a TLS request: ISO 15118-4 TC_SECC_CMN_VTB_SDP_007)
    NONE_ONLY = "none"


@dataclass
class SDPServer:
    """SECC side: one answer per valid request, none once stopped (communication setup timed out)."""

    address: ipaddress.IPv6Address
    ports: dict[Security, int]
    policy: SecurityPolicy = SecurityPolicy.ECHO
    #: answer wireless SDP (ISO 15118-20 WPT/ACDP) with this coupling type and EVSEID; None: drop it
    wireless: tuple[int, str] | None = None
    enabled: bool = True
    answered: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        needed = {SecurityPolicy.ECHO: (Security.TLS, Security.NONE), SecurityPolicy.TLS_ONLY: (Security.TLS,),
                  SecurityPolicy.NONE_ONLY: (Security.NONE,)}[self.policy]
        missing = [s.name for s in needed if not self.ports.get(s)]
        if missing:
            raise ValueError(f"SDP policy {self.policy.value!r} needs a listening port for: {', '.join(missing)}")

    def choose(self, requested: Security) -> Security:
        if self.policy is SecurityPolicy.TLS_ONLY:
            return Security.TLS
        if self.policy is SecurityPolicy.NONE_ONLY:
            return Security.NONE
        return requested

    def datagram_received(self, datagram: bytes) -> tuple[bytes | None, str]:
        """(response datagram or None, what happened) for one incoming datagram."""
        if not self.enabled:
            return None, "SDP server stopped"
        wireless = datagram[2:4] == PayloadType.SDP_REQUEST_WIRELESS.to_bytes(2, "big")
        try:
            req = parse_wireless_request(datagram) if wireless else parse_request(datagram)
        except SDPError as e:
            return None, f"dropped: {e}"
        if req.transport is not Transport.TCP:
            return None, "dropped: only TCP is offered"
        sec = self.choose(req.security)
        res: SDPResponse | WirelessSDPResponse
        if isinstance(req, WirelessSDPRequest):
            if self.wireless is None:
                return None, "dropped: wireless SDP is not offered here"
            coupling, evseid = self.wireless
            res = WirelessSDPResponse(self.address, self.ports[sec], sec, Transport.TCP,
                                      DiagStatus.FINISHED_WITH_EVSEID if evseid else DiagStatus.FINISHED_WITHOUT_EVSEID,
                                      coupling, evseid)
        else:
            res = SDPResponse(self.address, self.ports[sec], sec, Transport.TCP)
        self.answered += 1
        return res.to_bytes(), f"asked {req.security.name}, answered {sec.name} port {res.port}"

    def stop(self) -> None:
        self.enabled = False


# ------------------------------------------------------------------------------ as protocol machines
def _machine_imports() -> tuple:
    from .session import events, hooks  # sdp sits below session: imported when a machine is used
    return events, hooks


class SDPClientMachine:
    """The EVCC's SDP as a protocol machine (one interface with the sessions; hooks for test systems)."""

    def __init__(self, client: SDPClient, hooks: object | None = None) -> None:
        events, hk = _machine_imports()
        self.client = client
        self._ev = events
        self.hooks = hooks or hk.NO_HOOKS
        self.exit = hk.Exit(self.hooks)
        self.ignored: list[str] = []

    def _encode(self, name: str, body: object) -> tuple[int, bytes]:
        return PayloadType.SDP_REQUEST, self.client.request.to_bytes()[8:] if body is self.client.request \
            else body.to_bytes()[8:]  # type: ignore[attr-defined]

    def _outputs(self, now: float, legacy: list) -> list:
        ev, out = self._ev, []
        for o in legacy:
            if isinstance(o, SendRequest):
                out += self.exit.send(now, "SDPReq", self.client.request, self._encode)
            elif isinstance(o, StartTimer):
                out.append(ev.Timer("sdp", o.delay))
            elif isinstance(o, Discovered):
                out += [ev.Received("SDPRes", o.response, PayloadType.SDP_RESPONSE), ev.Timer("sdp", None),
                        ev.Closed(ev.Reason.DISCOVERED, f"after {o.attempts} request(s)")]
            elif isinstance(o, DiscoveryFailed):
                why = o.reason + (f"; ignored: {self.ignored[-1]}" if self.ignored else "")
                out.append(ev.Closed(ev.Reason.NO_ANSWER, why))
            elif isinstance(o, Ignored):
                self.ignored.append(o.reason)
                out.append(ev.Event("sdp_ignored", {"reason": o.reason}))
        return out

    def start(self, now: float) -> list:
        return self._outputs(now, self.client.start())

    def timer(self, now: float, name: str) -> list:
        held = self.exit.timer(now, name)
        if held is not None:
            return held
        return self._outputs(now, self.client.timer_expired()) if name == "sdp" else []

    def receive(self, now: float, message: object) -> list:
        hook = self.hooks.incoming  # type: ignore[attr-defined]
        if hook is not None:
            message = hook(now, message)
            if message is None:
                return []
        return self._outputs(now, self.client.datagram_received(message.to_bytes()))  # type: ignore[attr-defined]


class SDPServerMachine:
    """The SECC's SDP as a protocol machine: each request gets its answer (``Send`` 0x9001/0x9003) or an
    ``Event`` saying why none. It never closes; ``SDPServer.stop`` silences it."""

    def __init__(self, server: SDPServer, hooks: object | None = None) -> None:
        events, hk = _machine_imports()
        self.server = server
        self._ev = events
        self.hooks = hooks or hk.NO_HOOKS
        self.exit = hk.Exit(self.hooks)

    def start(self, now: float) -> list:
        return []

    def timer(self, now: float, name: str) -> list:
        held = self.exit.timer(now, name)
        return held if held is not None else []

    def receive(self, now: float, message: object) -> list:
        hook = self.hooks.incoming  # type: ignore[attr-defined]
        if hook is not None:
            message = hook(now, message)
            if message is None:
                return []
        answer, what = self.server.datagram_received(message.to_bytes())  # type: ignore[attr-defined]
        if answer is None:
            return [self._ev.Event("sdp_dropped", {"reason": what})]
        pt = int.from_bytes(answer[2:4], "big")
        res = (parse_wireless_response if pt == PayloadType.SDP_RESPONSE_WIRELESS else parse_response)(answer)

        def encode(name: str, body: object) -> tuple[int, bytes]:
            return pt, body.to_bytes()[8:]  # type: ignore[attr-defined]

        return self.exit.send(now, "SDPRes", res, encode)
