"""A simulated ACDP pair: a DC charger with a pantograph (an automated connection device lowered from above
onto the car's contact area) and a DC car that drives under it, linked by the charging bay (where the car
stands relative to the charge position) and the control pilot (``Cable``) that exists once the pantograph
makes contact.

What moves: the car drives at ``speed`` from where it enters the bay to where its driver stops (``park_at``,
relative to the charge position; mm); the pantograph takes ``lower_time`` to come down and ``raise_time`` to go
home; it makes contact when it is down and the car stands inside the contact window. The DC side is
``SimulatedDCEVSE`` / ``SimulatedEV``. Numbers are plausible defaults for a bus depot pantograph, not values
from IEC 61851-23-1. Nothing reads a clock: everything moves in ``step``.
"""

from __future__ import annotations

import math
from typing import Any

from v2gkit.controllers import (
    ACDPChargerController,
    ACDPEVSEStatus,
    ACDPEVStatus,
    ACDPPosition,
    ACDPVehicleController,
    CPState,
    Isolation,
    Notification,
    check_values,
)
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import Cable, SimulatedDCEVSE

__all__ = ["ChargeBay", "SimulatedACDPVehicle", "SimulatedPantograph"]

_ISOLATION = {Isolation.VALID: "Safe", Isolation.WARNING: "Warning", Isolation.FAULT: "Fault"}


class ChargeBay:
    """Where the car stands relative to the charge position under the pantograph (mm, x across the bay, y
    along it) and the contact window (its full width and length, mm) inside which contact is possible."""

    def __init__(self, position: tuple[float, float] = (0.0, -3000.0), window: tuple[int, int] = (300, 600)) -> None:
        check_values(window_x=window[0], window_y=window[1])
        self.x, self.y = position
        self.window = window
        self.cable = Cable(CPState.A)  # no pilot until the pantograph makes contact

    def in_window(self) -> bool:
        return abs(self.x) <= self.window[0] / 2 and abs(self.y) <= self.window[1] / 2


class SimulatedPantograph(SimulatedDCEVSE, ACDPChargerController):
    """A DC charger (``SimulatedDCEVSE``) with a pantograph: positioning information, lowering and raising,
    contact, and the ACDP system status."""

    def __init__(self, bay: ChargeBay | None = None, *, lower_time: float = 2.0, raise_time: float = 2.0,
                 **settings: Any) -> None:
        """``settings`` are ``SimulatedDCEVSE``'s (max_power, cable_check_time, isolation_result, ...)."""
        check_values(positive=False, lower_time=lower_time, raise_time=raise_time)
        self.bay = bay if bay is not None else ChargeBay()
        settings.setdefault("cable", self.bay.cable)
        super().__init__(**settings)
        self.lower_time = lower_time
        self.raise_time = raise_time
        self.height = 1.0  # 1: home, 0: down (end position)
        self._moving = 0  # -1 lowering, +1 raising, 0 still
        self.ev_stands_still = False
        self.malfunction = False
        self.last_ev_status: ACDPEVStatus | None = None
        self._associated = False

    # -- ACDPChargerController ------------------------------------------------------------------------
    def position(self) -> ACDPPosition:
        wx, wy = self.bay.window
        return ACDPPosition(round(self.bay.x), round(self.bay.y), wx, wy, self.bay.in_window(), True)

    def ev_immobilized(self, immobilized: bool) -> None:
        self.ev_stands_still = immobilized

    def connect(self) -> None:
        if self._emergency:
            return
        self._associated = True
        if self.height > 0.0:
            self._moving = -1

    def disconnect(self) -> None:
        self.stop_output()
        if self.height < 1.0:
            self._moving = 1

    def mechanical(self) -> str:
        if self._moving:
            return "Moving"
        return "EndPosition" if self.height <= 0.0 else "Home" if self.height >= 1.0 else "Moving"

    def contact(self) -> bool:
        return self.height <= 0.0 and self.bay.in_window()

    def device_status(self) -> tuple[str, str]:
        letter = self.bay.cable.state.value
        electrical = f"State_{letter}" if self.contact() and letter in "BCD" else "State_A"
        return electrical, self.mechanical()

    def contact_failed(self) -> bool:
        return self.height <= 0.0 and not self._moving and not self.bay.in_window()

    def system_status(self) -> ACDPEVSEStatus:
        isolation = _ISOLATION.get(self.isolation(), "Invalid")
        ready = self.contact() and not self._emergency and not self.malfunction and isolation != "Fault"
        return ACDPEVSEStatus(self.mechanical(), ready, isolation, False, False, self._emergency,
                              self.malfunction, self.bay.in_window(), self._associated)

    def ev_status(self, status: ACDPEVStatus) -> None:
        self.last_ev_status = status

    def trigger_emergency(self) -> None:
        """Emergency: current off, the car told to stop, the pantograph goes home (NOTE 1 of 8.6.4.6.2.1)."""
        super().trigger_emergency()
        self._notification = Notification.STOP_CHARGING
        self.disconnect()

    def set_output(self, voltage: float, current: float) -> None:
        """The power module drives the outlet only while the pantograph is in contact."""
        if self.contact():
            super().set_output(voltage, current)

    def step(self, dt: float) -> None:
        super().step(dt)
        if dt <= 0.0 or not self._moving:
            return
        duration = self.lower_time if self._moving < 0 else self.raise_time
        self.height = min(1.0, max(0.0, self.height + self._moving * (dt / duration if duration > 0 else 1.0)))
        if self.height in (0.0, 1.0):
            self._moving = 0
        if self.height > 0.0:
            self.bay.cable.set_state(CPState.A, self.time)  # lifted: no pilot
        elif self.bay.in_window() and self.bay.cable.state is CPState.A:
            self.bay.cable.set_state(CPState.B, self.time)  # contact: the car's pilot appears


class SimulatedACDPVehicle(SimulatedEV, ACDPVehicleController):
    """A DC car (``SimulatedEV``) that drives under the pantograph, stops where its driver stops it and
    reports its ACDP technical status."""

    def __init__(self, bay: ChargeBay | None = None, *, park_at: tuple[float, float] = (30.0, 40.0),
                 speed: float = 500.0, wlan_strength: float = -60.0, **settings: Any) -> None:
        """``park_at`` (mm from the charge position): where the driver stops; ``speed`` (mm/s) while driving
        into the bay. ``settings`` are ``SimulatedEV``'s (soc, target_soc, capacity_wh, ...)."""
        check_values(speed=speed)
        self.bay = bay if bay is not None else ChargeBay()
        settings.setdefault("cable", self.bay.cable)
        super().__init__(**settings)
        self.park_at = park_at
        self.speed = speed
        self.wlan_strength = wlan_strength
        self._driving = False
        self._arrived = False
        self.seen: list[ACDPPosition] = []  # what the charger told the car, for tests and views

    def follow(self, position: ACDPPosition) -> None:
        self.seen.append(position)
        if not self._arrived:
            self._driving = True

    def immobilized(self) -> bool:
        return self._arrived

    def set_cp_state(self, state: CPState) -> None:
        """The pilot exists only through the pantograph's contact: without it the car's switch changes nothing."""
        if self.bay.cable.state is not CPState.A or state is CPState.A:
            super().set_cp_state(state)

    def technical_status(self) -> ACDPEVStatus:
        letter = self.bay.cable.state.value
        return ACDPEVStatus(ready_to_charge=self._arrived and not self.charging_complete(),
                            immobilization_request=self._arrived, immobilized=self._arrived,
                            wlan_strength=self.wlan_strength, cp_status=f"State{letter}" if letter in "ABCDE" else None,
                            soc=int(self.soc()), error_code="OK_NoEVError", timeout=False)

    def step(self, dt: float, voltage: float | None = None, current: float | None = None) -> None:
        """Drive into the bay while positioning, then charge from the ``supply`` like ``SimulatedEV``."""
        if self._driving and dt > 0.0:
            dx, dy = self.park_at[0] - self.bay.x, self.park_at[1] - self.bay.y
            dist = math.hypot(dx, dy)
            reach = self.speed * dt
            if dist <= reach:
                self.bay.x, self.bay.y = self.park_at
                self._driving, self._arrived = False, True
            else:
                self.bay.x += dx * reach / dist
                self.bay.y += dy * reach / dist
        super().step(dt, voltage, current)
