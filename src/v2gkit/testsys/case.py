"""What a conformance case is and what running one gives: the model the engine, the catalog, the reports
and the command line share.

Verdicts are those of ISO/IEC 9646 and TTCN-3, which the ISO 15118-4/-5 test suites use: ``pass``, ``fail``
(the SUT broke a requirement), ``inconc`` (the SUT never reached the state the case tests, so it says nothing
about the requirement) and ``error`` (the test system itself failed). A verdict only gets worse during a run
(pass < inconc < fail < error), as in TTCN-3's ``setverdict``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "CaseResult", "Step", "Verdict", "WireRecord", "tester_role"]


class Verdict(enum.Enum):
    PASS = "pass"
    INCONC = "inconc"
    FAIL = "fail"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def worst(self, other: Verdict) -> Verdict:
        """TTCN-3 ``setverdict``: the worse of the two."""
        return other if other.rank > self.rank else self


_RANK = {Verdict.PASS: 0, Verdict.INCONC: 1, Verdict.FAIL: 2, Verdict.ERROR: 3}

#: ISO 15118-4/-5 case IDs: TC_<SUT role>_<AC|DC|CMN|WPT|ACDP>_VTB_<message or topic>_<number>
CASE_ID = re.compile(r"^TC_(SECC|EVCC)_([A-Z0-9]+)_([A-Z]+)_([A-Za-z0-9]+)_(\d{3})$")


def tester_role(case_id: str) -> str:
    """The role the test system plays: ``TC_SECC_*`` cases test a charger, so the tester is the EVCC."""
    m = CASE_ID.match(case_id)
    if m is None:
        raise ValueError(f"not a conformance case ID: {case_id!r} (expected e.g. TC_SECC_CMN_VTB_SessionSetup_001)")
    return "evcc" if m.group(1) == "SECC" else "secc"


@dataclass(frozen=True)
class Case:
    """One conformance case. ``run`` gets the tester (the Python API, :class:`v2gkit.testsys.script.Tester`)
    and sets the verdict through it; ``source`` is the file it came from (a Python or a Lua file)."""

    case_id: str
    title: str
    purpose: str
    #: requirement IDs the case checks, e.g. ("V2G2-538", "V2G-DC-497")
    requirements: tuple[str, ...]
    #: protocols the case applies to ("din", "iso2", "iso20"); the first the SUT supports is used
    protocols: tuple[str, ...]
    #: "AC", "DC" or "CMN" (both), from the ID
    kind: str
    preconditions: str = ""
    steps: tuple[str, ...] = ()
    run: Callable[[Any], None] | None = None
    source: str = ""
    #: the purpose comes from ../shared/conformance (True) or was written for v2gkit (False)
    from_standard: bool = True
    #: included in the short CI subset against slow SUTs
    quick: bool = False
    #: what the SUT must offer for the case to apply (ISO 15118-4 PICS, in short): "tls" (the SECC offers
    #: TLS), "live" (only a real link shows it, e.g. the SECC's communication set-up timeout), "pause"
    needs: tuple[str, ...] = ()
    #: a TLS set-up the tester uses for this case instead of the run's own (a TLS fault profile of
    #: testsys/tlsfaults.py, e.g. "unknown_root"); implies needs "tls" and "live"
    tls: str = ""

    @property
    def role(self) -> str:
        return tester_role(self.case_id)

    @property
    def sut_role(self) -> str:
        return "secc" if self.role == "evcc" else "evcc"


@dataclass(frozen=True)
class WireRecord:
    """One frame on the wire or one connection event, ``t`` seconds after the case started."""

    t: float
    direction: str  # "tx" (the tester sent it) | "rx" | "" for events
    channel: str  # "sdp" | "tcp" | "tls" | "event"
    payload_type: int | None = None
    frame: bytes = b""  # the whole V2GTP frame (header + payload) as on the wire
    name: str = ""  # "SessionSetupReq", "SDPReq", "connect", "close", "reset", "timeout", ...
    decoded: dict[str, Any] | None = None  # the message as JSON (v2gkit.exi.convert), when it decoded
    note: str = ""  # why it did not decode, what a fault did, ...


@dataclass(frozen=True)
class Step:
    """A line of the case's own log: a check, a verdict change, a note."""

    t: float
    text: str
    verdict: Verdict | None = None


@dataclass
class CaseResult:
    case_id: str
    title: str = ""
    purpose: str = ""
    requirements: tuple[str, ...] = ()
    sut: str = ""  # "self", "v2gkit secc on veth", "josev evcc on veth", "[::1]:15118", ...
    protocol: str = ""  # what was negotiated ("" if nothing was)
    verdict: Verdict = Verdict.PASS
    reason: str = ""
    started: float = 0.0  # seconds since 1970
    seconds: float = 0.0  # wall time of the run
    sim_seconds: float | None = None  # simulated time, for in-process runs
    steps: list[Step] = field(default_factory=list)
    wire: list[WireRecord] = field(default_factory=list)
    local_endpoint: str = ""
    remote_endpoint: str = ""
