"""The boundary between a V2G session and the hardware it drives: what the EVCC asks of the car and the
SECC of the charger. Plain SI floats (V, A, W, Wh, s, %); the sessions turn them into each protocol's
PhysicalValues. The simulators in ``v2gkit.sim`` implement these; real hardware would too. This is the hardware
boundary, not a simulator, so it lives at the top of the package.

Time is never read here, and the protocol machines never advance it: the runners (``net/runner.py`` live,
``session/simulate.py`` on the simulated clock) call ``step(dt)`` on the machine's ``hardware`` with the
seconds that passed before each message or timer, so physics and protocol stay deterministic together. The
EVCC tells its car what the charger delivers (``supply``), as it learns it from the SECC's answers.
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

    def supply(self, voltage: float, current: float) -> None:
        """What the charger delivers from now on (per phase for AC; < 0 A: the car gives), as the EVCC reads
        it in the SECC's answers: ``step`` runs on it."""
        self._supply = (voltage, current)

    @abc.abstractmethod
    def step(self, dt: float, voltage: float | None = None, current: float | None = None) -> None:
        """``dt`` seconds passed with the charger delivering ``voltage``/``current`` (default: the ``supply``)."""

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


# ---------------------------------------------------------------------------------------------------------
# ISO 15118-20: bidirectional power transfer and control modes
#
# Signs: power and current > 0 flow from the grid into the car (charge), < 0 from the car to the grid
# (discharge, V2X). Limits are magnitudes (>= 0) as the -20 *Discharge* fields carry them. Energies are Wh at
# the inlet. AC powers are totals over the phases; the session splits them into the _L2/_L3 fields when the
# connector is three-phase (the -20 AC fields give L1 alone only when _L2/_L3 are present).
# The value types below carry values as they are, also a peer's: they check nothing, and whoever acts on
# them treats a negative limit as 0 (simulators check their own settings with ``check_values``).
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EVDischargeLimits:
    """The car's discharge side of BPT_DC_CPDReqEnergyTransferMode / BPT_AC_CPDReqEnergyTransferMode and of
    the BPT_*_CLReqControlMode of every ChargeLoopReq: magnitudes, all 0 while the car gives nothing."""

    max_power: float  # W, EVMaximumDischargePower
    min_power: float = 0.0  # W, EVMinimumDischargePower
    max_current: float = 0.0  # A, EVMaximumDischargeCurrent (DC)
    min_current: float = 0.0  # A, EVMinimumDischargeCurrent (DC ChargeParameterDiscovery)


@dataclass(frozen=True)
class EVSEDischargeLimits:
    """The charger's discharge side of BPT_DC_CPDResEnergyTransferMode / BPT_AC_CPDResEnergyTransferMode and
    of the BPT_*_CLResControlMode of every ChargeLoopRes: magnitudes (what the charger can sink)."""

    max_power: float  # W, EVSEMaximumDischargePower
    min_power: float = 0.0  # W, EVSEMinimumDischargePower
    max_current: float = 0.0  # A, EVSEMaximumDischargeCurrent (DC; AC: per phase, informative)
    min_current: float = 0.0  # A, EVSEMinimumDischargeCurrent (DC ChargeParameterDiscovery)


@dataclass(frozen=True)
class EnergyRequest:
    """What the car still wants, as Dynamic_SEReqControlMode (ScheduleExchangeReq) and the Dynamic_ and
    Scheduled_ *_CLReqControlMode of every ChargeLoopReq carry it. Wh at the inlet, signed: > 0 the car
    needs that much more to reach the SOC named, < 0 it is above that SOC by that much (energy it can give)."""

    target: float  # Wh to target_soc, EVTargetEnergyRequest
    maximum: float  # Wh to the most the car accepts, EVMaximumEnergyRequest
    minimum: float  # Wh to minimum_soc, EVMinimumEnergyRequest (charged first, at full power)
    departure_time: int | None = None  # s from now, DepartureTime (mandatory in Dynamic_SEReqControlMode)
    maximum_v2x: float | None = None  # Wh to the top of the V2X cycling range, EVMaximumV2XEnergyRequest (BPT)
    minimum_v2x: float | None = None  # Wh to the bottom of the V2X range, EVMinimumV2XEnergyRequest (BPT)
    target_soc: float | None = None  # %, TargetSOC (Dynamic_SEReqControlMode, DisplayParameters)
    minimum_soc: float | None = None  # %, MinimumSOC (<= target_soc, [V2G20-1290]/[V2G20-1366])

    @property
    def dischargeable(self) -> float:
        """Wh the car lets V2X take now (0 for a car that sends no V2X request)."""
        return max(-self.minimum_v2x, 0.0) if self.minimum_v2x is not None else 0.0


@dataclass(frozen=True)
class PowerSetpoint:
    """What the SECC allows the car now and, when it decides (Dynamic mode, AC EVSETargetActivePower), asks
    of it. ``max_charge``/``max_discharge`` are magnitudes: the schedule entry in force (ChargingSchedule /
    DischargingSchedule PowerSchedule) or EVSEMaximumChargePower / EVSEMaximumDischargePower."""

    max_charge: float  # W >= 0
    max_discharge: float = 0.0  # W >= 0
    target: float | None = None  # W, signed; None: the car chooses within the limits (Scheduled mode)


class EV20Controller(EVController):
    """The car behind an ISO 15118-20 EVCC (AC and DC, Scheduled and Dynamic control mode), on top of what
    every EVCC needs. A car that cannot discharge implements this; a bidirectional one ``BidirectionalEV``."""

    @abc.abstractmethod
    def energy_request(self) -> EnergyRequest:
        """Dynamic_SEReqControlMode / Scheduled_SEReqControlMode of ScheduleExchangeReq and the energy
        requests, DepartureTime and DisplayParameters (MinimumSOC, TargetSOC) of every ChargeLoopReq."""

    @abc.abstractmethod
    def power_wanted(self, setpoint: PowerSetpoint) -> float:
        """Signed W the car takes now within ``setpoint``: EVTargetCurrent x EVPresentVoltage of
        Scheduled_DC_CLReqControlMode, and what AC EVPresentActivePower becomes (it follows ``target``)."""

    @abc.abstractmethod
    def present_voltage(self) -> float:
        """EVPresentVoltage of DC_PreChargeReq and DC_ChargeLoopReq: the battery's terminal voltage."""

    @abc.abstractmethod
    def present_power(self) -> float:
        """EVPresentActivePower of AC_ChargeLoopReq (total over the phases, signed)."""


class BidirectionalEV(EV20Controller):
    """A car that can also give energy (AC_BPT, DC_BPT): ``step`` takes negative currents, ``energy_request``
    fills the V2X requests, ``power_wanted`` may be negative."""

    @abc.abstractmethod
    def discharge_limits(self) -> EVDischargeLimits:
        """EVMaximum/MinimumDischargePower and -Current of BPT_*_CPDReqEnergyTransferMode and of every
        BPT_*_CLReqControlMode; all 0 while the car will not discharge (at its floor, no time to recharge)."""


class EVSE20Controller(EVSEController):
    """The charger behind an ISO 15118-20 SECC, on top of what every SECC needs. ``meter_wh`` is the
    imported energy (MeterInfo ChargedEnergyReadingWh)."""

    @abc.abstractmethod
    def set_ev_request(self, request: EnergyRequest, max_charge: float, max_discharge: float = 0.0) -> None:
        """The car's latest Dynamic_SEReqControlMode or Dynamic_*_CLReqControlMode: its energy requests,
        DepartureTime and EVMaximumChargePower / EVMaximumDischargePower, for ``target_power``."""

    @abc.abstractmethod
    def target_power(self) -> float:
        """Signed W the charger wants now in Dynamic mode: EVSETargetActivePower of Dynamic_AC_CLResControlMode
        (split over the phases), the DC output the SECC sets (/ EVPresentVoltage)."""

    @abc.abstractmethod
    def set_power_limits(self, max_charge: float, max_discharge: float = 0.0) -> None:
        """The schedule entry in force (the selected ScheduleTuple's PowerSchedule and DischargingSchedule, or
        a grid limit): the output never leaves it."""

    @abc.abstractmethod
    def power_limits(self) -> tuple[float, float]:
        """(charge, discharge) W the charger allows now: EVSEMaximumChargePower / EVSEMaximumDischargePower of
        every ChargeLoopRes (hardware, ``set_power_limits`` and its own schedule, whichever is lowest)."""

    @abc.abstractmethod
    def present_power(self) -> tuple[float, ...]:
        """Signed W per phase at the outlet: EVSEPresentActivePower(_L2, _L3) of AC_ChargeLoopRes and
        AC_ChargeParameterDiscoveryRes; one value for DC."""


class BidirectionalEVSE(EVSE20Controller):
    """A charger that can also sink (AC_BPT, DC_BPT): ``set_output`` takes a negative current."""

    @abc.abstractmethod
    def discharge_limits(self) -> EVSEDischargeLimits:
        """EVSEMaximum/MinimumDischargePower and -Current of BPT_*_CPDResEnergyTransferMode and of every
        BPT_*_CLResControlMode."""

    @abc.abstractmethod
    def exported_wh(self) -> float:
        """Energy taken from the car in this session: MeterInfo BPT_DischargedEnergyReadingWh."""


# ---------------------------------------------------------------------------------------------------------
# ISO 15118-20 WPT (wireless power transfer, IEC 61980) and ACDP (automated connection device: a pantograph,
# IEC 61851-23-1). Lengths in mm, powers in W, frequencies in Hz. Enumerations are carried by their XSD
# spelling (V2G_CI_WPT.xsd, V2G_CI_ACDP.xsd): "LPE", "External confirmation", "MF-WPT3", "EndPosition", ...
# A WPT charger and car are still an EVSEController and an EVController (authorization, meter,
# notifications, battery); the conductive-only parts get inert defaults here (no pilot, no cable check).
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WPTMethods:
    """The fine positioning, pairing and alignment check methods of WPT_FinePositioningSetup (1..8 each, in
    order of preference; WPT_FinePositioningMethodType, WPT_PairingMethodType, WPT_AlignmentCheckMethodType)."""

    fine_positioning: tuple[str, ...] = ("LPE",)
    pairing: tuple[str, ...] = ("LPE",)
    alignment_check: tuple[str, ...] = ("PowerCheck",)

    def common(self, other: WPTMethods) -> WPTMethods | None:
        """The first method of each of our lists that ``other`` has too; None when a list has none in common."""
        picked: list[tuple[str, ...]] = []
        for mine, theirs in ((self.fine_positioning, other.fine_positioning), (self.pairing, other.pairing),
                             (self.alignment_check, other.alignment_check)):
            pick = next((m for m in mine if m in theirs), None)
            if pick is None:
                return None
            picked.append((pick,))
        return WPTMethods(*picked)

    def single(self) -> bool:
        """One method per list: a choice, not an offer ([V2G20-5006])."""
        return len(self.fine_positioning) == len(self.pairing) == len(self.alignment_check) == 1


@dataclass(frozen=True)
class WPTSupplyParameters:
    """The supply device's side of WPT_ChargeParameterDiscoveryRes, and the range of EV natural frequencies
    its primary device can work with (the compatibility check of IEC 61980-2)."""

    power_class: str  # PDInputPowerClass: MF-WPT1..MF-WPT4
    max_output_power: float  # W, SDMaxOutputPower
    min_output_power: float = 0.0  # W
    max_ground_clearance: int = 250  # mm, SDMaxGroundClearanceSupport
    min_ground_clearance: int = 100  # mm
    max_coil_current: float = 0.0  # A, PDMaxCoilCurrent
    min_coil_current: float = 0.0  # A
    frequency_range: tuple[float, float] = (79_000.0, 90_000.0)  # Hz


@dataclass(frozen=True)
class WPTVehicleParameters:
    """The EV device's side of WPT_ChargeParameterDiscoveryReq."""

    max_receivable_power: float  # W, EVPCMaxReceivablePower
    max_ground_clearance: int  # mm, SDMaxGroundClearence (spelt so in the XSD)
    min_ground_clearance: int  # mm
    natural_frequency: float  # Hz, EVPCNaturalFrequency
    local_control: bool = False  # EVPCDeviceLocalControl


class WPTSupplyController(EVSEController):
    """The ground side behind a WPT SECC: the primary device and its power electronics."""

    def methods(self) -> WPTMethods:
        """The primary device's fine positioning, pairing and alignment check methods."""
        return WPTMethods()

    @abc.abstractmethod
    def wpt_parameters(self) -> WPTSupplyParameters: ...

    @abc.abstractmethod
    def aligned(self) -> bool:
        """The primary device finds the EV device within its alignment tolerance (what it measures)."""

    @abc.abstractmethod
    def pairing_code(self) -> int:
        """The identification code the primary device makes observable for pairing (1..4294967295)."""

    @abc.abstractmethod
    def start_alignment_check(self, target_coil_current: float | None) -> None:
        """Energize the primary coil at test level (the EV may ask for a coil current)."""

    @abc.abstractmethod
    def alignment_check_result(self) -> tuple[float, float] | None:
        """(PowerTransmitted W, SupplyDeviceCurrent A) of the running check; None until it has a reading."""

    @abc.abstractmethod
    def set_power(self, power: float) -> None:
        """Transfer ``power`` W to the EV device (within the supply's limits); 0 or ``stop_output`` ends it."""

    @abc.abstractmethod
    def output_power(self) -> float:
        """W the supply device delivers now (the EV side of the link)."""

    @abc.abstractmethod
    def input_power(self) -> float:
        """W the supply device draws now (SDPowerInput); its meter counts this."""

    def diagnostics(self) -> str:
        """SPCChargeDiagnostics: SPCNoIssue, SPCFODDetected (foreign object), SPCLOPDetected (living object),
        SPCTempOverheatDetected, SPCPowerTransferAnomalyDetected, SPCAnomalyDetected."""
        return "SPCNoIssue"

    # -- conductive parts: inert over WPT
    def isolation(self) -> Isolation:
        return Isolation.NO_IMD

    def start_cable_check(self, voltage: float) -> None:
        """No cable over WPT."""

    def cable_check_done(self) -> bool:
        return True

    def set_output(self, voltage: float, current: float) -> None:
        """A conductive set point means that power over WPT."""
        self.set_power(max(voltage * current, 0.0))

    def present(self) -> tuple[float, float]:
        return (0.0, 0.0)

    def limits_achieved(self) -> tuple[bool, bool, bool]:
        return (False, False, False)

    def cp_state(self) -> CPState:
        """No control pilot over WPT: B (connected, no power asked) for code that asks."""
        return CPState.B


class WPTVehicleController(EVController):
    """The car behind a WPT EVCC: its EV device (secondary coil), its positioning and its battery."""

    def methods(self) -> WPTMethods:
        """The EV device's fine positioning, pairing and alignment check methods, in order of preference."""
        return WPTMethods()

    def natural_offset(self) -> int:
        """NaturalOffset of WPT_FinePositioningSetupReq (mm)."""
        return 0

    @abc.abstractmethod
    def wpt_parameters(self) -> WPTVehicleParameters: ...

    @abc.abstractmethod
    def start_positioning(self) -> None:
        """Fine positioning begins: the driver (or the car) moves the EV device over the primary device."""

    @abc.abstractmethod
    def positioning_done(self) -> bool:
        """The EV device is where the car wants it and the car stands still (EVProcessing Finished)."""

    @abc.abstractmethod
    def observed_pairing_code(self) -> int | None:
        """The pairing code the car observed (1..4294967295); None while it is still observing."""

    @abc.abstractmethod
    def alignment_result(self, power_transmitted: float) -> bool | None:
        """The car's verdict on the alignment check: what its coil receives against ``power_transmitted``;
        None while it is still measuring."""

    @abc.abstractmethod
    def power_request(self) -> float:
        """EVPCPowerRequest: W the car wants at its output now (0 when done)."""

    @abc.abstractmethod
    def power_output(self) -> float:
        """EVPCPowerOutput: W the car's EV device delivers to the battery now."""

    def diagnostics(self) -> str:
        """EVPCChargeDiagnostics: EVPCNoIssue, EVPCTempOverheatDetected, EVPCPowerTransferAnomalyDetected,
        EVPCAnomalyDetected."""
        return "EVPCNoIssue"

    @abc.abstractmethod
    def advance(self, dt: float) -> None:
        """``dt`` seconds passed: the car moves if it is positioning and charges from what its coil receives."""

    # -- conductive parts: inert over WPT
    def target(self) -> tuple[float, float]:
        return (0.0, 0.0)

    def precharge_target(self) -> tuple[float, float]:
        return (0.0, 0.0)

    def set_cp_state(self, state: CPState) -> None:
        """No control pilot over WPT."""

    def step(self, dt: float, voltage: float | None = None, current: float | None = None) -> None:
        """The runner's clock: over WPT the car takes what its coil receives, not a conductive supply."""
        self.advance(dt)


@dataclass(frozen=True)
class ACDPPosition:
    """What the charger tells the EV in ACDP_VehiclePositioningRes: the EV's deviation from the charge
    position, the contact window (both mm in v2gkit's simulators) and whether the EV is in charge position."""

    x_deviation: int
    y_deviation: int
    window_x: int
    window_y: int
    in_charge_position: bool
    positioning_support: bool = True


@dataclass(frozen=True)
class ACDPEVSEStatus:
    """The charger's side of ACDP_SystemStatusRes."""

    mechanical: str = "Home"  # Home, Moving, EndPosition (the pantograph)
    ready_to_charge: bool = False
    isolation: str = "Invalid"  # Invalid, Safe, Warning, Fault
    disabled: bool = False
    utility_interrupt: bool = False
    emergency_shutdown: bool = False
    malfunction: bool = False
    ev_in_charge_position: bool = False
    ev_association: bool = False

    @property
    def must_stop(self) -> bool:
        """The charger cannot go on: emergency, malfunction, disabled, utility interrupt or isolation fault."""
        return (self.emergency_shutdown or self.malfunction or self.disabled or self.utility_interrupt
                or self.isolation == "Fault")


@dataclass(frozen=True)
class ACDPEVStatus:
    """The car's EVTechnicalStatus of ACDP_SystemStatusReq (``wlan_strength`` dBm, ``soc`` %, ``cp_status``
    StateA..StateE, ``error_code`` OK_NoEVError or a FAILED_* of errorCodeType; None: not sent)."""

    ready_to_charge: bool
    immobilization_request: bool
    immobilized: bool | None = None
    wlan_strength: float | None = None
    cp_status: str | None = None
    soc: int | None = None
    error_code: str | None = None
    timeout: bool | None = None


class ACDPChargerController(EVSEController):
    """A DC charger with an automated connection device (pantograph) behind an ACDP SECC."""

    @abc.abstractmethod
    def position(self) -> ACDPPosition:
        """Where the EV stands relative to the charge position (the charger's positioning system)."""

    @abc.abstractmethod
    def ev_immobilized(self, immobilized: bool) -> None:
        """The EV reported its EVMobilityStatus (True: it stands still and will not move)."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Lower the pantograph onto the EV's contact area."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Raise the pantograph to its home position (opening the contactors first)."""

    @abc.abstractmethod
    def device_status(self) -> tuple[str, str]:
        """(electrical, mechanical): State_A..State_D and Home/Moving/EndPosition."""

    @abc.abstractmethod
    def contact_failed(self) -> bool:
        """The pantograph cannot make contact (EV outside the contact window, obstacle)."""

    @abc.abstractmethod
    def system_status(self) -> ACDPEVSEStatus: ...

    @abc.abstractmethod
    def ev_status(self, status: ACDPEVStatus) -> None:
        """The EV's latest EVTechnicalStatus."""


class ACDPVehicleController(EVController):
    """A DC car charged through an automated connection device (it positions itself under the pantograph)."""

    @abc.abstractmethod
    def follow(self, position: ACDPPosition) -> None:
        """The charger's positioning information: the car (or its driver) steers by it."""

    @abc.abstractmethod
    def immobilized(self) -> bool:
        """The car stands in charge position and will not move (EVMobilityStatus, [V2G20-4048])."""

    @abc.abstractmethod
    def technical_status(self) -> ACDPEVStatus: ...
