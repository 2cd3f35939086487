"""The one interface of every protocol machine (app handshake, DIN/ISO 15118-2 and ISO 15118-20 sessions):
what goes in, what comes out. Defined once; the runners (asyncio, simulated clock) and the test system know
nothing else.

In: ``start(now)``, ``receive(now, message)`` with a :class:`~v2gkit.v2gtp.V2GTPMessage` (payload type and
payload: ISO 15118-20 mixes 0x8002 with 0x8003/0x8004 and the 0x81xx side streams on one connection) and
``timer(now, name)`` when a timer the machine started expires. ``now`` is any monotonic clock in seconds.

Out: a list of :class:`Send` (a message for the wire, with its payload type and decoded body, which is also
the "sent" event), :class:`Timer` (start or cancel), :class:`Received` (the decoded message that came in),
:class:`Event` (anything else worth logging or showing), :class:`Negotiated` (the handshake's result: the
connection goes on with a session machine) and :class:`Closed` (the end, with a :class:`Reason`).

h11's lesson: our own faults and the peer's are different things. ``Reason.local`` says which side broke
the rules; a policy or controller raising is never reported as the peer's error.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol, Self

from ..v2gtp import PayloadType, V2GTPMessage

__all__ = ["Closed", "Disconnect", "Event", "Machine", "Message", "Negotiated", "Output", "Reason", "Received",
           "Send", "Timer", "V2GTPMessage", "Watcher", "Write"]

#: what a machine receives: the V2GTP message (payload type, payload)
Message = V2GTPMessage


class Reason(enum.Enum):
    """Why a machine closed. Each member knows whether the session ended as the protocol intends (``ok``)
    and whether it ended by our own fault (``local``) rather than the peer's or the world's."""

    def __new__(cls, text: str, ok: bool = False, local: bool = False) -> Self:
        obj = object.__new__(cls)
        obj._value_ = text
        obj.ok, obj.local = ok, local
        return obj

    ok: bool
    local: bool

    # -- ended as intended
    TERMINATED = ("terminated", True)
    PAUSED = ("paused", True)
    DISCOVERED = ("discovered", True)  # SDP: the SECC answered (the Received SDPRes before it says how)
    # -- the peer broke the rules or answered with an error (remote faults)
    UNDECODABLE = "undecodable message"
    WRONG_MESSAGE = "wrong message"  # a response to the SECC, a request to the EVCC, not the awaited response
    SEQUENCE_ERROR = "out of sequence"
    UNKNOWN_SESSION = "unknown SessionID"
    REFUSED = "request refused"  # the SECC answered FAILED_* (unusable or unacceptable request)
    FAILED_RESPONSE = "FAILED response"  # the EVCC received FAILED_*
    GAVE_UP = "nothing usable offered"  # the EV ended with SessionStop: no payment option or mode fits
    UNUSABLE = "unusable message"  # schema-valid, but without what the session needs (e.g. the other control mode)
    NO_ANSWER = "no answer"  # SDP: no valid SDP response to any request
    # -- time ran out on the peer
    SEQUENCE_TIMEOUT = "sequence timeout"
    MESSAGE_TIMEOUT = "message timeout"
    ONGOING_TIMEOUT = "ongoing timeout"
    HANDSHAKE_TIMEOUT = "handshake timeout"
    # -- the app handshake found nothing to speak
    NO_NEGOTIATION = "no common protocol"
    NO_SESSION = "no session for the negotiated protocol"
    # -- the connection
    PEER_CLOSED = "peer closed"
    CONNECTION_LOST = "connection lost"
    # -- ours
    INTERNAL_ERROR = ("internal error", False, True)
    RULES_BROKEN = ("our message breaks the rules", False, True)  # an EVCC plan asked for a forbidden request


@dataclass(frozen=True, slots=True)
class Send:
    """A message for the wire. ``name`` as the standard writes it ("CurrentDemandReq"); ``body`` the decoded
    message (None for raw bytes a test hook put on the wire)."""

    payload: bytes
    name: str
    body: Any
    payload_type: int = PayloadType.EXI


@dataclass(frozen=True, slots=True)
class Timer:
    """Start (``delay`` seconds) or cancel (``delay`` None) the timer ``name``."""

    name: str
    delay: float | None


@dataclass(frozen=True, slots=True)
class Received:
    """A message came in and decoded: ``name`` ("SessionSetupReq") and its body, before any checks."""

    name: str
    body: Any
    payload_type: int = PayloadType.EXI


@dataclass(frozen=True, slots=True)
class Event:
    """Anything else for logs and live views (``internal_error``, ``hook``, ...)."""

    name: str
    data: dict


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The app handshake's result: the connection carries ``protocol`` from now on. ``protocol`` is a
    handshake.AppProtocol; ``response_code`` the SAP response code."""

    protocol: Any
    schema_id: int
    response_code: Any


@dataclass(frozen=True, slots=True)
class Closed:
    """The machine is done; the connection closes. ``detail`` says what happened in words."""

    reason: Reason
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason.ok

    @property
    def local(self) -> bool:
        return self.reason.local

    @property
    def text(self) -> str:
        return self.detail or self.reason.value


@dataclass(frozen=True, slots=True)
class Write:
    """Bytes for the stream exactly as given: no V2GTP header is added (a test system's broken headers,
    split and merged frames). Only the test system's emulator emits it; ``name`` says what it is for logs."""

    data: bytes
    name: str = "raw"


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection now (``reset``: with a TCP RST, SO_LINGER 0), but keep running the machine:
    a test system goes on watching its timers after it hung up. Only the emulator emits it."""

    reset: bool = False


Output = Send | Timer | Received | Event | Negotiated | Closed | Write | Disconnect


class Machine(Protocol):
    """Every protocol machine; see the module docstring. A session machine also names the controllers it
    drives (``hardware``, a tuple): the runner advances them (``step(dt)``) before each message and timer."""

    def start(self, now: float) -> list[Output]: ...
    def receive(self, now: float, message: Message) -> list[Output]: ...
    def timer(self, now: float, name: str) -> list[Output]: ...


class Watcher(Machine, Protocol):
    """A machine that wants to know when the peer closed the connection, instead of ending with it (the test
    system's emulator: a conformance case checks *that* and *when* the SUT closed). Runners call
    ``peer_closed`` and keep feeding its timers until it emits ``Closed``."""

    def peer_closed(self, now: float, detail: str) -> list[Output]: ...
