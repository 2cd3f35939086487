"""Simulated chargers: a DC charger with a ramping power module, isolation monitor and meter, and an AC
charger that passes on the current the car draws.

Nothing here reads a clock: ramps, the cable check, the authorization delay and the meter all move in
``step(dt)``, so a session on a simulated clock behaves identically every run. Tests and the demo steer
the charger through plain methods (``request_stop``, ``trigger_emergency``, ...).
"""

from __future__ import annotations

from v2gkit.controllers import (
    NOMINAL_AC_VOLTAGE,
    CPState,
    EVSEController,
    EVSELimits,
    Isolation,
    Notification,
    check_values,
)


class Cable:
    """The control pilot shared by a car and a charger: the EV switches it, the EVSE measures it.

    A Cable exists while the car is plugged in, hence state B by default. Every change is kept in
    ``cp_events`` as (simulated time, new state) so tests and traces can see when the car switched.
    """

    def __init__(self, state: CPState = CPState.B) -> None:
        self.state: CPState = state
        self.cp_events: list[tuple[float, CPState]] = []
        self.ev_phases: int | None = None  # AC phases of the car's on-board charger, set by the car
        self.evse_phases: int | None = None  # AC phases the charger supplies, set by the charger

    def phases(self, default: int) -> int:
        """AC phases that carry current: the fewer of both ends (``default`` for an end not known), so the
        car's energy and the charger's meter agree when a 1-phase car is on a 3-phase charger."""
        known = [p for p in (self.ev_phases, self.evse_phases) if p is not None]
        return min(known) if known else default

    def set_state(self, state: CPState, time: float) -> None:
        """Switch the pilot at ``time`` (simulated seconds); repeating the present state is no event."""
        if state != self.state:
            self.state = state
            self.cp_events.append((time, state))


def _approach(value: float, target: float, max_change: float) -> float:
    """``value`` moved towards ``target`` by at most ``max_change``: a slew-rate limit."""
    if target > value:
        return min(target, value + max_change)
    return max(target, value - max_change)


class _SimulatedEVSE(EVSEController):
    """What both chargers share: the clock, authorization, notifications, emergency, pilot and meter."""

    def __init__(self, *, evse_id: str, auth_delay: float, auth_result: bool, cable: Cable | None) -> None:
        check_values(positive=False, auth_delay=auth_delay)
        self.evse_id = evse_id
        self.auth_delay = auth_delay
        self.auth_result = auth_result
        self.cable = cable if cable is not None else Cable()
        self.time = 0.0  # simulated seconds since the charger was created
        self._auth_asked_at: float | None = None
        self._notification = Notification.NONE
        self._emergency = False
        self._meter_wh = 0.0

    def authorized(self) -> bool | None:
        """None for ``auth_delay`` simulated seconds after the first question (the driver is swiping a
        card), then ``auth_result``."""
        if self._auth_asked_at is None:
            self._auth_asked_at = self.time
        if self.time - self._auth_asked_at < self.auth_delay:
            return None
        return self.auth_result

    def meter_wh(self) -> float:
        return self._meter_wh

    def notification(self) -> Notification:
        return self._notification

    def request_stop(self) -> None:
        """Ask the car to stop charging (EVSENotification StopCharging)."""
        self._notification = Notification.STOP_CHARGING

    def request_renegotiation(self) -> None:
        """Ask the car to renegotiate its schedule (EVSENotification ReNegotiation)."""
        self._notification = Notification.RENEGOTIATION

    def request_pause(self) -> None:
        """Ask the car to pause the session (ISO 15118-20 EVSENotification Pause)."""
        self._notification = Notification.PAUSE

    def request_service_renegotiation(self) -> None:
        """Ask the car to go back to ServiceDiscovery (ISO 15118-20 EVSENotification ServiceRenegotiation)."""
        self._notification = Notification.SERVICE_RENEGOTIATION

    def clear_notification(self) -> None:
        self._notification = Notification.NONE

    def emergency_shutdown(self) -> bool:
        return self._emergency

    def trigger_emergency(self) -> None:
        """Emergency: the current stops at once and the output stays off until ``clear_emergency``."""
        self._emergency = True
        self._cut_current()

    def clear_emergency(self) -> None:
        self._emergency = False

    def _cut_current(self) -> None:
        """Drop the output immediately (each charger knows its own output)."""
        self.stop_output()

    def cp_state(self) -> CPState:
        return self.cable.state


class SimulatedDCEVSE(_SimulatedEVSE):
    """A DC charger whose power module slews towards the set point and never leaves its limits."""

    def __init__(
        self,
        *,
        evse_id: str = "DE*V2G*E12345",
        max_voltage: float = 500.0,
        max_current: float = 200.0,
        max_power: float = 150_000.0,
        min_voltage: float = 150.0,
        min_current: float = 0.0,
        peak_current_ripple: float = 5.0,
        voltage_slew: float = 200.0,
        current_slew: float = 100.0,
        cable_check_time: float = 2.0,
        isolation_result: Isolation = Isolation.VALID,
        auth_delay: float = 0.0,
        auth_result: bool = True,
        cable: Cable | None = None,
    ) -> None:
        """Slews are V/s and A/s; ``cable_check_time`` is simulated seconds until the isolation monitor
        reports ``isolation_result`` (FAULT or WARNING to test the unhappy paths)."""
        check_values(max_voltage=max_voltage, max_current=max_current, max_power=max_power,
                     voltage_slew=voltage_slew, current_slew=current_slew)
        check_values(positive=False, min_voltage=min_voltage, min_current=min_current,
                     peak_current_ripple=peak_current_ripple, cable_check_time=cable_check_time)
        isolation_result = Isolation(isolation_result)
        super().__init__(evse_id=evse_id, auth_delay=auth_delay, auth_result=auth_result, cable=cable)
        self.max_voltage = max_voltage
        self.max_current = max_current
        self.max_power = max_power
        self.min_voltage = min_voltage
        self.min_current = min_current
        self.peak_current_ripple = peak_current_ripple
        self.voltage_slew = voltage_slew
        self.current_slew = current_slew
        self.cable_check_time = cable_check_time
        self.isolation_result = isolation_result
        self._set_voltage = 0.0  # as asked, before the limits
        self._set_current = 0.0
        self._output_on = False
        self._voltage = 0.0  # present, at the outlet
        self._current = 0.0
        self._cable_check_elapsed: float | None = None  # None: no cable check started

    def limits(self) -> EVSELimits:
        return EVSELimits(
            max_voltage=self.max_voltage, max_current=self.max_current, max_power=self.max_power,
            min_voltage=self.min_voltage, min_current=self.min_current,
            peak_current_ripple=self.peak_current_ripple)

    # -- isolation monitor ------------------------------------------------------------------------------

    def start_cable_check(self, voltage: float) -> None:
        """Apply the test voltage (no current) and start the isolation measurement."""
        self._cable_check_elapsed = 0.0
        self.set_output(voltage, 0.0)

    def cable_check_done(self) -> bool:
        return self._cable_check_elapsed is not None and self._cable_check_elapsed >= self.cable_check_time

    def isolation(self) -> Isolation:
        """INVALID until a cable check has run for ``cable_check_time``, then the measured result."""
        return self.isolation_result if self.cable_check_done() else Isolation.INVALID

    # -- power module ---------------------------------------------------------------------------------

    def set_output(self, voltage: float, current: float) -> None:
        """New set point; ignored during an emergency shutdown (the output stays off)."""
        if self._emergency:
            return
        self._set_voltage = max(voltage, 0.0)
        self._set_current = max(current, 0.0)
        self._output_on = True

    def stop_output(self) -> None:
        """The current stops at once: the car that ended power delivery takes no more (the EVCC counts
        0 A from then on, so a ramp here would be metered but never reach the battery); the voltage
        falls at the slew rate (what WeldingDetection watches)."""
        self._output_on = False
        self._set_voltage = 0.0
        self._set_current = 0.0
        self._current = 0.0

    def _current_cap(self, voltage: float) -> float:
        """Most current allowed at ``voltage``: the current limit and the power limit."""
        if voltage <= 0.0:
            return self.max_current
        return min(self.max_current, self.max_power / voltage)

    def present(self) -> tuple[float, float]:
        return (self._voltage, self._current)

    def limits_achieved(self) -> tuple[bool, bool, bool]:
        """(current, voltage, power): the set point asks more than that limit lets through."""
        if not self._output_on:
            return (False, False, False)
        current = self._set_current > self.max_current
        voltage = self._set_voltage > self.max_voltage
        power = self._voltage * min(self._set_current, self.max_current) > self.max_power
        return (current, voltage, power)

    def step(self, dt: float) -> None:
        """Advance the cable check, meter the step and slew the output (voltage first, then the current
        it allows).

        The meter counts the output as it was when the step began: that is the value the last response
        reported, and the car holds it until the next response, so both sides sum the same samples over
        the same intervals and the meter agrees with the car's energy whatever the message rate."""
        if dt <= 0.0:
            return
        self.time += dt
        self._meter_wh += self._voltage * self._current * dt / 3600.0
        if self._cable_check_elapsed is not None and not self.cable_check_done():
            self._cable_check_elapsed += dt
            if self.cable_check_done():
                self.stop_output()  # test over: discharge before pre-charge
        target_v = min(self._set_voltage, self.max_voltage) if self._output_on else 0.0
        target_i = min(self._set_current, self.max_current) if self._output_on else 0.0
        self._voltage = min(max(_approach(self._voltage, target_v, self.voltage_slew * dt), 0.0),
                            self.max_voltage)
        current = _approach(self._current, target_i, self.current_slew * dt)
        self._current = min(max(current, 0.0), self._current_cap(self._voltage))


class SimulatedACEVSE(_SimulatedEVSE):
    """An AC charger: fixed nominal voltage, the car draws its current up to the per-phase maximum."""

    def __init__(
        self,
        *,
        evse_id: str = "DE*V2G*E12345",
        nominal_voltage: float = NOMINAL_AC_VOLTAGE,
        phases: int = 3,
        max_current: float = 32.0,
        min_current: float = 6.0,
        auth_delay: float = 0.0,
        auth_result: bool = True,
        cable: Cable | None = None,
    ) -> None:
        """``max_current`` is per phase; ``min_current`` is the IEC 61851 minimum a car may be offered."""
        check_values(nominal_voltage=nominal_voltage, max_current=max_current)
        check_values(positive=False, min_current=min_current)
        if phases not in (1, 2, 3):
            raise ValueError(f"phases must be 1, 2 or 3, not {phases}")
        super().__init__(evse_id=evse_id, auth_delay=auth_delay, auth_result=auth_result, cable=cable)
        self.nominal_voltage = nominal_voltage
        self.phases = phases
        self.max_current = max_current
        self.min_current = min_current
        self.cable.evse_phases = phases
        self._output_on = False
        self._current = 0.0

    def limits(self) -> EVSELimits:
        return EVSELimits(
            max_voltage=self.nominal_voltage, max_current=self.max_current,
            max_power=self.nominal_voltage * self.max_current * self.phases, min_current=self.min_current,
            nominal_voltage=self.nominal_voltage, phases=self.phases)

    def isolation(self) -> Isolation:
        return Isolation.NO_IMD

    def start_cable_check(self, voltage: float) -> None:
        """AC has no cable check."""

    def cable_check_done(self) -> bool:
        return True

    def set_output(self, voltage: float, current: float) -> None:
        """The car draws ``current`` per phase, at most ``max_current``; the voltage is the grid's."""
        if self._emergency:
            return
        self._output_on = True
        self._current = min(max(current, 0.0), self.max_current)

    def stop_output(self) -> None:
        self._output_on = False
        self._current = 0.0

    def present(self) -> tuple[float, float]:
        """(voltage, current) per phase; no voltage at the outlet while the contactors are open."""
        return (self.nominal_voltage, self._current) if self._output_on else (0.0, 0.0)

    def limits_achieved(self) -> tuple[bool, bool, bool]:
        """AC reports no limits in the DC sense; the per-phase cap is the PWM duty cycle."""
        return (False, False, False)

    def step(self, dt: float) -> None:
        """Advance the clock and meter the power of all active phases."""
        if dt <= 0.0:
            return
        self.time += dt
        voltage, current = self.present()
        self._meter_wh += voltage * current * self.cable.phases(self.phases) * dt / 3600.0
