"""Configuration of DIN SPEC 70121 / ISO 15118-2 sessions, checked when made (ConfigError naming the field)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ... import timing
from ..config import ConfigError, check_seconds, check_session_id, is_int, is_number
from .dialect import CANONICAL

__all__ = ["EVCCConfig", "SECCConfig"]


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
        if self.receipt_interval is not None and (not is_int(self.receipt_interval) or self.receipt_interval < 1):
            raise ConfigError("receipt_interval",
                              f"must be a whole number >= 1 (or unset), not {self.receipt_interval!r}")
        check_seconds(self, "sequence_timeout", "ongoing_limit", "cable_check_limit")
        if not is_int(self.schedule_duration) or not 1 <= self.schedule_duration <= SCHEDULE_DURATION_MAX:
            raise ConfigError("schedule_duration", f"must be 1..{SCHEDULE_DURATION_MAX} s (RelativeTimeInterval "
                                                   f"duration), not {self.schedule_duration!r}")
        if not isinstance(self.meter_id, str) or len(self.meter_id) > METER_ID_MAX:
            raise ConfigError("meter_id", f"must be a string of at most {METER_ID_MAX} characters (meterIDType), "
                                          f"not {self.meter_id!r}")
        if not is_int(self.charge_parameter_ongoing) or self.charge_parameter_ongoing < 0:
            raise ConfigError("charge_parameter_ongoing", f"must be a whole number >= 0, "
                                                          f"not {self.charge_parameter_ongoing!r}")
        check_session_id("session_id", self.session_id)
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
        check_seconds(self, "loop_interval", zero=True)
        check_seconds(self, "msg_timeout_default", "ongoing_timeout", "cable_check_timeout", "pre_charge_timeout")
        if not isinstance(self.msg_timeouts, dict):
            raise ConfigError("msg_timeouts", f"must be a table of message name = seconds, not {self.msg_timeouts!r}")
        known = set(CANONICAL) | set(timing.EVCC_MSG_TIMEOUT)
        for name, v in self.msg_timeouts.items():
            if name not in known:
                raise ConfigError("msg_timeouts", f"no request {name!r}; requests: {', '.join(sorted(known))}")
            if not is_number(v) or v <= 0:
                raise ConfigError("msg_timeouts", f"{name}: must be a number of seconds > 0, not {v!r}")
        for name in ("pre_charge_tolerance", "welding_voltage"):
            v = getattr(self, name)
            if not is_number(v) or v < 0:
                raise ConfigError(name, f"must be a number >= 0, not {v!r}")
        check_session_id("resume_session_id", self.resume_session_id)
        if not is_int(self.welding_max_requests) or self.welding_max_requests < 0:
            raise ConfigError("welding_max_requests", f"must be a whole number >= 0 (0: no WeldingDetection), "
                                                      f"not {self.welding_max_requests!r}")
        ids = self.service_detail_ids
        if not isinstance(ids, tuple) or not all(is_int(i) and 0 <= i <= 0xFFFF for i in ids):
            raise ConfigError("service_detail_ids", f"must be a list of ServiceIDs 0..65535, not {ids!r}")
