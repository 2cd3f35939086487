"""Paused sessions an SECC lets a car rejoin with its old SessionID, for every protocol family."""

from __future__ import annotations

import collections

from .. import timing

__all__ = ["PausedSessions"]


class PausedSessions:
    """SessionIDs of paused sessions an SECC will let an EV rejoin (OK_OldSessionJoined), shared by the
    sessions of one SECC. Bounded twice: an entry expires ``lifetime`` seconds after the pause (see
    timing.PAUSED_SESSION_LIFETIME for why 24 h), and beyond ``limit`` entries the oldest is dropped (a
    charger needs one per connector; the default leaves room for test systems with many cars). Times are
    the machines' ``now``, so simulated clocks work."""

    def __init__(self, limit: int = 64, lifetime: float = timing.PAUSED_SESSION_LIFETIME) -> None:
        if limit < 1 or lifetime <= 0:
            raise ValueError(f"limit must be >= 1 and lifetime > 0, got {limit}, {lifetime}")
        self.limit, self.lifetime = limit, lifetime
        self._entries: collections.OrderedDict[bytes, tuple[float, dict]] = collections.OrderedDict()
        #: entries dropped because they expired / because the registry was full
        self.expired = 0
        self.evicted = 0

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def pause(self, now: float, session_id: bytes, info: dict) -> None:
        """Remember a session paused at ``now`` (its SessionStopReq with ChargingSession=Pause)."""
        self.expire(now)
        self._entries.pop(session_id, None)
        self._entries[session_id] = (now, info)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
            self.evicted += 1

    def resume(self, now: float, session_id: bytes) -> dict | None:
        """The paused session's info if it may be rejoined now (it is then no longer paused), else None."""
        self.expire(now)
        entry = self._entries.pop(session_id, None)
        return None if entry is None else entry[1]

    def expire(self, now: float) -> None:
        """Drop what paused more than ``lifetime`` seconds before ``now`` (oldest first, so this stops at
        the first entry still valid)."""
        while self._entries:
            since, _ = next(iter(self._entries.values()))
            if now - since <= self.lifetime:
                break
            self._entries.popitem(last=False)
            self.expired += 1
