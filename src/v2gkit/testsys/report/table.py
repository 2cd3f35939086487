"""Results as tables: the summary a run prints on the terminal (rich), and the README's Markdown table that
puts several runs side by side, case by case, one column per SUT (``v2gkit self``, ``v2gkit veth``,
``Josev veth``), each cell the verdict and, when it is not a pass, the reason in short.

Runs are merged from their results files (:mod:`.results`); a label seen in two files is one column, the
later file's result winning for a case both hold (a partial re-run updates a full one).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..case import CaseResult, Verdict
from ._text import printable, shorten
from .results import Run, read_results

__all__ = ["Matrix", "markdown_table", "matrix_table", "merge_runs", "print_summary", "read_runs",
           "summary_table"]

_STYLE = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.INCONC: "yellow",
          Verdict.ERROR: "bold magenta"}
_ORDER = (Verdict.PASS, Verdict.FAIL, Verdict.INCONC, Verdict.ERROR)


def _counts(results: Iterable[CaseResult]) -> str:
    c = Counter(r.verdict for r in results)
    return ", ".join(f"{c.get(v, 0)} {v.value}" for v in _ORDER)


def _seconds(x: float) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else 0.0


# -------------------------------------------------------------------------------------------------- terminal


def summary_table(results: Sequence[CaseResult], *, problems_only: bool = False, reason_width: int = 200
                  ) -> Table:
    """One line per case (verdict coloured, time, the reason cut to the terminal); ``problems_only`` leaves
    out the passes (the caption still counts them). Strings go in as rich Text: a SUT's ``[markup]`` stays
    text."""
    title = ", ".join(dict.fromkeys(r.sut for r in results if r.sut)) or None
    table = Table(title=Text(printable(title)) if title else None, caption=_counts(results),
                  caption_justify="left")
    id_width = max((len(printable(r.case_id)) for r in results), default=4)
    table.add_column("Case", no_wrap=True, min_width=min(id_width, 60))
    table.add_column("Verdict", no_wrap=True, min_width=7)
    table.add_column("Time (s)", justify="right", no_wrap=True, min_width=8)
    table.add_column("Reason", overflow="ellipsis")  # the column gives way; its one line is cut (below)
    for r in results:
        if problems_only and r.verdict is Verdict.PASS:
            continue
        table.add_row(Text(printable(r.case_id)), Text(r.verdict.value, style=_STYLE[r.verdict]),
                      f"{_seconds(r.seconds):.3f}",
                      Text(shorten(r.reason, reason_width), no_wrap=True, overflow="ellipsis"))
    return table


def print_summary(results: Sequence[CaseResult], console: Console | None = None, *,
                  problems_only: bool = False) -> None:
    """Print :func:`summary_table` and a one-line total with the wall time."""
    console = console or Console()
    console.print(summary_table(results, problems_only=problems_only))
    busy = sum(_seconds(r.seconds) for r in results)
    console.print(Text(f"{len(results)} case(s): {_counts(results)} in {busy:.2f} s"))


# ------------------------------------------------------------------------------------------------ merged runs


@dataclass
class Matrix:
    """Cases (sorted by ID) x SUT labels (in the order first seen) -> the result, if that SUT ran the case."""

    labels: list[str] = field(default_factory=list)
    case_ids: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    cells: dict[tuple[str, str], CaseResult] = field(default_factory=dict)

    def get(self, case_id: str, label: str) -> CaseResult | None:
        return self.cells.get((case_id, label))

    def column(self, label: str) -> list[CaseResult]:
        return [r for (c, lab), r in self.cells.items() if lab == label]


def merge_runs(runs: Iterable[Run]) -> Matrix:
    """Put runs side by side, one column per label (see the module's note on repeated labels)."""
    m = Matrix()
    for run in runs:
        label = run.label or "?"
        if label not in m.labels:
            m.labels.append(label)
        for r in run.results:
            m.cells[(r.case_id, label)] = r
            if r.title and r.case_id not in m.titles:
                m.titles[r.case_id] = r.title
    m.case_ids = sorted({c for c, _ in m.cells})
    return m


def read_runs(paths: Iterable[str | os.PathLike[str]], labels: Sequence[str] | None = None) -> list[Run]:
    """Read results files; ``labels`` (same order) overrides the labels the files carry."""
    runs = [read_results(p) for p in paths]
    for run, label in zip(runs, labels or (), strict=False):
        if label:
            run.label = label
    return runs


#: what could start emphasis, code, a link or a strike-through, or end the cell; an underscore inside a word
#: (FAILED_SequenceError) is left alone, as GitHub's Markdown never reads it as emphasis
_MD_SPECIAL = re.compile(r"([\\`*\[\]|~])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _md(text: str) -> str:
    """Text for a Markdown table cell: one line, Markdown punctuation escaped, HTML made inert."""
    one = " ".join(printable(text).split())
    one = one.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), one)


def _md_cell(r: CaseResult | None, reason_limit: int) -> str:
    if r is None:
        return "–"
    if r.verdict is Verdict.PASS or not r.reason:
        return "**fail**" if r.verdict is Verdict.FAIL else r.verdict.value
    word = "**fail**" if r.verdict is Verdict.FAIL else r.verdict.value
    return f"{word}: {_md(shorten(r.reason, reason_limit))}"


def markdown_table(runs: Iterable[Run] | Matrix, *, reason_limit: int = 60, titles: bool = False) -> str:
    """The README table: a row per case, a column per SUT, then a row of totals. A dash: not run there."""
    m = runs if isinstance(runs, Matrix) else merge_runs(runs)
    head = ["Case"] + (["Title"] if titles else []) + [_md(lab) for lab in m.labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for cid in m.case_ids:
        row = ["`" + printable(cid).replace("`", "'").replace("|", "/") + "`"]
        if titles:
            row.append(_md(shorten(m.titles.get(cid, ""), 80)))
        row += [_md_cell(m.get(cid, lab), reason_limit) for lab in m.labels]
        lines.append("| " + " | ".join(row) + " |")
    totals = ["**total**"] + ([""] if titles else [])
    for lab in m.labels:
        col = m.column(lab)
        n = sum(r.verdict is Verdict.PASS for r in col)
        totals.append(f"{n}/{len(col)} pass")
    lines.append("| " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def matrix_table(runs: Iterable[Run] | Matrix) -> Table:
    """The same side-by-side view for the terminal."""
    m = runs if isinstance(runs, Matrix) else merge_runs(runs)
    table = Table()
    table.add_column("Case", no_wrap=True)
    for lab in m.labels:
        table.add_column(Text(printable(lab)), overflow="fold", max_width=40)
    for cid in m.case_ids:
        cells: list[Text | str] = [Text(printable(cid))]
        for lab in m.labels:
            r = m.get(cid, lab)
            if r is None:
                cells.append(Text("-", style="dim"))
            else:
                t = Text(r.verdict.value, style=_STYLE[r.verdict])
                if r.verdict is not Verdict.PASS and r.reason:
                    t.append(": " + shorten(r.reason, 60))
                cells.append(t)
        table.add_row(*cells)
    return table
