"""Connection limits of a V2G server: how many connections in all and per peer address, and whom to drop
when a new one arrives at a full server. Sans-IO: the table holds keys and addresses, no sockets.

A charger must keep serving the car even while idle or slow peers (or a flood of them) hold connections.
The rule: a new connection that would exceed a limit evicts the connection whose session has not started
and that has been stuck longest (of the same peer when the per-peer limit is hit): the time since its
last progress counts, accept or supportedAppProtocol handshake. Connections with a running session (its
first request after the handshake has arrived) are never evicted for a newcomer; when nothing can be
evicted, the newcomer is refused (closed at once). A car sends its handshake the moment it has connected
and its SessionSetupReq the moment it has the answer, so it is always among the freshest, while idle,
slow and silent peers age at the front of the queue.
"""

from __future__ import annotations

import collections
import resource
from collections.abc import Hashable
from dataclasses import dataclass, field

from .. import timing

__all__ = ["Admission", "ConnectionLimits", "ConnectionTable", "fd_budget"]

#: file descriptors kept free for what is not a V2G connection: listening and SDP sockets, log and
#: trace files, the PKI files read during a TLS handshake, the event loop's own
RESERVED_FDS = 64
#: the default cap on concurrent connections, when the fd limit allows it (a charger serves one car per
#: link; test systems running hundreds of simulated cars raise it)
DEFAULT_MAX_CONNECTIONS = 256
#: the default cap per peer address: a car needs one connection, maybe a second while the first closes
DEFAULT_MAX_PER_PEER = 32


def fd_budget() -> int:
    """How many connections the soft RLIMIT_NOFILE leaves room for."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return max(1, soft - RESERVED_FDS)


@dataclass(frozen=True)
class ConnectionLimits:
    """``total``: concurrent connections (default: 256, fewer when RLIMIT_NOFILE is lower);
    ``per_peer``: concurrent connections from one address; ``start_timeout``: seconds from accept until
    the session must have started (TLS, supportedAppProtocol handshake and the first request after it)."""

    total: int = field(default_factory=lambda: min(DEFAULT_MAX_CONNECTIONS, fd_budget()))
    per_peer: int = DEFAULT_MAX_PER_PEER
    start_timeout: float = timing.SECC_SESSION_START_TIMEOUT

    def __post_init__(self) -> None:
        if self.total < 1 or self.per_peer < 1:
            raise ValueError(f"connection limits must be at least 1 (total={self.total}, per_peer={self.per_peer})")
        if self.start_timeout <= 0:
            raise ValueError(f"start_timeout must be > 0, got {self.start_timeout}")


@dataclass(frozen=True)
class Admission:
    """The table's answer for a new connection: ``accepted``, the connections to close for it
    (``evict``), and why (for the log)."""

    accepted: bool
    evict: tuple[Hashable, ...] = ()
    reason: str = ""


class ConnectionTable:
    """Which keys hold a connection slot, from which peer, and whether their session has started.
    Connections whose session has not started are kept in the order of their last progress (accept,
    then the handshake): the victim is the one that has been stuck longest."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._pending: collections.OrderedDict[Hashable, str] = collections.OrderedDict()  # stuck longest first
        self._established: dict[Hashable, str] = {}
        self._per_peer: collections.Counter[str] = collections.Counter()

    def __len__(self) -> int:
        return len(self._pending) + len(self._established)

    @property
    def pending(self) -> int:
        """Connections whose session has not started."""
        return len(self._pending)

    def peer_count(self, peer: str) -> int:
        return self._per_peer[peer]

    def _victim(self, peer: str | None, skip: Hashable | None = None) -> Hashable | None:
        for key, p in self._pending.items():
            if key != skip and (peer is None or p == peer):
                return key
        return None

    def admit(self, key: Hashable, peer: str) -> Admission:
        """A new connection from ``peer``: take it (after evicting whom ``evict`` names) or refuse it."""
        evict: list[Hashable] = []
        reasons = []
        if self._per_peer[peer] >= self.limits.per_peer:
            victim = self._victim(peer)
            if victim is None:
                return Admission(False, (), f"{self._per_peer[peer]} connections from {peer} "
                                            f"(limit {self.limits.per_peer}), all with a running session")
            evict.append(victim)
            reasons.append(f"per-peer limit {self.limits.per_peer} for {peer}")
        if len(self) - len(evict) >= self.limits.total:
            victim = self._victim(None, skip=evict[0] if evict else None)
            if victim is None:
                return Admission(False, (), f"{len(self)} connections (limit {self.limits.total}), "
                                            "all with a running session")
            evict.append(victim)
            reasons.append(f"limit of {self.limits.total} connections")
        for victim in evict:
            self.release(victim)
        self._pending[key] = peer
        self._per_peer[peer] += 1
        return Admission(True, tuple(evict), " and ".join(reasons))

    def oldest_pending(self) -> Hashable | None:
        """The first connection to give up when file descriptors run out."""
        return self._victim(None)

    def handshake_done(self, key: Hashable) -> None:
        """``key`` completed the supportedAppProtocol handshake: it made progress, so it goes to the back
        of the eviction queue (its session starts with the next request)."""
        if key in self._pending:
            self._pending.move_to_end(key)

    def established(self, key: Hashable) -> None:
        """``key``'s session started: it is no longer evicted for newcomers."""
        peer = self._pending.pop(key, None)
        if peer is not None:
            self._established[key] = peer

    def is_pending(self, key: Hashable) -> bool:
        return key in self._pending

    def release(self, key: Hashable) -> None:
        """``key`` is gone (closed or evicted); unknown keys are ignored."""
        peer = self._pending.pop(key, None)
        if peer is None:
            peer = self._established.pop(key, None)
        if peer is not None:
            self._per_peer[peer] -= 1
            if not self._per_peer[peer]:
                del self._per_peer[peer]
