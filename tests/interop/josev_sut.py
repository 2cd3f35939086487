"""Josev's SECC and EVCC as systems under test for the test system (``v2gkit.testsys.suts``): the names
``josev-secc`` and ``josev-evcc``. This file only adapts the interop harness next to it (josev.py: the
venv, Josev's settings, its log format) to the SUT launcher interface; ``v2gkit.testsys.suts`` loads it from
a source checkout (or from ``V2GKIT_SUT_PLUGINS``). Every allowance made for Josev is listed in
``ALLOWANCES``: the catalog runner marks what they exclude "not applicable" (README.md explains each)."""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
from pathlib import Path

from v2gkit.testsys.suts import Allowance, Launcher, Spawn, SUTConfig, SUTProcess, Where


def _harness():
    """josev.py, loaded once under one name whoever imports this file (pytest, the SUT plugin loader)."""
    name = "v2gkit_josev_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("josev.py"))
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # before running it: its dataclasses look their module up
        spec.loader.exec_module(mod)
    return sys.modules[name]


josev = _harness()

_COMMON = (
    Allowance("no-loopback", "Josev binds to NETWORK_INTERFACE's IPv6 link-local address, which ::1 is not "
              "(its EVCC refuses to start without one): veth only"),
    Allowance("no-tls", "Josev runs without TLS here (its TLS needs the PKI of its create_certs.sh, not set "
              "up): TLS cases do not apply; ISO 15118-20 runs over plain TCP (SDP security 0x10), which the "
              "tester must allow", feature="tls"),
    Allowance("no-pnc", "Josev runs with external identification (EIM) only: Plug & Charge needs its PKI",
              feature="pnc"),
    Allowance("no-wpt", "Josev 0.31.2 has no ISO 15118-20 WPT sessions", feature="wpt"),
    Allowance("no-acdp", "Josev 0.31.2 has no ISO 15118-20 ACDP sessions", feature="acdp"),
    Allowance("slow-exi", "Josev's EXI codec is Java through py4j: 60-450 ms per encode or decode (more for "
              "the first messages), so it misses DIN/ISO-2 performance times such as CurrentDemand's; timing "
              "cases fail on it (a finding, not an allowance)"),
)

_SDP_PAUSED, _SDP_RESUMED = "UDP server has been paused", "UDP server has been resumed"

SECC_ALLOWANCES = _COMMON + (
    Allowance("fixed-offer", "its SECC's offer is hard-wired: DIN DC_extended; ISO 15118-2 DC_extended and "
              "AC_three_phase_core; ISO 15118-20 AC and AC_BPT (namespace -20:AC) or DC and DC_BPT (-20:DC), "
              "parameter sets Scheduled, Dynamic, Dynamic; EIM authorization accepted at once. One process "
              "serves AC and DC cases"),
    Allowance("sdp-paused", "its SECC stops answering SDP while a TCP connection is open and until 5 s after "
              "it closed (\"the TCP connection will close in 5 seconds\"): cases that send SDP again while "
              "connected fail on it; between cases a new process is started instead of waiting"),
    Allowance("silent-on-invalid", "its SECC answers an invalid ISO 15118-20 request with silence (a "
              "validation error ends the session), not a FAILED response: such cases fail on it"),
)

EVCC_ALLOWANCES = _COMMON + (
    Allowance("one-protocol", "its EVCC offers exactly one protocol and one energy service per process "
              "(Josev turns the lists into sets: their order would be random): a fresh process per case, "
              "with the case's protocol"),
    Allowance("no-new-session", "after a successful session its EVCC never sends SDP again, after a failed "
              "one only while SDP retry cycles are left: a fresh process per case"),
    Allowance("first-parameter-set", "its EV takes the SECC's first ISO 15118-20 parameter set (no setting); "
              "control_mode='dynamic' patches it to pick the Dynamic one"),
    Allowance("ignores-response-codes", "its EV ignores the ResponseCode of most ISO 15118-20 responses: "
              "negative -20 cases fail on it"),
    Allowance("notifications", "an EVSENotification other than Terminate or ServiceRenegotiation in an ISO "
              "15118-20 ChargeLoopRes raises NotImplementedError in its EV (the session dies)"),
)


class _Josev(Launcher):
    implementation = f"Josev {josev.JOSEV_VERSION} (PyPI iso15118)"
    links = ("veth",)
    protocols = tuple(josev.PROTOCOLS)  # din, iso2, iso20-ac, iso20-dc
    #: "pause": its ISO 15118-2 and DIN states handle ChargingSession Pause and OK_OldSessionJoined (not run
    #: here yet)
    features = frozenset({"live", "pause", "bpt", "dynamic"})

    def __init__(self, *, min_timeout: float | None = None) -> None:
        #: raise Josev's message timeouts to at least this (README: Timeouts); None: Josev's own
        self.min_timeout = min_timeout

    def prepare(self) -> None:
        """Java and the venv (built once, ~20 s, needs PyPI: before the private namespace)."""
        try:
            josev.josev_python(quiet=True)
        except josev.JosevError as e:
            from v2gkit.testsys.suts import SUTError
            raise SUTError(str(e)) from None

    def _mode(self, config: SUTConfig) -> str:
        return ("dc" if config.dc else "ac") + ("_bpt" if config.bpt else "")

    def _spawn(self, role: str, protocol: str, mode: str, config: SUTConfig, where: Where, workdir: Path,
               **kw: object) -> tuple[Spawn, Path]:
        cwd = Path(tempfile.mkdtemp(prefix=f"{role}-", dir=workdir))
        env = josev.josev_env(role, str(where.sut_interface), protocol, mode, cwd, **kw)
        cm = config.control_mode if role == "evcc" and protocol.startswith("iso20") else None
        argv = josev.josev_command(role, min_timeout=self.min_timeout, control_mode=cm)
        return Spawn(where.sut_command(argv), env, cwd), cwd


class JosevSECC(_Josev):
    """Josev's SECC: every protocol it has in one process (AC and DC alike), plain TCP only."""

    name = "josev-secc"
    role = "secc"
    allowances = SECC_ALLOWANCES
    ready_marker = josev.SECC_READY  # its UDP (SDP) server listens

    def offered(self, config: SUTConfig) -> tuple[str, ...]:
        return config.protocols or self.protocols  # its AC/DC offer is its own (fixed-offer)

    def covers(self, running: SUTConfig, wanted: SUTConfig) -> bool:
        return set(self.offered(wanted)) <= set(self.offered(running))

    def idle(self, p: SUTProcess) -> bool:
        """Josev's SECC pauses its SDP server when a car connects and resumes it only 5 s after the TCP
        connection closed (sdp-paused): a new process (~1.5 s) is quicker than waiting, and it answers the
        next case's first SDP request at once, as an SDP case wants."""
        text = p.text()
        return text.count(_SDP_PAUSED) <= text.count(_SDP_RESUMED)

    def check(self, config: SUTConfig, link: str | None = None) -> None:
        super().check(config, link)
        if config.tls or config.tls_only:
            raise ValueError("josev-secc runs without TLS here (its PKI is not set up)")

    def spawn(self, config: SUTConfig, where: Where, workdir: Path) -> Spawn:
        protos = self.offered(config)
        spawn, cwd = self._spawn("secc", protos[0], josev.MODES[protos[0]][0], config, where, workdir,
                                 every_protocol=set(protos) == set(self.protocols))
        spawn.env["PROTOCOLS"] = ",".join(josev.PROTOCOLS[p] for p in protos)
        dotenv = cwd / ".env"  # josev_env wrote it with one protocol (or all); the environment wins anyway
        line = f"PROTOCOLS={spawn.env['PROTOCOLS']}"
        dotenv.write_text(re.sub(r"(?m)^PROTOCOLS=.*$", line, dotenv.read_text()))
        return spawn


class JosevEVCC(_Josev):
    """Josev's EVCC: one protocol and energy service per process, fresh per case."""

    name = "josev-evcc"
    role = "evcc"
    allowances = EVCC_ALLOWANCES
    ready_marker = "Sending SDPRequest"
    gave_up_markers = ("SDPRequest was not successful", "maximum number of SDP retry cycles")
    used_markers = ("Starting TCP client", "Starting TLS client")

    def default_config(self) -> SUTConfig:
        return SUTConfig(protocols=("iso2",))

    def check(self, config: SUTConfig, link: str | None = None) -> None:
        super().check(config, link)
        protos = config.protocols or ()
        if len(protos) != 1:
            raise ValueError("josev-evcc offers exactly one protocol per process (one-protocol): give one")
        if config.tls:
            raise ValueError("josev-evcc runs without TLS here (its PKI is not set up)")
        josev.check_combination(protos[0], self._mode(config), self._control_mode(config))

    def _control_mode(self, config: SUTConfig) -> str | None:
        """ISO 15118-20 only (a DIN/ISO-2 case against an EVCC configured with one just ignores it)."""
        assert config.protocols is not None
        return config.control_mode if config.protocols[0].startswith("iso20") else None

    def spawn(self, config: SUTConfig, where: Where, workdir: Path) -> Spawn:
        self.check(config, where.link)
        assert config.protocols is not None
        return self._spawn("evcc", config.protocols[0], self._mode(config), config, where, workdir)[0]


SUTS = {"josev-secc": JosevSECC(), "josev-evcc": JosevEVCC()}
