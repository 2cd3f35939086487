"""Systems under test (SUTs): start an SECC or an EVCC, tell the tester where it is, stop it.

Four are known: ``v2gkit-secc`` and ``v2gkit-evcc`` (this package's ``v2gkit secc`` / ``v2gkit evcc``) and
``josev-secc`` / ``josev-evcc`` (Josev, PyPI ``iso15118``, from the interop harness in a source checkout:
``tests/interop/josev_sut.py``; more with ``V2GKIT_SUT_PLUGINS``). Each runs as a real process with its
log captured to a file, on loopback (v2gkit only: Josev needs an interface with an IPv6 link-local address)
or on a veth pair.

How the tester and the SUT share the veth pair
----------------------------------------------
The process that opens the SUT (the catalog runner, ``v2gkit test run``, this module's command) runs in a
private network namespace made by ``unshare -rn``, so no interface ever appears on the host: a command calls
:func:`rerun_in_private_netns` first (it prepares the launchers, e.g. Josev's venv while the network is
there, and re-executes the command inside; tests run a subprocess the same way), and ``SUT.start()``
refuses a namespace that has real interfaces. ``SUT.start()`` builds a :class:`~v2gkit.net.netns.VethPair`
there:

* the **tester's end** stays in the current namespace, so the in-process tester (asyncio sockets) uses it
  directly, without ``nsenter``. It is named and addressed for the role the tester plays: ``v2g-ev``
  (fe80::2) when the tester is the EVCC (the SUT is a charger), ``v2g-secc`` (fe80::1) when the tester is
  the SECC (the SUT is a car);
* the **SUT's end** lives in a second namespace held by a sleeping child (``unshare -n sleep infinity``),
  named for the SUT's role (``v2g-secc`` / ``v2g-ev``); the SUT process is started in it through
  ``nsenter -t <holder> -n``. It sees only that interface and its own ``lo``.

SDP runs there exactly as on a PLC link: multicast to ff02::1 on UDP 15118, the answer unicast, TCP/TLS to
the announced link-local address. :class:`Where` says all of it: ``tester_interface`` (where the tester runs
SDP), ``sdp_port``, the addresses, ``sut_netns_pid`` / ``tester_netns_pid`` and, for a tester in another
process, :meth:`Where.tester_command` (same namespace: nothing to wrap) and :meth:`Where.nsenter_command`
(from a shell outside). On **loopback** there are no namespaces: both sides use ``::1`` and a free SDP port
(:attr:`Where.sdp_port`), so SUTs and testers never collide with a charger already on UDP 15118.

Starting, readiness, stopping
-----------------------------
Every SUT process starts in its own process group (so Josev's Java child stops with it), writes stdout and
stderr to ``<workdir>/<sut>-<n>.log``, and counts as ready when it prints its marker: an SECC once it answers
SDP (v2gkit: ``listening``, whose TCP ports go into :class:`Where`; Josev: ``UDP server started``), an EVCC
once it starts sending SDP requests (v2gkit: its ``car:`` line, printed right before discovery; Josev:
``Sending SDPRequest``). Stopping sends SIGTERM to the group, SIGKILL after a grace time, and waits until no
member is left.

Cases against one SUT
---------------------
``before_case(fit)`` / ``after_case()`` bracket each case. An SECC serves every case from one process; it is
restarted when it has died, when a case needs what it was not started with (v2gkit: AC instead of DC, a
protocol it does not offer), when it would not answer SDP at once (Josev's SECC pauses SDP until 5 s after
a connection closed: a new one is ready in ~1.5 s), or when the caller asks for a fresh one.

An EVCC gets a fresh process per case: neither v2gkit's EVCC (it exits after its session) nor Josev's (after
a successful session it never sends SDP again; after a failed one it retries only while SDP retry cycles are
left, carrying its state) can be trusted to start the next case clean. That costs v2gkit's EVCC ~0.15 s and
Josev's ~2 s (a JVM and its py4j gateway) per case. ``prespawn=True`` starts the next EVCC in ``after_case``
already, hiding its start-up behind the runner's work between cases, but it then sends unanswered SDP
requests before its case begins, so it is off by default; a pre-started EVCC is used only while at least half
of its SDP window (50 requests, 0.25 s apart) is left. ``before_case(defer=True)`` and then ``launch()`` start
the EVCC only once the tester listens, for cases about SDP retries and their timing.

A runner, inside the private namespace (``async`` variants: ``astart``, ``abefore_case``, ``aafter_case``,
``astop``, ``async with``)::

    with open_sut("josev-secc", link="veth", workdir=logs) as sut:
        for case in cases:
            fit = sut.fit(case)
            if not fit.applicable:
                ...  # not applicable: fit.reason
                continue
            where = sut.before_case(fit)  # where.link_kwargs(): interface/loopback/sdp_port for v2gkit.net
            ...  # the tester: fit.protocol, fit.dc, fit.tls, fit.iso20_without_tls, where.pki_dir
            log = sut.after_case()  # the SUT's output during the case

Applicability
-------------
:meth:`SUT.fit` says for a case which protocol and AC/DC to run it with, what the tester must allow (ISO
15118-20 over plain TCP for Josev) and, when the SUT cannot run it at all, why: the catalog runner marks
such a case "not applicable" instead of failing it. Each SUT lists its :class:`Allowance` entries (what it
cannot do or does differently, and why).

    python -m v2gkit.testsys.suts list
    python -m v2gkit.testsys.suts josev-secc --veth              # start it, print where it is, Ctrl-C stops
    python -m v2gkit.testsys.suts v2gkit-secc --veth -- v2gkit evcc -i {interface} --json
    python -m v2gkit.testsys.suts v2gkit-evcc --loopback --check --repeat 5   # start-up times, reachability
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from v2gkit import timing

__all__ = [
    "SUT",
    "Allowance",
    "Fit",
    "Launcher",
    "SUTConfig",
    "SUTError",
    "SUTProcess",
    "Spawn",
    "V2gkitEVCC",
    "V2gkitSECC",
    "Where",
    "get_launcher",
    "main",
    "open_sut",
    "rerun_in_private_netns",
    "sut_names",
]

ROLES = ("secc", "evcc")
LINKS = ("veth", "loopback")
#: every session protocol by name (v2gkit.session.families): ISO 15118-20 names AC or DC in its namespace
PROTOCOL_KINDS: dict[str, tuple[bool, ...]] = {  # protocol -> the dc values it runs (True: DC, False: AC)
    "din": (True,), "iso2": (True, False), "iso20-dc": (True,), "iso20-ac": (False,),
}
#: what a case may need beyond a protocol (``Case.needs``; ISO 15118-4 PICS, in short); a SUT lists the ones
#: it has in ``Launcher.features``: "tls" (TLS at all), "live" (a real link: every SUT here), "pause" (ISO
#: 15118-2 paused sessions), "pnc" (Plug & Charge), "bpt", "dynamic" (ISO 15118-20), "wpt", "acdp"
FEATURES = ("tls", "live", "pause", "pnc", "bpt", "dynamic", "wpt", "acdp")
#: cases whose topic needs a feature when the case itself does not say (``Case.needs``, if the model has it)
NEEDS_BY_TOPIC = {"CertificateUpdate": "pnc", "CertificateInstallation": "pnc", "PaymentDetails": "pnc",
                  "TLS": "tls"}
#: ISO 15118-4/-5 kinds in case IDs that are not AC/DC/CMN
KIND_FEATURE = {"WPT": "wpt", "ACDP": "acdp"}

#: how long a SUT may take from its start to its readiness marker (Josev: a JVM and a py4j gateway first;
#: 2-4 s measured, 10 s with both cores busy)
READY_TIMEOUT = 30.0
#: SIGTERM -> SIGKILL at the final stop, and when an EVCC is retired after its case (it has nothing to save)
STOP_GRACE = 3.0
RETIRE_GRACE = 0.5
#: an EVCC sends SDP requests for this long before it gives up (both v2gkit and Josev: 50 x 0.25 s)
SDP_WINDOW = timing.SDP_MAX_REQUESTS * timing.SDP_TIMEOUT
#: a pre-started EVCC is used for a case only while this much of its SDP window is left
SDP_WINDOW_LEFT = SDP_WINDOW / 2


class SUTError(RuntimeError):
    """The SUT cannot be set up, started or reached; the message says what to install or check."""


# --------------------------------------------------------------------------------------- descriptions

@dataclass(frozen=True)
class Allowance:
    """Something a SUT cannot do or does differently. ``feature`` names what it makes not applicable (cases
    that need it); None: a note for the reader and the results table (a case may fail on it)."""

    key: str
    text: str
    feature: str | None = None


@dataclass(frozen=True)
class SUTConfig:
    """How a SUT is started. ``protocols`` None: every protocol the launcher runs that fits ``dc`` (an SECC),
    the case's protocol (an EVCC, restarted per case)."""

    protocols: tuple[str, ...] | None = None
    dc: bool = True
    #: SECC: also answer TLS (what the EV asks for in SDP); EVCC: ask for TLS in SDP (ISO 15118-2)
    tls: bool = False
    #: SECC: answer TLS only
    tls_only: bool = False
    #: ISO 15118-20 over plain TCP as well (not compliant; Josev's -20 EIM set-up does it)
    iso20_without_tls: bool = False
    bpt: bool = False
    control_mode: str | None = None  # "scheduled" | "dynamic" (ISO 15118-20); None: the SUT's default
    #: the test PKI both sides read (v2gkit: created on first use); None: v2gkit's default
    pki_dir: Path | None = None
    #: v2gkit: more command-line options (after the launcher's own, so they win) and [secc.*]/[evcc.*] TOML
    extra_args: tuple[str, ...] = ()
    settings: str = ""
    #: SECC: stop SDP and listening when no handshake succeeds within this many seconds of the start
    #: (V2G_SECC_CommunicationSetup_Timeout); a case that tests it gets a fresh process with it set
    setup_timeout: float | None = None

    def __post_init__(self) -> None:
        for p in self.protocols or ():
            if p not in PROTOCOL_KINDS:
                raise ValueError(f"unknown protocol {p!r}; choose from {', '.join(PROTOCOL_KINDS)}")
        if self.control_mode not in (None, "scheduled", "dynamic"):
            raise ValueError(f"control_mode must be scheduled or dynamic, not {self.control_mode!r}")


@dataclass(frozen=True)
class Fit:
    """How a case runs against a SUT, or why it cannot (``reason``: not applicable)."""

    protocol: str | None = None
    dc: bool = True
    #: the tester uses TLS (the SUT EVCC asks for it / the SUT SECC offers it and the protocol wants it)
    tls: bool = False
    #: the tester must accept ISO 15118-20 over plain TCP (not compliant; Josev)
    iso20_without_tls: bool = False
    #: the case tests what a charger does right after it was plugged in (its communication set-up timer):
    #: it gets a fresh SUT process with that timer running
    fresh: bool = False
    reason: str = ""

    @property
    def applicable(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class Where:
    """Where a started SUT is and where the tester runs to reach it (see the module docstring)."""

    link: str  # "veth" | "loopback"
    sut_role: str
    #: the tester's interface in the current namespace (SDP multicast goes out there); None on loopback
    tester_interface: str | None
    tester_address: str
    sut_interface: str | None
    sut_address: str
    sdp_port: int
    #: a process in the SUT's namespace (``nsenter -t PID -n``); None on loopback
    sut_netns_pid: int | None = None
    #: a process in the tester's namespace (the one that opened the SUT)
    tester_netns_pid: int | None = None
    #: v2gkit SECC: its TCP and TLS ports, from its ``listening`` line (others announce them only in SDP)
    tcp_port: int | None = None
    tls_port: int | None = None
    pki_dir: str | None = None

    @property
    def loopback(self) -> bool:
        return self.link == "loopback"

    @property
    def tester_role(self) -> str:
        return "evcc" if self.sut_role == "secc" else "secc"

    def link_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of v2gkit.net's ``ev_link`` / ``SECCLink`` / ``discover`` for the tester."""
        return {"interface": self.tester_interface, "loopback": self.loopback, "sdp_port": self.sdp_port}

    def tester_args(self) -> list[str]:
        """The same as command-line options (``v2gkit evcc``/``secc``, ``v2gkit test ...``)."""
        where = ["--loopback"] if self.loopback else ["--interface", str(self.tester_interface)]
        return where + ([] if self.sdp_port == 15118 else ["--sdp-port", str(self.sdp_port)])

    def sut_command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` to run in the SUT's namespace."""
        if self.sut_netns_pid is None:
            return list(argv)
        return ["nsenter", "-t", str(self.sut_netns_pid), "-n", *argv]

    def tester_command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` for a tester in another process started by the SUT's owner: same namespace, as it is."""
        return list(argv)

    def nsenter_command(self, argv: Sequence[str] = ()) -> list[str]:
        """``argv`` for a tester started from a shell outside the private namespace (another terminal)."""
        if self.tester_netns_pid is None or self.loopback:
            return list(argv)
        user = [] if _real_root() else ["-U", "--preserve-credentials"]
        return ["nsenter", "-t", str(self.tester_netns_pid), *user, "-n", *argv]

    def describe(self) -> str:
        if self.loopback:
            at = f"[::1], SDP on UDP {self.sdp_port}"
        else:
            at = (f"{self.sut_interface} [{self.sut_address}] in the namespace of pid {self.sut_netns_pid}; "
                  f"the tester uses {self.tester_interface} [{self.tester_address}], "
                  f"SDP on UDP {self.sdp_port}")
        ports = "".join(f", {n} port {p}" for n, p in (("TCP", self.tcp_port), ("TLS", self.tls_port)) if p)
        return f"{self.sut_role.upper()} on {self.link}: {at}{ports}"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"tester_args": self.tester_args()}


@dataclass(frozen=True)
class Spawn:
    """One SUT process to start: ``argv`` (already wrapped for its namespace), environment, working folder."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def _real_root() -> bool:
    """Root of the initial user namespace (nsenter needs no -U then)."""
    try:
        first = Path("/proc/self/uid_map").read_text().split()
    except OSError:
        return os.geteuid() == 0
    return os.geteuid() == 0 and first[:3] == ["0", "0", "4294967295"]


# --------------------------------------------------------------------------------------- launchers

class Launcher:
    """What differs per implementation: its command, readiness marker, capabilities and allowances. A
    launcher holds no state; :class:`SUT` runs it."""

    name = ""
    role = ""  # "secc" | "evcc"
    implementation = ""
    links: tuple[str, ...] = LINKS
    protocols: tuple[str, ...] = tuple(PROTOCOL_KINDS)
    features: frozenset[str] = frozenset()
    allowances: tuple[Allowance, ...] = ()
    #: a line containing this means the process is ready (see the module docstring)
    ready_marker = ""
    #: EVCC: a line containing one of these means it gave up SDP without meeting a charger
    gave_up_markers: tuple[str, ...] = ()
    #: EVCC: a line containing one of these means it found a charger (the instance is used)
    used_markers: tuple[str, ...] = ()
    #: EVCC: how long its SDP window lasts after ready (None: it never gives up)
    sdp_window: float | None = SDP_WINDOW

    def prepare(self) -> None:
        """Set-up that needs the network (pip): called before the SUT's namespace exists."""

    def default_config(self) -> SUTConfig:
        return SUTConfig()

    def check(self, config: SUTConfig, link: str | None = None) -> None:
        """ValueError when this launcher cannot start with ``config`` (on ``link``, if given)."""
        if link is not None and link not in self.links:
            raise ValueError(f"{self.name} runs on {' or '.join(self.links)} only, not {link}"
                             + self._why_not(link))
        for p in config.protocols or ():
            if p not in self.protocols:
                raise ValueError(f"{self.name} does not run {p} (it runs {', '.join(self.protocols)})")

    def _why_not(self, link: str) -> str:
        a = next((a for a in self.allowances if a.key == f"no-{link}"), None)
        return f": {a.text}" if a else ""

    def offered(self, config: SUTConfig) -> tuple[str, ...]:
        """The protocols a process started with ``config`` runs."""
        if config.protocols is not None:
            return config.protocols
        return tuple(p for p in self.protocols if config.dc in PROTOCOL_KINDS[p])

    def config_for(self, base: SUTConfig, fit: Fit) -> SUTConfig:
        """The configuration a case needs, from the SUT's own: an EVCC offers just the case's protocol, an
        SECC adds it when it is missing; both switch AC/DC when they must."""
        if fit.protocol is None:
            return base
        if fit.fresh and self.role == "secc":
            base = dataclasses.replace(base, setup_timeout=timing.SECC_COMMUNICATION_SETUP_PERFORMANCE_TIME)
        if self.role == "evcc":
            return dataclasses.replace(base, protocols=(fit.protocol,), dc=fit.dc,
                                       tls=base.tls and fit.protocol == "iso2" or fit.tls)
        protos = self.offered(dataclasses.replace(base, dc=fit.dc))
        if fit.protocol not in protos:
            protos = (fit.protocol, *protos)
        tls = base.tls or fit.tls and not base.tls_only  # a TLS case needs an SECC that answers TLS
        return dataclasses.replace(base, protocols=protos, dc=fit.dc, tls=tls)

    def covers(self, running: SUTConfig, wanted: SUTConfig) -> bool:
        """Whether a process started with ``running`` serves a case that needs ``wanted``."""
        rest = dataclasses.replace(running, protocols=None) == dataclasses.replace(wanted, protocols=None)
        return rest and set(self.offered(wanted)) <= set(self.offered(running))

    def spawn(self, config: SUTConfig, where: Where, workdir: Path) -> Spawn:
        raise NotImplementedError

    def ready_info(self, line: str) -> dict[str, Any]:
        """Fields of :class:`Where` the ready line tells (v2gkit SECC: its ports)."""
        return {}

    def idle(self, p: SUTProcess) -> bool:
        """SECC: whether the running process answers the next case's SDP right now (else it is restarted)."""
        return True

    # ------------------------------------------------------------------ applicability

    def fit(self, case: Any, config: SUTConfig) -> Fit:
        """How ``case`` (a :class:`v2gkit.testsys.case.Case` or anything with ``case_id``, ``protocols`` and
        ``kind``) runs against this SUT, or why it does not apply."""
        from .case import CASE_ID, tester_role
        case_id = getattr(case, "case_id", "")
        try:
            sut_role = "secc" if tester_role(case_id) == "evcc" else "evcc"
        except ValueError as e:
            return Fit(reason=str(e))
        if sut_role != self.role:
            return Fit(reason=f"a {sut_role.upper()} case; {self.name} is an {self.role.upper()}")
        m = CASE_ID.match(case_id)
        kind = (getattr(case, "kind", "") or (m.group(2) if m else "CMN")).upper()
        topic = m.group(4) if m else ""
        needs = set(getattr(case, "needs", ()) or ())
        if topic in NEEDS_BY_TOPIC:
            needs.add(NEEDS_BY_TOPIC[topic])
        if kind in KIND_FEATURE:
            needs.add(KIND_FEATURE[kind])
        for need in sorted(needs):
            if need not in self.features:
                return Fit(reason=self._missing(need))
        dcs = (True,) if kind == "DC" else (False,) if kind == "AC" else (config.dc, not config.dc)
        wanted = list(getattr(case, "protocols", ()) or ("iso2",))
        tried = []
        for dc in dcs:
            for p in wanted:
                proto = ("iso20-dc" if dc else "iso20-ac") if p == "iso20" else p
                if proto not in PROTOCOL_KINDS or dc not in PROTOCOL_KINDS[proto]:
                    continue
                if "tls" in needs and proto == "din":  # DIN 70121 has no TLS
                    continue
                tried.append(proto)
                if proto in self.protocols:  # config_for() starts the SUT with it if it must
                    f = self._fit(proto, dc, config)
                    if "live" in needs:  # what only a live SUT shows: its start-up timers, from a fresh start
                        f = dataclasses.replace(f, fresh=True)
                    return dataclasses.replace(f, tls=True) if "tls" in needs else f
        if not tried:
            return Fit(reason=f"none of {', '.join(wanted)} runs {kind} (DIN 70121 is DC only)")
        return Fit(reason=f"{self.name} does not run {', '.join(dict.fromkeys(tried))}")

    def _missing(self, need: str) -> str:
        a = next((a for a in self.allowances if a.feature == need), None)
        return a.text if a else f"{self.name} has no {need}"

    def _fit(self, proto: str, dc: bool, config: SUTConfig) -> Fit:
        """ISO 15118-20 over TLS 1.3 where the SUT has TLS and is not told otherwise; ISO 15118-2 over TLS
        when the SECC answers nothing else or the EVCC asks for it; DIN never."""
        iso20 = proto.startswith("iso20")
        plain20 = iso20 and (config.iso20_without_tls or "tls" not in self.features)
        tls2 = proto == "iso2" and (config.tls_only if self.role == "secc" else config.tls)
        tls = "tls" in self.features and (iso20 and not plain20 or tls2)
        return Fit(protocol=proto, dc=dc, tls=tls, iso20_without_tls=plain20)


def _free_udp_port() -> int:
    """A UDP port on ::1 nobody holds right now (for a loopback SUT's SDP)."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


_PORTS = re.compile(r"ports=\{([^}]*)\}")


class _V2gkit(Launcher):
    implementation = "v2gkit"
    features = frozenset({"tls", "live", "pause", "bpt", "dynamic", "meterinfo"})
    allowances = (
        Allowance("no-pnc", "v2gkit has no Plug & Charge yet (contract certificates: PaymentDetails, "
                  "CertificateInstallation/Update)", feature="pnc"),
        Allowance("no-wpt", "v2gkit has no ISO 15118-20 WPT sessions yet", feature="wpt"),
        Allowance("no-acdp", "v2gkit has no ISO 15118-20 ACDP sessions yet", feature="acdp"),
    )

    def _common(self, config: SUTConfig, where: Where, workdir: Path) -> list[str]:
        protos = self.offered(config)
        args = [sys.executable, "-m", "v2gkit.cli.main", self.role]
        args += ["--loopback"] if where.loopback else ["--interface", str(where.sut_interface)]
        args += ["--sdp-port", str(where.sdp_port), "--protocols", ",".join(protos),
                 "--dc" if config.dc else "--ac", "--control-mode", config.control_mode or "scheduled"]
        if config.bpt:
            args.append("--bpt")
        if config.iso20_without_tls:
            args.append("--allow-iso20-without-tls")
        if config.setup_timeout is not None and self.role == "secc":
            args += ["--setup-timeout", f"{config.setup_timeout:g}"]
        if config.pki_dir is not None:
            args += ["--pki", str(config.pki_dir)]
        if config.settings:
            path = workdir / f"{self.name}.toml"
            path.write_text(config.settings)
            args += ["--config", str(path)]
        return args

    def spawn(self, config: SUTConfig, where: Where, workdir: Path) -> Spawn:
        argv = self._common(config, where, workdir) + self._own(config) + list(config.extra_args)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        return Spawn(where.sut_command(argv), env, workdir)

    def _own(self, config: SUTConfig) -> list[str]:
        return []


class V2gkitSECC(_V2gkit):
    """``v2gkit secc``: every session protocol, DC or AC; TLS offered (what the EV asks for), so ISO
    15118-20 runs over TLS 1.3 as the standard wants and DIN / ISO-2 over plain TCP."""

    name = "v2gkit-secc"
    role = "secc"
    ready_marker = "listening "

    def default_config(self) -> SUTConfig:
        return SUTConfig(tls=True)

    def check(self, config: SUTConfig, link: str | None = None) -> None:
        super().check(config, link)
        offered = self.offered(config)
        if not any(config.dc in PROTOCOL_KINDS[p] for p in offered):
            raise ValueError(f"none of {', '.join(offered)} runs {'DC' if config.dc else 'AC'}")

    def offered(self, config: SUTConfig) -> tuple[str, ...]:
        # the CLI drops the other kind's -20 namespace itself; do it here so the command line is quiet
        return tuple(p for p in super().offered(config) if config.dc in PROTOCOL_KINDS[p])

    def _own(self, config: SUTConfig) -> list[str]:
        return ["--tls-only"] if config.tls_only else ["--tls"] if config.tls else []

    def ready_info(self, line: str) -> dict[str, Any]:
        m = _PORTS.search(line)
        if not m:
            return {}
        ports = dict(re.findall(r"'(\w+)': (\d+)", m.group(1)))
        return {"tcp_port": int(ports["NONE"]) if "NONE" in ports else None,
                "tls_port": int(ports["TLS"]) if "TLS" in ports else None}


class V2gkitEVCC(_V2gkit):
    """``v2gkit evcc``: one session per process (a fresh one per case), the case's protocol only; asks for
    TLS in SDP for ISO 15118-20 (TLS 1.3, the vehicle certificate from the test PKI)."""

    name = "v2gkit-evcc"
    role = "evcc"
    ready_marker = "car: "  # printed right before discovery starts
    gave_up_markers = ("no valid SDP response",)
    used_markers = ("-> SessionSetupReq",)  # its first progress line (an exit says the rest)
    #: the simulated car is nearly full and its battery small (x240, the loopback AC speed), so a session
    #: that runs to its end takes about a second of charging
    EV_ARGS = ("--soc", "79", "--target-soc", "80", "--speed", "240")

    def default_config(self) -> SUTConfig:
        return SUTConfig(protocols=("iso2",))

    def _own(self, config: SUTConfig) -> list[str]:
        iso20 = any(p.startswith("iso20") for p in self.offered(config))
        tls = config.tls or iso20 and not config.iso20_without_tls
        return ["--tls" if tls else "--no-tls", *self.EV_ARGS]


BUILTIN: dict[str, Launcher] = {x.name: x for x in (V2gkitSECC(), V2gkitEVCC())}
#: SUTs that live in a source checkout's test harness, and the file that provides them
EXTERNAL = {"josev-secc": "tests/interop/josev_sut.py", "josev-evcc": "tests/interop/josev_sut.py"}
_CHECKOUT = Path(__file__).resolve().parents[3]
_loaded: dict[str, Launcher] = {}


def _plugin_files() -> list[Path]:
    """``V2GKIT_SUT_PLUGINS`` (paths, os.pathsep between them), then the checkout's harness files."""
    files = [Path(p) for p in os.environ.get("V2GKIT_SUT_PLUGINS", "").split(os.pathsep) if p]
    files += [_CHECKOUT / rel for rel in dict.fromkeys(EXTERNAL.values())]
    return [f for f in dict.fromkeys(files) if f.is_file()]


def _load_plugins() -> dict[str, Launcher]:
    """Launchers from plugin files: each defines ``SUTS = {name: Launcher}``."""
    if not _loaded:
        for path in _plugin_files():
            name = "v2gkit_sut_plugin_" + re.sub(r"\W", "_", path.stem)
            mod = sys.modules.get(name)
            if mod is None:
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise SUTError(f"cannot load SUT plugin {path}")
                mod = importlib.util.module_from_spec(spec)
                sys.modules[name] = mod
                try:
                    spec.loader.exec_module(mod)
                except Exception:
                    del sys.modules[name]
                    raise
            _loaded.update(getattr(mod, "SUTS", {}))
    return _loaded


def sut_names() -> list[str]:
    """Every SUT name that can be started here (the built-in ones, then the plugins')."""
    return list(dict.fromkeys([*BUILTIN, *_load_plugins()]))


def get_launcher(name: str) -> Launcher:
    if name in BUILTIN:
        return BUILTIN[name]
    found = _load_plugins().get(name)
    if found is not None:
        return found
    if name in EXTERNAL:
        raise SUTError(f"{name} comes from {EXTERNAL[name]} of a v2gkit source checkout, which is not at "
                       f"{_CHECKOUT}: run from a checkout (pip install -e .) or name the file in "
                       "V2GKIT_SUT_PLUGINS")
    raise SUTError(f"unknown SUT {name!r}; known: {', '.join(sut_names())}")


# --------------------------------------------------------------------------------------- processes

class SUTProcess:
    """One running SUT process: its own process group, every line of its output in ``log_path`` and the
    last ``MAX_LINES`` in memory (``lines``, with the monotonic time each arrived). Positions (``mark()``)
    count every line since the start, also those no longer in memory."""

    #: lines kept in memory (a SUT serving a whole catalog at DEBUG level logs millions); the file has all
    MAX_LINES = 200_000

    def __init__(self, spawn: Spawn, log_path: Path, label: str = "") -> None:
        self.spawn_args = spawn
        self.log_path = log_path
        self.label = label
        self.lines: list[tuple[float, str]] = []
        self._dropped = 0  # lines no longer in ``lines``
        self._cv = threading.Condition()
        self._eof = False
        self.ready_at: float | None = None
        self.started = time.monotonic()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "w", buffering=1)  # noqa: SIM115 (closed by the pump)
        self._log.write(f"# {label or 'sut'}: {shlex.join(spawn.argv)}\n")
        try:
            self.proc = subprocess.Popen(spawn.argv, env=spawn.env, cwd=spawn.cwd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                         errors="replace", bufsize=1, start_new_session=True)
        except OSError as e:
            self._log.close()
            raise SUTError(f"cannot start {label or spawn.argv[0]}: {e}") from None
        self.pgid = self.proc.pid  # start_new_session: its own process group
        self._pump = threading.Thread(target=self._read, name=f"sut-log-{self.proc.pid}", daemon=True)
        self._pump.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                now = time.monotonic()
                self._log.write(line)
                with self._cv:
                    self.lines.append((now, line.rstrip("\n")))
                    if len(self.lines) > self.MAX_LINES:
                        cut = self.MAX_LINES // 2
                        del self.lines[:cut]
                        self._dropped += cut
                    self._cv.notify_all()
        finally:
            self._log.close()
            with self._cv:
                self._eof = True
                self._cv.notify_all()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def first(self, needle: str, start: int = 0) -> tuple[float, str] | None:
        """(seconds since start, line) of the first line from position ``start`` containing ``needle``."""
        with self._cv:
            for t, line in self.lines[max(start - self._dropped, 0):]:
                if needle in line:
                    return t - self.started, line
        return None

    def seen(self, needles: Iterable[str], start: int = 0) -> bool:
        return any(self.first(n, start) is not None for n in needles)

    def wait_for(self, needle: str, timeout: float) -> tuple[float, str]:
        """Until a line contains ``needle``: (seconds since start, line). SUTError with the log's tail when
        the process ends or the time runs out first."""
        deadline = time.monotonic() + timeout
        seen = 0  # position up to which the lines have been searched
        with self._cv:
            while True:
                new = self.lines[max(seen - self._dropped, 0):]
                seen = self._dropped + len(self.lines)
                hit = next(((t - self.started, ln) for t, ln in new if needle in ln), None)
                if hit is not None:
                    return hit
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cv.wait(min(left, 0.5))
        why = (f"exited with status {self.proc.wait()}" if self._eof else f"printed no {needle!r} within "
               f"{timeout:g} s")
        raise SUTError(f"{self.label or 'the SUT'} {why}; its log {self.log_path} ends:\n{self.tail()}")

    def tail(self, n: int = 25) -> str:
        with self._cv:
            return "\n".join(ln for _, ln in self.lines[-n:])

    def text(self, start: int = 0) -> str:
        """The output from position ``start`` on (as far as it is still in memory)."""
        with self._cv:
            return "\n".join(ln for _, ln in self.lines[max(start - self._dropped, 0):])

    def mark(self) -> int:
        """The position of the next line: the log from here on belongs to what starts now."""
        with self._cv:
            return self._dropped + len(self.lines)

    def group(self) -> list[int]:
        """Live (non-zombie) processes of this process group: the SUT and its children (Josev's JVM)."""
        return _group_members(self.pgid)

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM to the whole group, SIGKILL after ``grace`` seconds, and wait until no member is left;
        the exit status of the SUT process (None if it had to be killed)."""
        killed = False
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
            if not self.group() and self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, sig)
            killed = sig == signal.SIGKILL
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self.proc.poll() is not None and not self.group():
                    break
                time.sleep(0.01)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=3)
        self._pump.join(timeout=3)
        if self.group():
            raise SUTError(f"{self.label}: processes {self.group()} of group {self.pgid} survived SIGKILL")
        return None if killed else self.proc.returncode


def _group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            out.append(int(entry.name))
    return out


# --------------------------------------------------------------------------------------- the SUT

class _Link:
    """The link a SUT is reached over: a veth pair oriented by role, or loopback."""

    def __init__(self, kind: str, sut_role: str) -> None:
        if kind not in LINKS:
            raise ValueError(f"link must be one of {LINKS}, not {kind!r}")
        self.kind, self.sut_role = kind, sut_role
        self.pair: Any = None

    def open(self, pki_dir: Path | None) -> Where:
        pki = None if pki_dir is None else str(pki_dir)
        if self.kind == "loopback":
            return Where("loopback", self.sut_role, None, "::1", None, "::1", _free_udp_port(),
                         tester_netns_pid=os.getpid(), pki_dir=pki)
        from v2gkit.net.netns import EV_ADDR, EV_IF, SECC_ADDR, SECC_IF, NetnsError, VethPair, netns_available
        _check_private_netns()
        why = netns_available()
        if why is not None:
            raise SUTError(f"no veth pair here: {why}")
        if self.sut_role == "secc":  # VethPair's "ev" end is the one that stays here: the tester's
            mine, theirs = (EV_IF, EV_ADDR), (SECC_IF, SECC_ADDR)
        else:
            mine, theirs = (SECC_IF, SECC_ADDR), (EV_IF, EV_ADDR)
        pair = VethPair(ev_if=mine[0], secc_if=theirs[0], ev_addr=mine[1], secc_addr=theirs[1])
        try:
            self.pair = pair.__enter__()
        except NetnsError as e:
            raise SUTError(str(e)) from None
        return Where("veth", self.sut_role, mine[0], mine[1], theirs[0], theirs[1], 15118,
                     sut_netns_pid=pair.peer_pid, tester_netns_pid=os.getpid(), pki_dir=pki)

    def close(self) -> None:
        if self.pair is not None:
            self.pair.close()
            self.pair = None


def _check_private_netns() -> None:
    """A veth pair belongs in a private namespace: one made by ``run_private``, or one that holds nothing but
    ``lo`` and v2gkit's own veth ends (a fresh ``unshare -rn``). The host's has its real interfaces."""
    from v2gkit.net.netns import inside_private_netns
    if inside_private_netns():
        return
    others = [name for _, name in socket.if_nameindex() if name != "lo" and not name.startswith("v2g-")]
    if others:
        raise SUTError(f"a SUT on the veth pair needs a private network namespace, and this one has "
                       f"{', '.join(others)}: run under `unshare -rn` (v2gkit.net.netns.run_private; "
                       "`python -m v2gkit.testsys.suts NAME --veth` does it itself), so no interface appears "
                       "on the host")


class SUT:
    """A system under test and its link: ``start()``, ``before_case()``/``after_case()`` around each case,
    ``stop()``; also a context manager (``with`` / ``async with``). See the module docstring."""

    def __init__(self, launcher: Launcher, *, link: str = "veth", config: SUTConfig | None = None,
                 workdir: Path | str | None = None, ready_timeout: float = READY_TIMEOUT,
                 prespawn: bool = False) -> None:
        self.launcher = launcher
        self.link = link
        self.config = config if config is not None else launcher.default_config()
        launcher.check(self.config, link)
        self.ready_timeout = ready_timeout
        self.prespawn = prespawn
        #: None: a folder of our own, made at start() and removed after a clean stop (kept after a failure)
        self._workdir = None if workdir is None else Path(workdir)
        self._own_workdir = workdir is None
        self.where: Where | None = None
        self._link = _Link(link, launcher.role)
        self.current: SUTProcess | None = None
        self._current_cfg: SUTConfig | None = None
        self._next: tuple[SUTProcess, SUTConfig] | None = None
        self._case_mark = 0
        self._handed = False  # the current EVCC process was given to a case (it is used when that ends)
        self._last_log = ""
        self.instances: list[SUTProcess] = []
        #: restarts of an SECC that had died (a case should look at why: ``case_log()`` of the case before)
        self.restarts = 0
        self._lock = threading.RLock()

    # --------------------------------------------------------------- description

    @property
    def name(self) -> str:
        return self.launcher.name

    @property
    def role(self) -> str:
        return self.launcher.role

    @property
    def label(self) -> str:
        """Short, for results (``CaseResult.sut``): ``josev-secc on veth``."""
        return f"{self.name} on {self.link}"

    def describe(self) -> str:
        head = f"{self.name} ({self.launcher.implementation}, {self.role.upper()} on {self.link})"
        return head + (f": {self.where.describe()}" if self.where else "")

    def fit(self, case: Any) -> Fit:
        """How ``case`` runs here, or why not (``Fit.reason``): also when the configuration it needs is one
        this SUT cannot start with (e.g. Josev's EVCC with BPT for a DIN case)."""
        fit = self.launcher.fit(case, self.config)
        if fit.applicable:
            try:
                self.launcher.check(self.launcher.config_for(self.config, fit))
            except ValueError as e:
                return Fit(reason=str(e))
        return fit

    # --------------------------------------------------------------- life cycle

    def start(self) -> Where:
        """Build the link, start the SUT and wait until it is ready; where it is."""
        with self._lock:
            if self.where is not None:
                return self.where
            self.launcher.prepare()
            self.where = self._link.open(self.config.pki_dir)
            _ACTIVE.add(self)
            try:
                self._run(self.config)
            except BaseException:
                self.stop()
                raise
            return self.where

    @property
    def workdir(self) -> Path:
        """Where the logs (``<sut>-<n>.log``) and the SUT's own files go."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.launcher.name}-"))
        self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    def _spawn(self, config: SUTConfig) -> SUTProcess:
        assert self.where is not None
        n = len(self.instances) + 1
        spawn = self.launcher.spawn(config, self.where, self.workdir)
        p = SUTProcess(spawn, self.workdir / f"{self.name}-{n}.log", f"{self.name} #{n}")
        self.instances.append(p)
        return p

    def _ready(self, p: SUTProcess) -> None:
        t, line = p.wait_for(self.launcher.ready_marker, self.ready_timeout)
        p.ready_at = p.started + t
        info = self.launcher.ready_info(line)
        if info and self.where is not None:
            self.where = dataclasses.replace(self.where, **info)

    def _run(self, config: SUTConfig) -> SUTProcess:
        p = self._spawn(config)
        self._ready(p)
        self.current, self._current_cfg = p, config
        self._case_mark = p.mark()
        return p

    def _retire(self, p: SUTProcess | None, grace: float = RETIRE_GRACE) -> None:
        if p is not None:
            p.stop(grace)

    def stop(self) -> None:
        """Stop every process this SUT started and remove the link; idempotent."""
        with self._lock:
            errors = []
            for p in [self.current, *(x[0] for x in [self._next] if x)]:
                try:
                    self._retire(p, STOP_GRACE)
                except SUTError as e:
                    errors.append(str(e))
            self.current = self._next = None
            self._handed = False
            self._link.close()
            _ACTIVE.discard(self)
            self.where = None
            if errors:
                raise SUTError("; ".join(errors))

    def leftovers(self) -> list[int]:
        """Processes of any instance still alive (none after stop())."""
        return [pid for p in self.instances for pid in p.group()]

    # --------------------------------------------------------------- cases

    def before_case(self, fit: Fit | None = None, *, fresh: bool = False, defer: bool = False) -> Where:
        """Make the SUT ready for a case run with ``fit`` (None: the SUT's own configuration): an SECC that
        has died, or was started for something else, is restarted; an EVCC is a fresh process about to
        send SDP. ``fresh``: a new process whatever the state. ``defer`` (EVCC): stop the EVCC of the case
        before but start none; :meth:`launch` starts it once the tester listens, so the tester sees its SDP
        from the first request (cases on SDP retries and their timing)."""
        with self._lock:
            if self.where is None:
                self.start()
            wanted = self.launcher.config_for(self.config, fit) if fit is not None else (
                self._current_cfg or self.config)
            self._last_log = ""
            if self.role == "secc":
                self._secc_before(wanted, fresh)
            elif defer:
                for p in [self.current, *(x[0] for x in [self._next] if x)]:
                    self._retire(p)
                self.current = self._next = None
                self._current_cfg, self._handed = wanted, False
                assert self.where is not None
                return self.where
            else:
                self._evcc_before(wanted, fresh)
            return self._hand_out()

    def _hand_out(self) -> Where:
        assert self.where is not None and self.current is not None
        self._case_mark = self.current.mark()
        self._handed = True
        return self.where

    def launch(self) -> Where:
        """After ``before_case(defer=True)``: start the case's EVCC now and wait until it sends SDP."""
        with self._lock:
            if self.current is None:
                self._run(self._current_cfg or self.config)
            return self._hand_out()

    def _secc_before(self, wanted: SUTConfig, fresh: bool) -> None:
        cur, cfg = self.current, self._current_cfg
        if (cur is not None and cfg is not None and cur.alive and not fresh
                and self.launcher.covers(cfg, wanted) and self.launcher.idle(cur)):
            return
        if cur is not None and not cur.alive and not fresh:
            self.restarts += 1
        self._retire(cur, STOP_GRACE)
        self.current = None
        self._run(wanted if cfg is None or not self.launcher.covers(cfg, wanted) else cfg)

    def _usable(self, p: SUTProcess, cfg: SUTConfig, wanted: SUTConfig) -> bool:
        """A pre-started EVCC serves the case: alive, never met a charger, not given up, time left."""
        if not p.alive or not self.launcher.covers(cfg, wanted):
            return False
        if p.seen(self.launcher.gave_up_markers) or p.seen(self.launcher.used_markers):
            return False
        if p.ready_at is None or self.launcher.sdp_window is None:
            return True
        return time.monotonic() - p.ready_at < self.launcher.sdp_window - SDP_WINDOW_LEFT

    def _evcc_before(self, wanted: SUTConfig, fresh: bool) -> None:
        candidates: list[tuple[SUTProcess, SUTConfig]] = []
        if self.current is not None and self._current_cfg is not None:
            if self._handed:  # a case had it and after_case() was not called: it is used
                self._retire(self.current)
            else:
                candidates.append((self.current, self._current_cfg))
        if self._next is not None:
            candidates.append(self._next)
        self.current, self._next = None, None
        chosen = None
        for p, cfg in candidates:
            if chosen is None and not fresh:
                if p.ready_at is None and p.alive:
                    with contextlib.suppress(SUTError):
                        self._ready(p)
                if self._usable(p, cfg, wanted):
                    chosen = (p, cfg)
                    continue
            self._retire(p)
        if chosen is None:
            self._run(wanted)
        else:
            self.current, self._current_cfg = chosen

    def after_case(self) -> str:
        """The case is over: the SUT's output during it (also ``case_log()`` until the next case). An EVCC's
        process is stopped and (``prespawn``) the next one started now, so its start-up overlaps whatever the
        runner does between cases. An SECC stays."""
        with self._lock:
            self._last_log = self.case_log()
            if self.role != "evcc" or self.where is None:
                return self._last_log
            cfg = self._current_cfg or self.config
            if self._handed:
                self._retire(self.current)
                self.current, self._handed = None, False
            if self.prespawn and self.current is None and self._next is None:
                self._next = (self._spawn(cfg), cfg)
            return self._last_log

    def case_log(self) -> str:
        """The SUT's output since the last before_case() (after after_case(): that case's)."""
        with self._lock:
            if self.current is None or not self._handed and self.role == "evcc":
                return self._last_log
            return self.current.text(self._case_mark)

    def timings(self) -> list[dict[str, Any]]:
        """Per process started: seconds from its start to ready, and its log file."""
        return [{"label": p.label, "log": str(p.log_path),
                 "ready_s": None if p.ready_at is None else round(p.ready_at - p.started, 3)}
                for p in self.instances]

    # --------------------------------------------------------------- context managers and async

    def __enter__(self) -> SUT:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if exc[0] is None:
            self.cleanup()

    def cleanup(self) -> None:
        """Remove the working folder if it is our own (the logs go with it)."""
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def astart(self) -> Where:
        return await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def abefore_case(self, fit: Fit | None = None, *, fresh: bool = False) -> Where:
        return await asyncio.to_thread(self.before_case, fit, fresh=fresh)

    async def alaunch(self) -> Where:
        return await asyncio.to_thread(self.launch)

    async def aafter_case(self) -> str:
        return await asyncio.to_thread(self.after_case)

    async def __aenter__(self) -> SUT:
        await self.astart()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()
        if exc[0] is None:
            self.cleanup()


#: SUTs started and not stopped yet: stopped at interpreter exit, so no process outlives its owner there
_ACTIVE: set[SUT] = set()


@atexit.register
def _stop_all() -> None:
    for sut in list(_ACTIVE):
        with contextlib.suppress(Exception):
            sut.stop()


def open_sut(name: str, *, link: str = "veth", config: SUTConfig | None = None,
             workdir: Path | str | None = None, **kw: Any) -> SUT:
    """The SUT called ``name`` (``sut_names()``), not started yet: ``with open_sut(...) as sut:`` starts it.
    ``config`` None: the launcher's default (v2gkit-secc: every protocol, DC, TLS offered)."""
    return SUT(get_launcher(name), link=link, config=config, workdir=workdir, **kw)


# --------------------------------------------------------------------------------------- checks

async def probe_secc(where: Where, timeout: float = 10.0) -> dict[str, Any]:
    """An SDP request from the tester's side gets an answer, and a TCP connect to the announced address
    succeeds (closed at once): the SECC is reachable."""
    from v2gkit.net.sdp import discover
    t0 = time.monotonic()
    res, requests = await asyncio.wait_for(discover(
        interface=where.tester_interface, loopback=where.loopback, port=where.sdp_port,
        max_requests=max(1, int(timeout / timing.SDP_TIMEOUT))), timeout + 1)
    sdp_s = time.monotonic() - t0
    host = str(res.address)
    scope = 0 if where.loopback else socket.if_nametoindex(str(where.tester_interface))
    _, writer = await asyncio.wait_for(asyncio.open_connection(
        sock=_connected(host, res.port, scope)), timeout)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return {"sdp_answer": f"[{host}]:{res.port} {res.security.name}", "sdp_requests": requests,
            "sdp_s": round(sdp_s, 3), "tcp_connect": True}


def _connected(host: str, port: int, scope: int) -> socket.socket:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect((host, port, 0, scope))
        s.setblocking(False)
    except OSError:
        s.close()
        raise
    return s


def wait_sdp_request(where: Where, timeout: float = 15.0) -> dict[str, Any]:
    """A UDP listener on the tester's side sees an SDP request (V2GTP 0x9000) from the EVCC."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if where.loopback:
            s.bind(("::1", where.sdp_port))
        else:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, str(where.tester_interface).encode())
            s.bind(("::", where.sdp_port))
            idx = socket.if_nametoindex(str(where.tester_interface))
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                         socket.inet_pton(socket.AF_INET6, "ff02::1") + idx.to_bytes(4, sys.byteorder))
        t0 = time.monotonic()
        while (left := timeout - (time.monotonic() - t0)) > 0:
            s.settimeout(left)
            try:
                data, peer = s.recvfrom(2048)
            except TimeoutError:
                break
            if data[:4] == bytes.fromhex("01fe9000"):
                return {"sdp_request_from": peer[0], "sdp_request": data.hex(),
                        "sdp_wait_s": round(time.monotonic() - t0, 3)}
        raise SUTError(f"no SDP request on {where.tester_interface or '::1'} UDP {where.sdp_port} "
                       f"within {timeout:g} s")
    finally:
        s.close()


def check(sut: SUT) -> dict[str, Any]:
    """Start-up, reachability and a clean stop of one SUT instance: the numbers of ``--check``."""
    t0 = time.monotonic()
    sut.start()
    out: dict[str, Any] = {"sut": sut.name, "link": sut.link, "start_s": round(time.monotonic() - t0, 3)}
    assert sut.where is not None and sut.current is not None
    out["ready_s"] = round((sut.current.ready_at or 0) - sut.current.started, 3)
    out["where"] = sut.where.describe()
    if sut.role == "secc":
        out.update(asyncio.run(probe_secc(sut.where)))
    else:
        out.update(wait_sdp_request(sut.where))
    pids = [p.pid for p in sut.instances]
    t1 = time.monotonic()
    sut.stop()
    out["stop_s"] = round(time.monotonic() - t1, 3)
    sut.cleanup()  # a temporary working folder of its own goes; one given by the caller stays
    out["left"] = sut.leftovers() + [pid for pid in pids if Path(f"/proc/{pid}").exists()
                                     and _state(pid) not in ("Z", "X", None)]
    return out


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


# --------------------------------------------------------------------------------------- command

def rerun_in_private_netns(launchers: Iterable[Launcher], argv: Sequence[str]) -> int | None:
    """For a command that runs SUTs on the veth pair: None when this process already is in a private
    network namespace (go on); else prepare the launchers (Josev's venv: pip needs the network, which the
    namespace has not), run ``argv`` under ``unshare -rn`` and return its exit status. SUTError when that
    cannot work."""
    from v2gkit.net.netns import inside_private_netns, netns_available
    if inside_private_netns():
        return None
    from v2gkit.net.netns import private_netns_command
    for la in launchers:
        try:
            la.prepare()
        except SUTError:
            raise
        except Exception as e:  # noqa: BLE001 - any set-up failure becomes one line
            raise SUTError(f"{la.name}: {e}") from None
    why = netns_available()
    if why is not None:
        raise SUTError(why)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return _run_forwarding(private_netns_command(list(argv)), env)


def _run_forwarding(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv`` and return its exit status; SIGINT and SIGTERM go on to it and we wait for its end,
    so a command that stops SUTs gets to stop them (a Ctrl-C reaches both anyway; a kill only us)."""
    proc = subprocess.Popen(argv, env=env)
    forward = {sig: signal.signal(sig, lambda n, _f: proc.send_signal(n))
               for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    finally:
        for sig, old in forward.items():
            signal.signal(sig, old)


def _config_from(args: argparse.Namespace, launcher: Launcher) -> SUTConfig:
    base = launcher.default_config()
    kw: dict[str, Any] = {}
    if args.protocols:
        kw["protocols"] = tuple(p.strip() for p in args.protocols.split(",") if p.strip())
    if args.ac:
        kw["dc"] = False
    for name in ("tls", "tls_only", "iso20_without_tls", "bpt"):
        if getattr(args, name):
            kw[name] = True
    if args.no_tls:
        kw["tls"] = False
    if args.control_mode:
        kw["control_mode"] = args.control_mode
    if args.pki:
        kw["pki_dir"] = Path(args.pki).resolve()
    return dataclasses.replace(base, **kw)


def _print_allowances(launcher: Launcher) -> None:
    for a in launcher.allowances:
        print(f"  - {a.key}: {a.text}")


def _list() -> int:
    for name in sut_names():
        la = get_launcher(name)
        print(f"{name}: {la.role.upper()}, {la.implementation}; links: {', '.join(la.links)}; protocols: "
              f"{', '.join(la.protocols)}; features: {', '.join(sorted(la.features)) or '-'}")
        _print_allowances(la)
    return 0


def _manual(args: argparse.Namespace, launcher: Launcher, config: SUTConfig) -> int:
    link = "loopback" if args.loopback else "veth"
    workdir = Path(args.logs).resolve() if args.logs else None
    if args.check:
        results = []
        for i in range(args.repeat):
            wd = None if workdir is None else workdir / f"run-{i + 1}"
            r = check(SUT(launcher, link=link, config=config, workdir=wd, prespawn=False))
            results.append(r)
            if not args.json:
                probe = ", ".join(f"{k}={v}" for k, v in r.items() if k.startswith(("sdp", "tcp")))
                print(f"{r['sut']} on {r['link']}: ready {r['ready_s']:.3f} s (start {r['start_s']:.3f} s "
                      f"incl. link), stop {r['stop_s']:.3f} s, left {r['left'] or 'nothing'}; {probe}",
                      flush=True)
        summary = {"sut": launcher.name, "link": link, "runs": len(results),
                   "ready_s_median": round(statistics.median(r["ready_s"] for r in results), 3),
                   "start_s_median": round(statistics.median(r["start_s"] for r in results), 3),
                   "stop_s_median": round(statistics.median(r["stop_s"] for r in results), 3),
                   "left": sorted({p for r in results for p in r["left"]}), "results": results}
        if args.json:
            print(json.dumps(summary))
        else:
            med = {k: f"{summary[k + '_s_median']:.3f} s" for k in ("ready", "start", "stop")}
            print(f"{launcher.name} on {link}: median of {len(results)}: ready {med['ready']}, start incl. "
                  f"link {med['start']}, stop {med['stop']}")
        return 1 if summary["left"] else 0
    sut = SUT(launcher, link=link, config=config, workdir=workdir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # the command's child gets it from _run_forwarding
    try:
        where = sut.start()
        info = {"sut": sut.name, **where.as_dict(), "log": str(sut.current.log_path if sut.current else "")}
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(sut.describe(), flush=True)
            print(f"log: {info['log']}", flush=True)
        if args.command:
            argv = [a.format(interface=where.tester_interface or "", sdp_port=where.sdp_port,
                             address=where.sut_address) for a in args.command]
            env = dict(os.environ, V2GKIT_SUT=sut.name, V2GKIT_SUT_INTERFACE=where.tester_interface or "",
                       V2GKIT_SUT_SDP_PORT=str(where.sdp_port), V2GKIT_SUT_LINK=where.link)
            return _run_forwarding(where.tester_command(argv), env)
        if not args.json:
            if where.loopback:
                print(f"tester: {' '.join(where.tester_args())}", flush=True)
            else:
                cmd = shlex.join(where.nsenter_command(["v2gkit", "...", *where.tester_args()]))
                print(f"tester, from another terminal: {cmd}", flush=True)
            print("Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.5):
                if sut.role == "secc" and sut.current is not None and not sut.current.alive:
                    print(f"{sut.name} exited; its log ends:\n{sut.current.tail()}", file=sys.stderr)
                    return 1
        return 0
    finally:
        sut.stop()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m v2gkit.testsys.suts",
                                 description="Start a system under test (SUT) by hand, check it, time it.")
    ap.add_argument("sut", help="SUT name (`list` prints them with their allowances)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--veth", action="store_true",
                       help="on a veth pair in a private network namespace (the default)")
    where.add_argument("--loopback", action="store_true", help="on ::1 (v2gkit SUTs only)")
    ap.add_argument("--protocols", help="comma separated: din, iso2, iso20-dc, iso20-ac (default: the SUT's)")
    ap.add_argument("--ac", action="store_true", help="AC instead of DC")
    ap.add_argument("--tls", action="store_true", help="SECC: offer TLS; EVCC: ask for it")
    ap.add_argument("--no-tls", action="store_true", help="v2gkit SECC: do not offer TLS")
    ap.add_argument("--tls-only", action="store_true", help="SECC: answer TLS only")
    ap.add_argument("--iso20-without-tls", action="store_true",
                    help="also run ISO 15118-20 over plain TCP (not compliant; as Josev does)")
    ap.add_argument("--bpt", action="store_true", help="ISO 15118-20 bidirectional (BPT)")
    ap.add_argument("--control-mode", choices=["scheduled", "dynamic"], help="ISO 15118-20 control mode")
    ap.add_argument("--pki", help="test PKI folder shared with the tester (default: v2gkit's)")
    ap.add_argument("--logs", help="keep the SUT's logs in this folder (default: a temporary one)")
    ap.add_argument("--check", action="store_true",
                    help="start it, check it is reachable (SECC: SDP answer and TCP connect; EVCC: its SDP "
                         "request), stop it, check nothing is left; print the times")
    ap.add_argument("--repeat", type=int, default=1, help="with --check: this many times, and the medians")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.epilog = ("-- COMMAND...: a tester command to run beside the SUT, in the tester's namespace "
                 "({interface}, {sdp_port}, {address} are filled in); the SUT stops when it ends, whose exit "
                 "status is returned")
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    if argv and argv[0] == "list":
        try:
            return _list()
        except SUTError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    args = ap.parse_args(argv)
    args.command = command
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    try:
        launcher = get_launcher(args.sut)
        config = _config_from(args, launcher)
        launcher.check(config, "loopback" if args.loopback else "veth")
    except (SUTError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.loopback:
        tail = ["--", *command] if command else []
        try:
            status = rerun_in_private_netns([launcher],
                                            [sys.executable, "-m", "v2gkit.testsys.suts", *argv, *tail])
        except SUTError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if status is not None:
            return status
    try:
        return _manual(args, launcher, config)
    except (SUTError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
