"""The charger's side of ISO 15118-20 Dynamic control mode: the power to set now, from the car's
EnergyRequest (Dynamic_SEReqControlMode, Dynamic_*_CLReqControlMode), the limits and the schedules' power
limits and prices (``v2gkit.sim.schedules``). A pure function: nothing here reads a clock or keeps state, so
the charger may ask it again on every charge loop (it plans from scratch each time: receding horizon).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from v2gkit.controllers import EnergyRequest
from v2gkit.sim.schedules import Schedules


@dataclass(frozen=True)
class _Slot:
    start: float  # s from the schedule's start
    end: float
    charge: float  # W most that can be charged
    discharge: float  # W most that can be discharged
    cost: float  # what charging costs (currency/kWh or level)
    revenue: float | None  # what discharging earns (money, or the price level); None: unknown, no discharge

    @property
    def charge_wh(self) -> float:
        return self.charge * (self.end - self.start) / 3600.0


def _slots(schedules: Schedules | None, now: float, end: float, max_charge: float,
           max_discharge: float) -> list[_Slot]:
    """[now, end) cut where limits or prices change, each with its limits and prices."""
    cuts = [now] + [float(b) for b in (schedules.boundaries() if schedules else ()) if now < b < end] + [end]
    raw = []
    for a, b in itertools.pairwise(cuts):
        charge, discharge = max_charge, max_discharge
        limit = schedules.power_limit_at(a) if schedules else None
        if limit is not None:
            charge, discharge = min(charge, limit.max_charge), min(discharge, limit.max_discharge)
        cost = schedules.price_at(a, charge) if schedules else None
        price = schedules.price_at(a, -discharge) if schedules and discharge > 0.0 else None
        if price is not None and schedules and schedules.absolute:
            price = -price  # money: a negative fee is paid to the driver; a level is the level
        raw.append((a, b, charge, discharge, cost, price))
    known = [c for *_, c, _ in raw if c is not None]
    unknown_cost = max(known) if known else 0.0  # past the price schedule: assume the dearest price
    return [_Slot(a, b, c, d, unknown_cost if cost is None else cost, r) for a, b, c, d, cost, r in raw]


def _cheapest(slots: list[_Slot], energy: float) -> tuple[set[int], float]:
    """The slots that charge ``energy`` Wh cheapest (earliest first among equal prices) and the price of
    the dearest of them; (all, inf) when they cannot hold it, (empty, -inf) for nothing to charge."""
    if energy <= 0.0:
        return set(), -math.inf
    chosen: set[int] = set()
    for i in sorted(range(len(slots)), key=lambda i: (slots[i].cost, i)):
        if slots[i].charge <= 0.0:
            continue
        chosen.add(i)
        energy -= slots[i].charge_wh
        if energy <= 1e-9:
            return chosen, slots[i].cost
    return chosen, math.inf


def plan_power(request: EnergyRequest, *, now: float, max_charge: float, max_discharge: float = 0.0,
               schedules: Schedules | None = None, round_trip: float = 0.85) -> float:
    """The signed power (W, + charge, - discharge) a charger in Dynamic mode sets now.

    ``now``: seconds since the schedules' start. ``max_charge``/``max_discharge``: what the charger and the
    car allow (EVSE and EV maximum powers); the schedules' power limits apply on top, slot by slot.

    - Below its minimum (EVMinimumEnergyRequest > 0) the car charges at once at full power.
    - Without a departure time or prices the car charges at full power until its target.
    - With both, the energy to the target goes into the cheapest time before departure: charge now when
      now is among the cheapest slots that together hold that energy (ties go to the earliest).
    - V2G: when the car allows it (EVMinimumV2XEnergyRequest < 0) and what discharge earns now, times
      ``round_trip`` (the part of the energy that comes back; keep it at or below the real one), is more
      than recharging it later costs, discharge at the highest power for which the slots after this one
      can still recharge the energy discharged until this slot ends, on top of the target.

    So the target is reached by departure whenever the slots can hold it (the car's own V2X floor and its
    limits hold the rest). Price levels compare by level (no ``round_trip``).
    """
    max_charge, max_discharge = max(max_charge, 0.0), max(max_discharge, 0.0)
    limit = schedules.power_limit_at(now) if schedules else None
    charge_now = min(max_charge, limit.max_charge) if limit is not None else max_charge
    if request.minimum > 0.0:
        return charge_now
    departure = request.departure_time
    if departure is None or departure <= 0 or schedules is None or schedules.prices is None:
        return charge_now if request.target > 0.0 else 0.0
    slots = _slots(schedules, now, now + departure, max_charge, max_discharge)
    chosen, _ = _cheapest(slots, request.target)
    if 0 in chosen and slots[0].charge > 0.0:
        return slots[0].charge
    here = slots[0]
    if request.dischargeable <= 0.0 or here.discharge <= 0.0 or here.revenue is None:
        return 0.0
    later = slots[1:]
    span = here.end - here.start
    slack = sum(s.charge_wh for s in later) - request.target  # Wh the later slots hold beyond the target
    if slack <= 0.0 or span <= 0.0:
        return 0.0
    power = min(here.discharge, slack * round_trip * 3600.0 / span)
    recharge = request.target + power * span / 3600.0 / round_trip
    _, rebuy = _cheapest(later, recharge)  # -inf when the car is that far above its target
    if schedules.absolute:  # money: what a kWh sold earns against 1/round_trip kWh bought back (or 0)
        worth = here.revenue * round_trip > max(rebuy, 0.0)
    else:  # levels: sell at a dearer level than the one it buys back at
        worth = here.revenue > rebuy
    return -power if worth and power > 0.0 else 0.0
