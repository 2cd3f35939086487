"""Configuration of ISO 15118-20 sessions, checked when made (ConfigError naming the field)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ... import timing
from ..config import ConfigError, check_seconds, check_session_id, is_int, is_number

__all__ = ["CONTROL_MODES", "EVCC20Config", "SECC20Config"]

#: the control modes of -20 (ServiceDetail parameter ControlMode 1 and 2)
CONTROL_MODES = ("Scheduled", "Dynamic")
#: EVSEID (evseIDType): a string of 7..37 characters in the CommonTypes schema
EVSE_ID_LENGTH = (7, 37)


def _check_modes(name: str, modes: Any) -> None:
    if not isinstance(modes, tuple) or not modes or any(m not in CONTROL_MODES for m in modes) \
            or len(set(modes)) != len(modes):
        raise ConfigError(name, f"must be a list of {' and/or '.join(CONTROL_MODES)}, each once, not {modes!r}")


def _check_bool(cfg: Any, *names: str) -> None:
    for name in names:
        if not isinstance(getattr(cfg, name), bool):
            raise ConfigError(name, f"must be true or false, not {getattr(cfg, name)!r}")


@dataclass
class SECC20Config:
    """The charger's side. The energy services offered follow the negotiated namespace (DC or AC); ``bpt``
    adds the bidirectional one (DC_BPT / AC_BPT) beside the plain one."""

    evse_id: str = "DE*V2G*E12345"
    bpt: bool = False
    #: the control modes offered as parameter sets of each energy service, in this order
    control_modes: tuple[str, ...] = CONTROL_MODES
    #: ServiceRenegotiationSupported in the first ServiceDiscoveryRes ([V2G20-1480])
    service_renegotiation: bool = True
    #: grant PowerDelivery(Standby) (else WARNING_StandbyNotAllowed, [V2G20-1396])
    standby: bool = False
    sequence_timeout: float = timing.ISO20_SECC_SEQUENCE_TIMEOUT
    loop_sequence_timeout: float = timing.ISO20_SECC_SEQUENCE_TIMEOUT_CHARGE_LOOP
    ongoing_limit: float = timing.ISO20_SECC_ONGOING_PERFORMANCE_TIME
    cable_check_limit: float = timing.ISO20_SECC_CABLE_CHECK_PERFORMANCE_TIME
    #: the one schedule tuple's length when no schedules are configured (PowerSchedule entries: <= 86400 s)
    schedule_duration: int = 86400
    meter_id: str = "v2gkit-meter-1"
    #: answer ScheduleExchange with EVSEProcessing=Ongoing this many times first (prices from a backend)
    schedule_exchange_ongoing: int = 0
    #: the SessionID of a new session (test systems fix it); None: 8 random octets
    session_id: bytes | None = None
    #: Dynamic mode: AckMaxDelay the SECC gives in its ChargeLoopRes (s)
    ack_max_delay: int = 30
    #: the schedule tuple and prices offered (``v2gkit.sim.schedules.load_schedules``); None: one tuple at the
    #: charger's full power for ``schedule_duration``, no prices
    schedules: Any = None

    def __post_init__(self) -> None:
        low, high = EVSE_ID_LENGTH
        if not isinstance(self.evse_id, str) or not low <= len(self.evse_id) <= high:
            raise ConfigError("evse_id", f"ISO 15118-20 wants {low} to {high} characters (evseIDType), "
                                         f"not {self.evse_id!r}")
        _check_bool(self, "bpt", "service_renegotiation", "standby")
        _check_modes("control_modes", self.control_modes)
        check_seconds(self, "sequence_timeout", "loop_sequence_timeout", "ongoing_limit", "cable_check_limit")
        if not is_int(self.schedule_duration) or not 1 <= self.schedule_duration <= 86400:
            raise ConfigError("schedule_duration", f"must be 1..86400 s, not {self.schedule_duration!r}")
        if not isinstance(self.meter_id, str) or not 1 <= len(self.meter_id) <= 32:
            raise ConfigError("meter_id", f"must be 1 to 32 characters (meterIDType), not {self.meter_id!r}")
        for name in ("schedule_exchange_ongoing", "ack_max_delay"):
            v = getattr(self, name)
            if not is_int(v) or v < 0:
                raise ConfigError(name, f"must be a whole number >= 0, not {v!r}")
        check_session_id("session_id", self.session_id)
        if self.session_id is not None and len(self.session_id) != 8:
            raise ConfigError("session_id", f"an ISO 15118-20 SessionID is 8 octets, not {len(self.session_id)}")


@dataclass
class EVCC20Config:
    """The car's side: which service it wants (``bpt``) and in which ``control_mode``."""

    bpt: bool = False
    control_mode: str = "Scheduled"
    #: pause between requests of a loop (Ongoing polls, the charge loop); 0 = as fast as possible. Keep it
    #: under V2G_EVCC_Sequence_Performance_Time (0.25 s in the charge loop)
    loop_interval: float = 0.1
    msg_timeouts: dict[str, float] = field(default_factory=lambda: dict(timing.ISO20_EVCC_MSG_TIMEOUT))
    msg_timeout_default: float = timing.ISO20_EVCC_MSG_TIMEOUT_DEFAULT
    ongoing_timeout: float = timing.ISO20_EVCC_ONGOING_TIMEOUT
    cable_check_timeout: float = timing.ISO20_EVCC_CABLE_CHECK_TIMEOUT
    pre_charge_timeout: float = timing.ISO20_EVCC_PRECHARGE_TIMEOUT
    welding_timeout: float = timing.ISO20_EVCC_WELDING_TIMEOUT
    #: PreCharge is done when the EVSE's voltage is this close to the battery's
    pre_charge_tolerance: float = 20.0
    #: WeldingDetection until the outlet is below this voltage (0 requests: none)
    welding_voltage: float = 60.0
    welding_max_requests: int = 30
    #: rejoin a paused session (its SessionID)
    resume_session_id: bytes | None = None
    #: MaximumSupportingPoints in ScheduleExchangeReq (12..1024)
    max_supporting_points: int = 1024
    #: ask for MeterInfo in every charge-loop request
    meter_info_requested: bool = False
    #: DepartureTime (s from now) sent in Dynamic mode when the car has none (it is mandatory there)
    departure_time: int = 43200

    def __post_init__(self) -> None:
        _check_bool(self, "bpt", "meter_info_requested")
        if self.control_mode not in CONTROL_MODES:
            raise ConfigError("control_mode", f"must be {' or '.join(CONTROL_MODES)}, not {self.control_mode!r}")
        check_seconds(self, "loop_interval", zero=True)
        check_seconds(self, "msg_timeout_default", "ongoing_timeout", "cable_check_timeout", "pre_charge_timeout",
                      "welding_timeout")
        if not isinstance(self.msg_timeouts, dict) or not all(
                isinstance(k, str) and is_number(v) and v > 0 for k, v in self.msg_timeouts.items()):
            raise ConfigError("msg_timeouts", f"must be a table of message name = seconds > 0, not {self.msg_timeouts!r}")
        for name in ("pre_charge_tolerance", "welding_voltage"):
            v = getattr(self, name)
            if not is_number(v) or v < 0:
                raise ConfigError(name, f"must be a number >= 0, not {v!r}")
        if not is_int(self.welding_max_requests) or self.welding_max_requests < 0:
            raise ConfigError("welding_max_requests", f"must be a whole number >= 0, not {self.welding_max_requests!r}")
        if not is_int(self.max_supporting_points) or not 12 <= self.max_supporting_points <= 1024:
            raise ConfigError("max_supporting_points", f"must be 12..1024, not {self.max_supporting_points!r}")
        check_session_id("resume_session_id", self.resume_session_id)
        if not is_int(self.departure_time) or not 0 <= self.departure_time <= 0xFFFFFFFF:
            raise ConfigError("departure_time", f"must be 0..4294967295 s, not {self.departure_time!r}")
