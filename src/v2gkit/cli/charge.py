"""``v2gkit secc``, ``v2gkit evcc`` and ``v2gkit demo``: charging sessions with simulated hardware."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import statistics
import sys
from pathlib import Path
from typing import Any

import click

from v2gkit.session.families import DEFAULT_EV_OFFER
from v2gkit.sim.scaled import LOOPBACK_SPEED, MAX_SPEED

from .link import DEFAULT_PKI, _apply, _evcc_tls, _fail, _secc_tls, _tracer, _where, tls_options, tls_profile
from .options import (
    COUNT,
    INTERFACE,
    INTERVAL,
    PORT,
    PROTOCOLS,
    SECONDS,
    SOC,
    Count,
    Number,
    Tables,
    load_config,
    settings,
)

SESSION_DEFAULT = DEFAULT_EV_OFFER
CONTROL_MODE = click.Choice(["scheduled", "dynamic"], case_sensitive=False)


def kind_of(protocols: list[Any], dc: bool) -> list[Any]:
    """The configured protocols this charger/car can run: ISO 15118-20 names its energy kind in the namespace
    (iso20-dc, iso20-ac), so a DC one drops iso20-ac and an AC one iso20-dc, saying so."""
    drop = "iso20-ac" if dc else "iso20-dc"
    keep = [x for x in protocols if x.name != drop]
    gone = [x.name for x in protocols if x not in keep]
    if gone:
        click.echo(f"note: a {'DC' if dc else 'AC'} set-up leaves out {', '.join(gone)}", err=True)
    if not keep:
        _fail(f"none of {', '.join(x.name for x in protocols)} is for {'DC' if dc else 'AC'}", 2)
    return keep
SPEED = Number(min=0.0, min_open=True, max=MAX_SPEED)
_SPEED_DEFAULT = f"{LOOPBACK_SPEED['DC']:g} DC, {LOOPBACK_SPEED['AC']:g} AC on loopback; 1 on an interface"


def _kw(cls: Any, values: dict[str, Any], where: str, raw: dict[str, Any] | None = None,
        check: Any = None) -> Any:
    """``cls(**values)`` (then ``check(obj)``), a usage error naming the key when a value is refused.
    ``raw``: the table as the file wrote it, to quote the value (``key = 'value': why``)."""
    from v2gkit.session.config import ConfigError
    try:
        obj = cls(**values)
        if check is not None:
            check(obj)
        return obj
    except ConfigError as e:
        if raw is not None and e.field in raw:
            _fail(f"{where} {e.field} = {raw[e.field]!r}: {e.reason}", 2)
        _fail(f"{where} {e}", 2)
    except (TypeError, ValueError) as e:
        _fail(f"{where} {e}", 2)


def _ev(dc: bool, soc: float, target: float, speed: float, extra: Tables, bpt: bool = False) -> Any:
    """The simulated car: ``[evcc.ev]`` settings, SOC and mode from the options, its battery ``speed``
    times smaller (see sim/scaled.py: the energy stays real, so it agrees with any charger's meter).
    ``bpt``: the bidirectional car (sim/battery.py), for ISO 15118-20 AC_BPT/DC_BPT."""
    from v2gkit.sim.battery import SimulatedBPTEV
    from v2gkit.sim.ev import SimulatedEV
    from v2gkit.sim.scaled import fast_ev
    cls = SimulatedBPTEV if bpt else SimulatedEV
    kw = settings(cls, extra, "ev")
    for key, option in (("soc", "--soc"), ("target_soc", "--target-soc"), ("ac", "--dc/--ac")):
        if key in kw:
            _fail(f"{extra.where('ev')} {key}: set it with {option} (or in [evcc])", 2)
    try:
        return fast_ev(speed, cls, soc=soc, target_soc=target, ac=not dc, **kw)
    except (TypeError, ValueError) as e:
        _fail(f"{extra.where('ev')} {e}", 2)


def _evse_factory(dc: bool, extra: Tables, bpt: bool = False, schedules: Any = None) -> Any:
    """A fresh simulated charger per session: ``[secc.evse]`` settings; ``bpt``: one that also sinks, within
    ``schedules`` (power limits and prices, for the Dynamic-mode planner)."""
    from v2gkit.sim.bpt_evse import SimulatedBPTACEVSE, SimulatedBPTDCEVSE
    from v2gkit.sim.evse import SimulatedACEVSE, SimulatedDCEVSE
    cls: Any = (SimulatedBPTDCEVSE if dc else SimulatedBPTACEVSE) if bpt else (SimulatedDCEVSE if dc else SimulatedACEVSE)
    kw = settings(cls, extra, "evse")
    if bpt and schedules is not None:
        kw["schedules"] = schedules
    _kw(cls, kw, extra.where("evse"), extra.values.get("evse"))  # fail early on a bad option
    return lambda: cls(**kw)


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.2f} ms" if values else "-"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f} ms"


def default_speed(dc: bool, loopback: bool) -> float:
    """Without --speed: a loopback session is a demo (30 -> 80 % in ~25 s), a car on an interface meets a
    charger, maybe a real one, in real time."""
    return LOOPBACK_SPEED["DC" if dc else "AC"] if loopback else 1.0


def duration(seconds: float) -> str:
    """``25 s``, ``4 min``, ``1 h 12 min``: a time to wait, as people say it."""
    if seconds < 90:
        return f"{max(seconds, 0.0):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:.0f} min"


def battery_line(ev: Any, speed: float) -> str:
    """What the car will do and about how long it takes (at its own limits; a weaker charger is slower)."""
    full = ev.capacity_wh * speed
    head = f"SOC {ev.soc():g} % -> {ev.target_soc:g} % of a {full / 1000:g} kWh battery"
    eta = (f"about {duration(ev.estimate_charging_time())} of charging at up to "
           f"{ev.limits().max_power / 1000:g} kW")
    if speed == 1:
        return f"{head} in real time: {eta} (--speed N fast-forwards)"
    return (f"{head} at x{speed:g} (it holds {ev.capacity_wh / 1000:.3g} kWh: the SOC moves {speed:g} times "
            f"faster, power and energy are real): {eta}")


@click.command()
@click.option("--interface", "-i", type=INTERFACE, help="interface the EV is connected to")
@click.option("--loopback", is_flag=True, help="serve on ::1 (single-host demo)")
@click.option("--protocols", type=PROTOCOLS, default=SESSION_DEFAULT, show_default=True,
              help="protocols this charger speaks, comma separated")
@click.option("--tls/--no-tls", default=False, help="offer TLS (answers what the EV asks for)")
@click.option("--tls-only", is_flag=True, help="always answer TLS")
@click.option("--allow-iso20-without-tls", is_flag=True,
              help="also run ISO 15118-20 over plain TCP (SDP security 0x10), as Josev's -20 EIM set-up does; NOT "
                   "compliant (-20 requires TLS 1.3 with mutual authentication) and logged as such")
@click.option("--dc/--ac", default=True, help="the charger's power module")
@click.option("--bpt", is_flag=True,
              help="ISO 15118-20: also offer the bidirectional service (DC_BPT / AC_BPT) with a power module that "
                   "can sink")
@click.option("--control-mode", type=CONTROL_MODE, default="scheduled", show_default=True,
              help="ISO 15118-20: the control mode offered first (both are offered; cars such as Josev's take "
                   "the first parameter set)")
@click.option("--schedules", "schedules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ISO 15118-20: a TOML schedule tuple with prices (examples in v2gkit/sim/data: plain.toml, "
                   "v2g_day.toml) for the offer, the power limits in force and the Dynamic-mode planner")
@click.option("--sdp-port", type=PORT, default=15118, show_default=True,
              help="UDP port to answer SDP on (the standard's is 15118; others let SECCs share a host)")
@click.option("--setup-timeout", type=SECONDS, help="stop SDP and listening if no handshake succeeds in time")
@click.option("--max-connections", type=COUNT,
              help="concurrent connections, TCP and TLS together [default: 256, fewer under a low `ulimit -n`]; a "
                   "newcomer at the limit closes the connection stuck longest before its session started")
@click.option("--max-per-peer", type=COUNT, default=32, show_default=True,
              help="concurrent connections from one address (raise it for many simulated cars on one host)")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="write the log (INFO and up) to this file, rotated at 10 MB, 5 old files kept")
@click.option("--once", is_flag=True, help="exit after the first session (status 0 if it ended with SessionStop OK)")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file: [secc] options, [secc.evse] simulator and [secc.session] machine settings")
@click.option("--warm-up/--no-warm-up", default=True, show_default=True,
              help="before listening, run one short simulated session per protocol through the same SECC "
                   "code, so the first car's answers are not slowed by code running for the first time")
@_apply(tls_options)
@click.pass_context
def secc(ctx: click.Context, interface: str | None, loopback: bool, protocols: Any, tls: bool, tls_only: bool,
         allow_iso20_without_tls: bool, dc: bool, bpt: bool, control_mode: str, schedules_path: Path | None, sdp_port: int, setup_timeout: float | None, max_connections: int | None, max_per_peer: int,
         log_file: Path | None, once: bool, config_path: Path | None, warm_up: bool, pki_dir: Path,
         keylog: Path | None, pcap: Path | None, trace_json: Path | None) -> None:
    """Charger side: SDP, TCP/TLS, the app handshake and DIN 70121 / ISO 15118-2 / ISO 15118-20 sessions with a
    simulated power module (--bpt: one that also sinks). Runs until interrupted (or one session with --once)."""
    from v2gkit.logfile import log_to_file
    from v2gkit.net.charging import SessionRecord, secc_sessions
    from v2gkit.net.faults import FaultLog
    from v2gkit.net.limits import ConnectionLimits
    from v2gkit.net.link import LinkError, SECCLink
    from v2gkit.net.runner import Samples, settle_heap
    from v2gkit.net.tls import TlsConfigError
    from v2gkit.sdp import SecurityPolicy
    from v2gkit.session.din2 import SECCConfig
    from v2gkit.session.iso20.config import CONTROL_MODES, SECC20Config

    extra = load_config(ctx, config_path, "secc", ("evse", "session", "session20"))
    p = ctx.params
    interface, loopback = p["interface"], p["loopback"]
    tls, tls_only, dc = p["tls"], p["tls_only"], p["dc"]
    supported = kind_of(p["protocols"], dc)
    first = p["control_mode"].capitalize()
    schedules = None
    if p["schedules_path"] is not None:
        from v2gkit.sim.schedules import ScheduleError, load_schedules
        try:
            schedules = load_schedules(p["schedules_path"])
        except (ScheduleError, OSError) as e:
            _fail(str(e), 2)
    cfg20 = _kw(SECC20Config, {"bpt": p["bpt"], "control_modes": (first,) + tuple(m for m in CONTROL_MODES if m != first),
                               "schedules": schedules, **settings(SECC20Config, extra, "session20", non_negative=True)},
                extra.where("session20"), extra.values.get("session20"))
    once, pki_dir, keylog, pcap, trace_json = p["once"], p["pki_dir"], p["keylog"], p["pcap"], p["trace_json"]
    _where(interface, loopback)
    ctx_tls = None
    if tls or tls_only:
        try:
            ctx_tls = _secc_tls(tls_profile(supported), pki_dir, keylog)
        except TlsConfigError as e:
            _fail(str(e), 2)
    policy = SecurityPolicy.TLS_ONLY if tls_only else SecurityPolicy.ECHO if tls else SecurityPolicy.NONE_ONLY
    tracer = _tracer(pcap, trace_json, "SECC")
    from v2gkit.net.charging import SESSION_PROTOCOLS

    def sendable(c: SECCConfig) -> None:  # e.g. the EVSEID must fit every protocol this charger speaks
        for proto in supported:
            if proto.name in SESSION_PROTOCOLS:
                c.check(proto.name)

    cfg = _kw(SECCConfig, {"dc": dc, **settings(SECCConfig, extra, "session", non_negative=True)},
              extra.where("session"), extra.values.get("session"), sendable)
    evse_factory = _evse_factory(dc, extra, p["bpt"], schedules)
    warmed: Any = None
    try:
        limits = ConnectionLimits(per_peer=p["max_per_peer"], **({"total": p["max_connections"]}
                                                                  if p["max_connections"] else {}))
    except ValueError as e:
        _fail(str(e), 2)
    if p["log_file"] is not None:
        try:
            log_to_file(p["log_file"])
        except OSError as e:
            _fail(f"cannot write the log file: {e}", 2)
    faults = FaultLog()
    done = asyncio.Event() if once else None
    first: list[SessionRecord] = []  # --once: the session that decides the exit status (nothing else is kept)
    ended = {"sessions": 0, "expired": False}  # sessions finished; the setup timeout left nothing to do

    def say(name: str, info: dict[str, Any]) -> None:
        if name == "listening" and warmed is not None:
            info = {**info, "warm_up": ",".join(warmed.sessions) or "-",
                    "warm_up_ms": round(warmed.seconds * 1e3)}
        click.echo(f"{name} " + " ".join(f"{k}={v}" for k, v in info.items()), nl=True)
        sys.stdout.flush()

    def finished(rec: SessionRecord) -> None:
        ended["sessions"] += 1
        if once and not first:
            first.append(rec)
        o = rec.outcome
        if o.ok or faults.admit("session"):  # failed sessions are rate-limited like other peer faults
            loop = ("DC_ChargeLoop" if rec.dc else "AC_ChargeLoop") if rec.protocol.startswith("iso20") else (
                "CurrentDemand" if rec.dc else "ChargingStatus")
            answers = o.answer_times.get(loop + "Res") or Samples()
            # the meter, not the machine's result: a session that ends without its own Close (the car went
            # away) never filled that in, and the energy that flowed is the meter's to say
            say("session", {"conn": rec.conn, "protocol": rec.protocol, "ok": o.ok, "reason": o.detail,
                            "messages": rec.result.messages, "energy_wh": round(rec.meter_wh, 1),
                            "seconds": round(o.seconds, 2), f"median_answer_{loop}": _median_ms(answers),
                            f"first_answer_{loop}": _ms(answers.first),
                            f"max_answer_{loop}": _ms(answers.max if answers.count else None)})
        if done is not None:
            done.set()

    async def run() -> None:
        nonlocal warmed
        if p["warm_up"]:
            from v2gkit.session.warmup import warm_up as run_warm_up
            warmed = run_warm_up([x.name for x in supported], cfg, evse_factory, cfg20)
        settle_heap()  # after the warm-up: what it left behind is collected and the rest frozen
        link = SECCLink(interface=interface, loopback=loopback, protocols=supported, policy=policy,
                        ssl_context=ctx_tls, tracer=tracer, sdp_port=p["sdp_port"],
                        setup_timeout=p["setup_timeout"], limits=limits, faults=faults, on_event=say,
                        allow_iso20_without_tls=p["allow_iso20_without_tls"],
                        session=secc_sessions(evse_factory, cfg, on_done=finished, iso20=cfg20))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with link:
            # the setup timeout fired and the connections open then have ended: nothing left to serve
            idle = loop.create_task(link.expired_and_idle())
            waits = [loop.create_task(stop.wait()), idle] + ([loop.create_task(done.wait())] if done else [])
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            ended["expired"] = idle.done() and not stop.is_set()
            for w in waits:
                w.cancel()

    try:
        asyncio.run(run())
    except (LinkError, OSError) as e:
        _fail(str(e))
    finally:
        if tracer is not None:
            tracer.close()
    if ended["expired"] and not ended["sessions"]:
        _fail(f"no EV completed the handshake within {p['setup_timeout']:g} s (--setup-timeout)")
    if once:
        sys.exit(0 if first and first[0].outcome.ok else 1)


class _Progress:
    """The EVCC's lines while it charges: every new request once; in the energy loop about ten lines with
    SOC, power and the time left (every 2 to 60 s); a request polled for long (CableCheck...) every 10 s."""

    LOOP = ("CurrentDemandReq", "ChargingStatusReq", "DC_ChargeLoopReq", "AC_ChargeLoopReq")

    def __init__(self, ev: Any, quiet: bool) -> None:
        self.ev, self.quiet = ev, quiet
        self.every = min(max(ev.estimate_charging_time() / 10.0, 2.0), 60.0)
        self.name, self.t = "", 0.0
        self.charging = False  # the energy loop has begun: a Ctrl-C can end the session properly

    def __call__(self, now: float, out: Any) -> None:
        from v2gkit.session.events import Send
        if not isinstance(out, Send):
            return
        loop = out.name in self.LOOP
        self.charging = self.charging or loop
        if self.quiet or out.name == self.name and now - self.t < (self.every if loop else 10.0):
            return
        click.echo(f"-> {out.name}" + (self.status() if loop else ""))
        self.name, self.t = out.name, now

    def status(self) -> str:
        ev = self.ev
        left = ev.estimate_charging_time()
        eta = f", about {duration(left)} to go" if left > 0 and not ev.charging_complete() else ""
        return f" soc={ev.soc():.1f}% (target {ev.target_soc:g}%) {ev.power / 1000:.1f} kW{eta}"


@click.command()
@click.option("--interface", "-i", type=INTERFACE, help="interface to the charger")
@click.option("--loopback", is_flag=True, help="find the SECC on this host (::1)")
@click.option("--protocols", type=PROTOCOLS, default=SESSION_DEFAULT, show_default=True,
              help="protocols to offer, best first (the order is the priority)")
@click.option("--tls/--no-tls", default=False, help="ask for TLS in SDP (the SECC's answer decides)")
@click.option("--allow-iso20-without-tls", is_flag=True,
              help="also run ISO 15118-20 over plain TCP (SDP security 0x10), as Josev's -20 EIM set-up does; NOT "
                   "compliant (-20 requires TLS 1.3 with mutual authentication) and logged as such")
@click.option("--dc/--ac", default=True, help="charge DC or AC")
@click.option("--bpt", is_flag=True,
              help="ISO 15118-20: a bidirectional car that asks for DC_BPT / AC_BPT (and charges plain if the "
                   "charger offers no BPT)")
@click.option("--control-mode", type=CONTROL_MODE, default="scheduled", show_default=True,
              help="ISO 15118-20: the control mode the car selects when the charger offers it")
@click.option("--soc", type=SOC, default=30.0, show_default=True,
              help="simulated battery: state of charge at the start, %")
@click.option("--target-soc", type=SOC, default=80.0, show_default=True,
              help="... and where the car stops, %")
@click.option("--speed", type=SPEED, default=None, show_default=_SPEED_DEFAULT,
              help="the battery's SOC moves this many times faster (it holds 1/speed of its capacity; power, "
                   "energy and every protocol timer stay real); the loopback default charges 30 -> 80 % in "
                   "~25 s")
@click.option("--loop-interval", type=INTERVAL, default=0.1, show_default=True,
              help="seconds between CurrentDemand/ChargingStatus")
@click.option("--sdp-port", type=PORT, default=15118, show_default=True,
              help="UDP port the SECC answers SDP on")
@click.option("--handshake-only", is_flag=True, help="stop after supportedAppProtocol (no charging session)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file: [evcc] options, [evcc.ev] simulator and [evcc.session] machine settings")
@_apply(tls_options)
@click.pass_context
def evcc(ctx: click.Context, interface: str | None, loopback: bool, protocols: Any, tls: bool,
         allow_iso20_without_tls: bool, dc: bool, bpt: bool, control_mode: str,
         soc: float, target_soc: float, speed: float | None, loop_interval: float, sdp_port: int,
         handshake_only: bool, as_json: bool, config_path: Path | None, pki_dir: Path, keylog: Path | None,
         pcap: Path | None, trace_json: Path | None) -> None:
    """EV side: discover, connect, negotiate and charge a simulated battery (--bpt: a bidirectional one, for
    ISO 15118-20 AC_BPT/DC_BPT). Exit status 0 only when the
    session ended with SessionStop OK; Ctrl-C stops charging the way a driver does (PowerDelivery Stop,
    SessionStop), a second Ctrl-C aborts (exit status 130)."""
    from v2gkit.net.charging import charge
    from v2gkit.net.iface import InterfaceError
    from v2gkit.net.link import LinkError, ev_link
    from v2gkit.net.runner import settle_heap
    from v2gkit.net.tls import TlsConfigError
    from v2gkit.session.din2 import EVCCConfig
    from v2gkit.session.iso20.config import EVCC20Config

    extra = load_config(ctx, config_path, "evcc", ("ev", "session", "session20"))
    p = ctx.params
    interface, loopback, tls, dc = p["interface"], p["loopback"], p["tls"], p["dc"]
    offer = kind_of(p["protocols"], dc)
    pki_dir, keylog, as_json, handshake_only = p["pki_dir"], p["keylog"], p["as_json"], p["handshake_only"]
    _where(interface, loopback)
    speed = p["speed"] or default_speed(dc, loopback)
    ev = _ev(dc, p["soc"], p["target_soc"], speed, extra, p["bpt"])
    cfg20 = _kw(EVCC20Config, {"bpt": p["bpt"], "control_mode": p["control_mode"].capitalize(),
                               "loop_interval": p["loop_interval"],
                               **settings(EVCC20Config, extra, "session20", non_negative=True)},
                extra.where("session20"), extra.values.get("session20"))
    cfg = _kw(EVCCConfig, {"dc": dc, "loop_interval": p["loop_interval"],
                           **settings(EVCCConfig, extra, "session", non_negative=True)},
              extra.where("session"), extra.values.get("session"))
    ctx_tls = None
    if tls or pki_dir.exists():  # a TLS answer is taken whenever a PKI is at hand
        try:
            ctx_tls = _evcc_tls(tls_profile(offer), pki_dir, keylog)
        except TlsConfigError as e:
            _fail(str(e), 2)
    tracer = _tracer(p["pcap"], p["trace_json"], "EVCC")
    link_kw = {"interface": interface, "loopback": loopback, "tls": tls, "ssl_context": ctx_tls,
               "sdp_port": p["sdp_port"], "tracer": tracer, "allow_iso20_without_tls": p["allow_iso20_without_tls"]}
    progress = _Progress(ev, quiet=as_json)
    interrupted: list[str] = []

    async def run() -> dict[str, Any]:
        settle_heap()
        if handshake_only:
            link = await ev_link(protocols=offer, **link_kw)
            await link.connection.close()
            return _link_info(link)
        main_task = asyncio.current_task()

        def on_signal(name: str) -> None:
            interrupted.append(name)
            if len(interrupted) == 1 and progress.charging:
                ev.stop_at = ev.time  # the driver ends charging: PowerDelivery Stop, then SessionStop
                click.echo(f"{name}: stopping the session properly ({name} again to abort)", err=True)
            elif main_task is not None:
                main_task.cancel()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig.name)
        try:
            res = await charge(ev, cfg, protocols=offer, observe=progress, iso20=cfg20, **link_kw)
        except asyncio.CancelledError:
            if not interrupted:
                raise
            return {"ok": False, "reason": f"aborted by {interrupted[-1]}", "soc": round(ev.soc(), 2),
                    "charged_wh": round(ev.charged_wh, 1), "speed": speed}
        info = _link_info(res.link)
        o = res.outcome
        info.update({"ok": o.ok, "reason": o.detail, "messages": res.machine.result.messages,
                     "soc": round(ev.soc(), 2), "charged_wh": round(ev.charged_wh, 1), "speed": speed,
                     "seconds": round(o.seconds, 2),
                     "round_trip_ms": {k: round(statistics.median(v) * 1e3, 3) for k, v in o.round_trips.items()},
                     "session_id": res.machine.session_id.hex(), "paused": res.machine.result.paused})
        return info

    if not as_json and not handshake_only:
        click.echo("car: " + battery_line(ev, speed))
    try:
        info = asyncio.run(run())
    except LinkError as e:
        _fail(str(e))
    except (InterfaceError, OSError) as e:
        _fail(str(e), 2)
    finally:
        if tracer is not None:
            tracer.close()
    if as_json:
        click.echo(json.dumps(info))
    elif "address" not in info:  # aborted before or while charging
        click.echo(f"session: {info['reason'].replace('aborted', 'ABORTED', 1)}, SOC {info['soc']}%, "
                   f"{info['charged_wh']} Wh charged")
    else:
        t = info["tls"]
        click.echo(f"SECC [{info['address']}]:{info['port']} security {info['security']} "
                   f"after {info['sdp_requests']} SDP request(s)")
        click.echo("connection: " + (f"{t['version']} {t['cipher']} SECC certificate CN={t['peer_cn']}"
                                     if t else "TCP (no TLS)"))
        click.echo(f"negotiated: {info['protocol']} ({info['namespace']}) SchemaID {info['schema_id']} "
                   f"{info['response_code']} in {info['setup_ms']:.1f} ms")
        if not handshake_only:
            trips = info["round_trip_ms"]
            rtt = next((trips[k] for k in ("CurrentDemand", "ChargingStatus", "DC_ChargeLoop", "AC_ChargeLoop")
                        if trips.get(k)), "-")
            click.echo(f"session: {'SessionStop OK' if info['ok'] else 'FAILED'} ({info['reason']}), "
                       f"{info['messages']} responses, SOC {info['soc']}%, "
                       f"{info['charged_wh'] / 1000:.3f} kWh, "
                       f"{info['seconds']} s, median loop round trip {rtt} ms")
    if "address" not in info and not handshake_only:
        sys.exit(130)
    if not handshake_only and not info["ok"]:
        sys.exit(1)


def _link_info(link: Any) -> dict[str, Any]:
    n = link.negotiated
    return {"address": str(link.secc.address), "port": link.secc.port, "security": link.secc.security.name,
            "sdp_requests": link.sdp_requests, "tls": link.connection.tls, "protocol": n.protocol.name,
            "namespace": n.protocol.namespace, "schema_id": n.schema_id, "response_code": n.response_code.name,
            "setup_ms": link.setup_seconds * 1000}


@click.command()
@click.option("--protocol", type=click.Choice(["iso2", "din", "iso20"]), default="iso2", show_default=True,
              help="ISO 15118-2, DIN SPEC 70121 (DC only) or ISO 15118-20 (always over TLS 1.3 with mutual "
                   "authentication, throwaway test PKI)")
@click.option("--dc/--ac", default=True, help="DC (default) or AC charging")
@click.option("--din", is_flag=True, help="the same as --protocol din")
@click.option("--tls", is_flag=True, help="ISO 15118-2 over TLS 1.2 (throwaway test PKI)")
@click.option("--bpt", is_flag=True, help="ISO 15118-20: bidirectional (DC_BPT / AC_BPT) car and charger")
@click.option("--control-mode", type=CONTROL_MODE, default="scheduled", show_default=True,
              help="ISO 15118-20: Scheduled (the car follows the charger's schedule) or Dynamic (the charger "
                   "sets the power from the car's energy requests and departure time)")
@click.option("--schedules", "schedules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ISO 15118-20: the charger's schedule tuple and prices (TOML, e.g. v2gkit/sim/data/v2g_day.toml)")
@click.option("--at", "start", type=Count(0, 23), default=None,
              help="ISO 15118-20 with --schedules: plug in at this hour of the schedules' day (e.g. 17: the "
                   "evening peak of v2g_day.toml)")
@click.option("--departure", type=Number(0.1, 72.0), default=None,
              help="ISO 15118-20: the car leaves in this many hours (a V2G car gives energy only with a departure "
                   "time; the demo itself ends after 60 s then, the driver cutting the session short)")
@click.option("--soc", type=SOC, default=30.0, show_default=True,
              help="the car's state of charge at the start, %")
@click.option("--target-soc", type=SOC, default=80.0, show_default=True,
              help="... and where it stops charging, %")
@click.option("--speed", type=SPEED, default=None,
              show_default=f"{LOOPBACK_SPEED['DC']:g} DC, {LOOPBACK_SPEED['AC']:g} AC: 30 -> 80 % in ~25 s",
              help="the battery's SOC moves this many times faster (it holds 1/speed of its capacity; power, "
                   "energy and every protocol timer stay real)")
@click.option("--pki", "pki_dir", type=click.Path(path_type=Path), default=DEFAULT_PKI,
              show_default=True, help="folder of the throwaway test PKI for --tls")
def demo(protocol: str, dc: bool, din: bool, tls: bool, bpt: bool, control_mode: str, schedules_path: Path | None,
         start: int | None, departure: float | None, soc: float, target_soc: float, speed: float | None,
         pki_dir: Path) -> None:
    """Both roles in one process over loopback: a full charging session, shown live. The default is
    ISO 15118-2 DC over TCP; --protocol iso20 runs ISO 15118-20 over TLS 1.3."""
    from .live import run_demo
    if din:
        protocol = "din"
    if protocol == "din" and not dc:
        _fail("DIN SPEC 70121 sessions are DC only", 2)
    if (bpt or control_mode != "scheduled" or schedules_path or departure) and protocol != "iso20":
        _fail("--bpt, --control-mode, --schedules and --departure are ISO 15118-20's: add --protocol iso20", 2)
    schedules = None
    if schedules_path is not None:
        from v2gkit.sim.schedules import ScheduleError, load_schedules
        try:
            schedules = load_schedules(schedules_path)
            if start:
                schedules = schedules.since(start * 3600)
        except (ScheduleError, OSError, ValueError) as e:
            _fail(str(e), 2)
    ok = run_demo(dc=dc, protocol=protocol, tls=tls, soc=soc, target_soc=target_soc,
                  speed=speed or LOOPBACK_SPEED["DC" if dc else "AC"], pki_dir=pki_dir,
                  sdp_port=random.randrange(20000, 30000), bpt=bpt, control_mode=control_mode.capitalize(),
                  schedules=schedules, departure=None if departure is None else departure * 3600)
    sys.exit(0 if ok else 1)
