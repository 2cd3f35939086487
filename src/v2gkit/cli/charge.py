"""``v2gkit secc``, ``v2gkit evcc`` and ``v2gkit demo``: charging sessions with simulated hardware."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import statistics
import sys
import tomllib
from pathlib import Path
from typing import Any

import click

from .link import DEFAULT_PKI, _apply, _evcc_tls, _fail, _secc_tls, _tracer, _where, tls_options, tls_profile

SESSION_DEFAULT = "iso2,din"


def _config(ctx: click.Context, path: Path | None, section: str) -> dict[str, Any]:
    """Options from ``[section]`` of a TOML file fill in what the command line left at its default;
    ``[section.ev]``/``[section.evse]``/``[section.session]`` tables go to the simulators and the machine."""
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        _fail(f"cannot read config {path}: {e}", 2)
    table = data.get(section, {})
    extra = {k: table.pop(k) for k in ("ev", "evse", "session") if isinstance(table.get(k), dict)}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in ctx.params:
            _fail(f"{path}: [{section}] has no option {key!r}; options: {', '.join(sorted(ctx.params))}", 2)
        if ctx.get_parameter_source(name) is click.core.ParameterSource.DEFAULT:
            ctx.params[name] = value
    return extra


def _kw(cls: Any, values: dict[str, Any], what: str) -> Any:
    try:
        return cls(**values)
    except TypeError as e:
        _fail(f"[{what}] {e}", 2)


def _ev(dc: bool, soc: float, target: float, extra: dict[str, Any]) -> Any:
    from v2gkit.sim.ev import SimulatedEV
    return _kw(SimulatedEV, {"soc": soc, "target_soc": target, "ac": not dc, **extra.get("ev", {})}, "evcc.ev")


def _evse_factory(dc: bool, extra: dict[str, Any]) -> Any:
    from v2gkit.sim.evse import SimulatedACEVSE, SimulatedDCEVSE
    cls = SimulatedDCEVSE if dc else SimulatedACEVSE
    kw = extra.get("evse", {})
    _kw(cls, kw, "secc.evse")  # fail early on a bad option
    return lambda: cls(**kw)


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.2f} ms" if values else "-"


@click.command()
@click.option("--interface", "-i", help="interface the EV is connected to")
@click.option("--loopback", is_flag=True, help="serve on ::1 (single-host demo)")
@click.option("--protocols", default=SESSION_DEFAULT, show_default=True, help="protocols this charger speaks")
@click.option("--tls/--no-tls", default=False, help="offer TLS (answers what the EV asks for)")
@click.option("--tls-only", is_flag=True, help="always answer TLS")
@click.option("--dc/--ac", default=True, help="the charger's power module")
@click.option("--sdp-port", default=15118, show_default=True)
@click.option("--setup-timeout", type=float, help="stop SDP and listening if no handshake succeeds in time")
@click.option("--max-connections", type=click.IntRange(min=1),
              help="concurrent connections, TCP and TLS together [default: 256, fewer under a low `ulimit -n`]; a "
                   "newcomer at the limit closes the oldest connection still before its handshake")
@click.option("--max-per-peer", type=click.IntRange(min=1), default=32, show_default=True,
              help="concurrent connections from one address (raise it for many simulated cars on one host)")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="write the log (INFO and up) to this file, rotated at 10 MB, 5 old files kept")
@click.option("--once", is_flag=True, help="exit after the first session (status 0 if it ended with SessionStop OK)")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file: [secc] options, [secc.evse] simulator and [secc.session] machine settings")
@_apply(tls_options)
@click.pass_context
def secc(ctx: click.Context, interface: str | None, loopback: bool, protocols: str, tls: bool, tls_only: bool,
         dc: bool, sdp_port: int, setup_timeout: float | None, max_connections: int | None, max_per_peer: int,
         log_file: Path | None, once: bool, config_path: Path | None,
         pki_dir: Path, keylog: Path | None, pcap: Path | None, trace_json: Path | None) -> None:
    """Charger side: SDP, TCP/TLS, the app handshake and DIN 70121 / ISO 15118-2 sessions with a simulated
    power module. Runs until interrupted (or one session with --once)."""
    from v2gkit.logfile import log_to_file
    from v2gkit.net.charging import SessionRecord, secc_sessions
    from v2gkit.net.limits import ConnectionLimits
    from v2gkit.net.link import LinkError, SECCLink
    from v2gkit.net.runner import settle_heap
    from v2gkit.net.tls import TlsConfigError
    from v2gkit.sdp import SecurityPolicy
    from v2gkit.session.charging import SECCConfig
    from v2gkit.session.handshake import protocol_list

    extra = _config(ctx, config_path, "secc")
    p = ctx.params
    interface, loopback, protocols, tls, tls_only, dc = (p["interface"], p["loopback"], p["protocols"], p["tls"],
                                                         p["tls_only"], p["dc"])
    _where(interface, loopback)
    try:
        supported = protocol_list(protocols)
    except ValueError as e:
        _fail(str(e), 2)
    ctx_tls = None
    if tls or tls_only:
        try:
            ctx_tls = _secc_tls(tls_profile(supported), pki_dir, keylog)
        except TlsConfigError as e:
            _fail(str(e), 2)
    policy = SecurityPolicy.TLS_ONLY if tls_only else SecurityPolicy.ECHO if tls else SecurityPolicy.NONE_ONLY
    tracer = _tracer(pcap, trace_json, "SECC")
    cfg = _kw(SECCConfig, {"dc": dc, **extra.get("session", {})}, "secc.session")
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
    done = asyncio.Event() if once else None
    first: list[SessionRecord] = []  # --once: the session that decides the exit status (nothing else is kept)

    def say(name: str, info: dict[str, Any]) -> None:
        click.echo(f"{name} " + " ".join(f"{k}={v}" for k, v in info.items()), nl=True)
        sys.stdout.flush()

    def finished(rec: SessionRecord) -> None:
        if once and not first:
            first.append(rec)
        o, r = rec.outcome, rec.result
        if o.ok or link.faults.admit("session"):  # failed sessions are rate-limited like other peer faults
            say("session", {"conn": rec.conn, "protocol": rec.protocol, "ok": o.ok, "reason": o.reason,
                            "messages": r.messages, "energy_wh": round(r.energy_wh, 1),
                            "seconds": round(o.seconds, 2),
                            "median_answer_CurrentDemand": _median_ms(o.answer_times.get("CurrentDemandRes", []))})
        if done is not None:
            done.set()

    link = SECCLink(interface=interface, loopback=loopback, protocols=supported, policy=policy,
                    ssl_context=ctx_tls, tracer=tracer, sdp_port=sdp_port, setup_timeout=setup_timeout,
                    limits=limits, on_event=say,
                    session=secc_sessions(_evse_factory(dc, extra), cfg, on_done=finished))

    async def run() -> None:
        settle_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with link:
            waits = [loop.create_task(stop.wait())] + ([loop.create_task(done.wait())] if done else [])
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    try:
        asyncio.run(run())
    except (LinkError, OSError) as e:
        _fail(str(e))
    finally:
        if tracer is not None:
            tracer.close()
    if once:
        sys.exit(0 if first and first[0].outcome.ok else 1)


@click.command()
@click.option("--interface", "-i", help="interface to the charger")
@click.option("--loopback", is_flag=True, help="find the SECC on this host (::1)")
@click.option("--protocols", default=SESSION_DEFAULT, show_default=True,
              help="protocols to offer, best first (the order is the priority)")
@click.option("--tls/--no-tls", default=False, help="ask for TLS in SDP (the SECC's answer decides)")
@click.option("--dc/--ac", default=True, help="charge DC or AC")
@click.option("--soc", default=30.0, show_default=True, help="simulated battery: state of charge at the start, %")
@click.option("--target-soc", default=80.0, show_default=True, help="... and where the car stops, %")
@click.option("--speed", default=1.0, show_default=True, help="run the battery physics this many times faster")
@click.option("--loop-interval", default=0.1, show_default=True, help="seconds between CurrentDemand/ChargingStatus")
@click.option("--sdp-port", default=15118, show_default=True)
@click.option("--handshake-only", is_flag=True, help="stop after supportedAppProtocol (no charging session)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file: [evcc] options, [evcc.ev] simulator and [evcc.session] machine settings")
@_apply(tls_options)
@click.pass_context
def evcc(ctx: click.Context, interface: str | None, loopback: bool, protocols: str, tls: bool, dc: bool, soc: float,
         target_soc: float, speed: float, loop_interval: float, sdp_port: int, handshake_only: bool, as_json: bool,
         config_path: Path | None, pki_dir: Path, keylog: Path | None, pcap: Path | None,
         trace_json: Path | None) -> None:
    """EV side: discover, connect, negotiate and charge a simulated battery. Exit status 0 only when the
    session ended with SessionStop OK."""
    from v2gkit.net.charging import charge
    from v2gkit.net.iface import InterfaceError
    from v2gkit.net.link import LinkError, ev_link
    from v2gkit.net.runner import settle_heap
    from v2gkit.net.tls import TlsConfigError
    from v2gkit.session.charging import EVCCConfig, Send
    from v2gkit.session.handshake import protocol_list
    from v2gkit.sim.scaled import Accelerated

    extra = _config(ctx, config_path, "evcc")
    p = ctx.params
    interface, loopback, protocols, tls, dc = p["interface"], p["loopback"], p["protocols"], p["tls"], p["dc"]
    _where(interface, loopback)
    try:
        offer = protocol_list(protocols)
    except ValueError as e:
        _fail(str(e), 2)
    ctx_tls = None
    if tls or pki_dir.exists():  # a TLS answer is taken whenever a PKI is at hand
        try:
            ctx_tls = _evcc_tls(tls_profile(offer), pki_dir, keylog)
        except TlsConfigError as e:
            _fail(str(e), 2)
    tracer = _tracer(pcap, trace_json, "EVCC")
    link_kw = {"interface": interface, "loopback": loopback, "tls": tls, "ssl_context": ctx_tls,
               "sdp_port": p["sdp_port"], "tracer": tracer}
    last = {"name": "", "t": 0.0}
    ev = _ev(dc, p["soc"], p["target_soc"], extra)

    def observe(now: float, out: Any) -> None:
        if as_json or not isinstance(out, Send):
            return
        if out.name != last["name"] or now - last["t"] >= 10.0:
            v = f" soc={ev.soc():.1f}%" if out.name in ("CurrentDemandReq", "ChargingStatusReq") else ""
            click.echo(f"-> {out.name}{v}")
            last["name"], last["t"] = out.name, now

    async def run() -> dict[str, Any]:
        settle_heap()
        if handshake_only:
            link = await ev_link(protocols=offer, **link_kw)
            await link.connection.close()
            return _link_info(link)
        cfg = _kw(EVCCConfig, {"dc": dc, "loop_interval": p["loop_interval"], **extra.get("session", {})},
                  "evcc.session")
        res = await charge(Accelerated(ev, p["speed"]) if p["speed"] != 1 else ev, cfg, protocols=offer,
                           observe=observe, **link_kw)
        info = _link_info(res.link)
        o = res.outcome
        info.update({"ok": o.ok, "reason": o.reason, "messages": res.machine.result.messages,
                     "soc": round(ev.soc(), 2), "charged_wh": round(ev.charged_wh, 1), "seconds": round(o.seconds, 2),
                     "round_trip_ms": {k: round(statistics.median(v) * 1e3, 3) for k, v in o.round_trips.items()},
                     "session_id": res.machine.session_id.hex(), "paused": res.machine.result.paused})
        return info

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
    else:
        t = info["tls"]
        click.echo(f"SECC [{info['address']}]:{info['port']} security {info['security']} "
                   f"after {info['sdp_requests']} SDP request(s)")
        click.echo("connection: " + (f"{t['version']} {t['cipher']} SECC certificate CN={t['peer_cn']}"
                                     if t else "TCP (no TLS)"))
        click.echo(f"negotiated: {info['protocol']} ({info['namespace']}) SchemaID {info['schema_id']} "
                   f"{info['response_code']} in {info['setup_ms']:.1f} ms")
        if not handshake_only:
            rtt = info["round_trip_ms"].get("CurrentDemand") or info["round_trip_ms"].get("ChargingStatus")
            click.echo(f"session: {'SessionStop OK' if info['ok'] else 'FAILED'} ({info['reason']}), "
                       f"{info['messages']} responses, SOC {info['soc']}%, {info['charged_wh'] / 1000:.2f} kWh, "
                       f"{info['seconds']} s, median loop round trip {rtt} ms")
    if not handshake_only and not info["ok"]:
        sys.exit(1)


def _link_info(link: Any) -> dict[str, Any]:
    n = link.negotiated
    return {"address": str(link.secc.address), "port": link.secc.port, "security": link.secc.security.name,
            "sdp_requests": link.sdp_requests, "tls": link.connection.tls, "protocol": n.protocol.name,
            "namespace": n.protocol.namespace, "schema_id": n.schema_id, "response_code": n.response_code.name,
            "setup_ms": link.setup_seconds * 1000}


@click.command()
@click.option("--dc/--ac", default=True, help="DC (default) or AC charging")
@click.option("--din", is_flag=True, help="DIN SPEC 70121 instead of ISO 15118-2 (DC only)")
@click.option("--tls", is_flag=True, help="ISO 15118-2 over TLS 1.2 (throwaway test PKI)")
@click.option("--soc", default=30.0, show_default=True)
@click.option("--target-soc", default=80.0, show_default=True)
@click.option("--speed", default=60.0, show_default=True, help="battery physics runs this many times faster")
@click.option("--pki", "pki_dir", type=click.Path(path_type=Path), default=DEFAULT_PKI,
              show_default=True, help="folder of the throwaway test PKI for --tls")
def demo(dc: bool, din: bool, tls: bool, soc: float, target_soc: float, speed: float, pki_dir: Path) -> None:
    """Both roles in one process over loopback: a full charging session, shown live."""
    from .live import run_demo
    if din and not dc:
        _fail("DIN SPEC 70121 sessions are DC only", 2)
    ok = run_demo(dc=dc, protocol="din" if din else "iso2", tls=tls, soc=soc, target_soc=target_soc, speed=speed,
                  pki_dir=pki_dir, sdp_port=random.randrange(20000, 30000))
    sys.exit(0 if ok else 1)
