"""The schedules and price tables a charger loads from TOML (``v2gkit.sim.schedules``) as the ScheduleTuple an
SECC offers in ScheduleExchangeRes (Scheduled mode) or the price schedule it sends in Dynamic mode.

The TOML side keeps magnitudes and works in time (what is in force at t); the wire side is the builders' input
(``messages.ScheduleTuple`` and friends). A discharging PowerSchedule goes on the wire with negative powers, as
Josev and the dSPACE/Josev traces send it; a car reads the magnitude.
"""

from __future__ import annotations

from typing import Any

from . import messages as msg

__all__ = ["price_schedule", "schedule_tuple"]


def _power(schedule: Any, sign: float) -> msg.PowerSchedule:
    entries = []
    for e in schedule.entries:
        if e.phases:  # per phase: L1 in Power, L2/L3 in their own fields
            l1, *rest = e.phases
            entries.append(msg.PowerEntry(e.duration, sign * l1, *(sign * p for p in rest)))
        else:
            entries.append(msg.PowerEntry(e.duration, sign * e.power))
    return msg.PowerSchedule(tuple(entries), available_energy=schedule.available_energy,
                             power_tolerance=schedule.power_tolerance)


def price_schedule(p: Any) -> msg.Price | None:
    """An AbsolutePriceSchedule or PriceLevelSchedule of the TOML side as the builders take it."""
    if p is None:
        return None
    if hasattr(p, "number_of_price_levels"):
        return msg.PriceLevelSchedule(p.price_schedule_id, p.number_of_price_levels,
                                      tuple((e.duration, e.price_level) for e in p.entries),
                                      description=p.description)
    stacks = tuple(msg.PriceRuleStack(s.duration, tuple(
        msg.PriceRule(r.energy_fee, r.power_range_start, r.parking_fee, r.parking_fee_period,
                      r.carbon_dioxide_emission, r.renewable_generation_percentage) for r in s.price_rules))
        for s in p.price_rule_stacks)
    taxes = tuple(msg.TaxRule(t.tax_rule_id, t.tax_rate, t.applies_to_energy_fee, t.applies_to_parking_fee,
                              t.applies_to_overstay_fee, t.applies_minimum_maximum_cost, t.tax_rule_name,
                              t.tax_included_in_price) for t in p.tax_rules)
    overstay = None
    if p.overstay_rules is not None:
        o = p.overstay_rules
        overstay = msg.Overstay(tuple(msg.OverstayRule(r.start_time, r.overstay_fee, r.overstay_fee_period,
                                                       r.description) for r in o.overstay_rules),
                                o.overstay_time_threshold, o.overstay_power_threshold)
    return msg.AbsolutePriceSchedule(
        p.price_schedule_id, stacks, currency=p.currency, language=p.language, price_algorithm=p.price_algorithm,
        description=p.description, minimum_cost=p.minimum_cost, maximum_cost=p.maximum_cost, tax_rules=taxes,
        overstay=overstay,
        additional_services=tuple((a.service_name, a.service_fee) for a in p.additional_selected_services))


def schedule_tuple(schedules: Any, bpt: bool) -> msg.ScheduleTuple:
    """The tuple of a loaded schedules file (``sim.schedules.Schedules``); its discharging half only for
    a BPT session."""
    c = schedules.charging_schedule
    charging = _power(c.power_schedule, 1.0) if c.power_schedule else msg.PowerSchedule((msg.PowerEntry(86400, 0.0),))
    d = schedules.discharging_schedule if bpt else None
    discharging = _power(d.power_schedule, -1.0) if d is not None and d.power_schedule else None
    return msg.ScheduleTuple(schedules.schedule_tuple_id, charging, price_schedule(c.price_schedule), discharging,
                             price_schedule(d.price_schedule) if d is not None else None)
