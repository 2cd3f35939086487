"""A simulated bidirectional car for ISO 15118-20 (AC_BPT, DC_BPT; Scheduled and Dynamic control mode).

``SimulatedBPTEV`` is a ``SimulatedEV`` (same battery, OCV curve, CC/CV and derating when it charges) that
can also give energy back: negative currents in ``step`` discharge it. It keeps a few promises whatever the
charger does:

- its SOC never goes below ``minimum_soc`` (the BMS opens: energy asked beyond it is refused and counted
  in ``refused_wh``) and never above 100 %;
- it offers V2X only down to its floor: the V2X minimum, raised so that at ``recharge_power`` it can still
  reach ``target_soc`` by departure. Its EnergyRequest, discharge limits and ``power_wanted`` all say so.

Energy is counted at the inlet (``charged_wh`` in, ``discharged_wh`` out, what a charger's meter sees) and in
the battery: charging stores ``charge_efficiency`` of what comes in, discharging takes ``1 / discharge_
efficiency`` of what goes out; ``losses_wh`` is the difference. Nothing reads a clock: only ``step`` moves.
"""

from __future__ import annotations

import math
from typing import Any

from v2gkit.controllers import (
    BidirectionalEV,
    EnergyRequest,
    EVDischargeLimits,
    PowerSetpoint,
    check_values,
)
from v2gkit.sim.ev import SimulatedEV

#: the share of its maximum charge power the car counts on when it decides how low V2X may take it before
#: departure (the rest covers derating, the CV taper and a charger slower than the car)
RECHARGE_SHARE = 0.8


class SimulatedBPTEV(SimulatedEV, BidirectionalEV):
    """A car that charges like ``SimulatedEV`` and discharges within its limits, floor and departure plan."""

    def __init__(
        self,
        *,
        minimum_soc: float = 20.0,
        maximum_soc: float = 100.0,
        v2x_minimum_soc: float | None = None,
        v2x_maximum_soc: float | None = None,
        discharge_max_power: float = 10_000.0,
        discharge_min_power: float = 0.0,
        discharge_max_current: float = 50.0,
        discharge_min_current: float = 0.0,
        charge_efficiency: float = 0.95,
        discharge_efficiency: float = 0.95,
        recharge_power: float | None = None,
        v2g: bool = True,
        **settings: Any,
    ) -> None:
        """``settings`` are those of ``SimulatedEV`` (capacity_wh, soc, target_soc, departure_time in s from
        now, ac, ...). ``minimum_soc``: the BMS floor (MinimumSOC; the charger brings the car there first).
        ``v2x_minimum_soc``/``v2x_maximum_soc``: the SOC range V2X may cycle in (default: minimum_soc to
        maximum_soc). ``discharge_*``: the EVMaximum/MinimumDischarge values (power total over the phases
        for AC; current is DC). ``recharge_power``: W the car counts on to recharge before departure
        (default ``RECHARGE_SHARE`` of its maximum charge power). ``v2g=False``: a BPT car that will not
        discharge now (its V2X requests and discharge limits say so)."""
        super().__init__(**settings)
        for name, value in (("minimum_soc", minimum_soc), ("maximum_soc", maximum_soc),
                            ("v2x_minimum_soc", v2x_minimum_soc), ("v2x_maximum_soc", v2x_maximum_soc)):
            if value is not None and not 0.0 <= value <= 100.0:
                raise ValueError(f"{name} must be 0..100 %, not {value:g}")
        v2x_min = minimum_soc if v2x_minimum_soc is None else v2x_minimum_soc
        v2x_max = maximum_soc if v2x_maximum_soc is None else v2x_maximum_soc
        if not minimum_soc <= self.target_soc <= maximum_soc:
            raise ValueError(f"SOCs must be minimum_soc <= target_soc <= maximum_soc ([V2G20-1290]), not "
                             f"{minimum_soc:g} <= {self.target_soc:g} <= {maximum_soc:g}")
        if not minimum_soc <= v2x_min <= v2x_max <= maximum_soc:
            raise ValueError(f"the V2X range must lie within minimum_soc..maximum_soc, not {v2x_min:g}.."
                             f"{v2x_max:g} in {minimum_soc:g}..{maximum_soc:g}")
        check_values(positive=False, discharge_max_power=discharge_max_power,
                     discharge_min_power=discharge_min_power, discharge_max_current=discharge_max_current,
                     discharge_min_current=discharge_min_current)
        if discharge_min_power > discharge_max_power or discharge_min_current > discharge_max_current:
            raise ValueError("discharge minimums must not be above the maximums")
        for name, value in (("charge_efficiency", charge_efficiency),
                            ("discharge_efficiency", discharge_efficiency)):
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be > 0 and <= 1, not {value:g}")
        if recharge_power is not None:
            check_values(recharge_power=recharge_power)
        self.minimum_soc = minimum_soc
        self.maximum_soc = maximum_soc
        self.v2x_minimum_soc = v2x_min
        self.v2x_maximum_soc = v2x_max
        self.discharge_max_power = discharge_max_power
        self.discharge_min_power = discharge_min_power
        self.discharge_max_current = discharge_max_current
        self.discharge_min_current = discharge_min_current
        self.charge_efficiency = charge_efficiency
        self.discharge_efficiency = discharge_efficiency
        self.recharge_power = (RECHARGE_SHARE * self.max_charge_power() if recharge_power is None
                               else recharge_power)
        self.v2g = v2g
        self.discharged_wh = 0.0  # energy given at the inlet
        self.refused_wh = 0.0  # energy a charger asked beyond the battery's bounds (the BMS refused it)
        self.losses_wh = 0.0  # between inlet and battery, both ways
        self._current = 0.0  # A (per phase for AC) in the last step, signed

    # -- the battery --------------------------------------------------------------------------------

    def max_charge_power(self) -> float:
        """W the car can take at most (DC: max_power; AC: all phases at ac_max_current)."""
        if self.ac:
            return self.ac_voltage * self.ac_max_current * self.ac_phases
        return self.max_power

    def _to_inlet(self, battery_wh: float) -> float:
        """Inlet energy for a change of the battery's content: more in (charging losses), less out."""
        return battery_wh / self.charge_efficiency if battery_wh > 0.0 else battery_wh * self.discharge_efficiency

    def _soc_wh(self, soc: float) -> float:
        """Battery Wh from the present content to ``soc``, signed."""
        return (soc - self._soc) / 100.0 * self.capacity_wh

    def discharge_floor(self) -> float:
        """Lowest SOC the car lets V2X take it to now: its V2X minimum, raised so that the target SOC can
        still be reached by departure at ``recharge_power``; above 100 when there is no time even for that."""
        floor = self.v2x_minimum_soc
        if self.departure_time is not None:
            left = max(self.departure_time - self.time, 0.0)
            reachable = self.recharge_power * self.charge_efficiency * left / 3600.0 / self.capacity_wh * 100.0
            floor = max(floor, self.target_soc - reachable)
        return floor

    def _departed(self) -> bool:
        return self.departure_time is not None and self.time >= self.departure_time

    def _discharge_power_now(self) -> float:
        """W the car gives at most now: 0 at its floor, after departure, not ready or ``v2g`` off."""
        if (not self.v2g or not self.ready() or self._departed() or self._soc <= self.discharge_floor()
                or self._soc <= self.minimum_soc):
            return 0.0
        if self.ac:
            return self.discharge_max_power
        return min(self.discharge_max_power, self.discharge_max_current * self.present_voltage())

    def _charge_power_now(self) -> float:
        """W the battery takes now up to ``maximum_soc``: CC/CV and derating as ``SimulatedEV`` charges."""
        if not self.ready() or self._soc >= self.maximum_soc:
            return 0.0
        if self.ac:
            return self.ac_voltage * self._ac_current() * self.ac_phases
        current, _ = self._dc_current()
        return (self.open_circuit_voltage() + current * self.internal_resistance) * current

    # -- BidirectionalEV ----------------------------------------------------------------------------

    def energy_request(self) -> EnergyRequest:
        """Inlet Wh to the target, maximum and minimum SOC and to both ends of the V2X range (its floor for
        the bottom), the seconds to departure (rounded down: a planner must not count on time it lacks)."""
        departure = None
        if self.departure_time is not None:
            departure = int(max(self.departure_time - self.time, 0.0))
        v2x_min = v2x_max = None
        if self.v2g:
            v2x_min = self._to_inlet(self._soc_wh(max(self.discharge_floor(), self.minimum_soc)))
            v2x_max = self._to_inlet(self._soc_wh(self.v2x_maximum_soc))
        return EnergyRequest(
            target=self._to_inlet(self._soc_wh(self.target_soc)),
            maximum=self._to_inlet(self._soc_wh(self.maximum_soc)),
            minimum=self._to_inlet(self._soc_wh(self.minimum_soc)),
            departure_time=departure, maximum_v2x=v2x_max, minimum_v2x=v2x_min,
            target_soc=self.target_soc, minimum_soc=self.minimum_soc)

    def discharge_limits(self) -> EVDischargeLimits:
        power = self._discharge_power_now()
        if power <= 0.0:
            return EVDischargeLimits(0.0)
        current = self.discharge_max_current if not self.ac else power / (self.ac_voltage * self.ac_phases)
        return EVDischargeLimits(max_power=power, min_power=min(self.discharge_min_power, power),
                                 max_current=current, min_current=min(self.discharge_min_current, current))

    def power_wanted(self, setpoint: PowerSetpoint) -> float:
        """With a ``target`` (Dynamic mode, AC EVSETargetActivePower): the target within what the car and
        the setpoint allow. Without (Scheduled mode): discharge when the schedule offers discharge and no
        charging (the grid asks for energy) and the car allows it; else charge until the target SOC."""
        charge = min(max(setpoint.max_charge, 0.0), self._charge_power_now())
        discharge = min(max(setpoint.max_discharge, 0.0), self._discharge_power_now())
        if setpoint.target is not None:
            return min(max(setpoint.target, -discharge), charge)
        if discharge > 0.0 and setpoint.max_charge <= 0.0:
            return -discharge
        return 0.0 if self.charging_complete() else charge

    def present_voltage(self) -> float:
        """DC: open-circuit voltage plus the drop over the internal resistance at the last current (lower
        while discharging); AC: the nominal voltage."""
        if self.ac:
            return self.ac_voltage
        return self.open_circuit_voltage() + self._current * self.internal_resistance

    def present_power(self) -> float:
        return self.power

    def wants_stop(self) -> bool:
        """At departure, at ``stop_at``, or charged with no V2X to offer (``v2g`` off or no departure)."""
        if self._departed() or (self.stop_at is not None and self.time >= self.stop_at):
            return True
        v2x_open = self.v2g and self.departure_time is not None and self.discharge_max_power > 0.0
        return self.charging_complete() and not v2x_open

    def step(self, dt: float, voltage: float | None = None, current: float | None = None) -> None:
        """``current`` > 0 charges, < 0 discharges (per phase on the phases the cable carries, when AC; default:
        the ``supply``). The battery stays within ``minimum_soc``..100 %: what it cannot take or give is
        refused."""
        if voltage is None or current is None:
            voltage, current = getattr(self, "_supply", (0.0, 0.0))
        self.time += dt
        self._current = 0.0
        if voltage <= 0.0 or current == 0.0 or dt <= 0.0 or not math.isfinite(voltage * current):
            self.power = 0.0
            return
        asked = voltage * current * (self.cable.phases(self.ac_phases) if self.ac else 1)
        asked_wh = asked * dt / 3600.0
        if asked_wh == 0.0:  # underflow: too little to count
            self.power = 0.0
            return
        if asked_wh > 0.0:
            room = max(self._soc_wh(100.0), 0.0) / self.charge_efficiency
            wh = min(asked_wh, room)
            self.charged_wh += wh
            self.losses_wh += wh * (1.0 - self.charge_efficiency)
            stored = wh * self.charge_efficiency
            self.charging_time += dt
        else:
            available = max(-self._soc_wh(self.minimum_soc), 0.0) * self.discharge_efficiency
            wh = min(-asked_wh, available)
            self.discharged_wh += wh
            self.losses_wh += wh * (1.0 / self.discharge_efficiency - 1.0)
            stored = -wh / self.discharge_efficiency
        self.refused_wh += abs(asked_wh) - wh
        soc = self._soc + stored / self.capacity_wh * 100.0
        low = min(self.minimum_soc, self._soc) if stored < 0.0 else 0.0  # rounding never takes it below
        self._soc = min(max(soc, low), 100.0)
        self.power = math.copysign(wh, asked) * 3600.0 / dt
        self._current = current * (wh / abs(asked_wh))
