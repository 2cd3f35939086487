"""What one session came to, for logs, the demo and the benchmarks (every protocol family)."""

from __future__ import annotations

from dataclasses import dataclass

from .events import Reason

__all__ = ["SessionResult"]


@dataclass
class SessionResult:
    ok: bool = False
    #: why it ended, and in words (empty while it runs)
    reason: Reason | None = None
    detail: str = ""
    paused: bool = False
    session_id: bytes = b""
    energy_wh: float = 0.0
    messages: int = 0
