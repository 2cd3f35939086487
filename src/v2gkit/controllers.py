"""The boundary between a V2G session and the hardware it drives: what the EVCC asks of the car and the
SECC of the charger. Plain SI floats (V, A, W, Wh, s, %); the sessions turn them into each protocol's
PhysicalValues. The simulators in ``v2gkit.sim`` implement these; real hardware would too. This is the hardware
boundary, not a simulator, so it lives at the top of the package.

Time is never read here: the session runtime calls ``step(dt)`` with the seconds that passed (a simulated
clock in tests, the event loop's clock live), so physics and protocol stay deterministic together.
"""

from __future__ import annotations

import abc
import enum
import math
from dataclasses import dataclass

#: nominal AC voltage per phase (IEC 60038 low voltage, 230/400 V): what a charger announces and a car
#: assumes when nothing else is known
NOMINAL_AC_VOLTAGE = 230.0


def check_values(positive: bool = True, **values: float) -> None:
    """ValueError naming the first setting no hardware can have: not > 0 (``positive``) or not >= 0,
    infinite or NaN (a battery of 0 Wh, a negative delay). Simulators check their settings with it."""
    for name, value in values.items():
        if not (value > 0.0 if positive else value >= 0.0) or math.isinf(value):
            raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, not {value:g}")


class Isolation(enum.Enum):
    """DC isolation monitoring result (isolationLevelType)."""

    INVALID = "Invalid"
    VALID = "Valid"
    WARNING = "Warning"
    FAULT = "Fault"
    NO_IMD = "No_IMD"


class Notification(enum.Enum):
    """What the SECC asks of the EV in EVSENotification."""

    NONE = "None"
    STOP_CHARGING = "StopCharging"
    RENEGOTIATION = "ReNegotiation"
    #: ISO 15118-20 only: the SECC asks the EV to pause the session, or to go back to ServiceDiscovery
    #: (DIN/ISO-2 have neither: they send StopCharging / ReNegotiation instead)
    PAUSE = "Pause"
    SERVICE_RENEGOTIATION = "ServiceRenegotiation"


class CPState(enum.Enum):
    """IEC 61851-1 control pilot states the EV switches (B: connected, C: ready to take power)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


@dataclass(frozen=True)
class EVLimits:
    """The car's side of ChargeParameterDiscovery."""

    max_voltage: float  # V
    max_current: float  # A (DC), per phase (AC)
    max_power: float  # W
    min_current: float = 0.0  # A, AC only
    energy_capacity: float = 0.0  # Wh
    energy_request: float = 0.0  # Wh still wanted (AC EAmount, DC EVEnergyRequest)
    departure_time: int | None = None  # s from now
    full_soc: int = 100  # %
    bulk_soc: int = 80  # %


@dataclass(frozen=True)
class EVSELimits:
    """The charger's side of ChargeParameterDiscovery and of every CurrentDemandRes."""

    max_voltage: float
    max_current: float
    max_power: float
    min_voltage: float = 0.0
    min_current: float = 0.0
    peak_current_ripple: float = 5.0  # A, DC
    nominal_voltage: float = NOMINAL_AC_VOLTAGE  # V, AC per phase
    phases: int = 3  # AC


class EVController(abc.ABC):
    """The car behind an EVCC."""

    evcc_id: bytes  # MAC address, 6 bytes (DIN, ISO 15118-2)

    @abc.abstractmethod
    def limits(self) -> EVLimits: ...

    @abc.abstractmethod
    def soc(self) -> float:
        """State of charge, %."""

    @abc.abstractmethod
    def ready(self) -> bool:
        """EVReady: the car can take power."""

    @abc.abstractmethod
    def error(self) -> str:
        """DC_EVErrorCodeType value, ``NO_ERROR`` when fine."""

    @abc.abstractmethod
    def target(self) -> tuple[float, float]:
        """(voltage, current) the car asks for now: CC below the CV threshold, CV and tapering above."""

    @abc.abstractmethod
    def precharge_target(self) -> tuple[float, float]:
        """(voltage, current) for PreCharge: the battery voltage and a small current (<= 2 A)."""

    @abc.abstractmethod
    def bulk_complete(self) -> bool: ...

    @abc.abstractmethod
    def charging_complete(self) -> bool: ...

    @abc.abstractmethod
    def remaining_time(self) -> tuple[float | None, float | None]:
        """(to full SOC, to bulk SOC) in seconds at the present rate; None when unknown."""

    @abc.abstractmethod
    def wants_stop(self) -> bool:
        """The car ends charging (target reached, driver unplugs or stops)."""

    @abc.abstractmethod
    def wants_pause(self) -> bool:
        """The car pauses the session (SessionStop with ChargingSession=Pause)."""

    @abc.abstractmethod
    def step(self, dt: float, voltage: float, current: float) -> None:
        """``dt`` seconds passed with the charger delivering ``voltage``/``current``."""

    @abc.abstractmethod
    def set_cp_state(self, state: CPState) -> None:
        """The EVCC switches the control pilot (B before and after power, C while charging)."""


class EVSEController(abc.ABC):
    """The charger behind an SECC: power electronics, isolation monitor, meter, authorization."""

    evse_id: str

    @abc.abstractmethod
    def limits(self) -> EVSELimits: ...

    @abc.abstractmethod
    def authorized(self) -> bool | None:
        """External identification (EIM): True accepted, False refused, None still waiting."""

    @abc.abstractmethod
    def isolation(self) -> Isolation: ...

    @abc.abstractmethod
    def start_cable_check(self, voltage: float) -> None:
        """Apply the test voltage and start measuring the isolation."""

    @abc.abstractmethod
    def cable_check_done(self) -> bool: ...

    @abc.abstractmethod
    def set_output(self, voltage: float, current: float) -> None:
        """Target for the power module (PreCharge: voltage with a small current limit; CurrentDemand)."""

    @abc.abstractmethod
    def stop_output(self) -> None:
        """Ramp down and open the contactors."""

    @abc.abstractmethod
    def present(self) -> tuple[float, float]:
        """(voltage, current) measured at the outlet."""

    @abc.abstractmethod
    def limits_achieved(self) -> tuple[bool, bool, bool]:
        """(current, voltage, power) limit achieved, for CurrentDemandRes."""

    @abc.abstractmethod
    def meter_wh(self) -> float:
        """Energy delivered in this session so far."""

    @abc.abstractmethod
    def notification(self) -> Notification: ...

    @abc.abstractmethod
    def emergency_shutdown(self) -> bool:
        """The charger must stop at once (EVSE_EmergencyShutdown)."""

    @abc.abstractmethod
    def cp_state(self) -> CPState:
        """What the charger measures on the control pilot."""

    @abc.abstractmethod
    def step(self, dt: float) -> None:
        """``dt`` seconds passed: ramps, cable check progress, the meter."""
