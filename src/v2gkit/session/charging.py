"""DIN SPEC 70121 (DC) and ISO 15118-2 (AC, DC) charging sessions with external identification (EIM):
sans-IO state machines for both roles.

Each machine takes ``(now, payload)`` and ``(now, timer name)`` and returns outputs: ``Send`` (an EXI
payload for the V2GTP layer), ``Timer`` (start or cancel a named timer), ``Event`` (for logs and live
views) and ``Close`` (end of the session, with its outcome). ``now`` is any monotonic clock in seconds: a
simulated one in tests, the event loop's live. The rules are tables: ``SECC_NEXT`` says which requests
may follow each response; ``EVCC_NEXT`` which request the EV sends after each response.

Plug & Charge goes where ``PAYMENT_NEXT`` and ``_on_authorization`` are: Contract payment adds
PaymentDetails / CertificateInstallation before Authorization.
"""

from __future__ import annotations

import collections
import math
import os
from dataclasses import dataclass, field
from typing import Any, Union

from .. import timing
from ..exi.errors import ExiError
from ..controllers import CPState, EVController, EVSEController, Isolation, Notification
from .dialect import CANONICAL, Dialect, MessageError, value_of

__all__ = [
    "EVCC_NEXT",
    "SECC_NEXT",
    "Close",
    "ConfigError",
    "EVCCConfig",
    "EVCCSession",
    "Event",
    "Output",
    "PausedSessions",
    "SECCConfig",
    "SECCSession",
    "Send",
    "SessionResult",
    "Timer",
]


# ------------------------------------------------------------------------------------------ outputs
@dataclass(frozen=True, slots=True)
class Send:
    payload: bytes
    name: str  # e.g. "CurrentDemandReq"
    body: Any


@dataclass(frozen=True, slots=True)
class Timer:
    """Start (``delay`` seconds) or cancel (``delay`` None) the timer ``name``."""

    name: str
    delay: float | None


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: dict


@dataclass(frozen=True, slots=True)
class Close:
    """The session is over; close the TCP connection. ``ok``: it ended as the protocol intends.
    ``local``: it ended by our fault (we could not build or encode our own message), not the peer's."""

    ok: bool
    reason: str
    local: bool = False


Output = Union[Send, Timer, Event, Close]


@dataclass
class SessionResult:
    ok: bool = False
    reason: str = ""
    paused: bool = False
    session_id: bytes = b""
    energy_wh: float = 0.0
    messages: int = 0


# -------------------------------------------------------------------------------------- the rules
_ANY_STOP = frozenset({"SessionStop"})

#: After the SECC answered <key>, the next request must be one of these (ISO 15118-2 8.8, DIN 70121 9).
#: Keys carry the outcome where it matters (":Ongoing", ":Start", ...). SessionStop is allowed whenever no
#: power flows; while it flows the EV must first send PowerDelivery with Stop.
SECC_NEXT: dict[str, frozenset[str]] = {
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

#: The EVCC's plan: after the response to <request> it sends the request the function names. The
#: functions (methods of EVCCSession) look at the response and the car and return the next request
#: name, or None to end the session.
EVCC_NEXT: dict[str, str] = {
    "SessionSetup": "_after_session_setup",  # -> ServiceDiscovery
    "ServiceDiscovery": "_after_service_discovery",  # -> ServiceDetail (if configured) | PaymentServiceSelection
    "ServiceDetail": "_after_service_detail",  # -> the next ServiceDetail | PaymentServiceSelection
    "PaymentServiceSelection": "_after_payment",  # -> Authorization
    "Authorization": "_after_authorization",  # Ongoing -> Authorization; Finished -> ChargeParameterDiscovery
    "ChargeParameterDiscovery": "_after_charge_parameters",  # -> CableCheck (DC), PowerDelivery (AC, renegotiated)
    "CableCheck": "_after_cable_check",  # Ongoing -> CableCheck; Finished -> PreCharge
    "PreCharge": "_after_pre_charge",  # until the voltage matches -> PowerDelivery(Start)
    "PowerDelivery": "_after_power_delivery",  # Start -> CurrentDemand/ChargingStatus; Stop -> Welding/SessionStop
    "CurrentDemand": "_after_energy_loop",  # -> CurrentDemand | MeteringReceipt | PowerDelivery(Stop/Renegotiate)
    "ChargingStatus": "_after_energy_loop",
    "MeteringReceipt": "_after_energy_loop",
    "WeldingDetection": "_after_welding",  # -> WeldingDetection until < 60 V, then SessionStop
    "SessionStop": "_after_session_stop",  # -> end
}

#: requests the EVCC repeats, pausing EVCCConfig.loop_interval between rounds
_LOOPS = frozenset({"Authorization", "ChargeParameterDiscovery", "CableCheck", "PreCharge", "CurrentDemand",
                    "ChargingStatus", "WeldingDetection"})

#: the energy transfer modes the EVCC requests, best first, for a DC (True) or an AC (False) car; it takes
#: the first the SECC offered (the parameters it sends are the same for every mode of one kind)
EV_MODES = {True: ("DC_extended", "DC_core", "DC_combo_core", "DC_unique"),
            False: ("AC_three_phase_core", "AC_single_phase_core")}

#: the payment options this EIM implementation selects; Plug & Charge adds "Contract"
PAYMENT_NEXT = {"ExternalPayment": "Authorization"}


class PausedSessions:
    """SessionIDs of paused sessions an SECC will let an EV rejoin (OK_OldSessionJoined), shared by the
    sessions of one SECC. Bounded twice: an entry expires ``lifetime`` seconds after the pause (see
    timing.PAUSED_SESSION_LIFETIME for why 24 h), and beyond ``limit`` entries the oldest is dropped (a
    charger needs one per connector; the default leaves room for test systems with many cars). Times are
    the machines' ``now``, so simulated clocks work."""

    def __init__(self, limit: int = 64, lifetime: float = timing.PAUSED_SESSION_LIFETIME) -> None:
        if limit < 1 or lifetime <= 0:
            raise ValueError(f"limit must be >= 1 and lifetime > 0, got {limit}, {lifetime}")
        self.limit, self.lifetime = limit, lifetime
        self._entries: collections.OrderedDict[bytes, tuple[float, dict]] = collections.OrderedDict()
        #: entries dropped because they expired / because the registry was full
        self.expired = 0
        self.evicted = 0

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def pause(self, now: float, session_id: bytes, info: dict) -> None:
        """Remember a session paused at ``now`` (its SessionStopReq with ChargingSession=Pause)."""
        self.expire(now)
        self._entries.pop(session_id, None)
        self._entries[session_id] = (now, info)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
            self.evicted += 1

    def resume(self, now: float, session_id: bytes) -> dict | None:
        """The paused session's info if it may be rejoined now (it is then no longer paused), else None."""
        self.expire(now)
        entry = self._entries.pop(session_id, None)
        return None if entry is None else entry[1]

    def expire(self, now: float) -> None:
        """Drop what paused more than ``lifetime`` seconds before ``now`` (oldest first, so this stops at
        the first entry still valid)."""
        while self._entries:
            since, _ = next(iter(self._entries.values()))
            if now - since <= self.lifetime:
                break
            self._entries.popitem(last=False)
            self.expired += 1


class ConfigError(ValueError):
    """A configuration value the sessions cannot work with; ``field`` names it (for the CLI's usage error)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_seconds(cfg: Any, *names: str, zero: bool = False) -> None:
    """Each of ``names`` is a finite number of seconds, > 0 (``zero``: >= 0)."""
    for name in names:
        v = getattr(cfg, name)
        if not _is_number(v) or v < 0 or (v == 0 and not zero):
            raise ConfigError(name, f"must be a number of seconds {'>=' if zero else '>'} 0, not {v!r}")


def _check_session_id(name: str, v: Any) -> None:
    """A SessionID: hexBinary of 1 to 8 octets (sessionIDType in both schemas, maxLength 8)."""
    if v is not None and (not isinstance(v, bytes) or not 1 <= len(v) <= 8):
        got = f"{len(v)} octets" if isinstance(v, bytes) else repr(v)
        raise ConfigError(name, f"a SessionID is 1 to 8 octets (2 to 16 hex digits), not {got}")


#: EVSEID per protocol (evseIDType): ISO 15118-2 a string of 7..37 characters; DIN SPEC 70121 hexBinary of at
#: most 32 octets (v2gkit sends the ID's UTF-8 octets)
EVSE_ID_LENGTH = {"iso2": (7, 37), "din": (0, 32)}
#: MeterID (meterIDType): at most 32 characters in both schemas
METER_ID_MAX = 32
#: RelativeTimeInterval/duration: at most 86400 s (ISO 15118-2 schema); 0 would be no schedule at all
SCHEDULE_DURATION_MAX = 86400


@dataclass
class SECCConfig:
    """Checked when made (ConfigError naming the field); ``check(protocol)`` adds what one protocol needs."""

    evse_id: str = "DE*V2G*E12345"
    dc: bool = True
    #: request a MeteringReceipt every N CurrentDemand/ChargingStatus answers (ISO 15118-2 only); None: never
    receipt_interval: int | None = None
    sequence_timeout: float = timing.SECC_SEQUENCE_TIMEOUT
    ongoing_limit: float = timing.SECC_ONGOING_PERFORMANCE_TIME
    cable_check_limit: float = timing.SECC_CABLE_CHECK_PERFORMANCE_TIME
    schedule_duration: int = 86400
    meter_id: str = "v2gkit-meter-1"
    #: answer ChargeParameterDiscovery with EVSEProcessing=Ongoing this many times first (schedule from a backend)
    charge_parameter_ongoing: int = 0
    #: the SessionID of a new session (test systems fix it); None: 8 random bytes
    session_id: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.evse_id, str) or not self.evse_id:
            raise ConfigError("evse_id", f"must be a non-empty string, not {self.evse_id!r}")
        if not isinstance(self.dc, bool):
            raise ConfigError("dc", f"must be true or false, not {self.dc!r}")
        if self.receipt_interval is not None and (not _is_int(self.receipt_interval) or self.receipt_interval < 1):
            raise ConfigError("receipt_interval",
                              f"must be a whole number >= 1 (or unset), not {self.receipt_interval!r}")
        _check_seconds(self, "sequence_timeout", "ongoing_limit", "cable_check_limit")
        if not _is_int(self.schedule_duration) or not 1 <= self.schedule_duration <= SCHEDULE_DURATION_MAX:
            raise ConfigError("schedule_duration", f"must be 1..{SCHEDULE_DURATION_MAX} s (RelativeTimeInterval "
                                                   f"duration), not {self.schedule_duration!r}")
        if not isinstance(self.meter_id, str) or len(self.meter_id) > METER_ID_MAX:
            raise ConfigError("meter_id", f"must be a string of at most {METER_ID_MAX} characters (meterIDType), "
                                          f"not {self.meter_id!r}")
        if not _is_int(self.charge_parameter_ongoing) or self.charge_parameter_ongoing < 0:
            raise ConfigError("charge_parameter_ongoing", f"must be a whole number >= 0, "
                                                          f"not {self.charge_parameter_ongoing!r}")
        _check_session_id("session_id", self.session_id)
        if not any(self._evse_id_problem(p) is None for p in EVSE_ID_LENGTH):
            self.check("iso2")

    def _evse_id_problem(self, protocol: str) -> str | None:
        low, high = EVSE_ID_LENGTH[protocol]
        if protocol == "din":
            n = len(self.evse_id.encode())
            return None if n <= high else f"DIN SPEC 70121 allows at most {high} octets (evseIDType), this is {n}"
        n = len(self.evse_id)
        return None if low <= n <= high else (f"ISO 15118-2 wants {low} to {high} characters (evseIDType), "
                                              f"this is {n}")

    def check(self, protocol: str) -> None:
        """ConfigError if a session of ``protocol`` ("iso2", "din") cannot send these values."""
        problem = self._evse_id_problem(protocol) if protocol in EVSE_ID_LENGTH else None
        if problem is not None:
            raise ConfigError("evse_id", problem)


@dataclass
class EVCCConfig:
    dc: bool = True
    #: pause between requests of a loop (Ongoing polls, CurrentDemand, ChargingStatus); 0 = as fast as possible
    loop_interval: float = 0.1
    msg_timeouts: dict[str, float] = field(default_factory=lambda: dict(timing.EVCC_MSG_TIMEOUT))
    msg_timeout_default: float = timing.EVCC_MSG_TIMEOUT_DEFAULT
    ongoing_timeout: float = timing.EVCC_ONGOING_TIMEOUT
    cable_check_timeout: float = timing.EVCC_CABLE_CHECK_TIMEOUT
    pre_charge_timeout: float = timing.EVCC_PRECHARGE_TIMEOUT
    #: PreCharge is done when the EVSE's voltage is this close to the battery's
    pre_charge_tolerance: float = 20.0
    #: rejoin a paused session
    resume_session_id: bytes | None = None
    #: WeldingDetection until the outlet is below this voltage, at most ``welding_max_requests`` times
    #: (0: none, SessionStop follows PowerDelivery(Stop) directly, as some cars do)
    welding_voltage: float = 60.0
    welding_max_requests: int = 30
    #: ServiceDetailReq for these service IDs after ServiceDiscovery (value-added services)
    service_detail_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.dc, bool):
            raise ConfigError("dc", f"must be true or false, not {self.dc!r}")
        _check_seconds(self, "loop_interval", zero=True)
        _check_seconds(self, "msg_timeout_default", "ongoing_timeout", "cable_check_timeout", "pre_charge_timeout")
        if not isinstance(self.msg_timeouts, dict):
            raise ConfigError("msg_timeouts", f"must be a table of message name = seconds, not {self.msg_timeouts!r}")
        known = set(CANONICAL) | set(timing.EVCC_MSG_TIMEOUT)
        for name, v in self.msg_timeouts.items():
            if name not in known:
                raise ConfigError("msg_timeouts", f"no request {name!r}; requests: {', '.join(sorted(known))}")
            if not _is_number(v) or v <= 0:
                raise ConfigError("msg_timeouts", f"{name}: must be a number of seconds > 0, not {v!r}")
        for name in ("pre_charge_tolerance", "welding_voltage"):
            v = getattr(self, name)
            if not _is_number(v) or v < 0:
                raise ConfigError(name, f"must be a number >= 0, not {v!r}")
        _check_session_id("resume_session_id", self.resume_session_id)
        if not _is_int(self.welding_max_requests) or self.welding_max_requests < 0:
            raise ConfigError("welding_max_requests", f"must be a whole number >= 0 (0: no WeldingDetection), "
                                                      f"not {self.welding_max_requests!r}")
        ids = self.service_detail_ids
        if not isinstance(ids, tuple) or not all(_is_int(i) and 0 <= i <= 0xFFFF for i in ids):
            raise ConfigError("service_detail_ids", f"must be a list of ServiceIDs 0..65535, not {ids!r}")


class _BuildError(Exception):
    """Our own message could not be built or encoded (a local fault); ``name`` is the message."""

    def __init__(self, name: str, error: Exception) -> None:
        super().__init__(f"{name}: {error}")
        self.name, self.error = name, error


class _Stop(Exception):
    """Raised by the EVCC's plan to end the session."""

    def __init__(self, ok: bool, reason: str) -> None:
        super().__init__(reason)
        self.ok, self.reason = ok, reason


def _fail_reason(name: str, code: Any) -> str:
    return f"SECC answered {name} with {code.name if code is not None else 'no ResponseCode'}"


# ------------------------------------------------------------------------------------------ SECC
class SECCSession:
    """The charger's side of one session (one TCP connection)."""

    def __init__(self, protocol: str, evse: EVSEController, config: SECCConfig | None = None,
                 paused: PausedSessions | None = None) -> None:
        self.d = Dialect(protocol)
        self.evse = evse
        self.cfg = config or SECCConfig()
        if self.d.din and not self.cfg.dc:
            raise ValueError("DIN SPEC 70121 sessions are DC only")
        self.cfg.check(protocol)
        #: the energy transfer modes ServiceDiscoveryRes offers: what ChargeParameterDiscoveryReq may request
        self.offered = self.d.offered_modes(self.cfg.dc)
        self.paused = paused if paused is not None else PausedSessions()
        self.session_id = bytes(1)
        self.state = "Start"
        self.expected = SECC_NEXT["Start"]
        self.result = SessionResult()
        self._last: float | None = None
        self._since: dict[str, float] = {}
        self._loop_count = 0
        self._renegotiating = False
        self._receipt_pending = False
        self._ended = False
        self._cpd_asked = 0
        self._ev_max_voltage = 0.0  # from ChargeParameterDiscoveryReq
        self._ev_max_current = 0.0
        self._why = ""  # a handler's word on a FAILED answer, for the close reason

    # -- drivers ----------------------------------------------------------------------------
    def start(self, now: float) -> list[Output]:
        """After the app handshake: the sequence timer runs until SessionSetupReq."""
        self._last = now
        return [Timer("sequence", self.cfg.sequence_timeout)]

    def timer(self, now: float, name: str) -> list[Output]:
        if name == "sequence" and not self._ended:
            self._ended = True
            return self._close(False, f"V2G_SECC_Sequence_Timeout: no request within {self.cfg.sequence_timeout:g} s "
                                      f"after {self.state}Res")
        return []

    def receive(self, now: float, payload: bytes) -> list[Output]:
        if self._ended:
            return []
        out: list[Output] = []
        try:
            return self._receive(now, payload, out)
        except _BuildError as e:
            # our own answer cannot be built or encoded: our bug (a bad configuration that slipped past its
            # checks, a builder error), not the car's. End the session with the reason instead of raising.
            self._ended = True
            reason = f"internal error: cannot build {e.name}: {type(e.error).__name__}: {e.error}"
            self.result.reason = reason
            self.evse.stop_output()
            return out + [Event("internal_error", {"name": e.name, "error": e.error}), Timer("sequence", None),
                          Close(False, reason, local=True)]

    def _receive(self, now: float, payload: bytes, out: list[Output]) -> list[Output]:
        self._advance(now)
        try:
            sid, name, is_req, req = self.d.decode(payload)
        except (ExiError, MessageError) as e:
            self._ended = True  # no response is possible for a message we cannot name
            return self._close(False, f"undecodable request: {e}")
        if not is_req:
            self._ended = True
            return self._close(False, f"{name}Res received by the SECC")
        self.result.messages += 1
        out.append(Event("rx", {"name": name + "Req", "body": req}))
        if name != "SessionSetup" and sid != self.session_id:
            return out + self._fail(name, "FAILED_UnknownSession")
        if name not in self.expected:
            return out + self._fail(name, "FAILED_SequenceError")
        try:
            key, code = getattr(self, _HANDLER[name])(now, sid, req)
        except (AttributeError, TypeError, ValueError, KeyError) as e:
            # schema-valid but unusable (e.g. the abstract EVChargeParameter head): FAILED, then close
            self._ended = True
            out.append(self._send(name, self.d.RC.FAILED, None))
            return out + self._close(False, f"{name}Req unusable: {e}")
        out.append(self._send(name, code, key))
        if name == "SessionStop":
            self._ended = True
            self.result.ok = True
            return out + self._close(True, "paused" if self.result.paused else "terminated")
        if not self.d.is_ok(code):
            self._ended = True
            why, self._why = self._why, ""
            return out + self._close(False, f"answered {name}Res with {code.name}" + (f": {why}" if why else ""))
        self.state, self.expected = name, SECC_NEXT[key]
        out.append(Timer("sequence", self.cfg.sequence_timeout))
        return out

    # -- helpers ------------------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self.evse.step(now - self._last)
        self._last = now

    def _close(self, ok: bool, reason: str) -> list[Output]:
        self.result.reason = reason
        self.result.energy_wh = self.evse.meter_wh()
        if not ok:
            self.evse.stop_output()
        return [Timer("sequence", None), Close(ok, reason)]

    def _fail(self, name: str, code_name: str) -> list[Output]:
        code = getattr(self.d.RC, code_name)
        send = self._send(name, code, None)
        self._ended = True
        return [send] + self._close(False, f"{name}Req: {code_name}")

    def _send(self, name: str, code: Any, key: str | None) -> Send:
        """The response; _BuildError when building or encoding it fails (a local fault)."""
        try:
            body = self._response(name, code, key)
            return Send(self.d.encode(self.session_id, name, False, body), name + "Res", body)
        except Exception as e:  # noqa: BLE001 - any builder/encoder error is ours; receive() ends the session
            raise _BuildError(name + "Res", e) from e

    def _ongoing(self, now: float, what: str, limit: float, done: bool) -> tuple[str, Any]:
        """Ongoing/Finished with the SECC's own limit: past it, the answer is FAILED."""
        since = self._since.setdefault(what, now)
        if done:
            self._since.pop(what, None)
            return f"{what}:Finished", self.d.RC.OK
        if now - since > limit:
            return f"{what}:Ongoing", self.d.RC.FAILED
        return f"{what}:Ongoing", self.d.RC.OK

    def _dc_status(self, isolation: bool = True) -> Any:
        evse = self.evse
        code = "EVSE_EmergencyShutdown" if evse.emergency_shutdown() else "EVSE_Ready"
        # without a measurement the dialect fills in what the protocol wants (DIN: Invalid, ISO-2: absent)
        iso = evse.isolation() if isolation else None
        return self.d.dc_evse_status(iso, evse.notification(), code)

    def _status(self) -> Any:
        return self._dc_status() if self.cfg.dc else self.d.ac_evse_status(self.evse.notification())

    # -- request handlers: side effects, then (outcome key, response code) -------------------------
    def _on_session_setup(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        rc = self.d.RC
        if sid != bytes(len(sid)) and self.paused.resume(now, sid) is not None:
            self.session_id = sid
            return "SessionSetup", rc.OK_OldSessionJoined
        self.session_id = self.cfg.session_id or os.urandom(8)
        return "SessionSetup", rc.OK_NewSessionEstablished

    def _on_service_discovery(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        return "ServiceDiscovery", self.d.RC.OK

    def _on_service_detail(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        ok = req.service_id == 1
        return "ServiceDetail", self.d.RC.OK if ok else self.d.RC.FAILED_ServiceIDInvalid

    def _on_payment_service_selection(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        rc = self.d.RC
        if req.selected_payment_option.name not in PAYMENT_NEXT:
            return "PaymentServiceSelection", rc.FAILED_PaymentSelectionInvalid
        services = req.selected_service_list.selected_service if req.selected_service_list else []
        if not any(s.service_id == 1 for s in services):
            return "PaymentServiceSelection", rc.FAILED_NoChargeServiceSelected if not self.d.din else rc.FAILED
        return "PaymentServiceSelection", rc.OK

    def _on_authorization(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        ok = self.evse.authorized()
        if ok is False:
            return "Authorization:Finished", self.d.RC.FAILED
        return self._ongoing(now, "Authorization", self.cfg.ongoing_limit, ok is True)

    def _on_charge_parameter_discovery(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        """Two checks, in this order (both answers end the session):

        1. the requested mode must be one ServiceDiscoveryRes offered, else FAILED_WrongEnergyTransferMode
           (ISO 15118-2 [V2G2-476]; DIN 70121 [V2G-DC-397]: FAILED_WrongEnergyTransferType);
        2. the parameter element must be the mode's (AC_* AC_EVChargeParameter, DC_* DC_EVChargeParameter),
           else FAILED_WrongChargeParameter ([V2G2-477]; [V2G-DC-398]). A real Seres 3 requests
           AC_three_phase_core with DC_EVChargeParameter: an offered mode, the wrong parameters.
        """
        d, rc = self.d, self.d.RC
        mode = d.requested_mode(req)
        if mode not in self.offered:
            self._why = f"{mode or 'no mode'} requested, {', '.join(self.offered)} offered"
            return "ChargeParameterDiscovery:Ongoing", (
                rc.FAILED_WrongEnergyTransferType if d.din else rc.FAILED_WrongEnergyTransferMode)
        param = d.charge_parameter_of(req, mode)
        if param is None:
            given = [n for n, f in (("AC_EVChargeParameter", req.ac_ev_charge_parameter),
                                    ("DC_EVChargeParameter", req.dc_ev_charge_parameter),
                                    ("EVChargeParameter", req.ev_charge_parameter)) if f is not None]
            given = given or ["no parameters"]
            self._why = f"{mode} requested with {' and '.join(given)}"
            return "ChargeParameterDiscovery:Ongoing", rc.FAILED_WrongChargeParameter
        dc_req = mode.startswith("DC_")
        if dc_req:
            self._ev_max_voltage = value_of(param.ev_maximum_voltage_limit)
        else:
            self._ev_max_current = value_of(param.ev_max_current)
        self._cpd_asked += 1
        if self._cpd_asked <= self.cfg.charge_parameter_ongoing:
            return self._ongoing(now, "ChargeParameterDiscovery", self.cfg.ongoing_limit, False)
        self._since.pop("ChargeParameterDiscovery", None)
        if self._renegotiating:
            self._renegotiating = False
            return "ChargeParameterDiscovery:Renegotiated", rc.OK
        return f"ChargeParameterDiscovery:Finished:{'DC' if self.cfg.dc else 'AC'}", rc.OK

    def _on_cable_check(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if "CableCheck" not in self._since:
            # test at the lower of what the car and the charger can stand
            self.evse.start_cable_check(min(self._ev_max_voltage or 500.0, self.evse.limits().max_voltage))
        iso = self.evse.isolation()
        if iso in (Isolation.FAULT,):
            self._since.pop("CableCheck", None)
            return "CableCheck:Finished", self.d.RC.FAILED
        return self._ongoing(now, "CableCheck", self.cfg.cable_check_limit, self.evse.cable_check_done())

    def _on_pre_charge(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        self.evse.set_output(value_of(req.ev_target_voltage), min(2.0, value_of(req.ev_target_current)))
        return "PreCharge", self.d.RC.OK

    def _on_power_delivery(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        progress = self.d.progress(req)
        mode = "DC" if self.cfg.dc else "AC"
        if progress == "Start":
            if self.evse.emergency_shutdown():
                return f"PowerDelivery:Start:{mode}", self.d.RC.FAILED_PowerDeliveryNotApplied
            if not self.cfg.dc:
                lim = self.evse.limits()
                self.evse.set_output(lim.nominal_voltage, min(lim.max_current, self._ev_max_current or lim.max_current))
            return f"PowerDelivery:Start:{mode}", self.d.RC.OK
        self.evse.stop_output()
        if progress == "Renegotiate":
            self._renegotiating = True
            clear = getattr(self.evse, "clear_notification", None)
            if clear is not None:
                clear()
            return "PowerDelivery:Renegotiate", self.d.RC.OK
        return f"PowerDelivery:Stop:{mode}", self.d.RC.OK

    def _on_current_demand(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if self.evse.emergency_shutdown():
            self.evse.stop_output()
        else:
            self.evse.set_output(value_of(req.ev_target_voltage), value_of(req.ev_target_current))
        self._count_loop()
        return "CurrentDemand", self.d.RC.OK

    def _on_charging_status(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        self._count_loop()
        return "ChargingStatus", self.d.RC.OK

    def _count_loop(self) -> None:
        self._loop_count += 1
        n = self.cfg.receipt_interval
        self._receipt_pending = bool(n) and not self.d.din and self._loop_count % n == 0  # type: ignore[operator]

    def _on_metering_receipt(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        self._receipt_pending = False
        ok = req.session_id == self.session_id and req.meter_info is not None
        return f"MeteringReceipt:{'DC' if self.cfg.dc else 'AC'}", self.d.RC.OK if ok else self.d.RC.FAILED

    def _on_welding_detection(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        return "WeldingDetection", self.d.RC.OK

    def _on_session_stop(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        self.evse.stop_output()
        if self.d.pause_requested(req):
            self.paused.pause(now, self.session_id, {"energy_wh": self.evse.meter_wh()})
            self.result.paused = True
        self.result.session_id = self.session_id
        return "SessionStop", self.d.RC.OK

    # -- response builders: also used for FAILED answers, so they never depend on the request --------
    def _response(self, name: str, code: Any, key: str | None) -> Any:
        d, evse, cfg = self.d, self.evse, self.cfg
        if name == "SessionSetup":
            return d.session_setup_res(code, cfg.evse_id)
        if name == "ServiceDiscovery":
            return d.service_discovery_res(code, cfg.dc)
        if name == "ServiceDetail":
            return d.service_detail_res(code, 1)
        if name == "PaymentServiceSelection":
            return d.payment_selection_res(code)
        if name == "Authorization":
            return d.authorization_res(code, key == "Authorization:Finished")
        if name == "ChargeParameterDiscovery":
            finished = key is not None and not key.endswith("Ongoing") and d.is_ok(code)
            status = self._dc_status(isolation=False) if cfg.dc else d.ac_evse_status(evse.notification())
            return d.charge_parameter_res(code, finished, cfg.dc, evse.limits(), status, cfg.schedule_duration)
        if name == "CableCheck":
            return d.cable_check_res(code, self._dc_status(), key == "CableCheck:Finished")
        if name == "PreCharge":
            return d.pre_charge_res(code, self._dc_status(), evse.present()[0])
        if name == "PowerDelivery":
            return d.power_delivery_res(code, cfg.dc, self._status())
        if name == "CurrentDemand":
            return d.current_demand_res(code, self._dc_status(), evse.present(), evse.limits_achieved(),
                                        evse.limits(), cfg.evse_id, d.meter_info(cfg.meter_id, evse.meter_wh()),
                                        self._receipt_pending)
        if name == "ChargingStatus":
            return d.charging_status_res(code, self._status(), cfg.evse_id, evse.limits().max_current,
                                         d.meter_info(cfg.meter_id, evse.meter_wh()), self._receipt_pending)
        if name == "MeteringReceipt":  # DIN's MeteringReceiptRes only knows the AC status
            status = d.ac_evse_status(evse.notification()) if d.din or not cfg.dc else self._dc_status()
            return d.metering_receipt_res(code, cfg.dc, status)
        if name == "WeldingDetection":
            return d.welding_detection_res(code, self._dc_status(), evse.present()[0])
        if name == "SessionStop":
            return d.session_stop_res(code)
        raise ValueError(name)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


#: request name -> SECCSession handler method, worked out once instead of per message
_HANDLER = {name: "_on_" + _snake(name) for name in CANONICAL}


# ------------------------------------------------------------------------------------------ EVCC
class EVCCSession:
    """The car's side of one session: it leads, the SECC answers."""

    def __init__(self, protocol: str, ev: EVController, config: EVCCConfig | None = None) -> None:
        self.d = Dialect(protocol)
        self.ev = ev
        self.cfg = config or EVCCConfig()
        if self.d.din and not self.cfg.dc:
            raise ValueError("DIN SPEC 70121 sessions are DC only")
        self.session_id = self.cfg.resume_session_id or bytes(1)
        self.result = SessionResult()
        self.pending: str | None = None  # the request waiting for its response
        self._progress = ""  # of the last PowerDeliveryReq
        self._since: dict[str, float] = {}
        self._last: float | None = None
        self._present = (0.0, 0.0)
        self._renegotiated = False
        self._stop_pause = False
        self._welding = 0
        self._ended = False
        self._next: str | None = None
        self.evse_notification = Notification.NONE

    # -- drivers ----------------------------------------------------------------------------
    def start(self, now: float) -> list[Output]:
        self._last = now
        self.ev.set_cp_state(CPState.B)
        return self._request(now, "SessionSetup")

    def timer(self, now: float, name: str) -> list[Output]:
        if self._ended:
            return []
        if name == "response" and self.pending:
            return self._end(now, False, f"V2G_EVCC_Msg_Timeout: no {self.pending}Res within "
                                         f"{self._timeout(self.pending):g} s")
        if name == "next" and self._next:
            nxt, self._next = self._next, None
            return self._request(now, nxt)
        return []

    def receive(self, now: float, payload: bytes) -> list[Output]:
        if self._ended:
            return []
        self._advance(now)
        try:
            sid, name, is_req, res = self.d.decode(payload)
        except (ExiError, MessageError) as e:
            return self._end(now, False, f"undecodable response: {e}")
        out: list[Output] = [Timer("response", None), Event("rx", {"name": name + "Res", "body": res})]
        if is_req or name != self.pending:
            return out + self._end(now, False, f"expected {self.pending}Res, got {name}{'Req' if is_req else 'Res'}")
        self.result.messages += 1
        self.pending = None
        code = res.response_code
        if name == "SessionSetup":
            if code == self.d.RC.OK_OldSessionJoined and sid != self.session_id:
                return out + self._end(now, False, "OK_OldSessionJoined with another SessionID")
            self.session_id = sid
        elif sid != self.session_id:
            return out + self._end(now, False, f"{name}Res carries SessionID {sid.hex()}, not {self.session_id.hex()}")
        if not self.d.is_ok(code):
            return out + self._end(now, False, _fail_reason(name + "Res", code))
        try:
            nxt = getattr(self, EVCC_NEXT[name])(now, res)
        except _Stop as stop:
            return out + self._end(now, stop.ok, stop.reason)
        except (AttributeError, TypeError, ValueError, KeyError) as e:
            return out + self._end(now, False, f"{name}Res unusable: {e}")
        if nxt is None:
            return out + self._end(now, True, "paused" if self._stop_pause else "terminated")
        # a loop going round again (a metering receipt is part of the energy loop) waits loop_interval
        if nxt in _LOOPS and (nxt == name or name == "MeteringReceipt") and self.cfg.loop_interval > 0:
            self._next = nxt
            return out + [Timer("next", self.cfg.loop_interval)]
        return out + self._request(now, nxt)

    # -- helpers ----------------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self.ev.step(now - self._last, *self._present)
        self._last = now

    def _timeout(self, name: str) -> float:
        return self.cfg.msg_timeouts.get(name, self.cfg.msg_timeout_default)

    def _end(self, now: float, ok: bool, reason: str, local: bool = False) -> list[Output]:
        self._ended = True
        self.ev.set_cp_state(CPState.B)
        self.result.ok, self.result.reason = ok, reason
        self.result.session_id = self.session_id
        self.result.paused = ok and self._stop_pause
        return [Timer("response", None), Timer("next", None), Close(ok, reason, local)]

    def _status(self) -> Any:
        ev = self.ev
        return self.d.dc_ev_status(ev.ready(), ev.error(), ev.soc())

    def _request(self, now: float, name: str) -> list[Output]:
        """Send request ``name``; if it cannot be built or encoded (our fault, not the SECC's) the session
        ends with that reason (Close.local) instead of raising."""
        try:
            body = self._build(name)
            payload = self.d.encode(self.session_id, name, True, body)
        except Exception as e:  # noqa: BLE001 - any builder/encoder error is a local fault
            error = f"{type(e).__name__}: {e}"
            return [Event("internal_error", {"name": name + "Req", "error": e})] + self._end(
                now, False, f"internal error: cannot build {name}Req: {error}", local=True)
        self.pending = name
        return [Send(payload, name + "Req", body), Timer("response", self._timeout(name))]

    def _build(self, name: str) -> Any:
        d, ev = self.d, self.ev
        if name == "SessionSetup":
            body = d.session_setup_req(ev.evcc_id)
        elif name == "ServiceDiscovery":
            body = d.service_discovery_req()
        elif name == "ServiceDetail":
            body = d.m.ServiceDetailReqType(service_id=self._detail_id)
        elif name == "PaymentServiceSelection":
            body = d.payment_selection_req(self._service_id)
        elif name == "Authorization":
            body = d.authorization_req()
        elif name == "ChargeParameterDiscovery":
            body = d.charge_parameter_req(self.cfg.dc, ev.limits(), self._status(), self._mode)
        elif name == "CableCheck":
            body = d.cable_check_req(self._status())
        elif name == "PreCharge":
            body = d.pre_charge_req(self._status(), *ev.precharge_target())
        elif name == "PowerDelivery":
            power = ev.limits().max_power if self._pmax is None else min(ev.limits().max_power, self._pmax)
            body = d.power_delivery_req(self._progress, self.cfg.dc, self._status(), self._schedule_id, power,
                                        ev.bulk_complete(), ev.charging_complete())
        elif name == "CurrentDemand":
            body = d.current_demand_req(self._status(), ev.target(), ev.limits(), ev.bulk_complete(),
                                        ev.charging_complete(), ev.remaining_time())
        elif name == "ChargingStatus":
            body = d.charging_status_req()
        elif name == "MeteringReceipt":
            body = d.metering_receipt_req(self.session_id, self._schedule_id, self._meter_info)
        elif name == "WeldingDetection":
            body = d.welding_detection_req(self._status())
        elif name == "SessionStop":
            body = d.session_stop_req(self._stop_pause)
        else:
            raise ValueError(name)
        return body

    # -- the plan: what follows each response ------------------------------------------------
    _service_id = 1
    _schedule_id = 1
    _pmax: float | None = None
    _ac_voltage = 230.0
    _detail_id = 1
    _details: list[int] = []  # noqa: RUF012 - replaced per session
    _meter_info: Any = None
    _mode: str | None = None  # the energy transfer mode to request: one the SECC offered
    _give_up = ""  # why the EV ends the session with SessionStop before charging

    def _after_session_setup(self, now: float, res: Any) -> str:
        return "ServiceDiscovery"

    def _after_service_discovery(self, now: float, res: Any) -> str | None:
        d = self.d
        options = (res.payment_options if d.din else res.payment_option_list).payment_option
        if d.m.paymentOptionType.ExternalPayment not in options:
            # an option the SECC did not offer would only earn FAILED_PaymentSelectionInvalid: end the
            # session with SessionStop, so the SECC learns it is over now, not at its sequence timeout
            self._give_up = "SECC does not offer ExternalPayment"
            return "SessionStop"
        cs = res.charge_service
        self._service_id = cs.service_tag.service_id if d.din else cs.service_id
        # request only a mode the SECC offered ([V2G2-476], [V2G-DC-397] make the SECC refuse any other)
        offered = d.modes_of(res)
        self._mode = next((m for m in EV_MODES[self.cfg.dc] if m in offered), None)
        if self._mode is None:  # as with no usable payment option: SessionStop, not a dropped connection
            kind = "DC" if self.cfg.dc else "AC"
            self._give_up = (f"SECC offers {', '.join(offered) or 'no energy transfer mode'}: no {kind} mode "
                             f"for this {kind} car")
            return "SessionStop"
        self._details = list(self.cfg.service_detail_ids)
        return self._after_service_detail(now, res)

    def _after_service_detail(self, now: float, res: Any) -> str:
        if self._details:
            self._detail_id = self._details.pop(0)
            return "ServiceDetail"
        return "PaymentServiceSelection"

    def _after_payment(self, now: float, res: Any) -> str:
        return PAYMENT_NEXT["ExternalPayment"]

    def _after_authorization(self, now: float, res: Any) -> str | None:
        if res.evse_processing == self.d.m.EVSEProcessingType.Finished:
            self._since.pop("Authorization", None)
            return "ChargeParameterDiscovery"
        return self._poll(now, "Authorization", self.cfg.ongoing_timeout)

    def _poll(self, now: float, what: str, limit: float) -> str:
        """The same request again, unless its loop ran out of time."""
        since = self._since.setdefault(what, now)
        if now - since > limit:
            raise _Stop(False, f"{what} still not finished after {limit:g} s")
        return what

    def _after_charge_parameters(self, now: float, res: Any) -> str | None:
        if res.evse_processing != self.d.m.EVSEProcessingType.Finished:
            return self._poll(now, "ChargeParameterDiscovery", self.cfg.ongoing_timeout)
        self._since.pop("ChargeParameterDiscovery", None)
        self._schedule_id, self._pmax = self.d.schedule_of(res)
        ac = res.ac_evse_charge_parameter
        if ac is not None:  # the grid voltage per phase the car will see (DIN calls it EVSEMaxVoltage)
            self._ac_voltage = value_of(ac.evse_max_voltage if self.d.din else ac.evse_nominal_voltage) or 230.0
        status = res.dc_evse_charge_parameter.dc_evse_status if self.cfg.dc else None
        self.evse_notification = self.d.notification_of(status)
        if self._renegotiated or not self.cfg.dc:
            self._renegotiated = False
            self._progress = "Start"
            return "PowerDelivery"
        self.ev.set_cp_state(CPState.C)  # DC: state C before the cable check
        return "CableCheck"

    def _after_cable_check(self, now: float, res: Any) -> str | None:
        if res.evse_processing == self.d.m.EVSEProcessingType.Finished:
            self._since.pop("CableCheck", None)
            return "PreCharge"
        return self._poll(now, "CableCheck", self.cfg.cable_check_timeout)

    def _after_pre_charge(self, now: float, res: Any) -> str | None:
        present = value_of(res.evse_present_voltage)
        self._present = (present, 0.0)
        target = self.ev.precharge_target()[0]
        if abs(present - target) <= self.cfg.pre_charge_tolerance:
            self._since.pop("PreCharge", None)
            self._progress = "Start"
            return "PowerDelivery"
        return self._poll(now, "PreCharge", self.cfg.pre_charge_timeout)

    def _after_power_delivery(self, now: float, res: Any) -> str | None:
        if self._progress == "Start":
            if not self.cfg.dc:
                self.ev.set_cp_state(CPState.C)
            return "CurrentDemand" if self.cfg.dc else "ChargingStatus"
        if self._progress == "Renegotiate":
            self._renegotiated = True
            return "ChargeParameterDiscovery"
        self._present = (self._present[0], 0.0)
        if self.cfg.dc and self.cfg.welding_max_requests > 0:  # WeldingDetection is the EV's option
            return "WeldingDetection"
        self.ev.set_cp_state(CPState.B)
        return "SessionStop"

    def _after_energy_loop(self, now: float, res: Any) -> str | None:
        d, ev = self.d, self.ev
        if self.cfg.dc and hasattr(res, "evse_present_voltage"):
            self._present = (value_of(res.evse_present_voltage), value_of(res.evse_present_current))
            status = res.dc_evse_status
            emergency = status is not None and status.evse_status_code.name in ("EVSE_EmergencyShutdown",
                                                                                "EVSE_Shutdown", "EVSE_Malfunction")
        elif not self.cfg.dc and hasattr(res, "evse_max_current"):
            lim = ev.limits()
            current = min(lim.max_current, value_of(res.evse_max_current))
            self._present = (self._ac_voltage, current)
            status = res.ac_evse_status
            emergency = False
        else:  # MeteringReceiptRes
            status = getattr(res, "dc_evse_status", None) or getattr(res, "ac_evse_status", None)
            emergency = False
        self.evse_notification = d.notification_of(status)
        if getattr(res, "receipt_required", False) and res.meter_info is not None:
            self._meter_info = res.meter_info
            return "MeteringReceipt"
        if emergency or self.evse_notification is Notification.STOP_CHARGING or ev.wants_stop() \
                or ev.charging_complete() or ev.wants_pause():
            self._stop_pause = ev.wants_pause() and not d.din
            self._progress = "Stop"
            return "PowerDelivery"
        if self.evse_notification is Notification.RENEGOTIATION and not d.din:
            self._progress = "Renegotiate"
            return "PowerDelivery"
        return "CurrentDemand" if self.cfg.dc else "ChargingStatus"

    def _after_welding(self, now: float, res: Any) -> str:
        self._welding += 1
        self._present = (value_of(res.evse_present_voltage), 0.0)
        if self._present[0] > self.cfg.welding_voltage and self._welding < self.cfg.welding_max_requests:
            return "WeldingDetection"
        self.ev.set_cp_state(CPState.B)
        return "SessionStop"

    def _after_session_stop(self, now: float, res: Any) -> None:
        if self._give_up:
            raise _Stop(False, self._give_up)
