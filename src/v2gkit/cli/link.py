"""``v2gkit sdp discover``, ``v2gkit secc`` and ``v2gkit evcc``: the communication set-up from the shell."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

DEFAULT_PKI = Path.home() / ".cache" / "v2gkit" / "pki"


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _where(interface: str | None, loopback: bool) -> None:
    if not interface and not loopback:
        _fail("give --interface IF (the link to the other side) or --loopback", 2)


def _tracer(pcap: Path | None, trace_json: Path | None, role: str) -> Any:
    if pcap is None and trace_json is None:
        return None
    from v2gkit.trace import Tracer
    return Tracer(pcapng=pcap, jsonl=trace_json, role=role)


def tls_profile(protocols: list[Any]) -> str:
    """TLS 1.3 for ISO 15118-20, TLS 1.2 for ISO 15118-2, both when both are configured."""
    iso20 = any(p.name.startswith("iso20") for p in protocols)
    other = any(not p.name.startswith("iso20") for p in protocols)
    return "iso2+iso20" if iso20 and other else "iso20" if iso20 else "iso2"


def _pki(pki_dir: Path, protocol: str) -> Any:
    """The throwaway test PKI of one protocol (P-256 for ISO 15118-2, P-521 for -20), in its own sub-folder."""
    from v2gkit.pki.quick import make_test_pki
    return make_test_pki(pki_dir / protocol, protocol)


tls_options = [
    click.option("--pki", "pki_dir", type=click.Path(path_type=Path), default=DEFAULT_PKI, show_default=True,
                 help="folder of a throwaway test PKI, created on first use (both roles read the same one)"),
    click.option("--keylog", type=click.Path(path_type=Path), help="append TLS secrets here (SSLKEYLOGFILE format)"),
    click.option("--pcap", type=click.Path(path_type=Path), help="write every V2GTP message to this pcapng file"),
    click.option("--trace-json", type=click.Path(path_type=Path), help="... and/or to this JSON-lines log"),
]


def _apply(options: list) -> Any:
    def deco(f: Any) -> Any:
        for o in reversed(options):
            f = o(f)
        return f
    return deco


def _secc_tls(profile: str, pki_dir: Path, keylog: Path | None) -> Any:
    """The SECC's TLS: TLS 1.2 with the ISO 15118-2 chain, TLS 1.3 (mutual) with the -20 chain, or both,
    chosen per connection from the ClientHello."""
    from v2gkit.net import tls as tlsmod

    contexts = {}
    for proto in ("iso2", "iso20"):
        if proto == "iso2" and profile == "iso20" or proto == "iso20" and profile == "iso2":
            continue
        pki = _pki(pki_dir, proto)
        roots = [pki.oem_root] if proto == "iso20" else None
        contexts[proto] = tlsmod.server_context(proto, pki.secc_chain, pki.secc_key, client_roots=roots,
                                                keylog=keylog)
        click.echo(f"TLS {'1.3' if proto == 'iso20' else '1.2'}: SECC certificate chain {pki.secc_chain}")
    if len(contexts) == 2:
        return tlsmod.by_version(contexts["iso2"], contexts["iso20"])
    return next(iter(contexts.values()))


def _evcc_tls(profile: str, pki_dir: Path, keylog: Path | None) -> Any:
    """The EVCC's TLS: trusts the V2G roots of the test PKIs in play; the vehicle certificate for -20."""
    from v2gkit.net import tls as tlsmod

    protos = ["iso2", "iso20"] if profile == "iso2+iso20" else [profile]
    pkis = {p: _pki(pki_dir, p) for p in protos}
    v = pkis.get("iso20")
    return tlsmod.client_context(profile, [p.v2g_root for p in pkis.values()],  # type: ignore[arg-type]
                                 cert_chain=v.vehicle_chain if v else None, key=v.vehicle_key if v else None,
                                 keylog=keylog)


@click.group()
def sdp() -> None:
    """SECC discovery (UDP port 15118)."""


@sdp.command("discover")
@click.option("--interface", "-i", help="interface to the charger (IPv6 link-local, multicast ff02::1)")
@click.option("--loopback", is_flag=True, help="ask an SECC on this host (unicast to ::1)")
@click.option("--tls/--no-tls", default=False, help="security to ask for (answer decides)")
@click.option("--port", default=15118, show_default=True, help="SDP UDP port")
@click.option("--max-requests", default=50, show_default=True)
@click.option("--interval", default=0.25, show_default=True, help="seconds between requests")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def sdp_discover(interface: str | None, loopback: bool, tls: bool, port: int, max_requests: int, interval: float,
                 as_json: bool) -> None:
    """Find the SECC: prints its address, TCP port and security."""
    from v2gkit.net.iface import InterfaceError
    from v2gkit.net.sdp import DiscoveryError, discover
    from v2gkit.sdp import Security

    _where(interface, loopback)
    try:
        res, attempts = asyncio.run(discover(interface=interface, loopback=loopback, port=port,
                                             security=Security.TLS if tls else Security.NONE,
                                             max_requests=max_requests, interval=interval))
    except DiscoveryError as e:
        _fail(f"{e} on {'::1' if loopback else interface}")
    except (InterfaceError, OSError) as e:
        _fail(str(e), 2)
    if as_json:
        click.echo(json.dumps({"address": str(res.address), "port": res.port, "security": res.security.name,
                               "transport": res.transport.name, "requests": attempts}))
    else:
        click.echo(f"SECC [{res.address}]:{res.port} security {res.security.name} (0x{res.security:02X}) "
                   f"transport {res.transport.name} after {attempts} request{'s' if attempts > 1 else ''}")


@click.command()
@click.option("--interface", "-i", help="interface the EV is connected to")
@click.option("--loopback", is_flag=True, help="serve on ::1 (single-host demo)")
@click.option("--protocols", default="iso20-dc,iso20-ac,iso2,din", show_default=True,
              help="protocols this charger speaks")
@click.option("--tls/--no-tls", default=False, help="offer TLS (answers what the EV asks for)")
@click.option("--tls-only", is_flag=True, help="always answer TLS")
@click.option("--sdp-port", default=15118, show_default=True)
@click.option("--setup-timeout", type=float, help="stop SDP and listening if no handshake succeeds in time")
@_apply(tls_options)
def secc(interface: str | None, loopback: bool, protocols: str, tls: bool, tls_only: bool, sdp_port: int,
         setup_timeout: float | None, pki_dir: Path, keylog: Path | None, pcap: Path | None,
         trace_json: Path | None) -> None:
    """Charger side: SDP responder, TCP/TLS listeners and the app handshake. Runs until interrupted."""
    from v2gkit.net import tls as tlsmod
    from v2gkit.net.link import LinkError, SECCLink
    from v2gkit.sdp import SecurityPolicy
    from v2gkit.session.handshake import protocol_list

    _where(interface, loopback)
    try:
        supported = protocol_list(protocols)
    except ValueError as e:
        _fail(str(e), 2)
    ctx = None
    policy = SecurityPolicy.TLS_ONLY if tls_only else SecurityPolicy.ECHO if tls else SecurityPolicy.NONE_ONLY
    if tls or tls_only:
        profile = tls_profile(supported)
        try:
            ctx = _secc_tls(profile, pki_dir, keylog)
        except tlsmod.TlsConfigError as e:
            _fail(str(e), 2)
    tracer = _tracer(pcap, trace_json, "SECC")

    def on_event(name: str, info: dict[str, Any]) -> None:
        details = " ".join(f"{k}={v}" for k, v in info.items())
        click.echo(f"{name} {details}")
        sys.stdout.flush()

    async def run() -> None:
        link = SECCLink(interface=interface, loopback=loopback, protocols=supported, policy=policy, ssl_context=ctx,
                        tracer=tracer, sdp_port=sdp_port, setup_timeout=setup_timeout, on_event=on_event)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with link:
            await stop.wait()

    try:
        asyncio.run(run())
    except (LinkError, OSError) as e:
        _fail(str(e))
    finally:
        if tracer is not None:
            tracer.close()


@click.command()
@click.option("--interface", "-i", help="interface to the charger")
@click.option("--loopback", is_flag=True, help="find the SECC on this host (::1)")
@click.option("--protocols", default="iso20-dc,iso20-ac,iso2,din", show_default=True,
              help="protocols to offer, best first (the order is the priority)")
@click.option("--tls/--no-tls", default=False, help="ask for TLS in SDP (the SECC's answer decides)")
@click.option("--sdp-port", default=15118, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@_apply(tls_options)
def evcc(interface: str | None, loopback: bool, protocols: str, tls: bool, sdp_port: int, as_json: bool,
         pki_dir: Path, keylog: Path | None, pcap: Path | None, trace_json: Path | None) -> None:
    """EV side: discover the SECC, connect (TCP or TLS as it answers) and negotiate the protocol."""
    from v2gkit.net import tls as tlsmod
    from v2gkit.net.iface import InterfaceError
    from v2gkit.net.link import LinkError
    from v2gkit.session.handshake import protocol_list

    _where(interface, loopback)
    try:
        offer = protocol_list(protocols)
    except ValueError as e:
        _fail(str(e), 2)
    ctx = None
    if tls or pki_dir.exists():  # a TLS answer is taken whenever a PKI is at hand
        try:
            ctx = _evcc_tls(tls_profile(offer), pki_dir, keylog)
        except tlsmod.TlsConfigError as e:
            _fail(str(e), 2)
    tracer = _tracer(pcap, trace_json, "EVCC")
    try:
        link = asyncio.run(_ev(interface, loopback, offer, tls, ctx, sdp_port, tracer))
    except LinkError as e:
        _fail(str(e))
    except (InterfaceError, OSError) as e:
        _fail(str(e), 2)
    finally:
        if tracer is not None:
            tracer.close()
    conn_tls = link["tls"]
    if as_json:
        click.echo(json.dumps(link))
        return
    click.echo(f"SECC [{link['address']}]:{link['port']} security {link['security']} "
               f"after {link['sdp_requests']} SDP request(s)")
    click.echo("connection: " + (f"{conn_tls['version']} {conn_tls['cipher']} SECC certificate "
                                 f"CN={conn_tls['peer_cn']}" if conn_tls else "TCP (no TLS)"))
    click.echo(f"negotiated: {link['protocol']} ({link['namespace']}) SchemaID {link['schema_id']} "
               f"{link['response_code']} in {link['setup_ms']:.1f} ms")


async def _ev(interface: str | None, loopback: bool, offer: list, tls: bool, ctx: Any, sdp_port: int,
              tracer: Any) -> dict[str, Any]:
    from v2gkit.net.link import ev_link

    link = await ev_link(interface=interface, loopback=loopback, protocols=offer, tls=tls, ssl_context=ctx,
                         sdp_port=sdp_port, tracer=tracer)
    await link.connection.close()
    n = link.negotiated
    return {"address": str(link.secc.address), "port": link.secc.port, "security": link.secc.security.name,
            "sdp_requests": link.sdp_requests, "tls": link.connection.tls, "protocol": n.protocol.name,
            "namespace": n.protocol.namespace, "schema_id": n.schema_id, "response_code": n.response_code.name,
            "setup_ms": link.setup_seconds * 1000}
