"""A simulated wireless charging pair: a ground pad (primary device and its power electronics) and a car with
an EV device over it, linked by the one thing they share, the parking spot (where the car's coil stands over
the pad's).

The physics is deliberately small and stated: the power transfer efficiency falls with the coil offset d as
``max_efficiency * (1 - (d / coupling_range)**2)`` (0 beyond ``coupling_range``); the pad regulates the power
at the EV device to what the car asks (within its power class) and draws that over the efficiency from the
grid, which its meter counts; the pad judges the alignment by the offset it measures (``alignment_tolerance``),
the car by the share of the test power its coil receives in the alignment check (``min_efficiency``). Fine
positioning moves the car towards where its driver stops (``park_at``) at ``approach_speed``; a knock during
charging (``shift_at``) moves it away again. The numbers are plausible defaults for an MF-WPT3 (11 kW class)
system, not values from IEC 61980/SAE J2954.

Nothing reads a clock: everything moves in ``step``/``advance``.
"""

from __future__ import annotations

import math

from v2gkit.controllers import (
    EVSELimits,
    WPTMethods,
    WPTSupplyController,
    WPTSupplyParameters,
    WPTVehicleController,
    WPTVehicleParameters,
    check_values,
)
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import _SimulatedEVSE

__all__ = ["ParkingSpot", "SimulatedWPTPad", "SimulatedWPTVehicle"]

#: the methods of the simulated pad and car (the car has the first of each of the pad's)
PAD_METHODS = WPTMethods(("LPE", "Manual"), ("LPE", "External confirmation"), ("PowerCheck",))
CAR_METHODS = WPTMethods(("LPE",), ("LPE",), ("PowerCheck",))


class ParkingSpot:
    """Where the car's EV device stands over the pad's primary device (mm, x along the car, y across) and the
    power that arrives at the EV device (W, set by the pad, taken by the car)."""

    def __init__(self, offset: tuple[float, float] = (400.0, 150.0), *, max_efficiency: float = 0.93,
                 coupling_range: float = 250.0) -> None:
        check_values(coupling_range=coupling_range)
        if not 0.0 < max_efficiency <= 1.0:
            raise ValueError(f"max_efficiency must be 0..1, not {max_efficiency:g}")
        self.x, self.y = offset
        self.max_efficiency = max_efficiency
        self.coupling_range = coupling_range
        self.power_at_ev = 0.0
        #: the pairing code the pad in this spot makes observable (set by the pad)
        self.pairing_code: int | None = None

    def distance(self) -> float:
        return math.hypot(self.x, self.y)

    def efficiency(self) -> float:
        """Share of the pad's power that reaches the EV device at the present offset."""
        k = self.distance() / self.coupling_range
        return self.max_efficiency * max(0.0, 1.0 - k * k)

    def move(self, dx: float, dy: float) -> None:
        self.x += dx
        self.y += dy


class SimulatedWPTPad(_SimulatedEVSE, WPTSupplyController):
    """A ground pad: primary device, power electronics, meter (grid side), pairing code, alignment check."""

    def __init__(self, spot: ParkingSpot | None = None, *, evse_id: str = "DE*V2G*E12345",
                 power_class: str = "MF-WPT3", max_power: float = 11_000.0, min_power: float = 0.0,
                 alignment_tolerance: float = 75.0, pairing_code: int = 4711, test_power: float = 500.0,
                 test_coil_current: float = 10.0, alignment_check_time: float = 0.5,
                 ground_clearance: tuple[int, int] = (100, 250), coil_current: tuple[float, float] = (1.0, 60.0),
                 frequency_range: tuple[float, float] = (79_000.0, 90_000.0),
                 methods: WPTMethods = PAD_METHODS,
                 auth_delay: float = 0.0, auth_result: bool = True) -> None:
        """``alignment_tolerance`` (mm): the largest offset the pad accepts; ``test_power`` (W) and
        ``alignment_check_time`` (s): the alignment check's field and how long until it has a reading."""
        check_values(max_power=max_power, alignment_tolerance=alignment_tolerance, test_power=test_power)
        check_values(positive=False, min_power=min_power, alignment_check_time=alignment_check_time)
        if not 1 <= pairing_code <= 0xFFFFFFFF:
            raise ValueError(f"pairing_code must be 1..4294967295, not {pairing_code}")
        super().__init__(evse_id=evse_id, auth_delay=auth_delay, auth_result=auth_result, cable=None)
        self.spot = spot if spot is not None else ParkingSpot()
        self.spot.pairing_code = pairing_code
        self.power_class = power_class
        self.max_power = max_power
        self.min_power = min_power
        self.alignment_tolerance = alignment_tolerance
        self._pairing_code = pairing_code
        self.test_power = test_power
        self.test_coil_current = test_coil_current
        self.alignment_check_time = alignment_check_time
        self.ground_clearance = ground_clearance
        self.coil_current = coil_current
        self.frequency_range = frequency_range
        self._methods = methods
        self._target = 0.0  # W asked at the EV device
        self._check: float | None = None  # seconds the alignment check field has been on
        self._diagnostics = "SPCNoIssue"
        self.delivered_wh = 0.0  # energy that reached the EV device

    # -- WPTSupplyController --------------------------------------------------------------------------
    def limits(self) -> EVSELimits:
        return EVSELimits(max_voltage=0.0, max_current=0.0, max_power=self.max_power)

    def methods(self) -> WPTMethods:
        return self._methods

    def wpt_parameters(self) -> WPTSupplyParameters:
        lo, hi = self.coil_current
        return WPTSupplyParameters(self.power_class, self.max_power, self.min_power, self.ground_clearance[1],
                                   self.ground_clearance[0], hi, lo, self.frequency_range)

    def aligned(self) -> bool:
        return self.spot.distance() <= self.alignment_tolerance

    def pairing_code(self) -> int:
        return self._pairing_code

    def start_alignment_check(self, target_coil_current: float | None) -> None:
        if self._emergency:
            return
        self._target = 0.0
        self._check = 0.0
        self.spot.power_at_ev = self.test_power * self.spot.efficiency()

    def alignment_check_result(self) -> tuple[float, float] | None:
        if self._check is None or self._check < self.alignment_check_time:
            return None
        return (self.test_power, self.test_coil_current)

    def set_power(self, power: float) -> None:
        if self._emergency:
            return
        self._check = None
        self._target = min(max(power, 0.0), self.max_power)
        self.spot.power_at_ev = self._target if self.spot.efficiency() > 0.0 else 0.0

    def stop_output(self) -> None:
        self._target = 0.0
        self._check = None
        self.spot.power_at_ev = 0.0

    def output_power(self) -> float:
        return self.spot.power_at_ev

    def input_power(self) -> float:
        """The grid side: the power at the EV device over the efficiency at the present offset."""
        out = self.spot.power_at_ev
        if out <= 0.0:
            return 0.0
        if self._check is not None:
            return self.test_power
        eff = self.spot.efficiency()
        return out / eff if eff > 0.0 else 0.0

    def diagnostics(self) -> str:
        return self._diagnostics

    def detect(self, diagnostics: str) -> None:
        """Tests: the pad's monitoring reports ``diagnostics`` (SPCFODDetected, SPCLOPDetected, ...)."""
        self._diagnostics = diagnostics

    def step(self, dt: float) -> None:
        """Meter the grid side, keep the regulated power at the EV device as the offset changes, run the
        alignment check's clock."""
        if dt <= 0.0:
            return
        self.time += dt
        self._meter_wh += self.input_power() * dt / 3600.0
        self.delivered_wh += self.spot.power_at_ev * dt / 3600.0
        if self._check is not None:
            self._check += dt
            self.spot.power_at_ev = self.test_power * self.spot.efficiency()
        elif self._target > 0.0:
            self.spot.power_at_ev = self._target if self.spot.efficiency() > 0.0 else 0.0


class SimulatedWPTVehicle(SimulatedEV, WPTVehicleController):
    """A car with an EV device (secondary coil): it positions itself over the pad, observes the pad's
    pairing code, judges the alignment check and charges its battery (``SimulatedEV``'s) from its coil."""

    def __init__(self, spot: ParkingSpot | None = None, *, park_at: tuple[float, float] = (20.0, -10.0),
                 approach_speed: float = 100.0, pairing_time: float = 0.5, observed_code: int | None = None,
                 min_efficiency: float = 0.85, receivable_power: float = 11_000.0,
                 ground_clearance: tuple[int, int] = (120, 180), natural_frequency: float = 85_000.0,
                 shift_at: tuple[float, float, float] | None = None,
                 methods: WPTMethods = CAR_METHODS, **settings: float) -> None:
        """``park_at`` (mm): where the driver stops the EV device relative to the pad; ``approach_speed``
        (mm/s); ``pairing_time`` (s) until the car has observed the pad's code (``observed_code``: the code it
        observes instead, a neighbouring pad's); ``min_efficiency``: the share of the test power the coil must
        receive in the alignment check; ``shift_at`` (s of charging, dx mm, dy mm): a knock that moves the
        car while it charges. ``settings`` are ``SimulatedEV``'s (soc, target_soc, capacity_wh, ...)."""
        check_values(approach_speed=approach_speed, receivable_power=receivable_power)
        check_values(positive=False, pairing_time=pairing_time)
        if not 0.0 < min_efficiency <= 1.0:
            raise ValueError(f"min_efficiency must be 0..1, not {min_efficiency:g}")
        settings.setdefault("max_power", receivable_power)
        super().__init__(**settings)
        self.spot = spot if spot is not None else ParkingSpot()
        self.park_at = park_at
        self.approach_speed = approach_speed
        self.pairing_time = pairing_time
        self.observed_code = observed_code
        self.min_efficiency = min_efficiency
        self.receivable_power = receivable_power
        self.ground_clearance = ground_clearance
        self.natural_frequency = natural_frequency
        self.shift_at = shift_at
        self._methods = methods
        self._moving = False
        self._observing_since: float | None = None
        self._shifted = False
        self.path: list[tuple[float, float, float]] = []  # (time, x, y) while positioning, for tests and views

    # -- WPTVehicleController -----------------------------------------------------------------------
    def methods(self) -> WPTMethods:
        return self._methods

    def wpt_parameters(self) -> WPTVehicleParameters:
        return WPTVehicleParameters(self.receivable_power, self.ground_clearance[1], self.ground_clearance[0],
                                    self.natural_frequency)

    def start_positioning(self) -> None:
        self._moving = True
        self._observing_since = None

    def positioning_done(self) -> bool:
        return not self._moving

    def observed_pairing_code(self) -> int | None:
        if self._observing_since is None:
            self._observing_since = self.time
        if self.time - self._observing_since < self.pairing_time:
            return None
        return self.observed_code if self.observed_code is not None else self.spot.pairing_code

    def alignment_result(self, power_transmitted: float) -> bool | None:
        if power_transmitted <= 0.0:
            return None
        return self.spot.power_at_ev / power_transmitted >= self.min_efficiency

    def power_request(self) -> float:
        if self.charging_complete():
            return 0.0
        return min(self.receivable_power, self.max_power * self._derate())

    def power_output(self) -> float:
        return self.power

    def advance(self, dt: float) -> None:
        """Drive towards ``park_at`` while positioning; charge from the coil; the knock of ``shift_at``."""
        if dt <= 0.0:
            return
        if self._moving:
            dx, dy = self.park_at[0] - self.spot.x, self.park_at[1] - self.spot.y
            dist = math.hypot(dx, dy)
            reach = self.approach_speed * dt
            if dist <= reach:
                self.spot.move(dx, dy)
                self._moving = False
            else:
                self.spot.move(dx * reach / dist, dy * reach / dist)
            self.path.append((self.time + dt, self.spot.x, self.spot.y))
        if self.shift_at is not None and not self._shifted and self.charging_time >= self.shift_at[0]:
            self._shifted = True
            self.spot.move(self.shift_at[1], self.shift_at[2])
        power = self.spot.power_at_ev if not self._moving else 0.0
        voltage = self.open_circuit_voltage()
        SimulatedEV.step(self, dt, voltage, power / voltage if power > 0.0 else 0.0)

    def step(self, dt: float, voltage: float | None = None, current: float | None = None) -> None:
        """Time passes for the car (what the runner calls): over WPT it charges from its coil."""
        self.advance(dt)
