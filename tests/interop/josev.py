"""Josev (PyPI ``iso15118``, the EcoG-io/SwitchEV ISO 15118 stack) as an interop peer.

Josev runs from its own virtualenv (``~/.cache/v2gkit/josev-venv``, or ``$V2GKIT_JOSEV_VENV``), so
its pinned dependencies (pydantic 1, cryptography 44, ...) never meet v2gkit's. Its EXI codec is a
Java jar driven through py4j: ``java`` must be on PATH.

    python tests/interop/josev.py selftest --protocol din --mode dc   # Josev SECC vs Josev EVCC

runs Josev's SECC in the charger namespace and Josev's EVCC on the EV side of a
:class:`v2gkit.net.netns.VethPair` and reports whether both saw SessionStop end OK;

    python tests/interop/josev.py vs --josev evcc --protocol iso20-dc --mode dc_bpt --control-mode dynamic

runs Josev in one role against v2gkit in the other. DIN SPEC 70121, ISO 15118-2 and ISO 15118-20 (AC,
AC_BPT, DC, DC_BPT; Scheduled and Dynamic). See README.md, which lists every allowance made for Josev.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:
    from v2gkit.net.netns import VethPair, netns_available, private_netns_command
except ImportError:  # run as a script from a checkout without v2gkit installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from v2gkit.net.netns import VethPair, netns_available, private_netns_command

__all__ = [
    "JOSEV_VERSION",
    "JosevError",
    "JosevProcess",
    "Run",
    "check_java",
    "check_combination",
    "chosen_protocol",
    "josev_command",
    "josev_env",
    "josev_python",
    "json_messages",
    "loop_control_mode",
    "message_sequence",
    "run_pair",
    "selected_service",
    "start_josev",
    "stop_reasons",
    "success",
]

JOSEV_VERSION = "0.31.2"
# The full set that was tested: Josev pins only some of its dependencies, and a new environs or
# marshmallow release has broken it before. aiofile is needed by the EVCC but not declared.
REQUIREMENTS = (
    f"iso15118=={JOSEV_VERSION}",
    "aiofile==3.12.3",
    "caio==0.12.10",
    "cffi==2.1.1",
    "cryptography==44.0.0",
    "environs==14.6.0",
    "marshmallow==4.4.0",
    "mypy_extensions==1.2.0",
    "psutil==6.1.1",
    "py4j==0.10.9.9",
    "pycparser==3.12",
    "pydantic==1.10.21",
    "python-dotenv==1.2.4",
    "types-psutil==6.1.0.20241221",
    "types-toml==0.10.8.20260518",
    "typing_extensions==4.16.0",
)
_STAMP = "v2gkit-josev.txt"
_ENV_MARK = "V2GKIT_JOSEV_IN_NETNS"

PROTOCOLS = {"din": "DIN_SPEC_70121", "iso2": "ISO_15118_2",
             "iso20-ac": "ISO_15118_20_AC", "iso20-dc": "ISO_15118_20_DC"}
#: mode -> Josev's EVCC energyTransferMode (DIN/ISO-2); for ISO 15118-20 the mode is the energy service
#: (supportedEnergyServices) and the energyTransferMode is ignored
ENERGY_MODES = {"dc": "DC_extended", "ac": "AC_three_phase_core",
                "dc_bpt": "DC_extended", "ac_bpt": "AC_three_phase_core"}
#: the modes each protocol has: Josev's -20 SECC offers AC/AC_BPT under the -20:AC namespace and DC/DC_BPT
#: under -20:DC (hard-wired in its simulator)
MODES = {"din": ("dc",), "iso2": ("dc", "ac"), "iso20-ac": ("ac", "ac_bpt"), "iso20-dc": ("dc", "dc_bpt")}
#: ISO 15118-20 control modes (ServiceDetail parameter ControlMode 1 and 2)
CONTROL_MODES = ("scheduled", "dynamic")
ROLES = ("secc", "evcc")

# Josev's SECC prints this once its UDP (SDP) server listens on the interface.
SECC_READY = "UDP server started at address"


class JosevError(RuntimeError):
    """Josev cannot be set up or started here; the message says what to install or check."""


# --------------------------------------------------------------------------- installation

def check_java() -> str:
    """Path of a working ``java``: Josev's EXI codec (EXICodec.jar) runs in a JVM via py4j."""
    java = shutil.which("java")
    if java is None:
        raise JosevError("java not found on PATH (Josev's EXI codec is a Java jar): "
                         "apt-get install -y default-jre-headless")
    r = subprocess.run([java, "-version"], capture_output=True, text=True)
    if r.returncode:
        raise JosevError(f"`java -version` failed ({r.returncode}): {r.stderr.strip()} "
                         "(apt-get install -y default-jre-headless)")
    return java


def venv_dir() -> Path:
    return Path(os.environ.get("V2GKIT_JOSEV_VENV") or Path.home() / ".cache" / "v2gkit" / "josev-venv")


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def josev_python(*, quiet: bool = False) -> Path:
    """Python of the Josev venv, created once (cached across runs; rebuilt when the pins change)."""
    check_java()
    venv = venv_dir()
    want = "\n".join(REQUIREMENTS) + "\n"
    py = _venv_python(venv)
    stamp = venv / _STAMP
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return py
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel test worker may be building it right now
        if py.exists() and stamp.exists() and stamp.read_text() == want:
            return py
        t0 = time.monotonic()
        if not quiet:
            print(f"josev: creating {venv} with iso15118=={JOSEV_VERSION} (once; ~20 s)", file=sys.stderr, flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        r = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if r.returncode:
            raise JosevError(f"`{sys.executable} -m venv {venv}` failed: {r.stderr.strip() or r.stdout.strip()} "
                             "(Debian's system Python needs: apt-get install -y python3-venv)")
        r = subprocess.run([str(py), "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
                            "--quiet", *REQUIREMENTS], capture_output=True, text=True)
        if r.returncode:
            shutil.rmtree(venv, ignore_errors=True)
            tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-15:])
            raise JosevError(f"pip install of Josev into {venv} failed ({r.returncode}):\n{tail}")
        r = subprocess.run([str(py), "-c", "import iso15118.secc, iso15118.evcc.main, aiofile, py4j; "
                            "print(iso15118.__version__)"], capture_output=True, text=True)
        if r.returncode or r.stdout.strip() != JOSEV_VERSION:
            raise JosevError(f"Josev venv {venv} does not import: {r.stderr.strip()[-2000:]}")
        stamp.write_text(want)
        if not quiet:
            print(f"josev: venv ready in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    return py


# --------------------------------------------------------------------------- configuration

def check_combination(protocol: str, mode: str, control_mode: str | None = None) -> None:
    """ValueError unless Josev can run ``mode`` (and ``control_mode``) under ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, not {protocol!r}")
    if mode not in MODES[protocol]:
        raise ValueError(f"{protocol} has the modes {', '.join(MODES[protocol])}, not {mode!r}")
    if control_mode is not None and (control_mode not in CONTROL_MODES or not protocol.startswith("iso20")):
        raise ValueError(f"control mode {control_mode!r}: ISO 15118-20 only, one of {', '.join(CONTROL_MODES)}")


def evcc_config(protocol: str, mode: str, *, charge_loop_cycles: int = 10) -> dict:
    """Josev's EVCC JSON config (EVCC_CONFIG_PATH): the EV side's protocols, energy mode and TLS."""
    check_combination(protocol, mode)
    proto, etm = PROTOCOLS[protocol], ENERGY_MODES[mode]
    return {
        # one protocol only: Josev turns this list into a set(), so the priority order of several is random
        "supportedProtocols": [proto],
        # ISO 15118-20 only: exactly one service, Josev's EV takes the first match in the SECC's order
        "supportedEnergyServices": [mode.upper()],
        "energyTransferMode": etm,
        "isCertInstallNeeded": False,
        "useTls": False,  # the default is True
        "enforceTls": False,
        "sdpRetryCycles": 1,
        "chargeLoopCycle": charge_loop_cycles,
        "chargeLoopDelay": 0,
    }


def josev_settings(role: str, interface: str, protocol: str, mode: str, workdir: Path | str, *,
                   log_level: str = "INFO", charge_loop_cycles: int = 10,
                   every_protocol: bool = False) -> dict[str, str]:
    """Only the variables Josev reads for ``role`` (``secc``/``evcc``); writes the EVCC config JSON
    and a ``.env`` with the same values into ``workdir`` (Josev's cwd, see josev_env)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    check_combination(protocol, mode)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    s = {
        "NETWORK_INTERFACE": interface,  # must carry an IPv6 link-local address (psutil looks it up)
        "LOG_LEVEL": log_level,
        "MESSAGE_LOG_JSON": "True",  # logs every message as JSON: message_sequence() reads it
        "MESSAGE_LOG_EXI": "True" if log_level == "DEBUG" else "False",  # hex of each EXI stream, DEBUG only
        "ENABLE_TLS_1_3": "False",
    }
    if role == "secc":
        s.update({
            "PROTOCOLS": ",".join(PROTOCOLS.values()) if every_protocol else PROTOCOLS[protocol],
            "AUTH_MODES": "EIM",
            "SECC_ENFORCE_TLS": "False",
            "FREE_CHARGING_SERVICE": "False",
            "FREE_CERT_INSTALL_SERVICE": "False",
            "ALLOW_CERT_INSTALL_SERVICE": "False",
            "USE_CPO_BACKEND": "False",
            "STANDBY_ALLOWED": "False",
        })
        # The SECC's energy modes are hard-wired in its simulator (DIN: DC_extended; ISO 15118-2:
        # DC_extended and AC_three_phase_core; -20:AC: AC and AC_BPT; -20:DC: DC and DC_BPT, each with
        # the parameter sets Scheduled, Dynamic, Dynamic): the EV's choice decides.
    else:
        cfg = workdir / "evcc_config.json"
        cfg.write_text(json.dumps(evcc_config(protocol, mode, charge_loop_cycles=charge_loop_cycles), indent=2) + "\n")
        s["EVCC_CONFIG_PATH"] = str(cfg)
    # Josev also reads ./.env and, failing that, any .env in a parent directory (environs recurses to
    # /); one here stops that search, and the process environment wins over it anyway.
    (workdir / ".env").write_text("".join(f"{k}={v}\n" for k, v in s.items()))
    return s


def josev_env(role: str, interface: str, protocol: str, mode: str, workdir: Path | str, *,
              log_level: str = "INFO", charge_loop_cycles: int = 10,
              base: Mapping[str, str] | None = None, every_protocol: bool = False) -> dict[str, str]:
    """The full environment to start Josev's ``role`` with (start it with cwd=workdir).

    ``base`` (default: os.environ) minus what would leak another Python into Josev's venv."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.update(josev_settings(role, interface, protocol, mode, workdir, log_level=log_level,
                              charge_loop_cycles=charge_loop_cycles, every_protocol=every_protocol))
    env["PYTHONUNBUFFERED"] = "1"
    return env


# Runs Josev's entry module after two optional patches (argv: role, timeout floor, control mode):
# - a floor > 0 raises its message timeouts to it. Josev's timeouts are float Enums bound by
#   ``from ... import Timeouts`` when its state modules load, so the classes are replaced before
#   anything else of Josev is imported;
# - a control mode (1 Scheduled, 2 Dynamic; 0 none) makes Josev's simulated EV pick the first parameter
#   set with that ControlMode: unpatched it takes the SECC's first set (Scheduled with Josev's SECC).
_PATCHED_MAIN = """\
import enum, importlib, runpy, sys
role, floor, control_mode = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
if floor > 0:
    for name in ("timeouts", "din_spec.timeouts", "iso15118_2.timeouts", "iso15118_20.timeouts"):
        mod = importlib.import_module("iso15118.shared.messages." + name)
        old = mod.Timeouts
        mod.Timeouts = enum.Enum(old.__name__, [(k, max(float(v.value), floor)) for k, v in old.__members__.items()],
                                 type=float, module=old.__module__)
    print(f"v2gkit: Josev timeouts below {floor:g} s raised to {floor:g} s", flush=True)
if role == "evcc" and control_mode:
    from iso15118.evcc.controller import simulator
    select = simulator.SimEVController.select_energy_service_v20
    async def select_control_mode(self, services):
        chosen = await select(self, services)
        for ps in services[0].parameter_sets:
            if any(p.name == "ControlMode" and p.int_value == control_mode for p in ps.parameters):
                chosen.parameter_set = ps
                break
        print(f"v2gkit: Josev EV selects parameter set {chosen.parameter_set.id} (wanted ControlMode "
              f"{control_mode})", flush=True)
        return chosen
    simulator.SimEVController.select_energy_service_v20 = select_control_mode
sys.argv = ["iso15118." + role + ".main"]
runpy.run_module("iso15118." + role + ".main", run_name="__main__", alter_sys=True)
"""


def josev_command(role: str, *, min_timeout: float | None = None, control_mode: str | None = None) -> list[str]:
    """argv that starts Josev's SECC or EVCC (the package's module entry points, as
    ``python -m iso15118.secc.main``). ``min_timeout`` raises every message timeout of Josev's
    (CurrentDemandReq: 0.25 s) to at least that many seconds; ``control_mode`` (EVCC, ISO 15118-20)
    makes its EV select a parameter set of that control mode, see README.md."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    if control_mode is not None and control_mode not in CONTROL_MODES:
        raise ValueError(f"control_mode must be one of {CONTROL_MODES}, not {control_mode!r}")
    py = str(josev_python())
    if min_timeout is None and control_mode is None:
        return [py, "-m", f"iso15118.{role}.main"]
    cm = 0 if control_mode is None else CONTROL_MODES.index(control_mode) + 1
    return [py, "-c", _PATCHED_MAIN, role, repr(float(min_timeout or 0.0)), str(cm)]


# --------------------------------------------------------------------------- reading its log

_LINE = re.compile(r"^(?P<level>[A-Z]+)\s+(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (?P<logger>[\w.]+) \(\d+\): (?P<msg>.*)$")
_SENT = re.compile(r"^Sent (\w+)$")
_RECEIVED = re.compile(r"^(\w+) received$")
_DECODED = re.compile(r"^Decoded message \(ns=[^)]*\): (.*)$")
_REASON = re.compile(r"^Reason: (.*)$")


def _records(log_text: str):
    for line in log_text.splitlines():
        m = _LINE.match(line)
        if m:
            yield m


def message_sequence(log_text: str) -> list[tuple[str, str]]:
    """[("sent"|"received", message name), ...] in order, from Josev's comm_session log lines,
    e.g. ("sent", "SessionSetupReq"), ("received", "SessionSetupRes")."""
    out = []
    for m in _records(log_text):
        if m["logger"] != "iso15118.shared.comm_session":
            continue
        if s := _SENT.match(m["msg"]):
            out.append(("sent", s[1]))
        elif r := _RECEIVED.match(m["msg"]):
            out.append(("received", r[1]))
    return out


def chosen_protocol(log_text: str) -> str | None:
    """The protocol agreed in SupportedAppProtocol (``DIN_SPEC_70121``, ``ISO_15118_2``), if any."""
    for m in _records(log_text):
        if m["msg"].startswith("Chosen protocol: "):
            return m["msg"].split(": ", 1)[1].strip()
    return None


def stop_reasons(log_text: str) -> list[str]:
    """Why each communication session ended ('Reason: ...' lines)."""
    return [r[1] for m in _records(log_text) if (r := _REASON.match(m["msg"]))]


def json_messages(log_text: str) -> list[tuple[str, str, dict]]:
    """[("sent"|"received", message name, body), ...] from the JSON Josev logs with MESSAGE_LOG_JSON
    (``Message to encode`` / ``Decoded message``). DIN/ISO-2 bodies sit in ``V2G_Message.Body``; ISO
    15118-20 messages (and the SAP ones) are logged unwrapped, ``{"SessionStopRes": {...}}``."""
    out = []
    for m in _records(log_text):
        msg = m["msg"]
        if not msg.startswith(("Decoded message", "Message to encode")):
            continue
        try:
            doc = json.loads(msg.split("): ", 1)[1])
            if "V2G_Message" in doc:
                doc = doc["V2G_Message"]["Body"]
            (name, body), = doc.items()
        except (ValueError, KeyError, IndexError, AttributeError):
            continue
        out.append(("received" if msg.startswith("Decoded") else "sent", name, body))
    return out


def _session_stop_res_ok(log_text: str) -> bool | None:
    """ResponseCode of the decoded/encoded SessionStopRes JSON, when MESSAGE_LOG_JSON is on."""
    seen = None
    for _, name, body in json_messages(log_text):
        if name == "SessionStopRes":
            seen = isinstance(body, dict) and body.get("ResponseCode") == "OK"
    return seen


def selected_service(log_text: str) -> tuple[int, int] | None:
    """ISO 15118-20: (ServiceID, ParameterSetID) of the ServiceSelectionReq, e.g. (6, 2) for DC_BPT with
    Josev's Dynamic parameter set."""
    for _, name, body in json_messages(log_text):
        if name == "ServiceSelectionReq":
            sel = body.get("SelectedEnergyTransferService", {})
            return sel.get("ServiceID"), sel.get("ParameterSetID")
    return None


def loop_control_mode(log_text: str) -> str | None:
    """ISO 15118-20: the control-mode element of the first charge-loop request, e.g.
    ``BPT_Dynamic_DC_CLReqControlMode``: which service and control mode the session really ran."""
    for _, name, body in json_messages(log_text):
        if name in ("AC_ChargeLoopReq", "DC_ChargeLoopReq"):
            return next((k for k in body if k.endswith("_CLReqControlMode")), None)
    return None


# What Josev logs as the reason when a session ended through SessionStop (see comm_session.stop).
_OK_REASONS = {
    "evcc": ("Communication session stopped successfully",  # DIN SPEC 70121
             "Communication session terminated"),  # ISO 15118-2 and -20 (ChargingSession=Terminate)
    "secc": ("Communication session stopped successfully",  # DIN SPEC 70121
             "EV requested to terminate the communication session",  # ISO 15118-2
             "Communication session terminated"),  # ISO 15118-20 ("... EV Info: <EVTerminationExplanation>")
}


def success(log_text: str, role: str) -> bool:
    """Josev's ``role`` completed a session through SessionStopReq/Res with ResponseCode OK."""
    seq = message_sequence(log_text)
    if role == "evcc":
        exchanged = ("sent", "SessionStopReq") in seq and ("received", "SessionStopRes") in seq
    elif role == "secc":
        exchanged = ("received", "SessionStopReq") in seq and ("sent", "SessionStopRes") in seq
    else:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    ok_code = _session_stop_res_ok(log_text)
    return (exchanged and ok_code is not False
            and any(r.startswith(_OK_REASONS[role]) for r in stop_reasons(log_text)))


# --------------------------------------------------------------------------- running

@dataclass
class JosevProcess:
    """A running Josev SECC or EVCC; its output goes to ``log_path`` and into ``lines``.

    Neither role exits after a session (the SECC serves the next one; the EVCC idles after its last
    SDP cycle): wait with :meth:`wait_success`, then :meth:`stop`."""

    role: str
    proc: subprocess.Popen
    log_path: Path
    started: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    _q: queue.Queue = field(default_factory=queue.Queue, repr=False)
    _ended: bool = field(default=False, repr=False)

    @classmethod
    def spawn(cls, role: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> JosevProcess:
        proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1)
        p = cls(role, proc, Path(log_path), time.monotonic())
        threading.Thread(target=p._pump, daemon=True).start()
        return p

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        with open(self.log_path, "w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                self._q.put((time.monotonic(), line.rstrip("\n")))
        self._q.put(None)

    def poll_lines(self) -> bool:
        """Move queued lines to ``lines``; False once the output has ended."""
        while not self._ended:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return True
            if item is None:
                self._ended = True
            else:
                self.lines.append(item)
        return False

    def first(self, needle: str) -> float | None:
        """Seconds from start to the first line containing ``needle``."""
        for t, line in self.lines:
            if needle in line:
                return t - self.started
        return None

    @property
    def text(self) -> str:
        self.poll_lines()
        return "\n".join(line for _, line in self.lines)

    @property
    def ok(self) -> bool:
        return success(self.text, self.role)

    def wait_for(self, needle: str, timeout: float) -> float:
        """Until a line contains ``needle``; seconds since start. JosevError with the log tail if not."""
        deadline = time.monotonic() + timeout
        while (t := self.first(needle)) is None:
            if not self.poll_lines() or time.monotonic() > deadline:
                why = "exited" if self.proc.poll() is not None else f"nothing within {timeout:g} s"
                raise JosevError(f"Josev {self.role} printed no {needle!r} ({why}); log {self.log_path}:\n"
                                 + "\n".join(self.text.splitlines()[-30:]))
            time.sleep(0.02)
        return t

    def wait_ready(self, timeout: float = 30.0) -> float:
        """SECC: until its SDP server listens (~2-4 s: the JVM starts first)."""
        return self.wait_for(SECC_READY if self.role == "secc" else "Sending SDPRequest", timeout)

    def wait_success(self, timeout: float) -> bool:
        """Until success(); False on timeout, exit, or once the EVCC has given up (no SDP cycles left)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = self.poll_lines()
            if self.ok:
                return True
            if not alive or (self.role == "evcc" and "maximum number of SDP retry cycles" in self.text):
                return False
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """SIGTERM to Josev's Python, then to its py4j JVM (SIGKILL for either after a few seconds),
        so no Java process outlives the namespace's use."""
        jvms = _children(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        jvms = [p for p in jvms if _is_java(p)]  # not a pid reused since
        for sig in (15, 9):
            for pid in jvms:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 3
            while (jvms := [p for p in jvms if _is_java(p)]) and time.monotonic() < deadline:
                time.sleep(0.02)
        deadline = time.monotonic() + 3
        while self.poll_lines() and time.monotonic() < deadline:
            time.sleep(0.02)

    def __enter__(self) -> JosevProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _is_java(pid: int) -> bool:
    try:
        return b"java" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Josev's py4j JVM)."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return out


def start_josev(role: str, pair: VethPair, protocol: str, mode: str, workdir: Path | str, *,
                min_timeout: float | None = None, log_level: str = "INFO",
                charge_loop_cycles: int = 10, every_protocol: bool = False,
                control_mode: str | None = None) -> JosevProcess:
    """Start Josev's ``role`` on ``pair``: the SECC in the charger namespace on ``pair.secc_if``, the
    EVCC in this namespace on ``pair.ev_if``. Logs go to ``workdir/<role>.log``; cwd is
    ``workdir/<role>``. ``control_mode`` (ISO 15118-20, EVCC only; ignored for the SECC, which offers
    both) patches Josev's EV to select it. Use as a context manager, or call stop()."""
    workdir = Path(workdir)
    cwd = workdir / role
    iface = pair.secc_if if role == "secc" else pair.ev_if
    check_combination(protocol, mode, control_mode)
    env = josev_env(role, iface, protocol, mode, cwd, log_level=log_level, charge_loop_cycles=charge_loop_cycles,
                    every_protocol=every_protocol)
    argv = josev_command(role, min_timeout=min_timeout, control_mode=control_mode if role == "evcc" else None)
    if role == "secc":
        argv = pair.peer_command(argv)
    return JosevProcess.spawn(role, argv, env, cwd, workdir / f"{role}.log")


@dataclass
class Run:
    protocol: str
    mode: str
    secc_ok: bool
    evcc_ok: bool
    secc_ready_s: float | None  # SECC start -> SDP server listening (JVM start included)
    evcc_session_s: float | None  # EVCC start -> SessionStopRes received
    evcc_sdp_s: float | None  # EVCC start -> SDP request sent
    evcc_first_msg_s: float | None  # EVCC start -> supportedAppProtocolReq sent
    total_s: float
    secc_protocol: str | None
    evcc_protocol: str | None
    secc_log: Path
    evcc_log: Path
    evcc_sequence: list[tuple[str, str]]
    #: ISO 15118-20: (ServiceID, ParameterSetID) selected and the charge loop's control-mode element
    selected: tuple[int, int] | None = None
    loop_mode: str | None = None

    @property
    def ok(self) -> bool:
        return self.secc_ok and self.evcc_ok


def run_pair(pair: VethPair, protocol: str, mode: str, workdir: Path, *, timeout: float = 90.0,
             log_level: str = "INFO", charge_loop_cycles: int = 10, min_timeout: float | None = None,
             control_mode: str | None = None) -> Run:
    """Josev SECC in the charger namespace against Josev EVCC here, one session; both stopped after."""
    t0 = time.monotonic()
    kw = dict(min_timeout=min_timeout, log_level=log_level, charge_loop_cycles=charge_loop_cycles,
              control_mode=control_mode)
    with start_josev("secc", pair, protocol, mode, workdir, **kw) as secc:
        secc.wait_ready(timeout)
        with start_josev("evcc", pair, protocol, mode, workdir, **kw) as evcc:
            left = max(1.0, timeout - (time.monotonic() - t0))
            if evcc.wait_success(left):
                secc.wait_success(5.0)  # the SECC logs its stop reason right after sending SessionStopRes
            elif "maximum number of SDP retry cycles" in evcc.text:
                time.sleep(0.5)
    return Run(
        protocol=protocol, mode=mode, secc_ok=secc.ok, evcc_ok=evcc.ok,
        secc_ready_s=secc.first(SECC_READY),
        evcc_session_s=evcc.first("SessionStopRes received"),
        evcc_sdp_s=evcc.first("Sending SDPRequest"),
        evcc_first_msg_s=evcc.first("Sent supportedAppProtocolReq"),
        total_s=time.monotonic() - t0,
        secc_protocol=chosen_protocol(secc.text), evcc_protocol=chosen_protocol(evcc.text),
        secc_log=secc.log_path, evcc_log=evcc.log_path, evcc_sequence=message_sequence(evcc.text),
        selected=selected_service(evcc.text), loop_mode=loop_control_mode(evcc.text),
    )


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def _selftest(args: argparse.Namespace) -> int:
    keep = Path(args.logs).resolve() if args.logs else None
    combos = [(p, m) for p in (list(PROTOCOLS) if args.protocol == "all" else [args.protocol])
              for m in (MODES[p] if args.mode == "all" else [args.mode])
              if args.protocol != "all" or m in MODES[p]]
    try:
        for p, m in combos:
            check_combination(p, m, args.control_mode if p.startswith("iso20") else None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = 0
    with VethPair() as pair:
        for protocol, mode in combos:
            with contextlib.ExitStack() as stack:
                if keep is not None:
                    workdir = keep / (f"{protocol}-{mode}" + (f"-{args.control_mode}" if args.control_mode and
                                                              protocol.startswith("iso20") else ""))
                    shutil.rmtree(workdir, ignore_errors=True)
                    workdir.mkdir(parents=True)
                else:
                    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="josev-")))
                for attempt in range(1, args.repeat + 1):
                    cm = args.control_mode if protocol.startswith("iso20") else None
                    run_dir = workdir / str(attempt) if args.repeat > 1 else workdir
                    r = run_pair(pair, protocol, mode, run_dir, timeout=args.timeout, log_level=args.log_level,
                                 charge_loop_cycles=args.cycles,
                                 min_timeout=None if args.strict else args.min_timeout, control_mode=cm)
                    tag = f"{protocol}-{mode}" + (f"-{cm}" if cm else "") + (f" #{attempt}" if args.repeat > 1 else "")
                    extra = f"  selected={r.selected}  loop={r.loop_mode}" if protocol.startswith("iso20") else ""
                    print(f"{tag}: {'PASS' if r.ok else 'FAIL'}  secc_ok={r.secc_ok} evcc_ok={r.evcc_ok}  "
                          f"protocol={r.evcc_protocol}  secc_ready={_fmt(r.secc_ready_s)}  "
                          f"evcc_first_msg={_fmt(r.evcc_first_msg_s)}  evcc_session_stop={_fmt(r.evcc_session_s)}  "
                          f"total={_fmt(r.total_s)}  messages={len(r.evcc_sequence)}{extra}", flush=True)
                    if not r.ok:
                        failed += 1
                        for role, path in (("secc", r.secc_log), ("evcc", r.evcc_log)):
                            text = path.read_text()
                            print(f"  {role} stop reasons: {stop_reasons(text)}")
                            tail = [ln for ln in text.splitlines() if " - iso15118" in ln or "Error" in ln][-12:]
                            print("\n".join(f"  [{role}] {ln[:300]}" for ln in tail))
                        if keep is None:
                            print("  (re-run with --logs DIR to keep the full logs)")
                    elif args.verbose:
                        print("  " + " ".join(f"{'>' if d == 'sent' else '<'}{n}" for d, n in r.evcc_sequence))
    return 1 if failed else 0


V2GKIT = [sys.executable, "-m", "v2gkit.cli.main"]


#: ISO 15118-20, the v2gkit EVCC against Josev's SECC: Josev's simulated EVSE reports 1 V in DC_PreChargeRes
#: (and ~1 W of power in the loop, so no car ever fills up): the EV takes any PreCharge voltage and stops
#: by itself after 3 s (about 10 charge loops, as many as Josev's own EV runs). The message timeouts stay
#: the standard's (0.5 s in the charge loop): Josev's SECC answers in 20-80 ms here.
_RELAXED_EVCC20 = """
[evcc.ev]
stop_at = 3.0
[evcc.session20]
pre_charge_tolerance = 1000.0
"""
#: ISO 15118-20, the v2gkit SECC against Josev's EVCC: after a ChargeLoopRes the SECC waits 0.5 s for the next
#: request (V2G_SECC_Sequence_Timeout); Josev's EV decodes our answer and encodes its next request through
#: py4j, which took up to 442 ms with the two cores loaded. 2 s here, so CI load does not make it flaky.
#: (A 0.5 s simulated cable check instead of 2 s: Josev's EV polls DC_CableCheckReq without a pause.)
_RELAXED_SECC20 = """
[secc.session20]
loop_sequence_timeout = 2.0
"""
_SECC20_DC_EVSE = """
[secc.evse]
cable_check_time = 0.5
"""


def v2gkit_options(role: str, protocol: str, mode: str, control_mode: str | None) -> list[str]:
    """The options of ``v2gkit secc``/``v2gkit evcc`` (``role``: v2gkit's) that match Josev's ``protocol``
    and ``mode``. For ISO 15118-20: plain TCP (Josev's -20 EIM set-up has no TLS), BPT, and the control
    mode: the v2gkit SECC offers that mode's parameter set first (Josev's EV takes the first), the v2gkit EV
    selects it. The v2gkit SECC offers its default schedule tuple, which carries a (zero-fee) price
    schedule as [V2G20-2176] wants: Josev's EV refuses a ChargingSchedule without one (see README.md)."""
    check_combination(protocol, mode, control_mode)
    opts = ["--protocols", protocol, "--ac" if mode.startswith("ac") else "--dc"]
    if protocol.startswith("iso20"):
        opts += ["--allow-iso20-without-tls", "--control-mode", control_mode or "scheduled"]
        if mode.endswith("_bpt"):
            opts.append("--bpt")
    return opts

#: the v2gkit EVCC's settings against Josev's SECC: Josev's EXI codec (Java through py4j) answers in
#: 60-450 ms, beyond DIN/ISO-2's 0.25 s CurrentDemand timeout, so every timeout gets slack here
_RELAXED_EVCC = """
[evcc.ev]
stop_at = 6.0
[evcc.session]
loop_interval = 0.1
# Josev's simulated EVSE reports 1 V during PreCharge; a real car would wait for its battery voltage
pre_charge_tolerance = 1000.0
msg_timeout_default = 4.0
msg_timeouts = { ServiceDetail = 5.0, PowerDelivery = 5.0, CurrentDemand = 2.0 }
"""


def _between(p: JosevProcess, start: str, end: str) -> float | None:
    """Seconds between Josev's first line with ``start`` and its first with ``end`` (the session proper,
    without the JVM start)."""
    a, b = p.first(start), p.first(end)
    return None if a is None or b is None else b - a


def _vs(args: argparse.Namespace) -> int:
    """One session between Josev (``args.josev`` role) and v2gkit (the other role) on the veth pair."""
    protocol, mode = args.protocol, args.mode
    cm = args.control_mode if protocol.startswith("iso20") else None
    try:
        opts = v2gkit_options("secc" if args.josev == "evcc" else "evcc", protocol, mode, cm)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    keep = Path(args.logs).resolve() if args.logs else None
    with contextlib.ExitStack() as stack:
        if keep is not None:
            workdir = keep / f"josev-{args.josev}-{protocol}-{mode}{f'-{cm}' if cm else ''}"
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="josev-vs-")))
        pair = stack.enter_context(VethPair())
        v2g_log = workdir / "v2gkit.log"
        t0 = time.monotonic()
        if args.josev == "evcc":
            extra = []
            if protocol.startswith("iso20"):
                (workdir / "secc.toml").write_text(_RELAXED_SECC20 + (_SECC20_DC_EVSE if protocol == "iso20-dc" else ""))
                extra = ["--config", str(workdir / "secc.toml")]
            cmd = pair.peer_command(V2GKIT + ["secc", "-i", pair.secc_if, *opts, *extra, "--once"])
            with open(v2g_log, "w") as out:
                secc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 30
                while "listening" not in v2g_log.read_text():
                    if time.monotonic() > deadline or secc.poll() is not None:
                        print(f"v2gkit SECC did not start: {v2g_log.read_text()}")
                        return 1
                    time.sleep(0.05)
                with start_josev("evcc", pair, protocol, mode, workdir) as ev:
                    josev_ok = ev.wait_success(args.timeout)
                    text = ev.text
                    session_s = _between(ev, "Sent supportedAppProtocolReq", "SessionStopRes received")
                v2g_rc = secc.wait(timeout=15)
            finally:
                if secc.poll() is None:
                    secc.kill()
            v2g_text = v2g_log.read_text()
        else:
            cfg = workdir / "evcc.toml"
            cfg.write_text(_RELAXED_EVCC20 if protocol.startswith("iso20") else _RELAXED_EVCC)
            with start_josev("secc", pair, protocol, mode, workdir) as se:
                se.wait_ready(args.timeout)
                r = subprocess.run(V2GKIT + ["evcc", "-i", pair.ev_if, *opts, "--soc",
                                             "60", "--target-soc", "90", "--config", str(cfg), "--json"],
                                   capture_output=True, text=True, timeout=args.timeout)
                v2g_rc, v2g_text = r.returncode, r.stdout + r.stderr
                se.wait_success(10.0)
                josev_ok, text = se.ok, se.text
                session_s = _between(se, "supportedAppProtocolReq received", "Sent SessionStopRes")
            v2g_log.write_text(v2g_text)
        seq, reasons = message_sequence(text), stop_reasons(text)
        ok = josev_ok and v2g_rc == 0
        other = "secc" if args.josev == "evcc" else "evcc"
        extra = (f"  selected={selected_service(text)}  loop={loop_control_mode(text)}"
                 if protocol.startswith("iso20") else "")
        print(f"josev-{args.josev} vs v2gkit-{other} {protocol}-{mode}{f'-{cm}' if cm else ''}: "
              f"{'PASS' if ok else 'FAIL'}  josev_ok={josev_ok} v2gkit_exit={v2g_rc}  josev_messages={len(seq)}  "
              f"session={_fmt(session_s)}  total={time.monotonic() - t0:.1f} s{extra}", flush=True)
        print("  josev: " + " ".join(f"{'>' if d == 'sent' else '<'}{n}" for d, n in seq))
        print("  josev stop reasons: " + "; ".join(reasons))
        print("  v2gkit: " + "\n  v2gkit: ".join(v2g_text.strip().splitlines()[-4:]))
        return 0 if ok else 1


def _replay(args: argparse.Namespace) -> int:
    """Real cars' recorded sessions (``v2gkit replay cars``) into Josev's SECC, DIN and ISO 15118-2 at once,
    found by SDP on the veth pair: the replay adapts the SessionIDs Josev assigns."""
    with contextlib.ExitStack() as stack:
        workdir = (Path(args.logs).resolve() / "josev-replay") if args.logs else Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="josev-replay-")))
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        pair = stack.enter_context(VethPair())
        se = stack.enter_context(start_josev("secc", pair, "iso2", "dc", workdir, every_protocol=True))
        se.wait_ready(args.timeout)
        cmd = V2GKIT + ["replay", "cars", "--secc-interface", pair.ev_if, "-v", *args.replay_args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout * 20)
        print(r.stderr + r.stdout, flush=True)
        print(f"v2gkit replay exit status {r.returncode}; Josev SECC log: {se.log_path}")
        return r.returncode


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tests/interop/josev.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install", help="create the Josev venv (if needed) and print its python")
    st = sub.add_parser("selftest", help="Josev SECC vs Josev EVCC over the veth pair")
    st.add_argument("--protocol", choices=[*PROTOCOLS, "all"], default="din")
    st.add_argument("--mode", choices=[*ENERGY_MODES, "all"], default="dc",
                    help="dc/ac; ISO 15118-20 also dc_bpt/ac_bpt (the energy service); all: each of the protocol's")
    st.add_argument("--control-mode", choices=CONTROL_MODES,
                    help="ISO 15118-20: the control mode Josev's EV selects (patched; unpatched it takes the "
                         "SECC's first parameter set, Scheduled)")
    st.add_argument("--timeout", type=float, default=90.0, help="per session, s")
    st.add_argument("--repeat", type=int, default=1, help="sessions per protocol/mode")
    st.add_argument("--cycles", type=int, default=10, help="EVCC charge loop cycles (Josev default 10)")
    st.add_argument("--min-timeout", type=float, default=2.0,
                    help="raise Josev's message timeouts (CurrentDemand: 0.25 s) to at least this, s")
    st.add_argument("--strict", action="store_true", help="keep Josev's own timeouts")
    st.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    st.add_argument("--logs", help="keep Josev's logs in this directory")
    st.add_argument("-v", "--verbose", action="store_true", help="print the EVCC's message sequence")
    vs = sub.add_parser("vs", help="Josev in one role against v2gkit in the other, over the veth pair")
    vs.add_argument("--josev", choices=["secc", "evcc"], required=True, help="Josev's role")
    vs.add_argument("--protocol", choices=list(PROTOCOLS), default="din")
    vs.add_argument("--mode", choices=list(ENERGY_MODES), default="dc",
                    help="dc/ac; ISO 15118-20 also dc_bpt/ac_bpt")
    vs.add_argument("--control-mode", choices=CONTROL_MODES, default="scheduled",
                    help="ISO 15118-20: the control mode (the v2gkit side offers or selects it)")
    vs.add_argument("--timeout", type=float, default=90.0)
    vs.add_argument("--logs", help="keep the logs in this directory")
    rp = sub.add_parser("replay", help="v2gkit replay cars into Josev's SECC (DIN and ISO 15118-2)")
    rp.add_argument("--timeout", type=float, default=90.0, help="Josev start and per-session bound, s")
    rp.add_argument("--logs", help="keep Josev's log in this directory")
    rp.add_argument("replay_args", nargs="*", help="options for v2gkit replay cars (after --), e.g. -- --kept")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "install":
            print(josev_python())
            return 0
        if os.environ.get(_ENV_MARK) != "1":
            # the venv (pip needs the network) before entering the private namespace, which has none
            t0 = time.monotonic()
            py = josev_python()
            print(f"josev {JOSEV_VERSION}: {py} ({time.monotonic() - t0:.1f} s); java: {check_java()}", flush=True)
            why = netns_available()
            if why is not None:
                print(f"error: {why}", file=sys.stderr)
                return 2
            env = dict(os.environ, **{_ENV_MARK: "1"})
            return subprocess.call(private_netns_command([sys.executable, str(Path(__file__).resolve()),
                                                          *(sys.argv[1:] if argv is None else argv)]), env=env)
        return {"vs": _vs, "replay": _replay}.get(args.cmd, _selftest)(args)
    except JosevError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
