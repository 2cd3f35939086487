"""The per-model rows of the replay tables (real cars by model, real chargers by maker)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .captures import RecordedSession, protocol_label

__all__ = ["Row"]


@dataclass
class Row:
    """One line of a replay table: what was replayed and how many sessions ended well."""

    model: str
    protocols: set[str] = field(default_factory=set)
    sessions: int = 0
    requests: int = 0
    ok: int = 0
    failed: list[str] = field(default_factory=list)

    def count(self, session: RecordedSession, sent: int) -> None:
        self.protocols.add(protocol_label(session))
        self.sessions += 1
        self.requests += sent
