"""Behaviour of the simulated car and chargers, on simulated time only (nothing here reads a clock)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2gkit.controllers import CPState, Isolation, Notification
from v2gkit.sim.ev import SimulatedEV, ocv_from_soc
from v2gkit.sim.evse import Cable, SimulatedACEVSE, SimulatedDCEVSE

DT = 0.25


@dataclass
class Trace:
    """What a simulated CurrentDemand loop saw, one entry per step."""

    time: float = 0.0
    soc: list[float] = field(default_factory=list)
    voltage: list[float] = field(default_factory=list)
    current: list[float] = field(default_factory=list)
    target: list[tuple[float, float]] = field(default_factory=list)


def precharge(ev: SimulatedEV, evse: SimulatedDCEVSE, dt: float = DT, limit: float = 30.0) -> float:
    """PreCharge until the outlet is within 2 V of the battery; returns the simulated seconds it took."""
    t = 0.0
    while abs(evse.present()[0] - ev.precharge_target()[0]) > 2.0:
        evse.set_output(*ev.precharge_target())
        evse.step(dt)
        ev.step(dt, *evse.present())
        t += dt
        assert t < limit, "pre-charge never converged"
    return t


def current_demand(ev: SimulatedEV, evse: SimulatedDCEVSE, dt: float = DT,
                   limit: float = 4 * 3600.0) -> Trace:
    """What the CurrentDemand loop does, until the car wants to stop."""
    trace = Trace()
    while not ev.wants_stop():
        target = ev.target()
        evse.set_output(*target)
        evse.step(dt)
        ev.step(dt, *evse.present())
        trace.time += dt
        trace.soc.append(ev.soc())
        v, i = evse.present()
        trace.voltage.append(v)
        trace.current.append(i)
        trace.target.append(target)
        assert trace.time < limit, "charging never finished"
    return trace


# -- the car alone -----------------------------------------------------------------------------------


def test_ocv_is_monotonic_from_330_to_410() -> None:
    values = [ocv_from_soc(s / 2) for s in range(201)]
    assert values[0] == pytest.approx(330.0) and values[-1] == pytest.approx(410.0)
    assert all(b > a for a, b in zip(values, values[1:]))


def test_ev_limits_and_targets() -> None:
    ev = SimulatedEV()
    lim = ev.limits()
    assert (lim.max_voltage, lim.max_current, lim.max_power) == (450.0, 200.0, 90_000.0)
    assert lim.energy_request == pytest.approx(30_000.0)  # 30 -> 80 % of 60 kWh
    assert lim.energy_capacity == 60_000.0 and lim.bulk_soc == 80
    assert ev.evcc_id == bytes.fromhex("0A1B2C3D4E5F") and ev.ready() and ev.error() == "NO_ERROR"
    v, i = ev.precharge_target()
    assert v == pytest.approx(ev.open_circuit_voltage()) and i <= 2.0
    v, i = ev.target()
    assert i == 200.0 and v == pytest.approx(ev.open_circuit_voltage() + 200.0 * 0.05)
    assert v * i <= 90_000.0


def test_ev_power_limit_bounds_the_current() -> None:
    ev = SimulatedEV(max_power=50_000.0, soc=50.0)
    v, i = ev.target()
    assert i < 200.0 and v * i == pytest.approx(50_000.0)


def test_ev_step_energy_and_cap() -> None:
    ev = SimulatedEV(soc=99.9, target_soc=100.0)
    ev.step(3600.0, 400.0, 0.0)
    ev.step(3600.0, 0.0, 100.0)
    ev.step(3600.0, -400.0, -100.0)
    assert ev.charged_wh == 0.0 and ev.soc() == 99.9 and ev.remaining_time() == (None, None)
    ev.step(36.0, 400.0, 100.0)  # 400 Wh: 0.67 % of 60 kWh, more than the 0.1 % left
    assert ev.charged_wh == pytest.approx(400.0) and ev.soc() == 100.0
    assert ev.charging_complete() and ev.wants_stop() and ev.target()[1] == 0.0


def test_ev_remaining_time() -> None:
    ev = SimulatedEV(soc=50.0, target_soc=90.0, bulk_soc=80.0)
    ev.step(1.0, 400.0, 150.0)  # 60 kW
    full, bulk = ev.remaining_time()
    assert full is not None and bulk is not None
    assert full == pytest.approx((90.0 - ev.soc()) / 100 * 60_000 * 3600 / 60_000)
    assert bulk == pytest.approx((80.0 - ev.soc()) / 100 * 60_000 * 3600 / 60_000)
    assert not ev.bulk_complete()


def test_ev_stop_pause_error() -> None:
    ev = SimulatedEV(stop_at=10.0, pause_at=4.0, error="FAILED_RESSTemperatureInhibit")
    assert not ev.ready() and ev.error() == "FAILED_RESSTemperatureInhibit" and ev.target()[1] == 0.0
    ev.step(3.0, 0.0, 0.0)  # idle time counts for stop_at, not for pause_at
    ev.step(3.0, 400.0, 10.0)
    assert not ev.wants_pause() and not ev.wants_stop()
    ev.step(1.0, 400.0, 10.0)
    assert ev.wants_pause() and not ev.wants_stop()
    ev.step(3.0, 400.0, 10.0)
    assert ev.wants_stop()


def test_ev_cp_state() -> None:
    ev = SimulatedEV()
    assert ev.cp_state == CPState.B
    ev.step(1.5, 0.0, 0.0)
    ev.set_cp_state(CPState.C)
    assert ev.cp_state == CPState.C and ev.cable.cp_events == [(1.5, CPState.C)]


# -- DC ----------------------------------------------------------------------------------------------


def test_dc_charge_30_to_80() -> None:
    ev, evse = SimulatedEV(), SimulatedDCEVSE()
    precharge(ev, evse)
    start_wh = ev.charged_wh
    meter_start = evse.meter_wh()
    trace = current_demand(ev, evse)
    assert ev.soc() >= 80.0 and ev.charging_complete()
    assert all(b >= a for a, b in zip(trace.soc, trace.soc[1:]))
    assert trace.soc[-1] > trace.soc[0]
    ev_max, evse_max = ev.limits().max_power, evse.limits().max_power
    for v, i in zip(trace.voltage, trace.current):
        assert 0.0 <= v * i <= min(ev_max, evse_max) + 1e-6
        assert i <= min(ev.max_current, evse.max_current) + 1e-9
    charged = ev.charged_wh - start_wh
    metered = evse.meter_wh() - meter_start
    assert charged == pytest.approx(30_000.0, rel=0.02)
    assert metered == pytest.approx(charged, rel=0.01)
    # 30 kWh at no more than 90 kW is at least 20 minutes; at roughly 75 kW it should be under 40.
    assert 20 * 60 <= trace.time <= 40 * 60


def test_dc_charge_to_full_tapers_in_cv() -> None:
    ev, evse = SimulatedEV(soc=70.0, target_soc=100.0), SimulatedDCEVSE()
    precharge(ev, evse)
    trace = current_demand(ev, evse)
    assert ev.charging_complete() and ev.soc() > 99.0
    peak = trace.current.index(max(trace.current))
    assert max(trace.current) == pytest.approx(200.0)
    # Past the peak (CC), the current only falls: SOC derating above 80 %, then CV.
    tail = trace.current[peak:]
    assert all(b <= a + 1e-9 for a, b in zip(tail, tail[1:]))
    assert tail[-2] < 0.1 * 200.0  # the last step before the stop
    # CV: the car holds its cv_voltage and the outlet never goes above it.
    assert any(v == ev.cv_voltage and i > 0 for v, i in trace.target)
    assert max(trace.voltage) <= ev.cv_voltage + 1e-9
    # Slower than a constant 200 A would be, but still within an hour.
    assert 15 * 60 <= trace.time <= 60 * 60


def test_precharge_ramps_at_the_slew_rate() -> None:
    ev, evse = SimulatedEV(), SimulatedDCEVSE(voltage_slew=200.0)
    battery = ev.open_circuit_voltage()
    t = 0.0
    for _ in range(40):
        evse.set_output(*ev.precharge_target())
        evse.step(DT)
        t += DT
        v, i = evse.present()
        assert v <= 200.0 * t + 1e-9 and v <= battery + 1e-9 and i <= 2.0 + 1e-9
    assert evse.present()[0] == pytest.approx(battery)
    # fresh: converges within the time the slew allows, rounded up to a step
    ev2, evse2 = SimulatedEV(), SimulatedDCEVSE(voltage_slew=200.0)
    took = precharge(ev2, evse2)
    assert took <= math.ceil(battery / 200.0 / DT) * DT


def test_cable_check() -> None:
    evse = SimulatedDCEVSE(cable_check_time=2.0)
    assert evse.isolation() == Isolation.INVALID and not evse.cable_check_done()
    evse.start_cable_check(500.0)
    for _ in range(7):
        evse.step(DT)
        assert evse.isolation() == Isolation.INVALID and not evse.cable_check_done()
    assert evse.present()[0] > 0.0 and evse.present()[1] == 0.0  # test voltage applied, no current
    evse.step(DT)
    assert evse.cable_check_done() and evse.isolation() == Isolation.VALID
    for _ in range(20):
        evse.step(DT)
    assert evse.present() == (0.0, 0.0)  # discharged after the test


def test_cable_check_fault() -> None:
    evse = SimulatedDCEVSE(cable_check_time=1.0, isolation_result=Isolation.FAULT)
    evse.start_cable_check(400.0)
    for _ in range(4):
        evse.step(DT)
    assert evse.cable_check_done() and evse.isolation() == Isolation.FAULT


@pytest.mark.parametrize("evse_cls", [SimulatedDCEVSE, SimulatedACEVSE])
def test_authorization_delay(evse_cls: type[SimulatedDCEVSE | SimulatedACEVSE]) -> None:
    evse = evse_cls(auth_delay=1.0)
    evse.step(5.0)  # time before the first question does not count
    assert evse.authorized() is None
    evse.step(0.5)
    assert evse.authorized() is None
    evse.step(0.5)
    assert evse.authorized() is True
    refused = evse_cls(auth_result=False)
    assert refused.authorized() is False


@pytest.mark.parametrize("evse_cls", [SimulatedDCEVSE, SimulatedACEVSE])
def test_notifications_and_emergency(evse_cls: type[SimulatedDCEVSE | SimulatedACEVSE]) -> None:
    evse = evse_cls()
    assert evse.notification() == Notification.NONE and not evse.emergency_shutdown()
    evse.request_stop()
    assert evse.notification() == Notification.STOP_CHARGING
    evse.request_renegotiation()
    assert evse.notification() == Notification.RENEGOTIATION
    evse.clear_notification()
    assert evse.notification() == Notification.NONE
    evse.set_output(400.0 if evse_cls is SimulatedDCEVSE else 230.0, 16.0)
    for _ in range(20):
        evse.step(DT)
    assert evse.present()[1] > 0.0
    evse.trigger_emergency()
    assert evse.emergency_shutdown() and evse.present()[1] == 0.0  # at once, no ramp
    evse.set_output(400.0, 16.0)  # ignored while the emergency lasts
    evse.step(DT)
    assert evse.present()[1] == 0.0
    evse.clear_emergency()
    assert not evse.emergency_shutdown()


def test_dc_stop_output_cuts_the_current_and_ramps_the_voltage_down() -> None:
    """The car that ended power delivery takes no current: a current ramp here would be metered by the
    charger and never reach the battery. The voltage decays at the slew rate (WeldingDetection)."""
    evse = SimulatedDCEVSE()
    evse.set_output(400.0, 100.0)
    for _ in range(20):
        evse.step(DT)
    assert evse.present() == pytest.approx((400.0, 100.0))
    evse.stop_output()
    assert evse.present() == (400.0, 0.0)
    metered = evse.meter_wh()
    evse.step(DT)
    v, i = evse.present()
    assert v == pytest.approx(350.0) and i == 0.0 and evse.meter_wh() == metered
    for _ in range(20):
        evse.step(DT)
    assert evse.present() == (0.0, 0.0)


def test_dc_meter_counts_what_was_reported_when_the_step_began() -> None:
    """A step meters the output the last response reported (the car holds that value until the next
    response), so charger and car sum the same samples."""
    evse = SimulatedDCEVSE(voltage_slew=1e6, current_slew=1e6)
    evse.set_output(400.0, 100.0)
    evse.step(1.0)  # the output was off when the step began
    assert evse.meter_wh() == 0.0 and evse.present() == (400.0, 100.0)
    evse.set_output(400.0, 50.0)
    evse.step(36.0)
    assert evse.meter_wh() == pytest.approx(400.0 * 100.0 * 36.0 / 3600.0)


def test_dc_limits_achieved() -> None:
    evse = SimulatedDCEVSE(max_power=50_000.0)
    evse.set_output(600.0, 300.0)
    for _ in range(40):
        evse.step(DT)
    v, i = evse.present()
    assert v == 500.0 and i == pytest.approx(100.0)  # power limited: 50 kW / 500 V
    assert evse.limits_achieved() == (True, True, True)
    evse.set_output(400.0, 50.0)
    for _ in range(40):
        evse.step(DT)
    assert evse.limits_achieved() == (False, False, False)
    lim = evse.limits()
    assert (lim.max_voltage, lim.max_current, lim.max_power) == (500.0, 200.0, 50_000.0)
    assert lim.min_voltage == 150.0


def test_dc_cp_state_through_cable() -> None:
    cable = Cable()
    ev, evse = SimulatedEV(cable=cable), SimulatedDCEVSE(cable=cable)
    ev.set_cp_state(CPState.C)
    assert evse.cp_state() == CPState.C


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.floats(-100.0, 2_000.0, allow_nan=False), st.floats(-100.0, 1_000.0, allow_nan=False),
    st.floats(0.0, 5.0, allow_nan=False), st.sampled_from(["set", "set", "stop", "check", "emergency"])),
    min_size=1, max_size=40))
def test_dc_output_never_leaves_limits(commands: list[tuple[float, float, float, str]]) -> None:
    evse = SimulatedDCEVSE(max_voltage=500.0, max_current=200.0, max_power=60_000.0)
    for voltage, current, dt, action in commands:
        if action == "set":
            evse.set_output(voltage, current)
        elif action == "stop":
            evse.stop_output()
        elif action == "check":
            evse.start_cable_check(voltage)
        elif current > 500.0:
            evse.trigger_emergency()
        else:
            evse.clear_emergency()
        evse.step(dt)
        v, i = evse.present()
        assert 0.0 <= v <= 500.0 and 0.0 <= i <= 200.0
        assert v * i <= 60_000.0 * (1 + 1e-12)
        assert evse.meter_wh() >= 0.0


# -- AC ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ev_max", "evse_max"), [(16.0, 32.0), (32.0, 16.0), (32.0, 32.0)])
def test_ac_ev_draws_the_lower_maximum(ev_max: float, evse_max: float) -> None:
    cable = Cable()
    ev = SimulatedEV(ac=True, ac_max_current=ev_max, cable=cable)
    evse = SimulatedACEVSE(max_current=evse_max, cable=cable)
    assert evse.present() == (0.0, 0.0)
    steps = 3600
    for _ in range(steps):
        evse.set_output(*ev.target())
        evse.step(1.0)
        ev.step(1.0, *evse.present())
    expected_current = min(ev_max, evse_max)
    assert evse.present() == (230.0, expected_current)
    expected_wh = 230.0 * expected_current * 3 * steps / 3600.0
    assert evse.meter_wh() == pytest.approx(expected_wh)
    assert ev.charged_wh == pytest.approx(evse.meter_wh())
    assert ev.soc() == pytest.approx(30.0 + expected_wh / 60_000.0 * 100.0)


def test_ac_single_phase_car_on_three_phase_charger() -> None:
    cable = Cable()
    ev = SimulatedEV(ac=True, ac_phases=1, cable=cable)
    evse = SimulatedACEVSE(cable=cable)
    evse.set_output(*ev.target())
    evse.step(3600.0)
    ev.step(3600.0, *evse.present())
    assert evse.meter_wh() == pytest.approx(230.0 * 32.0) and ev.charged_wh == pytest.approx(evse.meter_wh())


def test_ac_limits_and_no_cable_check() -> None:
    ev, evse = SimulatedEV(ac=True), SimulatedACEVSE()
    lim = evse.limits()
    assert (lim.nominal_voltage, lim.phases, lim.max_current) == (230.0, 3, 32.0)
    assert lim.max_power == 230.0 * 32 * 3
    evse.start_cable_check(500.0)
    assert evse.cable_check_done() and evse.isolation() == Isolation.NO_IMD
    ev_lim = ev.limits()
    assert (ev_lim.max_current, ev_lim.min_current, ev_lim.max_power) == (32.0, 6.0, 230.0 * 32 * 3)


def test_ac_derates_but_not_below_min_current() -> None:
    ev = SimulatedEV(ac=True, soc=99.0, target_soc=100.0)
    assert ev.target() == (230.0, 6.0)
    ev = SimulatedEV(ac=True, soc=90.0, target_soc=100.0)
    assert 6.0 < ev.target()[1] < 32.0


def test_ac_cp_events_through_shared_cable() -> None:
    cable = Cable()
    ev, evse = SimulatedEV(ac=True, cable=cable), SimulatedACEVSE(cable=cable)
    assert evse.cp_state() == CPState.B
    for _ in range(8):
        ev.step(DT, 0.0, 0.0)
    ev.set_cp_state(CPState.C)
    assert evse.cp_state() == CPState.C
    ev.set_cp_state(CPState.C)  # no change, no event
    for _ in range(20):
        evse.set_output(*ev.target())
        evse.step(DT)
        ev.step(DT, *evse.present())
    ev.set_cp_state(CPState.B)
    evse.stop_output()
    assert evse.cp_state() == CPState.B
    assert cable.cp_events == [(2.0, CPState.C), (7.0, CPState.B)]


# -- speed and energy -------------------------------------------------------------------------------


def test_fast_ev_shrinks_the_battery_not_the_physics() -> None:
    """``--speed``: the SOC moves N times faster for the same energy; volts, amperes and watts are those of
    the full-size car."""
    from v2gkit.sim.scaled import MAX_SPEED, fast_ev

    ev, full = fast_ev(60.0, soc=30.0), SimulatedEV(soc=30.0)
    assert ev.capacity_wh == pytest.approx(1000.0) and ev.target() == full.target()
    ev.step(10.0, 400.0, 100.0)
    full.step(10.0, 400.0, 100.0)
    assert ev.charged_wh == full.charged_wh == pytest.approx(400.0 * 100.0 * 10.0 / 3600.0)
    assert ev.soc() - 30.0 == pytest.approx(60.0 * (full.soc() - 30.0))
    assert fast_ev(2.0, capacity_wh=20_000.0).capacity_wh == 10_000.0
    for bad in (0.0, -1.0, MAX_SPEED * 2):
        with pytest.raises(ValueError, match="speed"):
            fast_ev(bad)


@pytest.mark.parametrize("ac", [False, True])
def test_estimate_charging_time_matches_a_charge(ac: bool) -> None:
    """The car's own estimate of its charge (CC, derating, taper) is what charging it from a charger that
    gives all it asks takes, within a few per cent."""
    ev = SimulatedEV(soc=30.0, target_soc=80.0, ac=ac)
    estimate = ev.estimate_charging_time()
    assert ev.soc() == 30.0 and ev.charged_wh == 0.0 and ev.time == 0.0  # the car itself is untouched
    t = 0.0
    while not ev.charging_complete():
        ev.step(1.0, *ev.target())
        t += 1.0
    assert estimate == pytest.approx(t, rel=0.03)
    assert (20 * 60 if not ac else 75 * 60) < estimate < (30 * 60 if not ac else 90 * 60)
    assert ev.estimate_charging_time() == 0.0


@pytest.mark.parametrize(("cls", "settings", "message"), [
    (SimulatedEV, {"capacity_wh": 0.0}, "capacity_wh must be > 0"),
    (SimulatedEV, {"target_soc": 120.0}, "target_soc must be 0..100"),
    (SimulatedEV, {"soc": -1.0}, "soc must be 0..100"),
    (SimulatedEV, {"max_power": math.inf}, "max_power must be > 0"),
    (SimulatedEV, {"ac_phases": 4}, "ac_phases must be 1, 2 or 3"),
    (SimulatedEV, {"evcc_id": b"\x01"}, "evcc_id must be 6 bytes"),
    (SimulatedDCEVSE, {"max_current": -5.0}, "max_current must be > 0"),
    (SimulatedDCEVSE, {"cable_check_time": -1.0}, "cable_check_time must be >= 0"),
    (SimulatedDCEVSE, {"isolation_result": "Broken"}, "Broken"),
    (SimulatedACEVSE, {"phases": 0}, "phases must be 1, 2 or 3"),
    (SimulatedACEVSE, {"auth_delay": math.nan}, "auth_delay must be >= 0"),
])
def test_impossible_settings_are_refused(cls: type, settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls(**settings)


@pytest.mark.parametrize(("protocol", "dc"), [("iso2", True), ("din", True), ("iso2", False)])
@pytest.mark.parametrize("speed", [1.0, 60.0, 500.0])
def test_meter_and_car_agree_at_any_speed(protocol: str, dc: bool, speed: float) -> None:
    """A whole session on the simulated clock: the charger's meter and the car's energy are the same sum."""
    from v2gkit.session.din2 import EVCCConfig, EVCCSession, SECCConfig, SECCSession
    from v2gkit.session.simulate import run_pair
    from v2gkit.sim.scaled import fast_ev

    ev = fast_ev(speed, soc=70.0, target_soc=80.0, ac=not dc)
    evse = SimulatedDCEVSE() if dc else SimulatedACEVSE()
    ex = run_pair(EVCCSession(protocol, ev, EVCCConfig(dc=dc)), SECCSession(protocol, evse, SECCConfig(dc=dc)),
                  until=8 * 3600.0)
    assert ex.closed["EV"][1].ok and ev.soc() >= 80.0
    wanted = 60_000.0 / speed * 0.1  # 10 % of the (shrunk) battery; the last step may overshoot a little
    assert wanted * 0.999 <= ev.charged_wh <= wanted * 1.1
    assert abs(evse.meter_wh() - ev.charged_wh) < 0.1
