"""Rate-limited reporting of peer faults: counters for everything, log lines only for a few.

A charger meets broken and hostile peers for months. Logging every bad V2GTP header, junk SDP datagram
or failed handshake as its own line lets one peer flood the log (10,000 junk connections once wrote
~25,000 WARNING lines). :class:`FaultLog` counts every fault by kind, lets through at most ``rate`` lines
per second (with a burst of ``burst``; the first fault of each kind in a summary window always gets a
line so a flood of one kind never hides another), and writes one summary line per ``summary_interval``
with what was counted and how many lines it held back. Every server in :mod:`v2gkit.net` reports here.

Time comes from ``clock`` (or the ``now`` a caller passes), so tests drive it and drive the summaries
with :meth:`FaultLog.tick` (``SECCLink`` runs :meth:`FaultLog.run` as a task).

Kinds used by v2gkit: ``v2gtp_header`` (bad V2GTP headers), ``sdp_junk`` (SDP datagrams dropped),
``handshake`` (connections closed before their session started: no or a failed supportedAppProtocol
handshake, no first request in time), ``tls`` (failed TLS
handshakes), ``limit`` (connections refused or evicted by the connection limits), ``accept`` (accept()
failures such as running out of file descriptors), ``session`` (sessions that ended with an error).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

__all__ = ["FaultLog", "default_fault_log"]


class FaultLog:
    """Counters of peer faults by kind, a token bucket for the log lines, and a periodic summary.

    ``rate``/``burst``: lines per second in the long run / at once. ``summary_interval``: seconds between
    summary lines (a window without faults writes none), at ``summary_level``. ``label`` names what is
    counted in them."""

    def __init__(self, logger: logging.Logger | str = "v2gkit.faults", *, rate: float = 2.0, burst: int = 10,
                 summary_interval: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 label: str = "peer faults", summary_level: int = logging.WARNING) -> None:
        self.log = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.label, self.summary_level = label, summary_level
        self.rate, self.burst, self.summary_interval, self.clock = rate, burst, summary_interval, clock
        #: every fault since start, by kind
        self.counts: collections.Counter[str] = collections.Counter()
        #: lines held back since start
        self.suppressed = 0
        self._window: collections.Counter[str] = collections.Counter()
        self._window_suppressed = 0
        self._tokens = float(burst)
        self._last = clock()
        self._window_start = self._last

    def admit(self, kind: str, now: float | None = None) -> bool:
        """Count one fault of ``kind``; True when the caller may write a line about it."""
        now = self.clock() if now is None else now
        self.counts[kind] += 1
        first = kind not in self._window
        self._window[kind] += 1
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        if first:  # one line per kind and window, even while the bucket is empty
            return True
        self.suppressed += 1
        self._window_suppressed += 1
        return False

    def report(self, kind: str, msg: str, *args: object, level: int = logging.WARNING,
               now: float | None = None) -> bool:
        """Count a fault and log ``msg % args`` if the budget allows; returns whether it was logged."""
        if self.admit(kind, now):
            self.log.log(level, msg, *args)
            return True
        return False

    def summary(self, now: float | None = None) -> str | None:
        """The summary of the window that ends now (None if it saw no fault); starts a new window."""
        now = self.clock() if now is None else now
        if not self._window:
            self._window_start = now
            return None
        parts = ", ".join(f"{k}={n}" for k, n in self._window.most_common())
        text = f"{self.label} in the last {now - self._window_start:.0f} s: {parts}"
        if self._window_suppressed:
            text += f" ({self._window_suppressed} log lines held back)"
        text += "; since start: " + ", ".join(f"{k}={n}" for k, n in self.counts.most_common())
        self._window.clear()
        self._window_suppressed = 0
        self._window_start = now
        return text

    def tick(self, now: float | None = None) -> None:
        """Write the summary line if the window is over and saw faults."""
        now = self.clock() if now is None else now
        if now - self._window_start >= self.summary_interval:
            text = self.summary(now)
            if text is not None:
                self.log.log(self.summary_level, "%s", text)

    async def run(self) -> None:
        """Call :meth:`tick` every ``summary_interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.summary_interval)
            self.tick()


#: used by servers and connections that were not handed a FaultLog of their own
default_fault_log = FaultLog()
