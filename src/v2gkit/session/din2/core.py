"""The protocol core of DIN SPEC 70121 and ISO 15118-2 sessions, shared by both roles.

It knows the rules (``NEXT``: which requests may follow each response), the SessionID, encoding and
decoding, and has the one exit every outgoing message takes (with the test system's hook). It does not
know its role: the SECC checks the peer's requests against the rules (a remote fault: FAILED_SequenceError),
the EVCC checks its own plan against the same table (a local fault: our plan is wrong). What a message
contains is decided by the role policies in ``secc.py`` and ``evcc.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...v2gtp import PayloadType
from ..events import Message, Output, Timer
from ..hooks import NO_HOOKS, Exit, Hooks
from .dialect import Dialect, MessageError

__all__ = ["NEXT", "Core", "MessageError"]

_ANY_STOP = frozenset({"SessionStop"})

#: After a response to <key>, the next request must be one of these (ISO 15118-2 8.8, DIN 70121 9). Keys
#: carry the outcome where it matters (":Ongoing", ":Start", ...), worked out by ``Core.key`` from the
#: request and the response alike on both sides. SessionStop is allowed whenever no power flows; while it
#: flows the EV must first send PowerDelivery with Stop.
NEXT: dict[str, frozenset[str]] = {
    "Start": frozenset({"SessionSetup"}),
    "SessionSetup": frozenset({"ServiceDiscovery"}) | _ANY_STOP,
    "ServiceDiscovery": frozenset({"ServiceDetail", "PaymentServiceSelection"}) | _ANY_STOP,
    "ServiceDetail": frozenset({"ServiceDetail", "PaymentServiceSelection"}) | _ANY_STOP,
    "PaymentServiceSelection": frozenset({"Authorization"}) | _ANY_STOP,
    "Authorization:Ongoing": frozenset({"Authorization"}) | _ANY_STOP,
    "Authorization:Finished": frozenset({"ChargeParameterDiscovery"}) | _ANY_STOP,
    "ChargeParameterDiscovery:Ongoing": frozenset({"ChargeParameterDiscovery"}) | _ANY_STOP,
    "ChargeParameterDiscovery:Finished:DC": frozenset({"CableCheck"}) | _ANY_STOP,
    "ChargeParameterDiscovery:Finished:AC": frozenset({"PowerDelivery"}) | _ANY_STOP,
    "ChargeParameterDiscovery:Renegotiated": frozenset({"PowerDelivery"}) | _ANY_STOP,
    "CableCheck:Ongoing": frozenset({"CableCheck"}) | _ANY_STOP,
    "CableCheck:Finished": frozenset({"PreCharge"}) | _ANY_STOP,
    "PreCharge": frozenset({"PreCharge", "PowerDelivery"}) | _ANY_STOP,
    "PowerDelivery:Start:DC": frozenset({"CurrentDemand"}),
    "PowerDelivery:Start:AC": frozenset({"ChargingStatus"}),
    "CurrentDemand": frozenset({"CurrentDemand", "PowerDelivery", "MeteringReceipt"}),
    "ChargingStatus": frozenset({"ChargingStatus", "PowerDelivery", "MeteringReceipt"}),
    "MeteringReceipt:DC": frozenset({"CurrentDemand", "PowerDelivery"}),
    "MeteringReceipt:AC": frozenset({"ChargingStatus", "PowerDelivery"}),
    "PowerDelivery:Renegotiate": frozenset({"ChargeParameterDiscovery"}),
    "PowerDelivery:Stop:DC": frozenset({"WeldingDetection"}) | _ANY_STOP,
    "PowerDelivery:Stop:AC": _ANY_STOP,
    "WeldingDetection": frozenset({"WeldingDetection"}) | _ANY_STOP,
    "SessionStop": frozenset(),
}

#: messages whose response says Ongoing/Finished in EVSEProcessing
_PROCESSING = frozenset({"Authorization", "CableCheck"})


class Core:
    """One DIN/ISO-2 session's rules, SessionID, codec and exit. ``dc`` picks the DC or AC branch of the
    rules; ``hooks`` come from the test system (default: none)."""

    def __init__(self, protocol: str, dc: bool, hooks: Hooks | None = None) -> None:
        self.d = Dialect(protocol)
        self.dc = dc
        self.hooks = hooks or NO_HOOKS
        self.strict = self.hooks.strict
        self.rules: Mapping[str, frozenset[str]] = self.hooks.rules or NEXT
        self.exit = Exit(self.hooks)
        self.session_id = bytes(1)
        #: the key of the last completed exchange, and the requests allowed after it
        self.state = "Start"
        self.expected = self.rules["Start"]
        self.renegotiating = False
        self._suffix = ":DC" if dc else ":AC"
        self._finished = self.d.m.EVSEProcessingType.Finished
        self._encode = self._encoder()

    # -- in ----------------------------------------------------------------------------------
    def incoming(self, now: float, message: Message) -> Message | None:
        """The test system's incoming hook, before anything is decoded or checked."""
        hook = self.hooks.incoming
        return message if hook is None else hook(now, message)

    def decode(self, message: Message) -> tuple[bytes, str, bool, Any]:
        """(SessionID, canonical name, is request, body); ExiError/MessageError for what is not one."""
        if message.payload_type != PayloadType.EXI:
            raise MessageError(f"payload type 0x{message.payload_type:04X}: {self.d.name} messages are 0x8001")
        return self.d.decode(message.payload)

    def request_problem(self, name: str, sid: bytes) -> str | None:
        """The response code an SECC must answer a request with that breaks the rules, or None."""
        if not self.strict:
            return None
        if name != "SessionSetup" and sid != self.session_id:
            return "FAILED_UnknownSession"
        if name not in self.expected:
            return "FAILED_SequenceError"
        return None

    def allowed(self, name: str) -> bool:
        """May request ``name`` be sent now (the EVCC checks its own plan; a test system may break it)?"""
        return not self.strict or name in self.expected

    # -- the exchange -----------------------------------------------------------------------
    def key(self, name: str, req: Any, res: Any) -> str:
        """The rules' key for a completed request/response pair (the same on both sides)."""
        if name in _PROCESSING:
            return name + (":Finished" if res.evse_processing == self._finished else ":Ongoing")
        if name == "ChargeParameterDiscovery":
            if res.evse_processing != self._finished:
                return "ChargeParameterDiscovery:Ongoing"
            return "ChargeParameterDiscovery:Renegotiated" if self.renegotiating else (
                "ChargeParameterDiscovery:Finished" + self._suffix)
        if name == "PowerDelivery":
            progress = self.d.progress(req)
            return "PowerDelivery:Renegotiate" if progress == "Renegotiate" else f"PowerDelivery:{progress}{self._suffix}"
        if name == "MeteringReceipt":
            return name + self._suffix
        return name

    def done(self, name: str, req: Any, res: Any) -> str:
        """A request was answered without error: move on. Returns the new key."""
        key = self.key(name, req, res)
        if key == "PowerDelivery:Renegotiate":
            self.renegotiating = True
        elif key == "ChargeParameterDiscovery:Renegotiated":
            self.renegotiating = False
        self.state = key
        self.expected = self.rules.get(key, frozenset())
        return key

    # -- out ---------------------------------------------------------------------------------
    def _encoder(self) -> Any:
        d = self.d

        def encode(name: str, body: Any) -> tuple[int, bytes]:
            if name.endswith("Req"):
                return PayloadType.EXI, d.encode(self.session_id, name[:-3], True, body)
            return PayloadType.EXI, d.encode(self.session_id, name[:-3], False, body)

        return encode

    def send(self, now: float, name: str, body: Any) -> list[Output]:
        """The one exit: message ``name`` ("CurrentDemandRes") with ``body``, through the outgoing hook.
        Encoder errors propagate (the caller's message, a local fault)."""
        return self.exit.send(now, name, body, self._encode)

    def timer(self, now: float, name: str) -> list[Output] | None:
        """A hook's delay timer (its held messages), or None when ``name`` is the role's own timer."""
        return self.exit.timer(now, name)

    def closing(self) -> list[Output]:
        return self.exit.cancel()


def cancel(*names: str) -> list[Output]:
    return [Timer(n, None) for n in names]
