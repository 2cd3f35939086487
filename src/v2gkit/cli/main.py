"""The ``v2gkit`` command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from v2gkit.exi import ExiError, decode_element, decode_fragment, decode_lenient, encode, encode_fragment
from v2gkit.exi.api import SCHEMAS
from v2gkit.exi.runtime import Message
from v2gkit.v2gtp import HEADER_SIZE, TCP_PAYLOAD_TYPES, VERSION, PayloadType, V2GTPError, parse_header

from .options import COUNT, SECONDS, Main

SCHEMA_CHOICE = click.Choice(list(SCHEMAS))


def _read_input(arg: str) -> bytes:
    """INPUT is hex on the command line, or @FILE / - (stdin) holding binary EXI or hex text. Hex may have
    a 0x prefix and whitespace or colons between bytes; a V2GTP header in front is checked and dropped."""
    if arg == "-":
        raw, where = sys.stdin.buffer.read(), "stdin"
    elif arg.startswith("@"):
        try:
            raw = Path(arg[1:]).read_bytes()
        except OSError as e:
            raise click.UsageError(f"cannot read {arg[1:]}: {e.strerror}") from None
        where = arg[1:]
    else:
        return strip_v2gtp(parse_hex(arg, "INPUT"))
    if _binary(raw):
        return strip_v2gtp(raw)
    return strip_v2gtp(parse_hex(raw.decode("ascii"), where))


def _binary(raw: bytes) -> bool:
    """Binary EXI starts with 0x80..0xBF (or the $EXI cookie), a V2GTP frame with 0x01 0xFE; text is
    printable ASCII."""
    if not raw:
        return False
    if raw[0] >= 0x80 or raw.startswith((b"\x01\xfe", b"$EXI")):
        return True
    return any(b > 0x7E or (b < 0x20 and b not in b"\t\n\r") for b in raw)


def parse_hex(text: str, where: str) -> bytes:
    """Hex digits, with an optional 0x in front of the whole or of each byte group, and whitespace or colons
    between groups; a UsageError that says "not hex" and where otherwise."""
    groups = text.replace(":", " ").replace(",", " ").split()
    digits = "".join(g[2:] if g[:2] in ("0x", "0X") else g for g in groups)
    if not digits:
        raise click.UsageError(f"{where} is empty: give hex digits, @FILE or - (stdin)")
    bad = next((i for i, c in enumerate(digits) if c not in "0123456789abcdefABCDEF"), None)
    if bad is not None:
        raise click.UsageError(f"{where} is not hex: {digits[bad]!r} at digit {bad + 1} (give hex digits "
                               f"such as 809a02..., or @FILE for a binary file)")
    if len(digits) % 2:
        raise click.UsageError(f"{where} is not hex: an odd number of digits ({len(digits)})")
    return bytes.fromhex(digits)


def strip_v2gtp(data: bytes) -> bytes:
    """Drop a V2GTP header (01 FE, payload type, length) in front of the EXI; one whose length does not
    match what follows, or whose payload is not EXI, is a UsageError."""
    if not data or data[0] != VERSION:  # EXI never starts with 0x01: its first bits are 10 or a $EXI cookie
        return data
    try:
        payload_type, length = parse_header(data)
    except V2GTPError as e:
        raise click.UsageError(f"INPUT starts like a V2GTP header but is none: {e}") from None
    follow = len(data) - HEADER_SIZE
    if length != follow:
        raise click.UsageError(f"the V2GTP header says {length} payload octets, but {follow} follow")
    if payload_type not in TCP_PAYLOAD_TYPES:
        name = PayloadType(payload_type).name if payload_type in PayloadType._value2member_map_ else "unknown"
        raise click.UsageError(f"V2GTP payload type 0x{payload_type:04X} ({name}) carries no EXI")
    return data[HEADER_SIZE:]


def _decodes_as(data: bytes, fragment: bool, strict: bool, skip: str) -> list[str]:
    """The other schemas that decode ``data`` completely (to name them when the chosen one fails)."""
    found = []
    for schema in SCHEMAS:
        if schema == skip:
            continue
        try:
            (decode_fragment if fragment else decode_element)(data, schema, strict=strict)
        except ExiError:
            continue
        except Exception:  # noqa: BLE001 - a codec bug in another schema must not hide the real error
            continue
        found.append(schema)
    return found


@click.group(cls=Main, name="v2gkit")
@click.version_option(package_name="v2gkit")
def main() -> None:
    """v2gkit: EV <-> charger communication toolkit (ISO 15118-2/-20, DIN 70121)."""


@main.group()
def exi() -> None:
    """Encode and decode V2G EXI streams."""


@exi.command("decode")
@click.option("--schema", "-s", type=SCHEMA_CHOICE, required=True, help="grammar of the stream")
@click.option("--fragment", is_flag=True, help="the stream is an EXI fragment (signature input)")
@click.option("--format", "fmt", type=click.Choice(["xml", "json"]), default="xml", show_default=True,
              help="print the message as XML or as JSON")
@click.option("--lenient", is_flag=True,
              help="keep what the stream carries but the schema forbids (values outside a facet, abstract "
                   "elements, octets after the document) and list it on stderr")
@click.argument("input_", metavar="INPUT")
def exi_decode(schema: str, fragment: bool, fmt: str, lenient: bool, input_: str) -> None:
    """Decode INPUT and print it as XML or JSON. INPUT is hex (0x prefix, spaces and colons allowed),
    @FILE or - (stdin), each binary or hex; a V2GTP header in front is checked and dropped."""
    from v2gkit.exi.convert import to_json, to_xml

    data = _read_input(input_)
    try:
        if fragment:
            items = decode_fragment(data, schema, strict=not lenient)
        elif lenient:
            kept = decode_lenient(data, schema)
            items = [(kept.element, kept.value)]
            for offset, what in kept.violations:
                click.echo(f"note: at bit {offset}: kept: {what}", err=True)
            if kept.trailing:
                click.echo(f"note: ignored {len(kept.trailing)} octet(s) after the end of the document: "
                           f"{kept.trailing.hex()}", err=True)
        else:
            items = [decode_element(data, schema)]
    except ExiError as e:
        others = _decodes_as(data, fragment, not lenient, schema)
        hint = (f"; it decodes as {' and '.join(others)} (try --schema {others[0]})" if others else
                "; no other schema decodes it either" if len(data) > 1 else "")
        click.echo(f"error: {e}{hint}", err=True)
        sys.exit(2)
    for name, obj in items:
        if not isinstance(obj, Message):
            click.echo(f"<{name}>{obj}</{name}>" if fmt == "xml" else f'{{"{name}": {obj!r}}}')
            continue
        if fmt == "xml":
            click.echo(to_xml(obj, element=name, fragment=fragment))
        else:
            click.echo(to_json(obj, element=name, indent=2))


@exi.command("encode")
@click.option("--schema", "-s", type=SCHEMA_CHOICE, required=True, help="grammar to encode with")
@click.option("--fragment", is_flag=True, help="encode as an EXI fragment")
@click.option("--format", "fmt", type=click.Choice(["xml", "json"]), default=None,
              help="input format (default: guessed from the first character)")
@click.argument("file", type=click.File("r"))
def exi_encode(schema: str, fragment: bool, fmt: str | None, file: click.utils.LazyFile) -> None:
    """Encode an XML or JSON message from FILE (or -) and print the EXI as hex."""
    from v2gkit.exi.convert import from_json, from_xml

    text = file.read()
    fmt = fmt or ("json" if text.lstrip().startswith("{") else "xml")
    try:
        name, obj = (from_json if fmt == "json" else from_xml)(text, schema, fragment=fragment)
        data = (encode_fragment if fragment else encode)(obj, element=name, schema=schema)
    except ExiError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except ValueError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    click.echo(data.hex())


@exi.command("demo")
@click.option("--repeat", type=COUNT, default=2000, show_default=True, help="timing iterations per message")
def exi_demo(repeat: int) -> None:
    """A full ISO 15118-2 DC message sequence: encode, decode, timing, one message as XML."""
    from rich.console import Console
    from rich.syntax import Syntax
    from rich.table import Table

    from v2gkit.exi import decode
    from v2gkit.exi.convert import to_xml
    from v2gkit.sim.iso2_dc import sequence

    console = Console(width=max(Console().width, 110))
    table = Table(title="ISO 15118-2 DC session (EIM): every message encoded and decoded")
    for col, just in (("#", "right"), ("message", "left"), ("direction", "left"), ("bytes", "right"),
                      ("encode µs", "right"), ("decode µs", "right"), ("round trip", "center")):
        table.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    seq = sequence()
    for i, (name, direction, msg) in enumerate(seq, 1):
        data = encode(msg)
        back = decode(data, "iso2")
        t_enc = _median_us(lambda: encode(msg), repeat)
        t_dec = _median_us(lambda: decode(data, "iso2"), repeat)
        table.add_row(str(i), name, direction, str(len(data)), f"{t_enc:.1f}", f"{t_dec:.1f}",
                      "[green]ok[/]" if back == msg else "[red]DIFFERS[/]")
    console.print(table)
    name, _d, cd = next(x for x in seq if x[0] == "CurrentDemandReq")
    data = encode(cd)
    console.print(f"\n[bold]{name}[/] as EXI ({len(data)} bytes): [cyan]{data.hex()}[/]\n")
    console.print(Syntax(to_xml(cd), "xml", theme="ansi_dark", word_wrap=True))


def _median_us(fn: object, n: int) -> float:
    times = []
    f = fn  # type: ignore[assignment]
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(max(1, n // 7)):
            f()  # type: ignore[operator]
        times.append((time.perf_counter() - t) / max(1, n // 7))
    times.sort()
    return times[3] * 1e6


@main.command()
@click.option("--secc", "secc_cmd", required=True, metavar="CMD",
              help="command for the charger side, run in the second namespace (its interface: v2g-secc)")
@click.option("--evcc", "evcc_cmd", required=True, metavar="CMD",
              help="command for the EV side, run in this one (its interface: v2g-ev); its exit status is "
                   "netns's")
@click.option("--ready", default="listening", show_default=True,
              help="text the charger side prints once it is ready; the EV side starts then")
@click.option("--ready-timeout", type=SECONDS, default=30.0, show_default=True,
              help="seconds the charger side has to print the --ready text")
@click.option("--timeout", type=SECONDS, default=None,
              help="seconds the EV side may run  [default: no limit]")
def netns(secc_cmd: str, evcc_cmd: str, ready: str, ready_timeout: float, timeout: float | None) -> None:
    """Two hosts on this machine: a veth pair between this network namespace (the EV, v2g-ev, fe80::2) and a
    second one (the charger, v2g-secc, fe80::1), so SDP multicast and IPv6 link-local TCP run as on a real
    link. Needs no root where user namespaces are allowed (it re-runs itself under `unshare -rn`)."""
    from v2gkit.net import netns as ns

    if not ns.inside_private_netns():
        why = ns.netns_available()
        if why is not None:
            _fail_usage(why)
        again = ["netns", "--secc", secc_cmd, "--evcc", evcc_cmd, "--ready", ready,
                 "--ready-timeout", f"{ready_timeout!r}"]
        if timeout is not None:
            again += ["--timeout", f"{timeout!r}"]
        sys.exit(ns.run_private([sys.executable, "-m", "v2gkit.cli.main", *again]))
    try:
        sys.exit(ns.run_pair(secc_cmd, evcc_cmd, ready=ready, ready_timeout=ready_timeout, timeout=timeout))
    except ns.NetnsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


def _fail_usage(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _register() -> None:
    from v2gkit.cli.charge import demo, evcc, secc
    from v2gkit.cli.link import sdp
    from v2gkit.cli.replay import replay
    from v2gkit.cli.testcmd import test
    main.add_command(sdp)
    main.add_command(test)
    main.add_command(replay)
    main.add_command(secc)
    main.add_command(evcc)
    main.add_command(demo)


_register()

if __name__ == "__main__":
    main()
