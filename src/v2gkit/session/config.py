"""Checks shared by the session configurations of every protocol family: a bad value is a ConfigError
naming the field, raised when the configuration is made, never a silent failure mid-session."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ConfigError", "check_seconds", "check_session_id", "is_int", "is_number"]


class ConfigError(ValueError):
    """A configuration value the sessions cannot work with; ``field`` names it (for the CLI's usage error)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_seconds(cfg: Any, *names: str, zero: bool = False) -> None:
    """Each of ``names`` is a finite number of seconds, > 0 (``zero``: >= 0)."""
    for name in names:
        v = getattr(cfg, name)
        if not is_number(v) or v < 0 or (v == 0 and not zero):
            raise ConfigError(name, f"must be a number of seconds {'>=' if zero else '>'} 0, not {v!r}")


def check_session_id(name: str, v: Any) -> None:
    """A SessionID: hexBinary of 1 to 8 octets (sessionIDType in both schemas, maxLength 8)."""
    if v is not None and (not isinstance(v, bytes) or not 1 <= len(v) <= 8):
        got = f"{len(v)} octets" if isinstance(v, bytes) else repr(v)
        raise ConfigError(name, f"a SessionID is 1 to 8 octets (2 to 16 hex digits), not {got}")
