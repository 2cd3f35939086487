"""The protocol core of DIN SPEC 70121 and ISO 15118-2 sessions, shared by both roles.

It knows the rules (``NEXT``: which requests may follow each response), the SessionID, encoding and
decoding, and has the one exit every outgoing message takes (with the test system's hook). It does not
know its role: the SECC checks the peer's requests against the rules (a remote fault: FAILED_SequenceError),
the EVCC checks its own plan against the same table (a local fault: our plan is wrong). What a message
contains is decided by the role policies in ``secc.py`` and ``evcc.py``.
"""

from __future__ import annotations

from typing import Any

from ...v2gtp import PayloadType
from ..core import CoreBase
from ..events import Message
from ..hooks import Hooks
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


class Core(CoreBase):
    """One DIN/ISO-2 session's rules, SessionID, codec and exit. ``dc`` picks the DC or AC branch of the
    rules; ``hooks`` come from the test system (default: none)."""

    RENEGOTIATE = frozenset({"PowerDelivery:Renegotiate"})
    RENEGOTIATED = frozenset({"ChargeParameterDiscovery:Renegotiated"})

    def __init__(self, protocol: str, dc: bool, hooks: Hooks | None = None) -> None:
        super().__init__(NEXT, hooks, bytes(1))
        self.d = Dialect(protocol)
        self.dc = dc
        self._suffix = ":DC" if dc else ":AC"
        self._finished = self.d.m.EVSEProcessingType.Finished
        d = self.d

        def encode(name: str, body: Any) -> tuple[int, bytes]:
            return PayloadType.EXI, d.encode(self.session_id, name[:-3], name.endswith("Req"), body)

        self._encode = encode

    def decode(self, message: Message) -> tuple[bytes, str, bool, Any]:
        """(SessionID, canonical name, is request, body); ExiError/MessageError for what is not one."""
        if message.payload_type != PayloadType.EXI:
            raise MessageError(f"payload type 0x{message.payload_type:04X}: {self.d.name} messages are 0x8001")
        return self.d.decode(message.payload)

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
