"""``v2gkit test``: the test system on the command line.

``test list`` shows the conformance catalog, ``test run`` runs cases against a system under test (v2gkit's own
machines in-process with ``--self``, or any implementation over a link), ``test lua`` runs one Lua script,
``test table`` merges results files into the README's table.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import click

from .options import ADDRESS, INTERFACE, PORT, SECONDS, SUT

__all__ = ["test"]

PROTOCOL_CHOICE = click.Choice(["din", "iso2", "iso20"])




def _catalog(folders: tuple[str, ...]) -> Any:
    from v2gkit.testsys.catalog import scan_catalog

    cat = scan_catalog(list(folders) or None)
    for p in cat.problems:
        click.echo(f"warning: {p}", err=True)
    return cat


def _select(cases: list, patterns: tuple[str, ...]) -> list:
    from v2gkit.testsys.catalog import select, unmatched_patterns

    chosen = select(cases, list(patterns)) if patterns else list(cases)
    for p in unmatched_patterns(cases, list(patterns)):
        click.echo(f"warning: no case matches {p!r}", err=True)
    return chosen


@click.group()
def test() -> None:
    """The test system: conformance cases and scripts against a charger or a car."""


@test.command("list")
@click.argument("patterns", nargs=-1)
@click.option("--catalog", "folders", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="another folder of case files (Python or Lua); may be given more than once")
@click.option("--protocol", type=PROTOCOL_CHOICE, help="only cases for this protocol")
def list_cases(patterns: tuple[str, ...], folders: tuple[str, ...], protocol: str | None) -> None:
    """List the cases whose ID matches any PATTERN (shell-style, e.g. 'TC_SECC_*_SessionSetup_*', or a part
    of the ID); all without PATTERN."""
    from rich.console import Console
    from rich.table import Table

    cases = _select(_catalog(folders).cases, patterns)
    if protocol:
        cases = [c for c in cases if protocol in c.protocols]
    table = Table(show_lines=False)
    table.add_column("case", no_wrap=True)
    for col in ("tests", "protocols", "from", "title"):
        table.add_column(col, overflow="fold")
    for c in cases:
        table.add_row(c.case_id, "charger" if c.sut_role == "secc" else "car", ",".join(c.protocols),
                      "ISO 15118-4" if c.from_standard else "v2gkit", c.title)
    Console().print(table)
    click.echo(f"{len(cases)} case(s)")


def _target(interface: str | None, address: str | None, loopback: bool, sdp_port: int, timeout: float,
            tls: str | None = None, pki_dir: Path | None = None, sut_role: str = "secc") -> Any:
    """Where the SUT is; ``tls`` ("iso2" or "iso20"): TLS with the test PKI in ``pki_dir`` (the SUT must trust
    its roots: v2gkit's secc/evcc do with the same --pki)."""
    from v2gkit.testsys.live import Target

    ctx = None
    if tls:
        from v2gkit.testsys.runner import tester_tls
        ctx = tester_tls(sut_role, tls, pki_dir)
    return Target(interface=interface, loopback=loopback, address=address, sdp_port=sdp_port,
                  connect_timeout=timeout, tls=bool(tls), ssl_context=ctx, pki_dir=pki_dir)


tls_option = click.option("--tls", type=click.Choice(["iso2", "iso20"]),
                          help="TLS with the test PKI: TLS 1.2 (ISO 15118-2) or 1.3 with mutual authentication "
                               "(ISO 15118-20); TLS fault cases bring their own")
pki_option = click.option("--pki", "pki_dir", type=click.Path(file_okay=False, path_type=Path),
                          help="the test PKI folder the SUT trusts (default ~/.cache/v2gkit/pki, as v2gkit "
                               "secc/evcc use)")


@test.command("run")
@click.argument("patterns", nargs=-1)
@click.option("--self", "self_", is_flag=True, help="against v2gkit's own machines, in-process (simulated clock)")
@click.option("--loopback", is_flag=True, help="against a SUT on this host (SDP and TCP on ::1)")
@click.option("--interface", "-i", type=INTERFACE, help="against a SUT on this interface (SDP multicast, link-local)")
@click.option("--address", type=ADDRESS, help="against the SECC at ADDR:PORT (no SDP; TC_SECC_* cases only)")
@click.option("--launch", "launch", type=SUT,
              help="start this SUT and test it: v2gkit-secc, v2gkit-evcc, josev-secc, josev-evcc (on the veth "
                   "pair in a private network namespace unless --loopback; see python -m v2gkit.testsys.suts list)")
@click.option("--sut", "sut_flag", is_flag=True,
              help="(optional) what follows says where the SUT is: --sut --self, --sut --interface eth1, ...")
@click.option("--label", "sut_label", default="", help="a name for the SUT in reports")
@click.option("--protocol", type=PROTOCOL_CHOICE,
              help="run every case with this protocol (default: each case's first protocol)")
@click.option("--quick", is_flag=True, help="only the quick subset")
@click.option("--max-seconds", type=SECONDS,
              help="skip cases that wait longer than this (estimated from an in-process run: timeouts of 60 s "
                   "make a live run long); they are inconclusive with the estimate")
@click.option("--catalog", "folders", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="another folder of case files")
@click.option("--junit", type=click.Path(dir_okay=False), help="write JUnit XML here")
@click.option("--html", "html_dir", type=click.Path(file_okay=False),
              help="write report.html, traces/ (pcapng, JSON lines) and results.json into this folder")
@click.option("--results", type=click.Path(dir_okay=False), help="write the results (JSON) here")
@click.option("--sdp-port", type=PORT, default=15118, show_default=True, help="the SUT's SDP port")
@tls_option
@pki_option
@click.option("--timeout", type=SECONDS, default=20.0, show_default=True,
              help="how long to wait for the SUT to connect or answer SDP, per case")
def run_cases(patterns: tuple[str, ...], self_: bool, loopback: bool, interface: str | None, address: str | None,
              launch: str | None, sut_flag: bool, sut_label: str, protocol: str | None, quick: bool,
              max_seconds: float | None,
              folders: tuple[str, ...], junit: str | None, html_dir: str | None, results: str | None, sdp_port: int,
              tls: str | None, pki_dir: Path | None, timeout: float) -> None:
    """Run the cases whose ID matches any PATTERN. TC_SECC_* cases test a charger (the tester plays the
    car); TC_EVCC_* cases test a car (the tester plays the charger). Exit status 0 when no case failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from v2gkit.testsys.case import Verdict
    from v2gkit.testsys.report import print_summary, write_junit, write_report, write_results

    where = [x for x in (self_, interface, address, launch) if x]
    if len(where) > 1 or not where and not loopback:
        raise click.UsageError("say where the SUT is: --self, --loopback, --interface IF, --address ADDR:PORT, or "
                               "--launch SUT [--loopback]")
    if launch and not loopback:
        from v2gkit.testsys import suts
        try:
            status = suts.rerun_in_private_netns([suts.get_launcher(launch)],
                                                 [sys.executable, "-m", "v2gkit.cli.main", *sys.argv[1:]])
        except suts.SUTError as e:
            raise click.UsageError(str(e)) from None
        if status is not None:
            sys.exit(status)
    cases = _select(_catalog(folders).cases, patterns)
    if quick:
        cases = [c for c in cases if c.quick]
    if protocol:
        cases = [c for c in cases if protocol in c.protocols]
    if not cases:
        raise click.UsageError("no case selected (see: v2gkit test list)")
    if launch:
        from v2gkit.testsys import suts
        try:
            role = suts.get_launcher(launch).role
        except suts.SUTError as e:
            raise click.UsageError(str(e)) from None
        cases = [c for c in cases if c.sut_role == role]
        if not cases:
            raise click.UsageError(f"{launch} is an {role.upper()}: select TC_{role.upper()}_* cases")
    elif not self_:
        roles = {c.sut_role for c in cases}
        if len(roles) > 1:
            raise click.UsageError("a live SUT is a charger or a car: select TC_SECC_* (charger) or TC_EVCC_* "
                                   "(car) cases, not both")
        if address and roles != {"secc"}:
            raise click.UsageError("--address reaches a charger: only TC_SECC_* cases")
    from v2gkit.testsys import runner

    skipped = []
    if max_seconds is not None and not self_:
        cases, skipped = runner.longer_than(cases, max_seconds, protocol)
    target = None if self_ or launch else _target(interface, address, loopback, sdp_port, timeout, tls, pki_dir,
                                                  cases[0].sut_role)
    label = sut_label or ("v2gkit self" if self_ else f"{launch} ({'loopback' if loopback else 'veth'})" if launch
                          else target.describe())
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as progress:
        task = progress.add_task("cases", total=len(cases))

        plain = not sys.stdout.isatty()  # CI logs: a line per case as it ends (no progress bar there)

        def done(c: Any, r: Any) -> None:
            progress.update(task, description=c.case_id)
            progress.advance(task)
            if plain:
                click.echo(f"{c.case_id} {r.verdict.value} {r.seconds:.2f} s" + (f": {r.reason}" if r.reason else ""))

        if self_:
            out = runner.run_cases_self(cases, protocol=protocol, on_result=done, label=label)
        elif launch:
            out = runner.run_cases_launched(cases, launch, link="loopback" if loopback else "veth", on_result=done,
                                            label=label)
        else:
            out = runner.run_cases_target(cases, target, protocol=protocol, on_result=done, label=label)
    for r in skipped:
        r.sut = label
    out += skipped
    wall = time.perf_counter() - t0
    print_summary(out)
    click.echo(f"{len(out)} case(s) in {wall:.2f} s against {label}")
    if junit:
        write_junit(junit, out, name=f"v2gkit test ({label})")
    if results:
        write_results(results, out, label=label)
    if html_dir:
        page = write_report(html_dir, out, label=label, title=f"v2gkit test report: {label}")
        click.echo(f"report: {page}")
    bad = sum(r.verdict in (Verdict.FAIL, Verdict.ERROR) for r in out)
    sys.exit(1 if bad else 0)


@test.command("lua")
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.option("--role", type=click.Choice(["secc", "evcc"]), required=True,
              help="the role the script plays (secc: it answers SDP and waits for the car; evcc: it finds the "
                   "charger and connects)")
@click.option("--loopback", is_flag=True, help="the other side is on this host")
@click.option("--interface", "-i", type=INTERFACE, help="the interface to the other side")
@click.option("--address", type=ADDRESS, help="the SECC at ADDR:PORT (evcc role, no SDP)")
@click.option("--self", "self_", is_flag=True, help="against v2gkit's own machines, in-process")
@click.option("--protocol", type=click.Choice(["din", "iso2", "iso20", "iso20-dc", "iso20-ac"]), default="iso2",
              show_default=True, help="the protocol the tester offers")
@click.option("--ac", is_flag=True, help="an AC session (default DC)")
@click.option("--sdp-port", type=PORT, default=15118, show_default=True, help="the SDP port (UDP)")
@tls_option
@pki_option
@click.option("--timeout", type=SECONDS, default=60.0, show_default=True,
              help="how long to wait for the other side to connect")
@click.option("--html", "html_dir", type=click.Path(file_okay=False), help="write a report folder here")
def lua_script(script: str, role: str, loopback: bool, interface: str | None, address: str | None, self_: bool,
               protocol: str, ac: bool, sdp_port: int, tls: str | None, pki_dir: Path | None, timeout: float,
               html_dir: str | None) -> None:
    """Run one Lua SCRIPT (the seed's API: Secc./Evcc.). The app handshake and every message the script does
    not touch run with valid defaults. Exit status 0 when the script ran to its end without an error (and no
    Verdict_Fail), 1 otherwise."""
    from v2gkit.testsys.case import Verdict
    from v2gkit.testsys.drive import Setup, run_self
    from v2gkit.testsys.lua import run_script
    from v2gkit.testsys.report import print_summary, write_report

    where = [x for x in (self_, loopback, interface, address) if x]
    if len(where) != 1:
        raise click.UsageError("say where the other side is: --loopback, --interface IF, --address ADDR:PORT or --self")
    if address and role != "evcc":
        raise click.UsageError("--address is where a charger listens: use it with --role evcc")
    setup = Setup(protocol=protocol, dc=not ac)

    def body(t: Any) -> None:
        run_script(t, script)

    if self_:
        res = run_self(body, role, setup)
    else:
        from v2gkit.testsys.live import run_live
        target = _target(interface, address, loopback, sdp_port, timeout, tls, pki_dir,
                         "secc" if role == "evcc" else "evcc")
        res = asyncio.run(run_live(body, role, target, setup))
    res.case_id = Path(script).name
    print_summary([res])
    for step in res.steps:
        click.echo(f"  {step.t:9.3f} s  {step.text}")
    if html_dir:
        click.echo(f"report: {write_report(html_dir, [res], label=Path(script).name)}")
    if res.verdict in (Verdict.ERROR, Verdict.FAIL):
        click.echo(f"{res.verdict.value}: {res.reason}", err=True)
        sys.exit(1)
    sys.exit(0)


@test.command("table")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def results_table(files: tuple[str, ...]) -> None:
    """Merge results files (test run --results) into one Markdown table, a column per SUT."""
    from v2gkit.testsys.report import markdown_table, read_runs

    click.echo(markdown_table(read_runs(list(files))))
