"""A simulated car: a battery with a plausible open-circuit voltage curve, CC/CV charging and SOC derating.

Everything moves only in ``step(dt, ...)``: the car never reads a clock, so a session driven by a simulated
clock charges the same way every run. The same model serves DC (the car asks for voltage and current) and
AC (the on-board charger asks for a current per phase; set ``ac=True``).
"""

from __future__ import annotations

import copy
import math

from v2gkit.controllers import NOMINAL_AC_VOLTAGE, CPState, EVController, EVLimits, check_values
from v2gkit.sim.evse import Cable

# (SOC %, open-circuit volts) of a 400 V pack: steep at both ends, a gentle slope in between.
OCV_CURVE: tuple[tuple[float, float], ...] = (
    (0.0, 330.0), (10.0, 355.0), (30.0, 365.0), (60.0, 378.0), (80.0, 390.0), (90.0, 398.0), (100.0, 410.0),
)


#: the battery of a ``SimulatedEV`` unless told otherwise
DEFAULT_CAPACITY_WH = 60_000.0


def ocv_from_soc(soc: float, curve: tuple[tuple[float, float], ...] = OCV_CURVE) -> float:
    """Open-circuit voltage interpolated in ``curve`` (monotonic: higher SOC, higher voltage)."""
    soc = min(max(soc, curve[0][0]), curve[-1][0])
    for (s0, v0), (s1, v1) in zip(curve, curve[1:]):
        if soc <= s1:
            return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)
    return curve[-1][1]


class SimulatedEV(EVController):
    """A car charging its battery from whatever the charger delivers in ``step``."""

    def __init__(
        self,
        *,
        capacity_wh: float = DEFAULT_CAPACITY_WH,
        soc: float = 30.0,
        target_soc: float = 80.0,
        bulk_soc: float = 80.0,
        max_voltage: float = 450.0,
        max_current: float = 200.0,
        max_power: float = 90_000.0,
        ac_max_current: float = 32.0,
        ac_phases: int = 3,
        ac_voltage: float = NOMINAL_AC_VOLTAGE,
        min_current: float = 6.0,
        cv_voltage: float = 410.0,
        internal_resistance: float = 0.05,
        derate_soc: float = 80.0,
        derate_floor: float = 0.1,
        cutoff_current: float = 5.0,
        evcc_id: bytes = bytes.fromhex("0A1B2C3D4E5F"),
        departure_time: int | None = None,
        stop_at: float | None = None,
        pause_at: float | None = None,
        error: str = "NO_ERROR",
        ac: bool = False,
        cable: Cable | None = None,
    ) -> None:
        """Defaults are a 60 kWh, 400 V car that takes 200 A / 90 kW DC or 3 x 32 A AC.

        ``derate_soc``/``derate_floor``: above that SOC the current falls linearly to ``derate_floor`` of
        its maximum at 100 %. ``cutoff_current``: in CV, a current below it means full (CV alone would
        only approach 100 % asymptotically). ``stop_at``: simulated seconds after which the car wants to
        stop; ``pause_at``: seconds of charging after which it wants to pause; ``error``: the
        DC_EVErrorCode to report (tests). ``ac``: the session charges AC (current per phase).
        Values no car can have (a battery of 0 Wh, a target SOC of 120 %) raise ValueError.
        """
        check_values(capacity_wh=capacity_wh, max_voltage=max_voltage, max_current=max_current,
                     max_power=max_power, ac_max_current=ac_max_current, ac_voltage=ac_voltage,
                     cv_voltage=cv_voltage)
        check_values(positive=False, min_current=min_current, internal_resistance=internal_resistance,
                     cutoff_current=cutoff_current, derate_floor=derate_floor)
        for name, value in (("soc", soc), ("target_soc", target_soc), ("bulk_soc", bulk_soc),
                            ("derate_soc", derate_soc)):
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name} must be 0..100 %, not {value:g}")
        if ac_phases not in (1, 2, 3):
            raise ValueError(f"ac_phases must be 1, 2 or 3, not {ac_phases}")
        if len(evcc_id) != 6:
            raise ValueError(f"evcc_id must be 6 bytes (a MAC address), not {len(evcc_id)}")
        self.capacity_wh = capacity_wh
        self._soc = min(max(soc, 0.0), 100.0)
        self.target_soc = target_soc
        self.bulk_soc = bulk_soc
        self.max_voltage = max_voltage
        self.max_current = max_current
        self.max_power = max_power
        self.ac_max_current = ac_max_current
        self.ac_phases = ac_phases
        self.ac_voltage = ac_voltage
        self.min_current = min_current
        self.cv_voltage = cv_voltage
        self.internal_resistance = internal_resistance
        self.derate_soc = derate_soc
        self.derate_floor = derate_floor
        self.cutoff_current = cutoff_current
        self.evcc_id = evcc_id
        self.departure_time = departure_time
        self.stop_at = stop_at
        self.pause_at = pause_at
        self.error_code = error
        self.ac = ac
        self.cable = cable if cable is not None else Cable()
        self.cable.ev_phases = ac_phases
        self.time = 0.0  # simulated seconds since the car was created
        self.charging_time = 0.0  # simulated seconds with power flowing
        self.charged_wh = 0.0  # energy received at the inlet
        self.power = 0.0  # W in the last step

    # -- battery --------------------------------------------------------------------------------------

    def open_circuit_voltage(self) -> float:
        """Battery voltage with no current flowing; what pre-charge must match."""
        return ocv_from_soc(self._soc)

    def _derate(self) -> float:
        """Fraction of the maximum current the battery accepts at this SOC (1 up to ``derate_soc``)."""
        if self._soc <= self.derate_soc or self.derate_soc >= 100.0:
            return 1.0
        span = (self._soc - self.derate_soc) / (100.0 - self.derate_soc)
        return 1.0 - (1.0 - self.derate_floor) * min(span, 1.0)

    def _power_limited_current(self, ocv: float) -> float:
        """Largest current with (ocv + I*R) * I <= max_power: the power limit at the terminal voltage."""
        r = self.internal_resistance
        if r <= 0.0:
            return self.max_power / ocv if ocv > 0.0 else self.max_current
        return (-ocv + math.sqrt(ocv * ocv + 4.0 * r * self.max_power)) / (2.0 * r)

    def _dc_current(self) -> tuple[float, bool]:
        """(current the battery takes now, whether the CV limit is what bounds it)."""
        ocv = self.open_circuit_voltage()
        cc = min(self.max_current, self._power_limited_current(ocv)) * self._derate()
        r = self.internal_resistance
        if r > 0.0:
            cv = max((self.cv_voltage - ocv) / r, 0.0)
        else:
            cv = math.inf if ocv < self.cv_voltage else 0.0
        return (cv, True) if cv < cc else (cc, False)

    def _ac_current(self) -> float:
        """Per-phase current the on-board charger draws: derated, but never below the AC minimum."""
        return max(self.ac_max_current * self._derate(), self.min_current)

    # -- EVController ---------------------------------------------------------------------------------

    @property
    def cp_state(self) -> CPState:
        """The control pilot state the car switched last."""
        return self.cable.state

    def set_cp_state(self, state: CPState) -> None:
        self.cable.set_state(state, self.time)

    def limits(self) -> EVLimits:
        energy_request = max(self.target_soc - self._soc, 0.0) / 100.0 * self.capacity_wh
        full = int(round(min(max(self.target_soc, 0.0), 100.0)))
        bulk = int(round(min(max(self.bulk_soc, 0.0), 100.0)))
        if self.ac:
            return EVLimits(
                max_voltage=self.ac_voltage, max_current=self.ac_max_current,
                max_power=self.ac_voltage * self.ac_max_current * self.ac_phases,
                min_current=self.min_current,
                energy_capacity=self.capacity_wh, energy_request=energy_request,
                departure_time=self.departure_time, full_soc=full, bulk_soc=bulk)
        return EVLimits(
            max_voltage=self.max_voltage, max_current=self.max_current, max_power=self.max_power,
            energy_capacity=self.capacity_wh, energy_request=energy_request,
            departure_time=self.departure_time, full_soc=full, bulk_soc=bulk)

    def soc(self) -> float:
        return self._soc

    def ready(self) -> bool:
        return self.error_code == "NO_ERROR"

    def error(self) -> str:
        return self.error_code

    def target(self) -> tuple[float, float]:
        """DC: CC at the lower of max current and the power limit, then CV at ``cv_voltage`` with the
        current tapering; the voltage asked is the terminal voltage at that current. AC: (nominal volts,
        current per phase). A car that is done, or not ready, asks for no current."""
        if self.ac:
            current = 0.0 if self.charging_complete() or not self.ready() else self._ac_current()
            return (self.ac_voltage, current)
        ocv = self.open_circuit_voltage()
        if self.charging_complete() or not self.ready():
            return (min(ocv, self.max_voltage), 0.0)
        current, cv_limited = self._dc_current()
        voltage = self.cv_voltage if cv_limited else ocv + current * self.internal_resistance
        return (min(voltage, self.cv_voltage, self.max_voltage), current)

    def precharge_target(self) -> tuple[float, float]:
        return (min(self.open_circuit_voltage(), self.max_voltage), 2.0)

    def bulk_complete(self) -> bool:
        return self._soc >= self.bulk_soc

    def charging_complete(self) -> bool:
        """Target SOC reached, or (DC) the CV current fell below the cut-off: the battery is full."""
        if self._soc >= self.target_soc:
            return True
        if self.ac:
            return False
        current, cv_limited = self._dc_current()
        return cv_limited and current < self.cutoff_current

    def estimate_charging_time(self, dt: float | None = None) -> float:
        """Seconds until ``charging_complete`` if the charger gives all the car asks for: the car charges
        a copy of itself (CC, derating, CV taper included). A slower charger takes longer."""
        ev = copy.copy(self)
        ev.cable = Cable()
        if dt is None:  # steps of about 0.2 % SOC: a few hundred steps whatever the battery
            dt = 0.002 * ev.capacity_wh * 3600.0 / max(ev.limits().max_power, 1.0)
        t = 0.0
        while not ev.charging_complete() and t < 7 * 86400.0:
            v, i = ev.target()
            if i <= 0.0:
                break
            ev.step(dt, v, i)
            t += dt
        return t

    def remaining_time(self) -> tuple[float | None, float | None]:
        """Remaining energy over the power of the last step; ignores the coming taper (as cars do)."""
        if self.power <= 0.0:
            return (None, None)
        to_full = max(self.target_soc - self._soc, 0.0) / 100.0 * self.capacity_wh * 3600.0 / self.power
        to_bulk = max(self.bulk_soc - self._soc, 0.0) / 100.0 * self.capacity_wh * 3600.0 / self.power
        return (to_full, to_bulk)

    def wants_stop(self) -> bool:
        return self.charging_complete() or (self.stop_at is not None and self.time >= self.stop_at)

    def wants_pause(self) -> bool:
        return self.pause_at is not None and self.charging_time >= self.pause_at

    def step(self, dt: float, voltage: float | None = None, current: float | None = None) -> None:
        """Take ``voltage``/``current`` (per phase, on the phases the cable carries, when AC; default: the
        ``supply``) for ``dt`` seconds; all energy lands in SOC (losses are not modelled)."""
        if voltage is None or current is None:
            voltage, current = getattr(self, "_supply", (0.0, 0.0))
        self.time += dt
        if voltage <= 0.0 or current <= 0.0:
            self.power = 0.0
            return
        self.power = voltage * current * (self.cable.phases(self.ac_phases) if self.ac else 1)
        if dt <= 0.0:
            return
        wh = self.power * dt / 3600.0
        self.charged_wh += wh
        self.charging_time += dt
        self._soc = min(self._soc + wh / self.capacity_wh * 100.0, 100.0)

