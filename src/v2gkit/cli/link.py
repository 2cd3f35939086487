"""``v2gkit sdp discover`` and what ``secc``/``evcc``/``demo`` share: TLS contexts from the test PKI, traces,
the common options."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from v2gkit.pki.quick import DEFAULT_PKI

from .options import COUNT, INTERFACE, PORT, Number
from .options import fail as _fail


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
    click.option("--keylog", type=click.Path(dir_okay=False, path_type=Path),
                 help="append TLS secrets here (SSLKEYLOGFILE format)"),
    click.option("--pcap", type=click.Path(dir_okay=False, path_type=Path),
                 help="write every V2GTP message to this pcapng file"),
    click.option("--trace-json", type=click.Path(dir_okay=False, path_type=Path),
                 help="... and/or to this JSON-lines log"),
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
@click.option("--interface", "-i", type=INTERFACE,
              help="interface to the charger (IPv6 link-local, multicast ff02::1)")
@click.option("--loopback", is_flag=True, help="ask an SECC on this host (unicast to ::1)")
@click.option("--tls/--no-tls", default=False, help="security to ask for (answer decides)")
@click.option("--port", type=PORT, default=15118, show_default=True, help="SDP UDP port")
@click.option("--max-requests", type=COUNT, default=50, show_default=True,
              help="give up after this many requests without a valid answer")
@click.option("--interval", type=Number(min=0.0, min_open=True, max=60.0), default=0.25, show_default=True,
              help="seconds to wait for an answer before asking again")
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
