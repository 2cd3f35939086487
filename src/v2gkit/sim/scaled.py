"""Fast-forward the physics of a simulator without touching protocol timing: ``step(dt)`` sees ``dt *
speed``, so a demo charges in seconds while every V2G timeout keeps its real value."""

from __future__ import annotations

from typing import Any


class Accelerated:
    """Wraps an EVController or EVSEController; everything but ``step`` passes straight through."""

    def __init__(self, inner: Any, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self._inner = inner
        self._speed = speed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def step(self, dt: float, *args: Any) -> None:
        self._inner.step(dt * self._speed, *args)
