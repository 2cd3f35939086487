"""Reports of a test run from its ``CaseResult`` list: JUnit XML (CI), one HTML file, per-case pcapng and
JSON-lines traces, terminal and Markdown tables, and the results file that runs are merged from."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..case import CaseResult
from .html import html_report, write_html
from .junit import junit_xml, write_junit
from .results import Run, read_results, write_results
from .table import markdown_table, merge_runs, print_summary, read_runs, summary_table
from .traces import write_trace, write_traces

__all__ = [
    "Run",
    "html_report",
    "junit_xml",
    "markdown_table",
    "merge_runs",
    "print_summary",
    "read_results",
    "read_runs",
    "summary_table",
    "write_html",
    "write_junit",
    "write_report",
    "write_results",
    "write_trace",
    "write_traces",
]


def write_report(directory: str | os.PathLike[str], results: Iterable[CaseResult], *, label: str = "",
                 title: str = "v2gkit test report", meta: Mapping[str, Any] | None = None) -> Path:
    """A run's folder: ``report.html`` linking to ``traces/<case>.pcapng`` and ``.jsonl``, and
    ``results.json`` (what the README table merges). Returns the HTML file."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    results = list(results)
    write_traces(folder / "traces", results)
    write_results(folder / "results.json", results, label=label, meta=meta)
    return write_html(folder / "report.html", results, title=title, traces="traces")
