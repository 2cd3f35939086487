"""``v2gkit replay``: recorded real sessions against v2gkit, as a table per car model (or charger)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from .link import _tracer
from .options import INTERFACE, PORT, fail


def _sessions(vectors: Path | None, kept: bool, only: str | None) -> tuple[list[Any], str]:
    from v2gkit.testsys.captures import KEPT_FILE, default_vectors, load_sessions, sessions_from_json
    if kept:
        try:
            return _pick(sessions_from_json(json.loads(KEPT_FILE.read_text())), only), str(KEPT_FILE)
        except OSError as e:
            fail(f"cannot read {KEPT_FILE}: {e.strerror}", 2)
    where = vectors or default_vectors()
    try:
        return _pick(load_sessions(where), only), str(where)
    except FileNotFoundError:
        fail(f"no vector collection in {where}: give --vectors DIR (the folder with vectors.jsonl), "
             f"or --kept for the sessions kept in the repository", 2)


@contextlib.contextmanager
def _tracing(pcap: Path | None, trace_json: Path | None, role: str) -> Iterator[Any]:
    """The pcapng / JSON-lines tracer the options ask for (None without them), closed at the end."""
    try:
        tracer = _tracer(pcap, trace_json, role)
    except OSError as e:
        fail(f"cannot write the trace: {e}", 2)
    try:
        yield tracer
    finally:
        if tracer is not None:
            tracer.close()


def _pick(sessions: list[Any], only: str | None) -> list[Any]:
    if not only:
        return sessions
    return [s for s in sessions if only.lower() in f"{s.label} {s.car} {s.charger}".lower()]


def _selection(f: Any) -> Any:
    """The options both directions share: which sessions, and how to show them."""
    for option in reversed((
        click.option("--vectors", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="the vector collection folder (default: ../shared/vectors next to the repository)"),
        click.option("--kept", is_flag=True, help="only the sessions kept in tests/data/real_sessions.json"),
        click.option("--only", metavar="TEXT", help="sessions whose capture, car or charger contains TEXT"),
        click.option("-v", "--verbose", is_flag=True, help="one line per session"),
        click.option("--markdown", is_flag=True, help="print the table as Markdown (the README's)"),
        click.option("--pcap", type=click.Path(dir_okay=False, writable=True, path_type=Path),
                     help="write the replayed traffic to this pcapng file (Wireshark, dsV2Gshark)"),
        click.option("--trace-json", type=click.Path(dir_okay=False, writable=True, path_type=Path),
                     help="write every message, decoded, as JSON lines"),
    )):
        f = option(f)
    return f


@click.group()
def replay() -> None:
    """Replay recorded real sessions (../shared/vectors) into v2gkit over loopback TCP."""


@replay.command()
@_selection
@click.option("--secc-interface", type=INTERFACE, metavar="IF",
              help="replay into another SECC, found by SDP on this interface (SessionIDs adapted)")
@click.option("--secc-loopback", is_flag=True,
              help="replay into another SECC on this host, found by SDP on ::1")
@click.option("--sdp-port", type=PORT, default=15118, show_default=True, help="that SECC's SDP port")
def cars(vectors: Path | None, kept: bool, only: str | None, verbose: bool, markdown: bool, pcap: Path | None,
         trace_json: Path | None, secc_interface: str | None, secc_loopback: bool, sdp_port: int) -> None:
    """Real cars' requests, byte for byte, into v2gkit's SECC (configured as the recorded charger: DC or
    AC, its SessionID), or into another SECC (--secc-interface/--secc-loopback). A session passes when every
    request is answered OK, or when the first non-OK answer is the ResponseCode the recorded charger gave.
    Exit status 0 when all pass (sessions another SECC cannot serve are skipped)."""
    from v2gkit.testsys.replay_cars import Target, describe, replay_cars, summary_rows

    target = None
    if secc_interface or secc_loopback:
        if secc_interface and secc_loopback:
            fail("give --secc-interface or --secc-loopback, not both", 2)
        target = Target(interface=secc_interface, loopback=secc_loopback, sdp_port=sdp_port)
    sessions, where = _sessions(vectors, kept, only)
    todo = [s for s in sessions if s.real_car and s.requests]
    if not todo:
        fail(f"no recorded car session in {where}" + (f" matches {only!r}" if only else ""), 2)
    click.echo(f"replaying {len(todo)} sessions of real cars from {where} into "
               f"{target or 'v2gkit SECCs set up as the recorded chargers'} ...", err=True)
    done = [0]

    def progress(r: Any) -> None:
        done[0] += 1
        if verbose or not (r.passed or r.verdict == "skipped"):
            word = "PASS" if r.passed else r.verdict.upper() if r.verdict == "skipped" else "FAIL"
            click.echo(f"[{done[0]}/{len(todo)}] {word} {describe(r)}", err=True)

    t0 = time.perf_counter()
    with _tracing(pcap, trace_json, "EVCC" if target else "SECC") as tracer:
        results = asyncio.run(replay_cars(todo, progress, target, tracer))
    seconds = time.perf_counter() - t0
    _table("car model", summary_rows(results), results, seconds, markdown)
    sys.exit(0 if all(r.passed or r.verdict == "skipped" for r in results) else 1)


@replay.command()
@_selection
def chargers(vectors: Path | None, kept: bool, only: str | None, verbose: bool, markdown: bool, pcap: Path | None,
             trace_json: Path | None) -> None:
    """Real chargers' recorded answers drive v2gkit's EVCC (SDP, TCP, the handshake and the session, with a
    car set up from the recording). The EVCC must charge to SessionStop OK, or stop right after a FAILED
    answer naming its code; a recording too short for what the EVCC asks is counted apart. Exit status 0
    when none differs."""
    from v2gkit.testsys.replay_chargers import describe, replay_chargers, summary_rows

    sessions, where = _sessions(vectors, kept, only)
    todo = [s for s in sessions if s.real_charger and s.responses]
    if not todo:
        fail(f"no recorded charger session in {where}" + (f" matches {only!r}" if only else ""), 2)
    click.echo(f"replaying {len(todo)} sessions of real chargers from {where} into v2gkit's EVCC ...", err=True)
    done = [0]

    def progress(r: Any) -> None:
        done[0] += 1
        if verbose or not r.passed:
            click.echo(f"[{done[0]}/{len(todo)}] {'PASS' if r.passed else 'FAIL'} {describe(r)}", err=True)

    t0 = time.perf_counter()
    with _tracing(pcap, trace_json, "SECC") as tracer:
        results = asyncio.run(replay_chargers(todo, progress, tracer))
    seconds = time.perf_counter() - t0
    _table("charger", summary_rows(results), results, seconds, markdown)
    sys.exit(0 if all(r.passed for r in results) else 1)


def _result(row: Any, markup: bool = True) -> str:
    parts = []
    if row.ok:
        parts.append(f"{row.ok} OK")
    if getattr(row, "stopped", None):
        parts.append(f"{len(row.stopped)} stopped as required on " + ", ".join(sorted(set(row.stopped))))
    if getattr(row, "incomplete", None):
        parts.append(f"{len(row.incomplete)} recording incomplete")
    if getattr(row, "agrees", None):
        parts.append(f"{len(row.agrees)} same as the charger ({', '.join(sorted(set(row.agrees)))})")
    if row.failed:
        parts.append(f"[red]{len(row.failed)} differ[/red]" if markup else f"{len(row.failed)} differ")
    if getattr(row, "skipped", 0):
        parts.append(f"{row.skipped} skipped")
    return "; ".join(parts)


#: verdicts as the tables say them
_SAY = {"agrees": "same FAILED code as the recorded charger"}


def _verdicts(results: list[Any]) -> str:
    counts = collections.Counter(r.verdict for r in results)
    return ", ".join(f"{n} {_SAY.get(v, v)}" for v, n in counts.most_common())


def _table(what: str, rows: list[Any], results: list[Any], seconds: float, markdown: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    if markdown:
        click.echo(f"| {what} | protocols | sessions | requests | result |\n|---|---|---|---|---|")
        for row in rows:
            protocols = ", ".join(sorted(row.protocols))
            click.echo(f"| {row.model} | {protocols} | {row.sessions} | {row.requests} | {_result(row, False)} |")
        summary = _verdicts(results)
        click.echo(f"| **all** | | **{len(results)}** | **{sum(r.sent for r in results)}** | {summary} |")
        return
    summary = _verdicts(results)
    t = Table(title=f"{len(results)} sessions, {sum(r.sent for r in results)} requests, {seconds:.1f} s: {summary}",
              expand=True)
    for col in (what, "protocols", "sessions", "requests", "result"):
        t.add_column(col, justify="right" if col in ("sessions", "requests") else "left")
    for row in rows:
        t.add_row(row.model, ", ".join(sorted(row.protocols)), str(row.sessions), str(row.requests),
                  _result(row))
    Console().print(t)
