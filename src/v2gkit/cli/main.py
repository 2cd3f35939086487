"""The ``v2gkit`` command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from v2gkit.exi import ExiError, decode_element, decode_fragment, encode, encode_fragment
from v2gkit.exi.api import SCHEMAS
from v2gkit.exi.runtime import Message
from v2gkit.v2gtp import HEADER_SIZE, V2GTPError, parse_header

SCHEMA_CHOICE = click.Choice(list(SCHEMAS))


def _read_input(arg: str) -> bytes:
    """INPUT is hex, @file (binary or hex text) or - (stdin, binary or hex text)."""
    if arg == "-":
        raw = sys.stdin.buffer.read()
    elif arg.startswith("@"):
        try:
            raw = Path(arg[1:]).read_bytes()
        except OSError as e:
            raise click.UsageError(f"cannot read {arg[1:]}: {e.strerror}") from None
    else:
        raw = arg.encode()
    text = raw.strip()
    try:
        if text and all(c in b"0123456789abcdefABCDEF \n\r\t:" for c in text):
            data = bytes.fromhex(text.decode().replace(":", " "))
        else:
            data = raw
    except ValueError:
        raise click.UsageError("INPUT is neither hex nor binary EXI") from None
    return strip_v2gtp(data)


def strip_v2gtp(data: bytes) -> bytes:
    """Drop a leading V2GTP header (01 FE, payload type, length) when one is there."""
    try:
        _, length = parse_header(data)
    except V2GTPError:
        return data
    return data[HEADER_SIZE:] if length == len(data) - HEADER_SIZE else data


@click.group()
@click.version_option(package_name="v2gkit")
def main() -> None:
    """v2gkit: EV <-> charger communication toolkit (ISO 15118-2/-20, DIN 70121)."""


@main.group()
def exi() -> None:
    """Encode and decode V2G EXI streams."""


@exi.command("decode")
@click.option("--schema", "-s", type=SCHEMA_CHOICE, required=True, help="grammar of the stream")
@click.option("--fragment", is_flag=True, help="the stream is an EXI fragment (signature input)")
@click.option("--format", "fmt", type=click.Choice(["xml", "json"]), default="xml", show_default=True)
@click.option("--lenient", is_flag=True, help="keep values outside a schema facet (as EXIficient does)")
@click.argument("input_", metavar="INPUT")
def exi_decode(schema: str, fragment: bool, fmt: str, lenient: bool, input_: str) -> None:
    """Decode INPUT (hex, @file or -) and print it as XML or JSON."""
    from v2gkit.exi.convert import to_json, to_xml

    data = _read_input(input_)
    try:
        if fragment:
            items = decode_fragment(data, schema, strict=not lenient)
        else:
            items = [decode_element(data, schema, strict=not lenient)]
    except ExiError as e:
        click.echo(f"error: {e}", err=True)
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
@click.option("--schema", "-s", type=SCHEMA_CHOICE, required=True)
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
@click.option("--repeat", default=2000, show_default=True, help="timing iterations per message")
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


@main.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def netns(args: tuple[str, ...]) -> None:
    """Two hosts on this machine (veth pair, private namespaces): --secc CMD --evcc CMD."""
    from v2gkit.net.netns import main as netns_main
    sys.exit(netns_main(list(args) or ["--help"]))


def _register() -> None:
    from v2gkit.cli.charge import demo, evcc, secc
    from v2gkit.cli.link import sdp
    main.add_command(sdp)
    main.add_command(secc)
    main.add_command(evcc)
    main.add_command(demo)


_register()

if __name__ == "__main__":
    main()
