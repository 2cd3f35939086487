"""The protocol core of ISO 15118-20 sessions (AC, DC, bidirectional), shared by both roles.

Like the DIN/ISO-2 core it holds the rules (``NEXT``: which requests may follow each response, checked by the
SECC against the peer and by the EVCC against its own plan), the SessionID, the codec and the one exit for
outgoing messages; it does not know its role. What -20 adds: every message carries its own header (SessionID
and TimeStamp), messages travel under several V2GTP payload types (0x8002 common, 0x8003 AC, 0x8004 DC), a
response code of the FAILED family ends the session on both sides while a WARNING_* one does not, and the
SECC's sequence timeout is 0.5 s after a charge-loop answer instead of 60 s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ... import timing
from ..events import Message, Output
from ..hooks import NO_HOOKS, Exit, Hooks
from . import messages as msg
from .messages import Decoded, MessageError

__all__ = ["KINDS", "NEXT", "Core", "MessageError"]

_STOP = frozenset({"SessionStop"})

#: After a response to <key>, the next request must be one of these (ISO 15118-20 8.6.4, the requirement IDs
#: are in the issue-10 notes; keys carry the outcome and the energy kind where it matters). An unexpected
#: request is answered with FAILED_SequenceError in its own response type ([V2G20-538]). SessionStop is
#: allowed whenever no power flows; in the charge loop the EV must first send PowerDelivery(Stop).
NEXT: dict[str, frozenset[str]] = {
    "Start": frozenset({"SessionSetup"}),
    "SessionSetup": frozenset({"AuthorizationSetup"}) | _STOP,
    # a paused session rejoined (OK_OldSessionJoined): no authorization, no services ([V2G20-1032])
    "SessionSetup:Resumed:DC": frozenset({"DC_ChargeParameterDiscovery"}) | _STOP,
    "SessionSetup:Resumed:AC": frozenset({"AC_ChargeParameterDiscovery"}) | _STOP,
    "AuthorizationSetup": frozenset({"Authorization", "CertificateInstallation"}) | _STOP,
    "CertificateInstallation": frozenset({"CertificateInstallation", "Authorization"}) | _STOP,
    "Authorization:Ongoing": frozenset({"Authorization"}) | _STOP,
    # Finished with a WARNING_*: another attempt (another contract, EIM, a certificate installation)
    "Authorization:Warning": frozenset({"Authorization", "CertificateInstallation"}) | _STOP,
    "Authorization:Finished": frozenset({"ServiceDiscovery"}) | _STOP,
    "ServiceDiscovery": frozenset({"ServiceDetail"}) | _STOP,
    "ServiceDetail": frozenset({"ServiceDetail", "ServiceSelection"}) | _STOP,
    "ServiceSelection:DC": frozenset({"DC_ChargeParameterDiscovery"}) | _STOP,
    "ServiceSelection:AC": frozenset({"AC_ChargeParameterDiscovery"}) | _STOP,
    "DC_ChargeParameterDiscovery": frozenset({"ScheduleExchange"}) | _STOP,
    "AC_ChargeParameterDiscovery": frozenset({"ScheduleExchange"}) | _STOP,
    "ScheduleExchange:Ongoing": frozenset({"ScheduleExchange"}) | _STOP,
    "ScheduleExchange:Finished:DC": frozenset({"DC_CableCheck"}) | _STOP,
    "ScheduleExchange:Finished:AC": frozenset({"PowerDelivery"}) | _STOP,
    # after PowerDelivery(ScheduleRenegotiation): the new schedule goes into force with PowerDelivery(Start)
    "ScheduleExchange:Renegotiated": frozenset({"PowerDelivery"}),
    "DC_CableCheck:Ongoing": frozenset({"DC_CableCheck"}) | _STOP,
    "DC_CableCheck:Finished": frozenset({"DC_PreCharge"}) | _STOP,
    "DC_PreCharge": frozenset({"DC_PreCharge", "PowerDelivery"}) | _STOP,
    "PowerDelivery:Ongoing": frozenset({"PowerDelivery"}) | _STOP,
    "PowerDelivery:Start:DC": frozenset({"DC_ChargeLoop"}),
    "PowerDelivery:Start:AC": frozenset({"AC_ChargeLoop"}),
    # standby granted or not (WARNING_StandbyNotAllowed): the loop goes on, or the EV stops/renegotiates
    "PowerDelivery:Standby:DC": frozenset({"DC_ChargeLoop", "PowerDelivery"}),
    "PowerDelivery:Standby:AC": frozenset({"AC_ChargeLoop", "PowerDelivery"}),
    "PowerDelivery:ScheduleRenegotiation": frozenset({"ScheduleExchange"}),
    "PowerDelivery:Stop:DC": frozenset({"DC_WeldingDetection"}) | _STOP,
    "PowerDelivery:Stop:AC": _STOP,
    "DC_ChargeLoop": frozenset({"DC_ChargeLoop", "PowerDelivery", "MeteringConfirmation"}),
    "AC_ChargeLoop": frozenset({"AC_ChargeLoop", "PowerDelivery", "MeteringConfirmation"}),
    "MeteringConfirmation:DC": frozenset({"DC_ChargeLoop", "PowerDelivery"}),
    "MeteringConfirmation:AC": frozenset({"AC_ChargeLoop", "PowerDelivery"}),
    "DC_WeldingDetection": frozenset({"DC_WeldingDetection"}) | _STOP,
    "SessionStop": frozenset(),
    # SessionStop(ServiceRenegotiation): the same connection goes back to ServiceDiscovery ([V2G20-1643])
    "SessionStop:ServiceRenegotiation": frozenset({"ServiceDiscovery"}),
}

#: the requests whose answers the SECC must give within 0.25 s, and after whose answers it waits only 0.5 s
CHARGE_LOOPS = frozenset({"AC_ChargeLoop", "DC_ChargeLoop", "WPT_ChargeLoop"})


#: the negotiated -20 namespaces (handshake.PROTOCOLS names) -> the energy kind in the rules' keys
KINDS = {"iso20-dc": "DC", "iso20-ac": "AC", "iso20-wpt": "WPT", "iso20-acdp": "ACDP"}


class Core:
    """One -20 session's rules, SessionID, codec and exit. ``protocol`` is the negotiated namespace's name
    (iso20-dc, iso20-ac, iso20-wpt, iso20-acdp: it names the energy kind). ``rules`` is the service's table
    (default ``NEXT``, for AC and DC; WPT and ACDP bring their own); the test system's ``hooks.rules`` win.
    The header's TimeStamp comes from ``hooks.wall_clock(now)`` (seconds since 1970; a test system fixes it
    like ``random_bytes``)."""

    def __init__(self, protocol: str, hooks: Hooks | None = None,
                 rules: Mapping[str, frozenset[str]] | None = None) -> None:
        if protocol not in KINDS:
            raise ValueError(f"no ISO 15118-20 session for {protocol!r}; one of {', '.join(KINDS)}")
        self.protocol = protocol
        self.dc = protocol == "iso20-dc"
        self.kind = KINDS[protocol]
        self.hooks = hooks or NO_HOOKS
        self.strict = self.hooks.strict
        self.rules: Mapping[str, frozenset[str]] = self.hooks.rules or rules or NEXT
        self.exit = Exit(self.hooks)
        self.wall_clock = self.hooks.wall_clock
        #: the EV's first SessionSetupReq carries eight zero octets
        self.session_id = bytes(8)
        self.state = "Start"
        self.expected = self.rules["Start"]
        self.renegotiating = False  # PowerDelivery(ScheduleRenegotiation) answered, ScheduleExchange next
        self._now = 0.0
        self._encode = self._encoder()

    # -- in ----------------------------------------------------------------------------------
    def incoming(self, now: float, message: Message) -> Message | None:
        hook = self.hooks.incoming
        return message if hook is None else hook(now, message)

    def decode(self, message: Message) -> Decoded:
        """The message with its name and header; ExiError/MessageError for what is not a -20 message of
        its payload type."""
        return msg.decode(message.payload_type, message.payload)

    def request_problem(self, name: str, session_id: bytes) -> str | None:
        """The response code an SECC must answer a request with that breaks the rules, or None."""
        if not self.strict:
            return None
        if name != "SessionSetup" and session_id != self.session_id:
            return "FAILED_UnknownSession"
        if name not in self.expected:
            return "FAILED_SequenceError"
        return None

    def allowed(self, name: str) -> bool:
        """May the EVCC send request ``name`` now (a test system may break the rules on purpose)?"""
        return not self.strict or name in self.expected

    # -- the exchange -----------------------------------------------------------------------
    def key(self, name: str, req: Any, res: Any) -> str:
        """The rules' key for a request/response pair that did not end the session (both sides alike)."""
        if name == "SessionSetup":
            return f"SessionSetup:Resumed:{self.kind}" if msg.response_code(res) == "OK_OldSessionJoined" else name
        if name == "Authorization":
            if msg.processing(res) != "Finished":
                return "Authorization:Ongoing"
            return "Authorization:Warning" if msg.is_warning(res.response_code) else "Authorization:Finished"
        if name == "ServiceSelection":
            return f"ServiceSelection:{self.kind}"
        if name == "ScheduleExchange":
            if msg.processing(res) != "Finished":
                return "ScheduleExchange:Ongoing"
            return "ScheduleExchange:Renegotiated" if self.renegotiating else f"ScheduleExchange:Finished:{self.kind}"
        if name == "DC_CableCheck":
            return "DC_CableCheck:Finished" if msg.processing(res) == "Finished" else "DC_CableCheck:Ongoing"
        if name == "PowerDelivery":  # the EV's EVProcessing: Ongoing while it is not ready ([V2G20-2007])
            if msg.processing(req) != "Finished":
                return "PowerDelivery:Ongoing"
            progress = msg.charge_progress(req)
            return "PowerDelivery:ScheduleRenegotiation" if progress == "ScheduleRenegotiation" else (
                f"PowerDelivery:{progress}:{self.kind}")
        if name == "MeteringConfirmation":
            return f"MeteringConfirmation:{self.kind}"
        if name == "SessionStop":
            return "SessionStop:ServiceRenegotiation" if req.charging_session.name == "ServiceRenegotiation" else name
        return name

    def done(self, name: str, req: Any, res: Any) -> str:
        """A request was answered and the session goes on: move to the next state. Returns its key."""
        key = self.key(name, req, res)
        if key == "PowerDelivery:ScheduleRenegotiation":
            self.renegotiating = True
        elif key == "ScheduleExchange:Renegotiated":
            self.renegotiating = False
        self.state = key
        self.expected = self.rules.get(key, frozenset())
        return key

    def sequence_timeout(self, name: str, default: float = timing.ISO20_SECC_SEQUENCE_TIMEOUT,
                         loop: float = timing.ISO20_SECC_SEQUENCE_TIMEOUT_CHARGE_LOOP) -> float:
        """V2G_SECC_Sequence_Timeout after the answer to ``name`` (Tables 215-217)."""
        return loop if name in CHARGE_LOOPS else default

    # -- out ---------------------------------------------------------------------------------
    def _encoder(self) -> Callable[[str, Any], tuple[int, bytes]]:
        encode = msg.encode

        def enc(element: str, body: Any) -> tuple[int, bytes]:
            return encode(element[:-3], element.endswith("Req"), body, self.session_id,
                          self.wall_clock(self._now))

        return enc

    def send(self, now: float, element: str, body: Any) -> list[Output]:
        """The one exit: ``element`` ("DC_ChargeLoopRes") with ``body``, through the outgoing hook, under
        its own payload type. Encoder errors propagate (the caller's message: a local fault)."""
        self._now = now
        return self.exit.send(now, element, body, self._encode)

    def timer(self, now: float, name: str) -> list[Output] | None:
        return self.exit.timer(now, name)

    def closing(self) -> list[Output]:
        return self.exit.cancel()
