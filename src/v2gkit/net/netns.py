"""Two hosts on one machine: a veth pair between this network namespace (the EV) and a second one (the
charger), so SDP multicast and IPv6 link-local TCP run exactly as on a PLC link, which ``lo`` cannot do.

Needs CAP_NET_ADMIN in the current namespace: run inside ``unshare -rn`` (no root needed where user
namespaces are allowed) or as root. ``v2gkit netns --secc CMD --evcc CMD`` does all of it: it re-runs
itself under ``unshare -rn`` (``run_private``), builds the pair, runs CMD for each side (``run_pair``) and
exits with the EVCC command's status.
"""

from __future__ import annotations

import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["NetnsError", "VethPair", "inside_private_netns", "netns_available", "private_netns_command",
           "run_pair", "run_private"]

EV_IF, SECC_IF = "v2g-ev", "v2g-secc"
EV_ADDR, SECC_ADDR = "fe80::2", "fe80::1"
_ENV_MARK = "V2GKIT_IN_PRIVATE_NETNS"


class NetnsError(RuntimeError):
    """Setting up the namespaces failed; the message names the command and what to check."""


def _run(argv: Sequence[str]) -> None:
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if r.returncode:
        raise NetnsError(f"`{shlex.join(argv)}` failed ({r.returncode}): {r.stderr.strip()}")


def netns_available() -> str | None:
    """None when ``unshare -rn`` and ``ip`` work here, else why not (for skip/fail messages)."""
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found (install util-linux and iproute2)"
    r = subprocess.run(["unshare", "-rn", "ip", "link", "add", "name", "probe0", "type", "veth", "peer", "name",
                        "probe1"], capture_output=True, text=True)
    if r.returncode:
        return f"cannot create a private network namespace with a veth pair: {r.stderr.strip()}"
    return None


def private_netns_command(argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped to run in a fresh private network namespace."""
    return ["unshare", "-rn", "env", f"{_ENV_MARK}=1", *argv]


@dataclass
class VethPair:
    """The EV end stays in this namespace; the charger end lives in a namespace held by a sleeping
    child process. Fixed addresses without duplicate address detection make the link usable at once."""

    ev_if: str = EV_IF
    secc_if: str = SECC_IF
    ev_addr: str = EV_ADDR
    secc_addr: str = SECC_ADDR
    _holder: subprocess.Popen | None = field(default=None, init=False, repr=False)

    @property
    def peer_pid(self) -> int:
        if self._holder is None:
            raise NetnsError("VethPair is not set up")
        return self._holder.pid

    def peer_command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` to run in the charger's namespace."""
        return ["nsenter", "-t", str(self.peer_pid), "-n", *argv]

    def __enter__(self) -> VethPair:
        own = os.readlink("/proc/self/ns/net")
        self._holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"])
        deadline = time.monotonic() + 5
        while True:  # wait until the child sits in its own namespace
            try:
                if os.readlink(f"/proc/{self._holder.pid}/ns/net") != own:
                    break
            except OSError:
                pass
            if self._holder.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise NetnsError("`unshare -n` could not create the charger's namespace "
                                 "(needs CAP_NET_ADMIN: run under `unshare -rn` or as root)")
            time.sleep(0.01)
        try:
            _run(["ip", "link", "add", "name", self.ev_if, "type", "veth", "peer", "name", self.secc_if,
                  "netns", str(self.peer_pid)])
            for cmd, ifname, addr in ((lambda a: a, self.ev_if, self.ev_addr),
                                      (self.peer_command, self.secc_if, self.secc_addr)):
                _run(cmd(["ip", "link", "set", "lo", "up"]))
                _run(cmd(["ip", "link", "set", ifname, "addrgenmode", "none"]))
                _run(cmd(["ip", "-6", "addr", "add", f"{addr}/64", "dev", ifname, "nodad"]))
                _run(cmd(["ip", "link", "set", ifname, "up"]))
            for cmd, ifname in ((lambda a: a, self.ev_if), (self.peer_command, self.secc_if)):
                _wait_carrier(cmd(["ip", "-o", "link", "show", "dev", ifname]))
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Ending the holder removes its namespace and with it both veth ends."""
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait()
            self._holder = None

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait_carrier(show: list[str], timeout: float = 5.0) -> None:
    """Until the kernel reports the link up: datagrams sent before that are silently dropped."""
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run(show, capture_output=True, text=True).stdout
        if "LOWER_UP" in out and "state UP" in out:
            return
        if time.monotonic() > deadline:
            raise NetnsError(f"link did not come up within {timeout:g} s: {out.strip()}")
        time.sleep(0.01)


def _wait_ready(proc: subprocess.Popen, marker: str, timeout: float) -> tuple[list[str], queue.Queue]:
    """Lines the process printed up to the one containing ``marker``, and the queue of later lines."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen, lines
    raise NetnsError(f"charger side did not print {marker!r} within {timeout:g} s; it printed: {seen}")


def _drain(lines: queue.Queue) -> list[str]:
    out = []
    while True:
        try:
            line = lines.get(timeout=2)
        except queue.Empty:
            return out
        if line is None:
            return out
        out.append(line)


def _split(command: str, option: str) -> list[str]:
    """The command's words; NetnsError when it is empty or its program is not found."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise NetnsError(f"{option} {command!r}: {e}") from None
    if not argv:
        raise NetnsError(f"{option} is empty")
    if shutil.which(argv[0]) is None:
        raise NetnsError(f"{option}: no program {argv[0]!r} here (is it on PATH?)")
    return argv


def inside_private_netns() -> bool:
    """Whether this process runs in the namespace ``run_private`` made (and may reshape it)."""
    return os.environ.get(_ENV_MARK) == "1"


def run_private(argv: Sequence[str]) -> int:
    """Run ``argv`` in a fresh private network namespace and return its exit status; the host's own
    namespace stays untouched, as root too. This Python's scripts (``v2gkit``) come first on PATH."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.call(private_netns_command(list(argv)), env=env)


def run_pair(secc: str, evcc: str, *, ready: str = "listening", ready_timeout: float = 30.0,
             timeout: float | None = None) -> int:
    """Inside a private namespace: build the veth pair, start ``secc`` in the charger's namespace, wait
    until it prints ``ready``, run ``evcc`` here (at most ``timeout`` seconds), print both outputs with
    ``[secc]``/``[evcc]`` in front and return the EVCC command's exit status (124 on its timeout)."""
    secc_argv, evcc_argv = _split(secc, "--secc"), _split(evcc, "--evcc")
    with VethPair() as pair:
        charger = subprocess.Popen(pair.peer_command(secc_argv), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        later: queue.Queue | None = None
        try:
            seen, later = _wait_ready(charger, ready, ready_timeout)
            for line in seen:
                print(f"[secc] {line}", flush=True)
            try:
                ev = subprocess.run(evcc_argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, timeout=timeout)
                code, out = ev.returncode, ev.stdout
            except subprocess.TimeoutExpired as e:
                text = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout or ""
                code, out = 124, text + f"error: the EV command ran longer than --timeout {timeout:g} s\n"
            for line in out.splitlines():
                print(f"[evcc] {line}", flush=True)
        finally:
            charger.terminate()
            try:
                charger.wait(timeout=5)
            except subprocess.TimeoutExpired:
                charger.kill()
                charger.wait()
            for line in _drain(later) if later is not None else ():
                print(f"[secc] {line}", flush=True)
        return code
