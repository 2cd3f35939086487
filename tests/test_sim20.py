"""ISO 15118-20 simulated hardware: the bidirectional car, the chargers that source and sink, schedules and
price tables from TOML, and the Dynamic-mode planner. Simulated time only (nothing here reads a clock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2gkit.controllers import (
    BidirectionalEV,
    BidirectionalEVSE,
    EnergyRequest,
    EV20Controller,
    EVController,
    EVSE20Controller,
    EVSEController,
    PowerSetpoint,
)
from v2gkit.sim.battery import SimulatedBPTEV
from v2gkit.sim.bpt_evse import SimulatedBPTACEVSE, SimulatedBPTDCEVSE
from v2gkit.sim.ev import SimulatedEV
from v2gkit.sim.evse import Cable, SimulatedACEVSE, SimulatedDCEVSE
from v2gkit.sim.planner import plan_power
from v2gkit.sim.schedules import (
    EXAMPLES,
    MAX_POWER_SCHEDULE_ENTRIES,
    PRICE_ALGORITHMS,
    AbsolutePriceSchedule,
    PriceLevelSchedule,
    ScheduleError,
    example_path,
    load_schedules,
    parse_schedules,
)

CAP = 60_000.0  # Wh, the default car


def battery_wh(ev: SimulatedBPTEV) -> float:
    return ev.soc() / 100.0 * ev.capacity_wh


def dc_loop(ev: SimulatedBPTEV, evse: SimulatedBPTDCEVSE, power: float, dt: float) -> None:
    """One Dynamic-style DC charge loop: the car's request to the charger, ``power`` asked of the car."""
    evse.set_ev_request(ev.energy_request(), ev.max_charge_power(), ev.discharge_limits().max_power)
    v = ev.present_voltage()
    evse.set_output(v, power / v)
    evse.step(dt)
    ev.step(dt, *evse.present())


# -- interfaces ----------------------------------------------------------------------------------------


def test_new_abcs_extend_the_old_ones_and_old_simulators_are_untouched() -> None:
    ev, dc, ac = SimulatedBPTEV(), SimulatedBPTDCEVSE(), SimulatedBPTACEVSE()
    assert isinstance(ev, BidirectionalEV) and isinstance(ev, EV20Controller) and isinstance(ev, EVController)
    assert isinstance(ev, SimulatedEV)
    for evse in (dc, ac):
        assert isinstance(evse, BidirectionalEVSE) and isinstance(evse, EVSE20Controller)
        assert isinstance(evse, EVSEController)
    assert isinstance(dc, SimulatedDCEVSE) and isinstance(ac, SimulatedACEVSE)
    # the -2/DIN simulators gained nothing abstract: they still build and are no -20 controllers
    assert not isinstance(SimulatedEV(), EV20Controller)
    assert not isinstance(SimulatedDCEVSE(), EVSE20Controller)
    assert EVController.__abstractmethods__ < BidirectionalEV.__abstractmethods__
    assert EVSEController.__abstractmethods__ < BidirectionalEVSE.__abstractmethods__


def test_energy_request_dischargeable() -> None:
    assert EnergyRequest(1.0, 2.0, -5.0, minimum_v2x=-300.0).dischargeable == 300.0
    assert EnergyRequest(1.0, 2.0, -5.0, minimum_v2x=40.0).dischargeable == 0.0
    assert EnergyRequest(1.0, 2.0, -5.0).dischargeable == 0.0  # no V2X request: nothing to give


# -- the car -------------------------------------------------------------------------------------------


def test_energy_request_from_soc_capacity_and_departure() -> None:
    ev = SimulatedBPTEV(soc=50.0, target_soc=80.0, minimum_soc=20.0, v2x_minimum_soc=30.0,
                       v2x_maximum_soc=90.0, departure_time=10 * 3600)
    ev.step(600.5, 0.0, 0.0)
    r = ev.energy_request()
    assert r.departure_time == 10 * 3600 - 601  # rounded down
    assert r.target == pytest.approx(0.30 * CAP / 0.95)  # in: charging losses on top
    assert r.maximum == pytest.approx(0.50 * CAP / 0.95)
    assert r.minimum == pytest.approx(-0.30 * CAP * 0.95)  # out: what reaches the inlet
    assert r.minimum_v2x == pytest.approx(-0.20 * CAP * 0.95)
    assert r.maximum_v2x == pytest.approx(0.40 * CAP / 0.95)
    assert (r.target_soc, r.minimum_soc) == (80.0, 20.0)
    assert r.dischargeable == pytest.approx(0.20 * CAP * 0.95)
    lim = ev.discharge_limits()
    assert lim.max_power == 10_000.0 and lim.max_current == 50.0
    off = SimulatedBPTEV(v2g=False).energy_request()
    assert off.minimum_v2x is None and off.maximum_v2x is None


def test_v2x_floor_rises_as_departure_nears() -> None:
    """The car discharges only while it can still recharge to its target by departure."""
    # 60 kWh, 90 kW max -> counts on 72 kW x 0.95: 1 h recharges 68.4 kWh, more than the whole battery
    ev = SimulatedBPTEV(soc=60.0, target_soc=80.0, minimum_soc=20.0, departure_time=3600)
    assert ev.discharge_floor() == 20.0
    ev.step(3600 - 600, 0.0, 0.0)  # 10 min left: 11.4 kWh = 19 % can be recharged
    assert ev.discharge_floor() == pytest.approx(80.0 - 19.0)
    assert ev.discharge_limits().max_power == 0.0 and ev.energy_request().dischargeable == 0.0
    assert ev.energy_request().minimum_v2x > 0.0  # below its V2X range now
    slow = SimulatedBPTEV(soc=60.0, target_soc=80.0, departure_time=3 * 3600, recharge_power=3_000.0)
    assert slow.discharge_floor() > 60.0 and slow.discharge_limits().max_power == 0.0


def test_discharge_stops_at_minimum_soc_whatever_the_charger_asks() -> None:
    ev = SimulatedBPTEV(soc=21.0, minimum_soc=20.0)
    ev.step(3600.0, 370.0, -100.0)  # 37 kWh asked, 0.6 kWh in the battery above the floor
    assert ev.soc() == pytest.approx(20.0, abs=1e-12)
    assert ev.discharged_wh == pytest.approx(0.01 * CAP * 0.95)
    assert ev.refused_wh == pytest.approx(37_000.0 - ev.discharged_wh)
    assert ev.power == pytest.approx(-ev.discharged_wh)  # W averaged over the hour
    ev.step(10.0, 370.0, -100.0)
    assert ev.soc() == pytest.approx(20.0, abs=1e-12) and ev.discharge_limits().max_power == 0.0


def test_power_wanted_dynamic_and_scheduled() -> None:
    ev = SimulatedBPTEV(soc=50.0, discharge_max_power=7_000.0, departure_time=8 * 3600)
    # Dynamic: the target within the car's and the setpoint's limits
    assert ev.power_wanted(PowerSetpoint(50_000.0, 20_000.0, target=-15_000.0)) == -7_000.0
    assert ev.power_wanted(PowerSetpoint(50_000.0, 5_000.0, target=-15_000.0)) == -5_000.0
    assert ev.power_wanted(PowerSetpoint(30_000.0, 5_000.0, target=40_000.0)) == 30_000.0
    assert ev.power_wanted(PowerSetpoint(-1.0, -1.0, target=1_000.0)) == 0.0  # a negative limit is 0
    # Scheduled: charge within the schedule; discharge only where the schedule offers nothing but discharge
    assert ev.power_wanted(PowerSetpoint(11_000.0, 11_000.0)) == 11_000.0
    assert ev.power_wanted(PowerSetpoint(0.0, 11_000.0)) == -7_000.0
    assert ev.power_wanted(PowerSetpoint(0.0, 0.0)) == 0.0
    full = SimulatedBPTEV(soc=85.0, target_soc=80.0)
    assert full.power_wanted(PowerSetpoint(11_000.0)) == 0.0  # Scheduled: done at the target SOC
    assert full.power_wanted(PowerSetpoint(11_000.0, target=5_000.0)) == 5_000.0  # Dynamic: up to maximum


def test_dc_voltage_sags_while_discharging_and_ac_power_per_phase() -> None:
    ev = SimulatedBPTEV(soc=50.0)
    ocv = ev.open_circuit_voltage()
    ev.step(1.0, ocv, -20.0)
    assert ev.present_voltage() == pytest.approx(ocv - 20.0 * 0.05, abs=0.01)
    assert ev.present_power() == pytest.approx(-ocv * 20.0)
    ac = SimulatedBPTEV(ac=True, ac_phases=3, discharge_max_power=6_900.0)
    assert ac.present_voltage() == 230.0
    lim = ac.discharge_limits()
    assert lim.max_power == 6_900.0 and lim.max_current == pytest.approx(10.0)  # per phase
    ac.step(1.0, 230.0, -10.0)
    assert ac.present_power() == pytest.approx(-6_900.0)


def test_v2g_car_stays_for_v2x_and_leaves_at_departure() -> None:
    ev = SimulatedBPTEV(soc=80.0, target_soc=80.0, departure_time=100)
    assert ev.charging_complete() and not ev.wants_stop()  # charged, but V2X is open until departure
    ev.step(100.0, 0.0, 0.0)
    assert ev.wants_stop()
    assert SimulatedBPTEV(soc=80.0, target_soc=80.0).wants_stop()  # no departure: no V2X plan


@pytest.mark.parametrize(("settings_", "message"), [
    ({"minimum_soc": 90.0}, "minimum_soc <= target_soc"),
    ({"v2x_minimum_soc": 10.0}, "V2X range"),
    ({"maximum_soc": 120.0}, "maximum_soc must be 0..100"),
    ({"discharge_max_power": -1.0}, "discharge_max_power must be >= 0"),
    ({"discharge_min_current": 60.0}, "minimums must not be above"),
    ({"discharge_efficiency": 0.0}, "discharge_efficiency must be > 0"),
    ({"recharge_power": 0.0}, "recharge_power must be > 0"),
    ({"capacity_wh": 0.0}, "capacity_wh must be > 0"),  # SimulatedEV's own checks still run
])
def test_car_refuses_impossible_settings(settings_: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatedBPTEV(**settings_)


@settings(max_examples=150, deadline=None)
@given(
    soc=st.floats(20.0, 100.0), minimum=st.floats(0.0, 20.0), ac=st.booleans(),
    eta=st.tuples(st.floats(0.5, 1.0), st.floats(0.5, 1.0)),
    steps=st.lists(st.tuples(st.floats(-1e4, 1e4), st.floats(-2e3, 2e3), st.floats(0.0, 600.0)),
                   min_size=1, max_size=30))
def test_soc_stays_within_minimum_and_100_whatever_the_setpoints(
        soc: float, minimum: float, ac: bool, eta: tuple[float, float],
        steps: list[tuple[float, float, float]]) -> None:
    """Any voltage, current and step: the SOC stays in [minimum_soc, 100] and the battery holds exactly
    what came in times the charging efficiency less what went out over the discharging efficiency."""
    ev = SimulatedBPTEV(soc=soc, minimum_soc=minimum, target_soc=max(minimum, 50.0), capacity_wh=5_000.0,
                       charge_efficiency=eta[0], discharge_efficiency=eta[1], ac=ac)
    start = battery_wh(ev)
    for voltage, current, dt in steps:
        ev.step(dt, voltage, current)
        assert minimum - 1e-9 <= ev.soc() <= 100.0
    stored = ev.charged_wh * eta[0] - ev.discharged_wh / eta[1]
    assert battery_wh(ev) - start == pytest.approx(stored, abs=1e-6)
    assert ev.charged_wh - ev.discharged_wh - ev.losses_wh == pytest.approx(stored, abs=1e-6)


# -- the DC charger ------------------------------------------------------------------------------------


def test_dc_charger_slews_through_zero_and_meters_both_ways() -> None:
    evse = SimulatedBPTDCEVSE(current_slew=100.0, voltage_slew=1e6)
    evse.set_output(400.0, 50.0)
    evse.step(1.0)
    assert evse.present() == (400.0, 50.0)
    evse.set_output(400.0, -50.0)
    evse.step(0.5)  # meters +50 A for 0.5 s, slews 50 A down
    assert evse.present() == (400.0, 0.0) and evse.meter_wh() == pytest.approx(400 * 50 * 0.5 / 3600)
    evse.step(0.5)
    assert evse.present() == (400.0, -50.0) and evse.present_power() == (-20_000.0,)
    evse.step(36.0)
    assert evse.exported_wh() == pytest.approx(20_000.0 * 36.0 / 3600.0)
    assert evse.meter_wh() == pytest.approx(400 * 50 * 0.5 / 3600)  # imports untouched by the export


def test_dc_charger_limits_each_direction() -> None:
    evse = SimulatedBPTDCEVSE(max_power=60_000.0, discharge_max_power=20_000.0, discharge_max_current=40.0,
                              current_slew=1e6, voltage_slew=1e6)
    evse.set_output(400.0, -100.0)
    evse.step(1.0)
    assert evse.present() == (400.0, -40.0)  # discharge current limit
    assert evse.limits_achieved() == (True, False, False)
    evse.set_output(600.0, -100.0)
    evse.step(1.0)
    assert evse.present()[0] == 500.0 and evse.present()[1] == pytest.approx(-40.0)
    evse.set_power_limits(30_000.0, 8_000.0)  # the schedule in force
    evse.set_output(400.0, -100.0)
    evse.step(1.0)
    assert evse.present()[1] == pytest.approx(-20.0) and evse.power_limits() == (30_000.0, 8_000.0)
    assert evse.limits_achieved() == (True, False, True)
    evse.set_output(400.0, 150.0)
    evse.step(1.0)
    assert evse.present()[1] == pytest.approx(75.0)  # 30 kW / 400 V
    lim = evse.discharge_limits()
    assert (lim.max_power, lim.max_current) == (20_000.0, 40.0)
    with pytest.raises(ValueError, match="max_discharge must be >= 0"):
        evse.set_power_limits(1.0, -1.0)


def test_dc_charger_never_sinks_more_than_the_car_can_give() -> None:
    """Whatever the SECC asks, the charger stops sinking when the car's V2X energy is used up, so the car
    lands on its floor and the BMS never has to refuse."""
    ev = SimulatedBPTEV(soc=21.0, minimum_soc=20.0)
    evse = SimulatedBPTDCEVSE(current_slew=1e6, voltage_slew=1e6)
    for _ in range(200):
        dc_loop(ev, evse, -50_000.0, 0.5)
    assert ev.soc() == pytest.approx(20.0, abs=1e-9) and ev.refused_wh == pytest.approx(0.0, abs=1e-9)
    assert evse.exported_wh() == pytest.approx(ev.discharged_wh, abs=1e-9)
    assert evse.present()[1] == 0.0
    # a request given once also bounds a charger that keeps sinking without asking again
    ev2 = SimulatedBPTEV(soc=30.0, minimum_soc=20.0)
    evse2 = SimulatedBPTDCEVSE(current_slew=1e6, voltage_slew=1e6)
    evse2.set_ev_request(ev2.energy_request(), 0.0, 10_000.0)
    for _ in range(400):
        evse2.set_output(ev2.present_voltage(), -100.0)
        evse2.step(10.0)
        ev2.step(10.0, *evse2.present())
    assert ev2.soc() == pytest.approx(20.0, abs=1e-9) and ev2.refused_wh == pytest.approx(0.0, abs=1e-9)


def test_dc_emergency_stops_sinking_at_once() -> None:
    evse = SimulatedBPTDCEVSE(current_slew=1e6, voltage_slew=1e6)
    evse.set_output(400.0, -30.0)
    evse.step(1.0)
    evse.trigger_emergency()
    assert evse.present()[1] == 0.0
    evse.set_output(400.0, -30.0)
    evse.step(1.0)
    assert evse.present()[1] == 0.0


@settings(max_examples=100, deadline=None)
@given(
    soc=st.floats(15.0, 95.0), eta=st.tuples(st.floats(0.8, 1.0), st.floats(0.8, 1.0)),
    dt=st.sampled_from([0.1, 0.25, 1.0, 5.0]),
    loops=st.lists(st.tuples(st.floats(-60_000.0, 60_000.0), st.booleans(), st.floats(0.0, 50_000.0)),
                   min_size=1, max_size=40))
def test_dc_energy_is_conserved_between_meter_and_battery(
        soc: float, eta: tuple[float, float], dt: float, loops: list[tuple[float, bool, float]]) -> None:
    """Random Dynamic-mode setpoints (the car's own clip of them), schedule changes, slews: the charger's
    imported and exported energy are what the car took and gave at its inlet, and the battery holds
    that less the stated losses; the car never refuses, never leaves [minimum_soc, 100]."""
    ev = SimulatedBPTEV(soc=soc, minimum_soc=20.0, maximum_soc=95.0, capacity_wh=2_000.0,
                       charge_efficiency=eta[0], discharge_efficiency=eta[1])
    evse = SimulatedBPTDCEVSE(current_slew=50.0)
    start = battery_wh(ev)
    for target, limit, schedule in loops:
        if limit:
            evse.set_power_limits(schedule, schedule / 2)
        charge, discharge = evse.power_limits()
        dc_loop(ev, evse, ev.power_wanted(PowerSetpoint(charge, discharge, target=target)), dt)
        assert min(soc, 20.0) - 1e-9 <= ev.soc() <= 100.0
    v, i = evse.present()  # the car took the last step's output; the meter counts it on the next step
    pending = v * i * dt / 3600.0
    assert evse.meter_wh() + max(pending, 0.0) == pytest.approx(ev.charged_wh, abs=1e-6)
    assert evse.exported_wh() - min(pending, 0.0) == pytest.approx(ev.discharged_wh, abs=1e-6)
    assert ev.refused_wh == pytest.approx(0.0, abs=1e-6)
    assert battery_wh(ev) - start == pytest.approx(
        ev.charged_wh * eta[0] - ev.discharged_wh / eta[1], abs=1e-6)


# -- the AC charger ------------------------------------------------------------------------------------


def test_ac_phase_powers_limits_and_meters() -> None:
    evse = SimulatedBPTACEVSE(max_current=16.0, discharge_max_current=10.0)  # 3680 W / 2300 W per phase
    assert evse.present_power() == (0.0, 0.0, 0.0) and evse.present() == (0.0, 0.0)
    evse.set_phase_powers([5_000.0, 1_000.0, -5_000.0])
    assert evse.present_power() == (3_680.0, 1_000.0, -2_300.0)
    evse.step(3600.0)
    assert evse.meter_wh() == pytest.approx(4_680.0) and evse.exported_wh() == pytest.approx(2_300.0)
    evse.set_power_limits(2_000.0, 1_000.0)  # totals: charging scaled to 2 kW, discharging to 1 kW
    evse.step(3600.0)
    p = evse.present_power()
    assert sum(x for x in p if x > 0) == pytest.approx(2_000.0) and p[2] == pytest.approx(-1_000.0)
    assert evse.power_limits() == (2_000.0, 1_000.0)
    with pytest.raises(ValueError, match="3 phase"):
        evse.set_phase_powers([1.0, 2.0])
    lim = evse.discharge_limits()
    assert lim.max_power == pytest.approx(230.0 * 10.0 * 3) and lim.max_current == 10.0


def test_ac_single_phase_bpt_car_on_three_phase_charger() -> None:
    cable = Cable()
    ev = SimulatedBPTEV(ac=True, ac_phases=1, soc=50.0, cable=cable)
    evse = SimulatedBPTACEVSE(cable=cable)
    evse.set_output(230.0, -10.0)  # 10 A out on every phase, but only L1 is connected
    assert evse.present_power() == (-2_300.0, 0.0, 0.0) and evse.present() == (230.0, -10.0)
    evse.step(3600.0)
    ev.step(3600.0, *evse.present())
    assert evse.exported_wh() == pytest.approx(2_300.0) and ev.discharged_wh == pytest.approx(2_300.0)


@settings(max_examples=100, deadline=None)
@given(soc=st.floats(15.0, 95.0), phases=st.sampled_from([1, 3]),
       loops=st.lists(st.tuples(st.floats(-20_000.0, 20_000.0),
                                st.lists(st.floats(0.1, 1.0), min_size=3, max_size=3)),
                      min_size=1, max_size=40))
def test_ac_energy_is_conserved_per_phase(soc: float, phases: int,
                                          loops: list[tuple[float, list[float]]]) -> None:
    cable = Cable()
    ev = SimulatedBPTEV(ac=True, ac_phases=phases, soc=soc, maximum_soc=95.0, capacity_wh=2_000.0,
                       discharge_max_power=11_000.0, cable=cable)
    evse = SimulatedBPTACEVSE(cable=cable)
    start = battery_wh(ev)
    for target, shares in loops:
        evse.set_ev_request(ev.energy_request(), ev.max_charge_power(), ev.discharge_limits().max_power)
        want = ev.power_wanted(PowerSetpoint(*evse.power_limits(), target=target))
        split = [want * s / sum(shares[:phases]) for s in shares[:phases]] + [0.0] * (3 - phases)
        evse.set_phase_powers(split)
        evse.step(1.0)
        ev.step(1.0, *evse.present())
        assert min(soc, 20.0) - 1e-9 <= ev.soc() <= 100.0
    assert evse.meter_wh() == pytest.approx(ev.charged_wh, abs=1e-6)
    assert evse.exported_wh() == pytest.approx(ev.discharged_wh, abs=1e-6)
    assert ev.refused_wh == pytest.approx(0.0, abs=1e-6)
    assert battery_wh(ev) - start == pytest.approx(ev.charged_wh * 0.95 - ev.discharged_wh / 0.95, abs=1e-6)


# -- schedules and prices ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load(name: str) -> None:
    s = load_schedules(example_path(name))
    assert s.charging_schedule.power_schedule is not None
    assert s.charging_schedule.power_schedule.duration == 86_400
    assert s.power_limit_at(86_400) is None and s.power_limit_at(-1) is None


def test_plain_example() -> None:
    s = load_schedules(example_path("plain.toml"))
    assert s.power_limit_at(0).max_charge == 22_000.0
    day = s.power_limit_at(12 * 3600)
    assert day.max_charge == 3 * 3680.0 and day.charge_phases == (3680.0, 3680.0, 3680.0)
    assert day.max_discharge == 0.0  # no discharging schedule: no discharge
    assert s.price_at(0) is None and s.charging_schedule.power_schedule.power_tolerance == 500.0
    assert s.boundaries() == (25_200, 61_200, 75_600, 86_400)


def test_v2g_day_example_prices() -> None:
    s = load_schedules(example_path("v2g_day.toml"))
    prices = s.prices
    assert isinstance(prices, AbsolutePriceSchedule)
    assert (prices.currency, prices.language, prices.price_algorithm) == ("EUR", "ENG", PRICE_ALGORITHMS["power"])
    assert prices.energy_tax == pytest.approx(0.19)
    assert s.price_at(3600, 11_000.0) == pytest.approx(0.18 * 1.19)  # night, slow
    assert s.price_at(3600, 50_000.0) == pytest.approx(0.22 * 1.19)  # night, fast
    assert s.price_at(17 * 3600, 10_000.0) == pytest.approx(0.45 * 1.19)  # evening peak
    assert s.price_at(17 * 3600, -11_000.0) == pytest.approx(-0.55)  # paid for V2G in the peak
    assert s.price_at(3600, -11_000.0) == pytest.approx(-0.08)
    peak = s.power_limit_at(17 * 3600)
    assert (peak.max_charge, peak.max_discharge) == (10_000.0, 11_000.0)
    assert s.power_limit_at(3600).max_discharge == 0.0
    assert prices.overstay_rules is not None and len(prices.overstay_rules.overstay_rules) == 2
    assert prices.overstay_rules.overstay_time_threshold == 3600
    assert prices.additional_selected_services[0].service_fee == 2.0
    assert prices.tax_rules[0].tax_rule_name == "VAT"
    rule = prices.price_rule_stacks[2].price_rules[0]
    assert (rule.renewable_generation_percentage, rule.carbon_dioxide_emission) == (75, 90)


def test_since_cuts_what_has_passed() -> None:
    s = load_schedules(example_path("v2g_day.toml"))
    later = s.since(61_200)  # a session that starts at 17:00
    assert [e.duration for e in later.charging_schedule.power_schedule.entries] == [14_400, 10_800]
    assert later.price_at(0, -11_000.0) == s.price_at(61_200, -11_000.0)
    for t in (0, 5_000, 14_399, 14_400, 25_199):
        assert later.power_limit_at(t) == s.power_limit_at(61_200 + t)
        assert later.price_at(t, 5_000.0) == s.price_at(61_200 + t, 5_000.0)
    with pytest.raises(ValueError, match="ends before"):
        s.since(86_400)


def test_reverse_rules_and_price_levels() -> None:
    """A charging schedule may price discharge with negative PowerRangeStart; levels are levels."""
    s = parse_schedules({"charging_schedule": {"absolute_price_schedule": {
        "price_schedule_id": 1, "currency": "EUR", "language": "DEU",
        "price_rule_stack": [{"duration": 100, "price_rule": [
            {"energy_fee": 0.10, "power_range_start": 10_000}, {"energy_fee": 0.20},
            {"energy_fee": -0.15, "power_range_start": -1}]}]}}})
    assert s.price_at(0, 5_000.0) == 0.20 and s.price_at(0, 10_000.0) == 0.10
    assert s.price_at(0, -5_000.0) == -0.15 and s.price_at(99, 0.0) == 0.20 and s.price_at(100) is None
    assert s.power_limit_at(0) is None  # no power schedule: nothing limits
    levels = parse_schedules({"charging_schedule": {"price_level_schedule": {
        "price_schedule_id": 7, "number_of_price_levels": 3,
        "entry": [{"duration": 60, "price_level": 2}, {"duration": 60, "price_level": 0}]}}})
    assert isinstance(levels.prices, PriceLevelSchedule) and not levels.absolute
    assert (levels.price_at(30), levels.price_at(90), levels.price_at(120)) == (2.0, 0.0, None)


def _power_entries(n: int) -> str:
    return "entry = [" + ", ".join(["{ duration = 60, power = 1000 }"] * n) + "]"


GOOD_PRICES = """
[charging_schedule.absolute_price_schedule]
price_schedule_id = 1
currency = "EUR"
language = "ENG"
price_rule_stack = [ { duration = 60, price_rule = [ { energy_fee = 0.3 } ] } ]
"""


@pytest.mark.parametrize(("text", "table", "key", "reason"), [
    ("[charging_schedule.power_schedule]\nentry = [ { duration = 60, power = 1000, powr = 3 } ]",
     "charging_schedule.power_schedule.entry[0]", "powr", "is not a key"),
    ("[charging_schedule.power_schedule]\nentry = [ { duration = 60, power = '11 kW' } ]",
     "charging_schedule.power_schedule.entry[0]", "power", "must be a number"),
    ("[charging_schedule.power_schedule]\nentry = [ { duration = 0, power = 1 } ]",
     "charging_schedule.power_schedule.entry[0]", "duration", "1..4294967295"),
    ("[charging_schedule.power_schedule]\nentry = [ { duration = 60, power = -5 } ]",
     "charging_schedule.power_schedule.entry[0]", "power", ">= 0"),
    ("[charging_schedule.power_schedule]\nentry = [ { duration = 60, power = [1, 2, 3, 4] } ]",
     "charging_schedule.power_schedule.entry[0]", "power", "1 to 3 numbers"),
    ("[charging_schedule.power_schedule]\nentry = [ { duration = 60, power = 10, min_power = 20 } ]",
     "charging_schedule.power_schedule.entry[0]", "min_power", "above power"),
    ("[charging_schedule.power_schedule]\n" + _power_entries(MAX_POWER_SCHEDULE_ENTRIES + 1),
     "charging_schedule.power_schedule", "entry", "1 to 1024 entries"),
    ("[charging_schedule.power_schedule]\nentry = []", "charging_schedule.power_schedule", "entry",
     "not 0"),
    ("[charging_schedule]\n", "charging_schedule", None, "is empty"),
    ("schedule_tuple_id = 0\n" + GOOD_PRICES, "", "schedule_tuple_id", "1..4294967295"),
    ("[discharging_schedule.power_schedule]\nentry = [ { duration = 60, power = 1 } ]", "",
     "charging_schedule", "is missing"),
    (GOOD_PRICES.replace('"EUR"', '"EURO"'), "charging_schedule.absolute_price_schedule", "currency",
     "1 to 3 characters"),
    (GOOD_PRICES.replace('price_schedule_id = 1\n', ''), "charging_schedule.absolute_price_schedule",
     "price_schedule_id", "is missing"),
    (GOOD_PRICES.replace("energy_fee = 0.3 }", "energy_fee = 0.3 }, { energy_fee = 0.4 }"),
     "charging_schedule.absolute_price_schedule.price_rule_stack[0]", "price_rule", "same power_range_start"),
    (GOOD_PRICES.replace("{ energy_fee = 0.3 }", ", ".join(["{ energy_fee = 0.3 }"] * 9)),
     "charging_schedule.absolute_price_schedule.price_rule_stack[0]", "price_rule", "1 to 8 entries"),
    (GOOD_PRICES + "minimum_cost = 5\nmaximum_cost = 1\n", "charging_schedule.absolute_price_schedule",
     "minimum_cost", "above maximum_cost"),
    (GOOD_PRICES + "[[charging_schedule.absolute_price_schedule.tax_rule]]\ntax_rule_id = 1\ntax_rate = 0.2\n",
     "charging_schedule.absolute_price_schedule.tax_rule[0]", "applies_to_energy_fee", "is missing"),
    (GOOD_PRICES + "[charging_schedule.price_level_schedule]\nprice_schedule_id = 2\n",
     "charging_schedule", "price_level_schedule", "not both"),
    (("[charging_schedule.price_level_schedule]\nprice_schedule_id = 2\nnumber_of_price_levels = 2\n"
      "entry = [ { duration = 60, price_level = 3 } ]"),
     "charging_schedule.price_level_schedule.entry[0]", "price_level", "number_of_price_levels is 2"),
    (GOOD_PRICES + ("[discharging_schedule.price_level_schedule]\nprice_schedule_id = 2\n"
                    "number_of_price_levels = 2\nentry = [ { duration = 60, price_level = 1 } ]"),
     "discharging_schedule", "price schedule", "same kind"),
    (GOOD_PRICES.replace("[charging_schedule.absolute_price_schedule]",
                         "[charging_schedule.absolute_price_schedule]\nrenewable = 3"),
     "charging_schedule.absolute_price_schedule", "renewable", "is not a key"),
])
def test_schedule_errors_name_file_table_and_key(tmp_path: Path, text: str, table: str, key: str | None,
                                                 reason: str) -> None:
    path = tmp_path / "day.toml"
    path.write_text(text)
    with pytest.raises(ScheduleError) as info:
        load_schedules(path)
    e = info.value
    assert (e.source, e.table, e.key) == (str(path), table, key)
    assert reason in e.reason
    assert str(e).startswith(f"{path}:") and (key is None or key in str(e)) and reason in str(e)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ScheduleError, match="cannot read it"):
        load_schedules(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("entry = [ { duration = 60,\n power = 1 } ]")
    with pytest.raises(ScheduleError, match="is not valid TOML"):
        load_schedules(bad)
    with pytest.raises(ValueError, match="no example"):
        example_path("nope.toml")


# -- the Dynamic-mode planner --------------------------------------------------------------------------


def prices(*stacks: tuple[int, float], discharge: tuple[float, int, float] | None = None) -> Any:
    """Schedules with absolute prices (duration, fee) and, with ``discharge`` (power, duration, fee), a
    discharging schedule that takes that much over that time at that fee (negative: paid)."""
    doc: dict[str, Any] = {"charging_schedule": {"absolute_price_schedule": {
        "price_schedule_id": 1, "currency": "EUR", "language": "ENG",
        "price_rule_stack": [{"duration": d, "price_rule": [{"energy_fee": f}]} for d, f in stacks]}}}
    if discharge is not None:
        power, duration, fee = discharge
        doc["discharging_schedule"] = {
            "power_schedule": {"entry": [{"duration": duration, "power": power}]},
            "absolute_price_schedule": {"price_schedule_id": 2, "currency": "EUR", "language": "ENG",
                                        "price_rule_stack": [{"duration": duration,
                                                              "price_rule": [{"energy_fee": fee}]}]}}
    return parse_schedules(doc)


def test_planner_charges_below_the_minimum_at_once() -> None:
    s = prices((3600, 0.9), (3600, 0.1))
    r = EnergyRequest(target=5_000.0, maximum=9_000.0, minimum=100.0, departure_time=7200)
    assert plan_power(r, now=0, max_charge=11_000.0, schedules=s) == 11_000.0


def test_planner_without_departure_or_prices_charges_at_once() -> None:
    r = EnergyRequest(target=5_000.0, maximum=9_000.0, minimum=-1_000.0)
    assert plan_power(r, now=0, max_charge=11_000.0, schedules=prices((3600, 0.9), (3600, 0.1))) == 11_000.0
    r = EnergyRequest(target=5_000.0, maximum=9_000.0, minimum=-1_000.0, departure_time=7200)
    assert plan_power(r, now=0, max_charge=11_000.0) == 11_000.0
    assert plan_power(EnergyRequest(-10.0, 9_000.0, -1_000.0), now=0, max_charge=11_000.0) == 0.0


def test_planner_waits_for_cheap_energy_and_sells_what_it_can_buy_back() -> None:
    s = prices((3600, 0.50), (3600, 0.10), discharge=(7_000.0, 7200, -0.50))
    r = EnergyRequest(target=5_000.0, maximum=9_000.0, minimum=-1_000.0, departure_time=7200,
                      minimum_v2x=-8_000.0)
    # 5 kWh fit into the cheap hour, which holds 11 kWh: 6 kWh are left to buy back what is sold now,
    # so it sells 6 x 0.85 kWh over this hour (0.50 x 0.85 earned > 0.10 to buy back)
    p = plan_power(r, now=0, max_charge=11_000.0, max_discharge=7_000.0, schedules=s, round_trip=0.85)
    assert p == pytest.approx(-6_000.0 * 0.85)
    later = EnergyRequest(target=5_000.0, maximum=9_000.0, minimum=-1_000.0, departure_time=5400,
                          minimum_v2x=-8_000.0)
    # half an hour left to sell in: twice the power would do, the 7 kW limit caps it
    assert plan_power(later, now=1800, max_charge=11_000.0, max_discharge=7_000.0, schedules=s) == -7_000.0
    # without V2X allowance, or without a discharging schedule, or if discharge is not paid, it only waits
    no_v2x = EnergyRequest(target=5_000.0, maximum=9_000.0, minimum=-1_000.0, departure_time=7200)
    assert plan_power(no_v2x, now=0, max_charge=11_000.0, max_discharge=7_000.0, schedules=s) == 0.0
    for other in (prices((3600, 0.50), (3600, 0.10)), prices((3600, 0.50), (3600, 0.10),
                                                             discharge=(7_000.0, 7200, 0.0))):
        assert plan_power(r, now=0, max_charge=11_000.0, max_discharge=7_000.0, schedules=other) == 0.0
    # not worth it when buying back costs more than selling earns (0.30 x 0.85 < 0.28)
    dear = prices((3600, 0.50), (3600, 0.28), discharge=(7_000.0, 7200, -0.30))
    assert plan_power(r, now=0, max_charge=11_000.0, max_discharge=7_000.0, schedules=dear) == 0.0
    # in the cheap hour it charges
    assert plan_power(r, now=3600, max_charge=11_000.0, max_discharge=7_000.0, schedules=s) == 11_000.0
    # a target the cheap hour cannot hold: charge now too
    big = EnergyRequest(target=15_000.0, maximum=19_000.0, minimum=-1_000.0, departure_time=7200)
    assert plan_power(big, now=0, max_charge=11_000.0, schedules=s) == 11_000.0


def test_planner_with_price_levels() -> None:
    """Levels: charge in the lowest levels, sell energy at a level above the one it is bought back at."""
    def levels(*entries: tuple[int, int]) -> Any:
        return parse_schedules({
            "charging_schedule": {"price_level_schedule": {
                "price_schedule_id": 1, "number_of_price_levels": 4,
                "entry": [{"duration": d, "price_level": lv} for d, lv in entries]}},
            "discharging_schedule": {"power_schedule": {"entry": [{"duration": 7200, "power": 7_000.0}]}}})

    r = EnergyRequest(target=5_000.0, maximum=9_000.0, minimum=-1_000.0, departure_time=7200,
                      minimum_v2x=-8_000.0)
    p = plan_power(r, now=0, max_charge=11_000.0, max_discharge=7_000.0, schedules=levels((3600, 3), (3600, 0)))
    assert p == pytest.approx(-6_000.0 * 0.85)
    assert plan_power(r, now=0, max_charge=11_000.0, max_discharge=7_000.0,
                      schedules=levels((3600, 1), (3600, 1))) == 11_000.0  # same level: charge now, earliest
    assert plan_power(r, now=0, max_charge=11_000.0, schedules=levels((3600, 0), (3600, 3))) == 11_000.0


@settings(max_examples=120, deadline=None)
@given(
    stacks=st.lists(st.tuples(st.integers(1, 8), st.floats(-0.3, 1.0)), min_size=1, max_size=8),
    departure_steps=st.integers(1, 48), start=st.floats(0.0, 20_000.0), target=st.floats(0.0, 20_000.0),
    minimum=st.floats(0.0, 10_000.0), charge=st.floats(1_000.0, 22_000.0), discharge=st.floats(0.0, 22_000.0),
    sell=st.floats(0.0, 1.0), true_round_trip=st.floats(0.85, 1.0), as_levels=st.booleans())
def test_planner_always_reaches_the_target_when_it_can(
        stacks: list[tuple[int, float]], departure_steps: int, start: float, target: float, minimum: float,
        charge: float, discharge: float, sell: float, true_round_trip: float, as_levels: bool) -> None:
    """Whatever the prices (money or levels): a battery that follows the plan every 5 min reaches its target by departure if
    charging all the time could, reaches its minimum as soon as possible, never goes below its minimum
    through V2G, and never gets more than the limits."""
    dt = 300
    minimum = min(minimum, target)
    departure = departure_steps * dt
    s = prices(*[(k * dt, fee) for k, fee in stacks], discharge=(discharge, departure, -sell))
    if as_levels:
        s = parse_schedules({
            "charging_schedule": {"price_level_schedule": {"price_schedule_id": 1, "number_of_price_levels": 13,
                                                           "entry": [{"duration": k * dt,
                                                                      "price_level": round((fee + 0.3) * 10)}
                                                                     for k, fee in stacks]}},
            "discharging_schedule": {"power_schedule": {"entry": [{"duration": departure, "power": discharge}]}}})
    cap, energy = 30_000.0, start

    def to_inlet(wh: float) -> float:
        return wh if wh > 0.0 else wh * true_round_trip

    for step in range(departure_steps):
        t = step * dt
        r = EnergyRequest(target=to_inlet(target - energy), maximum=to_inlet(cap - energy),
                          minimum=to_inlet(minimum - energy), departure_time=departure - t,
                          minimum_v2x=to_inlet(minimum - energy))
        p = plan_power(r, now=t, max_charge=charge, max_discharge=discharge, schedules=s, round_trip=0.85)
        assert -discharge <= p <= charge
        if energy < minimum:
            assert p == charge
        if p > 0.0:
            energy = min(energy + p * dt / 3600.0, cap)
        else:  # the car gives at most what lies above its minimum
            energy = max(energy + p * dt / 3600.0 / true_round_trip, min(energy, minimum))
        assert energy >= min(start, minimum) - 1e-9
    reachable = min(start + charge * departure / 3600.0, cap)
    assert energy >= min(target, reachable) - 1e-6


def test_full_v2g_evening_with_the_example_file() -> None:
    """A car plugged in at 17:00 at 60 %, leaving at 07:00 with 80 %: the DC charger sells energy in the
    evening peak, buys it back when it is cheaper and the car leaves with its target; it costs less than
    charging at once. The schedule's time 0 is midnight; the session runs on the charger's time."""
    day = load_schedules(example_path("v2g_day.toml"))

    def run(plan: bool) -> tuple[SimulatedBPTEV, SimulatedBPTDCEVSE, float, float]:
        ev = SimulatedBPTEV(soc=60.0, target_soc=80.0, departure_time=14 * 3600)
        evse = SimulatedBPTDCEVSE(schedules=day, current_slew=1e6, voltage_slew=1e6)
        evse.time = 17 * 3600.0
        cost, low, dt = 0.0, 100.0, 20.0
        while not ev.wants_stop():
            evse.set_ev_request(ev.energy_request(), ev.max_charge_power(), ev.discharge_limits().max_power)
            power = evse.target_power() if plan else ev.power_wanted(PowerSetpoint(*evse.power_limits()))
            cost += (day.price_at(evse.time % 86_400, power) or 0.0) * abs(power) * dt / 3.6e6
            v = ev.present_voltage()
            evse.set_output(v, power / v)
            evse.step(dt)
            ev.step(dt, *evse.present())
            low = min(low, ev.soc())
        return ev, evse, cost, low

    ev, evse, cost, low = run(plan=True)
    assert ev.time == pytest.approx(14 * 3600) and ev.soc() >= 80.0 - 0.1
    assert ev.discharged_wh > 10_000.0 and low == pytest.approx(20.0, abs=0.5)  # sold down to its floor
    assert evse.exported_wh() == pytest.approx(ev.discharged_wh, rel=1e-3) and ev.refused_wh == 0.0
    dumb_ev, _, dumb_cost, _ = run(plan=False)
    assert dumb_ev.soc() >= 80.0 and dumb_ev.discharged_wh == 0.0
    assert cost < dumb_cost - 3.0  # EUR: the V2G evening pays
