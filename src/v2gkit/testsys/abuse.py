"""Hostile and broken peers for an SECC, and the real processes to aim them at.

Each attack is a coroutine ``attack(target, seconds, rng)`` that keeps a bounded number of workers
busy until its deadline and returns :class:`AttackStats`. They speak to any SECC reachable by TCP and
UDP; the abuse suite (``tests/test_abuse.py``, ``benchmarks/abuse_bench.py``) runs them on loopback
against a ``v2gkit secc --loopback`` process (:class:`SeccProcess`) while a real ``v2gkit evcc``
charges again and again (:func:`car_session`), and checks the car is served and the SECC's memory and
file descriptors come back.

The attacks: ``idle`` (connect, say nothing), ``random_bytes``, ``huge_length`` (V2GTP headers that claim
up to 4 GiB, or 64 KiB and then stall), ``slowloris`` (the handshake one byte at a time),
``quiet_after_handshake`` (a good handshake, then no SessionSetupReq), ``garbage``
(junk after a good supportedAppProtocol handshake), ``out_of_order`` (valid ISO 15118-2 requests in the
wrong order or with a wrong SessionID), ``churn`` (connect and close at once), ``sdp_flood`` (valid and
junk SDP datagrams as fast as they go), ``oversized`` (a schema-valid SessionSetupReq padded with
thousands of empty xmldsig References) and ``mixed`` (up to 100,000 short connections of several kinds
while in-process cars run full sessions).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..exi import api as exi
from ..exi import samples
from ..exi.gen import iso2
from ..sdp import SDPRequest
from ..session.handshake import EVHandshake, protocol_list
from ..v2gtp import HEADER_SIZE, PayloadType, frame

__all__ = [
    "ATTACKS",
    "AttackStats",
    "CarResult",
    "Phase",
    "SeccProcess",
    "Target",
    "car_session",
    "oversized_session_setup",
    "run_phase",
    "settle",
]

CLI = [sys.executable, "-m", "v2gkit.cli.main"]


@dataclass(frozen=True)
class Target:
    """Where the SECC listens: TCP ``port`` and UDP ``sdp_port`` on ``host``."""

    host: str
    port: int
    sdp_port: int


@dataclass
class AttackStats:
    name: str
    connections: int = 0
    #: connections the SECC closed (EOF or reset) while the attacker still had something to say
    closed_by_secc: int = 0
    #: connect() failures (refused, reset during set-up)
    refused: int = 0
    datagrams: int = 0
    bytes_sent: int = 0
    answers: int = 0
    #: full charging sessions run by in-process cars (``mixed``), and how many of them failed
    sessions: int = 0
    sessions_failed: int = 0


# ------------------------------------------------------------------------------------------ messages
_SAP_REQUEST = frame(PayloadType.EXI, EVHandshake(protocol_list("iso2")).request())


def _iso2(session_id: bytes, **body: object) -> bytes:
    msg = iso2.V2G_MessageType(header=iso2.MessageHeaderType(session_id=session_id), body=iso2.BodyType(**body))
    return frame(PayloadType.EXI, exi.encode(msg))


def oversized_session_setup(references: int) -> bytes:
    """A schema-valid ISO 15118-2 SessionSetupReq (V2GTP-framed) whose header Signature carries
    ``references`` empty Reference entries: 18,000 make ~63 KB, just under the 64 KiB V2GTP limit."""
    msg, _element = samples.signed_message("iso2", references, digest=0, session_id=bytes(1))
    return frame(PayloadType.EXI, exi.encode(msg))


_SESSION_SETUP = _iso2(bytes(1), session_setup_req=iso2.SessionSetupReqType(evccid=b"\x02\x00\x00\x00\x00\x01"))
_SERVICE_DISCOVERY_WRONG_ID = _iso2(b"\xde\xad\xbe\xef\x00\x00\x00\x01", service_discovery_req=iso2.ServiceDiscoveryReqType())
_POWER_DELIVERY_FIRST = _iso2(bytes(1), power_delivery_req=iso2.PowerDeliveryReqType(
    charge_progress=iso2.chargeProgressType.Start, sa_schedule_tuple_id=1))


# ------------------------------------------------------------------------------------------ plumbing
async def _open(target: Target, stats: AttackStats) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        r, w = await asyncio.open_connection(target.host, target.port)
    except OSError:
        stats.refused += 1
        await asyncio.sleep(0.02)
        return None
    stats.connections += 1
    return r, w


async def _send(w: asyncio.StreamWriter, data: bytes, stats: AttackStats) -> bool:
    try:
        w.write(data)
        await w.drain()
    except OSError:
        return False
    stats.bytes_sent += len(data)
    return True


async def _read_message(r: asyncio.StreamReader, timeout: float) -> bytes | None:
    """One V2GTP message (header included), None at EOF, reset or timeout."""
    try:
        head = await asyncio.wait_for(r.readexactly(HEADER_SIZE), timeout)
        return head + await asyncio.wait_for(r.readexactly(int.from_bytes(head[4:8], "big")), timeout)
    except (asyncio.IncompleteReadError, OSError, TimeoutError):
        return None


async def _until_closed(r: asyncio.StreamReader, deadline: float) -> bool:
    """Read and drop until the SECC closes (True) or the deadline passes (False)."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return False
            if not await asyncio.wait_for(r.read(65536), left):
                return True
    except TimeoutError:
        return False
    except OSError:
        return True


def _close(w: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        w.close()


async def _closed_after(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], data: bytes | None,
                        stats: AttackStats, deadline: float = math.inf, within: float = math.inf) -> None:
    """Send ``data`` (nothing when None), wait for the SECC to close the connection (counted in
    ``closed_by_secc``) until ``deadline`` or ``within`` seconds after sending, then close it here."""
    r, w = conn
    if data is None or await _send(w, data, stats):
        if await _until_closed(r, min(deadline, asyncio.get_running_loop().time() + within)):
            stats.closed_by_secc += 1
    _close(w)


async def _workers(n: int, seconds: float, stats: AttackStats,
                   one: Callable[[float], Awaitable[None]]) -> AttackStats:
    """``n`` workers each calling ``one(deadline)`` again and again until the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def worker() -> None:
        while loop.time() < deadline:
            await one(deadline)

    await asyncio.gather(*(worker() for _ in range(n)))
    return stats


async def _handshake(target: Target, stats: AttackStats
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """A connection that has completed the supportedAppProtocol handshake (ISO 15118-2)."""
    conn = await _open(target, stats)
    if conn is None:
        return None
    r, w = conn
    if not await _send(w, _SAP_REQUEST, stats) or await _read_message(r, 5.0) is None:
        stats.closed_by_secc += 1
        _close(w)
        return None
    stats.answers += 1
    return r, w


# ------------------------------------------------------------------------------------------- attacks
async def idle(target: Target, seconds: float, rng: random.Random, concurrency: int = 100) -> AttackStats:
    """Connections that say nothing, reopened whenever the SECC closes one."""
    stats = AttackStats("idle")

    async def one(deadline: float) -> None:
        conn = await _open(target, stats)
        if conn is not None:
            await _closed_after(conn, None, stats, deadline)

    return await _workers(concurrency, seconds, stats, one)


async def random_bytes(target: Target, seconds: float, rng: random.Random, concurrency: int = 10) -> AttackStats:
    """A burst of random octets (1..4096), then wait for the SECC to close."""
    stats = AttackStats("random_bytes")

    async def one(deadline: float) -> None:
        conn = await _open(target, stats)
        if conn is not None:
            await _closed_after(conn, rng.randbytes(rng.randint(1, 4096)), stats, deadline, within=1.0)

    return await _workers(concurrency, seconds, stats, one)


async def huge_length(target: Target, seconds: float, rng: random.Random, concurrency: int = 20) -> AttackStats:
    """V2GTP headers claiming 4 GiB, 2 GiB or 64 KiB + 1 (refused at once), or 64 KiB followed by a
    fraction of it and then silence (held until the handshake deadline or an eviction)."""
    stats = AttackStats("huge_length")

    async def one(deadline: float) -> None:
        conn = await _open(target, stats)
        if conn is None:
            return
        length = rng.choice((0xFFFFFFFF, 0x7FFFFFFF, 65537, 65536))
        data = bytes.fromhex("01fe8001") + length.to_bytes(4, "big")
        if length == 65536:
            data += rng.randbytes(rng.randint(0, 4096))
        await _closed_after(conn, data, stats, deadline)

    return await _workers(concurrency, seconds, stats, one)


async def slowloris(target: Target, seconds: float, rng: random.Random, concurrency: int = 50,
                    interval: float = 0.2) -> AttackStats:
    """A valid supportedAppProtocolReq, one octet every ``interval`` seconds."""
    stats = AttackStats("slowloris")
    loop = asyncio.get_running_loop()

    async def one(deadline: float) -> None:
        conn = await _open(target, stats)
        if conn is None:
            return
        r, w = conn
        for i in range(len(_SAP_REQUEST)):
            if loop.time() >= deadline or r.at_eof() or w.is_closing():
                break
            if not await _send(w, _SAP_REQUEST[i:i + 1], stats):
                break
            with contextlib.suppress(TimeoutError, OSError):
                if not await asyncio.wait_for(r.read(65536), interval):
                    break  # EOF: the SECC gave up on us
        if r.at_eof() or w.is_closing():
            stats.closed_by_secc += 1
        _close(w)

    return await _workers(concurrency, seconds, stats, one)


async def quiet_after_handshake(target: Target, seconds: float, rng: random.Random,
                                concurrency: int = 100) -> AttackStats:
    """A good supportedAppProtocol handshake, then silence (no SessionSetupReq), reopened when closed."""
    stats = AttackStats("quiet_after_handshake")

    async def one(deadline: float) -> None:
        conn = await _handshake(target, stats)
        if conn is not None:
            await _closed_after(conn, None, stats, deadline)

    return await _workers(concurrency, seconds, stats, one)


async def garbage(target: Target, seconds: float, rng: random.Random, concurrency: int = 5) -> AttackStats:
    """A good handshake, then junk: random EXI in a valid V2GTP frame, or random octets."""
    stats = AttackStats("garbage")

    async def one(deadline: float) -> None:
        conn = await _handshake(target, stats)
        if conn is None:
            return
        junk = rng.randbytes(rng.randint(1, 2048))
        if rng.random() < 0.5:
            junk = frame(PayloadType.EXI, junk)
        await _closed_after(conn, junk, stats, deadline, within=2.0)

    return await _workers(concurrency, seconds, stats, one)


async def out_of_order(target: Target, seconds: float, rng: random.Random, concurrency: int = 5) -> AttackStats:
    """Valid ISO 15118-2 requests the SECC must refuse: PowerDeliveryReq before SessionSetupReq
    (FAILED_SequenceError), or ServiceDiscoveryReq with a SessionID the SECC never gave
    (FAILED_UnknownSession). Either way the SECC answers and closes."""
    stats = AttackStats("out_of_order")

    async def one(deadline: float) -> None:
        conn = await _handshake(target, stats)
        if conn is None:
            return
        r, w = conn
        if rng.random() < 0.5:
            steps = [_POWER_DELIVERY_FIRST]
        else:
            steps = [_SESSION_SETUP, _SERVICE_DISCOVERY_WRONG_ID]
        for msg in steps:
            if not await _send(w, msg, stats) or await _read_message(r, 5.0) is None:
                break
            stats.answers += 1
        await _closed_after(conn, None, stats, deadline, within=2.0)

    return await _workers(concurrency, seconds, stats, one)


async def churn(target: Target, seconds: float, rng: random.Random, concurrency: int = 10) -> AttackStats:
    """Connect and close at once, as fast as the workers go."""
    stats = AttackStats("churn")

    async def one(deadline: float) -> None:
        conn = await _open(target, stats)
        if conn is not None:
            _close(conn[1])
            await asyncio.sleep(0)

    return await _workers(concurrency, seconds, stats, one)


async def sdp_flood(target: Target, seconds: float, rng: random.Random, rate: float = 20_000) -> AttackStats:
    """SDP requests (valid ones, then junk: short, wrong type, wrong length) at up to ``rate`` per second."""
    stats = AttackStats("sdp_flood")
    loop = asyncio.get_running_loop()
    answers = stats

    class _Count(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple) -> None:
            answers.answers += 1

    transport, _ = await loop.create_datagram_endpoint(_Count, remote_addr=(target.host, target.sdp_port))
    valid = SDPRequest().to_bytes()
    kinds = [valid, b"\x01\xfe", bytes.fromhex("01fe9000000000ff") + bytes(2), bytes.fromhex("01fe80010000000200ff"),
             bytes.fromhex("01fe900000000002") + b"\x20\x00"]
    deadline = loop.time() + seconds
    batch = max(1, int(rate / 100))
    try:
        while loop.time() < deadline:
            t0 = loop.time()
            for _ in range(batch):
                data = valid if rng.random() < 0.5 else rng.choice(kinds[1:]) + rng.randbytes(rng.randint(0, 8))
                try:
                    transport.sendto(data)
                except OSError:
                    continue
                stats.datagrams += 1
                stats.bytes_sent += len(data)
            await asyncio.sleep(max(0.0, 0.01 - (loop.time() - t0)))
    finally:
        transport.close()
    return stats


async def oversized(target: Target, seconds: float, rng: random.Random, concurrency: int = 2,
                    references: int = 18_000) -> AttackStats:
    """After a good handshake, a schema-valid SessionSetupReq padded to ``references`` empty xmldsig
    References (18,000: 63 KB, just under the V2GTP limit; 2,000: 7 KB), each on its own connection."""
    stats = AttackStats("oversized")
    big = oversized_session_setup(references)

    async def one(deadline: float) -> None:
        conn = await _handshake(target, stats)
        if conn is None:
            return
        r, w = conn
        if await _send(w, big, stats) and await _read_message(r, 10.0) is not None:
            stats.answers += 1
        _close(w)

    return await _workers(concurrency, seconds, stats, one)


async def mixed(target: Target, seconds: float, rng: random.Random, connections: int = 100_000,
                concurrency: int = 20, cars: int = 2) -> AttackStats:
    """Many short connections until ``connections`` were made or the time is up: handshake-only (60 %),
    junk after the handshake (15 %), random octets (15 %), connect-and-close (10 %); meanwhile ``cars``
    in-process EVCCs (the real v2gkit EVCC session) charge again and again, each session its own
    connection and SDP exchange."""
    from ..net.charging import charge
    from ..session.din2 import EVCCConfig
    from ..sim.ev import SimulatedEV
    from ..sim.scaled import Accelerated

    stats = AttackStats("mixed")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    def more() -> bool:
        return loop.time() < deadline and stats.connections < connections

    async def handshake_only() -> None:
        conn = await _handshake(target, stats)
        if conn is not None:
            _close(conn[1])

    async def junk_after_handshake() -> None:
        conn = await _handshake(target, stats)
        if conn is not None:
            await _closed_after(conn, frame(PayloadType.EXI, rng.randbytes(rng.randint(1, 512))), stats, within=2.0)

    async def octets() -> None:
        conn = await _open(target, stats)
        if conn is not None:
            await _closed_after(conn, rng.randbytes(rng.randint(1, 1024)), stats, within=2.0)

    async def connect_close() -> None:
        conn = await _open(target, stats)
        if conn is not None:
            _close(conn[1])

    kinds = [handshake_only] * 12 + [junk_after_handshake] * 3 + [octets] * 3 + [connect_close] * 2

    async def worker() -> None:
        while more():
            await rng.choice(kinds)()

    async def car() -> None:
        while more():
            ev = SimulatedEV(soc=79.5, target_soc=80)
            try:
                res = await charge(Accelerated(ev, 100.0), EVCCConfig(loop_interval=0.05), protocols="iso2",
                                   loopback=True, sdp_port=target.sdp_port)
                ok = res.ok
            except (OSError, TimeoutError):
                ok = False
            stats.connections += 1
            stats.sessions += 1
            stats.sessions_failed += not ok

    await asyncio.gather(*(worker() for _ in range(concurrency)), *(car() for _ in range(cars)))
    return stats


Attack = Callable[[Target, float, random.Random], Awaitable[AttackStats]]

#: every attack by name, in the order the suite runs them
ATTACKS: dict[str, Attack] = {
    "idle": idle,
    "random_bytes": random_bytes,
    "huge_length": huge_length,
    "slowloris": slowloris,
    "quiet_after_handshake": quiet_after_handshake,
    "garbage": garbage,
    "out_of_order": out_of_order,
    "churn": churn,
    "sdp_flood": sdp_flood,
    "oversized": oversized,
    "mixed": mixed,
}


# ------------------------------------------------------------------------------------- the processes
#: a charger simulator that does not make the car wait (cable check and voltage ramps in no time)
FAST_EVSE_TOML = "[secc.evse]\ncable_check_time = 0.05\nvoltage_slew = 100000.0\ncurrent_slew = 100000.0\n"


@dataclass
class SeccProcess:
    """``v2gkit secc --loopback`` in its own process, with its output in a file in ``workdir`` (a pipe
    nobody reads would block it). ``nofile`` lowers its RLIMIT_NOFILE (soft and hard). :meth:`cleanup`
    removes the workdir once the output has been read."""

    sdp_port: int
    args: Sequence[str] = ()
    nofile: int | None = None
    proc: subprocess.Popen | None = None
    port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="v2gkit-abuse-")))

    def start(self, timeout: float = 20.0) -> SeccProcess:
        (self.workdir / "secc.toml").write_text(FAST_EVSE_TOML)
        self.out = self.workdir / "secc.out"
        cli = list(CLI)
        if self.nofile is not None:  # lowered in the child itself, before v2gkit starts
            code = ("import resource, runpy, sys; "
                    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({self.nofile}, {self.nofile})); "
                    "sys.argv[0] = 'v2gkit'; runpy.run_module('v2gkit.cli.main', run_name='__main__')")
            cli = [sys.executable, "-c", code]
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen(
                [*cli, "secc", "--loopback", "--sdp-port", str(self.sdp_port), "--config",
                 str(self.workdir / "secc.toml"), *self.args], stdout=out, stderr=subprocess.STDOUT, text=True,
                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(r"^listening .*ports=\{'NONE': (\d+)\}", self.output(), re.MULTILINE)
            if m:
                self.port = int(m.group(1))
                return self
            if time.monotonic() > deadline or self.proc.poll() is not None:
                out = self.output()
                self.cleanup()
                raise RuntimeError(f"SECC did not start: {out}")
            time.sleep(0.05)

    @property
    def target(self) -> Target:
        return Target("::1", self.port, self.sdp_port)

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def fds(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def cleanup(self) -> None:
        """Stop the process and remove its workdir (config and output)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class CarResult:
    ok: bool
    wall: float
    #: the session's own time (SessionSetupReq to the end) and the SDP-to-handshake time, as the car says
    session_seconds: float = 0.0
    setup_ms: float = 0.0
    reason: str = ""


#: the car's battery: from 79 % to 80 % with the physics 50x faster (about 1 s of CurrentDemand loop)
CAR_ARGS = ("--soc", "79", "--target-soc", "80", "--speed", "50", "--loop-interval", "0.05")


async def car_session(sdp_port: int, args: Sequence[str] = CAR_ARGS, timeout: float = 60.0) -> CarResult:
    """One full ``v2gkit evcc --loopback`` charging session in its own process."""
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*CLI, "evcc", "--loopback", "--sdp-port", str(sdp_port), "--json",
                                                *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return CarResult(False, time.monotonic() - t0, reason=f"no result within {timeout:g} s")
    wall = time.monotonic() - t0
    try:
        info = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return CarResult(False, wall, reason=(err.decode().strip() or out.decode().strip())[-300:])
    return CarResult(proc.returncode == 0 and bool(info.get("ok")), wall, info.get("seconds", 0.0),
                     info.get("setup_ms", 0.0), info.get("reason", ""))


# ------------------------------------------------------------------------------------------ a phase
@dataclass
class Phase:
    """One attack run against a live SECC while the car charges again and again."""

    attack: AttackStats
    cars: list[CarResult]
    seconds: float
    rss_mb: float = 0.0
    fds: int = 0
    secc_alive: bool = True


async def settle(secc: SeccProcess, fds: int, seconds: float = 5.0) -> int:
    """Wait until the SECC holds at most ``fds`` file descriptors again (or ``seconds`` passed); returns
    what it holds then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        n = secc.fds()
        if n <= fds or loop.time() >= deadline:
            return n
        await asyncio.sleep(0.05)


async def run_phase(secc: SeccProcess, attack: str, seconds: float, rng: random.Random, *, min_cars: int = 1,
                    car_args: Sequence[str] = CAR_ARGS, baseline_fds: int | None = None, **kw: object) -> Phase:
    """``attack`` for ``seconds`` while car sessions run one after the other (at least ``min_cars``, the
    last one may outlast the attack); then the SECC's fds settle to ``baseline_fds`` and RSS is read."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    task = loop.create_task(ATTACKS[attack](secc.target, seconds, rng, **kw))  # type: ignore[call-arg]
    await asyncio.sleep(min(0.5, seconds / 4))  # let the attack build up before the first car
    cars: list[CarResult] = []
    while not task.done() or len(cars) < min_cars:
        cars.append(await car_session(secc.sdp_port, car_args))
        if not secc.alive():
            break
    stats = await task
    elapsed = loop.time() - t0
    fds = await settle(secc, baseline_fds) if baseline_fds is not None and secc.alive() else 0
    return Phase(stats, cars, elapsed, secc.rss_mb() if secc.alive() else 0.0, fds, secc.alive())
