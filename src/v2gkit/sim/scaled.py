"""Fast-forward a charging session without touching protocol timing.

Two ways, for two situations:

- ``fast_ev(speed)``: a car whose battery holds ``1/speed`` of its capacity, so its SOC moves ``speed``
  times faster while volts, amperes, watts, seconds and watt-hours all stay real. The car's energy then
  agrees with any charger's meter (a simulated one in another process, or a real one) at every speed.
  The CLI (``evcc --speed``, ``demo --speed``) uses this.
- ``Accelerated(sim, speed)``: ``step(dt)`` sees ``dt * speed``, i.e. simulated time runs faster. Only
  consistent when every simulator of the session is wrapped with the same speed in one process (tests,
  benchmarks); a car accelerated against a charger that is not takes ``speed`` times the energy the
  charger meters.

Either way every V2G timeout keeps its real value.
"""

from __future__ import annotations

from typing import Any

from v2gkit.sim.ev import DEFAULT_CAPACITY_WH, SimulatedEV

#: ``--speed`` of the loopback demo and ``evcc --loopback`` unless given: 30 -> 80 % of the default car in
#: about 25 s. AC is four times slower per second (3 x 32 A x 230 V = 22 kW against ~90 kW DC), so it
#: runs four times faster. A car on a real interface charges in real time (speed 1).
LOOPBACK_SPEED = {"DC": 60.0, "AC": 240.0}

#: the fastest ``--speed`` the CLI accepts: a 60 kWh car becomes a 17 Wh one, the SOC moves ~15 % per
#: CurrentDemand at 90 kW; beyond it a session would end on its first CurrentDemand
MAX_SPEED = 3600.0


def fast_ev(speed: float, cls: type[SimulatedEV] = SimulatedEV, **settings: Any) -> SimulatedEV:
    """A ``cls(**settings)`` (SimulatedEV or a subclass such as the bidirectional SimulatedBPTEV) whose battery
    holds ``capacity_wh / speed``."""
    if not 0.0 < speed <= MAX_SPEED:
        raise ValueError(f"speed must be > 0 and <= {MAX_SPEED:g}, not {speed:g}")
    capacity = settings.pop("capacity_wh", DEFAULT_CAPACITY_WH)
    if not isinstance(capacity, (int, float)) or isinstance(capacity, bool):
        raise TypeError(f"capacity_wh must be a number, not {type(capacity).__name__}")
    if not capacity > 0:
        raise ValueError(f"capacity_wh must be > 0, not {capacity:g}")
    return cls(capacity_wh=capacity / speed, **settings)


class Accelerated:
    """Wraps an EVController or EVSEController; everything but ``step`` passes straight through."""

    def __init__(self, inner: Any, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self._inner = inner
        self._speed = speed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        """isinstance() sees the wrapped controller's kind (an EV20Controller stays one when accelerated)."""
        return self._inner.__class__

    def step(self, dt: float, *args: Any) -> None:
        self._inner.step(dt * self._speed, *args)
