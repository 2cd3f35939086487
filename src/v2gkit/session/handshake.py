"""The supportedAppProtocol handshake (ISO 15118-2 8.2, ISO 15118-20 8.3.1), sans-IO, both roles.

Both classes are protocol machines like the sessions (``start``/``receive``/``timer``, see ``events``): the
EVCC's ends with a :class:`Negotiated` output (the connection goes on with the session) or ``Closed``; the
handshake's own timeout runs inside (EVCC: V2G_EVCC_Msg_Timeout for the response; SECC: the time a new
connection has to send its request). ``request``/``response`` are the same steps as plain functions.

The EVCC lists the protocols it speaks, each with a SchemaID it chooses and a priority (1 = best); the
SECC answers with the SchemaID of the entry it picked, or Failed_NoNegotiation. Entries with namespaces
the SECC does not know (real cars offer e.g. ``urn:tesla:din:2018:MsgDef`` first) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import timing
from ..exi import api as exi
from ..exi.errors import ExiError
from ..exi.gen import apphand
from ..v2gtp import PayloadType
from .events import Closed, Message, Output, Reason, Received, Timer
from .events import Negotiated as _NegotiatedOutput
from .hooks import NO_HOOKS, Exit, Hooks

__all__ = [
    "DEFAULT_OFFER",
    "MAX_ENTRIES",
    "PROTOCOLS",
    "AppProtocol",
    "EVHandshake",
    "HandshakeError",
    "Negotiated",
    "Offer",
    "ResponseCode",
    "SECCHandshake",
    "build_request",
    "protocol_list",
    "select",
    "to_offer",
]

ResponseCode = apphand.responseCodeType
MAX_ENTRIES = 20  # [V2G2-167]: at most 20 entries, priorities 1..20


@dataclass(frozen=True, slots=True)
class AppProtocol:
    """A protocol as it appears in the handshake, and the EXI schema set its messages use."""

    name: str
    namespace: str
    major: int
    minor: int
    schema: str

    def __str__(self) -> str:
        return f"{self.name} ({self.namespace} {self.major}.{self.minor})"


#: What v2gkit speaks. ISO 15118-20 is offered per energy service namespace; its common messages
#: use the CommonMessages schema, the service-specific ones the namespace's own schema.
PROTOCOLS: dict[str, AppProtocol] = {p.name: p for p in (
    AppProtocol("iso20-dc", "urn:iso:std:iso:15118:-20:DC", 1, 0, "iso20-dc"),
    AppProtocol("iso20-ac", "urn:iso:std:iso:15118:-20:AC", 1, 0, "iso20-ac"),
    AppProtocol("iso20-wpt", "urn:iso:std:iso:15118:-20:WPT", 1, 0, "iso20-wpt"),
    AppProtocol("iso20-acdp", "urn:iso:std:iso:15118:-20:ACDP", 1, 0, "iso20-acdp"),
    AppProtocol("iso2", "urn:iso:15118:2:2013:MsgDef", 2, 0, "iso2"),
    AppProtocol("din", "urn:din:70121:2012:MsgDef", 2, 0, "din"),
)}

#: The EVCC's default offer, best first (issue 3): ISO 15118-20 DC and AC, ISO 15118-2, DIN 70121.
DEFAULT_OFFER: tuple[str, ...] = ("iso20-dc", "iso20-ac", "iso2", "din")


def protocol_list(names: str | Iterable[str | AppProtocol]) -> list[AppProtocol]:
    """``"din,iso2"`` or a sequence of names/AppProtocols -> AppProtocols, order kept; clear errors."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[AppProtocol] = []
    for n in names:
        p = n if isinstance(n, AppProtocol) else PROTOCOLS.get(n)
        if p is None:
            raise ValueError(f"unknown protocol {n!r}; choose from: {', '.join(PROTOCOLS)}")
        if p in out:
            raise ValueError(f"protocol {p.name} listed twice")
        out.append(p)
    if not out:
        raise ValueError("no protocols given")
    if len(out) > MAX_ENTRIES:
        raise ValueError(f"at most {MAX_ENTRIES} protocols can be offered")
    return out


@dataclass(frozen=True, slots=True)
class Offer:
    """One entry of the EVCC's list: a known protocol or any namespace (to test SECCs)."""

    namespace: str
    major: int
    minor: int
    schema_id: int
    priority: int


#: the handshake's result (protocol: AppProtocol, schema_id, response_code), an output of both machines
Negotiated = _NegotiatedOutput


class HandshakeError(Exception):
    """The handshake failed; ``response_code`` is set when the SECC answered."""

    def __init__(self, message: str, response_code: ResponseCode | None = None) -> None:
        super().__init__(message)
        self.response_code = response_code


def to_offer(p: AppProtocol, position: int) -> Offer:
    """The entry at 1-based ``position``: SchemaID and priority both follow the configured order."""
    return Offer(p.namespace, p.major, p.minor, position, position)


def build_request(offers: Sequence[AppProtocol | Offer]) -> apphand.supportedAppProtocolReqType:
    """The request for protocols in priority order; SchemaIDs count from 1 unless an Offer sets them."""
    entries = []
    for i, p in enumerate(offers, 1):
        if isinstance(p, AppProtocol):
            p = to_offer(p, i)
        entries.append(apphand.AppProtocolType(protocol_namespace=p.namespace, version_number_major=p.major,
                                               version_number_minor=p.minor, schema_id=p.schema_id,
                                               priority=p.priority))
    return apphand.supportedAppProtocolReqType(app_protocol=entries)


def select(req: apphand.supportedAppProtocolReqType, supported: Sequence[AppProtocol]
           ) -> tuple[apphand.supportedAppProtocolResType, Negotiated | None]:
    """The SECC's choice: the entry with the best (lowest) priority among those it supports with the
    same major version; a different minor version gives ...WithMinorDeviation. Ties keep list order."""
    by_ns = {p.namespace: p for p in supported}
    best: tuple[int, int, apphand.AppProtocolType, AppProtocol] | None = None
    for pos, e in enumerate(req.app_protocol or ()):
        p = by_ns.get(e.protocol_namespace)
        if p is None or e.version_number_major != p.major:
            continue
        key = (e.priority, pos)
        if best is None or key < best[:2]:
            best = (e.priority, pos, e, p)
    if best is None:
        return apphand.supportedAppProtocolResType(response_code=ResponseCode.Failed_NoNegotiation), None
    _, _, e, p = best
    code = (ResponseCode.OK_SuccessfulNegotiation if e.version_number_minor == p.minor
            else ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation)
    return (apphand.supportedAppProtocolResType(response_code=code, schema_id=e.schema_id),
            Negotiated(p, e.schema_id, code))


class EVHandshake:
    """EVCC side: ``request()`` gives the EXI payload to send; ``response(payload)`` the outcome."""

    def __init__(self, offer: str | Sequence[str | AppProtocol | Offer] = DEFAULT_OFFER, *,
                 timeout: float = timing.EVCC_SAP_TIMEOUT, hooks: Hooks | None = None) -> None:
        self.timeout = timeout
        self.exit = Exit(hooks or NO_HOOKS)
        self._incoming = (hooks or NO_HOOKS).incoming
        self._done = False
        if isinstance(offer, str):
            offer = protocol_list(offer)
        self.offers = [o if isinstance(o, Offer) else to_offer(protocol_list([o])[0], i)
                       for i, o in enumerate(offer, 1)]
        if not 1 <= len(self.offers) <= MAX_ENTRIES:
            raise ValueError(f"offer 1 to {MAX_ENTRIES} protocols, not {len(self.offers)}")
        self.request_message = build_request(self.offers)
        known = {(p.namespace, p.major): p for p in PROTOCOLS.values()}
        # SchemaID -> protocol we would speak (None: offered but not speakable, e.g. a test namespace)
        self._by_id = {o.schema_id: known.get((o.namespace, o.major)) for o in self.offers}
        self.result: Negotiated | None = None

    def request(self) -> bytes:
        return exi.encode(self.request_message)

    # -- as a protocol machine ------------------------------------------------------------------
    def start(self, now: float) -> list[Output]:
        return [*self.exit.send(now, "supportedAppProtocolReq", self.request_message, _encode),
                Timer("handshake", self.timeout)]

    def timer(self, now: float, name: str) -> list[Output]:
        held = self.exit.timer(now, name)
        if held is not None:
            return held
        if name != "handshake" or self._done:
            return []
        return self._finish([Closed(Reason.HANDSHAKE_TIMEOUT, f"no supportedAppProtocolRes within {self.timeout:g} s")])

    def receive(self, now: float, message: Message) -> list[Output]:
        if self._done:
            return []
        if self._incoming is not None:
            message = self._incoming(now, message)
            if message is None:
                return []
        if message.payload_type != PayloadType.EXI:
            return self._finish([Closed(Reason.WRONG_MESSAGE, f"supportedAppProtocolRes came with payload type "
                                                              f"0x{message.payload_type:04X}")])
        try:
            negotiated = self.response(message.payload)
        except HandshakeError as e:
            reason = Reason.NO_NEGOTIATION if e.response_code is not None else Reason.UNDECODABLE
            return self._finish([Closed(reason, f"handshake: {e}")])
        return self._finish([Received("supportedAppProtocolRes", self.response_message), negotiated])

    def _finish(self, out: list[Output]) -> list[Output]:
        self._done = True
        return [*self.exit.cancel(), Timer("handshake", None), *out]

    def response(self, payload: bytes) -> Negotiated:
        """Check the SECC's answer; raises HandshakeError saying what is wrong."""
        try:
            name, res = exi.decode_element(payload, "apphand")
        except ExiError as e:
            raise HandshakeError(f"supportedAppProtocolRes does not decode: {e}") from None
        if name != "supportedAppProtocolRes":
            raise HandshakeError(f"expected supportedAppProtocolRes, got {name}")
        self.response_message = res
        code = res.response_code
        if code == ResponseCode.Failed_NoNegotiation:
            raise HandshakeError("SECC supports none of the offered protocols (Failed_NoNegotiation)", code)
        if res.schema_id is None:
            raise HandshakeError(f"{code.name} without a SchemaID", code)
        if res.schema_id not in self._by_id:
            raise HandshakeError(f"SECC chose SchemaID {res.schema_id}, which was not offered "
                                 f"(offered: {sorted(self._by_id)})", code)
        proto = self._by_id[res.schema_id]
        if proto is None:
            raise HandshakeError(f"SECC chose SchemaID {res.schema_id}, a namespace v2gkit cannot speak", code)
        self.result = Negotiated(proto, res.schema_id, code)
        return self.result


class SECCHandshake:
    """SECC side: ``request(payload)`` -> (response payload, outcome or None). A request that does not
    decode gets no answer (``None``, the caller closes the connection)."""

    def __init__(self, supported: Sequence[AppProtocol] | str = DEFAULT_OFFER, *,
                 timeout: float = timing.SECC_SESSION_START_TIMEOUT, hooks: Hooks | None = None) -> None:
        # an empty list is allowed: every request then gets Failed_NoNegotiation
        self.supported = protocol_list(supported) if isinstance(supported, str) or supported else []
        self.result: Negotiated | None = None
        self.error: str | None = None
        self.timeout = timeout
        self.exit = Exit(hooks or NO_HOOKS)
        self._incoming = (hooks or NO_HOOKS).incoming
        self._done = False
        self._request_message: apphand.supportedAppProtocolReqType | None = None
        self._response_message: apphand.supportedAppProtocolResType | None = None

    # -- as a protocol machine ------------------------------------------------------------------
    def start(self, now: float) -> list[Output]:
        """The connection is up: the request must come within ``timeout``."""
        return [Timer("handshake", self.timeout)]

    def timer(self, now: float, name: str) -> list[Output]:
        held = self.exit.timer(now, name)
        if held is not None:
            return held
        if name != "handshake" or self._done:
            return []
        return self._finish([Closed(Reason.HANDSHAKE_TIMEOUT, f"no supportedAppProtocolReq within {self.timeout:g} s")])

    def receive(self, now: float, message: Message) -> list[Output]:
        """The request: answered (then Negotiated, or Closed with Failed_NoNegotiation), or, when it does not
        decode, closed without an answer."""
        if self._done:
            return []
        if self._incoming is not None:
            message = self._incoming(now, message)
            if message is None:
                return []
        if message.payload_type != PayloadType.EXI:
            self.error = f"payload type 0x{message.payload_type:04X} before the handshake"
            return self._finish([Closed(Reason.WRONG_MESSAGE, self.error)])
        payload, outcome = self.request(message.payload)
        if payload is None:
            return self._finish([Closed(Reason.UNDECODABLE, self.error or "")])
        out: list[Output] = [Received("supportedAppProtocolReq", self._request_message)]
        out += self.exit.send(now, "supportedAppProtocolRes", self._response_message, _encode)
        if outcome is None:
            return self._finish(out + [Closed(Reason.NO_NEGOTIATION, self.error or "")])
        return self._finish(out + [outcome])

    def _finish(self, out: list[Output]) -> list[Output]:
        self._done = True
        return [*self.exit.cancel(), Timer("handshake", None), *out]

    def request(self, payload: bytes) -> tuple[bytes | None, Negotiated | None]:
        try:
            name, req = exi.decode_element(payload, "apphand")
        except ExiError as e:
            self.error = f"supportedAppProtocolReq does not decode: {e}"
            return None, None
        if name != "supportedAppProtocolReq":
            self.error = f"expected supportedAppProtocolReq, got {name}"
            return None, None
        res, outcome = select(req, self.supported)
        self._request_message, self._response_message = req, res
        self.result = outcome
        if outcome is None:
            offered = ", ".join(f"{e.protocol_namespace} {e.version_number_major}.{e.version_number_minor}"
                                for e in req.app_protocol or ())
            self.error = f"no common protocol; EVCC offered: {offered}"
        return exi.encode(res), outcome


def _encode(name: str, body: object) -> tuple[int, bytes]:
    return PayloadType.EXI, exi.encode(body)
