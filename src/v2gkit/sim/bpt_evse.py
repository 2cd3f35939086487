"""Simulated bidirectional chargers for ISO 15118-20 (DC_BPT, AC_BPT): they source and sink.

``SimulatedBPTDCEVSE`` is a ``SimulatedDCEVSE`` whose power module also sinks (negative current), with
its own discharge limits; ``SimulatedBPTACEVSE`` a ``SimulatedACEVSE`` with an active power per phase,
negative for discharge. Both

- keep the output within the hardware limits, the limits ``set_power_limits`` sets (the schedule in force)
  and, given ``schedules``, that file's power schedule at their own time;
- never sink more than the car said it can give (the ``dischargeable`` energy of the last EnergyRequest
  given to ``set_ev_request``), so a charger following its own plan cannot take the car below its floor;
- meter imported (``meter_wh``: ChargedEnergyReadingWh) and exported (``exported_wh``:
  BPT_DischargedEnergyReadingWh) energy apart;
- plan Dynamic mode with ``v2gkit.sim.planner.plan_power`` (``target_power``).

The schedules' time 0 is the charger's time 0 (when it was made). Nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from v2gkit.controllers import (
    BidirectionalEVSE,
    EnergyRequest,
    EVSEDischargeLimits,
    check_values,
)
from v2gkit.sim.evse import SimulatedACEVSE, SimulatedDCEVSE, _approach
from v2gkit.sim.planner import plan_power
from v2gkit.sim.schedules import Schedules

#: ``plan_power``'s round trip unless told: the share of discharged energy that comes back when recharged
#: (0.95 x 0.95 for the default car is 0.9; a little less keeps the plan safe)
ROUND_TRIP = 0.85


class _Bidirectional(BidirectionalEVSE):
    """What both bidirectional chargers share: discharge limits, the car's request, power limits, the plan,
    the sink budget and the export meter. Each charger says what its hardware can (``_hardware``)."""

    time: float

    def _bpt_init(self, *, discharge_max_power: float, discharge_min_power: float,
                  discharge_max_current: float, discharge_min_current: float,
                  schedules: Schedules | None, round_trip: float) -> None:
        check_values(discharge_max_power=discharge_max_power, discharge_max_current=discharge_max_current)
        check_values(positive=False, discharge_min_power=discharge_min_power,
                     discharge_min_current=discharge_min_current)
        if discharge_min_power > discharge_max_power or discharge_min_current > discharge_max_current:
            raise ValueError("discharge minimums must not be above the maximums")
        if not 0.0 < round_trip <= 1.0:
            raise ValueError(f"round_trip must be > 0 and <= 1, not {round_trip:g}")
        if schedules is not None and not isinstance(schedules, Schedules):
            raise TypeError(f"schedules must be Schedules (load_schedules(path)), not {type(schedules).__name__}")
        self.discharge_max_power = discharge_max_power
        self.discharge_min_power = discharge_min_power
        self.discharge_max_current = discharge_max_current
        self.discharge_min_current = discharge_min_current
        self.schedules = schedules
        self.round_trip = round_trip
        self._exported_wh = 0.0
        self._limit_charge: float | None = None  # set_power_limits, None: not limited
        self._limit_discharge: float | None = None
        self._request: EnergyRequest | None = None
        self._ev_max_charge: float | None = None
        self._ev_max_discharge: float | None = None
        self._sink_budget: float | None = None  # Wh the car can still give; None: unknown (no request)

    def _hardware(self) -> tuple[float, float]:
        """(charge, discharge) W the hardware can at present, magnitudes."""
        raise NotImplementedError

    def _limited(self, charge: float, discharge: float, *, ev: bool) -> tuple[float, float]:
        """``charge``/``discharge`` within set_power_limits and (``ev``) the car's last maximum powers."""
        limits = [(self._limit_charge, self._limit_discharge)]
        if ev:
            limits.append((self._ev_max_charge, self._ev_max_discharge))
        for c, d in limits:
            charge = charge if c is None else min(charge, c)
            discharge = discharge if d is None else min(discharge, d)
        return charge, discharge

    # -- EVSE20Controller / BidirectionalEVSE ---------------------------------------------------------

    def discharge_limits(self) -> EVSEDischargeLimits:
        return EVSEDischargeLimits(max_power=self.discharge_max_power, min_power=self.discharge_min_power,
                                   max_current=self.discharge_max_current,
                                   min_current=self.discharge_min_current)

    def exported_wh(self) -> float:
        return self._exported_wh

    def set_ev_request(self, request: EnergyRequest, max_charge: float, max_discharge: float = 0.0) -> None:
        """Also resets the sink budget: from now on the output sinks at most what ``request`` lets V2X take
        (without V2X requests, what lies above the car's minimum SOC)."""
        self._request = request
        self._ev_max_charge = max(max_charge, 0.0)
        self._ev_max_discharge = max(max_discharge, 0.0)
        if request.minimum_v2x is not None:
            self._sink_budget = request.dischargeable
        else:
            self._sink_budget = max(-request.minimum, 0.0)

    def target_power(self) -> float:
        """``plan_power`` over the car's last request, the hardware, set and car limits and ``schedules``
        (its power limits and prices); 0 before any request."""
        if self._request is None:
            return 0.0
        charge, discharge = self._limited(*self._hardware(), ev=True)
        return plan_power(self._request, now=self.time, max_charge=charge, max_discharge=discharge,
                          schedules=self.schedules, round_trip=self.round_trip)

    def set_power_limits(self, max_charge: float, max_discharge: float = 0.0) -> None:
        check_values(positive=False, max_charge=max_charge, max_discharge=max_discharge)
        self._limit_charge, self._limit_discharge = max_charge, max_discharge

    def power_limits(self) -> tuple[float, float]:
        charge, discharge = self._limited(*self._hardware(), ev=False)
        limit = self.schedules.power_limit_at(self.time) if self.schedules is not None else None
        if limit is not None:
            charge, discharge = min(charge, limit.max_charge), min(discharge, limit.max_discharge)
        return charge, discharge

    def _sink_cap(self, dt: float) -> float:
        """W the output may sink over the next ``dt`` seconds: the discharge limits and the budget."""
        cap = self.power_limits()[1]
        if self._sink_budget is not None:
            cap = min(cap, self._sink_budget * 3600.0 / dt)
        return cap

    def _commit_sink(self, watts: float, dt: float) -> None:
        """The output will sink ``watts`` for ``dt`` seconds: take it from the budget."""
        if self._sink_budget is not None and watts > 0.0:
            self._sink_budget = max(self._sink_budget - watts * dt / 3600.0, 0.0)


class SimulatedBPTDCEVSE(SimulatedDCEVSE, _Bidirectional):
    """A DC charger whose power module sources and sinks, slewing like ``SimulatedDCEVSE`` through 0 A."""

    def __init__(
        self,
        *,
        discharge_max_power: float = 50_000.0,
        discharge_min_power: float = 0.0,
        discharge_max_current: float = 125.0,
        discharge_min_current: float = 0.0,
        schedules: Schedules | None = None,
        round_trip: float = ROUND_TRIP,
        **settings: Any,
    ) -> None:
        """``settings`` are those of ``SimulatedDCEVSE`` (max_voltage, max_current, max_power, slews, ...);
        ``discharge_*`` the EVSEMaximum/MinimumDischarge values; ``schedules`` power limits and prices for
        ``power_limits`` and ``target_power``."""
        super().__init__(**settings)
        self._bpt_init(discharge_max_power=discharge_max_power, discharge_min_power=discharge_min_power,
                       discharge_max_current=discharge_max_current,
                       discharge_min_current=discharge_min_current, schedules=schedules, round_trip=round_trip)

    def _hardware(self) -> tuple[float, float]:
        v = self._voltage
        if v <= 0.0:
            return self.max_power, self.discharge_max_power
        return (min(self.max_power, self.max_current * v),
                min(self.discharge_max_power, self.discharge_max_current * v))

    def set_output(self, voltage: float, current: float) -> None:
        """New set point; ``current`` < 0 sinks. Ignored during an emergency shutdown."""
        if self._emergency:
            return
        self._set_voltage = max(voltage, 0.0)
        self._set_current = current
        self._output_on = True

    def present_power(self) -> tuple[float, ...]:
        return (self._voltage * self._current,)

    def limits_achieved(self) -> tuple[bool, bool, bool]:
        """(current, voltage, power) of the direction asked: the set point asks more than that limit."""
        if not self._output_on:
            return (False, False, False)
        charge, discharge = self.power_limits()
        voltage = self._set_voltage > self.max_voltage
        if self._set_current >= 0.0:
            current = self._set_current > self.max_current
            power = self._voltage * min(self._set_current, self.max_current) > charge
        else:
            current = -self._set_current > self.discharge_max_current
            power = self._voltage * min(-self._set_current, self.discharge_max_current) > discharge
        return (current, voltage, power)

    def step(self, dt: float) -> None:
        """As ``SimulatedDCEVSE.step`` (meter first, what the last response reported, then slew), with the
        energy sunk metered apart and the current kept within the limits of its direction and the budget."""
        if dt <= 0.0:
            return
        self.time += dt
        wh = self._voltage * self._current * dt / 3600.0
        if wh >= 0.0:
            self._meter_wh += wh
        else:
            self._exported_wh -= wh
        if self._cable_check_elapsed is not None and not self.cable_check_done():
            self._cable_check_elapsed += dt
            if self.cable_check_done():
                self.stop_output()  # test over: discharge before pre-charge
        target_v = min(self._set_voltage, self.max_voltage) if self._output_on else 0.0
        target_i = self._set_current if self._output_on else 0.0
        target_i = min(max(target_i, -self.discharge_max_current), self.max_current)
        self._voltage = min(max(_approach(self._voltage, target_v, self.voltage_slew * dt), 0.0),
                            self.max_voltage)
        current = _approach(self._current, target_i, self.current_slew * dt)
        v = self._voltage
        if v <= 0.0:
            current = min(max(current, 0.0), self.max_current)  # no voltage: nothing to sink from
        else:
            charge_cap = self.power_limits()[0]
            current = min(max(current, -self._sink_cap(dt) / v), charge_cap / v)
        self._current = current
        self._commit_sink(-v * current, dt)


class SimulatedBPTACEVSE(SimulatedACEVSE, _Bidirectional):
    """An AC charger with an active power per phase (negative: the car feeds the grid)."""

    def __init__(
        self,
        *,
        discharge_max_current: float = 16.0,
        discharge_max_power: float | None = None,
        discharge_min_power: float = 0.0,
        discharge_min_current: float = 0.0,
        schedules: Schedules | None = None,
        round_trip: float = ROUND_TRIP,
        **settings: Any,
    ) -> None:
        """``settings`` are those of ``SimulatedACEVSE`` (nominal_voltage, phases, max_current per phase,
        ...). ``discharge_max_current`` is per phase; ``discharge_max_power`` the total (default: all
        phases at that current)."""
        super().__init__(**settings)
        check_values(discharge_max_current=discharge_max_current)
        if discharge_max_power is None:
            discharge_max_power = self.nominal_voltage * discharge_max_current * self.phases
        self._bpt_init(discharge_max_power=discharge_max_power, discharge_min_power=discharge_min_power,
                       discharge_max_current=discharge_max_current,
                       discharge_min_current=discharge_min_current, schedules=schedules, round_trip=round_trip)
        self._powers = [0.0] * self.phases  # W per phase, as set (within the limits)

    def _hardware(self) -> tuple[float, float]:
        return (self.nominal_voltage * self.max_current * self.phases,
                min(self.discharge_max_power, self.nominal_voltage * self.discharge_max_current * self.phases))

    def _active(self) -> int:
        """Phases that carry power: the fewer of the car's and the charger's."""
        return self.cable.phases(self.phases)

    def _clip(self, powers: Sequence[float], sink_cap: float | None = None) -> list[float]:
        """Each phase within its limits, then the totals within ``power_limits`` (and ``sink_cap``), scaled
        down evenly; phases the cable does not carry get 0."""
        v = self.nominal_voltage
        top, bottom = v * self.max_current, v * self.discharge_max_current
        out = [min(max(p, -bottom), top) if i < self._active() else 0.0 for i, p in enumerate(powers)]
        charge, discharge = self.power_limits()
        if sink_cap is not None:
            discharge = min(discharge, sink_cap)
        taken, given = sum(p for p in out if p > 0.0), -sum(p for p in out if p < 0.0)
        scale_in = charge / taken if taken > charge else 1.0
        scale_out = discharge / given if given > discharge else 1.0
        return [p * (scale_in if p > 0.0 else scale_out) for p in out]

    def set_phase_powers(self, powers: Sequence[float]) -> None:
        """Active power per phase (L1, L2, L3), W, negative to discharge; one value per phase."""
        if len(powers) != self.phases:
            raise ValueError(f"this charger has {self.phases} phase(s): give {self.phases} powers, not "
                             f"{len(powers)}")
        if self._emergency:
            return
        self._output_on = True
        self._powers = self._clip(powers)
        self._current = self._powers[0] / self.nominal_voltage

    def set_output(self, voltage: float, current: float) -> None:
        """``current`` per phase, negative to discharge, on every phase; the voltage is the grid's."""
        self.set_phase_powers([self.nominal_voltage * current] * self.phases)

    def stop_output(self) -> None:
        self._output_on = False
        self._current = 0.0
        self._powers = [0.0] * self.phases

    def present(self) -> tuple[float, float]:
        """(voltage, current) per phase that the car sees: the mean over the phases that carry power."""
        if not self._output_on:
            return (0.0, 0.0)
        return (self.nominal_voltage, sum(self._powers) / (self.nominal_voltage * self._active()))

    def present_power(self) -> tuple[float, ...]:
        return tuple(self._powers) if self._output_on else (0.0,) * self.phases

    def step(self, dt: float) -> None:
        """Re-apply the limits (the schedule moves on, the budget shrinks), then meter each phase for ``dt``:
        importing phases into ``meter_wh``, exporting ones into ``exported_wh``."""
        if dt <= 0.0:
            return
        self.time += dt
        if not self._output_on:
            return
        self._powers = self._clip(self._powers, self._sink_cap(dt))
        self._current = self._powers[0] / self.nominal_voltage
        self._meter_wh += sum(p for p in self._powers if p > 0.0) * dt / 3600.0
        given = -sum(p for p in self._powers if p < 0.0)
        self._exported_wh += given * dt / 3600.0
        self._commit_sink(given, dt)
